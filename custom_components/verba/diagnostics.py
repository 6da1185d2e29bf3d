"""Diagnostics: the server's info, the options, the last request's timings; no address."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant

from . import VerbaConfigEntry
from .settings import Settings

TO_REDACT = {CONF_HOST, CONF_PORT}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: VerbaConfigEntry
) -> dict[str, Any]:
    """Everything needed to debug a setup, with the server's address redacted."""
    data = entry.runtime_data
    info = data.info
    return {
        "entry": async_redact_data(dict(entry.data), TO_REDACT),
        "server": {
            "server_id": info.server_id,
            "version": info.version,
            "supports_streaming": info.supports_streaming,
            "engines": info.engines,
            "voice_count": {engine: len(info.voices_of(engine)) for engine in info.engines},
            "languages": info.languages,
            "speak_options": {engine: list(names) for engine, names in info.speak_options.items()},
        },
        "options": dict(entry.options),
        "settings": asdict(Settings.from_options(entry.options, info)),
        "last_request": asdict(data.client.last),
    }
