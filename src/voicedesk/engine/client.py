"""The window's side of the engine process: ``EngineProcess`` (the child, the pipe) and
``RemoteCall`` (a proxy with the face of ``rtc.call.Call`` the window uses).

``RemoteCall`` mirrors what the engine reports (events as the ``Call`` emitted them,
figures from ``Mirror`` messages) and turns what the window does into commands, each a
request with a timeout whose error comes back as one line. Its listeners get the same
``CallEvent``s a local ``Call``'s get, so ``gui.bridge.CallBridge`` needs no second path.
No Qt here: the pipe is read on a thread that hands each message to the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import multiprocessing
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from voicedesk import errors
from voicedesk.cores import avoid_cpu
from voicedesk.engine.protocol import (
    Command,
    EditReply,
    EditRequest,
    EngineReady,
    EventMessage,
    LogLine,
    Mirror,
    OpenCall,
    Reply,
)
from voicedesk.engine.rings import CallRings, RingView
from voicedesk.errors import EngineError, VoiceDeskError
from voicedesk.rtc.call import CallState, CallStateChanged, StatsSampled
from voicedesk.rtc.events import ConversationEvent
from voicedesk.rtc.events.conversation import Conversation
from voicedesk.rtc.extension import ExtensionRecipe
from voicedesk.rtc.spec import CallSpec
from voicedesk.tasks import TaskOwner

logger = logging.getLogger(__name__)

START_TIMEOUT = 60.0  # a cold engine imports aiortc & co. first; a loaded machine is slow
REQUEST_TIMEOUT = 15.0
HANGUP_TIMEOUT = 30.0  # the engine's own hang-up gives up after 15 s
CLOSE_TIMEOUT = 10.0
SETUP_MARGIN = 30.0  # beyond the call's own set-up timeout (SDP edits held by a person add to it)


@dataclass(frozen=True)
class EngineNotice:
    """Something the window should say that no call event carries (a command that failed)."""

    text: str
    t_ms: float = 0.0


@dataclass(frozen=True)
class EngineOpened:
    """The engine has built the call (its agent-events protocol and signaling are known now)."""

    t_ms: float = 0.0


class EngineProcess:
    """One child process running calls for the window, reused call after call.

    ``start`` spawns it (cheap here: the child imports on its own CPU time); requests
    wait for it to be ready. The child ends when ``aclose`` says so, or when its pipe
    closes (this process went away). ``lost`` is set when it ended without being asked.
    """

    def __init__(self) -> None:
        self._proc: Any = None
        self._conn: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ready: asyncio.Future[int] | None = None
        self._reader: threading.Thread | None = None
        self._closing = False
        self._send_lock = threading.Lock()
        self.call: RemoteCall | None = None  # the call messages are for
        self.lost: str | None = None  # why it stopped, when it stopped by itself
        self.started_at: float | None = None
        self._ready_pid: int | None = None  # set by the reader thread when the child said it is ready
        self.media_cpu: int | None = None  # the CPU the engine's media has to itself, if it has one

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive() and self.lost is None

    def start(self) -> None:
        """Spawn the child if none is running (on the loop's thread). A running one serves the
        loop this is called on from now (one engine can outlive a loop: the GUI tests share one)."""
        loop = asyncio.get_running_loop()
        if self._proc is not None and self.lost is None and self._proc.is_alive():
            if loop is not self._loop:
                self._rebind(loop)
            return
        if self._conn is not None:  # one that ended while no loop listened
            with contextlib.suppress(Exception):
                self._conn.close()
        from voicedesk.engine.host import main

        self._loop = loop
        self.lost = None
        self._ready_pid = None
        self._closing = False
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe(duplex=True)
        proc = ctx.Process(target=main, args=(child, log_levels()), name="voicedesk-engine", daemon=True)
        proc.start()
        child.close()
        self._proc, self._conn = proc, parent
        self._ready = self._loop.create_future()
        self.started_at = time.monotonic()
        self._reader = threading.Thread(target=self._read, args=(parent, proc), name="engine-reader", daemon=True)
        self._reader.start()
        logger.info("engine process %s started", proc.pid)

    def _rebind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._pending.clear()  # a closed loop's: nobody waits for them any more
        self._ready = loop.create_future()
        if self._ready_pid is not None:
            self._ready.set_result(self._ready_pid)

    async def ready(self, within_s: float = START_TIMEOUT) -> None:
        self.start()
        assert self._ready is not None
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), within_s)
        except TimeoutError:
            raise EngineError(f"the engine process did not start within {within_s:g} s") from None

    # the pipe -----------------------------------------------------------------
    def _read(self, conn: Any, proc: Any) -> None:
        """On a thread: every message to the loop; at EOF, why the child stopped."""
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break
            except Exception:
                logger.exception("unreadable message from the engine")
                continue
            if isinstance(message, EngineReady):
                self._ready_pid = message.pid
            loop = self._loop  # the loop the engine serves now
            if loop is not None:
                with contextlib.suppress(RuntimeError):  # that loop closed: nobody to tell
                    loop.call_soon_threadsafe(self._dispatch, message)
        proc.join(5)
        code = proc.exitcode
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._ended, proc, code)

    def send(self, message: Any) -> None:
        if self._conn is None or self.lost is not None:
            raise EngineError(self.lost or "the engine process is not running")
        try:
            with self._send_lock:
                self._conn.send(message)
        except (OSError, ValueError) as exc:
            raise EngineError(f"the engine process cannot be reached ({exc})") from None

    async def request(self, name: str, *args: Any, within_s: float = REQUEST_TIMEOUT) -> Any:
        """Send a command and wait for its reply; the engine's error raised as the same kind."""
        await self.ready()
        loop = asyncio.get_running_loop()
        command = Command(next(self._ids), name, args)
        future: asyncio.Future[Any] = loop.create_future()
        self._pending[command.id] = future
        try:
            self.send(command)
            try:
                reply: Reply = await asyncio.wait_for(asyncio.shield(future), within_s)
            except TimeoutError:
                raise EngineError(f"the engine process did not answer ({name}) within {within_s:g} s") from None
        finally:
            self._pending.pop(command.id, None)
        if reply.error is not None:
            kind = getattr(errors, reply.error_kind or "", None)
            cls = kind if isinstance(kind, type) and issubclass(kind, VoiceDeskError) else VoiceDeskError
            raise cls(reply.error)
        return reply.value

    def _dispatch(self, message: Any) -> None:
        if isinstance(message, Reply):
            future = self._pending.get(message.id)
            if future is not None and not future.done():
                future.set_result(message)
        elif isinstance(message, LogLine):
            _log_line(message)
        elif isinstance(message, EngineReady):
            self.media_cpu = message.media_cpu
            if message.media_cpu is not None:  # the window's threads keep off the engine's media CPU
                avoid_cpu(message.media_cpu)
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(message.pid)
        elif self.call is not None:
            self.call._received(message)

    def _ended(self, proc: Any, code: int | None) -> None:
        if proc is not self._proc:
            return
        if self._closing:
            text = "the engine process was closed"
        else:
            text = f"the engine process stopped unexpectedly (exit status {code})"
            logger.error("%s", text)
        self.lost = text
        self._proc = None
        with contextlib.suppress(Exception):
            self._conn.close()
        self._conn = None
        for future in [self._ready, *self._pending.values()]:
            if future is not None and not future.done():
                future.set_exception(EngineError(text))
        if self._ready is not None and self._ready.done() and not self._ready.cancelled():
            self._ready.exception()  # retrieved
        self._pending.clear()
        if self.call is not None and not self._closing:
            self.call._engine_lost(text)

    async def aclose(self) -> None:
        """Ask the child to hang up and end; make sure it has (terminate, then kill)."""
        proc = self._proc
        if proc is None:
            return
        self._closing = True
        loop = asyncio.get_running_loop()
        if self.lost is None and self._ready is not None and self._ready.done():
            with contextlib.suppress(VoiceDeskError, asyncio.CancelledError):
                await self.request("shutdown", within_s=CLOSE_TIMEOUT)
            await loop.run_in_executor(None, _stop_process, proc)
        else:  # still importing (the window closed at once): no call to hang up, nothing to wait for
            await loop.run_in_executor(None, _stop_process, proc, 0.0)
        if self._reader is not None:
            await loop.run_in_executor(None, self._reader.join, 5.0)
        self._proc = None
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def update_log_levels(self) -> None:
        """Give the engine this process's log levels again (the WebRTC log preference changed)."""
        if self.alive and self._ready_pid is not None:
            with contextlib.suppress(VoiceDeskError):
                self.send(Command(next(self._ids), "log_levels", (log_levels(),)))  # its reply is not awaited

    def kill_now(self) -> None:
        """No loop left (the window did not close in order): make sure no child outlives us."""
        if self._proc is not None:
            self._closing = True
            _stop_process(self._proc, 0.0)


LOGGERS = ("voicedesk", "aiortc", "aioice")  # whose levels the engine takes from the window


def log_levels() -> dict[str, int]:
    return {name: logging.getLogger(name).getEffectiveLevel() for name in LOGGERS}


def _log_line(line: LogLine) -> None:
    """The engine's record, handled by this process's logger of the same name (the Log tab's handler,
    stderr) as if logged here; its time is the engine's."""
    target = logging.getLogger(line.name)
    if not target.isEnabledFor(line.level):
        return
    record = target.makeRecord(line.name, line.level, "(engine)", 0, "%s", (line.text,), None)
    record.created = line.created
    target.handle(record)


def _stop_process(proc: Any, grace: float = CLOSE_TIMEOUT) -> None:
    proc.join(grace)
    if proc.is_alive():
        if grace:
            logger.warning("the engine process did not end in time: terminating it")
        proc.terminate()
        proc.join(3)
    if proc.is_alive():
        proc.kill()
        proc.join(3)


class _Signaling:
    def __init__(self, description: str) -> None:
        self.description = description


class _AgentEvents:
    """What the window reads of the call's agent-events channel: its protocol."""

    def __init__(self, name: str) -> None:
        from voicedesk.rtc.events import make_protocol

        self.protocol = make_protocol(name)


class RemoteCall:
    """A call running in the engine process, with the face of ``Call`` the window uses."""

    def __init__(
        self,
        engine: EngineProcess,
        spec: CallSpec,
        recipes: list[ExtensionRecipe] | tuple[ExtensionRecipe, ...] = (),
    ) -> None:
        from voicedesk.rtc.signaling.log import redact_url

        self.engine = engine
        self.spec = spec
        self.recipes = tuple(recipes)
        self._edit_offer, self._edit_answer = spec.edit_offer, spec.edit_answer
        self.target = redact_url(spec.target)
        self.signaling = _Signaling(spec.signaling or "")
        self.state = CallState.IDLE
        self.reason: str | None = None
        self.setup_ms: float | None = None
        self.setup_phases: dict[str, float] = {}
        self.agent_events: _AgentEvents | None = None
        self.conversation = Conversation()
        self.stats_samples: list[Any] = []
        self.event_transit_ms: deque[float] = deque(maxlen=5000)  # engine sent → this loop handles, per event
        self.local_sdp: str | None = None
        self.remote_sdp: str | None = None
        self.connection_state: str | None = None
        self.views: dict[str, Any] = {}
        self._rings = CallRings()
        self.tx, self.rx = RingView(self._rings.sent), RingView(self._rings.received)
        self._muted = False
        self._values: dict[str, Any] = {}
        self._summary: Any = None
        self._listeners: list[Callable[[Any], None]] = []
        self._tasks = TaskOwner("RemoteCall", logger=logger, failed="%s failed")
        self._opened = False
        self._closed = False
        self._t0 = self._mirrored_at = time.monotonic()

    # listeners -------------------------------------------------------------
    def add_listener(self, listener: Callable[[Any], None]) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[Any], None]) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def _emit(self, event: Any) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                logger.exception("call listener failed")

    # the call's life -------------------------------------------------------
    async def start(self) -> None:
        """Build the call in the engine and set it up; raises the engine's error as the same kind."""
        engine = self.engine
        engine.call = self
        spec = dataclasses.replace(self.spec, edit_offer=None, edit_answer=None)
        opened = OpenCall(
            spec,
            self.recipes,
            self._rings.names,
            edit_offer=self._edit_offer is not None,
            edit_answer=self._edit_answer is not None,
        )
        try:
            values = await engine.request("open", opened, within_s=START_TIMEOUT)
            self._opened = True
            self._apply(values)
            self._emit(EngineOpened(self.now_ms()))
            values = await engine.request("start", within_s=self.spec.timeout + SETUP_MARGIN)
            self._apply(values)
        except VoiceDeskError as exc:
            if not self.state.is_final:
                self._set_final(CallState.FAILED, str(exc), emit=False)
            await self.hangup()  # the engine lets the failed call go; its last figures come back
            raise

    async def hangup(self) -> None:
        """End the call in the engine (idempotent); the final figures and summary come back."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._opened and self.engine.alive:
                final = await self.engine.request("hangup", within_s=HANGUP_TIMEOUT)
                if final:
                    self._summary = final.pop("summary", None)
                    self._apply(final)
        except VoiceDeskError as exc:
            logger.warning("hang-up in the engine: %s", exc)
        finally:
            await self._tasks.cancel_all()
            if not self.state.is_final:
                self._set_final(CallState.ENDED, None)
            if self.engine.call is self:
                self.engine.call = None

    def close_rings(self) -> None:
        """Remove the shared memory (the window keeps drawing the last call until the next)."""
        self._rings.close()

    def _engine_lost(self, text: str) -> None:
        if not self.state.is_final:
            self._set_final(CallState.FAILED, text)

    def _set_final(self, state: CallState, reason: str | None, emit: bool = True) -> None:
        self.state, self.reason = state, reason
        if emit:
            self._emit(CallStateChanged(state, self.now_ms(), reason))

    # from the engine ---------------------------------------------------------
    def _received(self, message: Any) -> None:
        if isinstance(message, Mirror):
            self._apply(message.values)
        elif isinstance(message, EventMessage):
            event = message.event
            if message.sent_at:  # what crossing to the window's loop took (bench/conversation_latency.py)
                self.event_transit_ms.append((time.monotonic() - message.sent_at) * 1000.0)
            if isinstance(event, CallStateChanged):
                self.state, self.reason = event.state, event.reason
            elif isinstance(event, StatsSampled):
                self.stats_samples.append(event.sample)
            elif isinstance(event, ConversationEvent):
                self.conversation.add(event)
            self._emit(event)
        elif isinstance(message, EditRequest):
            self._tasks.spawn(self._edit(message), f"edit_{message.kind}")

    def _apply(self, values: dict[str, Any] | None) -> None:
        if not values:
            return
        self._values.update(values)
        if "now_ms" in values:
            self._mirrored_at = time.monotonic()
        for key in ("reason", "setup_ms", "setup_phases", "local_sdp", "remote_sdp", "connection_state", "views"):
            if key in values:
                setattr(self, key, values[key])
        if "state" in values and not self.state.is_final:
            self.state = values["state"]
        if "muted" in values:
            self._muted = values["muted"]
        if "target" in values:
            self.target = values["target"]
        if "signaling" in values:
            self.signaling = _Signaling(values["signaling"])
        if values.get("agent_events"):
            self.agent_events = _AgentEvents(values["agent_events"])

    async def _edit(self, request: EditRequest) -> None:
        editor = self._edit_offer if request.kind == "offer" else self._edit_answer
        try:
            if editor is None:
                raise VoiceDeskError(f"no {request.kind} editor")
            reply = EditReply(request.id, sdp=await editor(request.sdp))
        except VoiceDeskError as exc:
            reply = EditReply(request.id, error=str(exc))
        except asyncio.CancelledError:
            reply = EditReply(request.id, error="the call ended while a description was being edited")
        with contextlib.suppress(VoiceDeskError):
            self.engine.send(reply)

    # what the window reads ---------------------------------------------------
    remote = True  # the bridge and the panels tell a call in the engine process by this

    def now_ms(self) -> float:
        """The call's clock (ms), as the engine last reported it, carried forward on ours."""
        reported = self._values.get("now_ms")
        if reported is None:
            return (time.monotonic() - self._t0) * 1000.0
        return float(reported) + (time.monotonic() - self._mirrored_at) * 1000.0

    @property
    def pc(self) -> Any:
        """The W3C ``connectionState`` of the engine's peer connection, as last reported."""
        return SimpleNamespace(connectionState=self.connection_state or "new")

    def extension_view(self, key: str) -> Any:
        return self.views.get(key)

    @property
    def muted(self) -> bool:
        return self._muted

    @muted.setter
    def muted(self, value: bool) -> None:
        self._muted = bool(value)
        self._command("set", "muted", bool(value))

    @property
    def dtmf_sent(self) -> str:
        return str(self._values.get("dtmf_sent", ""))

    @property
    def keypad(self) -> Any:
        return SimpleNamespace(decoder=SimpleNamespace(tones=self._values.get("keypad_tones", "")))

    @property
    def latest_stats(self) -> Any:
        return self.stats_samples[-1] if self.stats_samples else None

    @property
    def source(self) -> None:
        return None  # the track lives in the engine; the Audio tab reads its extension's view

    @property
    def ice_monitor(self) -> Any:
        snapshot = self._values.get("ice")
        return None if snapshot is None else SimpleNamespace(snapshot=lambda: self._values["ice"])

    def impairment_now(self) -> Any:
        return self._values.get("impairment_now")

    def impairment_counters(self) -> dict[str, Any]:
        return dict(self._values.get("impairment_counters") or {})

    def received_audio(self) -> Any:
        from voicedesk.rtc.call import ReceivedAudio

        return self._values.get("received_audio") or ReceivedAudio(0, 0.0, 0, 0.0)

    def summary(self) -> Any:
        """The summary the engine made at hang-up (an empty one before)."""
        if self._summary is None:
            raise EngineError("the call's summary comes when it has ended")
        return self._summary

    # what the window does ------------------------------------------------------
    def _command(self, name: str, *args: Any) -> None:
        """A command whose result nobody waits for; its error becomes a notice on screen."""

        async def run() -> None:
            try:
                await self.engine.request(name, *args)
            except VoiceDeskError as exc:
                self._emit(EngineNotice(str(exc), self.now_ms()))

        if self._opened and not self._closed:
            self._tasks.spawn(run(), f"{name}")

    def send_text(self, text: str) -> None:
        if self.agent_events is None:
            raise VoiceDeskError("this call has no agent events channel to send text on")
        self._command("invoke", "send_text", (text,))

    def send_client_message(self, kind: str, data: Any = None) -> None:
        self._command("invoke", "send_client_message", (kind, data))

    def send_dtmf(self, digits: str, mode: str = "inband") -> Any:
        """Sent by the engine; a refusal (telephone-events not negotiated) arrives as a notice."""
        self._command("invoke", "send_dtmf", (digits, mode))
        self._values["dtmf_sent"] = self.dtmf_sent + digits  # as the engine will report it
        return SimpleNamespace(note="", digits=digits)

    async def say_text(self, text: str) -> float:
        return float(await self.engine.request("invoke", "say_text", (text,), within_s=60.0))

    def update_impairment(self, text: str) -> Any:
        from voicedesk.rtc.impair import ImpairmentSpec

        spec = ImpairmentSpec.parse(text)  # a bad figure: ConfigError here, at once
        self._command("invoke", "update_impairment", (text,))
        return spec

    async def play_received(self, key: str, start_ms: float, end_ms: float, device: int | str | None) -> None:
        """Ask the recording extension ``key`` of the (last) call to play a moment of it in the engine."""
        within = (end_ms - start_ms) / 1000 + REQUEST_TIMEOUT  # it answers once the clip has been played
        await self.engine.request("play_received", key, start_ms, end_ms, device, within_s=within)

    async def export_extension(self, key: str, path: str, mask: bool) -> Any:
        """Ask the extension ``key`` of the (last) call to export to ``path`` in the engine."""
        return await self.engine.request("export", key, path, mask, within_s=120.0)
