import asyncio

from voicedesk.tasks import TaskOwner, cancel_and_wait


async def test_cancel_and_wait_stops_a_task_and_tolerates_none():
    task = asyncio.get_running_loop().create_task(asyncio.sleep(60), name="sleeper")
    await cancel_and_wait(task)
    assert task.cancelled()
    await cancel_and_wait(None)


async def test_a_task_that_swallows_cancellation_is_given_up_on(caplog):
    async def stubborn() -> None:
        for _ in range(3):
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                continue

    task = asyncio.get_running_loop().create_task(stubborn(), name="stubborn")
    await asyncio.sleep(0)
    await cancel_and_wait(task, grace=0.05)
    assert "stubborn did not stop within 0.05 s" in caplog.text
    task.cancel()


async def test_owner_keeps_references_and_cancels_everything():
    owner = TaskOwner()
    done = owner.spawn(asyncio.sleep(0), "quick")
    owner.spawn(asyncio.sleep(60), "slow")
    await done
    await asyncio.sleep(0)
    assert len(owner) == 1  # finished tasks are forgotten
    await owner.cancel_all()
    assert len(owner) == 0


async def test_owner_names_its_tasks_logs_failures_and_cancels_one(caplog):
    owner = TaskOwner("pipe", cancel_timeout=0.05, failed="task %s failed")

    async def broken() -> None:
        raise ValueError("boom")

    failing = owner.spawn(broken(), "broken")
    assert failing.get_name() == "pipe/broken"
    await asyncio.wait({failing})
    await asyncio.sleep(0)
    assert "task pipe/broken failed" in caplog.text
    slow = owner.spawn(asyncio.sleep(60), "slow")
    assert list(owner) == [slow]
    await owner.cancel(slow)
    assert slow.cancelled() and not owner


async def test_cancel_all_spares_the_task_that_calls_it():
    owner = TaskOwner()

    async def closer() -> bool:
        await owner.cancel_all()
        return True

    task = owner.spawn(closer(), "closer")
    assert await task
