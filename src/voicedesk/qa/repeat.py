"""Run a scenario N times, K at a time: separate calls, one seed per run, one recognizer for all.

Runs are concurrent calls on one event loop (each its own ``Call``, peer connection and
ports). What would stall the loop is kept off it: TTS runs on its thread (ctypes releases
the GIL), recognition in the shared recognizer's worker process (qa/hearing.py), so a run
that finishes does not disturb the timing of the runs still going. ``bench/eval_parallel.py``
measures voice-to-voice at K = 1..4 against K = 1.

Run ``i`` (0-based) gets seed ``base + i``: the simulated caller's choices and, with
``impair_runs:``, whether this run is impaired (a seeded share of runs: the truth a pass
rate can be checked against).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import Callable
from typing import Any

from voicedesk.config import IceConfig
from voicedesk.errors import VoiceDeskError
from voicedesk.qa.hearing import HearingPool, reply_phrases
from voicedesk.qa.runner import ScenarioResult, ScenarioRun
from voicedesk.qa.scenario import Scenario
from voicedesk.tasks import TaskOwner

logger = logging.getLogger(__name__)


def run_seed(scenario: Scenario, index: int, base: int | None = None) -> int:
    if base is None:
        base = scenario.caller.seed if scenario.caller is not None else 0
    return base + index


def wants_text(scenario: Scenario) -> bool:
    """Whether the runs' replies need transcripts (golden calls, which always want them, are single runs)."""
    caller = scenario.caller
    return (
        any(step.kind == "expect_transcript" for step in scenario.steps)
        or scenario.judge is not None
        or (caller is not None and any(c.kind != "goal" for c in caller.success))
    )


def impaired(scenario: Scenario, seed: int) -> str | None:
    """The impairment of the run with this seed, when ``impair_runs:`` picks it."""
    spec = scenario.impair_runs
    if spec is None:
        return None
    # a string seed: the same draw on every machine and Python version (hashed with SHA-512)
    return spec.impair if random.Random(f"impair_runs:{seed}").random() < spec.share else None


def run_impairment(scenario: Scenario, seed: int) -> str | None:
    """The impairment the run with this seed is placed with: the scenario's own ``impair:``, plus
    ``impair_runs``' when it picks the run (its figures replace the same ones of ``impair:``)."""
    from voicedesk.rtc.impair import combine_impairments

    return combine_impairments(scenario.impair, impaired(scenario, seed))


async def run_repeated(
    scenario: Scenario,
    times: int,
    parallel: int = 1,
    target: str | None = None,
    ice: IceConfig | None = None,
    headers: dict[str, str] | None = None,
    *,
    seed: int | None = None,
    on_result: Callable[[ScenarioResult], None] | None = None,
    pool: HearingPool | None = None,
) -> list[ScenarioResult]:
    """``times`` runs of ``scenario``, at most ``parallel`` at once; results in run order."""
    own_pool = pool is None
    pool = pool or HearingPool()
    gate = asyncio.Semaphore(max(1, parallel))
    results: list[ScenarioResult | None] = [None] * times
    owner = TaskOwner(f"repeat/{scenario.name}", logger=logger, failed="run %s failed")

    async def one(index: int) -> None:
        async with gate:
            s = run_seed(scenario, index, seed)
            impair = impaired(scenario, s)
            # on top of the scenario's own network (a lossy link that some runs lose entirely, say)
            this = dataclasses.replace(scenario, impair=run_impairment(scenario, s)) if impair is not None else scenario
            run = ScenarioRun(this, target, ice, headers, seed=s, hearing=None)
            # replies are transcribed in the shared worker, not in this process (see the module's doc)
            try:
                run.hearing = pool.get(scenario.stt_mode, reply_phrases(scenario, run.target or ""), scenario.stt_model)
            except VoiceDeskError as exc:  # no recognizer: a check that needs one says so, as in one run
                logger.info("no recognizer for the repeated runs: %s", exc)
            run.transcripts_wanted = wants_text(scenario)
            run.result.run = index + 1
            run.result.seed = s
            run.result.impaired = impair
            result = await run.run()
            run.finish_record()
            results[index] = result
            if on_result is not None:
                on_result(result)

    try:
        tasks = [owner.spawn(one(i), f"run-{i + 1}") for i in range(times)]
        await asyncio.wait(tasks)
        for index, task in enumerate(tasks):
            if task.cancelled() and results[index] is None:
                # cancelled from inside (a library's CancelledError), not by our caller: a failed run, not a gap
                logger.warning("run %d of %s was cancelled from inside", index + 1, scenario.name)
                lost = ScenarioResult(scenario.name, scenario.where, target or scenario.target or "", run=index + 1)
                lost.error = "the run was cancelled before it finished"
                lost.seed = run_seed(scenario, index, seed)
                results[index] = lost
                if on_result is not None:
                    on_result(lost)
            elif not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]  # a bug, not a failed run (runs catch their own)
    finally:
        await owner.cancel_all()
        if own_pool:
            await pool.close()
    return [r for r in results if r is not None]


def result_line(result: ScenarioResult | dict[str, Any]) -> dict[str, Any]:
    """One run as the JSON line ``--results DIR`` keeps (its record, the audio, is not in it)."""
    return result.to_json() if isinstance(result, ScenarioResult) else result
