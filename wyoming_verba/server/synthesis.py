"""A request's sentences → audio chunks: the engine speaks the reply, with fallback, resampling and
fixed-size chunking (a short chunk whenever the engine has said all it was given, so a pause in
the client's text never holds back the end of a sentence).

The engine gets the whole stream of sentences (CSM keeps one slot for the reply; Edge synthesizes
one sentence ahead). Sentences with nothing to say (whitespace, zero-width characters,
punctuation alone) are dropped, so such text gives an empty stream on every engine. When the
primary engine cannot serve — still loading, failed to load, out of memory, busy, service down —
the sentence it was on (again from its start, even if part of it was heard) and the rest go to
tts.fallback: a reply is finished whenever anything can still speak it. The log says so; if the
fallback fails too (or there is none), the request ends with an Error naming both causes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass, field

from wyoming_verba.core.aio import cancel_and_wait
from wyoming_verba.core.audio import Chunker, Resampler
from wyoming_verba.core.text import is_speakable
from wyoming_verba.core.voices import VoiceChoice
from wyoming_verba.engines.base import (
    Engine,
    EngineError,
    EngineState,
    EngineUnavailableError,
    SentenceEnd,
)
from wyoming_verba.protocol.options import NO_OPTIONS, SpeakOptions
from wyoming_verba.server.metrics import RequestMetrics

_LOGGER = logging.getLogger(__name__)
_NOT_READY = (EngineState.IDLE, EngineState.LOADING, EngineState.UNLOADED)


@dataclass(frozen=True)
class SynthesisPlan:
    """Which engine, voice, fallback, output rate and speaking options a request uses."""

    engine: Engine
    voice: VoiceChoice
    fallback: Engine | None
    output_rate: int
    options: SpeakOptions = NO_OPTIONS


def make_plan(
    engines: Mapping[str, Engine],
    voice: VoiceChoice,
    fallback: str | None,
    output_rate: int | None,
    options: SpeakOptions = NO_OPTIONS,
) -> SynthesisPlan:
    """Build the plan for a resolved voice."""
    engine = engines[voice.engine]
    fallback_engine = engines.get(fallback) if fallback and fallback != voice.engine else None
    rate = output_rate or engine.sample_rate
    return SynthesisPlan(engine, voice, fallback_engine, rate, options)


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
    audio_in_reply: bool = False
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
                if is_speakable(sentence):
                    self._queue.put_nowait(sentence)
        except Exception as err:
            self._queue.put_nowait(err)
            return
        self._queue.put_nowait(None)

    def sentence_done(self) -> None:
        self.unfinished.pop(0)
        self.audio_in_sentence = False

    @property
    def waiting(self) -> bool:
        """The engine has said all it was given and no sentence is queued (the client pauses)."""
        return not self.unfinished and self._queue.empty()

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
        metrics.ignored = plan.options.ignored_by(engine.speak_options())
        try:
            speech = engine.speak(feed.sentences(), voice, plan.options)
            async with contextlib.aclosing(speech) as stream:
                async for item in stream:
                    if isinstance(item, SentenceEnd):
                        pcm = resampler.flush()
                        feed.sentence_done()
                    else:
                        pcm = resampler.process(item)
                        feed.audio_in_sentence = feed.audio_in_sentence or item.size > 0
                        feed.audio_in_reply = feed.audio_in_reply or feed.audio_in_sentence
                    chunks = chunker.push(pcm)
                    if isinstance(item, SentenceEnd) and feed.waiting:
                        chunks += chunker.flush()  # no tail held back while the client pauses
                    for chunk in chunks:
                        metrics.add_audio(len(chunk) // 2)
                        yield chunk
            break
        except EngineError as err:
            fall_back = isinstance(err, EngineUnavailableError) and index < len(engines) - 1
            if not fall_back:
                raise _with_cause(err, failure) from err
            failure = err
            _log_fallback(engine, engines[-1], err, feed, metrics)
    for chunk in chunker.flush():
        metrics.add_audio(len(chunk) // 2)
        yield chunk


def _log_fallback(
    engine: Engine, fallback: Engine, err: EngineError, feed: _SentenceFeed, metrics: RequestMetrics
) -> None:
    if not feed.audio_in_reply:
        metrics.backend = f"{fallback.name}(fallback-from-{engine.name})"
        _LOGGER.warning(
            "%s engine failed (%s); using the %s engine (tts.fallback)",
            engine.name,
            err,
            fallback.name,
        )
        return
    metrics.backend = f"{engine.name}-then-{fallback.name}(fallback)"
    _LOGGER.warning(
        "%s engine failed partway through a reply (%s); the %s engine (tts.fallback) speaks "
        "the rest of it, from the start of the %s sentence",
        engine.name,
        err,
        fallback.name,
        "interrupted" if feed.audio_in_sentence else "next",
    )


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
