"""The engine process's main: one ``Call`` at a time, built from what the window sends.

Started by the window with multiprocessing's spawn context (engine/client.py). It reads
``Command``s from its end of the pipe on a thread and handles each on its own asyncio
loop, where the call's media runs with nothing else to do: no painting, no Qt. Every
event the call emits goes back as it came; what the window shows but no event carries
goes back as a ``Mirror`` about twice a second. Each direction's audio goes into the
window's shared-memory rings. The process ends when the window says so or when its end
of the pipe closes (the window went away, however it went): it hangs up first.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import logging
import os
import pickle
import signal
import threading
import time
from typing import Any

from voicedesk.cores import claim_media_cpu, clear_media_cpu, leave_media_cpu
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
from voicedesk.engine.rings import ShmRing
from voicedesk.errors import VoiceDeskError
from voicedesk.tasks import TaskOwner

logger = logging.getLogger(__name__)

MIRROR_INTERVAL = 0.5  # seconds between the window's updates of figures no event carries
HANGUP_TIMEOUT = 15.0
# what the window may ask a call to do (the same methods a script calls on a Call)
CALL_METHODS = frozenset({"send_text", "send_dtmf", "say_text", "update_impairment", "send_client_message"})
SETTABLE = frozenset({"muted"})
# what placing a call imports, imported while the window waits for nothing (engine start-up); as
# gui/app.py's warm-up does for an in-process call
WARM_MODULES = (
    "voicedesk.rtc.call",  # aiortc, av, the codecs: most of the time
    "voicedesk.agent",  # the embedded: dialects
    "voicedesk.speech",  # the say: source
    "voicedesk.agent.sessions",
    "voicedesk.agent.agents",
    "voicedesk.agent.voice_agents",
    "voicedesk.rtc.summary",
    "voicedesk.rtc.signaling.http_json",
    "voicedesk.qa.capture",
    "voicedesk.rtc.speech_edges",
    "voicedesk.rtc.call_audio",
    "cryptography.hazmat.primitives.serialization",
)


class LogForwarder(logging.Handler):
    """The engine's log lines to the window (its Log tab, its stderr), as the window's own are."""

    def __init__(self, host: EngineHost, level: int) -> None:
        super().__init__(level)
        self.host = host

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info:  # the traceback as text: the exception itself may not pickle
                text += "\n" + logging.Formatter().formatException(record.exc_info)
            self.host.send(LogLine(record.name, record.levelno, text, record.created))
        except Exception:
            self.handleError(record)


def main(conn: Any, log_levels: dict[str, int] | None = None) -> None:
    """The child's entry point (what the spawn context runs); ``log_levels``: the window's, by logger."""
    with contextlib.suppress(ValueError, OSError):  # Ctrl+C in a terminal is the window's to handle
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    host = EngineHost(conn)
    root = logging.getLogger()
    root.addHandler(LogForwarder(host, logging.NOTSET))
    root.setLevel(logging.WARNING)
    set_log_levels(log_levels or {"voicedesk": logging.INFO})
    try:
        asyncio.run(host.serve())
    finally:
        with contextlib.suppress(OSError):
            conn.close()


def set_log_levels(levels: dict[str, int]) -> None:
    """The window's levels (voicedesk; aiortc and aioice as its WebRTC log preference sets them)."""
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def mirror_of(call: Any, extensions: dict[str, Any]) -> dict[str, Any]:
    """What the window shows of ``call`` beside its events; each part guarded (a view that
    cannot be read now is left out, not a reason to stop the engine)."""
    values: dict[str, Any] = {}

    def put(key: str, read: Any) -> None:
        try:
            values[key] = read()
        except Exception:
            logger.debug("mirror: %s not readable now", key, exc_info=True)

    put("state", lambda: call.state)
    put("reason", lambda: call.reason)
    put("setup_ms", lambda: call.setup_ms)
    put("setup_phases", lambda: dict(call.setup_phases))
    put("muted", lambda: call.muted)
    put("dtmf_sent", lambda: call.dtmf_sent)
    put("keypad_tones", lambda: call.keypad.decoder.tones)
    put("impairment_now", call.impairment_now)
    put("impairment_counters", call.impairment_counters)
    put("received_audio", call.received_audio)
    put("local_sdp", lambda: getattr(call, "local_sdp", None))
    put("remote_sdp", lambda: getattr(call, "remote_sdp", None))
    put("now_ms", call.now_ms)
    put("connection_state", lambda: call.pc.connectionState if getattr(call, "pc", None) is not None else None)
    monitor = getattr(call, "ice_monitor", None)
    if monitor is not None:
        put("ice", monitor.snapshot)
    views = {}
    for key, extension in extensions.items():
        try:
            views[key] = extension.view()
        except Exception:
            logger.debug("mirror: the %s extension's view failed", key, exc_info=True)
    values["views"] = views
    return values


def warm_call_path() -> None:
    """Import what the first call needs and make one DTLS certificate (it imports cryptography's
    ciphers), so a click on Call does not wait for them; a failure shows, worded, when a call needs it."""
    import importlib

    for name in WARM_MODULES:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    with contextlib.suppress(Exception):
        from aiortc import RTCCertificate

        RTCCertificate.generateCertificate()
    import gc

    # as the window does once shown (gui/app.py freeze_startup_objects): the modules' objects out of
    # the collector's full passes, which otherwise walk them all in the middle of a call
    gc.freeze()


class EngineHost:
    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.call: Any = None
        self.extensions: dict[str, Any] = {}
        self.rings: list[ShmRing] = []
        self._tasks = TaskOwner("engine", logger=logger, failed="%s failed")
        self._mirror_task: asyncio.Task[None] | None = None
        self._start_task: asyncio.Task[Any] | None = None
        self._edits: dict[int, asyncio.Future[str]] = {}
        self._next_edit = 0
        self._send_lock = threading.Lock()

    # the pipe ---------------------------------------------------------------
    def send(self, message: Any) -> None:
        try:
            data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            logger.debug("not sent (cannot be pickled): %r", type(message), exc_info=True)
            if isinstance(message, Reply):  # the window waits for it: send it without the value
                self.send(Reply(message.id, None, message.error, message.error_kind))
            return
        with contextlib.suppress(OSError, ValueError), self._send_lock:  # the window is gone: EOF ends us
            self.conn.send_bytes(data)

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[Any] = asyncio.Queue()

        def read() -> None:
            while True:
                try:
                    message = self.conn.recv()
                except (EOFError, OSError):
                    message = None
                except Exception:  # a message this side cannot unpickle: say so, go on
                    logger.exception("unreadable message from the window")
                    continue
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    loop.call_soon_threadsafe(inbox.put_nowait, message)
                if message is None:
                    return

        threading.Thread(target=read, name="engine-pipe-reader", daemon=True).start()
        # the loop's executor threads are started by the loop's thread: without this they would
        # share the media CPU claimed below (and so would the recognizer workers they spawn)
        loop.set_default_executor(
            concurrent.futures.ThreadPoolExecutor(thread_name_prefix="engine", initializer=leave_media_cpu)
        )
        self.send(EngineReady(os.getpid(), claim_media_cpu()))
        warming = loop.run_in_executor(None, warm_call_path)
        try:
            while True:
                message = await inbox.get()
                if message is None:
                    logger.info("the window went away: hanging up and ending")
                    break
                if isinstance(message, EditReply):
                    self._edit_replied(message)
                elif isinstance(message, Command):
                    if message.name == "shutdown":
                        await self._close_call()
                        self.send(Reply(message.id))
                        break
                    self._tasks.spawn(self._handle(message), f"command.{message.name}")
        finally:
            await self._close_call()
            await self._tasks.cancel_all()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(warming, 5.0)  # no thread importing while the interpreter ends

    async def _handle(self, command: Command) -> None:
        if command.name == "start":
            self._start_task = asyncio.current_task()
        try:
            value = await self._run(command)
        except asyncio.CancelledError:
            self.send(Reply(command.id, error="cancelled"))
            raise
        except VoiceDeskError as exc:
            self.send(Reply(command.id, error=str(exc), error_kind=type(exc).__name__))
        except Exception as exc:
            logger.exception("command %s failed", command.name)
            self.send(Reply(command.id, error=f"the engine could not {command.name}: {exc}"))
        else:
            self.send(Reply(command.id, value))

    async def _run(self, command: Command) -> Any:
        name, args = command.name, command.args
        if name == "open":
            return await self._open(args[0])
        if name == "ping":
            return os.getpid()
        if name == "log_levels":
            set_log_levels(args[0])
            return None
        if name == "export":  # the last call's report, written where its recordings are
            from voicedesk.qa.capture import CallCapture
            from voicedesk.qa.report import export_capture

            key, path, mask = args
            capture = self.extensions.get(key)
            if not isinstance(capture, CallCapture):
                raise VoiceDeskError("no report to export: the call was not recorded")
            return export_capture(capture, path, mask)
        if name == "play_received":  # a moment of the last call's received audio, on a speaker here
            from voicedesk.qa.capture import CallCapture

            key, start_ms, end_ms, device = args
            capture = self.extensions.get(key)
            if not isinstance(capture, CallCapture):
                raise VoiceDeskError("nothing to play: the call was not recorded")
            await capture.play_received(start_ms, end_ms, device)
            return None
        call = self.call
        if call is None:
            raise VoiceDeskError("no call in the engine")
        if name == "start":
            await call.start()
            return mirror_of(call, self.extensions)
        if name == "hangup":
            return await self._close_call()
        if name == "set" and args[0] in SETTABLE:
            setattr(call, args[0], args[1])
            return None
        if name == "invoke" and args[0] in CALL_METHODS:
            result = getattr(call, args[0])(*args[1])
            if asyncio.iscoroutine(result):
                result = await result
            return result
        raise VoiceDeskError(f"the engine does not know {name} {args[:1]}")

    # the call -------------------------------------------------------------
    async def _open(self, request: OpenCall) -> dict[str, Any]:
        # the built-in registrations, as ``voicedesk call`` makes them: the embedded: dialects and
        # the say: source (entry points find them too, but a frozen app carries no package metadata)
        import voicedesk.agent
        import voicedesk.speech  # noqa: F401
        from voicedesk.rtc.call import Call

        await self._close_call()  # one call at a time
        extensions: dict[str, Any] = {}
        try:
            for recipe in request.recipes:
                extensions[recipe.key] = recipe.build()  # Call.start() awaits their prepare()
            spec = dataclasses.replace(
                request.spec,
                edit_offer=self._editor("offer") if request.edit_offer else None,
                edit_answer=self._editor("answer") if request.edit_answer else None,
            )
            call = Call.from_spec(spec, extensions=list(extensions.values()))
        except BaseException:
            for extension in extensions.values():  # a speaker opened for a call never built
                with contextlib.suppress(Exception):
                    await extension.detach()
            raise
        self.call, self.extensions = call, extensions
        if request.rings is not None:
            sent, received = ShmRing(request.rings.sent), ShmRing(request.rings.received)
            self.rings = [sent, received]
            call.add_sent_observer(sent.write)
            call.add_received_observer(received.write)
        call.add_listener(self._forward)
        self._mirror_task = self._tasks.spawn(self._mirror_loop(call), "mirror")
        protocol = call.agent_events.protocol.name if call.agent_events is not None else None
        return {
            "target": call.target,
            "signaling": call.signaling.description,
            "agent_events": protocol,
            **mirror_of(call, extensions),
        }

    def _forward(self, event: Any) -> None:
        from voicedesk.rtc.call import CallStateChanged

        if isinstance(event, CallStateChanged) and self.call is not None:
            # the figures first, so the window reads them when it handles the new state
            self.send(Mirror(mirror_of(self.call, self.extensions)))
        self.send(EventMessage(event, time.monotonic()))

    async def _mirror_loop(self, call: Any) -> None:
        while True:
            await asyncio.sleep(MIRROR_INTERVAL)
            self.send(Mirror(mirror_of(call, self.extensions)))
            clear_media_cpu()

    async def _close_call(self) -> dict[str, Any] | None:
        call, self.call = self.call, None
        if call is None:
            return None
        await self._tasks.cancel(self._mirror_task)
        self._mirror_task = None
        # hanging up during the set-up cancels it, as in the window's own loop (gui/bridge.py):
        # Call.start() tears down on cancellation and reports the call failed, "cancelled"
        await self._tasks.cancel(self._start_task, HANGUP_TIMEOUT)
        self._start_task = None
        try:
            await asyncio.wait_for(call.hangup(), HANGUP_TIMEOUT)
        except Exception:
            logger.warning("the call's hang-up did not finish cleanly", exc_info=True)
        final = mirror_of(call, self.extensions)
        try:
            final["summary"] = call.summary()
        except Exception:
            logger.warning("no summary for the call", exc_info=True)
        call.remove_listener(self._forward)
        for ring in self.rings:
            ring.close()
        self.rings = []
        for future in self._edits.values():
            if not future.done():
                future.set_exception(VoiceDeskError("the call ended while a description was being edited"))
        self._edits.clear()
        return final

    # SDP edits held by the window -----------------------------------------
    def _editor(self, kind: str) -> Any:
        async def edit(sdp: str) -> str:
            self._next_edit += 1
            future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            self._edits[self._next_edit] = future
            self.send(EditRequest(self._next_edit, kind, sdp))
            return await future

        return edit

    def _edit_replied(self, reply: EditReply) -> None:
        future = self._edits.pop(reply.id, None)
        if future is None or future.done():
            return
        if reply.error is not None:
            future.set_exception(VoiceDeskError(reply.error))
        else:
            future.set_result(reply.sdp or "")
