"""Options flow: backend, voice and speaker; a voice for each language a pipeline may ask for;
the default speaking rate, volume, pitch and CSM temperature."""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from homeassistant.config_entries import ConfigFlowResult, OptionsFlow
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)

from .const import (
    ATTR_PITCH,
    ATTR_RATE,
    ATTR_TEMPERATURE,
    ATTR_VOLUME,
    CONF_BACKEND,
    CONF_LANGUAGE,
    CONF_LANGUAGE_VOICES,
    CONF_SPEAKER,
    CONF_VOICE,
    SPEAKER_DEFAULT,
    SPEAKERS,
)
from .protocol.info import ServerInfo, VoiceEntry, base_language
from .protocol.options import RATE_RANGE
from .protocol.prosody import VOLUME_RANGE
from .schema import ha_schema
from .settings import Settings, valid_pitch

# The language step's choice that removes a language's voice (the server's default applies).
LANGUAGE_DEFAULT = "default"
# The useful part of the server's temperature range (protocol.options.TEMPERATURE_RANGE, 0-5).
TEMPERATURE_UI_MAX = 2


def _select(options: list[SelectOptionDict]) -> SelectSelector:
    return SelectSelector(SelectSelectorConfig(options=options, mode=SelectSelectorMode.DROPDOWN))


def _voice_options(voices: list[VoiceEntry]) -> list[SelectOptionDict]:
    return [SelectOptionDict(value=v.name, label=v.description) for v in voices]


def _percent_slider(low: int, high: int) -> NumberSelector:
    return NumberSelector(
        NumberSelectorConfig(
            min=low, max=high, step=5, unit_of_measurement="%", mode=NumberSelectorMode.SLIDER
        )
    )


def _speaking_schema(options: dict[str, Any]) -> vol.Schema:
    """Rate and volume as percent sliders (0 = the server's own), pitch and temperature optional."""
    temperature = NumberSelector(
        NumberSelectorConfig(min=0, max=TEMPERATURE_UI_MAX, step=0.05, mode=NumberSelectorMode.BOX)
    )
    return vol.Schema(
        {
            vol.Required(ATTR_RATE, default=options.get(ATTR_RATE, 0)): _percent_slider(
                *RATE_RANGE
            ),
            vol.Required(ATTR_VOLUME, default=options.get(ATTR_VOLUME, 0)): _percent_slider(
                *VOLUME_RANGE
            ),
            vol.Optional(
                ATTR_PITCH, description={"suggested_value": options.get(ATTR_PITCH)}
            ): TextSelector(),
            vol.Optional(
                ATTR_TEMPERATURE, description={"suggested_value": options.get(ATTR_TEMPERATURE)}
            ): temperature,
        }
    )


class VerbaOptionsFlow(OptionsFlow):
    """A menu: backend → its voice and speaker; or a language → its voice."""

    def __init__(self) -> None:
        """Choices carried between steps."""
        self._backend: str | None = None
        self._language: str | None = None

    @property
    def _info(self) -> ServerInfo:
        info: ServerInfo = self.config_entry.runtime_data.info
        return info

    @property
    def _settings(self) -> Settings:
        return Settings.from_options(self.config_entry.options, self._info)

    def _save(self, **changes: Any) -> ConfigFlowResult:
        return self.async_create_entry(data={**self.config_entry.options, **changes})

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """What to change."""
        return self.async_show_menu(
            step_id="init", menu_options=["backend", "languages", "speaking"]
        )

    async def async_step_backend(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the backend: only the engines the server runs."""
        if user_input is not None:
            self._backend = user_input[CONF_BACKEND]
            return await self.async_step_voice()
        options = [SelectOptionDict(value=e, label=e) for e in self._info.engines]
        schema = vol.Schema(
            {vol.Required(CONF_BACKEND, default=self._settings.backend): _select(options)}
        )
        return self.async_show_form(step_id="backend", data_schema=ha_schema(schema))

    async def async_step_voice(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Choose voice (and speaker, for CSM) of the chosen backend."""
        backend = self._backend or self._settings.backend
        if user_input is not None:
            speaker = user_input.get(CONF_SPEAKER, SPEAKER_DEFAULT) if backend == "csm" else None
            return self._save(
                **{
                    CONF_BACKEND: backend,
                    CONF_VOICE: user_input[CONF_VOICE],
                    CONF_SPEAKER: "" if speaker in (None, SPEAKER_DEFAULT) else speaker,
                }
            )
        voices = self._info.voices_of(backend)
        current = Settings.from_options(
            {**self.config_entry.options, CONF_BACKEND: backend}, self._info
        )
        fields: dict[Any, Any] = {
            vol.Required(
                CONF_VOICE, default=current.voice or (voices[0].name if voices else "")
            ): _select(_voice_options(voices))
        }
        if backend == "csm":
            fields[vol.Optional(CONF_SPEAKER, default=current.speaker or SPEAKER_DEFAULT)] = (
                _select(
                    [SelectOptionDict(value=SPEAKER_DEFAULT, label="voice default")]
                    + [SelectOptionDict(value=s, label=s) for s in SPEAKERS]
                )
            )
        return self.async_show_form(
            step_id="voice",
            data_schema=ha_schema(vol.Schema(fields)),
            description_placeholders={"backend": backend},
        )

    async def async_step_languages(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose a language the server speaks."""
        if user_input is not None:
            self._language = user_input[CONF_LANGUAGE]
            return await self.async_step_language_voice()
        tags: dict[str, list[str]] = {}
        for tag in self._info.languages:
            tags.setdefault(base_language(tag), []).append(tag)
        options = [
            SelectOptionDict(value=base, label=f"{base} ({', '.join(regions)})")
            for base, regions in sorted(tags.items())
        ]
        own = base_language(self.hass.config.language)
        default = own if own in tags else next(iter(sorted(tags)), "")
        schema = vol.Schema({vol.Required(CONF_LANGUAGE, default=default): _select(options)})
        return self.async_show_form(step_id="languages", data_schema=ha_schema(schema))

    async def async_step_language_voice(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the voice for requests in that language (when the configured one cannot)."""
        language = self._language or base_language(self.hass.config.language)
        chosen = dict(self._settings.language_voices)
        if user_input is not None:
            if user_input[CONF_VOICE] == LANGUAGE_DEFAULT:
                chosen.pop(language, None)
            else:
                chosen[language] = user_input[CONF_VOICE]
            return self._save(**{CONF_LANGUAGE_VOICES: chosen})
        voices = self._info.voices_speaking(language, engine_first=self._settings.backend)
        options = [
            SelectOptionDict(value=LANGUAGE_DEFAULT, label="server default"),
            *_voice_options(voices),
        ]
        schema = vol.Schema(
            {
                vol.Required(CONF_VOICE, default=chosen.get(language, LANGUAGE_DEFAULT)): (
                    _select(options)
                )
            }
        )
        return self.async_show_form(
            step_id="language_voice",
            data_schema=ha_schema(schema),
            description_placeholders={"language": language},
        )

    async def async_step_speaking(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Default rate, volume, pitch and temperature for every request of this entry."""
        errors: dict[str, str] = {}
        if user_input is not None:
            pitch = str(user_input.get(ATTR_PITCH) or "").strip()
            if pitch and not valid_pitch(pitch):
                errors[ATTR_PITCH] = "invalid_pitch"
            else:
                kept = {
                    key: value
                    for key, value in self.config_entry.options.items()
                    if key not in (ATTR_PITCH, ATTR_TEMPERATURE)
                }
                changes: dict[str, Any] = {
                    ATTR_RATE: int(user_input[ATTR_RATE]),
                    ATTR_VOLUME: int(user_input[ATTR_VOLUME]),
                }
                if pitch:
                    changes[ATTR_PITCH] = pitch
                if user_input.get(ATTR_TEMPERATURE) is not None:
                    changes[ATTR_TEMPERATURE] = float(user_input[ATTR_TEMPERATURE])
                return self.async_create_entry(data={**kept, **changes})
        return self.async_show_form(
            step_id="speaking",
            data_schema=ha_schema(
                _speaking_schema({**self.config_entry.options, **(user_input or {})})
            ),
            errors=errors,
        )
