"""The Verba TTS integration: a wyoming_verba server with backend, voice and speaker settings."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TypeAlias

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_HOST, CONF_PORT, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryError, ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.typing import ConfigType

from .const import DOMAIN, refresh_signal
from .protocol.client import CannotConnectError, VerbaClient
from .protocol.info import NotVerbaServerError, ServerInfo

_LOGGER = logging.getLogger(__name__)

PLATFORMS: list[Platform] = [Platform.SELECT, Platform.TTS]
_SERVER_ID = re.compile(r"[0-9a-f]{32}")


@dataclass
class VerbaData:
    """What the platforms share for one server."""

    client: VerbaClient
    info: ServerInfo


VerbaConfigEntry: TypeAlias = ConfigEntry[VerbaData]


CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the verba.create_voice / verba.delete_voice actions."""
    from .services import async_setup_services  # here: services imports this module

    async_setup_services(hass)
    return True


def is_server_id(unique_id: str | None) -> bool:
    """Whether a unique id is a server id (entries from before ids used host:port or a name)."""
    return unique_id is not None and _SERVER_ID.fullmatch(unique_id) is not None


async def async_setup_entry(hass: HomeAssistant, entry: VerbaConfigEntry) -> bool:
    """Connect to the server and set up the TTS and select entities.

    Returns a bool, as HA before 2026.11 requires (None there is a failed setup); 2026.11 asks
    core integrations for None and takes a bool from custom ones without a warning.
    """
    host, port = entry.data[CONF_HOST], entry.data[CONF_PORT]
    placeholders = {"host": host, "port": str(port)}
    client = VerbaClient(host, port)
    try:
        info = await client.describe()
    except CannotConnectError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="cannot_connect",
            translation_placeholders=placeholders,
        ) from err
    except NotVerbaServerError as err:
        # Retrying cannot help: the address belongs to another kind of Wyoming server.
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="not_verba",
            translation_placeholders=placeholders,
        ) from err
    _follow_server_id(hass, entry, info)
    entry.runtime_data = VerbaData(client, info)
    entry.async_on_unload(entry.add_update_listener(_async_entry_updated))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def _async_entry_updated(hass: HomeAssistant, entry: VerbaConfigEntry) -> None:
    """The entry's one update listener: a new address reloads it (once, scheduled here; the
    flows only update the entry); changed options or title just redraw the selects."""
    client = entry.runtime_data.client
    if (entry.data[CONF_HOST], entry.data[CONF_PORT]) != (client.host, client.port):
        hass.config_entries.async_schedule_reload(entry.entry_id)
        return
    async_dispatcher_send(hass, refresh_signal(entry.entry_id))


def _follow_server_id(hass: HomeAssistant, entry: VerbaConfigEntry, info: ServerInfo) -> None:
    """Key the entry on the id the server reports (older entries used host:port or a name)."""
    server_id = info.server_id
    if server_id is None or entry.unique_id == server_id:
        return
    other = hass.config_entries.async_entry_for_domain_unique_id(DOMAIN, server_id)
    if other is not None:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="server_configured",
            translation_placeholders={
                "host": entry.data[CONF_HOST],
                "port": str(entry.data[CONF_PORT]),
                "title": other.title,
            },
        )
    if is_server_id(entry.unique_id):
        _LOGGER.warning(
            "The Verba server at %s:%s now reports id %s instead of %s (was its server.data_dir "
            "reset?); this entry follows it",
            entry.data[CONF_HOST],
            entry.data[CONF_PORT],
            server_id,
            entry.unique_id,
        )
    hass.config_entries.async_update_entry(entry, unique_id=server_id)


async def async_unload_entry(hass: HomeAssistant, entry: VerbaConfigEntry) -> bool:
    """Unload the entities."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
