"""cancel_and_wait: a stopping owner must not hang on a task that swallowed a cancellation."""

from __future__ import annotations

import asyncio

from services.common.aio import cancel_and_wait


async def swallows_first_cancel(log: list[str]) -> None:
    """Like a task whose cancellation was lost in Python 3.11's wait_for (gh-86296)."""
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        log.append("swallowed")
        asyncio.current_task().uncancel()  # type: ignore[union-attr]
    while True:
        await asyncio.sleep(0.01)  # carries on as if never cancelled


async def test_a_swallowed_cancellation_is_asked_again() -> None:
    log: list[str] = []
    task = asyncio.create_task(swallows_first_cancel(log))
    await asyncio.sleep(0.01)
    assert await cancel_and_wait(task, timeout_s=2, every_s=0.02)
    assert task.cancelled() and log == ["swallowed"]


async def test_a_task_that_never_ends_is_left_behind_not_waited_on_forever() -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                asyncio.current_task().uncancel()  # type: ignore[union-attr]

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0.01)
    assert not await cancel_and_wait(task, timeout_s=0.2, every_s=0.02)
    assert not task.done()
    release.set()  # the test's own clean-up
    task.cancel()
    await asyncio.wait({task}, timeout=1)
    assert task.done()


async def test_a_failed_task_is_reaped_quietly() -> None:
    async def fails() -> None:
        raise RuntimeError("boom")

    task = asyncio.create_task(fails())
    await asyncio.sleep(0)
    assert await cancel_and_wait(task)
    assert isinstance(task.exception(), RuntimeError)
