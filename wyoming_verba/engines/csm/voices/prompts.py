"""Prompts and voice prefixes: a reference clip + transcript prefilled once, reused per request.

Prefix building uses slot 0 of the generation state and runs on the generation thread while the
engine loads, before any request can hold a slot.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from wyoming_verba.engines.csm.model.sampling import Sampling
from wyoming_verba.engines.csm.model.slots import VoicePrefix
from wyoming_verba.engines.csm.model.step import FrameStep
from wyoming_verba.engines.csm.voices.rules import read_clip
from wyoming_verba.engines.csm.voices.tokens import TurnTokenizer

_SLOT = 0


def load_reference_audio(path: Path) -> npt.NDArray[np.float32]:
    """Decode a reference clip to 24 kHz mono float32 (length checked first, decoding bounded)."""
    return read_clip(path)


class PromptBuilder:
    """Turns text and reference clips into token ids and prefilled voice prefixes."""

    def __init__(self, processor: Any, step: FrameStep) -> None:
        self._turns = TurnTokenizer(processor)
        self._step = step

    @property
    def sampling(self) -> Sampling:
        """The step's configured sampling (anchors are generated with it)."""
        return self._step.sampling

    @property
    def device(self) -> torch.device:
        """Where the model's K/V live."""
        return self._step.slots.device

    def text_ids(self, text: str, speaker: int) -> torch.Tensor:
        """Token ids (1, n) of one text turn for `speaker`, exactly as in a full conversation;
        the text is plain text (a special token's spelling in it is not that token)."""
        return self._turns.text_turn(text, speaker)

    def text_positions(self, text: str, speaker: int) -> int:
        """Context positions that text turn takes (profiles.TextPositions)."""
        return int(self.text_ids(text, speaker).shape[1])

    @torch.no_grad()
    def build_prefix(
        self,
        name: str,
        speaker: int,
        reference_audio: Path | npt.NDArray[np.float32],
        reference_text: str,
        slot: int = _SLOT,
    ) -> VoicePrefix:
        """Encode and prefill a reference turn (text + audio + end-of-audio) once, in `slot`;
        the audio is a file or 24 kHz mono samples (a checked profile's)."""
        audio = (
            reference_audio
            if isinstance(reference_audio, np.ndarray)
            else load_reference_audio(reference_audio)
        )
        encoded = self._turns.reference_turn(reference_text, speaker, audio)
        backbone = self._step.backbone
        embeds = backbone.embed_prompt(
            encoded["input_ids"], encoded.get("input_values"), encoded.get("input_values_cutoffs")
        )
        backbone.prefill(self._step.slots, slot, 0, embeds)
        return self._step.slots.export_prefix(slot, int(embeds.shape[1]), name, speaker)

    @torch.no_grad()
    def build_anchor(self, speaker: int, text: str, max_frames: int, seed: int) -> VoicePrefix:
        """A generated reference for a bare speaker id: sample it once (seeded), keep it as context.

        Without context CSM gives a speaker id a different voice on every request; conditioning
        every request on the same generated clip keeps the voice. The prefix is laid out like a
        reference turn: the text turn, its audio frames, then the end-of-audio frame.
        """
        step, slots = self._step, self._step.slots
        sampling = step.sampling
        ids = self.text_ids(text, speaker)
        hidden = step.backbone.prefill(slots, _SLOT, 0, step.backbone.embed_prompt(ids))
        position = int(ids.shape[1])
        slots.activate(
            _SLOT,
            hidden=hidden,
            position=position,
            max_frames=max_frames,
            seed=seed,
            draws=0,
            sampling=sampling,
        )
        while True:
            step.run(step.bucket_for(_SLOT + 1))
            position += int(slots.emitted[_SLOT])
            if bool(slots.finished[_SLOT]):
                break
        end = step.backbone.embed_frames(step.backbone.end_frame())
        step.backbone.prefill(slots, _SLOT, position, end)
        return slots.export_prefix(_SLOT, position + 1, f"speaker-{speaker}", speaker)
