"""Load runs: many concurrent calls against one target, spread over processes.

    report = await run_load(LoadPlan("http://127.0.0.1:8080/api/voice/offer", calls=50, ramp=10, duration=20))

Each call is an ordinary ``Call`` (same signaling, ICE configuration and error
texts as ``voicedesk call``). Calls are started ``ramp`` per second, dealt round
robin to worker processes (one per core by default: aiortc is CPU bound and one
event loop drives only so many calls), and each worker reports back over a
queue. The parent prints progress and reduces the per-call results to
percentiles.

A call either streams ``source`` for ``duration`` or, with ``say``, holds a
conversation (qa/talk.py: prepared utterances, reply onsets found without
decoding, voice-to-voice every turn), or, with ``scenario``, runs a scenario file
(qa/runner.py, decoded). ``place_call`` is the one caller: ``voicedesk load`` runs it in
its worker processes and the Locust user (voicedesk/load/) in its engine process.

A target that cannot be reached stops the run early: when a call fails before any
call has connected, the remaining calls are not placed and the run ends with
that call's reason, instead of after N time-outs.

``embedded:AGENT`` starts one agent server in this (the parent) process and
every worker calls it over HTTP, so the server's capacity is what is measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import multiprocessing
import os
import queue as queue_module
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, ClassVar

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from voicedesk.errors import ConfigError, VoiceDeskError
from voicedesk.limits import DAY_S, WEEK_S, checked
from voicedesk.media.pcm import FRAME_SAMPLES
from voicedesk.media.tracks import FramePacer
from voicedesk.rtc.encoded import encode_blocks, outgoing
from voicedesk.rtc.extension import CallExtension
from voicedesk.rtc.liveness import MEDIA_TIMEOUT
from voicedesk.rtc.signaling.log import redact_url
from voicedesk.tasks import TaskOwner, cancel_and_wait

logger = logging.getLogger(__name__)

# quality bar of the capacity benchmarks (issue 11): what a call must receive to count as well served
MIN_RX_FPS = 48.0
MAX_LOSS_PCT = 1.0
MAX_JITTER_MS = 20.0

WARMUP_S = 1.0  # frames-per-second is counted after this much audio: the jitter buffer's prefetch is not a stall
HANGUP_GRACE_S = 15.0  # beyond set-up + duration, before a worker gives a call up


@dataclass(frozen=True)
class LoadPlan:
    target: str
    calls: int
    ramp: float = 10.0  # calls started per second
    duration: float = 10.0  # seconds each call stays up once connected
    source: str = "tone:440"
    timeout: float = 15.0  # set-up allowance per call
    media_timeout: float = MEDIA_TIMEOUT  # a call that gets no audio packets this long fails; 0: off
    processes: int = 0  # 0: one per core (at most one per call)
    headers: dict[str, str] = field(default_factory=dict)
    ice: str | None = None  # --ice spec, resolved in each worker
    relay_only: bool = False
    stop_on_first_failure: bool = True  # only before any call connected: a dead target
    impair: str | None = None  # an impairment spec (rtc/impair.py): every call goes through the relay
    say: tuple[str, ...] = ()  # utterances (qa/talk.py): the call converses instead of streaming ``source``
    pause: float = 0.5  # seconds between a reply's end and the next utterance
    reply_timeout: float = 10.0  # seconds after an utterance ends for the reply to begin
    onset: str = "auto"  # how reply onsets are found: auto, audio-level, opus-size, decoded
    barge_in_ms: float | None = None  # talk over each reply this long after it began (qa/talk.converse)
    scenario: str | None = None  # a scenario file: each call runs its first scenario (decoded, qa/runner.py)

    def check(self) -> None:
        # the same checks as the command line's types: NaN would pass a plain comparison
        checked(self.calls, "--calls", minimum=1, kind="a whole number")
        checked(self.ramp, "--ramp", above=0)
        checked(self.duration, "--duration", minimum=0, maximum=WEEK_S, kind="seconds")
        checked(self.timeout, "--timeout", above=0, maximum=DAY_S, kind="seconds")
        checked(self.media_timeout, "--media-timeout", minimum=0, maximum=DAY_S, kind="seconds")
        checked(self.processes, "--processes", minimum=0, kind="a whole number")
        checked(self.pause, "--pause", minimum=0, maximum=DAY_S, kind="seconds")
        checked(self.reply_timeout, "--reply-timeout", above=0, maximum=DAY_S, kind="seconds")
        if self.barge_in_ms is not None:
            checked(self.barge_in_ms, "--barge-in-ms", minimum=0, maximum=60_000, kind="milliseconds")
            if not self.say:
                raise ConfigError("--barge-in-ms needs utterances to say (--say)")
        from voicedesk.qa.talk import ONSET_METHODS

        if self.onset not in ONSET_METHODS:
            raise ConfigError(f"--onset: expected one of {', '.join(ONSET_METHODS)}, got {self.onset!r}")
        if self.impair is not None:
            from voicedesk.rtc.impair import ImpairmentSpec

            ImpairmentSpec.parse(self.impair)
        if self.say and self.scenario:
            raise ConfigError("give either utterances to say or a scenario, not both")

    def prepare(self) -> None:
        """Everything a call needs made once (and every bad part of the plan found) before the first call."""
        self.check()
        if self.scenario is not None:
            from voicedesk.qa.scenario import load_scenarios

            load_scenarios(self.scenario)
        elif self.say:
            from voicedesk.qa.talk import Utterances

            for spec in self.say:
                Utterances.get(spec)
        else:
            EncodedSource.get(self.source)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoadPlan:
        """The inverse of ``dataclasses.asdict`` (a plan sent over a pipe as JSON)."""
        data = dict(data)
        data["say"] = tuple(data.get("say") or ())
        return cls(**data)

    @property
    def process_count(self) -> int:
        return max(1, min(self.processes or (os.cpu_count() or 1), self.calls))

    def start_offset(self, index: int) -> float:
        return index / self.ramp


@dataclass(frozen=True)
class CallResult:
    """One call of a load run, as a worker measured it."""

    index: int
    ok: bool
    reason: str | None = None
    connected: bool = False
    setup_ms: float | None = None  # offer created -> connected
    first_audio_ms: float | None = None  # dialing -> first received audio frame
    jitter_ms: float | None = None
    loss_pct: float | None = None
    rtt_ms: float | None = None
    rx_frames: int = 0
    rx_fps: float | None = None  # received frames per second after WARMUP_S of audio
    worker: int = 0
    mos: float | None = None
    held_ms: float | None = None  # dialing -> hung up
    turns: tuple[dict[str, Any], ...] = ()  # conversational calls: qa/talk.TurnMeasure per turn, as dicts
    barge_in_stop_ms: tuple[float, ...] = ()  # scenario calls with barge-in steps
    cut_short: bool = False  # hung up by the caller before ``duration`` (a Locust run that ended)

    @property
    def meets_bar(self) -> bool:
        return (
            self.ok
            and self.rx_fps is not None
            and self.rx_fps >= MIN_RX_FPS
            and (self.loss_pct or 0.0) < MAX_LOSS_PCT
            and (self.jitter_ms or 0.0) < MAX_JITTER_MS
        )


@dataclass(frozen=True)
class LoadProgress:
    elapsed_s: float
    calls: int
    started: int
    connected: int
    active: int
    succeeded: int
    failed: int


PERCENTILES = (50, 90, 95, 99)


def percentiles(values: list[float]) -> dict[str, float] | None:
    """p50/p90/p95/p99 (nearest rank), min, max and mean; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    out = {f"p{p}": round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)], 2) for p in PERCENTILES}
    out["min"] = round(ordered[0], 2)
    out["max"] = round(ordered[-1], 2)
    out["mean"] = round(sum(ordered) / len(ordered), 2)
    return out


@dataclass
class LoadReport:
    plan: LoadPlan
    results: list[CallResult]
    wall_s: float
    processes: int
    stopped_early: str | None = None  # why the run stopped before placing every call

    @property
    def succeeded(self) -> int:
        return sum(r.ok for r in self.results)

    @property
    def failed(self) -> int:
        return sum(not r.ok for r in self.results)

    @property
    def not_placed(self) -> int:
        return self.plan.calls - len(self.results)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.not_placed == 0 and self.stopped_early is None

    def failure_reasons(self) -> dict[str, int]:
        return dict(Counter(r.reason or "unknown" for r in self.results if not r.ok).most_common())

    def to_json(self) -> dict[str, Any]:
        def values(name: str) -> list[float]:
            return [getattr(r, name) for r in self.results if r.ok and getattr(r, name) is not None]

        return {
            "target": redact_url(self.plan.target),
            "calls": self.plan.calls,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "not_placed": self.not_placed,
            "stopped_early": self.stopped_early,
            "meeting_quality_bar": sum(r.meets_bar for r in self.results),
            "processes": self.processes,
            "ramp_per_s": self.plan.ramp,
            "duration_s": self.plan.duration,
            "wall_s": round(self.wall_s, 2),
            "setup_ms": percentiles(values("setup_ms")),
            "first_audio_ms": percentiles(values("first_audio_ms")),
            "jitter_ms": percentiles(values("jitter_ms")),
            "loss_pct": percentiles(values("loss_pct")),
            "rtt_ms": percentiles(values("rtt_ms")),
            "rx_fps": percentiles(values("rx_fps")),
            "voice_to_voice_ms": percentiles(self.turn_values("voice_to_voice_ms")),
            "barge_in_stop_ms": percentiles(self.turn_values("barge_in_stop_ms")),
            "turns": sum(len(r.turns) for r in self.results),
            "onset_methods": dict(Counter(t["method"] for r in self.results for t in r.turns if t.get("method"))),
            "failures": self.failure_reasons(),
        }

    def turn_values(self, name: str) -> list[float]:
        return [t[name] for r in self.results for t in r.turns if t.get(name) is not None]


# one call -----------------------------------------------------------------------
# A load generator must cost less per call than what it loads, or it measures itself.
# So each process encodes the source once (Opus, with aiortc's own encoder) and every
# call sends those packets as they are; received packets are counted, not decoded
# (aiortc_patches.forward_encoded). No encoder or decoder thread runs per call.
MAX_SOURCE_FRAMES = 500  # 10 s of source, looped


class EncodedSource:
    """A source (``tone:440``, ``wav:PATH``, …) as 20 ms PCM blocks and as Opus payloads."""

    _cache: ClassVar[dict[str, EncodedSource]] = {}

    def __init__(self, spec: str) -> None:
        from voicedesk.media.sources import parse_source

        track = parse_source(spec)
        self.pcm: list[Any] = []
        for _ in range(MAX_SOURCE_FRAMES):
            block = track._next_block(FRAME_SAMPLES)  # type: ignore[attr-defined]  # every parse_source track
            if block is None:
                break
            self.pcm.append(block)
        track.stop()
        if not self.pcm:
            raise VoiceDeskError(f"source {spec!r} holds no audio")
        # the RFC 6465 level of each packet is sent in the RFC 6464 extension (patch 7)
        self.opus, self.levels = encode_blocks(self.pcm)

    @classmethod
    def get(cls, spec: str) -> EncodedSource:
        if spec not in cls._cache:
            cls._cache[spec] = cls(spec)
        return cls._cache[spec]


class PreEncodedTrack(MediaStreamTrack):
    """Sends an ``EncodedSource`` on a loop, paced at 20 ms: Opus packets as they are,
    or PCM frames when the answer chose another codec (aiortc encodes those)."""

    kind = "audio"

    def __init__(self, source: EncodedSource, send_mime: Callable[[], str | None] = lambda: None) -> None:
        super().__init__()
        self.source = source
        self.send_mime = send_mime
        self.frames_sent = 0
        self._pacer = FramePacer()

    async def recv(self) -> Any:
        if self.readyState != "live":
            raise MediaStreamError
        index, pts = self.frames_sent, self.frames_sent * FRAME_SAMPLES
        await self._pacer.wait(pts)
        self.frames_sent += 1
        source = self.source
        return outgoing(
            source.opus[index % len(source.opus)],
            source.pcm[index % len(source.pcm)],
            source.levels[index % len(source.levels)],
            pts,
            self.send_mime(),
        )


class ArrivalCounter(CallExtension):
    """Reads a received track, counting what arrives (encoded or decoded) and when the first came."""

    def __init__(self, on_item: Callable[[Any, float], None] | None = None) -> None:
        self.on_item = on_item  # sees every received packet (or frame) and when it came: qa/talk.OnsetDetector
        self.first_at: float | None = None
        self.frames = 0
        self.after_warmup = 0  # frames that arrived WARMUP_S after the first one, until freeze()
        self.frozen = False
        self._task: asyncio.Task[None] | None = None

    def attach(self, call: Any) -> None:
        call.on_received_track(self.start)

    async def detach(self) -> None:
        await self.stop()

    def freeze(self) -> None:
        """Stop counting frames for the rate (the hold is over; hang-up is not a stall)."""
        self.frozen = True

    def start(self, track: Any) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._read(track), name="load arrivals")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _read(self, track: Any) -> None:
        while True:
            try:
                item = await track.recv()
            except MediaStreamError:
                return
            now = time.monotonic()
            if self.on_item is not None:
                self.on_item(item, now)
            if self.first_at is None:
                self.first_at = now
            self.frames += 1
            if not self.frozen and now - self.first_at >= WARMUP_S:
                self.after_warmup += 1


Event = Callable[[str, dict[str, Any]], None]  # ("connected", {...}) and ("turn", {...}) as they happen


def _load_call(plan: LoadPlan, ice: Any) -> tuple[Any, ArrivalCounter, Any, Any]:
    """A ``Call`` (same signaling, ICE and error texts) whose media is the cheap kind above:
    Opus sent pre-encoded, received packets counted (and, for a talking caller, read for
    reply onsets), not decoded. Returns the call, its counter, its track and the onset
    detector (None for a streaming caller)."""
    from voicedesk.rtc.call import Call
    from voicedesk.rtc.impair import ImpairmentSpec
    from voicedesk.rtc.spec import CallSpec

    spec = CallSpec(
        plan.target,
        ice=ice,
        timeout=plan.timeout,
        headers=plan.headers or {},
        media_timeout=plan.media_timeout or None,
        impairment=ImpairmentSpec.parse(plan.impair) if plan.impair is not None else None,
    )
    detector = None
    track: Any
    if plan.say:
        from voicedesk.qa.talk import OnsetDetector, TalkingTrack

        detector = OnsetDetector(plan.onset)
        arrivals = ArrivalCounter(detector.feed)
        track = TalkingTrack()
    else:
        arrivals = ArrivalCounter()
        track = PreEncodedTrack(EncodedSource.get(plan.source))
    call = Call.from_spec(spec, send_track=track, decode_received=False, extensions=[arrivals])
    track.send_mime = call.send_codec  # Opus as it is, unless the answer chose another codec
    return call, arrivals, track, detector


async def _hold(plan: LoadPlan, call: Any, track: Any, detector: Any, ended: asyncio.Event, on_event: Event) -> list:
    """Keep the call up for ``plan.duration``, conversing when the plan says to; the turns."""
    if detector is None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ended.wait(), plan.duration)
        return []
    from voicedesk.qa.talk import Utterances, converse

    owner = TaskOwner("load call")
    talk = owner.spawn(
        converse(
            track,
            detector,
            [Utterances.get(spec) for spec in plan.say],
            time.monotonic() + plan.duration,
            plan.reply_timeout,
            plan.pause,
            ended.is_set,
            lambda turn: on_event("turn", asdict(turn)),
            plan.barge_in_ms,
        ),
        "conversation",
    )
    watch = owner.spawn(ended.wait(), "ended")
    try:
        await asyncio.wait({talk, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await owner.cancel(watch)
        await owner.cancel(talk)
    return talk.result() if talk.done() and not talk.cancelled() and talk.exception() is None else []


async def place_call(
    plan: LoadPlan,
    index: int,
    ice: Any = None,
    worker: int = 0,
    on_connected: Callable[[int], None] | None = None,
    on_event: Event | None = None,
    hangup: asyncio.Event | None = None,
) -> CallResult:
    """Place one call of the plan and measure it; never raises (failures are results).

    ``hangup`` set ends the call early, measured as far as it went (a Locust user that stops)."""
    from voicedesk.rtc.call import CallState, CallStateChanged

    emit: Event = on_event or (lambda kind, data: None)
    if plan.scenario is not None:
        return await _scenario_call(plan, index, ice, worker, on_connected, emit)
    dialed = time.monotonic()
    try:
        call, arrivals, track, detector = _load_call(plan, ice)
    except VoiceDeskError as exc:
        return CallResult(index, ok=False, reason=str(exc), worker=worker)
    ended = hangup if hangup is not None else asyncio.Event()  # the hold ends when either says so
    turns: list[Any] = []
    cut_short = False

    def on_state(event: Any) -> None:
        if isinstance(event, CallStateChanged):
            if event.state == CallState.CONNECTED and on_connected is not None:
                on_connected(index)
            elif event.state.is_final:
                ended.set()

    call.add_listener(on_state)
    try:
        try:
            await call.start()
            emit("connected", {"setup_ms": call.setup_ms})
            connected_at = time.monotonic()
            turns = await _hold(plan, call, track, detector, ended, emit)
            held_until = time.monotonic()  # frames are counted up to here, not through the hang-up
            cut_short = hangup is not None and hangup.is_set() and held_until - connected_at < plan.duration - 0.05
            arrivals.freeze()
            await call.hangup()
        finally:
            await asyncio.shield(call.hangup())
        summary = call.summary()
    except VoiceDeskError as exc:
        return CallResult(index, ok=False, reason=str(exc), worker=worker, held_ms=_since(dialed))
    except Exception as exc:  # a bug must not take the whole run down
        logger.exception("call %d failed unexpectedly", index)
        return CallResult(index, ok=False, reason=f"unexpected error: {exc}", worker=worker, held_ms=_since(dialed))
    rx_fps = None
    if arrivals.first_at is not None and held_until - arrivals.first_at > WARMUP_S + 0.5:
        rx_fps = arrivals.after_warmup / (held_until - arrivals.first_at - WARMUP_S)
    reason = None
    if summary["final_state"] == "failed":
        reason = summary["reason"] or "the call failed while connected"
    elif arrivals.frames == 0 and not cut_short:  # hung up by us before any could come: not the target's fault
        reason = "connected but no audio was received"
    elif turns and not turns[-1].replied:
        last = turns[-1]
        reason = f"no reply to turn {last.index} ({last.said!r}) within {plan.reply_timeout:g} s"
    return CallResult(
        index,
        ok=reason is None,
        reason=reason,
        connected=True,
        setup_ms=summary["setup_ms"],
        first_audio_ms=(arrivals.first_at - dialed) * 1000.0 if arrivals.first_at is not None else None,
        jitter_ms=summary["jitter_ms"],
        loss_pct=summary["loss_pct"],
        rtt_ms=summary["rtt_ms"],
        rx_frames=arrivals.frames,
        rx_fps=None if rx_fps is None else round(rx_fps, 2),
        worker=worker,
        mos=summary["mos"],
        held_ms=_since(dialed),
        turns=tuple(asdict(t) for t in turns),
        cut_short=cut_short and summary["final_state"] != "failed",
    )


def _since(start: float) -> float:
    return round((time.monotonic() - start) * 1000.0, 1)


_scenarios: dict[str, Any] = {}


async def _scenario_call(
    plan: LoadPlan, index: int, ice: Any, worker: int, on_connected: Callable[[int], None] | None, emit: Event
) -> CallResult:
    """A call that runs the plan's scenario (its first), measured by the scenario engine (decoded audio)."""
    from voicedesk.qa.runner import ScenarioRun
    from voicedesk.qa.scenario import load_scenarios

    dialed = time.monotonic()
    path = str(plan.scenario)
    try:
        if path not in _scenarios:
            _scenarios[path] = load_scenarios(path)[0]
        run = ScenarioRun(_scenarios[path], plan.target, ice, plan.headers or {})
    except VoiceDeskError as exc:
        return CallResult(index, ok=False, reason=str(exc), worker=worker)
    result = await run.run()
    connected = result.setup_ms is not None
    if connected:
        if on_connected is not None:
            on_connected(index)
        emit("connected", {"setup_ms": result.setup_ms})
    turns = []
    for t in result.turns:
        if t.get("voice_to_voice_ms") is None:
            continue  # a turn the scenario did not wait a reply for (a barge-in's): its checks judge it
        turn = {
            "index": t.get("index"),
            "said": t.get("said"),
            "replied": t.get("voice_to_voice_ms") is not None,
            "voice_to_voice_ms": t.get("voice_to_voice_ms"),
            "response_ms": t.get("response_ms"),
            "reply_ms": t.get("reply_ms"),
            "method": "decoded",
        }
        turns.append(turn)
        emit("turn", turn)
    reason = result.error
    if reason is None and result.failures:
        check = result.failures[0]
        reason = f"{result.where}: step {check.step}: expected {check.expected}" + (
            f", measured {check.measured}" if check.measured else ""
        )
    summary = result.summary or {}
    return CallResult(
        index,
        ok=reason is None,
        reason=reason,
        connected=connected,
        setup_ms=result.setup_ms,
        first_audio_ms=result.first_audio_ms,
        jitter_ms=summary.get("jitter_ms"),
        loss_pct=summary.get("loss_pct"),
        rtt_ms=summary.get("rtt_ms"),
        worker=worker,
        mos=summary.get("mos"),
        held_ms=_since(dialed),
        turns=tuple(turns),
        barge_in_stop_ms=tuple(t["barge_in_stop_ms"] for t in result.turns if t.get("barge_in_stop_ms") is not None),
    )


# a worker: its share of the calls, on one event loop --------------------------------
Report = Callable[[tuple[str, Any]], None]


async def run_worker(
    plan: LoadPlan, indices: list[int], report: Report, should_stop: Callable[[], bool], worker: int = 0
) -> None:
    """Place calls ``indices`` at their ramp offsets; report ("connected", i) and ("result", CallResult)."""
    from voicedesk.config import resolve_ice

    ice = resolve_ice(plan.ice, relay_only=plan.relay_only)
    plan.prepare()  # encode once (the source, or every utterance), before the first call is due
    start = time.monotonic()
    tasks: set[asyncio.Task[None]] = set()

    async def one(index: int) -> None:
        result = await place_call(plan, index, ice, worker, lambda i: report(("connected", i)))
        report(("result", result))

    try:
        for index in indices:
            delay = start + plan.start_offset(index) - time.monotonic()
            while delay > 0 and not should_stop():
                await asyncio.sleep(min(delay, 0.1))
                delay = start + plan.start_offset(index) - time.monotonic()
            if should_stop():
                break
            report(("started", index))
            task = asyncio.get_running_loop().create_task(one(index), name=f"load call {index}")
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        deadline = time.monotonic() + plan.timeout + plan.duration + HANGUP_GRACE_S
        while tasks and time.monotonic() < deadline:
            if should_stop():
                break
            await asyncio.wait(tasks, timeout=0.1)
    finally:
        for task in list(tasks):
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=10.0)


def _worker_process(plan: LoadPlan, indices: list[int], out: Any, go: Any, stop: Any, worker: int) -> None:
    """Entry point of a worker process (spawned: a fresh interpreter, no inherited loop)."""
    logging.basicConfig(level=logging.WARNING)
    for noisy in ("aiortc", "aioice"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    # import the heavy modules before reporting ready, so the ramp is not skewed by imports
    import voicedesk.rtc.call  # noqa: F401

    out.put(("ready", worker))
    go.wait()
    try:
        asyncio.run(run_worker(plan, indices, out.put, stop.is_set, worker))
    except Exception as exc:  # reported, so the parent does not wait for results that will not come
        out.put(("crashed", f"worker {worker}: {exc}"))
    finally:
        out.put(("done", worker))


# the run -------------------------------------------------------------------------
class _Tally:
    def __init__(self, plan: LoadPlan) -> None:
        self.plan = plan
        self.started = 0
        self.connected = 0
        self.results: list[CallResult] = []
        self.stopped_early: str | None = None
        self.t0 = time.monotonic()

    def progress(self) -> LoadProgress:
        done = len(self.results)
        ok = sum(r.ok for r in self.results)
        return LoadProgress(
            elapsed_s=time.monotonic() - self.t0,
            calls=self.plan.calls,
            started=self.started,
            connected=self.connected,
            active=self.started - done,
            succeeded=ok,
            failed=done - ok,
        )

    def handle(self, message: tuple[str, Any]) -> bool:
        """Book one worker message; True when the run must stop (a dead target)."""
        kind, value = message
        if kind == "started":
            self.started += 1
        elif kind == "connected":
            self.connected += 1
        elif kind == "result":
            self.results.append(value)
            if (
                not value.connected
                and self.plan.stop_on_first_failure
                and self.connected == 0
                and self.stopped_early is None
            ):
                self.stopped_early = f"the first call failed, so the target looks unreachable: {value.reason}"
                return True
        elif kind == "crashed" and self.stopped_early is None:
            self.stopped_early = str(value)
            return True
        return False


async def run_load(
    plan: LoadPlan, on_progress: Callable[[LoadProgress], None] | None = None, progress_interval: float = 1.0
) -> LoadReport:
    """Run the plan and return its report. Raises ConfigError for a plan that cannot start."""
    plan.check()
    from voicedesk.config import resolve_ice
    from voicedesk.rtc.signaling import signaling_for_target

    resolve_ice(plan.ice, relay_only=plan.relay_only)  # a bad --ice fails here, once, not in every call
    signaling = signaling_for_target(plan.target, headers=plan.headers, timeout=plan.timeout)  # likewise a bad target
    server = None
    from voicedesk.agent.embedded import EmbeddedSignaling

    if isinstance(signaling, EmbeddedSignaling):  # embedded: and embedded+http: alike
        from voicedesk.agent.server import AgentServer

        server = AgentServer(
            agent=signaling.agent,
            host="127.0.0.1",
            port=0,
            max_sessions=plan.calls + 1,
            agent_options=signaling.agent_options,
        )
        await server.start()
        plan = replace(plan, target=server.offer_url)
    try:
        processes = plan.process_count
        tally = _Tally(plan)
        if processes == 1:
            await _run_in_process(plan, tally, on_progress, progress_interval)
        else:
            await _run_in_processes(plan, processes, tally, on_progress, progress_interval)
    finally:
        if server is not None:
            await server.stop()
    results = sorted(tally.results, key=lambda r: r.index)
    return LoadReport(plan, results, time.monotonic() - tally.t0, processes, tally.stopped_early)


async def _run_in_process(
    plan: LoadPlan, tally: _Tally, on_progress: Callable[[LoadProgress], None] | None, interval: float
) -> None:
    stop = asyncio.Event()

    def report(message: tuple[str, Any]) -> None:
        if tally.handle(message):
            stop.set()

    tally.t0 = time.monotonic()
    worker = asyncio.get_running_loop().create_task(
        run_worker(plan, list(range(plan.calls)), report, stop.is_set), name="load worker"
    )
    try:
        while not worker.done():
            await asyncio.wait({worker}, timeout=interval)
            if on_progress is not None:
                on_progress(tally.progress())
        worker.result()
    finally:
        if not worker.done():
            stop.set()
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(worker, 15.0)


async def _run_in_processes(
    plan: LoadPlan,
    processes: int,
    tally: _Tally,
    on_progress: Callable[[LoadProgress], None] | None,
    interval: float,
) -> None:
    ctx = multiprocessing.get_context("spawn")  # never fork a process that runs an event loop and threads
    out = ctx.Queue()
    go, stop = ctx.Event(), ctx.Event()
    workers = []
    for w in range(processes):
        indices = list(range(w, plan.calls, processes))
        proc = ctx.Process(
            target=_worker_process, args=(plan, indices, out, go, stop, w), name=f"voicedesk-load-{w}", daemon=True
        )
        proc.start()
        workers.append(proc)
    loop = asyncio.get_running_loop()

    async def next_message(wait: float) -> tuple[str, Any] | None:
        try:
            return await loop.run_in_executor(None, out.get, True, wait)
        except queue_module.Empty:
            return None

    try:
        ready = 0
        deadline = time.monotonic() + 60.0
        while ready < processes:
            message = await next_message(0.2)
            if message is not None and message[0] == "ready":
                ready += 1
            elif any(not p.is_alive() for p in workers) or time.monotonic() > deadline:
                raise VoiceDeskError("a load worker process did not start")
        tally.t0 = time.monotonic()
        go.set()
        done = 0
        last_progress = time.monotonic()
        while done < processes:
            message = await next_message(0.1)
            if message is not None:
                if message[0] == "done":
                    done += 1
                elif tally.handle(message):
                    stop.set()
            elif not any(p.is_alive() for p in workers):
                break  # every worker is gone without saying done (killed)
            if on_progress is not None and time.monotonic() - last_progress >= interval:
                last_progress = time.monotonic()
                on_progress(tally.progress())
    finally:
        stop.set()
        for proc in workers:
            await loop.run_in_executor(None, proc.join, 20.0)
            if proc.is_alive():
                proc.kill()
                await loop.run_in_executor(None, proc.join, 5.0)
        # results still queued (a worker that finished after we stopped listening)
        with contextlib.suppress(queue_module.Empty, OSError, ValueError):
            while True:
                message = out.get_nowait()
                if message[0] in ("result", "started", "connected"):
                    tally.handle(message)
        out.close()


def result_dict(result: CallResult) -> dict[str, Any]:
    return asdict(result)
