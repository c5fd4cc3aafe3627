"""Simulated callers: how fast the rule caller answers, and K conversations at once.

    .venv/bin/python bench/eval_callers.py [--runs 3] [--k 1,2,3,4]

1. Caller response time (the agent's audio stops -> the caller's audio starts, both found in
   the audio at the caller's end) with the rule-driven caller, p50/p90 over every turn:
   a. against the embedded ``voice`` agent, which reports its words and the end of each reply on
      the ``voicedesk`` events channel (the caller waits for 200 ms of quiet after that report);
   b. against ``parrot`` served by ``voicedesk serve`` over HTTP (no events channel: only the audio
      is heard): the reply is streamed into the recognizer's worker while it plays, recognized at
      a 250 ms pause, and 500 ms of silence ends it (qa/caller.py);
   b0. the same, the way it was before (the baseline, in the same run): 700 ms of silence, then
      the whole reply recognized;
   c. against the embedded ``voice`` agent heard only from its audio (``hear: recognizer``): its
      replies are longer (sentences with espeak-ng's pauses between them).
2. K conversations at once (K = 1..4, ``run_repeated`` with ``parallel=K``, the same code as
   ``voicedesk test --repeat --parallel``) against the served parrot (its CPU in its own
   process, so what changes with K is this process): voice-to-voice p50/p90 over every turn
   of every run, and the ratio of the p50 to K = 1's, measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers.processes import serve

from voicedesk.qa import caller
from voicedesk.qa.evals import pooled_latencies
from voicedesk.qa.repeat import run_repeated
from voicedesk.qa.scenario import parse_scenarios
from voicedesk.qa.stats import distribution

VOICE = """
name: voice-caller
target: embedded:voice
caller:
  opening: hello
  max_turns: 6
  rules:
    - when: {contains: how can i help}
      say: what is the weather today
    - when: {contains: sunny}
      say: what time is it
    - when: {contains: time to test}
      say: what is your name
    - when: {contains: voice desk}
      say: thank you
    - when: {contains: welcome}
      say: goodbye
    - when: {contains: nice day}
      hangup: true
  otherwise: [help, what can you do]
"""

PARROT = """
name: parrot-caller
target: {target}
caller:
  opening: testing one two three
  max_turns: 4
  listen: 10
  hear: recognizer
  rules:
    - when: {{contains: three}}
      say: four five six
    - when: {{contains: six}}
      say: seven eight nine
    - when: {{contains: nine}}
      say: one two three
  otherwise: [testing again, red green blue]
"""

VOICE_AUDIO = VOICE.replace("name: voice-caller", "name: voice-audio-caller").replace(
    "caller:\n", "caller:\n  hear: recognizer\n  listen: 10\n"
)

CPU: list[float] = []  # this process's CPU per wall second during the last conversations


async def conversations(text: str, runs: int, parallel: int) -> list[dict]:
    [scenario] = parse_scenarios(text, "bench.yaml")
    cpu0, t0 = time.process_time(), time.monotonic()
    results = await run_repeated(scenario, runs, parallel)
    CPU.append((time.process_time() - cpu0) / (time.monotonic() - t0))
    return [r.to_json() for r in results]


def show(label: str, values: list[float]) -> dict:
    d = distribution(values)
    print(f"{label}: p50 {d['p50']} ms, p90 {d['p90']} ms, max {d['max']} ms (n={d['n']})", flush=True)
    return d


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="conversations per K (and for the response time)")
    parser.add_argument("--k", default="1,2,3,4", help="conversations at once")
    args = parser.parse_args()
    ks = [int(k) for k in args.k.split(",")]
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.node()}, {os.cpu_count()} CPUs")

    voice = await conversations(VOICE, args.runs, 1)
    show("1a caller response, voice agent with its events", pooled_latencies(voice)["caller_response_ms"])
    print("   ended:", sorted({r["conversation"]["ended"] for r in voice}))

    voice_audio = await conversations(VOICE_AUDIO, args.runs, 1)
    show("1c caller response, voice agent heard from its audio", pooled_latencies(voice_audio)["caller_response_ms"])
    print("   ended:", sorted({r["conversation"]["ended"] for r in voice_audio}))
    print("   heard:", [t["heard"] for t in voice_audio[0]["conversation"]["turns"]])

    with serve("--agent", "parrot", "--max-sessions", "100") as (url, _proc):
        text = PARROT.format(target=f"{url}/api/voice/offer")
        caller.STREAM_REPLIES, hang = False, caller.REPLY_END_MS
        caller.REPLY_END_MS = caller.REPLY_HANG_MS
        try:
            before = await conversations(text, args.runs, 1)
        finally:
            caller.STREAM_REPLIES, caller.REPLY_END_MS = True, hang
        old = show(
            "1b0 caller response, parrot, before (700 ms, then recognition)",
            pooled_latencies(before)["caller_response_ms"],
        )
        by_k: dict[int, list[dict]] = {}
        cpu: dict[int, float] = {}
        for k in ks:
            by_k[k] = await conversations(text, max(args.runs, k), k)
            cpu[k] = CPU[-1]
        new = show(
            "1b caller response, parrot over HTTP, heard by the recognizer",
            pooled_latencies(by_k[ks[0]])["caller_response_ms"],
        )
        if old["p90"] and new["p90"]:
            print(f"   p90 ratio to before: {new['p90'] / old['p90']:.2f}", flush=True)
        print("   heard:", [t["heard"] for t in by_k[ks[0]][0]["conversation"]["turns"]])
        base = distribution(pooled_latencies(by_k[ks[0]])["voice_to_voice_ms"])["p50"]
        for k in ks:
            d = show(f"2  K={k} voice-to-voice", pooled_latencies(by_k[k])["voice_to_voice_ms"])
            failed = sum(1 for r in by_k[k] if not r["passed"])
            ratio = f"{d['p50'] / base:.2f}" if base and d["p50"] else "n/a"
            print(
                f"   K={k}: p50 ratio to K={ks[0]}: {ratio}; runs failed: {failed}/{len(by_k[k])}; "
                f"this process used {cpu[k] * 100:.0f} % of a core",
                flush=True,
            )
            for r in by_k[k]:
                if not r["passed"]:
                    print(f"     run {r['run']}: {r['error'] or r.get('conversation', {}).get('ended')}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
