"""A request's sentences → audio chunks: the engine speaks the reply, with fallback, resampling and
fixed-size chunking.

The engine gets the whole stream of sentences (CSM keeps one slot for the reply; Edge synthesizes
one sentence ahead). When the primary engine cannot serve — still loading, failed to load, out of
memory, service down — before any audio of a sentence, that sentence and the rest go to
tts.fallback. The log says so; if the fallback fails too, the error names both causes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass, field

from .aio import cancel_and_wait
from .audio import Chunker, Resampler
from .engines.base import Engine, EngineError, EngineState, EngineUnavailableError, SentenceEnd
from .metrics import RequestMetrics
from .voices import VoiceChoice

_LOGGER = logging.getLogger(__name__)
_NOT_READY = (EngineState.IDLE, EngineState.LOADING, EngineState.UNLOADED)


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


@dataclass
class _SentenceFeed:
    """The request's sentences, replayable from the first one not yet fully spoken.

    A task pumps the source into a queue, so an engine that is abandoned mid-read (cancelled)
    cannot close the source for the engine that takes over.
    """

    source: AsyncIterator[str]
    metrics: RequestMetrics
    unfinished: list[str] = field(default_factory=list)
    audio_in_sentence: bool = False
    _queue: asyncio.Queue[str | BaseException | None] = field(default_factory=asyncio.Queue)
    _pump: asyncio.Task[None] | None = None

    async def sentences(self) -> AsyncIterator[str]:
        """Unfinished sentences first (after a switch of engine), then new ones."""
        if self._pump is None:
            self._pump = asyncio.create_task(self._read(), name="sentence feed")
        for sentence in list(self.unfinished):
            yield sentence
        while True:
            item = await self._queue.get()
            if item is None or isinstance(item, BaseException):
                self._queue.put_nowait(item)  # the next reader sees the end too
                if item is None:
                    return
                raise item
            self.unfinished.append(item)
            yield item

    async def _read(self) -> None:
        try:
            async for sentence in self.source:
                self.metrics.chars += len(sentence)
                self._queue.put_nowait(sentence)
        except Exception as err:
            self._queue.put_nowait(err)
            return
        self._queue.put_nowait(None)

    def sentence_done(self) -> None:
        self.unfinished.pop(0)
        self.audio_in_sentence = False

    async def close(self) -> None:
        if self._pump is not None:
            await cancel_and_wait(self._pump)


async def stream_audio(
    sentences: AsyncIterator[str],
    plan: SynthesisPlan,
    samples_per_chunk: int,
    metrics: RequestMetrics,
) -> AsyncGenerator[bytes, None]:
    """Yield 16-bit mono chunks at plan.output_rate as the engine produces audio.

    Raises EngineError (with a user-facing message) when synthesis fails.
    """
    feed = _SentenceFeed(sentences, metrics)
    try:
        async for chunk in _speak(feed, plan, samples_per_chunk, metrics):
            yield chunk
    finally:
        await feed.close()


async def _speak(
    feed: _SentenceFeed, plan: SynthesisPlan, samples_per_chunk: int, metrics: RequestMetrics
) -> AsyncGenerator[bytes, None]:
    chunker = Chunker(samples_per_chunk)
    engines = _engine_order(plan, metrics)
    failure: EngineError | None = None
    for index, engine in enumerate(engines):
        voice = plan.voice if engine is plan.engine else engine.default_voice()
        resampler = Resampler(engine.sample_rate, plan.output_rate)
        try:
            async with contextlib.aclosing(engine.speak(feed.sentences(), voice)) as stream:
                async for item in stream:
                    if isinstance(item, SentenceEnd):
                        pcm = resampler.flush()
                        feed.sentence_done()
                    else:
                        pcm = resampler.process(item)
                        feed.audio_in_sentence = feed.audio_in_sentence or item.size > 0
                    for chunk in chunker.push(pcm):
                        metrics.add_audio(len(chunk) // 2)
                        yield chunk
            break
        except EngineError as err:
            fall_back = isinstance(err, EngineUnavailableError) and index < len(engines) - 1
            if feed.audio_in_sentence or not fall_back:
                raise _with_cause(err, failure) from err
            failure = err
            metrics.backend = f"{engines[-1].name}(fallback-from-{engine.name})"
            _LOGGER.warning(
                "%s engine failed (%s); using the %s engine (tts.fallback)",
                engine.name,
                err,
                engines[-1].name,
            )
    for chunk in chunker.flush():
        metrics.add_audio(len(chunk) // 2)
        yield chunk


def _engine_order(plan: SynthesisPlan, metrics: RequestMetrics) -> list[Engine]:
    """Primary then fallback; only the fallback while the primary is still loading."""
    if plan.fallback is None:
        return [plan.engine]
    if plan.engine.status().state in _NOT_READY:
        plan.engine.ensure_loading()
        _LOGGER.info(
            "%s is still loading; the %s engine (tts.fallback) serves this request",
            plan.engine.name,
            plan.fallback.name,
        )
        metrics.backend = f"{plan.fallback.name}(while-{plan.engine.name}-loads)"
        return [plan.fallback]
    return [plan.engine, plan.fallback]


def _with_cause(err: EngineError, earlier: EngineError | None) -> EngineError:
    if earlier is None:
        return err
    return type(err)(f"{err} (the primary engine had failed first: {earlier})")


__all__ = ["EngineError", "SynthesisPlan", "make_plan", "stream_audio"]
