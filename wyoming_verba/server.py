"""Server lifecycle: engines, the TCP listener, zeroconf, signals and graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any
from urllib.parse import urlparse

from .config import Config
from .engines.base import Engine
from .handler import VerbaHandler
from .identity import load_server_id
from .service import SpeechService, build_engines
from .zeroconf import ZeroconfAdvertiser, advertised_address

_LOGGER = logging.getLogger(__name__)


class VerbaServer:
    """A running wyoming_verba server."""

    def __init__(self, config: Config, engines: dict[str, Engine] | None = None) -> None:
        self.config = config
        self.server_id = load_server_id(config.server.data_dir)
        self.service = SpeechService(
            config, engines if engines is not None else build_engines(config), self.server_id
        )
        self._listener: asyncio.Server | None = None
        self._handlers: dict[asyncio.Task[None], VerbaHandler] = {}
        self._connections = 0
        self._advertiser: ZeroconfAdvertiser | None = None

    @property
    def port(self) -> int:
        """The TCP port actually bound (useful with port 0)."""
        assert self._listener is not None, "server not started"
        return int(self._listener.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Start engines, listen, and advertise."""
        await self.service.start()
        uri = urlparse(self.config.server.uri)
        host = uri.hostname or "0.0.0.0"
        self._listener = await asyncio.start_server(self._accept, host=host, port=uri.port)
        _LOGGER.info(
            "Listening on tcp://%s:%d (engines: %s, default: %s)",
            host,
            self.port,
            ", ".join(self.service.engines),
            self.config.tts.backend,
        )
        zeroconf = self.config.server.zeroconf
        if zeroconf.enabled:
            address = advertised_address(host, zeroconf.host)
            self._advertiser = ZeroconfAdvertiser(zeroconf.name, address, self.port, self.server_id)
            await self._advertiser.start()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        admitted = self._connections < self.config.server.max_connections
        if admitted:
            self._connections += 1
        else:
            _LOGGER.warning("Refusing a connection: server.max_connections reached")
        handler = VerbaHandler(
            reader,
            writer,
            self.service,
            self.config.server,
            admitted=admitted,
            on_close=self._release if admitted else None,
        )
        task = asyncio.current_task()
        if task is not None:
            self._handlers[task] = handler
        try:
            await handler.run()
        finally:
            if task is not None:
                self._handlers.pop(task, None)

    def _release(self) -> None:
        self._connections -= 1

    async def stop(self) -> None:
        """Stop listening, end connections, unregister zeroconf, close engines."""
        if self._listener is not None:
            self._listener.close()
        for handler in list(self._handlers.values()):
            await handler.stop()
        if self._handlers:
            _done, pending = await asyncio.wait(list(self._handlers), timeout=5)
            for task in pending:
                task.cancel()
        if self._advertiser is not None:
            with contextlib.suppress(Exception):
                await self._advertiser.close()
            self._advertiser = None
        await self.service.close()
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._listener.wait_closed(), 2)

    async def run_until_signal(self) -> int:
        """Start, serve until SIGTERM or SIGINT, shut down cleanly; return the exit code."""
        loop = asyncio.get_running_loop()
        stop_requested = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop_requested.set)
        waits: list[asyncio.Task[Any]] = []
        exit_code = 0
        try:
            await self.start()
            failure = asyncio.create_task(self._default_engine_failed())
            waits = [failure, asyncio.create_task(stop_requested.wait())]
            done, _pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            exit_code = 1 if failure in done else 0
            _LOGGER.info("Shutting down")
        finally:
            for task in waits:
                task.cancel()
            await self.stop()
        return exit_code

    async def _default_engine_failed(self) -> None:
        """Return only when the default engine failed to load and nothing can stand in for it."""
        tts = self.config.tts
        if tts.fallback is None or tts.fallback == tts.backend:
            try:
                await self.service.engines[tts.backend].wait_ready()
            except Exception as err:
                _LOGGER.error(
                    "The %s engine cannot start and tts.fallback is %s: %s",
                    tts.backend,
                    tts.fallback or "none",
                    err,
                )
                return
        await asyncio.Event().wait()
