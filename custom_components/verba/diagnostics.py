"""Diagnostics: the server's info, the options, the last request's timings."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.core import HomeAssistant

from . import VerbaConfigEntry
from .settings import Settings


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: VerbaConfigEntry
) -> dict[str, Any]:
    """Everything needed to debug a setup; nothing secret is stored."""
    data = entry.runtime_data
    info = data.info
    return {
        "server": {
            "host": entry.data["host"],
            "port": entry.data["port"],
            "version": info.version,
            "supports_streaming": info.supports_streaming,
            "engines": info.engines,
            "voice_count": {engine: len(info.voices_of(engine)) for engine in info.engines},
            "languages": info.languages,
        },
        "options": dict(entry.options),
        "settings": asdict(Settings.from_options(entry.options, info)),
        "last_request": asdict(data.client.last),
    }
