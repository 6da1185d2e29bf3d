"""How many frames a sentence may take, and splitting text that would not fit CSM's context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from wyoming_verba.engines.base import EngineError
from wyoming_verba.engines.csm.generation.reply import Sentence
from wyoming_verba.engines.csm.model.mimi import FRAMES_PER_SECOND
from wyoming_verba.engines.csm.model.slots import CONTEXT_LIMIT

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
