"""One unit of work on a connection: a synthesize, a streaming one, or a reply to a stray event."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import Enum

from wyoming_verba.core.voices import VoiceChoice
from wyoming_verba.protocol.options import NO_OPTIONS, SpeakOptions


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
