"""csm.unload_after_s: give the model's memory back after a while with no CSM request.

The watch runs on the event loop while the model is loaded. It unloads only when the worker holds
no reply (queued or in a slot: a request in flight is never cut) and neither the worker nor a new
request (`touch`) has been active for `after_s`. What the unload returned is measured, on CUDA as
reserved VRAM, on the CPU as the process's resident memory. Releasing cached CUDA memory (after
an unload, a failed step, or close) is one function here.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
import os
import time
from collections.abc import Awaitable, Callable

import torch

from wyoming_verba.engines.csm.model.pipeline import release_cuda_cache

_LOGGER = logging.getLogger(__name__)


class IdleWatch:
    """Calls `unload` once the model has been unused for `after_s` (None: never)."""

    def __init__(
        self,
        after_s: float | None,
        busy: Callable[[], tuple[bool, float]],
        unload: Callable[[], Awaitable[None]],
    ) -> None:
        self._after_s = after_s
        self._busy = busy  # (worker holds a reply, its last activity, monotonic)
        self._unload = unload
        self._touched = time.monotonic()
        self._task: asyncio.Task[None] | None = None

    def touch(self) -> None:
        """A request wants the model now."""
        self._touched = time.monotonic()

    def arm(self) -> None:
        """Start watching (after a load)."""
        self.touch()
        if self._after_s is not None and self._task is None:
            self._task = asyncio.create_task(self._watch(self._after_s), name="csm idle watch")

    def disarm(self) -> None:
        """Stop watching (close, or the unload itself)."""
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def _watch(self, after_s: float) -> None:
        while True:
            busy, last_active = self._busy()
            idle_since = max(self._touched, last_active)
            wait = idle_since + after_s - time.monotonic()
            if not busy and wait <= 0:
                self._task = None
                await self._unload()
                return
            await asyncio.sleep(min(after_s, 1.0) if busy else max(wait, 0.05))


def memory_in_use(device: torch.device) -> tuple[str, int]:
    """('VRAM', bytes reserved by torch) on CUDA, ('RSS', resident bytes) on the CPU."""
    if device.type == "cuda":
        return "VRAM", int(torch.cuda.memory_reserved(device))
    return "RSS", resident_bytes()


def resident_bytes() -> int:
    """This process's resident set size (Linux /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def release_memory(compiled: bool) -> None:
    """After the model's last reference is gone: drop compiled code that may hold it, collect,
    and hand freed memory back to the driver (CUDA) or the OS (glibc's malloc_trim)."""
    if compiled:
        from torch import _dynamo

        _dynamo.reset()  # the next load re-traces and finds its graphs in the disk cache
    gc.collect()
    release_cuda_cache()
    libc = ctypes.util.find_library("c")
    if libc is not None:
        trim = getattr(ctypes.CDLL(libc), "malloc_trim", None)
        if trim is not None:
            trim(0)
