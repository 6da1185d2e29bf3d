"""A running reply in its slot: starting each sentence (prefill), taking frames, delivering audio.

Runs on the generation thread only. Starting a sentence is the eager part between frame steps:
the first sentence (and, without continuity, every sentence) copies the voice prefix's K/V into
the slot and prefills the text turn; a later sentence appends the end-of-audio frame and its text
turn to what the slot already holds, or — when that would not fit 2048 positions with the
sentence's frame budget, or the reply lent its slot to another between sentences and now sits in
another one — rebuilds the slot from the prefix and the latest sentences that fit.
"""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt
import torch

from wyoming_verba.core.audio import float_to_pcm16
from wyoming_verba.engines.csm.generation.reply import (
    SENTENCE_END,
    Context,
    Reply,
    Sentence,
    SpokenSentence,
)
from wyoming_verba.engines.csm.model.backbone import Backbone
from wyoming_verba.engines.csm.model.slots import CONTEXT_LIMIT
from wyoming_verba.engines.csm.model.step import FrameStep


class RunningReply:
    """One reply holding one slot (slot -1 while it waits for one)."""

    def __init__(self, reply: Reply, slot: int, chunk_frames: int, num_codebooks: int) -> None:
        self.reply = reply
        self.slot = slot
        self.context = Context()
        self.generating = False
        self.sentence: Sentence | None = None
        self._sentence_start = 0  # where the sentence being spoken begins in reply.frames
        self.draws = 0  # frames sampled so far: the reply's position in its noise stream
        self._chunk_frames = chunk_frames
        self._num_codebooks = num_codebooks
        self._pending: list[npt.NDArray[np.float32]] = []
        self._sent_first = False
        self._context_in_slot = False  # the slot's K/V holds self.context
        self.idle_since = time.monotonic()  # when it last had nothing to generate

    def move(self, slot: int) -> None:
        """Give up the slot (between sentences) or take another one: the next sentence rebuilds
        the context there from the prefix and the sentences spoken so far."""
        self.slot = slot
        self._context_in_slot = False

    def start(self, sentence: Sentence, step: FrameStep) -> None:
        """Prefill the sentence into the slot and switch it on."""
        slots, backbone = step.slots, step.backbone
        continuing = self.reply.continuity and self.context.position > 0
        text = backbone.embed_prompt(sentence.ids)
        needed = self.context.position + 1 + sentence.length + sentence.max_frames
        if continuing and self._context_in_slot and needed <= CONTEXT_LIMIT:
            embeds = torch.cat([backbone.embed_frames(backbone.end_frame()), text], dim=1)
            start = self.context.position
        else:
            start = slots.load_prefix(self.slot, self.reply.prefix)
            kept: list[SpokenSentence] = []
            if continuing:
                room = CONTEXT_LIMIT - start - sentence.length - sentence.max_frames
                kept = self.context.recent_that_fit(room)
            embeds = torch.cat([*(_embed_spoken(backbone, s) for s in kept), text], dim=1)
            self.context.spoken = kept
        hidden = backbone.prefill(slots, self.slot, start, embeds)
        self.context.position = start + int(embeds.shape[1])
        slots.activate(
            self.slot,
            hidden=hidden,
            position=self.context.position,
            max_frames=max(1, min(sentence.max_frames, CONTEXT_LIMIT - self.context.position)),
            seed=self.reply.seed,
            draws=self.draws,
            sampling=step.sampling.with_temperature(self.reply.temperature),
        )
        self.sentence, self.generating = sentence, True
        self._context_in_slot = True
        self._sentence_start = len(self.reply.frames)
        self._sent_first = False  # each sentence's first frame goes out at once

    def take_frame(self, codes: torch.Tensor, audio: torch.Tensor) -> None:
        """A frame this slot produced; a sentence's audio goes out after its first frame, then
        every chunk_frames frames."""
        self.reply.frames.append(codes.clone())
        self.context.position += 1
        self._pending.append(audio.numpy().copy())
        if len(self._pending) >= (self._chunk_frames if self._sent_first else 1):
            self._flush()

    def finish_sentence(self) -> None:
        """The sentence ended: deliver the rest of its audio and remember it as context."""
        self._flush()
        self.reply.deliver(SENTENCE_END)
        assert self.sentence is not None
        spoken = self.reply.frames[self._sentence_start :]
        frames = (
            torch.stack(spoken) if spoken else torch.zeros(0, self._num_codebooks, dtype=torch.long)
        )
        self.context.spoken.append(SpokenSentence(self.sentence.ids, frames))
        self.sentence, self.generating = None, False
        self.idle_since = time.monotonic()

    def _flush(self) -> None:
        if self._pending:
            audio = np.concatenate(self._pending)
            self._pending = []
            self._sent_first = True
            self.reply.deliver(float_to_pcm16(audio))


def _embed_spoken(backbone: Backbone, sentence: SpokenSentence) -> torch.Tensor:
    """A finished sentence as context: its text turn, its frames, the end-of-audio frame."""
    frames = torch.cat([sentence.frames.to(backbone.device)[None], backbone.end_frame()], dim=1)
    return torch.cat([backbone.embed_prompt(sentence.ids), backbone.embed_frames(frames)], dim=1)
