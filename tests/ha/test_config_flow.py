"""Config flow with a fake client: user, zeroconf, reconfigure, one entry per server id."""

from __future__ import annotations

from ipaddress import ip_address

import pytest
from homeassistant import config_entries
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.verba.const import DOMAIN

from .fakes import (
    HOST,
    OTHER_SERVER_ID,
    PORT,
    SERVER_ID,
    CannotConnectError,
    FakeServers,
    NotVerbaServerError,
    server_info,
)

pytestmark = pytest.mark.usefixtures("servers")
DISCOVERED = "192.168.1.77"


def zeroconf_info(
    host: str = DISCOVERED, port: int = PORT, name: str = "verba", txt_id: str | None = SERVER_ID
) -> ZeroconfServiceInfo:
    return ZeroconfServiceInfo(
        ip_address=ip_address(host),
        ip_addresses=[ip_address(host)],
        hostname="gpu-box.local.",
        name=f"{name}._wyoming._tcp.local.",
        port=port,
        type="_wyoming._tcp.local.",
        properties={"server_id": txt_id} if txt_id else {},
    )


async def user_flow(hass: HomeAssistant, host: str = HOST, port: int = PORT) -> dict:  # type: ignore[type-arg]
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM and result["step_id"] == "user"
    return await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: host, CONF_PORT: port}
    )


async def discover(hass: HomeAssistant, info: ZeroconfServiceInfo) -> dict:  # type: ignore[type-arg]
    return await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_ZEROCONF}, data=info
    )


async def test_user_flow_keys_the_entry_on_the_server_id(hass: HomeAssistant) -> None:
    result = await user_flow(hass)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"Verba ({HOST}:{PORT})"
    assert result["data"] == {CONF_HOST: HOST, CONF_PORT: PORT}
    assert result["result"].unique_id == SERVER_ID


async def test_user_flow_errors_then_recovers(hass: HomeAssistant, servers: FakeServers) -> None:
    servers.at[(HOST, 1)] = CannotConnectError("refused")
    servers.at[(HOST, 2)] = NotVerbaServerError()
    result = await user_flow(hass, HOST, 1)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: HOST, CONF_PORT: 2}
    )
    assert result["errors"] == {"base": "not_verba"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: HOST, CONF_PORT: PORT}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_same_server_by_another_name_is_one_entry(
    hass: HomeAssistant, servers: FakeServers, mock_entry: MockConfigEntry
) -> None:
    servers.at[("gpu-box.local", PORT)] = server_info()
    result = await user_flow(hass, "gpu-box.local", PORT)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_server_without_an_id_falls_back_to_its_address(
    hass: HomeAssistant, servers: FakeServers
) -> None:
    servers.at[(HOST, PORT)] = server_info(server_id=None)
    result = await user_flow(hass)
    assert result["result"].unique_id == f"{HOST}:{PORT}"


async def test_zeroconf_discovery_asks_then_creates(
    hass: HomeAssistant, servers: FakeServers
) -> None:
    servers.at[(DISCOVERED, PORT)] = server_info()
    result = await discover(hass, zeroconf_info())
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "zeroconf_confirm"
    assert result["description_placeholders"] == {
        "name": "verba",
        "host": DISCOVERED,
        "port": str(PORT),
    }
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == SERVER_ID
    assert result["data"] == {CONF_HOST: DISCOVERED, CONF_PORT: PORT}


async def test_discovering_a_known_server_updates_its_address(
    hass: HomeAssistant, servers: FakeServers, mock_entry: MockConfigEntry
) -> None:
    # Added by host, found at another address: recognised by the TXT id without connecting
    # (nothing answers at the new address in this test, so a Describe would abort the flow).
    result = await discover(hass, zeroconf_info(port=10300))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert mock_entry.data == {CONF_HOST: DISCOVERED, CONF_PORT: 10300}
    assert mock_entry.title == f"Verba ({DISCOVERED}:10300)"  # the title follows the address


async def test_a_renamed_entry_keeps_its_title_when_the_address_changes(
    hass: HomeAssistant, servers: FakeServers, mock_entry: MockConfigEntry
) -> None:
    hass.config_entries.async_update_entry(mock_entry, title="Living room voice")
    result = await discover(hass, zeroconf_info(port=10300))
    assert result["reason"] == "already_configured"
    assert mock_entry.data[CONF_PORT] == 10300
    assert mock_entry.title == "Living room voice"


async def test_discovery_without_txt_id_asks_the_server(
    hass: HomeAssistant, servers: FakeServers, mock_entry: MockConfigEntry
) -> None:
    servers.at[(DISCOVERED, PORT)] = server_info()
    result = await discover(hass, zeroconf_info(txt_id=None))
    assert result["reason"] == "already_configured"
    assert mock_entry.data[CONF_HOST] == DISCOVERED


async def test_discovery_trusts_the_server_over_its_txt_record(
    hass: HomeAssistant, servers: FakeServers, mock_entry: MockConfigEntry
) -> None:
    servers.at[(DISCOVERED, PORT)] = server_info(server_id=OTHER_SERVER_ID)
    result = await discover(hass, zeroconf_info(txt_id="aa" * 16))
    assert result["step_id"] == "zeroconf_confirm"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["result"].unique_id == OTHER_SERVER_ID
    assert mock_entry.data[CONF_HOST] == HOST


async def test_discovery_aborts_for_other_or_gone_servers(
    hass: HomeAssistant, servers: FakeServers
) -> None:
    servers.at[(DISCOVERED, PORT)] = NotVerbaServerError()
    result = await discover(hass, zeroconf_info(name="verba-piper", txt_id=None))
    assert result["reason"] == "not_verba"
    result = await discover(hass, zeroconf_info(host="192.168.1.99", txt_id=None))
    assert result["reason"] == "cannot_connect"


async def test_reconfigure_moves_the_entry_to_a_new_address(
    hass: HomeAssistant, servers: FakeServers, mock_entry: MockConfigEntry
) -> None:
    servers.at[("10.0.0.5", PORT)] = server_info()
    result = await mock_entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "10.0.0.9", CONF_PORT: PORT}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "10.0.0.5", CONF_PORT: PORT}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert mock_entry.data == {CONF_HOST: "10.0.0.5", CONF_PORT: PORT}
    assert mock_entry.title == f"Verba (10.0.0.5:{PORT})"


async def test_reconfigure_refuses_another_servers_address(
    hass: HomeAssistant, servers: FakeServers, mock_entry: MockConfigEntry
) -> None:
    servers.at[("10.0.0.6", PORT)] = server_info(server_id=OTHER_SERVER_ID)
    result = await mock_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "10.0.0.6", CONF_PORT: PORT}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_server"
    assert mock_entry.data == {CONF_HOST: HOST, CONF_PORT: PORT}


async def test_reconfigure_gives_an_old_entry_its_server_id(
    hass: HomeAssistant, servers: FakeServers
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id="verba", data={CONF_HOST: "10.0.0.1", CONF_PORT: 1}
    )
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: HOST, CONF_PORT: PORT}
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.unique_id == SERVER_ID


async def test_manifest() -> None:
    import json
    from pathlib import Path

    manifest = json.loads(
        (Path(__file__).parents[2] / "custom_components/verba/manifest.json").read_text()
    )
    assert manifest["zeroconf"] == [{"type": "_wyoming._tcp.local.", "name": "verba*"}]
    assert manifest["iot_class"] == "local_push" and manifest["config_flow"] is True
    assert manifest["requirements"][0].startswith("wyoming>=")
    # A GitHub user (or org/team) that exists, or none; "@wyoming-verba" was a placeholder org.
    assert "@wyoming-verba" not in manifest["codeowners"]
    assert all(owner.startswith("@") for owner in manifest["codeowners"])
    assert "quality_scale" not in manifest  # a tier is for core integrations only
