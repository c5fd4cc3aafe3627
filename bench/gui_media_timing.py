"""Does painting the window disturb the outgoing audio timing?

Measures, for one call to an echo agent running in its own ``voicedesk serve``
process, the deviation of the intervals between outgoing RTP packets from 20 ms
(taken where aiortc hands each packet to the DTLS transport) and the asyncio loop
lag (how late a 10 ms sleep wakes up), in several set-ups:

- ``headless``        plain asyncio, no Qt (the baseline)
- ``qasync``          the qasync loop with a QApplication but no window
- ``window``          the app's MainWindow, waveforms at 30 fps (decimated), stats graphs,
                      painting gated to the quiet between packets sent and received
                      (gui/paint_gate.py), start-up objects frozen for the GC, as shipped
- ``window-nofreeze`` the same without ``gc.freeze()`` of the start-up objects (full
                      garbage collections then walk the whole window: 15-35 ms stalls)
- ``window-ungated``  the same, painting whenever its timer fires
- ``window-60fps``    the same at 60 fps
- ``window-raw``      30 fps with every 48 kHz sample handed to pyqtgraph (no decimation)
- ``process``         the window drawing in this process, the call in a child process that
                      writes sent/received audio into shared-memory rings the window reads
                      (a sketch: no bridge, no panels fed; engine/rings.py's rings)
- ``window-engine``   the app's window as shipped (``VOICEDESK_ENGINE=process``, the default): the
                      call in the engine process (voicedesk/engine/), every panel fed through the
                      bridge; timing measured inside the engine (``BenchProbe``, an extension the
                      window hands the call as a recipe), the window's own loop lag beside it;
                      the engine's loop alone on the last CPU (voicedesk/cores.py)
- ``window-engine-unpinned`` the same with ``VOICEDESK_MEDIA_CPU=off``: every thread on every CPU
- ``window-engine-whisper`` the same saying sentences with live recognition of what comes back
                      (Whisper in its worker, an extension of the call in the engine): compared
                      with ``headless-whisper``
- ``headless-speech`` headless, saying sentences (espeak-ng, ``say:``) that the echo returns
- ``headless-whisper`` the same with live recognition of what comes back (Whisper in its worker
                      process, as ``voicedesk call --transcribe --stt whisper``): compared with
                      ``headless-speech``

Each mode runs in a fresh interpreter. Before each round of modes the driver measures the
machine's speed: the bare-import floor (``import PySide6.QtWidgets, aiortc, pyqtgraph`` in a
fresh interpreter, as bench/startup.py) and a fixed pure-Python loop (ms), printed beside
every ratio so that figures from machines of different speed can be compared. The window
modes report the memory of the whole app (proportional set size, PSS, of the window's
process plus its engine process and theirs: shared pages counted once). Usage::

    .venv/bin/python bench/gui_media_timing.py --seconds 20 [--modes headless,window,…] [--repeat 2]

``--chatty-rtvi SECONDS`` calls a chatty RTVI peer instead of the echo agent: an aiortc
answerer behind pipecat's offer endpoint (tests/helpers/rtvi_peer.py, its own process)
that echoes the audio and sends an RTVI message every SECONDS (0.1: what a busy pipecat
bot sends); every mode then reads the RTVI events, and the window modes show them in
the Conversation tab, which is the tab on screen.

Add ``--platform xcb`` under ``xvfb-run -a`` to paint through a real X server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.append(str(Path(__file__).resolve().parents[1]))  # tests.helpers (the peers, process trees)

MODES = (
    "headless",
    "qasync",
    "window",
    "window-nofreeze",
    "window-ungated",
    "window-60fps",
    "window-raw",
    "process",
    "window-engine",
    "window-engine-nice",
    "window-engine-unpinned",
    "headless-speech",
    "headless-whisper",
    "window-engine-whisper",
)
# headless-speech: the headless call saying sentences (the echo sends them back); headless-whisper:
# the same with live recognition of what comes back (voicedesk call --transcribe --stt whisper:
# qa/transcripts.py, the recognizer in its worker process). Compared with each other.
SPEECH = "say:" + "|".join(
    (
        "please send the invoice to my office",
        "the quick brown fox jumps over the lazy dog",
        "your confirmation code is four five seven two",
        "can you check my account balance please",
        "the meeting has been moved to three thirty",
        "my flight to boston was cancelled this morning",
    )
)
WARMUP_S = 1.5
RING_SECONDS = 5


# --------------------------------------------------------------------- measuring
class PacketClock:
    """Timestamps of outgoing RTP packets (RTCP excluded), taken at the DTLS transport."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.recording = False

    def attach(self, pc: Any) -> None:
        from aiortc.rtp import is_rtcp

        transport = pc.getSenders()[0].transport
        original = transport._send_rtp

        async def timed(data: bytes) -> None:
            if self.recording and not is_rtcp(data):
                self.times.append(time.perf_counter())
            await original(data)

        transport._send_rtp = timed


class LoopLag:
    """How late a 10 ms sleep wakes up: what every callback on the loop waits at worst."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="LoopLag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(0.010)
            self.lags.append((time.perf_counter() - t0 - 0.010) * 1000.0)


def sample_mark(call: Any) -> int:
    return len(call.sampler.samples) if call.sampler is not None else 0


def received_jitter(call: Any, since: int) -> dict[str, Any]:
    """The receiver's interarrival jitter (getStats, in ms) over the measured seconds: the
    arrival times are taken when Python reads each datagram, so a busy loop shows up here."""
    samples = call.sampler.samples[since:] if call.sampler is not None else []
    values = [s.jitter_ms for s in samples if s.jitter_ms is not None]
    if not values:
        return {"rx_jitter_ms": None, "rx_jitter_max_ms": None}
    return {"rx_jitter_ms": round(float(np.median(values)), 2), "rx_jitter_max_ms": round(max(values), 2)}


def cpu_pct(since: float, seconds: float) -> float:
    """This process's CPU time since ``since`` (``time.process_time``) as % of one core."""
    return round((time.process_time() - since) / seconds * 100.0, 1)


def summarize(times: list[float], lags: list[float]) -> dict[str, Any]:
    intervals = np.diff(np.asarray(times)) * 1000.0
    deviation = np.abs(intervals - 20.0)
    lag = np.asarray(lags) if lags else np.zeros(1)
    return {
        "packets": len(times),
        "dev_p50_ms": round(float(np.percentile(deviation, 50)), 2) if deviation.size else None,
        "dev_p99_ms": round(float(np.percentile(deviation, 99)), 2) if deviation.size else None,
        "dev_max_ms": round(float(deviation.max()), 2) if deviation.size else None,
        "lag_p50_ms": round(float(np.percentile(lag, 50)), 2),
        "lag_p99_ms": round(float(np.percentile(lag, 99)), 2),
    }


async def measure_call(
    target: str, seconds: float, on_connected: Any = None, source: str | None = None, extensions: Any = ()
) -> dict[str, Any]:
    """A headless call with the packet clock; ``on_connected(call)`` may hook more in."""
    from voicedesk.media.sources import ToneTrack, parse_source
    from voicedesk.rtc.call import Call

    call = Call(target, source=parse_source(source) if source else ToneTrack(440), extensions=list(extensions))
    clock, lag = PacketClock(), LoopLag()
    try:
        await call.start()
        clock.attach(call.pc)
        if on_connected is not None:
            on_connected(call)
        await asyncio.sleep(WARMUP_S)
        clock.recording = True
        mark = sample_mark(call)
        lag.start()
        cpu0 = time.process_time()
        await asyncio.sleep(seconds)
        cpu = cpu_pct(cpu0, seconds)
        clock.recording = False
        await lag.stop()
        jitter = received_jitter(call, mark)
    finally:
        await call.hangup()
    return {**summarize(clock.times, lag.lags), **jitter, "media_cpu_pct": cpu}


# ------------------------------------------------------------------------ modes
def run_headless(target: str, seconds: float) -> dict[str, Any]:
    return asyncio.run(measure_call(target, seconds))


def run_headless_speech(target: str, seconds: float, whisper: bool) -> dict[str, Any]:
    import voicedesk.speech  # noqa: F401  (the say: source)

    async def main() -> dict[str, Any]:
        if not whisper:
            return await measure_call(target, seconds, source=SPEECH)
        from voicedesk.rtc.transcription import CallTranscription
        from voicedesk.speech.recognizers import SttChoice

        transcription = CallTranscription(SttChoice("whisper"))
        await transcription.start()  # loaded before the call, as voicedesk call does
        row = await measure_call(target, seconds, source=SPEECH, extensions=[transcription])
        heard = [e for e in transcription.entries() if e.get("text")]
        return {**row, "transcripts": len(heard)}

    return asyncio.run(main())


def _qt_app() -> Any:
    os.environ.setdefault("QT_API", "pyside6")
    import PySide6  # noqa: F401 - before pyqtgraph/qasync
    from PySide6.QtWidgets import QApplication

    from voicedesk.gui.app import configure_application

    app = QApplication.instance() or QApplication(sys.argv[:1])
    configure_application(app)
    return app


def _run_on_qasync(app: Any, coro: Any) -> Any:
    import qasync

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(coro)
    finally:
        for task in asyncio.all_tasks(loop):
            task.cancel()
        loop.run_until_complete(asyncio.sleep(0.1))
        loop.close()


def run_qasync(target: str, seconds: float) -> dict[str, Any]:
    app = _qt_app()
    return _run_on_qasync(app, measure_call(target, seconds))


def _window(fps: int, engine: str = "inprocess") -> Any:
    import tempfile

    from PySide6.QtCore import QSettings

    from voicedesk.gui.main_window import MainWindow
    from voicedesk.gui.settings import AppSettings

    scratch = tempfile.mkdtemp(prefix="voicedesk-bench-")
    settings = AppSettings(QSettings(os.path.join(scratch, "s.ini"), QSettings.Format.IniFormat))
    window = MainWindow(settings, engine=engine)
    window.waveforms.set_fps(fps)
    window.resize(1360, 860)
    window.show()
    return window


def _show_conversation(window: Any) -> Any:
    """Put the Conversation tab on screen (it draws the agent's events as they come)."""
    panel = window.panel("conversation")
    if panel is None:
        return None
    for i in range(window.tabs.count()):
        if window.tabs.widget(i).isAncestorOf(panel):
            window.tabs.setCurrentIndex(i)
    return panel


async def _close(window: Any) -> None:
    done = asyncio.Event()
    window.shut_down.connect(done.set)
    window.close()
    await asyncio.wait_for(done.wait(), 30)


def run_window(
    target: str, seconds: float, fps: int = 30, raw: bool = False, gated: bool = True, freeze: bool = True
) -> dict[str, Any]:
    app = _qt_app()
    if not gated:
        from voicedesk.gui.paint_gate import PaintGate

        PaintGate.run = lambda self, work: work()  # type: ignore[method-assign]
    if raw:
        from voicedesk.gui.widgets import waveform

        def no_decimation(samples: np.ndarray, columns: int) -> tuple[np.ndarray, np.ndarray]:
            return np.arange(samples.size, dtype=np.float32) / max(1, samples.size), samples

        waveform.envelope = no_decimation

    async def main() -> dict[str, Any]:
        from voicedesk.gui.widgets.dialer import DialRequest

        window = _window(fps)
        conversation = _show_conversation(window)
        if freeze:  # as the app does once its window is up
            from voicedesk.gui.app import freeze_startup_objects

            freeze_startup_objects()
        window.dial(DialRequest(target=target, source="tone:440"))
        while window.bridge is None or window.bridge.state.value != "connected":
            if window.bridge is not None and window.bridge.state.is_final:
                raise RuntimeError(f"call failed: {window.bridge.call.reason}")
            await asyncio.sleep(0.05)
        clock, lag = PacketClock(), LoopLag()
        clock.attach(window.bridge.call.pc)
        await asyncio.sleep(WARMUP_S)
        frames0 = window.waveforms.frames_drawn
        clock.recording = True
        mark = sample_mark(window.bridge.call)
        lag.start()
        cpu0 = time.process_time()
        await asyncio.sleep(seconds)
        cpu = cpu_pct(cpu0, seconds)
        clock.recording = False
        await lag.stop()
        result = {**summarize(clock.times, lag.lags), **received_jitter(window.bridge.call, mark)}
        result["fps_drawn"] = round((window.waveforms.frames_drawn - frames0) / seconds, 1)
        result["app_pss_mb"] = pss_mb(app_pids())
        result["media_cpu_pct"] = cpu  # media and window share the process
        if conversation is not None and conversation.messages_seen:
            result["agent_messages"] = conversation.messages_seen
        await _close(window)
        return result

    return _run_on_qasync(app, main())


def _media_child(target: str, seconds: float, tx_name: str, rx_name: str, out: Any) -> None:
    from voicedesk.engine.rings import ShmRing

    tx, rx = ShmRing(tx_name), ShmRing(rx_name)

    def hook(call: Any) -> None:
        call.add_sent_observer(tx.write)
        call.add_received_observer(rx.write)

    try:
        out.put(asyncio.run(measure_call(target, seconds, hook)))
    finally:
        tx.close()
        rx.close()


def run_process(target: str, seconds: float) -> dict[str, Any]:
    import multiprocessing

    from voicedesk.engine.rings import CallRings, RingView

    app = _qt_app()
    rings = CallRings()
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    names = rings.names
    child = ctx.Process(target=_media_child, args=(target, seconds, names.sent, names.received, out), daemon=True)

    async def main() -> dict[str, Any]:
        window = _window(30)
        window.waveforms.set_sinks(RingView(rings.sent), RingView(rings.received))  # type: ignore[arg-type]
        lag = LoopLag()
        lag.start()
        child.start()
        result = await asyncio.get_running_loop().run_in_executor(None, out.get)
        await lag.stop()
        result["gui_lag_p99_ms"] = summarize([0.0, 0.02], lag.lags)["lag_p99_ms"]
        result["fps_drawn"] = round(window.waveforms.frames_drawn / max(0.1, seconds + WARMUP_S + 2), 1)
        await _close(window)
        return result

    try:
        return _run_on_qasync(app, main())
    finally:
        child.join(10)
        rings.close()


# ------------------------------------------------------------- the engine process
class BenchProbe:
    """The packet clock and loop lag inside the engine process: a call extension (built there
    from a recipe, as the window's own are) that measures once the call connects and hands
    its figures back as its view. A class made on import so that this module's import in
    the engine needs nothing of voicedesk's until it is used."""

    def __new__(cls, seconds: float, warmup: float = WARMUP_S) -> Any:
        from voicedesk.rtc.call import CallState, CallStateChanged
        from voicedesk.rtc.extension import CallExtension

        class Probe(CallExtension):
            def __init__(self) -> None:
                self.result: dict[str, Any] | None = None
                self._task: asyncio.Task[None] | None = None

            def attach(self, call: Any) -> None:
                self.call = call
                call.add_listener(self._on_event)

            def _on_event(self, event: Any) -> None:
                if isinstance(event, CallStateChanged) and event.state == CallState.CONNECTED and self._task is None:
                    self._task = asyncio.get_running_loop().create_task(self._measure(), name="BenchProbe")

            async def _measure(self) -> None:
                clock, lag = PacketClock(), LoopLag()
                clock.attach(self.call.pc)
                await asyncio.sleep(warmup)
                clock.recording = True
                mark = sample_mark(self.call)
                lag.start()
                cpu0 = time.process_time()
                await asyncio.sleep(seconds)
                cpu = cpu_pct(cpu0, seconds)
                clock.recording = False
                await lag.stop()
                self.result = {
                    **summarize(clock.times, lag.lags),
                    **received_jitter(self.call, mark),
                    "media_cpu_pct": cpu,  # the engine process's
                }

            def view(self) -> Any:
                return self.result

            async def detach(self) -> None:
                if self._task is not None and not self._task.done():
                    self._task.cancel()

        return Probe()


def pss_mb(pids: list[int]) -> float | None:
    """The proportional set size of ``pids`` together (MB): each shared page split among its users."""
    total = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        match = re.search(r"^Pss:\s+(\d+) kB", text, re.MULTILINE)
        if match:
            total += int(match.group(1))
    return round(total / 1024.0, 1) if total else None


def app_pids() -> list[int]:
    """This process and every process it started (the engine, its speech worker, resource tracker)."""
    from tests.helpers.processes import descendants

    return [os.getpid(), *descendants(os.getpid())]


def run_window_engine(target: str, seconds: float, whisper: bool = False, nice: int = 0) -> dict[str, Any]:
    """The window as shipped: the call in the engine process, measured there by ``BenchProbe``."""
    app = _qt_app()

    async def main() -> dict[str, Any]:
        from voicedesk.gui.app import freeze_startup_objects
        from voicedesk.gui.widgets.dialer import DialRequest
        from voicedesk.rtc.extension import ExtensionRecipe

        window = _window(30, engine="process")
        conversation = _show_conversation(window)
        freeze_startup_objects()
        window.prestart_engine()  # as the app does once its window is up
        await window.engine.ready()
        if nice:  # window-engine-nice: the window's thread yields to the engine (spawned before, so not niced)
            os.setpriority(os.PRIO_PROCESS, 0, nice)
        recipes = [ExtensionRecipe("bench", "gui_media_timing:BenchProbe", {"seconds": seconds})]
        if whisper and conversation is not None:  # the Conversation tab's recognizer: Whisper, in the engine's worker
            conversation.stt.setCurrentIndex(conversation.stt.findData("whisper"))
        qa = window.panel("qa")
        own = qa.call_extensions
        qa.call_extensions = lambda: [*own(), *recipes]  # the window hands them to the call with its own
        window.dial(DialRequest(target=target, source=SPEECH if whisper else "tone:440", timeout_s=60.0))
        while window.bridge is None or window.bridge.state.value != "connected":
            if window.bridge is not None and window.bridge.state.is_final:
                raise RuntimeError(f"call failed: {window.bridge.call.reason}")
            await asyncio.sleep(0.05)
        lag = LoopLag()
        await asyncio.sleep(WARMUP_S)
        frames0 = window.waveforms.frames_drawn
        lag.start()
        started, cpu0 = time.monotonic(), time.process_time()
        while window.bridge.extension_view("bench") is None:
            if time.monotonic() - started > seconds + 60 or window.bridge.state.is_final:
                raise RuntimeError("the engine's probe gave no figures")
            await asyncio.sleep(0.1)
        measured = time.monotonic() - started
        gui_cpu = cpu_pct(cpu0, measured)
        await lag.stop()
        result = dict(window.bridge.extension_view("bench"))
        result["gui_cpu_pct"] = gui_cpu
        result["gui_lag_p99_ms"] = summarize([0.0, 0.02], lag.lags)["lag_p99_ms"]
        result["fps_drawn"] = round((window.waveforms.frames_drawn - frames0) / measured, 1)
        result["app_pss_mb"] = pss_mb(app_pids())
        result["engine_cpu"] = window.engine.media_cpu  # the CPU its loop has to itself (None: unpinned)
        if conversation is not None and conversation.messages_seen:
            result["agent_messages"] = conversation.messages_seen
        if whisper:  # replies VoiceDesk's recognizer heard, as the Conversation tab shows them
            turns = window.bridge.call.conversation.turns
            result["transcripts"] = sum(
                1 for t in turns if t.agent is not None for x in t.agent.transcripts if x.source.value == "voicedesk"
            )
        await _close(window)
        return result

    return _run_on_qasync(app, main())


def run_mode(mode: str, target: str, seconds: float) -> dict[str, Any]:
    if mode == "headless":
        return run_headless(target, seconds)
    if mode == "qasync":
        return run_qasync(target, seconds)
    if mode == "window":
        return run_window(target, seconds)
    if mode == "window-ungated":
        return run_window(target, seconds, gated=False)
    if mode == "window-nofreeze":
        return run_window(target, seconds, freeze=False)
    if mode == "window-60fps":
        return run_window(target, seconds, fps=60)
    if mode == "window-raw":
        return run_window(target, seconds, raw=True)
    if mode == "process":
        return run_process(target, seconds)
    if mode in ("window-engine", "window-engine-whisper"):
        return run_window_engine(target, seconds, whisper=mode.endswith("whisper"))
    if mode == "window-engine-nice":
        return run_window_engine(target, seconds, nice=10)
    if mode == "window-engine-unpinned":
        os.environ["VOICEDESK_MEDIA_CPU"] = "off"  # this interpreter runs this mode only; the engine inherits it
        return run_window_engine(target, seconds)
    if mode in ("headless-speech", "headless-whisper"):
        return run_headless_speech(target, seconds, whisper=mode == "headless-whisper")
    raise SystemExit(f"unknown mode {mode!r}")


# ------------------------------------------------------------------------ driver
def _start_printing_url(command: list[str], what: str, **popen: Any) -> tuple[str, subprocess.Popen[str]]:
    """Start a server that prints its ``http://host:port`` on its first line; that URL and the process."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, **popen)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"(http://[\d.]+:\d+)", line)
    if not match:
        proc.kill()
        raise SystemExit(f"{what} did not start: {line!r}")
    return match.group(1), proc


def start_server() -> tuple[str, subprocess.Popen[str]]:
    command = [sys.executable, "-m", "voicedesk", "serve", "--port", "0", "--agent", "echo"]
    url, proc = _start_printing_url(command, "voicedesk serve")
    return f"{url}/api/voice/offer", proc


def start_chatty_rtvi(interval: float) -> tuple[str, subprocess.Popen[str]]:
    """The chatty RTVI peer (tests/helpers/rtvi_peer.py) in its own process; its pipecat URL."""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "tests.helpers.rtvi_peer", "--interval", str(interval)]
    url, proc = _start_printing_url(command, "the chatty RTVI peer", cwd=root, env=env)
    return f"pipecat+{url}", proc


def stop_server(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


FLOOR = "import PySide6.QtWidgets, aiortc, pyqtgraph"  # bench/startup.py's bare-import floor
CPU_LOOP_N = 3_000_000


def import_floor_s(runs: int = 3) -> float:
    """The bare-import floor here and now: best of ``runs`` fresh interpreters (s)."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", FLOOR], check=True, capture_output=True)
        best = min(best, time.perf_counter() - started)
    return round(best, 3)


def cpu_loop_ms(runs: int = 3) -> float:
    """A fixed pure-Python loop (``CPU_LOOP_N`` multiply-adds), best of ``runs`` (ms)."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        total = 0
        for i in range(CPU_LOOP_N):
            total += i * i % 7
        best = min(best, time.perf_counter() - started)
    return round(best * 1000.0, 1)


def machine_speed() -> dict[str, Any]:
    return {"floor_s": import_floor_s(), "cpu_loop_ms": cpu_loop_ms(), "load": round(os.getloadavg()[0], 1)}


def run_children(
    script: str, modes: list[str], repeat: int, target: str, seconds: float, qt_platform: str
) -> list[dict[str, Any]]:
    """Each mode ``repeat`` times, each in a fresh interpreter (``script --run-mode MODE``, which
    prints one JSON line); the rows, each also printed to stderr as it comes, with the machine's
    speed measured before the round."""
    rows = []
    for r in range(repeat):
        speed = machine_speed()
        print(f"round {r + 1}: {json.dumps(speed)}", file=sys.stderr, flush=True)
        for mode in modes:
            env = {**os.environ, "QT_QPA_PLATFORM": qt_platform}
            proc = subprocess.run(
                [sys.executable, script, "--run-mode", mode, "--target", target, "--seconds", str(seconds)],
                capture_output=True,
                text=True,
                env=env,
                timeout=seconds * 3 + 90,
            )
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
            if proc.returncode != 0 or not lines:
                print(f"{mode}: failed\n{proc.stderr[-1500:]}", file=sys.stderr)
                continue
            row = {"mode": mode, "run": r + 1, **speed, **json.loads(lines[-1])}
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


def gui_lag(row: dict[str, Any]) -> Any:
    """In the single-process modes the GUI and the media share one loop."""
    return row["lag_p99_ms"] if row["mode"].startswith(("qasync", "window")) else "–"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--platform", default="offscreen", help="QT_QPA_PLATFORM for the window modes")
    parser.add_argument(
        "--chatty-rtvi",
        type=float,
        metavar="SECONDS",
        help="call a chatty RTVI peer (an RTVI message every SECONDS) instead of the echo agent",
    )
    parser.add_argument("--run-mode", help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.run_mode:  # child: one mode, one JSON line
        print(json.dumps(run_mode(args.run_mode, args.target, args.seconds)), flush=True)
        return 0

    url, server = start_chatty_rtvi(args.chatty_rtvi) if args.chatty_rtvi else start_server()
    try:
        rows = run_children(__file__, args.modes.split(","), args.repeat, url, args.seconds, args.platform)
    finally:
        stop_server(server)

    load = os.getloadavg()
    print(
        f"\n{platform.node()} · {os.cpu_count()} CPU · Python {platform.python_version()} · "
        f"platform {args.platform} · load {load[0]:.1f} · {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
        + (f" · chatty RTVI peer, a message every {args.chatty_rtvi:g} s" if args.chatty_rtvi else "")
        + "\n"
    )
    print(
        "| mode | run | packets | interval deviation p50 (ms) | p99 (ms) | max (ms) "
        "| media loop lag p99 (ms) | GUI loop lag p99 (ms) | waveform fps | received jitter median / max (ms) "
        "| media / window CPU (% of a core) | app PSS (MB) | floor (s) | CPU loop (ms) | load |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row['mode']} | {row['run']} | {row['packets']} | {row['dev_p50_ms']} | {row['dev_p99_ms']} | "
            f"{row['dev_max_ms']} | {row['lag_p99_ms']} | {row.get('gui_lag_p99_ms', gui_lag(row))} | "
            f"{row.get('fps_drawn', '')} | {row.get('rx_jitter_ms', '–')} / {row.get('rx_jitter_max_ms', '–')} | "
            f"{row.get('media_cpu_pct', '')} / {row.get('gui_cpu_pct', '')} | "
            f"{row.get('app_pss_mb', '')} | {row['floor_s']} | {row['cpu_loop_ms']} | {row['load']} |"
        )
    if args.repeat > 1 or len(rows) > 1:
        print_summary(rows)
    return 0


def print_summary(rows: list[dict[str, Any]]) -> None:
    """Median over the runs of each mode, and the ratio to headless measured in the same run."""
    modes = [m for m in MODES if any(r["mode"] == m for r in rows)]
    base = [r["dev_p99_ms"] for r in rows if r["mode"] == "headless"]
    base_median = float(np.median(base)) if base else None
    print(
        "\n| mode | runs | median p99 deviation (ms) | × headless (…-whisper: × headless-speech) "
        "| median media loop lag p99 (ms) | median GUI loop lag p99 (ms) "
        "| median received jitter (ms) | app PSS (MB) | floor (s) | CPU loop (ms) | load |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    speech = [r["dev_p99_ms"] for r in rows if r["mode"] == "headless-speech"]

    def median(mine: list[dict[str, Any]], key: str, digits: int = 2) -> str:
        values = [r[key] for r in mine if isinstance(r.get(key), (int, float))]
        return f"{float(np.median(values)):.{digits}f}" if values else "–"

    for mode in modes:
        mine = [r for r in rows if r["mode"] == mode]
        p99 = float(np.median([r["dev_p99_ms"] for r in mine]))
        whisper = mode.endswith("whisper") and speech
        baseline = float(np.median(speech)) if whisper else base_median
        ratio = f"{p99 / baseline:.2f}" if baseline else "–"
        print(
            f"| {mode} | {len(mine)} | {p99:.2f} | {ratio} | {median(mine, 'lag_p99_ms', 1)} "
            f"| {median(mine, 'gui_lag_p99_ms', 1)} | {median(mine, 'rx_jitter_ms')} | {median(mine, 'app_pss_mb', 0)} "
            f"| {median(mine, 'floor_s')} | {median(mine, 'cpu_loop_ms', 0)} | {median(mine, 'load', 1)} |"
        )


if __name__ == "__main__":
    sys.exit(main())
