"""A small frame pipeline: processors that receive and push frames, a runner, observers.

Writing a processor is one small class::

    class Shout(FrameProcessor):
        async def process_frame(self, frame, direction):
            if isinstance(frame, ResponseTextFrame):
                frame = ResponseTextFrame(text=frame.text.upper())
            await super().process_frame(frame, direction)   # the base pushes it on

Semantics (pipecat's): system frames are handled at once, in the pusher's task;
data and control frames wait in the processor's queue and are handled in order
by the processor's own task. An ``InterruptionFrame`` drops the queued data
frames of every processor it passes and cancels the one being handled (a reply
being generated or synthesized), keeping control frames. An exception in
``process_frame`` becomes an ``ErrorFrame`` and the pipeline goes on.

Observers see every push (source, destination, frame) without being stages.
Every task is owned by the pipeline's ``TaskOwner``: named, referenced, and
cancelled with a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine, Sequence
from typing import Any

from voicedesk.agent.frames import (
    EndFrame,
    ErrorFrame,
    Frame,
    FrameDirection,
    FrameKind,
    InterruptionFrame,
    StartFrame,
)
from voicedesk.tasks import TaskOwner

logger = logging.getLogger(__name__)

INTERRUPT_GRACE = 0.05


class Observer:
    """Watches frames pass between processors; must be quick and must not raise."""

    def on_push(
        self, source: FrameProcessor, destination: FrameProcessor | None, frame: Frame, direction: FrameDirection
    ) -> None:
        pass


class FrameProcessor:
    """Override ``process_frame``; call the base for frames you do not consume (it pushes them on)."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name or type(self).__name__
        self.next: FrameProcessor | None = None
        self.prev: FrameProcessor | None = None
        self.pipeline: Pipeline | None = None
        self._queue: asyncio.Queue[tuple[Frame, FrameDirection]] = asyncio.Queue()
        self._consumer: asyncio.Task[None] | None = None
        self.interrupted_at: float | None = None

    # wiring -------------------------------------------------------------
    def link(self, nxt: FrameProcessor) -> FrameProcessor:
        self.next = nxt
        nxt.prev = self
        return nxt

    @property
    def tasks(self) -> TaskOwner:
        if self.pipeline is None:
            raise RuntimeError(f"{self.name} is not in a running pipeline")
        return self.pipeline.tasks

    def create_task(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        return self.tasks.spawn(coro, f"{self.name}.{name}")

    async def setup(self, pipeline: Pipeline) -> None:
        """Called before the StartFrame; engines are opened in ``start`` (on the StartFrame)."""
        self.pipeline = pipeline
        self._start_consumer()

    async def cleanup(self) -> None:
        """Release engines; called once when the pipeline stops."""

    # frame flow ---------------------------------------------------------
    async def queue_frame(self, frame: Frame, direction: FrameDirection = FrameDirection.DOWNSTREAM) -> None:
        if frame.kind is FrameKind.SYSTEM:
            if isinstance(frame, InterruptionFrame):
                await self._drop_queued()
            await self._handle(frame, direction)
        else:
            self._queue.put_nowait((frame, direction))

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await self.push_frame(frame, direction)

    async def push_frame(self, frame: Frame, direction: FrameDirection = FrameDirection.DOWNSTREAM) -> None:
        target = self.next if direction is FrameDirection.DOWNSTREAM else self.prev
        if self.pipeline is not None:
            self.pipeline.observe(self, target, frame, direction)
        if target is not None:
            await target.queue_frame(frame, direction)
        elif self.pipeline is not None:
            self.pipeline.reached_edge(frame, direction)

    async def push_error(self, message: str, fatal: bool = False) -> None:
        logger.warning("%s: %s", self.name, message)
        await self.push_frame(ErrorFrame(message=message, source=self.name, fatal=fatal))

    async def _handle(self, frame: Frame, direction: FrameDirection) -> None:
        try:
            await self.process_frame(frame, direction)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a processor's bug must not end the call: report it as a frame
            logger.exception("%s failed on %s", self.name, frame.name)
            with contextlib.suppress(Exception):
                await self.push_error(f"{type(exc).__name__}: {exc}")

    def _start_consumer(self) -> None:
        self._consumer = self.tasks.spawn(self._consume(), f"{self.name}.queue")

    async def _consume(self) -> None:
        while True:
            frame, direction = await self._queue.get()
            await self._handle(frame, direction)
            if isinstance(frame, EndFrame):
                return

    async def _drop_queued(self) -> None:
        """Drop queued data frames and cancel the one in hand; control frames stay, in order."""
        self.interrupted_at = time.monotonic()
        kept: list[tuple[Frame, FrameDirection]] = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item[0].kind is not FrameKind.DATA:
                kept.append(item)
        for item in kept:
            self._queue.put_nowait(item)
        if self._consumer is not None and self._consumer is not asyncio.current_task() and not self._consumer.done():
            # a short grace: the interruption must reach the output within the barge-in budget
            # (200 ms) even if a processor is slow to stop; a straggler finishes on its own
            await self.tasks.cancel(self._consumer, grace=INTERRUPT_GRACE)
            await self.on_interrupted()
            self._start_consumer()
        else:
            await self.on_interrupted()

    async def on_interrupted(self) -> None:
        """Reset per-reply state after an interruption (the frame itself is then processed as usual)."""


class Pipeline:
    """Wires processors in a line and runs them for one call (the runner)."""

    def __init__(
        self, processors: Sequence[FrameProcessor], observers: Sequence[Observer] = (), name: str = "pipeline"
    ):
        if not processors:
            raise ValueError("a pipeline needs at least one processor")
        self.name = name
        self.processors = list(processors)
        self.observers = list(observers)
        self.tasks = TaskOwner(
            name,
            logger=logger,
            failed="task %s failed",
            stuck="task %s did not stop within %.1f s of being cancelled",
        )
        self.started_at: float | None = None
        self.ended = asyncio.Event()
        self.errors: list[ErrorFrame] = []
        for a, b in zip(self.processors, self.processors[1:], strict=False):
            a.link(b)
        self._stopped = False

    def observe(
        self, source: FrameProcessor, destination: FrameProcessor | None, frame: Frame, direction: FrameDirection
    ) -> None:
        if isinstance(frame, ErrorFrame) and all(e.id != frame.id for e in self.errors):
            self.errors.append(frame)  # once, though it passes every later processor
        for observer in self.observers:
            try:
                observer.on_push(source, destination, frame, direction)
            except Exception:
                logger.exception("observer %s failed", type(observer).__name__)

    def reached_edge(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, EndFrame):
            self.ended.set()

    async def start(self) -> None:
        for processor in self.processors:
            await processor.setup(self)
        start = StartFrame()
        self.started_at = start.at
        for observer in self.observers:
            with contextlib.suppress(Exception):
                observer.on_push(self.processors[0], self.processors[0], start, FrameDirection.DOWNSTREAM)
        await self.processors[0].queue_frame(start)

    async def queue_frame(self, frame: Frame) -> None:
        await self.processors[0].queue_frame(frame)

    async def stop(self, grace_s: float = 3.0) -> None:
        """Send an EndFrame through, wait for it (up to ``grace_s``), then cancel every task."""
        if self._stopped:
            return
        self._stopped = True
        try:
            await self.processors[0].queue_frame(EndFrame())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ended.wait(), grace_s)
        finally:
            await self.tasks.cancel_all()
            for processor in self.processors:
                try:
                    await asyncio.wait_for(processor.cleanup(), grace_s)
                except Exception as exc:
                    logger.warning("cleaning up %s failed: %s", processor.name, exc)
