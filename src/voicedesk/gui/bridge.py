"""One bridge per call: core ``Call`` events in, Qt signals out.

The bridge owns the task that sets the call up and the hang-up; widgets connect
to its signals and never touch the RTCPeerConnection. Core listeners run on the
asyncio loop, which under qasync is the Qt main thread, so signals are emitted
directly (Qt would queue them if that ever changed).

Behind it is either a local ``Call`` (``VOICEDESK_ENGINE=inprocess``) or an
``engine.client.RemoteCall`` (the call in the engine process, the default): both have
the same listeners, state and methods, so nothing here or in a panel needs a second
path. What a panel shows of an extension it hung off the call it reads with
``extension_view`` (the extension's ``view()``, wherever the call runs).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from voicedesk.errors import VoiceDeskError
from voicedesk.rtc.call import Call, CallEvent, CallState, CallStateChanged, DescriptionSet, StatsSampled
from voicedesk.rtc.events import AgentEventReceived, ConversationEvent
from voicedesk.rtc.impair import ImpairmentChanged
from voicedesk.rtc.liveness import MediaLost, MediaResumed
from voicedesk.rtc.signaling.log import SignalingExchanged
from voicedesk.tasks import cancel_and_wait

if TYPE_CHECKING:
    from voicedesk.engine.client import RemoteCall
    from voicedesk.rtc.extension import CallExtension

logger = logging.getLogger(__name__)

TASK_CANCEL_TIMEOUT = 5.0


class CallBridge(QObject):
    state_changed = Signal(str, str)  # CallState value, reason ("" when none)
    description_set = Signal(str, str, str)  # side ("local"/"remote"), type, sdp
    stats_sampled = Signal(object)  # voicedesk.rtc.stats.StatsSample
    signaling_exchanged = Signal(object)  # voicedesk.rtc.signaling.log.SignalingExchanged
    agent_event = Signal(object)  # voicedesk.rtc.events.AgentEventReceived: a message as it came (any protocol)
    conversation_event = Signal(object)  # voicedesk.rtc.events.ConversationEvent (t_ms on the call's axis)
    impairment_changed = Signal(object)  # voicedesk.rtc.impair.ImpairmentChanged (t_ms on the call's axis)
    media_changed = Signal(object)  # voicedesk.rtc.liveness.MediaLost / MediaResumed (the peer's packets)
    failed = Signal(str)  # one line for the user
    notice = Signal(str)  # one line for the user that does not end the call (a refused command)
    opened = Signal()  # a call in the engine process has been built there (what it is is known now)
    finished = Signal()  # the call is over and torn down

    def __init__(
        self,
        call: Call | RemoteCall,
        parent: QObject | None = None,
        extensions: dict[str, CallExtension] | None = None,
    ) -> None:
        super().__init__(parent)
        self.call: Any = call  # Call or RemoteCall: the same face
        self._extensions = dict(extensions or {})
        self._start_task: asyncio.Task[None] | None = None
        self._hangup_task: asyncio.Task[None] | None = None
        self._finished_emitted = False
        call.add_listener(self._on_event)

    @property
    def state(self) -> CallState:
        return self.call.state

    @property
    def remote(self) -> bool:
        """The call runs in the engine process."""
        return bool(getattr(self.call, "remote", False))

    def extension(self, key: str) -> CallExtension | None:
        """The extension ``key`` itself when the call runs in this process, else None."""
        return self._extensions.get(key)

    def extension_view(self, key: str) -> Any:
        """What the extension ``key`` shows (its ``view()``), wherever the call runs; None if none."""
        if self.remote:
            return self.call.extension_view(key)
        extension = self._extensions.get(key)
        return extension.view() if extension is not None else None

    async def play_received(self, start_ms: float, end_ms: float, device: int | str | None = None) -> None:
        """Play that moment of what the call received (its QA recording), wherever the call runs."""
        from voicedesk.qa.capture import CallCapture

        if self.remote:
            await self.call.play_received(CallCapture.KEY, start_ms, end_ms, device)
            return
        capture = self._extensions.get(CallCapture.KEY)
        if not isinstance(capture, CallCapture):
            raise VoiceDeskError("nothing to play: the call was not recorded")
        await capture.play_received(start_ms, end_ms, device)

    @property
    def active(self) -> bool:
        """True until the call is over and torn down."""
        return not self._finished_emitted

    def start(self) -> None:
        """Set the call up in an owned task; results arrive as signals."""
        if self._start_task is None:
            self._start_task = asyncio.get_running_loop().create_task(self._run_start(), name="CallBridge.start")

    async def _run_start(self) -> None:
        try:
            await self.call.start()
        except VoiceDeskError as exc:
            self.failed.emit(str(exc))
            self._emit_finished()
        except asyncio.CancelledError:
            self._emit_finished()
            raise
        except Exception as exc:  # Call.start wraps these, but a view must survive anything
            logger.exception("unexpected error while setting up the call")
            self.failed.emit(f"unexpected error: {exc}")
            self._emit_finished()

    async def hangup(self) -> None:
        """End the call whatever its state (idempotent); returns once it is torn down."""
        if self._start_task is not None and not self._start_task.done():
            # Call.start() tears down on cancellation (pc.close() may take its 5 s timeout)
            await cancel_and_wait(self._start_task, TASK_CANCEL_TIMEOUT + 5.0)
        teardown = asyncio.get_running_loop().create_task(self.call.hangup(), name="CallBridge.call_hangup")
        # asyncio.wait, not wait_for: a teardown that swallows cancellation must not hang the window
        done, _ = await asyncio.wait({teardown}, timeout=TASK_CANCEL_TIMEOUT + 5.0)
        if not done:
            logger.warning("hang-up did not finish in time; the call was abandoned")
            await cancel_and_wait(teardown)
        elif not teardown.cancelled() and teardown.exception() is not None:
            logger.error("hang-up failed", exc_info=teardown.exception())
        self._emit_finished()

    def _schedule_hangup(self) -> None:
        if self._hangup_task is None:
            self._hangup_task = asyncio.get_running_loop().create_task(self.hangup(), name="CallBridge.hangup")

    async def aclose(self) -> None:
        """Hang up (if needed), wait for owned tasks, stop listening."""
        await self.hangup()
        if self._hangup_task is not None and not self._hangup_task.done():
            await cancel_and_wait(self._hangup_task, TASK_CANCEL_TIMEOUT)
        self.call.remove_listener(self._on_event)

    def _emit_finished(self) -> None:
        if not self._finished_emitted:
            self._finished_emitted = True
            self.finished.emit()

    def _on_event(self, event: CallEvent) -> None:
        if isinstance(event, CallStateChanged):
            self.state_changed.emit(event.state.value, event.reason or "")
            # The peer went away mid-call: the core marks the call failed; tear it
            # down here so the sockets go and the window returns to idle.
            if event.state == CallState.FAILED and self.call.setup_ms is not None:
                self.failed.emit(event.reason or "the call failed")
                self._schedule_hangup()
        elif isinstance(event, DescriptionSet):
            self.description_set.emit(event.side, event.type, event.sdp)
        elif isinstance(event, StatsSampled):
            self.stats_sampled.emit(event.sample)
        elif isinstance(event, SignalingExchanged):
            self.signaling_exchanged.emit(event)
        elif isinstance(event, AgentEventReceived):
            self.agent_event.emit(event)
        elif isinstance(event, ConversationEvent):
            self.conversation_event.emit(event)
        elif isinstance(event, ImpairmentChanged):
            self.impairment_changed.emit(event)
        elif isinstance(event, (MediaLost, MediaResumed)):
            self.media_changed.emit(event)
        elif type(event).__name__ == "EngineNotice":  # engine/client.py (not imported: inprocess)
            self.notice.emit(str(getattr(event, "text", "")))
        elif type(event).__name__ == "EngineOpened":
            self.opened.emit()
