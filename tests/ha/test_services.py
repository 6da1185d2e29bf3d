"""verba.create_voice / verba.delete_voice against the real server process (tiny CSM, uploads on)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest.mock import patch

import numpy as np
import pytest
from homeassistant.const import CONF_HOST, CONF_PORT, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.verba.const import CONF_BACKEND, DOMAIN
from tests.support.process import ROOT, wait_for_port

from .conftest import SERVER_PYTHON
from .helpers import loaded_with

pytestmark = pytest.mark.usefixtures("socket_enabled")
TRANSCRIPT = "I read stories."


@pytest.fixture(scope="module")
def upload_server(tiny_csm_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A CSM-only server that takes voice uploads; yields its port once CSM is ready."""
    import yaml

    directory = tmp_path_factory.mktemp("verba-uploads")
    settings = {
        "server": {
            "uri": "tcp://127.0.0.1:0",
            "zeroconf": {"enabled": False},
            "data_dir": str(directory / "data"),
        },
        "tts": {"backend": "csm", "engines": ["csm"], "fallback": "none"},
        "csm": {
            "model": str(tiny_csm_dir),
            "device": "cpu",
            "voice_uploads": True,
            "anchor_speakers": False,
        },
    }
    (directory / "config.yaml").write_text(yaml.safe_dump(settings))
    process = subprocess.Popen(
        [SERVER_PYTHON, "-m", "wyoming_verba", "--config", str(directory / "config.yaml")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"},
    )
    try:
        port, _ = wait_for_port(process, timeout=120)
        assert process.stdout is not None
        threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()  # type: ignore[union-attr]
        _wait_until_csm_ready(port)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(15)


def _wait_until_csm_ready(port: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = subprocess.run(
            [SERVER_PYTHON, "-m", "wyoming_verba", "health", "--uri", f"tcp://127.0.0.1:{port}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
        if "csm ready" in result.stdout:
            return
        time.sleep(0.5)
    raise AssertionError("CSM did not become ready")


def write_clip(path: Path, seconds: float, rate: int = 16000, width: int = 2) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    wave_ = 0.3 * np.sin(2 * np.pi * 220 * t)
    if width == 1:
        raw = (wave_ * 127 + 128).astype(np.uint8).tobytes()
    else:
        raw = (wave_ * 32767).astype("<i2").tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(raw)
    return path


@pytest.fixture
def media(hass: HomeAssistant, tmp_path: Path) -> Path:
    folder = tmp_path / "media"
    folder.mkdir()
    hass.config.media_dirs = {"local": str(folder)}
    return folder


@pytest.fixture
async def entry(hass: HomeAssistant, upload_server: int) -> Any:
    config_entry = MockConfigEntry(
        domain=DOMAIN,
        title="Verba (uploads)",
        data={CONF_HOST: "127.0.0.1", CONF_PORT: upload_server},
        options={CONF_BACKEND: "csm"},
    )
    config_entry.add_to_hass(hass)
    async with loaded_with(hass, config_entry, Platform.SELECT) as loaded:
        yield loaded


def voice_options(hass: HomeAssistant, entry: Any) -> list[str]:
    entities = er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    voice = next(e.entity_id for e in entities if e.entity_id.endswith("_voice"))
    state = hass.states.get(voice)
    assert state is not None
    return list(state.attributes["options"])


async def call(hass: HomeAssistant, service: str, **data: Any) -> None:
    await hass.services.async_call(DOMAIN, service, data, blocking=True)


async def test_create_lists_the_voice_at_once_and_delete_removes_it(
    hass: HomeAssistant, entry: Any, media: Path
) -> None:
    write_clip(media / "phone" / "grandma.wav", 2.0)
    assert "csm:grandma" not in voice_options(hass, entry)
    audio = "media-source://media_source/local/phone/grandma.wav"
    await call(hass, "create_voice", name="grandma", transcript=TRANSCRIPT, speaker=1, audio=audio)
    assert "csm:grandma" in voice_options(hass, entry)  # no reload
    assert any(v.name == "csm:grandma" for v in entry.runtime_data.info.voices)

    with pytest.raises(ServiceValidationError) as refused:
        await call(hass, "create_voice", name="grandma", transcript=TRANSCRIPT, audio=audio)
    assert refused.value.translation_key == "voice_refused"
    assert "a voice named 'grandma' exists" in refused.value.translation_placeholders["error"]

    await call(hass, "delete_voice", name="csm:grandma")
    assert "csm:grandma" not in voice_options(hass, entry)
    with pytest.raises(ServiceValidationError) as gone:
        await call(hass, "delete_voice", name="grandma")
    assert "no created voice 'grandma'" in gone.value.translation_placeholders["error"]


async def test_an_8_bit_wav_by_path_is_converted(
    hass: HomeAssistant, entry: Any, media: Path
) -> None:
    path = write_clip(media / "old.wav", 1.5, rate=8000, width=1)
    await call(hass, "create_voice", name="old", transcript=TRANSCRIPT, audio=str(path))
    assert "csm:old" in voice_options(hass, entry)
    await call(hass, "delete_voice", name="old")


@pytest.mark.parametrize(
    ("audio", "key"),
    [
        ("media-source://media_source/local/missing.wav", "audio_not_found"),
        ("media-source://media_source/elsewhere/x.wav", "audio_not_found"),
        ("media-source://tts/cloud?message=hi", "audio_not_local"),
        ("/etc/hostname", "audio_not_allowed"),
        ("media-source://media_source/local/../../outside.wav", "audio_not_allowed"),
        ("media-source://media_source/local/song.mp3", "audio_unreadable"),
    ],
)
async def test_clips_that_cannot_be_used_are_named(
    hass: HomeAssistant, entry: Any, media: Path, audio: str, key: str
) -> None:
    (media / "song.mp3").write_bytes(b"ID3" + bytes(200))
    write_clip(media.parent / "outside.wav", 2.0)
    with pytest.raises(ServiceValidationError) as refused:
        await call(hass, "create_voice", name="x", transcript=TRANSCRIPT, audio=audio)
    assert refused.value.translation_key == key


async def test_server_refusals_come_back_translated(
    hass: HomeAssistant, entry: Any, media: Path
) -> None:
    write_clip(media / "fine.wav", 2.0)
    with pytest.raises(ServiceValidationError) as refused:
        await call(
            hass,
            "create_voice",
            name="wordless",
            transcript=" ... ",
            audio="media-source://media_source/local/fine.wav",
        )
    assert refused.value.translation_key == "voice_refused"
    assert "the transcript has no words" in str(refused.value.translation_placeholders)
    message = str(refused.value)
    assert message.startswith("The Verba TTS server refused: the transcript has no words"), message


@pytest.mark.parametrize(
    ("seconds", "rate", "words"),
    [
        (0.4, 16000, "the clip is 0.4 s long; it must be 1-30 s"),
        # A phone recording: 60 s at 48 kHz. It used to end as "connection reset by peer".
        (60.0, 48000, "the clip is 60.0 s long; it must be 1-30 s"),
    ],
)
async def test_the_clip_rule_is_checked_before_upload_with_the_servers_words(
    hass: HomeAssistant, entry: Any, media: Path, seconds: float, rate: int, words: str
) -> None:
    write_clip(media / "clip.wav", seconds, rate=rate)
    with (
        patch("custom_components.verba.protocol.client.AsyncTcpClient") as connect,
        pytest.raises(ServiceValidationError) as refused,
    ):
        await call(
            hass,
            "create_voice",
            name="x",
            transcript=TRANSCRIPT,
            audio="media-source://media_source/local/clip.wav",
        )
    assert not connect.called  # nothing was uploaded
    assert refused.value.translation_key == "audio_unreadable"
    assert words in refused.value.translation_placeholders["error"]
    assert str(refused.value).startswith(f"The clip cannot be used: {words}"), refused.value


async def test_a_96_khz_wav_is_taken_as_the_cli_takes_it(
    hass: HomeAssistant, entry: Any, media: Path
) -> None:
    write_clip(media / "studio.wav", 2.0, rate=96000)
    await call(
        hass,
        "create_voice",
        name="studio",
        transcript=TRANSCRIPT,
        audio="media-source://media_source/local/studio.wav",
    )
    assert "csm:studio" in voice_options(hass, entry)
    await call(hass, "delete_voice", name="studio")


async def test_an_unreachable_server_is_a_home_assistant_error(
    hass: HomeAssistant, entry: Any, media: Path
) -> None:
    write_clip(media / "a.wav", 2.0)
    entry.runtime_data.client.port = 1  # nothing listens there
    with pytest.raises(HomeAssistantError) as failed:
        await call(
            hass,
            "create_voice",
            name="a",
            transcript=TRANSCRIPT,
            audio="media-source://media_source/local/a.wav",
        )
    assert not isinstance(failed.value, ServiceValidationError)
    assert failed.value.translation_key == "server_unreachable"


def test_services_yaml_fields_match_the_strings() -> None:
    import yaml

    services = yaml.safe_load((ROOT / "custom_components/verba/services.yaml").read_text())
    strings = json.loads((ROOT / "custom_components/verba/strings.json").read_text())["services"]
    assert {name: set(spec["fields"]) for name, spec in services.items()} == {
        name: set(spec["fields"]) for name, spec in strings.items()
    }


async def test_the_server_must_be_set_up(hass: HomeAssistant, entry: Any, media: Path) -> None:
    with pytest.raises(ServiceValidationError) as unknown:
        await call(hass, "delete_voice", config_entry_id="nope", name="x")
    assert unknown.value.translation_key == "entry_not_loaded"
    await hass.config_entries.async_unload(entry.entry_id)
    with pytest.raises(ServiceValidationError) as none:
        await call(hass, "delete_voice", name="x")
    assert none.value.translation_key == "no_server"
