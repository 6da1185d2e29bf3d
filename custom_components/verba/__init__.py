"""The Verba TTS integration: a wyoming_verba server with backend, voice and speaker settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_HOST, CONF_PORT, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady

from .api import CannotConnectError, NotVerbaServerError, ServerInfo, VerbaClient
from .const import DOMAIN

PLATFORMS: list[Platform] = [Platform.SELECT, Platform.TTS]


@dataclass
class VerbaData:
    """What the platforms share for one server."""

    client: VerbaClient
    info: ServerInfo


VerbaConfigEntry: TypeAlias = ConfigEntry[VerbaData]


async def async_setup_entry(hass: HomeAssistant, entry: VerbaConfigEntry) -> bool:
    """Connect to the server and set up the TTS and select entities."""
    client = VerbaClient(entry.data[CONF_HOST], entry.data[CONF_PORT])
    try:
        info = await client.describe()
    except (CannotConnectError, NotVerbaServerError) as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="not_verba"
            if isinstance(err, NotVerbaServerError)
            else "cannot_connect",
            translation_placeholders={
                "host": entry.data[CONF_HOST],
                "port": str(entry.data[CONF_PORT]),
            },
        ) from err
    entry.runtime_data = VerbaData(client, info)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: VerbaConfigEntry) -> bool:
    """Unload the entities."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
