"""The window's engine process (voicedesk/engine/): a call to the real server run in a child,
its audio read from the shared-memory rings, its events and figures mirrored, its death
reported, and no child left behind when the process that started it goes."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from tests.helpers.calls import until
from tests.helpers.processes import ended, serve, wait_until
from voicedesk.engine.client import EngineNotice, EngineProcess, RemoteCall
from voicedesk.errors import ConfigError
from voicedesk.media.pcm import SAMPLE_RATE, dominant_frequency, level_dbfs
from voicedesk.rtc.call import CallState, CallStateChanged, StatsSampled
from voicedesk.rtc.spec import CallSpec


@pytest.fixture(scope="module")
def echo_url() -> Iterator[str]:
    with serve("--agent", "echo") as (base, _proc):
        yield f"{base}/api/voice/offer"


async def test_a_call_in_the_engine_sends_and_hears_its_tone_through_the_rings(echo_url: str) -> None:
    engine = EngineProcess()
    call = RemoteCall(engine, CallSpec(echo_url, source="tone:700"))
    events: list[object] = []
    call.add_listener(events.append)
    try:
        await call.start()
        assert call.state == CallState.CONNECTED and call.setup_ms is not None and call.setup_ms > 0
        assert engine.pid is not None and engine.pid != os.getpid()
        await until(
            lambda: call.rx.ring.written >= SAMPLE_RATE and call.tx.ring.written >= SAMPLE_RATE, "a second each way"
        )
        assert dominant_frequency(call.tx.ring.latest(SAMPLE_RATE)) == pytest.approx(700, abs=5)
        assert dominant_frequency(call.rx.ring.latest(SAMPLE_RATE)) == pytest.approx(700, abs=5)  # echoed back
        await until(lambda: any(isinstance(e, StatsSampled) for e in events), "stats")
        call.muted = True  # the same property as a local Call's, carried out in the engine
        await until(lambda: level_dbfs(call.tx.ring.latest(SAMPLE_RATE // 10)) < -80, "silence sent")
        assert call.muted
    finally:
        await call.hangup()
        call.close_rings()
        await engine.aclose()
    states = [e.state for e in events if isinstance(e, CallStateChanged)]
    assert states[-1] == CallState.ENDED and CallState.CONNECTED in states
    assert call.summary()["target"] == call.target
    assert not engine.alive


async def test_a_bad_call_is_the_engines_one_line_and_a_killed_engine_fails_the_call(echo_url: str) -> None:
    engine = EngineProcess()
    try:
        bad = RemoteCall(engine, CallSpec(echo_url, source="tone:notanumber"))
        with pytest.raises(ConfigError) as refused:
            await bad.start()
        assert "\n" not in str(refused.value) and bad.state == CallState.FAILED

        call = RemoteCall(engine, CallSpec(echo_url, source="tone:440"))
        events: list[object] = []
        call.add_listener(events.append)
        await call.start()
        pid = engine.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        await until(lambda: call.state == CallState.FAILED, "the call failing")
        assert call.reason == "the engine process stopped unexpectedly (exit status -9)"
        assert any(isinstance(e, CallStateChanged) and e.state == CallState.FAILED for e in events)
        await asyncio.wait_for(call.hangup(), 10)  # nothing left to hang up: returns at once
        call.close_rings()
    finally:
        await engine.aclose()
    assert ended(pid)

    again = RemoteCall(engine, CallSpec(echo_url, source="tone:440"))  # the next call starts a new engine
    try:
        await again.start()
        assert again.state == CallState.CONNECTED and engine.pid not in (None, pid)
        notices: list[EngineNotice] = []
        again.add_listener(lambda e: isinstance(e, EngineNotice) and notices.append(e))
        again.send_dtmf("1", "rfc4733")
        await until(lambda: again.dtmf_sent == "1", "the key sent")  # mirrored from the engine
        again.send_dtmf("Z", "rfc4733")  # refused in the engine: a notice on screen, not a crash
        await until(lambda: bool(notices), "a notice")
        assert "Z" in notices[0].text and "\n" not in notices[0].text
    finally:
        await again.hangup()
        again.close_rings()
        await engine.aclose()


def test_the_engine_ends_when_the_process_that_started_it_dies() -> None:
    script = textwrap.dedent(
        """
        import asyncio, sys
        from voicedesk.engine.client import EngineProcess

        async def main():
            engine = EngineProcess()
            await engine.ready()
            print(engine.pid, flush=True)
            await asyncio.sleep(120)

        if __name__ == "__main__":
            asyncio.run(main())
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert not ended(child)
        parent.kill()  # no chance to clean up: the child sees its pipe close
        parent.wait(10)
        assert wait_until(lambda: ended(child), timeout=30)
    finally:
        if parent.poll() is None:
            parent.kill()


async def test_the_engine_logs_reach_this_process_at_its_levels(echo_url: str, caplog) -> None:
    caplog.set_level(logging.INFO, logger="voicedesk")
    webrtc = logging.getLogger("aioice")
    before = webrtc.level
    webrtc.setLevel(logging.INFO)  # what the window's "verbose WebRTC logs" preference does
    engine = EngineProcess()
    call = RemoteCall(engine, CallSpec(echo_url, source="tone:440"))
    try:
        await call.start()
    finally:
        await call.hangup()
        call.close_rings()
        await engine.aclose()
        webrtc.setLevel(before)
    ours = [r for r in caplog.records if r.name == "voicedesk.rtc.call"]
    assert any(r.getMessage() == "call connected" for r in ours)  # logged in the engine, handled here
    assert any(r.name.startswith("aioice") for r in caplog.records)


TWO_CPUS = hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) >= 2

PINNING_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, os, sys, time
    from pathlib import Path
    from voicedesk.engine.client import EngineProcess, RemoteCall
    from voicedesk.rtc.spec import CallSpec
    from voicedesk.speech.recognizers import SttChoice

    def threads(pid):  # {"tid name": [cpus]}; a thread that ended meanwhile runs nowhere
        out = {}
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                name = (task / "comm").read_text().strip()
                out[f"{task.name} {name}"] = sorted(os.sched_getaffinity(int(task.name)))
            except (FileNotFoundError, ProcessLookupError):
                continue
        return out

    def children(pid):
        found = []
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                found += [int(c) for c in (task / "children").read_text().split()]
            except FileNotFoundError:  # that thread ended meanwhile
                continue
        return found

    async def main():
        engine = EngineProcess()
        spec = CallSpec(sys.argv[1], source="say:one two three", transcribe=SttChoice("whisper"))
        call = RemoteCall(engine, spec)
        try:
            await call.start()
            deadline = time.monotonic() + 60
            while not children(engine.pid) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            await asyncio.sleep(2)  # the speech rendered (the TTS thread), the worker's model loaded, a sweep
            print(json.dumps({
                "media_cpu": engine.media_cpu,
                "pid": engine.pid,
                "loop": sorted(os.sched_getaffinity(engine.pid)),
                "engine": threads(engine.pid),
                "workers": {str(c): threads(c) for c in children(engine.pid)},
                "window": threads(os.getpid()),
            }), flush=True)
        finally:
            await call.hangup()
            call.close_rings()
            await engine.aclose()

    asyncio.run(main())
    """
)


@pytest.mark.skipif(not TWO_CPUS, reason="pinning the media needs two CPUs this process may use")
def test_the_engines_media_loop_has_a_cpu_to_itself_and_nothing_it_starts_shares_it(echo_url: str) -> None:
    env = {**os.environ, "VOICEDESK_MEDIA_CPU": "auto"}  # as shipped (the suite turns it off)
    done = subprocess.run(
        [sys.executable, "-c", PINNING_SCRIPT, echo_url], capture_output=True, text=True, timeout=180, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    media = max(os.sched_getaffinity(0))
    assert report["media_cpu"] == media and report["loop"] == [media]
    loop_tid = next(t for t in report["engine"] if t.split()[0] == str(report["pid"]))
    sharing = {
        f"{where} thread {tid}": cpus
        for where, found in [("engine", report["engine"]), ("window", report["window"])]
        + [(f"worker {pid}", found) for pid, found in report["workers"].items()]
        for tid, cpus in found.items()
        if media in cpus and tid != loop_tid
    }
    assert not sharing, f"on the media CPU {media} besides the engine's loop: {sharing}; {report}"
    assert report["workers"], "the recognizer's worker process did not start"
