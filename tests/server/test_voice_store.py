"""Created voices on disk: what is written, what loads, what is skipped."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest

from wyoming_verba.server.voice_store import VoiceStore, VoiceStoreError


def clip(seconds: float = 1.0) -> np.ndarray:
    return (np.arange(int(seconds * 24000)) % 200 - 100).astype(np.int16)


def test_saved_voices_load_as_profiles_with_their_clip(tmp_path: Path) -> None:
    store = VoiceStore(tmp_path)
    samples = clip()
    saved = store.save("grandma", samples, "Once upon a time.", 2)
    assert saved.reference_audio == tmp_path / "voices" / "grandma" / "clip.wav"
    with wave.open(str(saved.reference_audio)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (24000, 1, 2)
        assert np.array_equal(np.frombuffer(wav.readframes(wav.getnframes()), "<i2"), samples)
    assert VoiceStore(tmp_path).load() == [saved]
    assert saved.speaker == 2 and saved.reference_text == "Once upon a time."
    assert [p.name for p in (tmp_path / "voices").iterdir()] == ["grandma"]  # no leftovers


def test_a_taken_name_is_not_overwritten(tmp_path: Path) -> None:
    store = VoiceStore(tmp_path)
    store.save("same", clip(), "First.", 0)
    with pytest.raises(VoiceStoreError, match="cannot store voice 'same'"):
        store.save("same", clip(2), "Second.", 0)
    assert [p.reference_text for p in store.load()] == ["First."]
    assert [p.name for p in (tmp_path / "voices").iterdir()] == ["same"]


def test_half_written_and_broken_voices_are_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = VoiceStore(tmp_path)
    store.save("good", clip(), "Fine.", 0)
    (tmp_path / "voices" / ".new-crashed-1234").mkdir()  # a save cut short
    broken = tmp_path / "voices" / "broken"
    broken.mkdir()
    (broken / "profile.json").write_text(json.dumps({"transcript": "", "speaker": 0}))
    (tmp_path / "voices" / "noclip").mkdir()
    (tmp_path / "voices" / "noclip" / "profile.json").write_text(
        json.dumps({"transcript": "Hi.", "speaker": 0})
    )
    assert [p.name for p in store.load()] == ["good"]
    assert "Skipping the stored CSM voice" in caplog.text and "clip.wav is missing" in caplog.text


def test_delete_removes_the_voice(tmp_path: Path) -> None:
    store = VoiceStore(tmp_path)
    store.save("gone", clip(), "Bye.", 0)
    store.delete("gone")
    assert store.load() == [] and not store.has("gone")
    assert list((tmp_path / "voices").iterdir()) == []
    with pytest.raises(VoiceStoreError, match="cannot remove voice 'gone'"):
        store.delete("gone")


def test_an_unusable_data_dir_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "voices").write_text("a file where the folder should be")
    with pytest.raises(VoiceStoreError, match="make server.data_dir writable"):
        VoiceStore(tmp_path).save("x", clip(), "Hi.", 0)
    assert VoiceStore(tmp_path).load() == []


def test_a_damaged_clip_is_skipped_so_csm_still_loads(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = VoiceStore(tmp_path)
    store.save("damaged", clip(), "Hi.", 0)
    (tmp_path / "voices" / "damaged" / "clip.wav").write_bytes(b"RIFF\x00\x00")
    assert store.load() == [] and store.count() == 1
    assert "Skipping the stored CSM voice" in caplog.text


def test_clips_are_kept_at_the_protocols_rate(tmp_path: Path) -> None:
    from wyoming_verba.protocol.clip import CLIP_RATE
    from wyoming_verba.server import voice_store

    assert voice_store.CLIP_RATE is CLIP_RATE == 24000
