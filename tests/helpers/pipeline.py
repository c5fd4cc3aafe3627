"""A harness to test one frame processor (or a few) without a call.

    async with ProcessorHarness(MyProcessor()) as h:
        await h.send(ResponseTextFrame(text="hi"))
        frame = await h.wait_for(SpeechAudioOutFrame)

Frames the processors push downstream are collected by a sink processor at the
end (``h.frames``); frames pushed upstream out of the first one land in
``h.upstream``; ``h.observed`` records every push the pipeline's observers see.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

from voicedesk.agent.frames import Frame, FrameDirection
from voicedesk.agent.pipeline import FrameProcessor, Observer, Pipeline

F = TypeVar("F", bound=Frame)


class CollectorProcessor(FrameProcessor):
    def __init__(self) -> None:
        super().__init__("collector")
        self.frames: list[Frame] = []
        self.arrived = asyncio.Condition()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        self.frames.append(frame)
        async with self.arrived:
            self.arrived.notify_all()
        await super().process_frame(frame, direction)


class RecordingObserver(Observer):
    def __init__(self) -> None:
        self.pushes: list[tuple[str, str | None, Frame]] = []

    def on_push(self, source, destination, frame, direction) -> None:  # type: ignore[no-untyped-def]
        self.pushes.append((source.name, destination.name if destination else None, frame))


class ProcessorHarness:
    def __init__(self, *processors: FrameProcessor, observers: list[Observer] | None = None) -> None:
        self.collector = CollectorProcessor()
        self.recorder = RecordingObserver()
        self.pipeline = Pipeline([*processors, self.collector], [self.recorder, *(observers or [])], name="harness")

    async def __aenter__(self) -> ProcessorHarness:
        await self.pipeline.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.pipeline.stop(grace_s=5.0)

    @property
    def frames(self) -> list[Frame]:
        return self.collector.frames

    def of_type(self, kind: type[F]) -> list[F]:
        return [f for f in self.frames if isinstance(f, kind)]

    async def send(self, frame: Frame) -> None:
        await self.pipeline.queue_frame(frame)

    async def wait_for(self, kind: type[F], count: int = 1, within_s: float = 20.0) -> F:
        """The ``count``-th frame of ``kind`` to arrive at the end (waits up to ``within_s``)."""

        async def arrived() -> F:
            async with self.collector.arrived:
                await self.collector.arrived.wait_for(lambda: len(self.of_type(kind)) >= count)
            return self.of_type(kind)[count - 1]

        return await asyncio.wait_for(arrived(), within_s)

    async def settle(self, seconds: float = 0.05) -> None:
        """Let queued frames be handled (processors run in their own tasks)."""
        await asyncio.sleep(seconds)
