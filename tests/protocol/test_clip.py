"""The clip rule and reading clip files: one rule, the server's words, checked before upload."""

from __future__ import annotations

import wave
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pytest

from wyoming_verba.protocol.clip import (
    CLIP_RATE,
    MAX_CLIP_BYTES,
    Clip,
    ClipError,
    check_format,
    duration_problem,
)
from wyoming_verba.protocol.clip_file import read_clip
from wyoming_verba.protocol.voice_events import VoiceCreate


def pcm(seconds: float, rate: int, channels: int = 1) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    mono = (0.3 * np.sin(2 * np.pi * 220 * t) * 32767).astype("<i2")
    return np.repeat(mono, channels).astype("<i2").tobytes()


def write_wav(path: Path, seconds: float, rate: int, width: int = 2, channels: int = 1) -> Path:
    samples = np.frombuffer(pcm(seconds, rate, channels), dtype="<i2")
    if width == 1:
        raw = ((samples.astype(np.int32) >> 8) + 128).astype(np.uint8).tobytes()
    elif width == 3:
        raw = np.column_stack(
            [np.zeros(samples.size, np.uint8), samples.view(np.uint8).reshape(-1, 2)]
        ).tobytes()
    else:
        raw = samples.tobytes()
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(raw)
    return path


@pytest.mark.parametrize(
    ("clip", "code", "words"),
    [
        (Clip(pcm(0.4, 16000), 16000), "bad-duration", "the clip is 0.4 s long; it must be 1-30 s"),
        (Clip(pcm(60, 16000), 16000), "bad-duration", "the clip is 60.0 s long; it must be 1-30 s"),
        (Clip(pcm(2, 96000), 96000), "bad-audio", "'rate' must be 8000-48000 Hz (got 96000)"),
        (Clip(pcm(2, 6000), 6000), "bad-audio", "'rate' must be 8000-48000 Hz (got 6000)"),
        (Clip(pcm(2, 16000), 16000, width=4), "bad-audio", "16-bit (width 2)"),
        (Clip(pcm(2, 16000), 16000, channels=3), "bad-audio", "mono or stereo"),
        (Clip(b"\0" * 48001, 24000), "bad-audio", "whole 1-channel 16-bit frames"),
        (Clip(b"", 24000), "bad-audio", "whole 1-channel 16-bit frames"),
        (Clip(b"\0" * (MAX_CLIP_BYTES + 2), 48000), "bad-audio", "larger than a server accepts"),
    ],
)
def test_a_clip_outside_the_rule_is_refused_with_the_servers_code(
    clip: Clip, code: str, words: str
) -> None:
    with pytest.raises(ClipError) as refused:
        clip.check()
    assert refused.value.code == code and words in str(refused.value)


def test_clips_inside_the_rule_pass() -> None:
    for clip in (
        Clip(pcm(1.0, 8000), 8000),
        Clip(pcm(30.0, 48000, 2), 48000, channels=2),
        Clip(pcm(5.0, CLIP_RATE), CLIP_RATE),
    ):
        assert clip.check() is clip


def test_the_server_reads_an_event_with_the_same_rule() -> None:
    event = VoiceCreate("x", "Hi.", pcm(2, 96000), 96000).event()
    with pytest.raises(ClipError) as refused:
        VoiceCreate.from_event(event)
    with pytest.raises(ClipError) as checked:
        check_format(96000, 2, 1)
    assert str(refused.value) == str(checked.value)
    assert refused.value.code == "bad-audio"


def test_the_duration_message_is_the_engines() -> None:
    assert duration_problem(1.0) is None and duration_problem(30.0) is None
    assert duration_problem(0.5) == (
        "the clip is 0.5 s long; it must be 1-30 s (5-15 s of clear speech works best)"
    )


@pytest.mark.parametrize(("width", "channels"), [(1, 1), (2, 2), (3, 1)])
def test_wav_of_any_width_and_channels_is_read_as_16_bit_mono(
    tmp_path: Path, width: int, channels: int
) -> None:
    clip = read_clip(write_wav(tmp_path / "a.wav", 1.5, 16000, width, channels))
    assert (clip.rate, clip.width, clip.channels, clip.frames) == (16000, 2, 1, 24000)


@pytest.mark.parametrize(("rate", "kept"), [(96000, 48000), (88200, 44100), (192000, 48000)])
def test_wav_above_48_khz_is_brought_down_by_a_whole_factor(
    tmp_path: Path, rate: int, kept: int
) -> None:
    clip = read_clip(write_wav(tmp_path / "hi.wav", 2.0, rate))
    assert clip.rate == kept and clip.frames == 2 * kept
    spectrum = np.abs(np.fft.rfft(np.frombuffer(clip.pcm, dtype="<i2").astype(np.float32)))
    assert np.fft.rfftfreq(clip.frames, 1 / kept)[int(np.argmax(spectrum))] == pytest.approx(
        220, abs=1
    )


def test_a_wav_too_long_is_refused_before_any_upload(tmp_path: Path) -> None:
    with pytest.raises(ClipError, match="the clip is 60.0 s long; it must be 1-30 s"):
        read_clip(write_wav(tmp_path / "phone.wav", 60.0, 48000))


def test_other_formats_need_pyav(tmp_path: Path) -> None:
    song = tmp_path / "song.mp3"
    song.write_bytes(b"ID3" + bytes(200))
    with patch.dict("sys.modules", {"av": None}), pytest.raises(ClipError) as refused:
        read_clip(song)
    assert "no PyAV (av)" in str(refused.value) and "convert the clip" in str(refused.value)
    with pytest.raises(ClipError, match="cannot read the clip"):
        read_clip(song)  # PyAV is there, and the file is no audio
    with pytest.raises(ClipError, match="cannot read the clip .*none.wav"):
        read_clip(tmp_path / "none.wav")


def test_pyav_reads_what_the_standard_library_cannot(tmp_path: Path) -> None:
    av = pytest.importorskip("av")
    path = tmp_path / "float.wav"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_f32le", rate=16000, layout="mono")
        samples = (0.3 * np.sin(2 * np.pi * 220 * np.arange(32000) / 16000)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
        frame.rate = 16000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    clip = read_clip(path)
    assert clip.rate == CLIP_RATE and abs(clip.frames - 2 * CLIP_RATE) < 100


def test_the_duration_message_never_rounds_into_the_rule() -> None:
    assert "30.0001 s long; it must be 1-30 s" in (duration_problem(30.0001) or "")
    assert "0.99999 s long" in (duration_problem(0.99999) or "")
    assert "30.5 s long" in (duration_problem(30.5) or "")
