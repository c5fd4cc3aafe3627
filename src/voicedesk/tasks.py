"""Owned asyncio tasks: every task has an owner, a name, a reference, and is
cancelled with a timeout (some libraries swallow cancellation; ``pc.close()`` can
hang), so nothing outlives what started it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
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
    """A set of named tasks that are cancelled together."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def __len__(self) -> int:
        return len(self._tasks)

    async def cancel_all(self, grace: float = CANCEL_TIMEOUT) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            done, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                logger.warning("task %s did not stop within %g s", task.get_name(), grace)
            for task in done:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    task.result()  # retrieved, so no "exception was never retrieved"
