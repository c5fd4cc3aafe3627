"""What the reply waits cost this process: frame levels read as a list copied to an array on
every poll (before) vs a growing array read as a view (now), four conversations at once.

    .venv/bin/python bench/eval_levels.py [--rounds 2]

Runs the parrot conversations of bench/eval_callers.py at K = 4, alternating the two ways
of keeping the levels (the old one restored by a subclass for the comparison), and prints
this process's CPU per wall second and voice-to-voice p50 for each.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.eval_callers import PARROT
from tests.helpers.processes import serve

from voicedesk.qa import latency
from voicedesk.qa.evals import pooled_latencies
from voicedesk.qa.repeat import run_repeated
from voicedesk.qa.scenario import parse_scenarios
from voicedesk.qa.stats import distribution

NEW_WRITE = latency.TimedRecorder.write


class ListLevels(latency.TimedRecorder):
    """The levels as they were kept before: a Python list, an array made on each read."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._list: list[float] = []

    def write(self, samples: np.ndarray) -> None:
        before = self._n_levels
        NEW_WRITE(self, samples)
        self._list.extend(self._levels[before : self._n_levels].tolist())

    @property
    def levels(self) -> np.ndarray:
        return np.asarray(self._list)


async def one(text: str, k: int) -> tuple[float, float | None]:
    [scenario] = parse_scenarios(text, "bench.yaml")
    cpu0, t0 = time.process_time(), time.monotonic()
    results = [r.to_json() for r in await run_repeated(scenario, k, k)]
    cpu = (time.process_time() - cpu0) / (time.monotonic() - t0)
    return cpu, distribution(pooled_latencies(results)["voice_to_voice_ms"])["p50"]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--k", type=int, default=4)
    args = parser.parse_args()
    import voicedesk.qa.capture as capture

    original = capture.TimedRecorder
    with serve("--agent", "parrot", "--max-sessions", "100") as (url, _):
        text = PARROT.format(target=f"{url}/api/voice/offer")
        for round_ in range(args.rounds):
            for label, recorder in (("list (before)", ListLevels), ("array (now)", original)):
                capture.TimedRecorder = recorder  # what CallCapture records with
                cpu, p50 = await one(text, args.k)
                print(
                    f"round {round_ + 1} {label}: {cpu * 100:.0f} % of a core, voice-to-voice p50 {p50} ms", flush=True
                )
    capture.TimedRecorder = original


if __name__ == "__main__":
    asyncio.run(main())
