"""asyncio helpers shared by the request pipeline and the engines."""

from __future__ import annotations

import asyncio
from typing import Any


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel a task and wait until it is done; re-raise if we were cancelled meanwhile.

    The cancel is repeated: Python 3.11's asyncio.wait_for drops a cancellation that arrives as its
    inner await completes, and a task left running would go on writing after we moved on. The
    task's own outcome (result, error, CancelledError) is left with it.
    """
    interrupted = False
    while not task.done():
        task.cancel()
        try:
            await asyncio.wait({task}, timeout=0.1)
        except asyncio.CancelledError:
            interrupted = True
    if not task.cancelled():
        task.exception()  # retrieved: no "exception was never retrieved" warning
    if interrupted:
        raise asyncio.CancelledError
