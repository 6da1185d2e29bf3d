"""The voice actions: admins only; bad clips refused before they are read or anything is sent."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from homeassistant.auth.models import User
from homeassistant.const import Platform
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import ServiceValidationError, Unauthorized
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.verba.const import DOMAIN
from custom_components.verba.protocol.wav import AudioFormat, wav_bytes

from .fakes import FakeServers
from .helpers import loaded_with

LOCAL = "media-source://media_source/local/"


async def call(hass: HomeAssistant, service: str, user: User | None = None, **data: Any) -> None:
    context = Context(user_id=user.id) if user is not None else None
    await hass.services.async_call(DOMAIN, service, data, blocking=True, context=context)


@pytest.mark.parametrize(
    ("service", "data"),
    [
        ("create_voice", {"name": "x", "transcript": "Hi.", "audio": LOCAL + "x.wav"}),
        ("delete_voice", {"name": "x"}),
    ],
)
async def test_voice_actions_are_for_admins_only(
    hass: HomeAssistant,
    hass_admin_user: User,
    hass_read_only_user: User,
    service: str,
    data: dict[str, Any],
) -> None:
    assert await async_setup_component(hass, DOMAIN, {})
    with pytest.raises(Unauthorized):
        await call(hass, service, hass_read_only_user, **data)
    # An admin gets past the guard to the action itself (here: no server is set up).
    with pytest.raises(ServiceValidationError) as refused:
        await call(hass, service, hass_admin_user, **data)
    assert refused.value.translation_key == "no_server"


@pytest.fixture
async def loaded(
    hass: HomeAssistant, servers: FakeServers, mock_entry: MockConfigEntry
) -> AsyncIterator[MockConfigEntry]:
    async with loaded_with(hass, mock_entry, Platform.TTS) as entry:
        yield entry


@pytest.fixture
def media(hass: HomeAssistant, tmp_path: Path) -> Path:
    folder = tmp_path / "media"
    folder.mkdir()
    hass.config.media_dirs = {"local": str(folder)}
    return folder


def _damaged_wav(path: Path) -> None:
    # A fmt chunk that claims 10 MB: wave raises a bare RuntimeError (no PyAV in these venvs).
    data = bytearray(wav_bytes(bytes(64000), AudioFormat(rate=16000)))
    data[18] = 160
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("audio", "words"),
    [
        (LOCAL + "pipe.wav", "is a FIFO (named pipe); give the path of an audio file"),
        (LOCAL + "folder", "is a folder; give the path of an audio file in it"),
        (LOCAL + "a\0.wav", "the clip's path contains a NUL byte"),
        (LOCAL + "damaged.wav", "convert the clip to 16-bit PCM WAV"),
        (LOCAL + "long.wav", "the clip is 40.0 s long; it must be 1-30 s"),
    ],
)
@pytest.mark.usefixtures("loaded")
async def test_bad_clips_are_refused_with_what_to_change_before_anything_is_sent(
    hass: HomeAssistant, media: Path, audio: str, words: str
) -> None:
    os.mkfifo(media / "pipe.wav")  # nothing ever writes: reading it would block HA's executor
    (media / "folder").mkdir()
    _damaged_wav(media / "damaged.wav")
    (media / "long.wav").write_bytes(wav_bytes(bytes(2 * 40 * 8000), AudioFormat(rate=8000)))
    # The fake client has no create_voice: reaching the server would be an AttributeError.
    with pytest.raises(ServiceValidationError) as refused:
        await call(hass, "create_voice", name="x", transcript="Hi.", audio=audio)
    assert refused.value.translation_key == "audio_unreadable"
    assert words in refused.value.translation_placeholders["error"]
    assert str(refused.value).startswith("The clip cannot be used: "), refused.value
