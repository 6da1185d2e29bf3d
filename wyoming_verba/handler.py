"""One client connection: Describe, synthesize and streaming synthesize, never blocking the loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.server import AsyncEventHandler
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
)

from .audio import CHANNELS, SAMPLE_WIDTH
from .config import ServerConfig
from .engines.base import EngineError
from .metrics import RequestMetrics
from .service import SpeechService
from .synthesis import stream_audio
from .text import SentenceSplitter, split_sentences
from .voices import UnknownVoiceError, VoiceChoice
from .wire import ProtocolError, read_event

_LOGGER = logging.getLogger(__name__)
_END = None


@dataclass
class _Request:
    """One unit of work for the connection's worker: a plain or a streaming synthesize."""

    voice: VoiceChoice
    streaming: bool
    sentences: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    stopped: asyncio.Event = field(default_factory=asyncio.Event)
    chars: int = 0
    failed: bool = False
    _ended: bool = False

    def add(self, sentences: list[str]) -> None:
        if not self._ended:
            for sentence in sentences:
                self.sentences.put_nowait(sentence)

    def end_text(self) -> None:
        if not self._ended:
            self._ended = True
            self.sentences.put_nowait(_END)

    async def iterate(self) -> AsyncIterator[str]:
        while (sentence := await self.sentences.get()) is not None:
            yield sentence


class VerbaHandler(AsyncEventHandler):
    """Handles one connection; synthesis runs in a worker task so events keep being read."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        service: SpeechService,
        config: ServerConfig,
        admitted: bool = True,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(reader, writer)
        self._service = service
        self._config = config
        self._admitted = admitted
        self._on_close = on_close
        self._requests: asyncio.Queue[_Request] = asyncio.Queue()
        self._stream: _Request | None = None
        self._stream_splitter = SentenceSplitter()
        self._worker: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Read events until the client leaves; refuse the connection when the server is full."""
        try:
            if not self._admitted:
                await self._send_error(
                    f"server busy: it already serves {self._config.max_connections} connections "
                    "(server.max_connections); try again later",
                    "busy",
                )
                return
            self._worker = asyncio.create_task(self._work(), name="verba synthesis worker")
            await self._read_loop()
        except ConnectionError:
            _LOGGER.debug("Client connection lost")
        finally:
            _LOGGER.debug("Connection closing")
            if self._worker is not None:
                self._worker.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                    await self._worker
            self.writer.close()
            if self._on_close is not None:
                self._on_close()

    async def _read_loop(self) -> None:
        while True:
            try:
                event = await read_event(self.reader, self._config.max_event_bytes)
            except ProtocolError as err:
                _LOGGER.warning("Dropping client after a malformed event: %s", err)
                await self._send_error(f"malformed event: {err}", "protocol")
                return
            if event is None:
                return
            await self.handle_event(event)

    async def handle_event(self, event: Event) -> bool:
        """Dispatch one event; synthesis is queued for the worker so this returns at once."""
        if Describe.is_type(event.type):
            await self.write_event(self._service.describe_event())
        elif SynthesizeStart.is_type(event.type):
            await self._start_stream(event)
        elif SynthesizeChunk.is_type(event.type):
            await self._stream_chunk(event)
        elif SynthesizeStop.is_type(event.type):
            self._stop_stream()
        elif Synthesize.is_type(event.type):
            if self._stream is None:
                await self._synthesize(event)
            else:
                _LOGGER.debug("Ignoring the full-text synthesize sent alongside a stream")
        else:
            _LOGGER.debug("Ignoring event of type %s", event.type)
        return True

    async def _synthesize(self, event: Event) -> None:
        text = event.data.get("text")
        if not isinstance(text, str):
            await self._send_error("synthesize needs a 'text' string", "bad-request")
            return
        if len(text) > self._config.max_text_chars:
            await self._send_error(
                f"text is {len(text)} characters; this server accepts at most "
                f"{self._config.max_text_chars} (server.max_text_chars)",
                "text-too-long",
            )
            return
        voice = await self._resolve_voice(event)
        if voice is None:
            return
        request = _Request(voice=voice, streaming=False, chars=len(text))
        request.add(split_sentences(text))
        request.end_text()
        request.stopped.set()
        self._requests.put_nowait(request)

    async def _start_stream(self, event: Event) -> None:
        self._stop_stream()
        voice = await self._resolve_voice(event)
        request = _Request(
            voice=voice or self._service.resolve(None, None), streaming=True, failed=voice is None
        )
        self._stream = request
        self._stream_splitter = SentenceSplitter()
        self._requests.put_nowait(request)

    async def _stream_chunk(self, event: Event) -> None:
        request = self._stream
        text = event.data.get("text")
        if request is None or request.failed or not isinstance(text, str):
            return
        request.chars += len(text)
        if request.chars > self._config.max_text_chars:
            request.failed = True
            await self._send_error(
                f"streamed text passed {self._config.max_text_chars} characters "
                "(server.max_text_chars); the rest of this stream is not spoken",
                "text-too-long",
            )
            request.end_text()
            return
        request.add(self._stream_splitter.feed(text))

    def _stop_stream(self) -> None:
        request, self._stream = self._stream, None
        if request is None:
            return
        if not request.failed:
            request.add(self._stream_splitter.flush())
        request.end_text()
        request.stopped.set()

    async def _resolve_voice(self, event: Event) -> VoiceChoice | None:
        voice = event.data.get("voice") or {}
        if not isinstance(voice, dict):
            voice = {}
        try:
            return self._service.resolve(voice.get("name"), voice.get("speaker"))
        except UnknownVoiceError as err:
            await self._send_error(str(err), "unknown-voice")
            return None

    async def _work(self) -> None:
        while True:
            request = await self._requests.get()
            await self._serve(request)

    async def _serve(self, request: _Request) -> None:
        plan = self._service.plan(request.voice)
        metrics = RequestMetrics(plan.engine.name, request.voice.name, plan.output_rate)
        audio_started = False
        if not request.failed:
            outcome = "ok"
            try:
                async with contextlib.aclosing(
                    stream_audio(request.iterate(), plan, self._config.samples_per_chunk, metrics)
                ) as chunks:
                    async for chunk in chunks:
                        if not audio_started:
                            await self._write_audio_start(plan.output_rate)
                            audio_started = True
                        await self.write_event(
                            AudioChunk(plan.output_rate, SAMPLE_WIDTH, CHANNELS, chunk).event()
                        )
            except EngineError as err:
                outcome = "failed"
                request.failed = True
                _LOGGER.warning("Synthesis with %s failed: %s", request.voice.name, err)
                await self._send_error(str(err), "synthesis-failed")
            except (ConnectionError, asyncio.CancelledError):
                metrics.log("cancelled")
                raise
            except Exception:
                outcome = "failed"
                request.failed = True
                _LOGGER.exception("Unexpected error while synthesizing with %s", request.voice.name)
                await self._send_error(
                    "internal error while synthesizing; see the server log", "internal"
                )
            metrics.log(outcome)
        if not request.streaming and not audio_started and not request.failed:
            await self._write_audio_start(plan.output_rate)
            audio_started = True
        if audio_started:
            await self.write_event(AudioStop().event())
        if request.streaming:
            await request.stopped.wait()
            await self.write_event(SynthesizeStopped().event())

    async def _write_audio_start(self, rate: int) -> None:
        await self.write_event(AudioStart(rate, SAMPLE_WIDTH, CHANNELS).event())

    async def _send_error(self, text: str, code: str) -> None:
        with contextlib.suppress(ConnectionError):
            await self.write_event(Error(text=text, code=code).event())
