"""Base entity: one device per server."""

from __future__ import annotations

from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import Entity

from . import VerbaConfigEntry
from .const import DOMAIN


class VerbaEntity(Entity):
    """An entity of a wyoming_verba server."""

    _attr_has_entity_name = True

    def __init__(self, entry: VerbaConfigEntry, key: str) -> None:
        """Unique id from the entry; all entities share the server's device."""
        self._entry = entry
        self._attr_unique_id = f"{entry.entry_id}_{key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, entry.entry_id)},
            name=entry.title,
            manufacturer="wyoming_verba",
            model="Wyoming TTS server",
            sw_version=entry.runtime_data.info.version,
            entry_type=DeviceEntryType.SERVICE,
        )
