"""A connection's requests: its synthesize events read into typed, bounded units of work.

A unit is a synthesize, a streaming one, or a reply to a stray event; `RequestIntake` checks
each event and queues what the connection's worker answers, in order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from wyoming_verba.config import ServerConfig
from wyoming_verba.core.cleaning import DEFAULT_RULES, SpeechCleaner, clean_text
from wyoming_verba.core.text import SentenceSplitter, split_sentences
from wyoming_verba.core.voices import VoiceChoice
from wyoming_verba.protocol.fields import BadRequestError, VoiceRequest, text_field, voice_field
from wyoming_verba.protocol.options import NO_OPTIONS, SpeakOptions, options_field
from wyoming_verba.server.service import SpeechService


class RequestKind(Enum):
    """What a queued item answers, which decides how its reply ends."""

    PLAIN = "synthesize"  # ends with audio-stop, always
    STREAM = "synthesize-start"  # ends with synthesize-stopped, after the client's stop
    NOTICE = "notice"  # a stray event: an Error and nothing else


@dataclass(frozen=True)
class Problem:
    """Why a request is refused or failed: an Error event's code and text."""

    code: str
    message: str


@dataclass
class SynthesisRequest:
    """A request as the connection's worker serves it, in the order the client sent them."""

    kind: RequestKind
    voice: VoiceChoice | None
    label: str  # the requested voice, escaped, for the log line
    chars: int = 0  # characters of text received (a stream's grow as its chunks arrive)
    received: float = field(default_factory=time.perf_counter)  # when the request arrived
    options: SpeakOptions = NO_OPTIONS  # context.verba; a stream's apply to all of it
    refusal: Problem | None = None  # refused before any synthesis
    problem: Problem | None = None  # failed or cut short while being served
    sentences: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    stopped: asyncio.Event = field(default_factory=asyncio.Event)
    opened_at: float = field(default_factory=time.monotonic)  # for server.max_stream_s
    _ended: bool = False

    @classmethod
    def refused(
        cls, kind: RequestKind, label: str, problem: Problem, chars: int = 0
    ) -> SynthesisRequest:
        """A request answered only with an Error (and the ending its kind needs)."""
        request = cls(kind=kind, voice=None, label=label, chars=chars, refusal=problem)
        request.end_text()
        if kind is not RequestKind.STREAM:
            request.stopped.set()
        return request

    @property
    def text_ended(self) -> bool:
        """True once no more text can arrive."""
        return self._ended

    def add(self, sentences: list[str]) -> None:
        """Queue complete sentences for synthesis."""
        if not self._ended:
            for sentence in sentences:
                self.sentences.put_nowait(sentence)

    def end_text(self) -> None:
        """No more text: synthesis ends after the queued sentences."""
        if not self._ended:
            self._ended = True
            self.sentences.put_nowait(None)

    def fail(self, problem: Problem) -> None:
        """Stop taking text; the reply ends with this Error after the audio already queued."""
        if self.problem is None:
            self.problem = problem
        self.end_text()

    async def iterate(self) -> AsyncIterator[str]:
        """The sentences as they arrive, until the text ends."""
        while (sentence := await self.sentences.get()) is not None:
            yield sentence


Enqueue = Callable[[SynthesisRequest], Awaitable[None]]
# Text longer than this is split in a worker thread: splitting runs at ~0.3-6 µs a character,
# and the event loop serves every connection. Shorter text is split inline (cheaper than a thread).
OFF_LOOP_CHARS = 2000


async def _split(split: Callable[[str], list[str]], text: str) -> list[str]:
    if len(text) <= OFF_LOOP_CHARS:
        return split(text)
    return await asyncio.to_thread(split, text)


class RequestIntake:
    """Checks each synthesize, synthesize-start/-chunk/-stop and queues what the worker answers.

    Every event a client may wait on gets a reply: refusals are queued too (in order), so a refused
    plain synthesize still ends with audio-stop and a stray synthesize-stop with
    synthesize-stopped.
    """

    def __init__(self, service: SpeechService, config: ServerConfig, enqueue: Enqueue) -> None:
        self._service = service
        self._config = config
        self._enqueue = enqueue
        self._splitter = SentenceSplitter()
        self._rules = service.clean_rules  # None: tts.clean_text is off
        self._cleaner = SpeechCleaner(self._rules or DEFAULT_RULES)
        self.stream: SynthesisRequest | None = None  # the open streaming synthesize
        self.closing: Problem | None = None  # set: new requests are refused with this

    async def synthesize(self, data: dict[str, Any]) -> None:
        """A plain synthesize (ignored while a stream is open: it repeats the streamed text)."""
        if self.stream is not None:
            return
        kind = RequestKind.PLAIN
        text: str | None = None
        voice = VoiceRequest()
        try:
            text = text_field(data)
            voice = voice_field(data)
            request = self._accept(kind, voice, len(text), options_field(data))
        except BadRequestError as err:
            chars = 0 if text is None else len(text)
            request = SynthesisRequest.refused(kind, voice.label, _problem(err), chars)
        else:
            request.add(await _split(self._split_whole, text))
            request.end_text()
            request.stopped.set()
        await self._enqueue(request)

    async def start_stream(self, data: dict[str, Any]) -> None:
        """synthesize-start: a new stream (ending one still open)."""
        await self.stop_stream(implicit=True)
        kind = RequestKind.STREAM
        voice = VoiceRequest()
        try:
            voice = voice_field(data)
            request = self._accept(kind, voice, 0, options_field(data))
        except BadRequestError as err:
            request = SynthesisRequest.refused(kind, voice.label, _problem(err))
        self._splitter = SentenceSplitter()
        self._cleaner = SpeechCleaner(self._rules or DEFAULT_RULES)
        await self._enqueue(request)
        self.stream = request

    async def stream_chunk(self, data: dict[str, Any]) -> None:
        """synthesize-chunk: more text; complete sentences go to synthesis at once."""
        request = self.stream
        if request is None:
            problem = Problem("out-of-order", "synthesize-chunk without synthesize-start")
            await self._enqueue(SynthesisRequest.refused(RequestKind.NOTICE, "-", problem))
            return
        if request.text_ended:
            return  # refused or failed already: the rest of its text is not spoken
        try:
            text = text_field(data)
        except BadRequestError as err:
            request.add(self._flush_text())  # the text that came before is still spoken
            request.fail(_problem(err))
            return
        request.chars += len(text)
        limit = self._config.max_text_chars
        if request.chars > limit:
            request.add(self._flush_text())
            request.fail(
                Problem(
                    "text-too-long",
                    f"streamed text passed {limit} characters (server.max_text_chars); "
                    "the rest of this stream is not spoken",
                )
            )
            return
        # One stream's events are handled one after another, so no other feed runs meanwhile.
        request.add(await _split(self._feed_text, text))

    async def stop_stream(self, implicit: bool = False) -> None:
        """synthesize-stop: speak the rest; a stop without a stream gets an Error and stopped."""
        request, self.stream = self.stream, None
        if request is None:
            if not implicit:
                problem = Problem("out-of-order", "synthesize-stop without synthesize-start")
                refused = SynthesisRequest.refused(RequestKind.STREAM, "-", problem)
                refused.stopped.set()
                await self._enqueue(refused)
            return
        if not request.text_ended:
            request.add(self._flush_text())
        request.end_text()
        request.stopped.set()

    def end_stream(self, problem: Problem | None) -> None:
        """Stop waiting for the open stream's text; it ends with `problem` as its Error."""
        request, self.stream = self.stream, None
        if request is not None and problem is not None:
            request.fail(problem)
            request.stopped.set()

    def _split_whole(self, text: str) -> list[str]:
        return split_sentences(text if self._rules is None else clean_text(text, self._rules))

    def _feed_text(self, text: str) -> list[str]:
        return self._splitter.feed(text if self._rules is None else self._cleaner.feed(text))

    def _flush_text(self) -> list[str]:
        """The stream's held text: what the cleaner still holds, then the unfinished sentence."""
        held = [] if self._rules is None else self._splitter.feed(self._cleaner.flush())
        return held + self._splitter.flush()

    def _accept(
        self, kind: RequestKind, voice: VoiceRequest, chars: int, options: SpeakOptions
    ) -> SynthesisRequest:
        """A request to serve, or BadRequestError saying why it is refused."""
        if self.closing is not None:
            raise BadRequestError(self.closing.message, self.closing.code)
        limit = self._config.max_text_chars
        if chars > limit:
            raise BadRequestError(
                f"text is {chars} characters; this server accepts at most {limit} "
                "(server.max_text_chars)",
                "text-too-long",
            )
        choice = self._service.resolve(voice.name, voice.speaker)
        if choice.style is not None:  # a style voice: its options, the request's over them
            options = choice.style.apply(options)
        return SynthesisRequest(kind, choice, choice.label, chars=chars, options=options)


def _problem(err: BadRequestError) -> Problem:
    return Problem(err.code, str(err))
