"""Serving a connection's requests in order: audio out, errors named, every reply properly ended."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.tts import SynthesizeStopped

from wyoming_verba.config import ServerConfig
from wyoming_verba.core.aio import cancel_and_wait
from wyoming_verba.core.audio import CHANNELS, SAMPLE_WIDTH
from wyoming_verba.engines.base import EngineError
from wyoming_verba.server.metrics import RequestMetrics
from wyoming_verba.server.request import Problem, RequestKind, SynthesisRequest
from wyoming_verba.server.service import SpeechService
from wyoming_verba.server.synthesis import SynthesisPlan, stream_audio

_LOGGER = logging.getLogger(__name__)

Writer = Callable[[Event], Awaitable[None]]


@dataclass
class _Progress:
    audio_started: bool = False


class Responder:
    """Serves one connection's requests one after another and writes their replies.

    A plain `synthesize` always ends with audio-stop (after an Error when it failed), a streaming
    one with synthesize-stopped, so a client that ignores Error events never waits.
    """

    def __init__(self, service: SpeechService, config: ServerConfig, write: Writer) -> None:
        self._service = service
        self._config = config
        self._write = write
        self._current: SynthesisRequest | None = None
        self._pump: asyncio.Task[None] | None = None
        self._ending: Problem | None = None
        self._ended = asyncio.Event()

    def end_all(self, problem: Problem) -> None:
        """Cut the request being served short and refuse any that follow (server shutdown)."""
        self._ending = problem
        if self._current is not None:
            self._current.fail(problem)
            self._current.stopped.set()
        if self._pump is not None:
            self._pump.cancel()
        self._ended.set()

    async def serve(self, request: SynthesisRequest) -> None:
        """Answer one request completely; ConnectionError when the client is gone."""
        if self._ending is not None and request.refusal is None:
            request.refusal = self._ending
            request.end_text()
            request.stopped.set()
        if request.refusal is not None:
            await self._refuse(request, request.refusal)
            return
        assert request.voice is not None
        plan = self._service.plan(request.voice, request.options)
        self._current = request
        try:
            await self._synthesize(request, plan)
        finally:
            self._current = None

    async def _refuse(self, request: SynthesisRequest, problem: Problem) -> None:
        if request.kind is RequestKind.NOTICE:
            _LOGGER.debug("Answering a stray event: %s", problem.message)
            await self._send_error(problem)
            return
        metrics = RequestMetrics("-", request.label, 0, started=request.received)
        metrics.log_request(request.chars, "refused", problem.code, problem.message)
        await self._send_error(problem)
        await self._end(request, 0, _Progress(), failed=True)

    async def _synthesize(self, request: SynthesisRequest, plan: SynthesisPlan) -> None:
        assert request.voice is not None
        metrics = RequestMetrics(
            plan.engine.name, request.voice.label, plan.output_rate, started=request.received
        )
        metrics.options = request.options.describe()
        progress = _Progress()
        pump = self._pump = asyncio.create_task(self._stream(request, plan, metrics, progress))
        try:
            await self._wait_for_pump(pump)
            try:
                problem = self._outcome(pump, request)
            except ConnectionError:
                metrics.log_request(request.chars, "cancelled")
                raise
            if problem is None:
                metrics.log_request(request.chars, "ok")
            else:
                metrics.log_request(request.chars, "failed", problem.code, problem.message)
                await self._send_error(problem)
            await self._end(request, plan.output_rate, progress, failed=problem is not None)
        except asyncio.CancelledError:
            if not pump.done():
                metrics.log_request(request.chars, "cancelled")
            raise
        finally:
            # After end_all() the reply went out first; the engine's cleanup is awaited here.
            await cancel_and_wait(pump)
            self._pump = None

    async def _wait_for_pump(self, pump: asyncio.Task[None]) -> None:
        """Until the audio is all sent, or end_all() cut it short."""
        ended = asyncio.create_task(self._ended.wait())
        try:
            await asyncio.wait({pump, ended}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()

    def _outcome(self, pump: asyncio.Task[None], request: SynthesisRequest) -> Problem | None:
        """What went wrong, if anything; re-raises a lost connection."""
        if not pump.done() or pump.cancelled():
            return request.problem or self._ending or Problem("cancelled", "synthesis cancelled")
        err = pump.exception()
        if err is None:
            return request.problem
        if isinstance(err, ConnectionError):
            raise err
        if isinstance(err, EngineError):
            _LOGGER.warning("Synthesis with %s failed: %s", request.label, err)
            return Problem("synthesis-failed", str(err))
        _LOGGER.error("Unexpected error while synthesizing with %s", request.label, exc_info=err)
        return Problem("internal", "internal error while synthesizing; see the server log")

    async def _stream(
        self,
        request: SynthesisRequest,
        plan: SynthesisPlan,
        metrics: RequestMetrics,
        progress: _Progress,
    ) -> None:
        rate = plan.output_rate
        async with contextlib.aclosing(
            stream_audio(request.iterate(), plan, self._config.samples_per_chunk, metrics)
        ) as chunks:
            async for chunk in chunks:
                if self._ending is not None:
                    return  # end_all() already cancelled us, unless a wait_for swallowed that
                if not progress.audio_started:
                    progress.audio_started = True  # before the write: it may be cancelled midway
                    await self._write(AudioStart(rate, SAMPLE_WIDTH, CHANNELS).event())
                await self._write(AudioChunk(rate, SAMPLE_WIDTH, CHANNELS, chunk).event())

    async def _end(
        self, request: SynthesisRequest, rate: int, progress: _Progress, failed: bool
    ) -> None:
        if request.kind is RequestKind.PLAIN:
            if not progress.audio_started and not failed:
                # Empty text: an empty audio stream, so the client gets a (silent) result.
                await self._write(AudioStart(rate, SAMPLE_WIDTH, CHANNELS).event())
            await self._write(AudioStop().event())
            return
        if progress.audio_started:
            await self._write(AudioStop().event())
        await request.stopped.wait()
        await self._write(SynthesizeStopped().event())

    async def _send_error(self, problem: Problem) -> None:
        await self._write(Error(text=problem.message, code=problem.code).event())
