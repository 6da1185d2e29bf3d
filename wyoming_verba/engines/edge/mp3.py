"""Incremental MP3 → 16-bit mono PCM decoding with PyAV, one network piece at a time."""

from __future__ import annotations

import contextlib
from typing import Any

import av
import numpy as np

from wyoming_verba.core.audio import Pcm, frames_to_pcm


class Mp3StreamDecoder:
    """Feed MP3 bytes as they arrive; get PCM for every complete frame right away."""

    def __init__(self, sample_rate: int) -> None:
        self._codec = av.CodecContext.create("mp3", "r")
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=sample_rate)

    def decode(self, data: bytes) -> Pcm:
        """Decode the frames completed by `data`."""
        return self._decode_packets(self._codec.parse(data))

    def flush(self) -> Pcm:
        """Decode whatever the parser and decoder still hold."""
        pcm = [self._decode_packets(self._codec.parse(b""))]
        with contextlib.suppress(av.error.EOFError):
            pcm.append(self._convert(self._codec.decode(None)))
        pcm.append(frames_to_pcm(self._resampler.resample(None)))
        return np.concatenate(pcm)

    def _decode_packets(self, packets: list[Any]) -> Pcm:
        pieces = [self._convert(self._codec.decode(packet)) for packet in packets]
        return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int16)

    def _convert(self, frames: list[av.AudioFrame]) -> Pcm:
        converted: list[av.AudioFrame] = []
        for frame in frames:
            frame.pts = None
            converted.extend(self._resampler.resample(frame))
        return frames_to_pcm(converted)
