"""Everything a call report needs, captured while a Call runs (no Qt, no files until export).

capture = CallCapture()
call = Call.from_spec(spec, extensions=[capture])   # events, both ways' audio, the log
...
record = capture.record()   # a CallRecord for qa/report.py
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from voicedesk.errors import VoiceDeskError
from voicedesk.media.timed_recorder import TimedRecorder
from voicedesk.rtc.call import Call, CallState, CallStateChanged, StatsSampled
from voicedesk.rtc.events import AgentEventReceived
from voicedesk.rtc.extension import CallExtension, ExtensionRecipe
from voicedesk.rtc.stats import StatsSample

logger = logging.getLogger(__name__)
LIBRARY_LOGGERS = ("aiortc", "aioice")


@dataclass
class CallRecord:
    """One call, ready to export: what was negotiated, measured, heard and logged."""

    target: str
    started_at: float  # epoch seconds of t_ms = 0
    ice: dict[str, Any] | None = None  # IceConfig.to_json(redact=False): report.py redacts it
    local_sdp: str | None = None
    remote_sdp: str | None = None
    candidates: dict[str, Any] = field(default_factory=dict)
    samples: list[StatsSample] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    tx: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    rx: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    rx_offset_ms: float = 0.0  # call time of the first received sample
    tx_offset_ms: float = 0.0
    turns: list[dict[str, Any]] = field(default_factory=list)  # client-measured (qa/latency.py Turn.to_json)
    agent_turns: list[dict[str, Any]] = field(default_factory=list)  # the agent's own turn reports
    # the conversation the agent's events told (rtc/events/): every protocol's turns in one model
    conversation: list[dict[str, Any]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    devices: dict[str, str] = field(default_factory=dict)  # "input"/"output" -> device name
    result: dict[str, Any] | None = None  # a scenario's result, when the call was a test


class _ListHandler(logging.Handler):
    def __init__(self, lines: list[str], t0: float) -> None:
        super().__init__(logging.DEBUG)
        self.lines = lines
        self.t0 = t0
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(f"{(record.created - self.t0) * 1000.0:9.1f} ms {self.format(record)}")
        except Exception:  # a log line must never break the call
            pass


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


class CallCapture(CallExtension):
    """Listens to one Call: events, a full-call recording each way, the voicedesk log.

    An extension of the call (handed to it when it is built); the log stops being
    captured when the call ends, or earlier with ``release()``."""

    KEY = "qa_capture"

    def __init__(self, log_level: int = logging.DEBUG, max_samples: int | None = None) -> None:
        self.rx = TimedRecorder()
        self.tx = TimedRecorder()
        if max_samples is not None:  # the window's calls stop recording at 20 minutes
            self.rx.max_samples = self.tx.max_samples = max_samples
        self.events: list[dict[str, Any]] = []
        self.log: list[str] = []
        self.call: Call | None = None
        self.t0 = time.monotonic()
        self.epoch0 = time.time()
        self.connected_at: float | None = None
        self.agent_turns: list[dict[str, Any]] = []
        self._handler = _ListHandler(self.log, self.epoch0)
        self._log_level = log_level
        self._logger = logging.getLogger("voicedesk")
        self._saved_level: int | None = None
        self._pinned: list[logging.Handler] = []

    def attach(self, call: Call) -> None:
        """Before ``call.start()`` (the call attaches its extensions as it is built): the
        clock starts here (≈ the call's own t = 0)."""
        self.call = call
        self.t0 = time.monotonic()
        self.epoch0 = time.time()
        self._handler.t0 = self.epoch0
        call.add_sink(self.rx)
        call.add_sent_observer(self.tx.write)
        call.add_listener(self._on_event)
        self._logger.addHandler(self._handler)
        # the libraries' own lines at whatever level the user asked for (voicedesk -vvv: ICE checks, TURN)
        for name in LIBRARY_LOGGERS:
            logging.getLogger(name).addHandler(self._handler)
        if self._logger.getEffectiveLevel() > self._log_level:
            # the report wants debug lines; the console must not get them: pin every handler
            # above us that has no level of its own to the level it effectively had
            effective = self._logger.getEffectiveLevel()
            node: logging.Logger | None = self._logger
            while node is not None:
                for handler in node.handlers:
                    if handler is not self._handler and handler.level == logging.NOTSET:
                        handler.setLevel(effective)
                        self._pinned.append(handler)
                node = node.parent if node.propagate else None
            self._saved_level = self._logger.level
            self._logger.setLevel(self._log_level)

    @classmethod
    def recipe(cls, log_level: int = logging.DEBUG, max_samples: int | None = None) -> ExtensionRecipe:
        return ExtensionRecipe(
            cls.KEY, "voicedesk.qa.capture:CallCapture", {"log_level": log_level, "max_samples": max_samples}
        )

    async def detach(self) -> None:
        self.release()

    def release(self) -> None:
        """Stop capturing the log and the call's events (idempotent); recordings stay."""
        self._logger.removeHandler(self._handler)
        for name in LIBRARY_LOGGERS:
            logging.getLogger(name).removeHandler(self._handler)
        if self._saved_level is not None:
            self._logger.setLevel(self._saved_level)
            self._saved_level = None
        for handler in self._pinned:
            handler.setLevel(logging.NOTSET)
        self._pinned.clear()
        if self.call is not None:
            self.call.remove_listener(self._on_event)

    def _on_event(self, event: Any) -> None:
        if isinstance(event, StatsSampled):
            return  # the sampler keeps every sample; the report takes them from there
        if isinstance(event, CallStateChanged) and event.state == CallState.CONNECTED:
            self.connected_at = time.monotonic()
        data = _jsonable(event)
        data = {"event": type(event).__name__, **(data if isinstance(data, dict) else {"value": data})}
        if isinstance(event, AgentEventReceived) and event.type == "turn" and event.protocol == "voicedesk":
            # the agent's own account of a turn (rtc/events/voicedesk.py); kept beside ours
            self.agent_turns.append(dict(event.event))
        self.events.append(data)

    def received_between(self, start_ms: float, end_ms: float) -> np.ndarray:
        """What arrived from ``start_ms`` to ``end_ms`` on the call's clock (a word's moment, as
        the recognizer and the conversation give it), from this recording."""
        if self.call is None:
            raise VoiceDeskError("nothing was recorded: the call was not placed")
        now_t, now_ms = time.monotonic(), self.call.now_ms()
        clip = self.rx.segment(now_t - (now_ms - start_ms) / 1000.0, now_t - (now_ms - end_ms) / 1000.0)
        if clip.size == 0:
            raise VoiceDeskError(f"nothing was received from {start_ms / 1000:.2f} s to {end_ms / 1000:.2f} s")
        return clip

    async def play_received(self, start_ms: float, end_ms: float, device: int | str | None = None) -> None:
        """Play that moment of the received audio on ``device`` (a word clicked in the window)."""
        from voicedesk.media.speaker import play_clip

        await play_clip(self.received_between(start_ms, end_ms), device)

    def ms(self, t: float | None) -> float | None:
        return None if t is None else (t - self.t0) * 1000.0

    def record(self, turns: list[dict[str, Any]] | None = None, result: dict[str, Any] | None = None) -> CallRecord:
        call = self.call
        if call is None:
            raise RuntimeError("CallCapture.record() before attach()")
        snap = call.ice_monitor.snapshot() if call.ice_monitor is not None else None
        candidates: dict[str, Any] = {
            "local_sdp": _sdp_candidates(call.local_sdp),
            "remote_sdp": _sdp_candidates(call.remote_sdp),
        }
        if snap is not None:
            candidates["ice"] = snap.to_json()
        return CallRecord(
            target=call.target,
            started_at=self.epoch0,
            ice=call.ice.to_json(redact=False),
            local_sdp=call.local_sdp,
            remote_sdp=call.remote_sdp,
            candidates=candidates,
            samples=call.stats_samples,
            events=list(self.events),
            summary=call.summary().to_json(),
            tx=self.tx.audio(),
            rx=self.rx.audio(),
            tx_offset_ms=self.ms(self.tx.start_time) or 0.0,
            rx_offset_ms=self.ms(self.rx.start_time) or 0.0,
            turns=list(turns or []),
            agent_turns=list(self.agent_turns),
            conversation=[turn.model_json() for turn in call.conversation.turns],
            log=list(self.log),
            headers=dict(getattr(call.signaling, "headers", None) or {}),
            result=result,
        )


def _sdp_candidates(sdp: str | None) -> list[str]:
    return [line[2:] for line in (sdp or "").splitlines() if line.startswith("a=candidate:")]
