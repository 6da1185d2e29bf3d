"""One client connection: Describe at once, requests served in order, every wait bounded."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.server import AsyncEventHandler
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop

from wyoming_verba.config import ServerConfig
from wyoming_verba.protocol.echo import echo
from wyoming_verba.server import wire
from wyoming_verba.server.request import Problem, RequestIntake, SynthesisRequest
from wyoming_verba.server.responder import Responder
from wyoming_verba.server.service import SpeechService
from wyoming_verba.server.voice_admin import VoiceAdmin

_LOGGER = logging.getLogger(__name__)
_FAREWELL_TIMEOUT_S = 1.0  # a closing notice must not hold the connection (or a shutdown) long
SHUTTING_DOWN = Problem("shutting-down", "the server is shutting down; try again in a moment")


class VerbaHandler(AsyncEventHandler):
    """Reads a connection's events; its requests are queued (bounded) for a worker task."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        service: SpeechService,
        config: ServerConfig,
        voices: VoiceAdmin | None = None,
    ) -> None:
        super().__init__(reader, writer)
        self._service = service
        self._config = config
        self._voices = voices
        self._queue: asyncio.Queue[SynthesisRequest] = asyncio.Queue()
        self._room = asyncio.Semaphore(config.max_pending_requests)
        self._in_flight = 0
        self._answering_voice = False  # a verba-voice-* is being answered (on the read loop)
        self._intake = RequestIntake(service, config, self._enqueue)
        self._responder = Responder(service, config, self.write_event)
        self._farewell: Problem | None = None  # an Error to send just before closing
        self._reading: asyncio.Task[None] | None = None
        self._worker: asyncio.Task[None] | None = None
        self.last_activity = time.monotonic()

    @property
    def idle(self) -> bool:
        """No request queued, in progress or streaming in: closing it loses nobody's audio."""
        return self._intake.closing is None and not self._has_work()

    async def run(self) -> None:
        """Serve the connection until the client leaves, misbehaves, idles out or we shut down."""
        try:
            await self._serve_connection()
        finally:
            self._close_transport()

    async def refuse(self, problem: Problem) -> None:
        """Answer a connection that is not admitted with an Error, and close it."""
        with contextlib.suppress(ConnectionError):
            await wire.write_event(self.writer, _error(problem), _FAREWELL_TIMEOUT_S)
        self._close_transport()

    def evict(self, problem: Problem) -> None:
        """Close an idle connection (to make room for a new one), telling it why."""
        self._farewell = self._intake.closing = problem
        self._stop_reading()

    def drain(self) -> None:
        """Take no new requests; close once the ones in progress have finished."""
        self._intake.closing = SHUTTING_DOWN
        if not self._has_work():
            self._stop_reading()

    def end_now(self) -> None:
        """End the requests in progress with an Error (and their audio-stop), then close."""
        self._intake.closing = SHUTTING_DOWN
        self._intake.end_stream(None)
        self._responder.end_all(SHUTTING_DOWN)
        if self._answering_voice:  # cut the creation short; the farewell is its Error
            self._farewell = SHUTTING_DOWN
            self._stop_reading()
        elif not self._has_work():
            self._stop_reading()

    def abort(self) -> None:
        """Drop the connection now, without a word (the last resort of a shutdown)."""
        for task in (self._reading, self._worker):
            if task is not None:
                task.cancel()
        self.writer.transport.abort()

    async def write_event(self, event: Event) -> None:
        """Send an event; WriteStalledError when the client reads nothing for write_timeout_s."""
        await wire.write_event(self.writer, event, self._config.write_timeout_s)
        self._touch()

    async def _serve_connection(self) -> None:
        worker = self._worker = asyncio.create_task(self._work(), name="verba connection worker")
        self._reading = asyncio.create_task(self._read_loop(), name="verba connection reader")
        try:
            await asyncio.wait({worker, self._reading}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (self._reading, worker):
                task.cancel()
            await asyncio.wait({self._reading, worker})
        for task in (self._reading, worker):
            _report(task)
        if self._farewell is not None and not self.writer.is_closing():
            with contextlib.suppress(ConnectionError):
                await wire.write_event(self.writer, _error(self._farewell), _FAREWELL_TIMEOUT_S)

    def _close_transport(self) -> None:
        transport = self.writer.transport
        if transport.get_write_buffer_size():
            transport.abort()  # the client is not reading: do not keep its bytes around
        else:
            self.writer.close()

    def _stop_reading(self) -> None:
        if self._reading is not None:
            self._reading.cancel()

    def _has_work(self) -> bool:
        return self._in_flight > 0 or self._intake.stream is not None or self._answering_voice

    def _touch(self) -> None:
        self.last_activity = time.monotonic()

    async def _read_loop(self) -> None:
        while (first := await self._next_event_start()) is not None:
            try:
                event = await wire.read_event(
                    self.reader,
                    first,
                    self._config.max_event_bytes,
                    self._config.read_timeout_s,
                    self._voices.payload_limits if self._voices is not None else None,
                )
            except wire.ProtocolError as err:
                _LOGGER.warning("Closing a connection after a malformed event: %s", err)
                self._farewell = Problem(err.code, f"malformed event: {err}")
                return
            if event is None:
                return
            self._touch()
            await self.handle_event(event)

    async def _next_event_start(self) -> bytes | None:
        """The first byte of the next event; None at end of stream or when idle too long.

        An open stream waits up to server.stream_pause_s for text (an LLM calling a slow tool),
        not idle_timeout_s; max_stream_s bounds it whole.
        """
        while True:
            stream = self._intake.stream
            busy = self._in_flight > (0 if stream is None else 1)
            limit = self._config.idle_timeout_s if stream is None else self._config.stream_pause_s
            wait = limit if busy else self.last_activity + limit - time.monotonic()
            if stream is not None:
                stream_left = stream.opened_at + self._config.max_stream_s - time.monotonic()
                if stream_left <= 0:
                    await self._end_long_stream(stream)
                    continue
                wait = min(wait, stream_left)
            if wait <= 0:
                if stream is None:
                    self._farewell = Problem(
                        "idle-timeout",
                        f"closing the connection: no request for {limit:g} s "
                        "(server.idle_timeout_s)",
                    )
                    return None
                await self._time_out_stream(stream, limit)
                continue
            try:
                # asyncio.timeout, not wait_for: in 3.11 wait_for can swallow a cancellation
                # that arrives just as the read completes, and drain() relies on cancelling.
                async with asyncio.timeout(wait):
                    first = await self.reader.read(1)
            except TimeoutError:
                continue
            return first or None

    async def _end_long_stream(self, stream: SynthesisRequest) -> None:
        """A stream open for server.max_stream_s: speak what it sent, end it, then close."""
        limit = self._config.max_stream_s
        _LOGGER.warning(
            "Ending a streaming synthesize open for %g s (server.max_stream_s); its text so far "
            "is spoken and the connection closed after it",
            limit,
        )
        problem = Problem(
            "stream-too-long",
            f"the stream was open for {limit:g} s (server.max_stream_s): the text sent so far is "
            "spoken, the rest is not; closing the connection",
        )
        await self._cut_stream(stream, problem)

    async def _time_out_stream(self, stream: SynthesisRequest, pause_s: float) -> None:
        """An open stream got no text for stream_pause_s: end it, then close the connection."""
        problem = Problem(
            "idle-timeout",
            f"the stream got no text for {pause_s:g} s (server.stream_pause_s); the text so far "
            "is spoken; closing",
        )
        await self._cut_stream(stream, problem)

    async def _cut_stream(self, stream: SynthesisRequest, problem: Problem) -> None:
        """Speak the stream's text so far, end it with `problem`, then close the connection."""
        self._intake.closing = problem
        await self._intake.stop_stream()  # flushes the text so far into the request
        stream.fail(problem)

    async def handle_event(self, event: Event) -> bool:
        """Dispatch one event; synthesis is queued for the worker so this returns at once."""
        if Describe.is_type(event.type):
            await self.write_event(self._service.describe_event())
        elif SynthesizeStart.is_type(event.type):
            await self._intake.start_stream(event.data)
        elif SynthesizeChunk.is_type(event.type):
            await self._intake.stream_chunk(event.data)
        elif SynthesizeStop.is_type(event.type):
            await self._intake.stop_stream()
        elif Synthesize.is_type(event.type):
            await self._intake.synthesize(event.data)
        elif self._voices is not None and self._voices.handles(event.type):
            await self._answer_voice(self._voices, event)
        else:
            _LOGGER.debug("Ignoring an event of type %s", echo(event.type))
        return True

    async def _answer_voice(self, voices: VoiceAdmin, event: Event) -> None:
        """A verba-voice-* event: work in progress, never evicted as idle."""
        self._answering_voice = True
        try:
            reply = await voices.answer(event)
        finally:
            self._answering_voice = False
        await self.write_event(reply)
        if self._intake.closing is not None and not self._has_work():
            self._stop_reading()  # a drain waited for this answer

    async def _enqueue(self, request: SynthesisRequest) -> None:
        """Queue for the worker; waits (reading nothing more) while max_pending_requests are."""
        await self._room.acquire()
        self._in_flight += 1
        self._queue.put_nowait(request)

    async def _work(self) -> None:
        while True:
            request = await self._queue.get()
            try:
                await self._responder.serve(request)
            finally:
                self._in_flight -= 1
                self._room.release()
                self._touch()
            if self._intake.closing is not None and not self._has_work():
                self._stop_reading()


def _error(problem: Problem) -> Event:
    return Error(text=problem.message, code=problem.code).event()


def _report(task: asyncio.Task[None]) -> None:
    """Log how a connection task ended, when that is worth a line."""
    if task.cancelled():
        return
    err = task.exception()
    if isinstance(err, wire.WriteStalledError):
        _LOGGER.warning("Dropping a client: %s; its synthesis is cancelled", err)
    elif isinstance(err, ConnectionError):
        _LOGGER.debug("Client connection lost: %s", err)
    elif err is not None:
        _LOGGER.error("Unexpected error on a connection", exc_info=err)
