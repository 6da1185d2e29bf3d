"""Reading clip files: refused before reading more than needed, never hanging, never a traceback."""

from __future__ import annotations

import contextlib
import os
import random
import threading
import wave
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pytest

from wyoming_verba.protocol import clip_decode
from wyoming_verba.protocol.clip import ClipError
from wyoming_verba.protocol.clip_file import NUL_IN_PATH, read_clip
from wyoming_verba.protocol.wav import AudioFormat, streaming_wav_header, wav_bytes


def tone(seconds: float, rate: int) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 220 * t) * 32767).astype("<i2").tobytes()


def read_within(path: Path, seconds: float = 5.0) -> BaseException | None:
    """read_clip's error (None if it returned), failing the test if it blocks."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            read_clip(path)
            outcome.append(None)
        except BaseException as err:
            outcome.append(err)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"read_clip({path}) blocked"
    return outcome[0]


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "clip.wav"
    os.mkfifo(fifo)
    error = read_within(fifo)
    assert isinstance(error, ClipError)
    assert "is a FIFO (named pipe); give the path of an audio file" in str(error)


@pytest.mark.parametrize(
    ("path", "words"),
    [
        (Path("/dev/zero"), "/dev/zero is not a regular file; give the path of an audio file"),
        (Path("/"), "/ is a folder; give the path of an audio file in it"),
    ],
)
def test_devices_and_folders_are_refused_without_reading(path: Path, words: str) -> None:
    with patch("os.open", side_effect=AssertionError("opened")):
        error = read_within(path)
    assert isinstance(error, ClipError) and str(error) == words


def test_a_nul_byte_in_the_path_is_a_clip_error(tmp_path: Path) -> None:
    with pytest.raises(ClipError) as refused:
        read_clip(Path(f"{tmp_path}/a\0.wav"))
    assert str(refused.value) == NUL_IN_PATH


def test_an_empty_or_huge_file_is_refused_by_its_size(tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    empty.touch()
    with pytest.raises(ClipError, match="is empty; give the path of an audio file"):
        read_clip(empty)
    huge = tmp_path / "huge.wav"
    with huge.open("wb") as file:
        file.truncate(60_000_000)  # sparse: nothing is written
    with pytest.raises(ClipError, match="is 60000000 bytes; a 1-30 s clip is far smaller"):
        read_clip(huge)


@pytest.mark.parametrize(
    ("seconds", "rate", "words"),
    [
        (60.0, 48000, "the clip is 60.0 s long; it must be 1-30 s"),
        (0.5, 16000, "the clip is 0.5 s long; it must be 1-30 s"),
        (2.0, 6000, "'rate' must be 8000-48000 Hz (got 6000)"),
        (2.0, 48001, "'rate' must be 8000-48000 Hz (got 48001)"),  # no whole factor to 48 kHz
    ],
)
def test_a_wav_header_is_checked_before_any_frame_is_read(
    tmp_path: Path, seconds: float, rate: int, words: str
) -> None:
    path = tmp_path / "clip.wav"
    path.write_bytes(wav_bytes(tone(seconds, rate), AudioFormat(rate=rate)))
    with (
        patch.object(wave.Wave_read, "readframes", side_effect=AssertionError("read")),
        pytest.raises(ClipError) as refused,
    ):
        read_clip(path)
    assert str(refused.value).startswith(words), refused.value


def test_a_streamed_wav_is_as_long_as_its_bytes(tmp_path: Path) -> None:
    # The header says 0xFFFFFFFF bytes of data (what our TTS entity streams to HA).
    path = tmp_path / "saved-stream.wav"
    path.write_bytes(streaming_wav_header(AudioFormat(rate=16000)) + tone(2.0, 16000))
    clip = read_clip(path)
    assert (clip.rate, clip.frames) == (16000, 32000)


@pytest.mark.parametrize("pyav", [False, True])
def test_damaged_wav_headers_are_clip_errors_never_tracebacks(tmp_path: Path, pyav: bool) -> None:
    if pyav:
        pytest.importorskip("av")
    good = wav_bytes(tone(1.5, 16000), AudioFormat(rate=16000))
    chance = random.Random(26)
    path = tmp_path / "fuzz.wav"
    modules = {} if pyav else {"av": None}
    with patch.dict("sys.modules", modules):
        for _ in range(150 if pyav else 1500):
            data = bytearray(good)
            for _ in range(chance.randint(1, 6)):
                data[chance.randrange(44)] = chance.randrange(256)
            path.write_bytes(bytes(data[: chance.choice([len(data), chance.randrange(60)])]))
            with contextlib.suppress(ClipError):
                read_clip(path)


def _flac(path: Path, seconds: float, rate: int = 8000) -> Path:
    av = pytest.importorskip("av")
    with av.open(str(path), "w") as container:
        stream = container.add_stream("flac", rate=rate, layout="mono")
        silence = np.zeros((1, int(seconds * rate)), dtype=np.int16)
        frame = av.AudioFrame.from_ndarray(silence, format="s16", layout="mono")
        frame.rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return path


def test_pyav_refuses_a_long_clip_from_its_container_before_decoding(tmp_path: Path) -> None:
    path = _flac(tmp_path / "hour.flac", 120.0)
    av = pytest.importorskip("av")
    with (
        patch.object(av, "AudioResampler", side_effect=AssertionError("decoding")),
        pytest.raises(ClipError, match="the clip is 120.0 s long; it must be 1-30 s"),
    ):
        read_clip(path)


def test_pyav_stops_decoding_past_the_limit(tmp_path: Path) -> None:
    # A container that does not state its length: decoding stops just past 30 s.
    path = _flac(tmp_path / "long.flac", 120.0)
    with (
        patch.object(clip_decode, "_check_stream"),
        pytest.raises(ClipError, match=r"the clip is over 30\.\d+ s long; it must be 1-30 s"),
    ):
        read_clip(path)


def test_pyav_refuses_a_rate_below_8_khz(tmp_path: Path) -> None:
    path = _flac(tmp_path / "low.flac", 2.0, rate=4000)
    with pytest.raises(ClipError, match="'rate' must be at least 8000 Hz"):
        read_clip(path)
