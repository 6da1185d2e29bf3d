"""A one-line 'what we wait for, how long so far' ticker on stderr; only on a terminal."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from typing import TextIO

TICK_S = 0.5


class Ticker:
    """Rewrites one stderr line with the label and the seconds waited; `label` may change."""

    def __init__(self, label: str, stream: TextIO) -> None:
        self.label = label
        self._stream = stream
        self._started = time.monotonic()

    def draw(self) -> None:
        """Show the current line."""
        waited = time.monotonic() - self._started
        self._stream.write(f"\r\033[K{self.label} {waited:.0f} s")
        self._stream.flush()

    async def run(self) -> None:
        """Redraw until cancelled."""
        while True:
            self.draw()
            await asyncio.sleep(TICK_S)


@contextlib.asynccontextmanager
async def ticking(label: str, stream: TextIO | None = None) -> AsyncIterator[Ticker]:
    """A Ticker drawn while the block runs and erased after it; silent when not a terminal."""
    out = stream or sys.stderr
    ticker = Ticker(label, out)
    if not out.isatty():
        yield ticker
        return
    task = asyncio.create_task(ticker.run())
    try:
        yield ticker
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        out.write("\r\033[K")
        out.flush()
