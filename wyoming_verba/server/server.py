"""Server lifecycle: engines, the TCP listener, zeroconf, signals and graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from typing import Any
from urllib.parse import urlparse

from wyoming_verba.config import Config
from wyoming_verba.engines.base import Engine
from wyoming_verba.server.handler import SHUTTING_DOWN, VerbaHandler
from wyoming_verba.server.identity import load_server_id
from wyoming_verba.server.request import Problem
from wyoming_verba.server.service import SpeechService, build_engines
from wyoming_verba.server.voice_admin import VoiceAdmin
from wyoming_verba.server.zeroconf import ZeroconfAdvertiser, advertised_address

_LOGGER = logging.getLogger(__name__)
_END_NOW_TIMEOUT_S = 2.0  # for requests cut short at shutdown to send their Error and audio-stop


class VerbaServer:
    """A running wyoming_verba server."""

    def __init__(
        self,
        config: Config,
        engines: dict[str, Engine] | None = None,
        listener: socket.socket | None = None,
    ) -> None:
        """`listener`: a socket from bind_listener, so a busy port is found before engines load."""
        self.config = config
        self._socket = listener
        self.server_id = load_server_id(config.server.data_dir)
        self.service = SpeechService(
            config, engines if engines is not None else build_engines(config), self.server_id
        )
        self.voice_admin = VoiceAdmin(config, self.service)
        self._listener: asyncio.Server | None = None
        self._handlers: dict[asyncio.Task[None], VerbaHandler] = {}
        self._admitted: set[VerbaHandler] = set()
        self._stopping = False
        self._advertiser: ZeroconfAdvertiser | None = None

    @property
    def port(self) -> int:
        """The TCP port actually bound (useful with port 0)."""
        assert self._listener is not None, "server not started"
        return int(self._listener.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Start engines, listen, and advertise."""
        sock = self._socket or bind_listener(self.config.server.uri)  # before anything heavy
        self._socket = None
        try:
            self.voice_admin.load_stored()
            await self.service.start()
            self._listener = await asyncio.start_server(self._accept, sock=sock)
        except BaseException:
            sock.close()
            raise
        host = urlparse(self.config.server.uri).hostname or "0.0.0.0"
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
        handler = VerbaHandler(reader, writer, self.service, self.config.server, self.voice_admin)
        if self._stopping:
            await handler.refuse(SHUTTING_DOWN)
            return
        if not self._admit(handler):
            limit = self.config.server.max_connections
            _LOGGER.warning(
                "Refusing a connection: all %d connections (server.max_connections) have "
                "requests in progress",
                limit,
            )
            await handler.refuse(
                Problem(
                    "busy",
                    f"server busy: it already serves {limit} connections "
                    "(server.max_connections); try again later",
                )
            )
            return
        task = asyncio.current_task()
        assert task is not None
        self._handlers[task] = handler
        try:
            await handler.run()
        finally:
            self._handlers.pop(task, None)
            self._admitted.discard(handler)

    def _admit(self, handler: VerbaHandler) -> bool:
        """Take a slot; when all are taken, the connection idle the longest makes room."""
        limit = self.config.server.max_connections
        if len(self._admitted) >= limit:
            idle = [other for other in self._admitted if other.idle]
            if not idle:
                return False
            oldest = min(idle, key=lambda other: other.last_activity)
            self._admitted.discard(oldest)
            oldest.evict(
                Problem(
                    "evicted",
                    "closing this idle connection to make room for a new one "
                    f"(server.max_connections = {limit})",
                )
            )
            _LOGGER.info(
                "Closed the connection idle longest to make room (server.max_connections = %d)",
                limit,
            )
        self._admitted.add(handler)
        return True

    async def stop(self, hurry: asyncio.Event | None = None) -> None:
        """Stop listening and advertising, let requests finish (server.shutdown_grace_s), close.

        Setting `hurry` ends the grace period early. Stopping twice does nothing more.
        """
        if self._stopping:
            return
        self._stopping = True
        if self._listener is not None:
            self._listener.close()
        if self._advertiser is not None:
            with contextlib.suppress(Exception):
                await self._advertiser.close()
            self._advertiser = None
        await self._drain(hurry)
        await self.service.close()
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._listener.wait_closed(), 2)

    async def _drain(self, hurry: asyncio.Event | None) -> None:
        handlers = dict(self._handlers)
        busy = sum(not handler.idle for handler in handlers.values())
        for handler in handlers.values():
            handler.drain()
        grace = self.config.server.shutdown_grace_s
        if busy:
            _LOGGER.info(
                "Waiting up to %g s (server.shutdown_grace_s) for %d connection(s) to finish",
                grace,
                busy,
            )
        pending = await _wait_for(set(handlers), grace, hurry)
        if pending:
            _LOGGER.warning(
                "Ending %d connection(s) still busy after the grace period with an error",
                len(pending),
            )
            for task in pending:
                handlers[task].end_now()
            pending = await _wait_for(pending, _END_NOW_TIMEOUT_S, None)
        # Never cancel a connection task itself: asyncio (3.11) logs a traceback for that.
        for task in pending:
            handlers[task].abort()
        if pending:
            await asyncio.wait(pending)

    async def run_until_signal(self) -> int:
        """Start, serve until SIGTERM or SIGINT, shut down cleanly; return the exit code.

        A second signal during the shutdown ends the grace period at once.
        """
        loop = asyncio.get_running_loop()
        stop_requested = asyncio.Event()
        hurry = asyncio.Event()

        def on_signal() -> None:
            (hurry if stop_requested.is_set() else stop_requested).set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, on_signal)
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
            await self.stop(hurry)
        _LOGGER.info("Stopped")
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


def bind_listener(uri: str) -> socket.socket:
    """A socket bound to server.uri's address and listening (OSError when it cannot be)."""
    parsed = urlparse(uri)
    host, port = parsed.hostname or "0.0.0.0", parsed.port or 0
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
    return socket.create_server((host, port), family=family, backlog=100)


async def _wait_for(
    tasks: set[asyncio.Task[None]], timeout: float, hurry: asyncio.Event | None
) -> set[asyncio.Task[None]]:
    """Wait until the tasks are done, `timeout` passes or `hurry` is set; return those pending."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    pending = set(tasks)
    hurried = asyncio.create_task((hurry or asyncio.Event()).wait())
    try:
        while pending and not hurried.done() and (left := deadline - loop.time()) > 0:
            done, _ = await asyncio.wait(
                pending | {hurried}, timeout=left, return_when=asyncio.FIRST_COMPLETED
            )
            pending -= done
    finally:
        hurried.cancel()
    return pending
