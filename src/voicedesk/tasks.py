"""Owned asyncio tasks: every task has an owner, a name, a reference, and is
cancelled with a timeout (some libraries swallow cancellation; ``pc.close()`` can
hang), so nothing outlives what started it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Iterator
from typing import Any

logger = logging.getLogger(__name__)

CANCEL_TIMEOUT = 2.0


async def cancel_and_wait(task: asyncio.Task[Any] | None, grace: float = CANCEL_TIMEOUT) -> None:
    """Cancel ``task`` and give it ``grace`` seconds to finish; never raises for it."""
    if task is None:
        return
    task.cancel()
    # asyncio.wait, not wait_for: wait_for would wait for a task that swallows
    # cancellation for ever (it cancels again and then waits for it to finish)
    done, _ = await asyncio.wait({task}, timeout=grace)
    if not done:
        logger.warning("task %s did not stop within %g s", task.get_name(), grace)
        return
    with contextlib.suppress(asyncio.CancelledError):
        error = task.exception()  # retrieved, so no "exception was never retrieved"
        if error is not None:
            logger.debug("task %s ended with an error while being cancelled", task.get_name(), exc_info=error)


class TaskOwner:
    """Owns tasks, as pipecat's TaskManager does: each has a name, is referenced until
    it is done, and is cancelled with a timeout; ``cancel_all`` ends them together.

    ``name`` prefixes every task's name (``pipeline/VAD.queue``) so a log line says whose
    task it is. ``cancel_timeout`` is the default grace of ``cancel`` and ``cancel_all``.
    An owner reports through ``logger`` so that its lines keep the owner's logger name
    (what ``-v`` filters read); ``failed`` is the format (one ``%s``: the task's name) of
    the error logged when a task ends with an exception, ``None`` to leave that to the
    loop's exception handler; ``stuck`` (the task's name, the grace) is the warning for a
    task that does not stop in time.
    """

    def __init__(
        self,
        name: str = "",
        *,
        cancel_timeout: float = CANCEL_TIMEOUT,
        logger: logging.Logger | None = None,
        failed: str | None = None,
        stuck: str = "task %s did not stop within %g s",
    ) -> None:
        self.name = name
        self.cancel_timeout = cancel_timeout
        self._logger = logger or logging.getLogger(__name__)
        self._failed = failed
        self._stuck = stuck
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run ``coro`` as a task named ``name`` (after the owner's prefix) and keep it referenced."""
        full_name = f"{self.name}/{name}" if self.name else name
        task = asyncio.get_running_loop().create_task(coro, name=full_name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if self._failed is not None and not task.cancelled() and task.exception() is not None:
            self._logger.error(self._failed, task.get_name(), exc_info=task.exception())

    def __len__(self) -> int:
        return len(self._tasks)

    def __iter__(self) -> Iterator[asyncio.Task[Any]]:
        return iter(list(self._tasks))

    async def cancel(self, task: asyncio.Task[Any] | None, grace: float | None = None) -> None:
        """Cancel one task and wait up to ``grace`` seconds (the owner's timeout by default)."""
        if task is None or task.done():
            return
        if task is asyncio.current_task():
            return  # a task cannot wait for itself; it ends when it returns
        grace = self.cancel_timeout if grace is None else grace
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=grace)
        if not done:
            self._logger.warning(self._stuck, task.get_name(), grace)

    async def cancel_all(self, grace: float | None = None) -> None:
        """Cancel every task but the caller's own and wait up to ``grace`` seconds for them."""
        grace = self.cancel_timeout if grace is None else grace
        current = asyncio.current_task()
        tasks = [task for task in self._tasks if task is not current]
        for task in tasks:
            task.cancel()
        if tasks:
            done, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                self._logger.warning(self._stuck, task.get_name(), grace)
            for task in done:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    task.result()  # retrieved, so no "exception was never retrieved"
