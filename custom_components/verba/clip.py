"""Reading a voice clip file into what the server takes: 16-bit mono PCM at 8-48 kHz.

WAV (PCM, 8/16/24/32-bit, any channel count) is read with the standard library, so it works in
every Home Assistant install. Other formats (MP3, M4A/AAC, OGG, FLAC, ...) are decoded with PyAV
when Home Assistant's Python has it (it is the stream integration's requirement); the server
resamples to its own rate.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

MAX_FILE_BYTES = 50_000_000  # far above 30 s of any sane format
RATES = (8000, 48000)
PYAV_RATE = 24000  # the server's own rate: no resampling left for it


class ClipError(Exception):
    """The file cannot be used as a clip; str() says why and what to do."""


def read_clip(path: Path) -> tuple[bytes, int]:
    """(16-bit mono PCM, sample rate) of an audio file."""
    try:
        size = path.stat().st_size
    except OSError as err:
        raise ClipError(f"cannot read {path}: {err.strerror or err}") from err
    if size > MAX_FILE_BYTES:
        raise ClipError(f"{path} is {size} bytes; a 1-30 s clip is far smaller")
    with path.open("rb") as file:
        head = file.read(12)
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return _read_wav(path)
    return _read_with_pyav(path)


def _read_wav(path: Path) -> tuple[bytes, int]:
    try:
        with wave.open(str(path), "rb") as wav:
            width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError, OSError) as err:
        raise ClipError(
            f"cannot read the WAV file {path} ({err}); save it as 16-bit PCM WAV"
        ) from err
    if not RATES[0] <= rate <= RATES[1]:
        raise ClipError(f"{path} is sampled at {rate} Hz; use {RATES[0]}-{RATES[1]} Hz")
    return _to_mono16(raw, width, channels).tobytes(), rate


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


def _read_with_pyav(path: Path) -> tuple[bytes, int]:
    try:
        import av  # optional: only some installs have it
    except ImportError as err:
        raise ClipError(
            f"{path.name} is not a WAV file, and this Home Assistant has no PyAV (av) to decode "
            "other formats; convert the clip to WAV"
        ) from err
    try:
        with av.open(str(path)) as container:
            resampler = av.AudioResampler(format="s16", layout="mono", rate=PYAV_RATE)
            frames = [
                out for frame in container.decode(audio=0) for out in resampler.resample(frame)
            ]
            frames += resampler.resample(None)
    except (av.error.FFmpegError, IndexError) as err:
        raise ClipError(f"cannot decode {path.name}: {err}") from err
    if not frames:
        raise ClipError(f"{path.name} has no audio")
    pcm = np.concatenate([frame.to_ndarray().reshape(-1) for frame in frames])
    return pcm.astype("<i2").tobytes(), PYAV_RATE
