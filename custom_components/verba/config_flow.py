"""Config flow: a server by host/port or zeroconf discovery; options: backend, voice, speaker."""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from homeassistant.config_entries import (
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import callback
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo

from . import VerbaConfigEntry
from .api import CannotConnectError, NotVerbaServerError, VerbaClient
from .const import (
    CONF_BACKEND,
    CONF_SPEAKER,
    CONF_VOICE,
    DEFAULT_PORT,
    DOMAIN,
    SPEAKERS,
)
from .settings import Settings

_SERVER_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_HOST): str,
        vol.Required(CONF_PORT, default=DEFAULT_PORT): vol.All(
            vol.Coerce(int), vol.Range(min=1, max=65535)
        ),
    }
)


async def _check(host: str, port: int) -> str | None:
    """Describe the server; None when it is a verba server, else the error key."""
    try:
        await VerbaClient(host, port).describe()
    except CannotConnectError:
        return "cannot_connect"
    except NotVerbaServerError:
        return "not_verba"
    return None


def _title(host: str, port: int) -> str:
    return f"Verba ({host}:{port})"


class VerbaConfigFlow(ConfigFlow, domain=DOMAIN):
    """Adds a wyoming_verba server."""

    VERSION = 1

    def __init__(self) -> None:
        """Discovery state."""
        self._discovered: dict[str, Any] = {}

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: VerbaConfigEntry) -> VerbaOptionsFlow:
        """Options: backend, voice, speaker."""
        return VerbaOptionsFlow()

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Host and port, checked with a real Describe."""
        errors: dict[str, str] = {}
        if user_input is not None:
            host, port = user_input[CONF_HOST].strip(), user_input[CONF_PORT]
            self._async_abort_entries_match({CONF_HOST: host, CONF_PORT: port})
            error = await _check(host, port)
            if error is None:
                await self.async_set_unique_id(f"{host}:{port}")
                self._abort_if_unique_id_configured()
                return self.async_create_entry(
                    title=_title(host, port), data={CONF_HOST: host, CONF_PORT: port}
                )
            errors["base"] = error
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(_SERVER_SCHEMA, user_input or {}),
            errors=errors,
        )

    async def async_step_zeroconf(self, discovery_info: ZeroconfServiceInfo) -> ConfigFlowResult:
        """A server advertised itself; unique id = its (stable) zeroconf instance name."""
        name = discovery_info.name.removesuffix("." + discovery_info.type).split(".")[0]
        host, port = str(discovery_info.ip_address), discovery_info.port or DEFAULT_PORT
        await self.async_set_unique_id(name)
        self._abort_if_unique_id_configured(updates={CONF_HOST: host, CONF_PORT: port})
        self._async_abort_entries_match({CONF_HOST: host, CONF_PORT: port})
        error = await _check(host, port)
        if error is not None:
            return self.async_abort(reason=error)
        self._discovered = {CONF_HOST: host, CONF_PORT: port, "name": name}
        self.context["title_placeholders"] = {"name": name}
        return await self.async_step_zeroconf_confirm()

    async def async_step_zeroconf_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask before adding a discovered server."""
        host, port = self._discovered[CONF_HOST], self._discovered[CONF_PORT]
        if user_input is not None:
            return self.async_create_entry(
                title=_title(host, port), data={CONF_HOST: host, CONF_PORT: port}
            )
        return self.async_show_form(
            step_id="zeroconf_confirm",
            description_placeholders={
                "name": self._discovered["name"],
                "host": host,
                "port": str(port),
            },
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change host or port of an existing server."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            host, port = user_input[CONF_HOST].strip(), user_input[CONF_PORT]
            error = await _check(host, port)
            if error is None:
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_HOST: host, CONF_PORT: port}, title=_title(host, port)
                )
            errors["base"] = error
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                _SERVER_SCHEMA, user_input or dict(entry.data)
            ),
            errors=errors,
        )


def _select(options: list[SelectOptionDict]) -> SelectSelector:
    return SelectSelector(SelectSelectorConfig(options=options, mode=SelectSelectorMode.DROPDOWN))


class VerbaOptionsFlow(OptionsFlow):
    """Backend first (only the engines the server runs), then that backend's voice and speaker."""

    def __init__(self) -> None:
        """Chosen backend between the two steps."""
        self._backend: str | None = None

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Choose the backend."""
        entry: VerbaConfigEntry = self.config_entry
        info = entry.runtime_data.info
        current = Settings.from_options(entry.options, info)
        if user_input is not None:
            self._backend = user_input[CONF_BACKEND]
            return await self.async_step_voice()
        schema = vol.Schema(
            {
                vol.Required(CONF_BACKEND, default=current.backend): _select(
                    [SelectOptionDict(value=e, label=e) for e in info.engines]
                )
            }
        )
        return self.async_show_form(step_id="init", data_schema=schema)

    async def async_step_voice(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Choose voice (and speaker, for CSM) of the chosen backend."""
        entry: VerbaConfigEntry = self.config_entry
        info = entry.runtime_data.info
        backend = self._backend or Settings.from_options(entry.options, info).backend
        if user_input is not None:
            options = {CONF_BACKEND: backend, CONF_VOICE: user_input[CONF_VOICE]}
            if backend == "csm":
                options[CONF_SPEAKER] = user_input.get(CONF_SPEAKER, "")
            return self.async_create_entry(data=options)
        voices = info.voices_of(backend)
        current = Settings.from_options({**entry.options, CONF_BACKEND: backend}, info)
        default_voice = current.voice or (voices[0].name if voices else "")
        fields: dict[Any, Any] = {
            vol.Required(CONF_VOICE, default=default_voice): _select(
                [SelectOptionDict(value=v.name, label=v.description) for v in voices]
            )
        }
        if backend == "csm":
            fields[vol.Optional(CONF_SPEAKER, default=current.speaker or "")] = _select(
                [SelectOptionDict(value="", label="voice default")]
                + [SelectOptionDict(value=s, label=s) for s in SPEAKERS]
            )
        return self.async_show_form(
            step_id="voice",
            data_schema=vol.Schema(fields),
            description_placeholders={"backend": backend},
        )
