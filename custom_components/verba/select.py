"""Backend, voice and speaker selects: views of the entry's options that also write them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import VerbaConfigEntry
from .const import (
    CONF_BACKEND,
    CONF_SPEAKER,
    CONF_VOICE,
    SPEAKER_DEFAULT,
    SPEAKERS,
    refresh_signal,
)
from .entity import VerbaEntity
from .protocol.info import ServerInfo
from .settings import Settings

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class VerbaSelectEntityDescription(SelectEntityDescription):
    """A select over one option of the entry; `key` is the option's name."""

    options_fn: Callable[[ServerInfo, Settings], list[str]]
    current_fn: Callable[[ServerInfo, Settings], str | None]
    available_fn: Callable[[Settings], bool] = lambda _settings: True
    stored_value_fn: Callable[[str], str] = lambda option: option


SELECTS: tuple[VerbaSelectEntityDescription, ...] = (
    VerbaSelectEntityDescription(
        key=CONF_BACKEND,
        translation_key=CONF_BACKEND,
        options_fn=lambda info, _settings: info.engines,
        current_fn=lambda _info, settings: settings.backend,
    ),
    VerbaSelectEntityDescription(
        key=CONF_VOICE,
        translation_key=CONF_VOICE,
        options_fn=lambda info, settings: [v.name for v in info.voices_of(settings.backend)],
        current_fn=lambda info, settings: settings.request_voice(info),
    ),
    VerbaSelectEntityDescription(
        key=CONF_SPEAKER,
        translation_key=CONF_SPEAKER,
        options_fn=lambda _info, _settings: [SPEAKER_DEFAULT, *SPEAKERS],
        current_fn=lambda _info, settings: settings.speaker or SPEAKER_DEFAULT,
        available_fn=lambda settings: settings.backend == "csm",
        stored_value_fn=lambda option: "" if option == SPEAKER_DEFAULT else option,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: VerbaConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Backend, voice and speaker selects."""
    async_add_entities(VerbaSelect(entry, description) for description in SELECTS)


class VerbaSelect(VerbaEntity, SelectEntity):
    """Shows and writes one option; the options flow changes the same values."""

    _attr_entity_category = EntityCategory.CONFIG
    entity_description: VerbaSelectEntityDescription

    def __init__(self, entry: VerbaConfigEntry, description: VerbaSelectEntityDescription) -> None:
        """One select per description."""
        super().__init__(entry, description.key)
        self.entity_description = description

    @property
    def _settings(self) -> Settings:
        return Settings.from_options(self._entry.options, self._entry.runtime_data.info)

    @property
    def available(self) -> bool:
        """Whether the option applies (the speaker only to CSM)."""
        return self.entity_description.available_fn(self._settings)

    @property
    def options(self) -> list[str]:
        """What can be chosen now (the voice list follows the backend)."""
        return self.entity_description.options_fn(self._entry.runtime_data.info, self._settings)

    @property
    def current_option(self) -> str | None:
        """The option's value, or its default."""
        return self.entity_description.current_fn(self._entry.runtime_data.info, self._settings)

    async def async_added_to_hass(self) -> None:
        """Follow option changes (options flow, the other selects) and created/deleted voices.

        The entry's one update listener (in __init__) sends the signal; entities register none.
        """
        await super().async_added_to_hass()
        signal = refresh_signal(self._entry.entry_id)
        self.async_on_remove(async_dispatcher_connect(self.hass, signal, self.async_write_ha_state))

    async def async_select_option(self, option: str) -> None:
        """Store the choice in the entry's options."""
        value = self.entity_description.stored_value_fn(option)
        options = {**self._entry.options, self.entity_description.key: value}
        self.hass.config_entries.async_update_entry(self._entry, options=options)
        self.async_write_ha_state()
