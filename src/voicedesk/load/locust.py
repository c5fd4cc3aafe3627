"""VoiceDesk callers as Locust users.

    from voicedesk.load.locust import VoiceUser

    class Caller(VoiceUser):
        target = "http://127.0.0.1:8080/api/voice/offer"   # or Locust's --host
        say = ["what time is it", "thank you"]              # or source = "tone:440"
        duration = 20

``locust -f that.py --headless -u 50 -r 5 -t 2m --csv out`` (``--processes``,
``--master`` / ``--worker`` as with any locustfile). Every attribute left unset comes from
the command line (``--source``, ``--say``, ``--duration``, ``--ice``, ``--impair``,
``--call-header``, ``--scenario``, ``--slo`` … see ``add_arguments``), then from
``voicedesk load``'s defaults.

Each Locust worker process runs its calls in one media engine child process
(engine.py: a clean interpreter with a plain asyncio loop; Locust's gevent patches
never reach it), placed by the same caller as ``voicedesk load``
(``voicedesk.qa.load.place_call``). What the calls measure becomes Locust request
events (statistics, charts, ``--csv``): one ``call`` request per call (its length;
failed with VoiceDesk's one-line reason), and one request per figure, named
``call/setup_ms``, ``call/first_audio_ms``, ``call/jitter_ms``, ``call/rtt_ms``,
``call/loss_permille``, ``call/mos_x100``, ``call/rx_fps``, ``turn/voice_to_voice_ms`` (its
type says how the reply onset was found: ``audio-level``, ``opus-size`` or ``decoded``),
``turn/response_ms`` (a reply that began before the utterance ended: an echo) and
``turn/barge_in_stop_ms``. Locust keeps whole numbers for percentiles, so loss is in
per mille and MOS × 100. The master (or a lone process) closes with the share of calls
at the quality bar and where each ``--slo`` broke (slo.py).
"""

from __future__ import annotations

import atexit
import itertools
import json
import logging
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import gevent
import gevent.event
import gevent.lock
from gevent import GreenletExit
from locust import User, constant, events, task
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner

from voicedesk.errors import VoiceDeskError
from voicedesk.load.slo import SloWatch, parse_slo
from voicedesk.qa.load import HANGUP_GRACE_S, MAX_JITTER_MS, MAX_LOSS_PCT, MIN_RX_FPS, CallResult, LoadPlan
from voicedesk.rtc.signaling import parse_headers

logger = logging.getLogger(__name__)

ENGINE_READY_TIMEOUT_S = 90.0  # a loaded machine imports aiortc slowly
ENGINE_STOP_GRACE_S = 15.0
HANGUP_WAIT_S = 5.0  # for a stopping user's call to hang up and report


class EngineError(VoiceDeskError):
    """This Locust worker's media engine could not start, or died."""


# the media engine, seen from the (gevent) worker -------------------------------------
class MediaEngine:
    """One engine child process (engine.py) and the calls in flight in it."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None
        self._handlers: dict[int, Callable[[dict[str, Any]], None]] = {}
        self._ids = itertools.count(1)
        self._write_lock = gevent.lock.Semaphore()
        self._reader: gevent.Greenlet | None = None
        self.stopping = False
        self.on_exit: Callable[[int | None], None] | None = None  # the engine ended without being told to

    def start(self) -> None:
        python = os.environ.get("VOICEDESK_LOAD_ENGINE_PYTHON") or sys.executable
        try:
            # subprocess, not fork: a clean interpreter, no gevent patches, no inherited loop
            self.process = subprocess.Popen(
                [python, "-m", "voicedesk.load.engine"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )
        except OSError as exc:
            raise EngineError(f"cannot run {python}: {exc.strerror or exc}") from None
        assert self.process.stdout is not None
        line = b""
        with gevent.Timeout(ENGINE_READY_TIMEOUT_S, False):
            line = self.process.stdout.readline()
        try:
            ready = json.loads(line)
        except ValueError:
            ready = {}
        if ready.get("kind") != "ready":
            self.kill()
            code = self.process.poll()
            why = f"it exited with status {code}" if code is not None else f"not ready in {ENGINE_READY_TIMEOUT_S:g} s"
            raise EngineError(f"the media engine process did not start ({why})")
        self.pid = int(ready["pid"])
        self._reader = gevent.spawn(self._read)

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            handler = self._handlers.get(message.get("id"))
            if handler is not None:
                if message.get("kind") == "result":
                    self._handlers.pop(message["id"], None)
                handler(message)
        # the engine is gone: every call in flight ends with that reason
        for ident, handler in list(self._handlers.items()):
            self._handlers.pop(ident, None)
            result = CallResult(ident, ok=False, reason="the media engine process ended during the call")
            handler({"kind": "result", "id": ident, "result": asdict(result)})
        if not self.stopping and self.on_exit is not None:
            self.on_exit(self.process.wait())

    def _send(self, command: dict[str, Any]) -> bool:
        process = self.process
        if process is None or process.stdin is None or process.poll() is not None:
            return False
        with self._write_lock:
            try:
                process.stdin.write(json.dumps(command).encode() + b"\n")
                process.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                return False
        return True

    def call(self, plan: dict[str, Any], handler: Callable[[dict[str, Any]], None]) -> int | None:
        ident = next(self._ids)
        self._handlers[ident] = handler
        if not self._send({"op": "call", "id": ident, "plan": plan}):
            self._handlers.pop(ident, None)
            return None
        return ident

    def hangup(self, ident: int) -> None:
        """End the call now; its result still comes (to the handler) when it has hung up."""
        self._send({"op": "hangup", "id": ident})

    def forget(self, ident: int) -> None:
        self._handlers.pop(ident, None)

    def stop(self) -> None:
        """Every call hung up and the process ended (killed if it does not end in time)."""
        process = self.process
        if process is None:
            return
        self.stopping = True
        self._send({"op": "stop"})
        try:
            if process.stdin is not None:
                process.stdin.close()  # end of input means stop, even if the line did not get there
        except OSError:
            pass
        try:
            process.wait(ENGINE_STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


_engine: MediaEngine | None = None
# set once this process's engine is up (or could not start): Locust may spawn users while
# init is still waiting for the engine (a gevent wait lets the worker's other greenlets run)
_engine_settled = gevent.event.Event()


def _stop_engine() -> None:
    global _engine
    if _engine is not None:
        engine, _engine = _engine, None
        engine.stop()


atexit.register(_stop_engine)


# the user -------------------------------------------------------------------------
_UNSET: Any = None
# LoadPlan field -> the command-line option that sets it (Locust's parsed_options name)
_OPTIONS = {
    "source": "source",
    "duration": "duration",
    "say": "say",
    "scenario": "scenario",
    "ice": "ice",
    "relay_only": "relay_only",
    "headers": "call_header",
    "impair": "impair",
    "timeout": "call_timeout",
    "media_timeout": "media_timeout",
    "onset": "onset",
    "pause": "pause",
    "reply_timeout": "reply_timeout",
    "barge_in_ms": "barge_in_ms",
}


class VoiceUser(User):
    """A caller: each task places one call (streaming ``source`` for ``duration``, or saying
    ``say`` in turns, or running ``scenario``) and reports what it measured to Locust."""

    abstract = True
    wait_time = constant(1)

    target: str | None = _UNSET  # any VoiceDesk target; unset: Locust's --host
    source: str | None = _UNSET
    duration: float | None = _UNSET
    say: list[str] | tuple[str, ...] | None = _UNSET
    scenario: str | None = _UNSET
    ice: str | None = _UNSET  # RTCConfiguration JSON file or preset
    relay_only: bool | None = _UNSET
    headers: dict[str, str] | None = _UNSET
    impair: str | None = _UNSET
    timeout: float | None = _UNSET  # set-up allowance
    media_timeout: float | None = _UNSET
    onset: str | None = _UNSET
    pause: float | None = _UNSET
    reply_timeout: float | None = _UNSET
    barge_in_ms: float | None = _UNSET  # with say: talk over each reply this long after it began

    @classmethod
    def plan_for(cls, environment: Environment) -> LoadPlan:
        """The class's LoadPlan: attributes, else the command line, else voicedesk load's defaults."""
        options = environment.parsed_options
        values: dict[str, Any] = {}
        for name, option in _OPTIONS.items():
            value = getattr(cls, name, None)
            if value is None and options is not None:
                value = getattr(options, option, None)
            if value is None:
                continue
            if name == "say":
                value = tuple(value)
            elif name == "headers" and not isinstance(value, dict):
                value = parse_headers(list(value))
            values[name] = value
        target = cls.target or environment.host or (getattr(options, "host", None) if options else None)
        if not target:
            raise VoiceDeskError(f"{cls.__name__}: no target: set target = '…' in the locustfile or give --host")
        return LoadPlan(target=target, calls=1, processes=1, **values)

    @task
    def place_call(self) -> None:
        plan = self.plan_for(self.environment)
        _engine_settled.wait(ENGINE_READY_TIMEOUT_S)
        engine = _engine
        if engine is None:
            if _quitting:
                raise StopUser()
            _fire(self.environment, "call", "call", 0, "this worker has no media engine")
            return
        done: gevent.event.AsyncResult = gevent.event.AsyncResult()
        environment = self.environment

        def on_message(message: dict[str, Any]) -> None:
            kind = message.get("kind")
            if kind == "result":
                done.set(message["result"])
            else:
                report_event(environment, kind or "", message)

        ident = engine.call(_plan_json(plan), on_message)
        if ident is None:
            _fire(environment, "call", "call", 0, "the media engine process is not running")
            return
        allowance = plan.timeout + plan.duration + HANGUP_GRACE_S + (plan.reply_timeout + 60.0 if plan.say else 0.0)
        try:
            result = done.get(timeout=allowance)
        except gevent.Timeout:
            engine.hangup(ident)
            engine.forget(ident)
            _fire(
                environment, "call", "call", allowance * 1000.0, f"no result from the media engine in {allowance:g} s"
            )
            return
        except GreenletExit:
            # the user is stopping (the run ended, Ctrl-C): hang up, and count the call as far as it went,
            # so Locust's call count is the target's
            engine.hangup(ident)
            with gevent.Timeout(HANGUP_WAIT_S, False):
                report_result(environment, done.get())
            engine.forget(ident)
            raise
        report_result(environment, result)


def _plan_json(plan: LoadPlan) -> dict[str, Any]:
    return {f.name: getattr(plan, f.name) for f in fields(plan)}


# statistics -------------------------------------------------------------------------
def _fire(environment: Environment, kind: str, name: str, value: float, failure: str | None = None) -> None:
    environment.events.request.fire(
        request_type=kind,
        name=name,
        response_time=max(0.0, float(value)),
        response_length=0,
        exception=failure,  # a string: Locust's failure table shows VoiceDesk's words as they are
        context={},
    )


def report_event(environment: Environment, kind: str, message: dict[str, Any]) -> None:
    """A live event from the engine: set-up as soon as a call connects, each turn as it ends."""
    if kind == "connected" and message.get("setup_ms") is not None:
        _fire(environment, "call", "call/setup_ms", message["setup_ms"])
    elif kind == "turn":
        method = message.get("method") or "decoded"
        _tally.methods[method] += 1
        v2v = message.get("voice_to_voice_ms")
        if not message.get("replied"):
            _fire(environment, method, "turn/voice_to_voice_ms", 0, f"no reply to {message.get('said')!r}")
        elif v2v is not None and v2v >= 0:
            _fire(environment, method, "turn/voice_to_voice_ms", v2v)
        elif message.get("response_ms") is not None:  # began before the utterance ended (an echo)
            _fire(environment, method, "turn/response_ms", message["response_ms"])
        if message.get("barge_in_stop_ms") is not None:
            _fire(environment, method, "turn/barge_in_stop_ms", message["barge_in_stop_ms"])


def report_result(environment: Environment, raw: dict[str, Any]) -> None:
    known = {f.name for f in fields(CallResult)}
    result = CallResult(**{k: v for k, v in raw.items() if k in known})
    _fire(environment, "call", "call", result.held_ms or 0.0, None if result.ok else (result.reason or "failed"))
    _tally.add(result)
    if not result.connected:
        return
    figures = {
        "call/first_audio_ms": result.first_audio_ms,
        "call/jitter_ms": result.jitter_ms,
        "call/rtt_ms": result.rtt_ms,
        "call/loss_permille": None if result.loss_pct is None else result.loss_pct * 10.0,
        "call/mos_x100": None if result.mos is None else result.mos * 100.0,
        "call/rx_fps": result.rx_fps,
    }
    for name, value in figures.items():
        if value is not None:
            _fire(environment, "call", name, value)
    for ms in result.barge_in_stop_ms:
        _fire(environment, "decoded", "turn/barge_in_stop_ms", ms)


class Tally:
    """What Locust's statistics do not hold: the quality bar per call, onset methods, reasons."""

    def __init__(self) -> None:
        self.calls = 0
        self.succeeded = 0
        self.at_bar = 0
        self.cut_short = 0  # held less than their duration because the run ended: not judged by the bar
        self.unmeasured = 0  # succeeded without a frame rate (scenario calls decode): not judged either
        self.methods: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()

    def add(self, result: CallResult) -> None:
        self.calls += 1
        self.succeeded += result.ok
        self.at_bar += result.meets_bar
        self.cut_short += result.cut_short and not result.meets_bar
        self.unmeasured += result.ok and not result.cut_short and result.rx_fps is None
        if not result.ok:
            self.failures[result.reason or "failed"] += 1

    def take(self) -> dict[str, Any]:
        """What was counted since the last take (a worker's report to the master)."""
        data = {
            "calls": self.calls,
            "succeeded": self.succeeded,
            "at_bar": self.at_bar,
            "cut_short": self.cut_short,
            "unmeasured": self.unmeasured,
            "methods": dict(self.methods),
            "failures": dict(self.failures),
        }
        self.__init__()  # type: ignore[misc]
        return data

    def merge(self, data: dict[str, Any]) -> None:
        self.calls += data.get("calls", 0)
        self.succeeded += data.get("succeeded", 0)
        self.at_bar += data.get("at_bar", 0)
        self.cut_short += data.get("cut_short", 0)
        self.unmeasured += data.get("unmeasured", 0)
        self.methods.update(data.get("methods", {}))
        self.failures.update(data.get("failures", {}))

    def summary(self) -> dict[str, Any]:
        judged = self.calls - self.cut_short - self.unmeasured
        return {
            "calls": self.calls,
            "succeeded": self.succeeded,
            "failed": self.calls - self.succeeded,
            "cut_short": self.cut_short,
            "unmeasured": self.unmeasured,
            "at_quality_bar": self.at_bar,
            "quality_bar_share": round(self.at_bar / judged, 4) if judged else None,
            "quality_bar": f"≥ {MIN_RX_FPS:g} frames/s, loss < {MAX_LOSS_PCT:g} %, jitter < {MAX_JITTER_MS:g} ms",
            "onset_methods": dict(self.methods),
            "failures": dict(self.failures.most_common()),
        }


_tally = Tally()
_slo: SloWatch | None = None
_quitting = False


# command line and life cycle ------------------------------------------------------------
@events.init_command_line_parser.add_listener
def add_arguments(parser: Any) -> None:
    group = parser.add_argument_group("VoiceDesk", "what each call does (a VoiceUser's attributes win)")
    group.add_argument("--source", help="tone:FREQ, wav:PATH, … streamed for --duration (default tone:440)")
    group.add_argument("--duration", type=float, help="seconds each call stays up (default 10)")
    group.add_argument("--say", action="append", help="converse: say this, wait for the reply (repeatable)")
    group.add_argument("--scenario", help="each call runs this scenario file (decoded; costly)")
    group.add_argument("--ice", help="RTCConfiguration JSON file or preset")
    group.add_argument("--relay-only", action="store_true", default=None, help="TURN relay only")
    group.add_argument("--call-header", action="append", help="'NAME: VALUE' signaling header (repeatable)")
    group.add_argument("--impair", help="every call through the impairment relay, e.g. 'loss=2%%'")
    group.add_argument("--call-timeout", type=float, help="seconds allowed for a call's set-up (default 15)")
    group.add_argument("--media-timeout", type=float, help="seconds without the target's packets (default 5)")
    group.add_argument("--onset", help="reply onsets by auto, audio-level, opus-size or decoded")
    group.add_argument("--pause", type=float, help="seconds after a reply before the next utterance")
    group.add_argument("--reply-timeout", type=float, help="seconds for a reply to begin")
    group.add_argument("--barge-in-ms", type=float, help="talk over each reply this long after it began")
    group.add_argument(
        "--slo", action="append", help="a latency target to find the breaking point of, e.g. voice_to_voice_p90_ms=1500"
    )


def _voice_users(environment: Environment) -> list[type[VoiceUser]]:
    return [u for u in environment.user_classes if isinstance(u, type) and issubclass(u, VoiceUser)]


def check_plans(environment: Environment) -> None:
    """Every VoiceUser's plan checked as ``voicedesk load`` checks its own (target, ICE, numbers,
    utterances, scenario): a bad one fails here, before any user spawns."""
    from voicedesk.config import resolve_ice
    from voicedesk.rtc.signaling import signaling_for_target

    for user in _voice_users(environment):
        plan = user.plan_for(environment)
        plan.check()
        resolve_ice(plan.ice, relay_only=plan.relay_only)
        signaling_for_target(plan.target, headers=plan.headers, timeout=plan.timeout)
        plan.prepare()


@events.init.add_listener
def on_init(environment: Environment, runner: Any = None, **_: Any) -> None:
    global _engine, _slo
    if runner is None:
        return
    if not isinstance(runner, WorkerRunner):
        # the master, or a lone process: the plans are checked before anything spawns
        try:
            check_plans(environment)
            slos = [parse_slo(text) for text in (getattr(environment.parsed_options, "slo", None) or [])]
        except VoiceDeskError as exc:
            sys.stderr.write(f"voicedesk: {exc}\n")
            sys.stderr.flush()
            sys.exit(1)
        _slo = SloWatch(environment, slos)
        _slo.start()
    if isinstance(runner, MasterRunner):
        _stop_before_quit(runner)
        return
    engine = MediaEngine()
    try:
        engine.start()
    except EngineError as exc:
        _engine_settled.set()
        sys.stderr.write(f"voicedesk: this Locust worker cannot start its media engine: {exc}; it leaves the run\n")
        sys.stderr.flush()
        if isinstance(runner, WorkerRunner):
            runner.quit()  # tells the master, which goes on with the other workers
        sys.exit(1)

    def engine_ended(code: int | None) -> None:
        sys.stderr.write(f"voicedesk: this Locust worker's media engine ended (status {code}); it leaves the run\n")
        runner.quit()

    engine.on_exit = engine_ended
    _engine = engine
    _engine_settled.set()
    logger.info("voicedesk media engine pid %d ready", engine.pid)


def _stop_before_quit(runner: MasterRunner) -> None:
    """Make the master stop the test (Locust's own stop: every worker stops its users, each
    hangs its call up and reports it, and the master waits for that) before it quits. A plain
    quit gives the workers 0.5 s for their last statistics, less than a call takes to hang
    up: the calls in flight would go uncounted, and Locust's call count would not be the
    target's. Locust calls ``runner.quit()`` at the end of ``-t`` and on Ctrl-C."""
    quit_now = runner.quit

    def quit() -> None:
        from locust.runners import STATE_RUNNING, STATE_SPAWNING

        if runner.state in (STATE_RUNNING, STATE_SPAWNING):
            runner.stop()
        quit_now()

    runner.quit = quit  # type: ignore[method-assign]


@events.report_to_master.add_listener
def on_report_to_master(client_id: str, data: dict[str, Any]) -> None:
    data["voicedesk"] = _tally.take()


@events.worker_report.add_listener
def on_worker_report(client_id: str, data: dict[str, Any]) -> None:
    _tally.merge(data.get("voicedesk", {}))


@events.quitting.add_listener
def on_quitting(environment: Environment, **_: Any) -> None:
    global _quitting
    _quitting = True
    _stop_engine()
    if isinstance(environment.runner, WorkerRunner) or environment.runner is None:
        return
    if _slo is not None:
        _slo.stop()
    summary = _tally.summary()
    summary["slo"] = _slo.report() if _slo is not None else []
    for line in summary_lines(summary):
        sys.stderr.write(f"voicedesk: {line}\n")
    prefix = getattr(environment.parsed_options, "csv_prefix", None)
    if prefix:
        Path(f"{prefix}_voicedesk.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")


def summary_lines(summary: dict[str, Any]) -> list[str]:
    calls = summary["calls"]
    lines = [f"{calls} calls: {summary['succeeded']} succeeded, {summary['failed']} failed"]
    judged = calls - summary["cut_short"] - summary["unmeasured"]
    if judged:
        cut = f" ({summary['cut_short']} more cut short by the end of the run)" if summary["cut_short"] else ""
        if summary["unmeasured"]:
            cut += f" ({summary['unmeasured']} more without a frame rate: scenario calls)"
        share = 100.0 * summary["quality_bar_share"]
        lines.append(
            f"quality bar: {summary['at_quality_bar']} of {judged} calls ({share:.1f} %) "
            f"got {summary['quality_bar']}{cut}"
        )
    elif calls:
        lines.append("quality bar: no call to judge (cut short by the end of the run, or scenario calls)")
    if summary["onset_methods"]:
        lines.append("reply onsets found by " + ", ".join(f"{m} ×{n}" for m, n in summary["onset_methods"].items()))
    for reason, count in summary["failures"].items():
        lines.append(f"failed ×{count}: {reason}")
    for slo in summary["slo"]:
        lines.append(slo["verdict"])
    return lines
