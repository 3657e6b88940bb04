"""asyncio helpers that shutdown paths rely on.

Python 3.11's ``asyncio.wait_for`` can swallow a cancellation that arrives just as the awaited
call completes (CPython gh-86296, fixed in 3.12); aiokafka uses it for every request. A task
cancelled at that moment carries on as if nothing happened, and ``task.cancel(); await task``
then waits forever. We saw exactly that hang a lease heartbeat, and with it a consumer's
``stop()``. So a stopping owner asks again until the task is gone, and gives up (with a
warning) rather than hang.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)


async def cancel_and_wait(task: asyncio.Task[Any], timeout_s: float = 10.0,
                          every_s: float = 1.0) -> bool:
    """Cancel ``task`` and wait until it ended, cancelling again every ``every_s`` in case a
    cancellation was swallowed. Returns whether it ended within ``timeout_s``; never raises
    the task's exception (a stopping owner has no use for it).

    ``every_s`` is generous because a task that did get the cancellation may still be
    cleaning up (a consumer leaving its group): asking again too soon would cut that short.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    asked = 0
    while not task.done():
        remaining = deadline - loop.time()
        if remaining <= 0:
            log.warning("task %s did not stop within %.1f s; left behind", task.get_name(),
                        timeout_s)
            return False
        if asked == 1:
            log.info("task %s swallowed a cancellation; asking again", task.get_name())
        task.cancel()
        asked += 1
        await asyncio.wait({task}, timeout=min(every_s, remaining))
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log it as never retrieved
    return True
