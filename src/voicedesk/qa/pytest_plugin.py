"""pytest plugin: write agent tests in Python on the engine ``voicedesk test`` uses.

Installed with VoiceDesk (entry point ``pytest11``), so any project that has voicedesk
installed gets the ``voicedesk_call`` fixture — an async factory::

    async def test_weather(voicedesk_call):
        call = await voicedesk_call("embedded:voice")        # or --voicedesk-target URL
        await call.say("what is the weather today")
        turn = await call.wait_reply(timeout=15)
        assert turn.voice_to_voice_ms is not None and turn.voice_to_voice_ms < 3000
        result = await call.hangup()                         # transcripts are made here
        assert "sunny" in result.turns[-1]["transcript"]

``voicedesk_scenario`` runs a scenario — its ``caller:`` conversation, its checks — once or
repeated, and gives the pass rate (as ``voicedesk test --repeat``)::

    async def test_booking(voicedesk_scenario):
        runs = await voicedesk_scenario("calls/booking.yaml", repeat=5, parallel=2)  # or YAML text
        assert runs.pass_rate >= 0.8, runs                                        # the summary's lines
        assert runs.conversations[0]["ended"] == "the caller reached its goal and hung up"

Needs an asyncio test runner (pytest-asyncio, ``asyncio_mode = "auto"`` or
``@pytest.mark.asyncio``). Calls still open at the end of a test are hung up.
``--voicedesk-report-dir DIR`` writes a report bundle for every call of a failing test.

Loading the plugin changes nothing in aiortc. The first ``voicedesk_call()`` applies
VoiceDesk's aiortc patches (rtc/aiortc_patches.py) to the whole test process, so
aiortc peers a project's own tests make after it get them too; the ini option
``voicedesk_aiortc_patches = false`` (or ``VOICEDESK_AIORTC_PATCHES=0``) keeps aiortc
as installed, and ``-p no:voicedesk`` does not load the plugin at all.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from voicedesk.config import IceConfig, resolve_ice
from voicedesk.qa.latency import Turn
from voicedesk.qa.report import write_bundle
from voicedesk.qa.runner import ScenarioResult, ScenarioRun
from voicedesk.qa.scenario import Scenario, Utterance
from voicedesk.rtc import aiortc_patches
from voicedesk.rtc.call import Call
from voicedesk.rtc.summary import CallSummary
from voicedesk.speech.recognizers import STT_CHOICES
from voicedesk.speech.transcript import Transcript


class VoiceDeskCall:
    """One call driven from a test: say, wait for replies, read the measures."""

    def __init__(self, run: ScenarioRun) -> None:
        self._run = run
        self.result: ScenarioResult | None = None

    @property
    def call(self) -> Call:
        assert self._run.call is not None
        return self._run.call

    @property
    def turns(self) -> list[Turn]:
        return self._run.turns

    @property
    def setup_ms(self) -> float | None:
        return self._run.result.setup_ms

    async def say(self, what: str | Utterance | np.ndarray) -> Turn:
        return await self._run.say(what)

    async def wait_reply(self, timeout: float = 15.0) -> Turn:  # noqa: ASYNC109 (no reply is a result, not an error)
        return await self._run.wait_reply(timeout)

    async def transcript(self, turn: Turn, timeout: float = 60.0) -> Transcript | None:  # noqa: ASYNC109
        """The reply's transcript now, during the call (``.text``, ``.words`` as ``(word,
        start_ms, end_ms)`` on the call's clock, ``.unavailable``); ``hangup()`` has them all."""
        return await self._run.transcript(turn, timeout)

    async def silence(self, seconds: float) -> None:
        import asyncio

        await asyncio.sleep(seconds)

    def summary(self) -> CallSummary:
        """The call's figures so far (typed; readable by the JSON keys too)."""
        return self.call.summary()

    async def hangup(self) -> ScenarioResult:
        """End the call; the result has every turn with its reply transcript."""
        if self.result is None:
            await self._run.close()
            self.result = self._run.finish()
            self._run.finish_record()
        return self.result


CallFactory = Callable[..., Awaitable[VoiceDeskCall]]


class ScenarioRuns:
    """The runs of one scenario from ``voicedesk_scenario``: pass rate, summary, each run.

    ``str()`` is the summary as ``voicedesk test --repeat`` prints it (a good assertion message)."""

    def __init__(self, results: list[ScenarioResult]) -> None:
        from voicedesk.qa.evals import summarize_scenario

        self.results = results  # each run's ScenarioResult, in run order
        self.runs = [r.to_json() for r in results]  # as --results writes them (runs.jsonl)
        self.summary = summarize_scenario(results[0].name if results else "", self.runs)

    @property
    def pass_rate(self) -> float:
        return float(self.summary["pass_rate"])

    @property
    def passed(self) -> int:
        return int(self.summary["passed"])

    @property
    def flaky(self) -> bool:
        return bool(self.summary["flaky"])

    @property
    def conversations(self) -> list[dict[str, Any]]:
        """Each run's conversation turn by turn (``caller:`` scenarios): heard, said, why, timings."""
        return [run["conversation"] for run in self.runs if run.get("conversation")]

    def __str__(self) -> str:
        from voicedesk.qa.evals import summary_lines

        return "\n".join(summary_lines(self.summary))


ScenarioFactory = Callable[..., Awaitable[ScenarioRuns]]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("voicedesk")
    group.addoption("--voicedesk-target", help="target for voicedesk_call() calls that name none")
    group.addoption("--voicedesk-ice", help="ICE configuration (JSON file or preset) for voicedesk_call()")
    group.addoption("--voicedesk-report-dir", help="write a call report bundle for each call of a failing test")
    group.addoption(
        "--voicedesk-stt",
        choices=STT_CHOICES,
        help="the recognizer of voicedesk_call() replies that name none: constrained (default), open or whisper",
    )
    group.addoption(
        "--voicedesk-stt-model",
        help="stt=whisper: a CTranslate2 Whisper model directory or name (default: $VOICEDESK_STT_MODEL, "
        "then the packaged tiny.en)",
    )
    parser.addini(
        "voicedesk_aiortc_patches",
        type="bool",
        default=True,
        help="false: voicedesk_call() leaves aiortc as installed instead of patching it for the whole test process",
    )


def pytest_configure(config: pytest.Config) -> None:
    if not config.getini("voicedesk_aiortc_patches"):
        aiortc_patches.disable("voicedesk_aiortc_patches = false")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
async def voicedesk_call(request: pytest.FixtureRequest) -> AsyncIterator[CallFactory]:
    """``await voicedesk_call(target=None, *, ice=None, timeout=15, vocabulary=(), stt=None, stt_model=None)``.

    ``stt``: constrained, open or whisper (None: ``--voicedesk-stt``, else constrained)."""
    calls: list[VoiceDeskCall] = []
    config = request.config

    async def factory(
        target: str | None = None,
        *,
        ice: IceConfig | str | None = None,
        timeout: float = 15.0,  # noqa: ASYNC109 (the call set-up timeout, as Call takes it)
        vocabulary: tuple[str, ...] = (),
        stt: str | None = None,
        stt_model: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> VoiceDeskCall:
        target = target or config.getoption("voicedesk_target")
        if not target:
            pytest.fail("voicedesk_call(): give a target or --voicedesk-target", pytrace=False)
        ice_spec = ice if ice is not None else config.getoption("voicedesk_ice")
        ice_config = resolve_ice(ice_spec) if isinstance(ice_spec, str) else ice_spec
        scenario = Scenario(
            name=request.node.name,
            path=str(request.node.path) if getattr(request.node, "path", None) else "<pytest>",
            line=0,
            target=target,
            steps=(),
            timeout=timeout,
            stt_mode=stt or config.getoption("voicedesk_stt") or "constrained",
            stt_model=stt_model or config.getoption("voicedesk_stt_model"),
            vocabulary=tuple(vocabulary),
        )
        run = ScenarioRun(scenario, target, ice_config, headers)
        live = VoiceDeskCall(run)
        calls.append(live)
        await run.open()
        return live

    yield factory
    report_dir = config.getoption("voicedesk_report_dir")
    for i, live in enumerate(calls):
        if live._run.call is None:
            continue
        result = await live.hangup()
        if report_dir and request.node.stash.get(_FAILED, False) and result.record is not None:
            name = re.sub(r"[^A-Za-z0-9._-]+", "_", request.node.name)
            write_bundle(result.record, Path(report_dir) / (f"{name}-{i + 1}" if len(calls) > 1 else name))


def _one_scenario(source: str | Path, name: str | None, where: str) -> Scenario:
    from voicedesk.qa.scenario import ScenarioError, load_scenarios, parse_scenarios

    try:
        is_text = isinstance(source, str) and "\n" in source
        scenarios = parse_scenarios(str(source), where) if is_text else load_scenarios(source)
    except ScenarioError as exc:
        pytest.fail(str(exc), pytrace=False)
    picked = [s for s in scenarios if name is None or s.name == name]
    if len(picked) != 1:
        names = ", ".join(s.name for s in scenarios)
        wanted = f"no scenario named {name!r}" if name is not None else "several scenarios: name one with name="
        pytest.fail(f"voicedesk_scenario(): {wanted} (there are: {names})", pytrace=False)
    return picked[0]


@pytest.fixture
async def voicedesk_scenario(request: pytest.FixtureRequest) -> AsyncIterator[ScenarioFactory]:
    """``await voicedesk_scenario(scenario, *, name=None, repeat=1, parallel=1, seed=None, target=None,
    ice=None, headers=None)``: a scenario file or YAML text run ``repeat`` times (``parallel`` at once),
    as ``voicedesk test --repeat``; returns its ``ScenarioRuns``. ``target`` (else the scenario's, else
    ``--voicedesk-target``) and ``ice`` (else ``--voicedesk-ice``) as for ``voicedesk_call``."""
    from voicedesk.qa.hearing import HearingPool
    from voicedesk.qa.repeat import run_repeated

    config = request.config
    pool = HearingPool()  # one recognizer worker for every run of the test

    async def factory(
        scenario: str | Path,
        *,
        name: str | None = None,
        repeat: int = 1,
        parallel: int = 1,
        seed: int | None = None,
        target: str | None = None,
        ice: IceConfig | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> ScenarioRuns:
        if repeat < 1 or parallel < 1:
            pytest.fail("voicedesk_scenario(): repeat and parallel must be at least 1", pytrace=False)
        chosen = _one_scenario(scenario, name, f"<{request.node.name}>")
        target = target or chosen.target or config.getoption("voicedesk_target")
        if not target:
            pytest.fail(
                f"{chosen.where}: no target: give 'target:' in the scenario or --voicedesk-target", pytrace=False
            )
        ice_spec = ice if ice is not None else config.getoption("voicedesk_ice")
        ice_config = resolve_ice(ice_spec) if isinstance(ice_spec, str) else ice_spec
        results = await run_repeated(chosen, repeat, parallel, target, ice_config, headers, seed=seed, pool=pool)
        return ScenarioRuns(results)

    try:
        yield factory
    finally:
        await pool.close()
