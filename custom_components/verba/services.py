"""Actions verba.create_voice and verba.delete_voice: CSM voices made from a clip in HA's media.

The clip is a media-source id of HA's local media (`media-source://media_source/local/x.wav`, what
the media browser shows for files uploaded to My media) or a file path inside the config or a
media folder. The server must allow uploads (csm.voice_uploads: true). Both actions are admin
services: they make HA read files and change the server's voices.
"""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path

import voluptuous as vol
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.service import async_register_admin_service

from . import VerbaConfigEntry
from .const import DOMAIN, refresh_signal
from .protocol.client import CannotConnectError, VoiceRefusedError
from .protocol.clip import ClipError
from .protocol.clip_file import NUL_IN_PATH, read_clip
from .protocol.info import NotVerbaServerError
from .schema import ha_schema

SERVICE_CREATE_VOICE = "create_voice"
SERVICE_DELETE_VOICE = "delete_voice"
ATTR_CONFIG_ENTRY_ID = "config_entry_id"
ATTR_NAME = "name"
ATTR_TRANSCRIPT = "transcript"
ATTR_SPEAKER = "speaker"
ATTR_AUDIO = "audio"
LOCAL_MEDIA_PREFIX = "media-source://media_source/"


_ENTRY = vol.Optional(ATTR_CONFIG_ENTRY_ID)
CREATE_SCHEMA = vol.Schema(
    {
        _ENTRY: cv.string,
        vol.Required(ATTR_NAME): cv.string,
        vol.Required(ATTR_TRANSCRIPT): cv.string,
        vol.Optional(ATTR_SPEAKER): vol.All(vol.Coerce(int), vol.Range(min=0, max=999)),
        vol.Required(ATTR_AUDIO): cv.string,
    }
)
DELETE_SCHEMA = vol.Schema({_ENTRY: cv.string, vol.Required(ATTR_NAME): cv.string})


def async_setup_services(hass: HomeAssistant) -> None:
    """Register the actions (once, for every Verba entry), for admins only: a call from any
    other user is refused with Home Assistant's own Unauthorized."""
    async_register_admin_service(
        hass, DOMAIN, SERVICE_CREATE_VOICE, _create_voice, ha_schema(CREATE_SCHEMA)
    )
    async_register_admin_service(
        hass, DOMAIN, SERVICE_DELETE_VOICE, _delete_voice, ha_schema(DELETE_SCHEMA)
    )


def _error(key: str, **placeholders: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )


def _entry(call: ServiceCall) -> VerbaConfigEntry:
    """The entry named in the call, or the only loaded one."""
    wanted = call.data.get(ATTR_CONFIG_ENTRY_ID)
    loaded = [
        entry
        for entry in call.hass.config_entries.async_entries(DOMAIN)
        if entry.state is ConfigEntryState.LOADED and wanted in (None, entry.entry_id)
    ]
    if wanted is not None and not loaded:
        raise _error("entry_not_loaded", entry=str(wanted))
    if len(loaded) != 1:
        raise _error("entry_ambiguous" if loaded else "no_server")
    entry: VerbaConfigEntry = loaded[0]
    return entry


def clip_path(hass: HomeAssistant, audio: str) -> Path:
    """The file a media-source id of local media or a path names, if HA may read it (whether
    it is a regular audio file is read_clip's to check, without reading it)."""
    if "\0" in audio:
        raise _error("audio_unreadable", error=NUL_IN_PATH)
    if audio.startswith(LOCAL_MEDIA_PREFIX):
        source, _, location = audio.removeprefix(LOCAL_MEDIA_PREFIX).partition("/")
        folder = hass.config.media_dirs.get(source)
        if folder is None or not location:
            raise _error("audio_not_found", audio=audio)
        path = Path(folder, location)
    elif audio.startswith("media-source://"):
        raise _error("audio_not_local", audio=audio)
    else:
        path = Path(hass.config.path(audio))
    path = path.resolve()
    allowed = [Path(hass.config.config_dir), *map(Path, hass.config.media_dirs.values())]
    if not any(path.is_relative_to(folder.resolve()) for folder in allowed):
        raise _error("audio_not_allowed", audio=audio)
    if not path.exists():
        raise _error("audio_not_found", audio=audio)
    return path


async def _create_voice(call: ServiceCall) -> None:
    entry = _entry(call)
    path = clip_path(call.hass, call.data[ATTR_AUDIO])
    try:
        # Checked with the server's clip rule before anything is uploaded.
        clip = await call.hass.async_add_executor_job(read_clip, path)
    except ClipError as err:
        raise _error("audio_unreadable", error=str(err)) from err
    transcript, speaker = call.data[ATTR_TRANSCRIPT], call.data.get(ATTR_SPEAKER)
    request = entry.runtime_data.client.create_voice(
        call.data[ATTR_NAME], transcript, clip, speaker
    )
    await _ask(call.hass, entry, request)


async def _delete_voice(call: ServiceCall) -> None:
    entry = _entry(call)
    await _ask(call.hass, entry, entry.runtime_data.client.delete_voice(call.data[ATTR_NAME]))


async def _ask(hass: HomeAssistant, entry: VerbaConfigEntry, request: Awaitable[str]) -> None:
    """Run a voice request, then re-read the server's voices so the selects list them."""
    data = entry.runtime_data
    try:
        await request
        data.info = await data.client.describe()
    except VoiceRefusedError as err:
        raise _error("voice_refused", error=str(err)) from err
    except (CannotConnectError, NotVerbaServerError) as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="server_unreachable",
            translation_placeholders={"error": str(err) or type(err).__name__},
        ) from err
    async_dispatcher_send(hass, refresh_signal(entry.entry_id))
