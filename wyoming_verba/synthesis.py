"""Sentences → audio chunks: one sentence ahead, fallback, resampling, chunking."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass

from .audio import Chunker, Pcm, Resampler
from .engines.base import Engine, EngineError, EngineUnavailableError
from .metrics import RequestMetrics
from .voices import VoiceChoice

_LOGGER = logging.getLogger(__name__)


@dataclass
class _FallbackState:
    """Once the primary engine failed within a request, later sentences go to the fallback."""

    active: bool = False


class _SentenceJob:
    """Synthesizes one sentence in its own task into a queue of PCM blocks."""

    def __init__(
        self,
        text: str,
        plan: SynthesisPlan,
        fallback_state: _FallbackState,
    ) -> None:
        self.text = text
        self._plan = plan
        self._fallback_state = fallback_state
        self.queue: asyncio.Queue[Pcm | BaseException | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"sentence {self.text[:20]!r}")

    async def cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        plan = self._plan
        try:
            if not self._fallback_state.active and await self._synthesize(plan.engine, plan.voice):
                return
            assert plan.fallback is not None
            await self._synthesize(plan.fallback, plan.fallback.default_voice())
        except BaseException as err:
            self.queue.put_nowait(err)
            if isinstance(err, asyncio.CancelledError):
                raise
        finally:
            self.queue.put_nowait(None)

    async def _synthesize(self, engine: Engine, voice: VoiceChoice) -> bool:
        """Stream this sentence from `engine`; False if it failed before any audio: fall back."""
        resampler = Resampler(engine.sample_rate, self._plan.output_rate)
        produced = False
        try:
            async with contextlib.aclosing(engine.synthesize(self.text, voice)) as stream:
                async for pcm in stream:
                    produced = produced or pcm.size > 0
                    self.queue.put_nowait(resampler.process(pcm))
        except EngineUnavailableError as err:
            if produced or self._plan.fallback is None or engine is self._plan.fallback:
                raise
            self._fallback_state.active = True
            _LOGGER.warning(
                "%s engine failed (%s); using the %s engine (tts.fallback)",
                engine.name,
                err,
                self._plan.fallback.name,
            )
            return False
        self.queue.put_nowait(resampler.flush())
        return True


@dataclass(frozen=True)
class SynthesisPlan:
    """Which engine, voice, fallback and output rate a request uses."""

    engine: Engine
    voice: VoiceChoice
    fallback: Engine | None
    output_rate: int


def make_plan(
    engines: Mapping[str, Engine],
    voice: VoiceChoice,
    fallback: str | None,
    output_rate: int | None,
) -> SynthesisPlan:
    """Build the plan for a resolved voice."""
    engine = engines[voice.engine]
    fallback_engine = engines.get(fallback) if fallback and fallback != voice.engine else None
    return SynthesisPlan(engine, voice, fallback_engine, output_rate or engine.sample_rate)


async def stream_audio(
    sentences: AsyncIterator[str],
    plan: SynthesisPlan,
    samples_per_chunk: int,
    metrics: RequestMetrics,
) -> AsyncGenerator[bytes, None]:
    """Yield 16-bit mono chunks at plan.output_rate; sentence N+1 is synthesized while N streams.

    Raises EngineError (with a user-facing message) when synthesis fails.
    """
    jobs: asyncio.Queue[_SentenceJob | BaseException | None] = asyncio.Queue(maxsize=1)
    started: list[_SentenceJob] = []
    fallback_state = _FallbackState()

    async def produce() -> None:
        try:
            async for sentence in sentences:
                metrics.chars += len(sentence)
                job = _SentenceJob(sentence, plan, fallback_state)
                await jobs.put(job)
                started.append(job)
                job.start()
        except Exception as err:
            await jobs.put(err)
            return
        await jobs.put(None)

    producer = asyncio.create_task(produce(), name="sentence producer")
    chunker = Chunker(samples_per_chunk)
    try:
        while (job := await jobs.get()) is not None:
            if isinstance(job, BaseException):
                raise job
            while (block := await job.queue.get()) is not None:
                if isinstance(block, BaseException):
                    raise block
                for chunk in chunker.push(block):
                    metrics.add_audio(len(chunk) // 2)
                    yield chunk
        for chunk in chunker.flush():
            metrics.add_audio(len(chunk) // 2)
            yield chunk
    finally:
        if fallback_state.active and plan.fallback is not None:
            metrics.backend = f"{plan.fallback.name}(fallback-from-{plan.engine.name})"
        producer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await producer
        for job in started:
            await job.cancel()


async def iterate(items: list[str]) -> AsyncIterator[str]:
    """An async iterator over a fixed list of sentences."""
    for item in items:
        yield item


__all__ = ["EngineError", "SynthesisPlan", "iterate", "make_plan", "stream_audio"]
