"""Reading an audio file into a Clip the server takes (16-bit mono PCM at 8-48 kHz).

WAV (PCM, 8/16/24/32-bit, any channel count) is read with the standard library, so it works in
every Home Assistant install; one sampled above 48 kHz is brought down by a whole factor (96 kHz
→ 48 kHz). Other formats (MP3, M4A/AAC, OGG, FLAC, float WAV, ...) are decoded with PyAV when it
is installed (the server has it; in Home Assistant it comes with the stream integration). The
server resamples to its own rate; the result is checked with the clip rule before any upload.
"""

from __future__ import annotations

import math
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .clip import CLIP_RATE, CLIP_RATES, Clip, ClipError

MAX_FILE_BYTES = 50_000_000  # far above 30 s of any sane format


def read_clip(path: Path) -> Clip:
    """The clip in an audio file, checked with the clip rule (ClipError says what to do)."""
    try:
        size = path.stat().st_size
        with path.open("rb") as file:
            head = file.read(12)
    except OSError as err:
        raise ClipError(f"cannot read the clip {path}: {err.strerror or err}") from err
    if size > MAX_FILE_BYTES:
        raise ClipError(f"{path} is {size} bytes; a 1-30 s clip is far smaller")
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        clip = _read_wav(path)
    else:
        clip = _read_with_pyav(path, f"{path.name} is not a WAV file")
    return clip.check()


def _read_wav(path: Path) -> Clip:
    try:
        with wave.open(str(path), "rb") as wav:
            width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError, OSError) as err:
        # Not plain PCM (float WAV, for one): PyAV reads it when it is there.
        return _read_with_pyav(path, f"cannot read the WAV file {path} ({err})")
    samples = _to_mono16(raw, width, channels)
    if rate > CLIP_RATES[1]:
        samples, rate = _decimated(samples, rate)
    return Clip(samples.tobytes(), rate)


def _to_mono16(raw: bytes, width: int, channels: int) -> npt.NDArray[np.int16]:
    """Interleaved PCM of any width → 16-bit mono (channels averaged)."""
    data = np.frombuffer(raw[: len(raw) - len(raw) % (width * channels)], dtype=np.uint8)
    if width == 1:
        samples = (data.astype(np.int32) - 128) << 8
    elif width in (2, 3, 4):
        # Keep the top two bytes of each little-endian sample: its 16-bit value.
        top = data.reshape(-1, width)[:, width - 2 :]
        samples = top.copy().view("<i2").reshape(-1).astype(np.int32)
    else:
        raise ClipError(f"{width * 8}-bit WAV is not supported; save it as 16-bit PCM WAV")
    mono = samples.reshape(-1, channels).mean(axis=1)
    return np.asarray(np.round(mono), dtype="<i2")


def _decimated(samples: npt.NDArray[np.int16], rate: int) -> tuple[npt.NDArray[np.int16], int]:
    """Down to at most 48 kHz by the smallest whole factor (each output the mean of its inputs:
    a plain low-pass, enough for a reference clip); the rate unchanged when none divides it."""
    for factor in range(math.ceil(rate / CLIP_RATES[1]), rate // CLIP_RATES[0] + 1):
        if rate % factor == 0:
            whole = samples[: samples.size - samples.size % factor].astype(np.int32)
            mean = whole.reshape(-1, factor).mean(axis=1)
            return np.asarray(np.round(mean), dtype="<i2"), rate // factor
    return samples, rate  # the clip rule refuses it, naming the rate


def _read_with_pyav(path: Path, why_not_wav: str) -> Clip:
    try:
        import av  # optional: only some installs have it
    except ImportError as err:
        raise ClipError(
            f"{why_not_wav}, and this Python has no PyAV (av) to decode other formats; "
            "convert the clip to 16-bit PCM WAV"
        ) from err
    try:
        with av.open(str(path)) as container:
            resampler = av.AudioResampler(format="s16", layout="mono", rate=CLIP_RATE)
            frames = [
                out for frame in container.decode(audio=0) for out in resampler.resample(frame)
            ]
            frames += resampler.resample(None)
    except (av.error.FFmpegError, IndexError, OSError) as err:
        raise ClipError(f"cannot read the clip {path}: {err}") from err
    if not frames:
        raise ClipError(f"the clip {path} has no audio")
    pcm = np.concatenate([frame.to_ndarray().reshape(-1) for frame in frames])
    return Clip(pcm.astype("<i2").tobytes(), CLIP_RATE)
