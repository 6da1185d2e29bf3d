"""Created voices on disk: what is written, what loads, what is skipped."""

from __future__ import annotations

import errno
import json
import os
import struct
import uuid
import wave
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.process import server_process
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
    with pytest.raises(VoiceStoreError, match="check that server.data_dir is a writable folder"):
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


def _damage(voices: Path) -> None:
    """One stored voice per kind of damage seen from a careless operator."""
    for name, profile, wav in [
        ("odd-riff", None, b"RIFF\x24\x00\x00\x00WAVEfmt \x11\x00\x00\x00" + bytes(40)),
        ("deep-json", b"[" * 100_000, None),
        ("not-object", b"[1]", None),
        ("huge-speaker", json.dumps({"transcript": "Hi.", "speaker": 10**30}).encode(), None),
    ]:
        folder = voices / name
        folder.mkdir(parents=True)
        (folder / "profile.json").write_bytes(
            profile or json.dumps({"transcript": "Hi.", "speaker": 0}).encode()
        )
        if wav is not None:
            (folder / "clip.wav").write_bytes(wav)
        else:
            (folder / "clip.wav").symlink_to(voices / "good" / "clip.wav")
    fifo = voices / "fifo"
    fifo.mkdir()
    os.mkfifo(fifo / "profile.json")
    endless = voices / "endless"
    endless.mkdir()
    (endless / "profile.json").symlink_to("/dev/zero")
    big = voices / "big"
    big.mkdir()
    (big / "profile.json").write_text(json.dumps({"transcript": "x" * 100_000, "speaker": 0}))


def test_every_kind_of_damage_skips_that_voice_with_one_error_naming_its_folder(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = VoiceStore(tmp_path)
    store.save("good", clip(), "Fine.", 0)
    _damage(tmp_path / "voices")
    assert [p.name for p in store.load()] == ["good"]
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 7
    for record in errors:
        assert str(tmp_path / "voices") in record.getMessage()
        assert "remove that folder and create the voice again" in record.getMessage()
    assert "not a regular file" in caplog.text and "larger than 64 KiB" in caplog.text


_u32 = st.integers(0, 2**32 - 1) | st.integers(0, 64)
_headers = st.builds(
    lambda riff, fmt_size, fmt, chunk, size, tail: (
        b"RIFF"
        + struct.pack("<I", riff)
        + b"WAVE"
        + chunk
        + struct.pack("<I", fmt_size)
        + fmt
        + b"data"
        + struct.pack("<I", size)
        + tail
    ),
    _u32,
    _u32,
    st.binary(min_size=0, max_size=20),
    st.sampled_from([b"fmt ", b"LIST", b"data", b"junk"]),
    _u32,
    st.binary(max_size=8),
)
_profiles = st.binary(max_size=200) | st.builds(
    lambda value: json.dumps(value).encode(),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.sampled_from(["transcript", "speaker", "x"]), inner, max_size=3)
        ),
        max_leaves=6,
    ),
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(header=_headers, profile=_profiles)
def test_fuzzed_clip_headers_and_profiles_never_stop_the_load(
    tmp_path: Path, header: bytes, profile: bytes
) -> None:
    root = tmp_path / uuid.uuid4().hex
    store = VoiceStore(root)
    saved = store.save("v", clip(), "Fine.", 0)
    data = saved.reference_audio.read_bytes() if saved.reference_audio else b""
    saved.reference_audio.write_bytes(header + data[len(header) :])  # type: ignore[union-attr]
    other = store.save("w", clip(), "Fine.", 0)
    (root / "voices" / "w" / "profile.json").write_bytes(profile)
    loaded = store.load()  # must not raise
    assert {p.name for p in loaded} <= {"v", "w"} and other.name == "w"


def test_a_damaged_voice_does_not_stop_the_server_process(tmp_path: Path) -> None:
    store = VoiceStore(tmp_path / "data")
    store.save("good", clip(), "Fine.", 0)
    _damage(tmp_path / "data" / "voices")
    config = {
        "server": {
            "uri": "tcp://127.0.0.1:0",
            "zeroconf": {"enabled": False},
            "data_dir": str(tmp_path / "data"),
        },
        "edge": {"endpoint": "http://127.0.0.1:9", "voice_list_timeout_s": 1},
    }
    with server_process(tmp_path, config) as (process, _port, log):
        assert process.poll() is None
    assert "Traceback" not in log
    assert log.count("Skipping the stored CSM voice") == 7


def test_a_full_disk_says_to_free_space(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from wyoming_verba.server import voice_store

    def full(*_: object, **__: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(voice_store.wave, "open", full)
    with pytest.raises(VoiceStoreError, match="No space left on device.*free some space"):
        VoiceStore(tmp_path).save("x", clip(), "Hi.", 0)
    assert not [p for p in (tmp_path / "voices").iterdir()]  # nothing half-written is left


def test_an_unreadable_voices_folder_is_one_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "voices").mkdir()

    def denied(self: Path) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "iterdir", denied)  # root reads any folder: act as a user
    assert VoiceStore(tmp_path).load() == []
    assert "Permission denied); make server.data_dir readable" in caplog.text
