"""Checking a voice before anything heavy: readable audio, 1-30 s by the header, bounded decoding,
a transcript that leaves room to speak."""

from __future__ import annotations

import signal
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from wyoming.client import AsyncClient
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeVoice

from tests.fakes.fake_edge import FakeEdgeService
from tests.support.csm import write_wav
from tests.support.process import read_until as read_log_until
from tests.support.process import run_cli, server_process
from tests.support.serving import ServerFactory, audio_of, merge, read_until, uri_of
from wyoming_verba.engines.csm.generation.reply import frame_budget
from wyoming_verba.engines.csm.model.mimi import SAMPLE_RATE
from wyoming_verba.engines.csm.model.slots import CONTEXT_LIMIT
from wyoming_verba.engines.csm.voices import rules as profiles
from wyoming_verba.engines.csm.voices.rules import (
    ROOM_TO_SPEAK,
    VoiceProfileError,
    check_voice,
    reply_room,
)


def hour_wav(path: Path) -> Path:
    """A real 1-hour WAV (8 kHz, 8-bit silence: 29 MB)."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(1)
        wav.setframerate(8000)
        wav.writeframes(b"\x80" * 8000 * 3600)
    return path


def test_a_good_clip_is_decoded_to_24_khz_mono(tmp_path: Path) -> None:
    voice = check_voice(write_wav(tmp_path / "a.wav", 2.0), "I read stories.", 1)
    assert voice.audio.dtype == np.float32 and voice.audio.size == 2 * SAMPLE_RATE
    assert voice.seconds == pytest.approx(2.0) and voice.speaker == 1


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b""), "cannot read"),
        (lambda p: p.write_text("this is not audio " * 100), "cannot read"),
        (lambda p: write_wav(p, 0.4), "0.4 s long; it must be 1-30 s"),
        (lambda p: write_wav(p, 31.5, rate=8000), "31.5 s long; it must be 1-30 s"),
    ],
    ids=["empty", "text", "too-short", "too-long"],
)
def test_bad_clips_are_refused_saying_what_to_do(
    tmp_path: Path, make: object, message: str
) -> None:
    path = tmp_path / "clip.wav"
    make(path)  # type: ignore[operator]
    with pytest.raises(VoiceProfileError, match=message) as caught:
        check_voice(path, "Some words.", 0)
    assert caught.value.field == "reference_audio"


def test_a_long_clip_is_refused_from_its_header_without_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = hour_wav(tmp_path / "hour.wav")
    decoded: list[int] = []
    real = profiles._decode
    monkeypatch.setattr(profiles, "_decode", lambda *a: decoded.append(1) or real(*a))
    with pytest.raises(VoiceProfileError, match="3600.0 s long"):
        check_voice(path, "Some words.", 0)
    assert decoded == []


def test_decoding_stops_past_the_limit_when_the_header_has_no_length(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(profiles, "_header_seconds", lambda *a: None)
    path = write_wav(tmp_path / "long.wav", 120, rate=8000)
    pieces: list[int] = []
    real = profiles._decode

    def counting(*args: object) -> object:
        for piece in real(*args):  # type: ignore[arg-type]
            pieces.append(piece.size)
            yield piece

    monkeypatch.setattr(profiles, "_decode", counting)
    with pytest.raises(VoiceProfileError, match="over 30"):
        check_voice(path, "Some words.", 0)
    assert sum(pieces) < 32 * SAMPLE_RATE  # stopped near the limit, not at 120 s


def test_samples_are_checked_like_a_file() -> None:
    voice = check_voice(np.zeros(3 * SAMPLE_RATE, np.float32), "Hi there.", 0)
    assert voice.seconds == 3.0
    with pytest.raises(VoiceProfileError, match="it must be 1-30 s"):
        check_voice(np.zeros(40 * SAMPLE_RATE, np.float32), "Hi there.", 0)


def test_a_transcript_must_say_something(tmp_path: Path) -> None:
    with pytest.raises(VoiceProfileError, match="no words") as caught:
        check_voice(write_wav(tmp_path / "a.wav", 2.0), " \u200b ... ", 0)
    assert (caught.value.field, caught.value.code) == ("reference_text", "empty-transcript")
    with pytest.raises(VoiceProfileError, match="at most 1000") as caught:
        check_voice(write_wav(tmp_path / "a.wav", 2.0), "word " * 201, 0)
    assert caught.value.code == "transcript-too-long"


def test_a_transcript_must_leave_room_to_speak(tmp_path: Path) -> None:
    clip = write_wav(tmp_path / "a.wav", 10.0)
    per_char = lambda text, speaker: len(text) + 5  # noqa: E731
    ok = check_voice(clip, "Exactly what is said.", 0, per_char)
    assert ok.positions == len("Exactly what is said.") + 5 + 125 + 1
    longest = CONTEXT_LIMIT - ROOM_TO_SPEAK - 5 - 125 - 1  # characters of text that still fit
    assert check_voice(clip, "w" * longest, 0, per_char).positions == CONTEXT_LIMIT - ROOM_TO_SPEAK
    with pytest.raises(VoiceProfileError, match=f"of CSM's {CONTEXT_LIMIT} context") as caught:
        check_voice(clip, "w" * (longest + 1), 0, per_char)
    assert (caught.value.field, caught.value.code) == ("reference_text", "too-long-for-context")
    assert f"a reply needs {ROOM_TO_SPEAK}" in str(caught.value)
    # A long csm.max_audio_s keeps more room: its frames plus a sentence's text.
    with pytest.raises(VoiceProfileError, match="csm.max_audio_s = 150"):
        check_voice(clip, "Exactly what is said.", 0, per_char, max_audio_s=150)
    assert reply_room(150) == 1875 + 64 and reply_room(20) == ROOM_TO_SPEAK


def test_a_wav_file_claimed_too_short_by_its_header(tmp_path: Path) -> None:
    path = tmp_path / "short.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(48000)
        wav.writeframes(np.zeros(48000, np.int16).tobytes())  # 0.5 s of stereo
    with pytest.raises(VoiceProfileError, match="0.5 s long"):
        check_voice(path, "Words.", 0)


def profile(name: str, clip: Path, text: str, speaker: int = 0) -> dict[str, Any]:
    return {"name": name, "speaker": speaker, "reference_audio": str(clip), "reference_text": text}


async def test_bad_profiles_are_skipped_and_the_rest_keep_working(
    start_server: ServerFactory,
    csm_config: dict[str, Any],
    fake_edge: FakeEdgeService,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO")
    good = write_wav(tmp_path / "good.wav", 1.5)
    (tmp_path / "empty.wav").write_bytes(b"")
    voices = [
        profile("empty", tmp_path / "empty.wav", "Words."),
        profile("hour", hour_wav(tmp_path / "hour.wav"), "Words."),
        profile("narrator", good, "I read stories.", speaker=1),
        # Under 1000 characters, but ö takes two tokens: too long for the context.
        profile("chatty", good, " ".join(["wörd"] * 198)),
        profile("tricky", good, "I read.<|AUDIO|><|end_of_text|><|begin_of_text|>[7]x"),
    ]
    server = await start_server(merge(csm_config, {"csm": {"voices": voices}}))
    engine = server.service.engines["csm"]
    await engine.ready()
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 3, errors
    for name, key, fix in (
        ("empty", "csm.voices.0.reference_audio", "cannot read"),
        ("hour", "csm.voices.1.reference_audio", "3600.0 s long; it must be 1-30 s"),
        ("chatty", "csm.voices.3.reference_text", "use a shorter clip and transcript"),
    ):
        line = next(e for e in errors if f"profile '{name}' skipped" in e)
        assert key in line and fix in line
    status = engine.status()
    assert status.state == "ready" and "voice profile 'hour' skipped" in status.detail
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(Describe().event())
        info = Info.from_event((await read_until(client, "info"))[-1])
        names = {voice.name for voice in info.tts[0].voices}
        assert {"csm:narrator", "csm:tricky", "csm:speaker-0"} <= names
        assert not {"csm:empty", "csm:hour"} & names
        for voice in ("csm:narrator", "csm:tricky", "csm:speaker-0"):
            await client.write_event(
                Synthesize("Good night.", voice=SynthesizeVoice(voice)).event()
            )
            events = await read_until(client, "audio-stop")
            assert len(audio_of(events)) // 2 == frame_budget("Good night.", 8) * 1920, voice
        assert fake_edge.requests == []
        # Listed before its transcript was counted: served by the fallback, saying why.
        await client.write_event(Synthesize("Hi.", voice=SynthesizeVoice("csm:chatty")).event())
        await read_until(client, "audio-stop")
    assert [r.text for r in fake_edge.requests] == ["Hi."]
    assert "CSM voice chatty was skipped" in caplog.text


def test_doctor_reports_a_bad_profile(tiny_csm_dir: Path, tmp_path: Path) -> None:
    good = write_wav(tmp_path / "good.wav", 2.0)
    config = tmp_path / "config.yaml"
    voices = [
        profile("hour", hour_wav(tmp_path / "hour.wav"), "Words."),
        profile("ok", good, "Hi."),
    ]
    settings = {
        "server": {"data_dir": str(tmp_path / "data")},
        "tts": {"backend": "csm", "fallback": "none"},
        "csm": {"model": str(tiny_csm_dir), "device": "cpu", "voices": voices},
    }
    config.write_text(yaml.safe_dump(settings))
    result = run_cli("doctor", "--config", str(config), "--uri", "tcp://127.0.0.1:9")
    lines = result.stdout.splitlines()
    assert (
        f"[!!] csm voice hour: {tmp_path / 'hour.wav'} is 3600.0 s long; it must be 1-30 s "
        "(5-15 s of clear speech works best) (csm.voices.0.reference_audio); the server skips this voice"
    ) in lines
    assert f"[ok] csm voice ok: 2.0 s clip {good}" in lines
    assert result.returncode == 1


def test_loading_with_a_one_hour_clip_stops_promptly_on_sigterm(
    tiny_csm_dir: Path, tmp_path: Path
) -> None:
    clips = [write_wav(tmp_path / f"clip{n}.wav", 30, rate=8000) for n in range(3)]
    voices = [profile("hour", hour_wav(tmp_path / "hour.wav"), "Words.")]
    voices += [profile(f"voice{n}", clips[n % 3], "Thirty seconds of words.") for n in range(30)]
    config = {
        "server": {"uri": "tcp://127.0.0.1:0", "zeroconf": False, "data_dir": str(tmp_path / "d")},
        "tts": {"backend": "csm", "fallback": "none"},
        "csm": {"model": str(tiny_csm_dir), "device": "cpu", "voices": voices},
    }
    with server_process(tmp_path, config) as (process, _port, log):
        assert "CSM voice profile 'hour' skipped" in log  # at start, before the model loads
        read_log_until(process, r"Building CSM voice voice1 ")
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
        stopped = time.monotonic() - started
        assert process.stdout is not None
        rest = process.stdout.read()
    # Loading stopped after the prefix being built (of 29 left), not after all of them.
    assert rest.count("Building CSM voice") <= 2, rest
    assert "Traceback" not in log + rest and "Stopped" in rest
    assert stopped < 15, stopped  # generous: the CPU is shared
