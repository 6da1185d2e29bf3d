"""Prompts and voice prefixes: a reference clip + transcript prefilled once, reused per request."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
import torch

from ..base import EngineError
from .frames import FrameModel, Sampling

SAMPLE_RATE = 24000


@dataclass
class VoicePrefix:
    """A prefilled reference turn: the backbone cache after it, and its length in positions."""

    name: str
    speaker: int
    cache: Any
    length: int


@dataclass
class Prefill:
    """A request's prompt after prefill: cache, last hidden state, positions used."""

    cache: Any
    hidden: torch.Tensor
    length: int


def load_reference_audio(path: Path) -> npt.NDArray[np.float32]:
    """Decode any audio file PyAV reads to 24 kHz mono float32."""
    try:
        with av.open(str(path)) as container:
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            pieces = [
                out.to_ndarray().reshape(-1)
                for frame in container.decode(audio=0)
                for out in resampler.resample(frame)
            ]
            pieces += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    except (av.error.FFmpegError, IndexError) as err:
        raise EngineError(f"cannot read reference audio {path}: {err}") from err
    if not pieces:
        raise EngineError(f"reference audio {path} has no audio")
    return np.concatenate(pieces).astype(np.float32)


class PromptBuilder:
    """Turns text (and reference clips) into prefilled backbone state via the model's processor."""

    def __init__(self, processor: Any, frames: FrameModel) -> None:
        self._processor = processor
        self._frames = frames

    def text_ids(self, text: str, speaker: int) -> torch.Tensor:
        """Token ids of one text turn for `speaker`, exactly as in a full conversation."""
        turn = [{"role": str(speaker), "content": [{"type": "text", "text": text}]}]
        encoded = self._processor.apply_chat_template(turn, tokenize=True, return_dict=True)
        return encoded["input_ids"]  # type: ignore[no-any-return]

    def build_prefix(
        self, name: str, speaker: int, reference_audio: Path, reference_text: str
    ) -> VoicePrefix:
        """Encode and prefill a reference turn (text + audio) once."""
        audio = load_reference_audio(reference_audio)
        turn = [
            {
                "role": str(speaker),
                "content": [
                    {"type": "text", "text": reference_text},
                    {"type": "audio", "path": audio},
                ],
            }
        ]
        encoded = self._processor.apply_chat_template(turn, tokenize=True, return_dict=True)
        embeds = self._frames.embed_prompt(
            encoded["input_ids"], encoded.get("input_values"), encoded.get("input_values_cutoffs")
        )
        cache = self._frames.new_cache()
        self._frames.backbone(embeds, cache)
        return VoicePrefix(name, speaker, cache, int(embeds.shape[1]))

    @torch.no_grad()
    def build_anchor(
        self, speaker: int, text: str, max_frames: int, sampling: Sampling, seed: int
    ) -> VoicePrefix:
        """A generated reference for a bare speaker id: sample it once (seeded), keep it as context.

        Without context CSM gives a speaker id a different voice on every request; conditioning
        every request on the same generated clip keeps the voice. The cache ends up laid out like a
        reference turn: the text turn, its audio frames, then the end-of-audio frame.
        """
        frames = self._frames
        ids = self.text_ids(text, speaker)
        cache = frames.new_cache()
        hidden = frames.backbone(frames.embed_prompt(ids), cache)
        generator = torch.Generator(device=frames.device).manual_seed(seed)
        count = 0
        for _ in range(max_frames):
            frame = frames.frame(hidden, sampling, generator)
            if bool(frames.is_end(frame)[0]):
                break
            hidden = frames.backbone(frames.embed_frames(frame[:, None, :]), cache)
            count += 1
        end = torch.full((1, 1, frames.num_codebooks), frames.eos_code, device=frames.device)
        frames.backbone(frames.embed_frames(end), cache)
        return VoicePrefix(f"speaker-{speaker}", speaker, cache, int(ids.shape[1]) + count + 1)

    def prefill(self, prefix: VoicePrefix | None, ids: torch.Tensor) -> Prefill:
        """Prefill a request: a copy of the voice prefix's cache (if any) plus the new text."""
        cache = copy.deepcopy(prefix.cache) if prefix is not None else self._frames.new_cache()
        embeds = self._frames.embed_prompt(ids)
        hidden = self._frames.backbone(embeds, cache)
        start = prefix.length if prefix is not None else 0
        return Prefill(cache, hidden, start + int(ids.shape[1]))
