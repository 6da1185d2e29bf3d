"""Decoding a clip that is not PCM WAV (MP3, M4A/AAC, OGG, FLAC, float WAV, ...) with PyAV.

PyAV is optional: the server has it; in Home Assistant it comes with the stream integration. The
container's declared duration and the stream's rate are checked before decoding, and decoding
stops as soon as the output passes the clip rule's limit, so a small file that holds hours of
audio (FLAC of silence compresses ~250:1) never becomes hours of PCM in memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from .clip import CLIP_RATE, CLIP_RATES, MAX_CLIP_S, Clip, ClipError, check_duration

# Output samples (at CLIP_RATE) past which decoding stops: the clip is too long.
_LIMIT = int(MAX_CLIP_S * CLIP_RATE)


def read_with_pyav(file: BinaryIO, path: Path) -> Clip:
    """The clip in an open audio file, decoded to 16-bit mono at CLIP_RATE."""
    try:
        import av  # optional: only some installs have it
    except ImportError as err:
        raise ClipError(
            f"{path.name} is not a PCM WAV file, and this Python has no PyAV (av) to decode "
            "other formats; convert the clip to 16-bit PCM WAV"
        ) from err
    try:
        with av.open(file, "r") as container:
            pcm = _decode(av, container, path)
    except (av.error.FFmpegError, IndexError, OSError, ValueError, EOFError) as err:
        raise ClipError(f"cannot read the clip {path}: {err}; save it as 16-bit PCM WAV") from err
    if not pcm:
        raise ClipError(f"the clip {path} has no audio; give a file with 1-30 s of speech")
    return Clip(np.concatenate(pcm).astype("<i2").tobytes(), CLIP_RATE)


def _decode(av: Any, container: Any, path: Path) -> list[npt.NDArray[np.int16]]:
    """The first audio stream's samples, after its header passed the rule; stops past it."""
    if not container.streams.audio:
        raise ClipError(f"the clip {path} has no audio; give a file with 1-30 s of speech")
    stream = container.streams.audio[0]
    _check_stream(av, container, stream, path)
    resampler = av.AudioResampler(format="s16", layout="mono", rate=CLIP_RATE)
    pcm: list[npt.NDArray[np.int16]] = []
    total = 0
    for frame in container.decode(stream):
        for out in resampler.resample(frame):
            pcm.append(out.to_ndarray().reshape(-1))
            total += pcm[-1].size
        if total > _LIMIT:
            check_duration(total / CLIP_RATE, at_least=True)  # raises: too long
    for out in resampler.resample(None):
        pcm.append(out.to_ndarray().reshape(-1))
    return pcm


def _check_stream(av: Any, container: Any, stream: Any, path: Path) -> None:
    """The rate and the declared duration (when the container states them), before decoding."""
    if stream.codec_context is None:
        raise ClipError(f"cannot read the clip {path}: no decoder for its audio; save it as WAV")
    rate = stream.codec_context.sample_rate
    if rate and rate < CLIP_RATES[0]:
        raise ClipError(
            f"'rate' must be at least {CLIP_RATES[0]} Hz (got {rate}); record the clip at "
            f"{CLIP_RATES[0]}-{CLIP_RATES[1]} Hz"
        )
    seconds = None
    if stream.duration is not None and stream.time_base is not None:
        seconds = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        seconds = container.duration / av.time_base
    if seconds is not None and seconds > MAX_CLIP_S:
        check_duration(seconds)  # raises: too long
