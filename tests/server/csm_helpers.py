"""Helpers for CSM tests: run the frame loop directly, write reference clips."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wyoming_verba.engines.csm.frames import FrameModel, Sampling

GREEDY = Sampling(temperature=0.0, top_k=0)


def loop_codes(
    frames: FrameModel, embeds: torch.Tensor, count: int, cache: Any = None
) -> torch.Tensor:
    """Greedy frames from prompt embeddings with our own loop: (1, count, num_codebooks)."""
    cache = cache if cache is not None else frames.new_cache()
    hidden = frames.backbone(embeds, cache)
    out = []
    for _ in range(count):
        frame = frames.frame(hidden, GREEDY)
        out.append(frame)
        hidden = frames.backbone(frames.embed_frames(frame[:, None, :]), cache)
    return torch.stack(out, dim=1)


def write_wav(path: Path, seconds: float, rate: int = 16000, pitch: float = 220.0) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    pcm = (0.3 * np.sin(2 * np.pi * pitch * t) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm.tobytes())
    return path
