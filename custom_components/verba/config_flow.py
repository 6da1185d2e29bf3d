"""Config flow: a server by host/port or zeroconf discovery, keyed on the server's own id."""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from homeassistant.config_entries import ConfigFlow, ConfigFlowResult
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import callback
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo

from . import VerbaConfigEntry, is_server_id
from .const import DEFAULT_PORT, DOMAIN, TXT_SERVER_ID
from .options_flow import VerbaOptionsFlow
from .protocol.client import CannotConnectError, VerbaClient
from .protocol.info import NotVerbaServerError, ServerInfo
from .schema import ha_schema

_SERVER_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_HOST): str,
        vol.Required(CONF_PORT, default=DEFAULT_PORT): vol.All(
            vol.Coerce(int), vol.Range(min=1, max=65535)
        ),
    }
)


async def _describe(host: str, port: int) -> ServerInfo | str:
    """The server's info, or the error key for what went wrong."""
    try:
        return await VerbaClient(host, port).describe()
    except CannotConnectError:
        return "cannot_connect"
    except NotVerbaServerError:
        return "not_verba"


def _title(host: str, port: int) -> str:
    return f"Verba ({host}:{port})"


class VerbaConfigFlow(ConfigFlow, domain=DOMAIN):
    """Adds a wyoming_verba server; one entry per server, whatever address it was found at."""

    VERSION = 1

    def __init__(self) -> None:
        """Discovery state."""
        self._discovered: dict[str, Any] = {}

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: VerbaConfigEntry) -> VerbaOptionsFlow:
        """Options: backend, voice, speaker, a voice per language."""
        return VerbaOptionsFlow()

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Host and port, checked with a real Describe."""
        errors: dict[str, str] = {}
        if user_input is not None:
            host, port = user_input[CONF_HOST].strip(), user_input[CONF_PORT]
            self._async_abort_entries_match({CONF_HOST: host, CONF_PORT: port})
            info = await _describe(host, port)
            if isinstance(info, ServerInfo):
                await self.async_set_unique_id(info.server_id or f"{host}:{port}")
                self._abort_if_unique_id_configured()
                return self.async_create_entry(
                    title=_title(host, port), data={CONF_HOST: host, CONF_PORT: port}
                )
            errors["base"] = info
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(
                ha_schema(_SERVER_SCHEMA), user_input or {}
            ),
            errors=errors,
        )

    async def async_step_zeroconf(self, discovery_info: ZeroconfServiceInfo) -> ConfigFlowResult:
        """A server advertised itself: a known one gets its address updated, a new one asks."""
        name = discovery_info.name.removesuffix("." + discovery_info.type).split(".")[0]
        host, port = str(discovery_info.ip_address), discovery_info.port or DEFAULT_PORT
        address = {CONF_HOST: host, CONF_PORT: port}
        advertised_id = discovery_info.properties.get(TXT_SERVER_ID)
        if is_server_id(advertised_id):
            # Known servers are recognised without connecting to them.
            await self.async_set_unique_id(advertised_id)
            self._abort_if_known(host, port)
        self._async_abort_entries_match(address)
        info = await _describe(host, port)
        if not isinstance(info, ServerInfo):
            return self.async_abort(reason=info)
        server_id = info.server_id or name
        if server_id != self.unique_id:
            await self.async_set_unique_id(server_id)
            self._abort_if_known(host, port)
        self._discovered = {**address, "name": name}
        self.context["title_placeholders"] = {"name": name}
        return await self.async_step_zeroconf_confirm()

    def _abort_if_known(self, host: str, port: int) -> None:
        """A server that has an entry: the entry follows its new address (its title too, unless
        the user renamed it), then the flow aborts as already configured.

        A loaded entry is reloaded once, by its own update listener; one in setup retry is
        reloaded by Home Assistant (a discovered server is online).
        """
        entry = self.hass.config_entries.async_entry_for_domain_unique_id(
            DOMAIN, self.unique_id or ""
        )
        if entry is not None:
            old = _title(entry.data.get(CONF_HOST, ""), entry.data.get(CONF_PORT, DEFAULT_PORT))
            if entry.title == old and old != _title(host, port):
                self.hass.config_entries.async_update_entry(entry, title=_title(host, port))
        self._abort_if_unique_id_configured(
            updates={CONF_HOST: host, CONF_PORT: port}, reload_on_update=False
        )

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
        """Change host or port; the new address must answer as the same server."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            host, port = user_input[CONF_HOST].strip(), user_input[CONF_PORT]
            info = await _describe(host, port)
            if isinstance(info, ServerInfo):
                if info.server_id is not None:
                    await self.async_set_unique_id(info.server_id)
                    if is_server_id(entry.unique_id):
                        self._abort_if_unique_id_mismatch(reason="wrong_server")
                    else:  # an entry from before server ids: adopt it unless another has it
                        self._abort_if_unique_id_configured()
                self._update_entry(
                    entry,
                    unique_id=info.server_id or entry.unique_id,
                    data={**entry.data, CONF_HOST: host, CONF_PORT: port},
                    title=_title(host, port),
                )
                return self.async_abort(reason="reconfigure_successful")
            errors["base"] = info
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                ha_schema(_SERVER_SCHEMA), user_input or dict(entry.data)
            ),
            errors=errors,
        )

    def _update_entry(self, entry: VerbaConfigEntry, **changes: Any) -> None:
        """Change the entry and have it reloaded once.

        A loaded entry's own update listener schedules that reload when the address changed (a
        flow that reloaded too would reload it twice, which Home Assistant deprecates from
        2026.6 and refuses from 2026.12). An entry that is not loaded has no listener: the
        server just answered, so it is set up again here.
        """
        self.hass.config_entries.async_update_entry(entry, **changes)
        if not entry.update_listeners:
            self.hass.config_entries.async_schedule_reload(entry.entry_id)
