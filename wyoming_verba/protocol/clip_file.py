"""Reading an audio file into a Clip the server takes (16-bit mono PCM at 8-48 kHz).

Every check the clip rule allows is made before the audio is read: only a regular file is opened
(a FIFO, a device such as /dev/zero or a directory is refused from its metadata alone), a WAV
file's rate and length come from its header, and no more frames are read than the rule admits.
WAV (PCM, 8/16/24/32-bit, any channel count) is read with the standard library, so it works in
every Home Assistant install; one sampled above 48 kHz is brought down by a whole factor (96 kHz
→ 48 kHz). Other formats go to PyAV (clip_decode). ClipError says what to change.
"""

from __future__ import annotations

import math
import os
import stat
import struct
import wave
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from .clip import (
    CLIP_RATES,
    CLIP_WIDTH,
    MAX_CLIP_S,
    MIN_CLIP_S,
    Clip,
    ClipError,
    check_duration,
    check_format,
)
from .clip_decode import read_with_pyav

MAX_FILE_BYTES = 50_000_000  # far above 30 s of any sane format
NUL_IN_PATH = "the clip's path contains a NUL byte; give the audio file's path without it"
# What the standard library's wave raises on a damaged header (RuntimeError and EOFError bare).
_WAVE_ERRORS = (wave.Error, EOFError, RuntimeError, struct.error, ValueError, OverflowError)


def read_clip(path: Path) -> Clip:
    """The clip in an audio file, checked with the clip rule (ClipError says what to do)."""
    with _open_regular(path) as file:
        head = file.read(12)
        file.seek(0)
        clip = _read_wav(file, path) if head[:4] == b"RIFF" and head[8:12] == b"WAVE" else None
        if clip is None:
            file.seek(0)
            clip = read_with_pyav(file, path)
    return clip.check()


def _open_regular(path: Path) -> BinaryIO:
    """The file opened for reading, when it is a regular file of a sane size.

    Checked from its metadata before it is opened (opening a FIFO blocks, a device may never
    end), and again on the opened file, in case it was swapped in between.
    """
    try:
        _check_regular(path, os.stat(path))
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
        fd = os.open(path, flags)
    except ValueError as err:  # a NUL byte in the path
        raise ClipError(NUL_IN_PATH) from err
    except OSError as err:
        raise ClipError(f"cannot read the clip {path}: {err.strerror or err}") from err
    try:
        _check_regular(path, os.fstat(fd))
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def _check_regular(path: Path, info: os.stat_result) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise ClipError(f"{path} is a folder; give the path of an audio file in it")
    if not stat.S_ISREG(info.st_mode):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(info.st_mode) else "not a regular file"
        raise ClipError(f"{path} is {kind}; give the path of an audio file")
    if info.st_size > MAX_FILE_BYTES:
        raise ClipError(
            f"{path} is {info.st_size} bytes; a {MIN_CLIP_S:g}-{MAX_CLIP_S:g} s clip is far "
            f"smaller (at most {MAX_FILE_BYTES} bytes)"
        )
    if info.st_size == 0:
        raise ClipError(f"{path} is empty; give the path of an audio file")


def _read_wav(file: BinaryIO, path: Path) -> Clip | None:
    """A PCM WAV file's clip, its header checked first; None when wave cannot read it (float
    WAV, for one: PyAV may)."""
    try:
        with wave.open(file, "rb") as wav:
            width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
            # The header's frame count can be wrong (a streamed WAV says 0xFFFFFFFF): the
            # bytes after the data chunk's header bound it.
            available = (os.fstat(file.fileno()).st_size - file.tell()) // (width * channels)
            frames = min(wav.getnframes(), available)
            _check_wav_header(width, rate, frames)
            raw = wav.readframes(frames)
    except _WAVE_ERRORS:
        return None
    except OSError as err:
        raise ClipError(f"cannot read the clip {path}: {err.strerror or err}") from err
    samples = _to_mono16(raw, width, channels)
    if rate > CLIP_RATES[1]:
        samples, rate = _decimated(samples, rate)
    return Clip(samples.tobytes(), rate)


def _check_wav_header(width: int, rate: int, frames: int) -> None:
    """Sample width, rate and length from the header: ClipError before any frame is read."""
    if width not in (1, 2, 3, 4):
        raise ClipError(f"{width * 8}-bit WAV is not supported; save it as 16-bit PCM WAV")
    factor = _decimation(rate)
    check_format(rate // factor, CLIP_WIDTH, 1)
    check_duration(frames / rate)


def _to_mono16(raw: bytes, width: int, channels: int) -> npt.NDArray[np.int16]:
    """Interleaved PCM of any width → 16-bit mono (channels averaged)."""
    data = np.frombuffer(raw[: len(raw) - len(raw) % (width * channels)], dtype=np.uint8)
    if width == 1:
        samples = (data.astype(np.int32) - 128) << 8
    else:
        # Keep the top two bytes of each little-endian sample: its 16-bit value.
        top = data.reshape(-1, width)[:, width - 2 :]
        samples = top.copy().view("<i2").reshape(-1).astype(np.int32)
    mono = samples.reshape(-1, channels).mean(axis=1)
    return np.asarray(np.round(mono), dtype="<i2")


def _decimation(rate: int) -> int:
    """The smallest whole factor that brings `rate` to at most 48 kHz (1 when none does: the
    clip rule then refuses the rate)."""
    if rate <= CLIP_RATES[1]:
        return 1
    for factor in range(math.ceil(rate / CLIP_RATES[1]), rate // CLIP_RATES[0] + 1):
        if rate % factor == 0:
            return factor
    return 1


def _decimated(samples: npt.NDArray[np.int16], rate: int) -> tuple[npt.NDArray[np.int16], int]:
    """Down by _decimation(rate), each output the mean of its inputs (a plain low-pass, enough
    for a reference clip)."""
    factor = _decimation(rate)
    whole = samples[: samples.size - samples.size % factor].astype(np.int32)
    mean = whole.reshape(-1, factor).mean(axis=1)
    return np.asarray(np.round(mean), dtype="<i2"), rate // factor
