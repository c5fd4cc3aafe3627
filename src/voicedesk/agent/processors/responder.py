"""The responder stage: a final transcript in, the reply's text out (streamed)."""

from __future__ import annotations

import contextlib
import logging

from voicedesk.agent.engines.responder import Responder
from voicedesk.agent.frames import (
    FinalTranscriptFrame,
    Frame,
    FrameDirection,
    ResponseEndedFrame,
    ResponseStartedFrame,
    ResponseTextFrame,
    StartFrame,
    TextInputFrame,
)
from voicedesk.agent.pipeline import FrameProcessor

logger = logging.getLogger(__name__)


class ResponderProcessor(FrameProcessor):
    """An empty transcript (noise the VAD took for speech) gets no reply; typed text
    (``TextInputFrame``) is answered as a transcript is.

    Generation runs in this processor's queue task, so an interruption cancels it.
    """

    def __init__(self, responder: Responder, name: str | None = None) -> None:
        super().__init__(name)
        self.responder = responder

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, StartFrame):
            await self.responder.start()
        elif isinstance(frame, FinalTranscriptFrame | TextInputFrame) and frame.text.strip():
            await self._respond(frame.text)

    async def _respond(self, transcript: str) -> None:
        await self.push_frame(ResponseStartedFrame(transcript=transcript))
        try:
            async with contextlib.aclosing(self.responder.respond(transcript)) as chunks:
                async for chunk in chunks:
                    await self.push_frame(ResponseTextFrame(text=chunk))
        finally:
            error = getattr(self.responder, "last_error", None)
            if error:
                await self.push_error(f"responder: {error}")
            await self.push_frame(ResponseEndedFrame())

    async def cleanup(self) -> None:
        await self.responder.close()
