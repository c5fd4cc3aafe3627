"""Voice-to-voice latency and CPU per concurrent call of the embedded `voice` agent.

    .venv/bin/python bench/agent_latency.py [--calls 1,2,4]

For each agent (echo and parrot with no delay as baselines, then voice) and each
number of concurrent calls, a `voicedesk serve` process is started and N callers
in this process each send the same spoken question (espeak-ng, as a wav source)
and wait for the agent's turn report. Measured:

- voice-to-voice from the audio itself, on the caller's clock: the last loud
  20 ms block the caller sent -> the first loud block received after it
  (includes the VAD's 500 ms end-of-turn hang-over, STT, responder, TTS, the
  network path and the receiver's jitter buffer);
- the agent's own breakdown from its turn report (end detection, transcription,
  synthesis, voice-to-voice on the agent's clock);
- CPU of the server process and its children (the recognizer workers), from
  /proc, over the calls' lifetime, as % of one core per call.

Also (``--isolation``): how long the event loop stalls while pocketsphinx loads
and decodes in a thread of the same process vs in the worker process the agent uses.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers.processes import serve
from tests.helpers.speech import CaptureSink, spoken_wav

from voicedesk.media.pcm import level_dbfs
from voicedesk.media.sources import WavTrack
from voicedesk.rtc.call import Call
from voicedesk.rtc.events import AgentEventReceived

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """user+system CPU of a process and its live children (recognizer workers)."""
    total = 0.0
    pids = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                pids += [int(p) for p in f.read().split()]
    except OSError:
        pass
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICKS
        except (OSError, IndexError, ValueError):
            pass
    return total


async def one_call(url: str, wav: Path, wait_turn: bool, hold_s: float) -> dict:
    rx = CaptureSink()
    tx: list[tuple[float, float]] = []
    turns: list[dict] = []
    got = asyncio.Event()

    def on_event(event: object) -> None:
        if isinstance(event, AgentEventReceived) and event.type == "turn":
            turns.append(event.event)
            got.set()

    call = Call(f"{url}/api/voice/offer", source=WavTrack(wav), sinks=[rx], timeout=30, agent_events=True)
    call.outbound.add_observer(lambda s: tx.append((time.monotonic(), level_dbfs(s))))
    call.add_listener(on_event)
    await call.start()
    try:
        if wait_turn:
            await asyncio.wait_for(got.wait(), 60)
            await asyncio.sleep(0.5)
        else:
            await asyncio.sleep(hold_s)
    finally:
        await call.hangup()
    loud_tx = [t for t, level in tx if level > -40.0]
    speech_end = loud_tx[-1] + 0.02 if loud_tx else None
    loud_rx = [t for t, b in rx.blocks if level_dbfs(b) > -40.0]
    if speech_end is not None:
        loud_rx = [t for t in loud_rx if t > speech_end]
    return {
        "v2v_ms": (loud_rx[0] - speech_end) * 1000.0 if loud_rx and speech_end else None,
        "turn": turns[0] if turns else None,
    }


async def run(agent: str, options: list[str], calls: int, wav: Path) -> dict:
    args = ["--agent", agent, "--max-sessions", "100"]
    for option in options:
        args += ["-o", option]
    with serve(*args) as (url, proc):
        await asyncio.sleep(1.0)
        cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
        results = await asyncio.gather(*(one_call(url, wav, agent != "echo", 9.0) for _ in range(calls)))
        cpu1, t1 = cpu_seconds(proc.pid), time.monotonic()
    v2v = [r["v2v_ms"] for r in results if r["v2v_ms"] is not None]
    turns = [r["turn"] for r in results if r["turn"]]

    def median_of(key: str) -> float | None:
        values = [t["latency_ms"][key] for t in turns if t["latency_ms"].get(key) is not None]
        return statistics.median(values) if values else None

    return {
        "agent": agent + (f" ({', '.join(options)})" if options else ""),
        "calls": calls,
        # echo answers while the caller still speaks: no voice-to-voice to speak of
        "v2v_median_ms": statistics.median(v2v) if v2v and agent != "echo" else None,
        "v2v_max_ms": max(v2v) if v2v and agent != "echo" else None,
        "agent_v2v_ms": median_of("voice_to_voice"),
        "end_detection_ms": median_of("end_detection"),
        "transcription_ms": median_of("transcription"),
        "synthesis_ms": median_of("synthesis"),
        "cpu_pct_per_call": (cpu1 - cpu0) / (t1 - t0) / calls * 100.0,
        "transcripts": sorted({t["transcript"] or "" for t in turns}),
    }


def fmt(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


async def isolation() -> None:
    """Max event-loop stall while the recognizer loads and decodes 10 s of speech: thread vs worker process."""
    from tests.helpers.speech import agent_recognizer_settings, speak

    from voicedesk.speech.stt import PocketsphinxRecognizer, build_decoder

    settings = agent_recognizer_settings()
    speech = np.concatenate([speak("what is the weather today")] * 5)
    loop = asyncio.get_running_loop()
    lags: list[float] = []

    async def ticker() -> None:
        while True:
            t = loop.time()
            await asyncio.sleep(0.005)
            lags.append(loop.time() - t - 0.005)

    def in_thread() -> None:
        from voicedesk.speech.stt import transcribe

        transcribe(speech, 48_000, decoder=build_decoder(settings))

    async def in_process() -> None:
        recognizer = PocketsphinxRecognizer(settings)
        await recognizer.start()
        await recognizer.begin(48_000)
        for i in range(0, speech.size, 4800):
            await recognizer.feed(speech[i : i + 4800])
        await recognizer.finish()
        await recognizer.close()

    tick = asyncio.get_running_loop().create_task(ticker(), name="bench ticker")
    try:
        for name, work in (
            ("thread (same process)", lambda: loop.run_in_executor(None, in_thread)),
            ("worker process", in_process),
        ):
            lags.clear()
            t0 = time.monotonic()
            await work()
            elapsed = time.monotonic() - t0
            print(f"| {name} | {max(lags) * 1000:.0f} | {np.percentile(lags, 99) * 1000:.1f} | {elapsed:.2f} |")
    finally:
        tick.cancel()


async def barge_in(trials: int) -> None:
    """Talk over the agent's answer; when does its audio stop?"""
    from tests.helpers.speech import speak

    from voicedesk.media.tracks import QueuedAudioTrack

    question, interjection = speak("what can you do"), speak("stop stop stop")
    print("| trial | caller's onset → agent audio stopped, caller's audio (ms) | agent: detected → flushed (ms) |")
    print("| --- | --- | --- |")
    for trial in range(1, trials + 1):
        mouth, rx = QueuedAudioTrack(), CaptureSink()
        tx: list[tuple[float, float]] = []
        events: list[dict] = []
        changed = asyncio.Event()

        def on_event(event: object, events: list[dict] = events, changed: asyncio.Event = changed) -> None:
            if isinstance(event, AgentEventReceived):
                events.append(event.event)
                changed.set()

        async def until(kind: str, events: list[dict] = events, changed: asyncio.Event = changed) -> None:
            while not any(e.get("type") == kind for e in events):
                changed.clear()
                await changed.wait()

        call = Call("embedded:voice", source=mouth, sinks=[rx], timeout=30)
        call.outbound.add_observer(lambda s, tx=tx: tx.append((time.monotonic(), level_dbfs(s))))
        call.add_listener(on_event)
        await call.start()
        try:
            mouth.enqueue(question)
            await asyncio.wait_for(until("audio_out_started"), 60)
            await asyncio.sleep(1.2)
            mouth.enqueue(interjection)
            await asyncio.wait_for(until("barge_in"), 30)
            await asyncio.sleep(1.5)
        finally:
            await call.hangup()
        reply_start = next(t for t, b in rx.blocks if level_dbfs(b) > -40.0)
        onset = next(t for t, level in tx if level > -40.0 and t > reply_start)
        after = [t for t, b in rx.blocks if level_dbfs(b) > -40.0 and t >= onset]
        pauses = (a for a, b in itertools.pairwise(after) if b - a > 0.3)
        stopped = next(pauses, after[-1] if after else onset)
        flushed = next((e.get("stop_ms") for e in events if e.get("type") == "barge_in"), None)
        print(f"| {trial} | {(stopped - onset) * 1000:.0f} | {fmt(flushed, 1)} |", flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", default="1,2,4", help="numbers of concurrent calls (default 1,2,4)")
    parser.add_argument("--isolation", action="store_true", help="only the thread-vs-process loop stall figure")
    parser.add_argument("--barge-in", type=int, metavar="N", help="only: talk over the agent N times")
    args = parser.parse_args()
    if args.barge_in:
        await barge_in(args.barge_in)
        return
    if args.isolation:
        print("| recognizer in | max loop stall (ms) | p99 (ms) | load + decode 10 s (s) |")
        print("| --- | --- | --- | --- |")
        await isolation()
        return
    with tempfile.TemporaryDirectory() as tmp:
        wav = spoken_wav(Path(tmp) / "ask.wav", 1.0, "what is the weather today", 7.0)
        rows = []
        for calls in [int(c) for c in args.calls.split(",")]:
            for agent, options in (("echo", []), ("parrot", ["delay=0"]), ("voice", [])):
                row = await run(agent, options, calls, wav)
                rows.append(row)
                print(row, file=sys.stderr, flush=True)
    print(
        "| agent | calls | voice-to-voice, caller's audio (median / max ms) | agent's v2v (ms) | end detection | "
        "transcription | synthesis | CPU % of a core per call |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['agent']} | {r['calls']} | {fmt(r['v2v_median_ms'])} / {fmt(r['v2v_max_ms'])} | "
            f"{fmt(r['agent_v2v_ms'])} | {fmt(r['end_detection_ms'])} | {fmt(r['transcription_ms'])} | "
            f"{fmt(r['synthesis_ms'])} | {fmt(r['cpu_pct_per_call'], 1)} |"
        )


if __name__ == "__main__":
    asyncio.run(main())
