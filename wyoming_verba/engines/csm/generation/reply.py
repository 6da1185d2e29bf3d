"""A reply: the sentences of one request, spoken in one slot, and what the slot's context holds.

The event loop adds sentences to a Reply as they are known; the generation thread takes them in
order. With continuity, every sentence after the first is appended to the slot's context the way
the chat template lays out consecutive turns of one speaker — the end-of-audio frame that closes
the previous turn, then the new text — so each sentence hears the ones before it. Near the
2048-position limit the context is rebuilt from the voice prefix and the latest sentences.

Fitting a reply's text to the slot: each sentence gets a frame cap from its length (never above
csm.max_audio_s), and text that would not fit the context after the voice prefix is split at words.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from wyoming_verba.core.audio import Pcm
from wyoming_verba.engines.base import SENTENCE_END, EngineError, SentenceEnd
from wyoming_verba.engines.csm.model.mimi import FRAMES_PER_SECOND
from wyoming_verba.engines.csm.model.slots import CONTEXT_LIMIT, VoicePrefix

END = None  # delivered once, after the last sentence (or instead of it when cancelled)
Delivery = Pcm | SentenceEnd | BaseException | None  # SENTENCE_END after each sentence

__all__ = [
    "END",
    "SENTENCE_END",
    "Context",
    "Delivery",
    "Reply",
    "Sentence",
    "SentenceEnd",
    "SentenceFitter",
    "SpokenSentence",
    "frame_budget",
    "natural_seconds",
]


@dataclass(frozen=True)
class Sentence:
    """One sentence's text turn (token ids, shape (1, n)) and its frame cap."""

    ids: torch.Tensor
    max_frames: int

    @property
    def length(self) -> int:
        """Positions its text turn takes."""
        return int(self.ids.shape[1])


@dataclass(frozen=True)
class SpokenSentence:
    """A finished sentence as it sits in the context: its text turn and its audio frames."""

    ids: torch.Tensor  # (1, n)
    frames: torch.Tensor  # (frames, num_codebooks)

    @property
    def length(self) -> int:
        """Positions it takes, with the end-of-audio frame that closes it."""
        return int(self.ids.shape[1]) + int(self.frames.shape[0]) + 1


class Reply:
    """Thread-safe: the event loop adds sentences, the generation thread takes them."""

    def __init__(
        self,
        prefix: VoicePrefix | None,
        deliver: Callable[[Delivery], None],
        seed: int,
        continuity: bool = True,
        *,
        temperature: float | None = None,
        queue_timeout_s: float = float("inf"),
    ) -> None:
        self.prefix = prefix
        self._consumer = deliver
        self.seed = seed
        self.continuity = continuity
        self.temperature = temperature  # the request's own, overriding csm.temperature
        self.queue_timeout_s = queue_timeout_s  # longest wait for a slot once a sentence is ready
        self.cancelled = threading.Event()
        self.frames: list[torch.Tensor] = []  # codes of every frame spoken, in order
        self._sentences: deque[Sentence] = deque()
        self._ended = False
        self._ready_since: float | None = None  # when the queue last went from empty to not
        self._lock = threading.Lock()
        self._notify: Callable[[], None] = lambda: None
        self._on_last: Callable[[], None] = lambda: None
        self._delivered_last = False

    def attach(self, notify: Callable[[], None], on_last: Callable[[], None]) -> None:
        """Called by the worker: how to wake it when something changes, and what to call once
        the reply's last delivery (END or an error) has been made, wherever it is made."""
        self._notify = notify
        self._on_last = on_last

    def deliver(self, item: Delivery) -> None:
        """Hand audio, a sentence end, END or an error to the consumer."""
        self._consumer(item)
        if item is END or isinstance(item, BaseException):
            with self._lock:
                first, self._delivered_last = not self._delivered_last, True
            if first:
                self._on_last()

    def add(self, sentence: Sentence) -> None:
        """Queue the next sentence."""
        with self._lock:
            if not self._sentences:
                self._ready_since = time.monotonic()
            self._sentences.append(sentence)
        self._notify()

    def end(self) -> None:
        """No more sentences will come."""
        with self._lock:
            self._ended = True
        self._notify()

    def cancel(self) -> None:
        """The listener is gone: stop within a frame and free the slot."""
        self.cancelled.set()
        self._notify()

    def take(self) -> Sentence | None:
        """The next queued sentence, if any (generation thread)."""
        with self._lock:
            sentence = self._sentences.popleft() if self._sentences else None
            if not self._sentences:
                self._ready_since = None
            return sentence

    def waited_too_long(self, now: float) -> bool:
        """A sentence has been ready for longer than queue_timeout_s (while it had no slot)."""
        with self._lock:
            since = self._ready_since
        return since is not None and now - since > self.queue_timeout_s

    @property
    def ready_since(self) -> float:
        """When its next sentence became ready (inf when none is)."""
        with self._lock:
            return float("inf") if self._ready_since is None else self._ready_since

    @property
    def has_sentence(self) -> bool:
        """A sentence is waiting to be spoken."""
        with self._lock:
            return bool(self._sentences)

    @property
    def exhausted(self) -> bool:
        """Ended and every sentence taken."""
        with self._lock:
            return self._ended and not self._sentences


@dataclass
class Context:
    """What a slot's backbone context holds for its reply (host-side mirror)."""

    position: int = 0  # positions filled
    spoken: list[SpokenSentence] = field(default_factory=list)

    def recent_that_fit(self, room: int) -> list[SpokenSentence]:
        """The latest spoken sentences whose positions add up to at most `room`."""
        kept: list[SpokenSentence] = []
        for sentence in reversed(self.spoken):
            if sentence.length > room:
                break
            kept.insert(0, sentence)
            room -= sentence.length
        return kept


SECONDS_PER_CHAR = 0.09  # generous: conversational speech is ~0.06-0.07 s per character
MIN_SECONDS = 1.0


def natural_seconds(text: str) -> float:
    """A generous estimate of how long the text takes to say."""
    return MIN_SECONDS + SECONDS_PER_CHAR * len(text)


def frame_budget(text: str, max_audio_s: float) -> int:
    """How many frames a sentence may take: from its length, never above csm.max_audio_s."""
    seconds = min(max_audio_s, natural_seconds(text))
    return max(1, int(seconds * FRAMES_PER_SECOND))


@dataclass(frozen=True)
class SentenceFitter:
    """Turns a sentence into one or more Sentences that each fit the context after the prefix."""

    tokenize: Callable[[str], torch.Tensor]  # text → ids (1, n) of its text turn
    prefix_length: int
    max_audio_s: float

    def fit(self, text: str) -> list[Sentence]:
        """Split at words until each piece fits csm.max_audio_s and prefix + text + frames fits
        2048 positions; a single word that cannot fit is an error that says what to change."""
        ids = self.tokenize(text)
        budget = frame_budget(text, self.max_audio_s)
        needed = self.prefix_length + int(ids.shape[1]) + budget
        fits_cap = natural_seconds(text) <= self.max_audio_s
        words = text.split()
        if (needed <= CONTEXT_LIMIT and fits_cap) or len(words) < 2:
            if self.prefix_length + int(ids.shape[1]) >= CONTEXT_LIMIT:
                raise EngineError(
                    "the voice reference clip and text do not fit CSM's 2048-position context; "
                    "use a shorter reference_audio"
                )
            room = CONTEXT_LIMIT - self.prefix_length - int(ids.shape[1])
            return [Sentence(ids, min(budget, room))]
        half = len(words) // 2
        return self.fit(" ".join(words[:half])) + self.fit(" ".join(words[half:]))
