"""Select entities for backend, voice and speaker, kept in sync with the entry's options."""

from __future__ import annotations

from homeassistant.components.select import SelectEntity
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from . import VerbaConfigEntry
from .const import CONF_BACKEND, CONF_SPEAKER, CONF_VOICE, SPEAKERS
from .entity import VerbaEntity
from .settings import Settings

PARALLEL_UPDATES = 0
SPEAKER_DEFAULT = "default"


async def async_setup_entry(
    hass: HomeAssistant,
    entry: VerbaConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Backend, voice and speaker selects."""
    async_add_entities([BackendSelect(entry), VoiceSelect(entry), SpeakerSelect(entry)])


class _SettingSelect(VerbaEntity, SelectEntity, RestoreEntity):
    """A select whose value lives in the entry's options."""

    _attr_entity_category = EntityCategory.CONFIG
    _option_key: str

    def __init__(self, entry: VerbaConfigEntry) -> None:
        super().__init__(entry, self._option_key)
        self._attr_translation_key = self._option_key

    @property
    def _settings(self) -> Settings:
        return Settings.from_options(self._entry.options, self._entry.runtime_data.info)

    async def async_added_to_hass(self) -> None:
        """Restore the last value if the options lack it; follow later option changes."""
        await super().async_added_to_hass()
        if self._option_key not in self._entry.options:
            last = await self.async_get_last_state()
            if last is not None and last.state in self.options:
                await self._store(last.state)
        self.async_on_remove(self._entry.add_update_listener(self._options_changed))

    async def _options_changed(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        self.async_write_ha_state()

    async def async_select_option(self, option: str) -> None:
        """Store the choice in the options (the options flow shows the same values)."""
        await self._store(option)

    async def _store(self, value: str) -> None:
        options = {**self._entry.options, self._option_key: self._stored_value(value)}
        self.hass.config_entries.async_update_entry(self._entry, options=options)
        self.async_write_ha_state()

    def _stored_value(self, value: str) -> str:
        return value


class BackendSelect(_SettingSelect):
    """Which engine speaks: only the engines the server runs."""

    _option_key = CONF_BACKEND

    @property
    def options(self) -> list[str]:
        return self._entry.runtime_data.info.engines

    @property
    def current_option(self) -> str | None:
        return self._settings.backend


class VoiceSelect(_SettingSelect):
    """The voice, among the chosen backend's voices."""

    _option_key = CONF_VOICE

    @property
    def options(self) -> list[str]:
        return [v.name for v in self._entry.runtime_data.info.voices_of(self._settings.backend)]

    @property
    def current_option(self) -> str | None:
        return self._settings.request_voice(self._entry.runtime_data.info)


class SpeakerSelect(_SettingSelect):
    """CSM speaker id override (available when the backend is csm)."""

    _option_key = CONF_SPEAKER

    @property
    def available(self) -> bool:
        return self._settings.backend == "csm"

    @property
    def options(self) -> list[str]:
        return [SPEAKER_DEFAULT, *SPEAKERS]

    @property
    def current_option(self) -> str | None:
        return self._entry.options.get(CONF_SPEAKER) or SPEAKER_DEFAULT

    def _stored_value(self, value: str) -> str:
        return "" if value == SPEAKER_DEFAULT else value
