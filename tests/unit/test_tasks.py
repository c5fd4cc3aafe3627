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
