"""Config flow: user, zeroconf, reconfigure, errors, duplicates."""

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

from .conftest import VerbaServer
from .helpers import free_port, not_verba_server

pytestmark = pytest.mark.usefixtures("socket_enabled")


def zeroconf_info(port: int, name: str = "verba") -> ZeroconfServiceInfo:
    return ZeroconfServiceInfo(
        ip_address=ip_address("127.0.0.1"),
        ip_addresses=[ip_address("127.0.0.1")],
        hostname="gpu-box.local.",
        name=f"{name}._wyoming._tcp.local.",
        port=port,
        type="_wyoming._tcp.local.",
        properties={},
    )


async def test_user_flow_creates_entry(hass: HomeAssistant, verba_server: VerbaServer) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: verba_server.port}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_HOST: "127.0.0.1", CONF_PORT: verba_server.port}
    assert result["result"].unique_id == f"127.0.0.1:{verba_server.port}"


async def test_user_flow_errors_then_recovers(
    hass: HomeAssistant, verba_server: VerbaServer
) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: free_port()}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
    async with not_verba_server() as port:
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: port}
        )
    assert result["errors"] == {"base": "not_verba"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: verba_server.port}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_flow_refuses_duplicates(hass: HomeAssistant, verba_server: VerbaServer) -> None:
    MockConfigEntry(
        domain=DOMAIN,
        unique_id="verba",
        data={CONF_HOST: "127.0.0.1", CONF_PORT: verba_server.port},
    ).add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: verba_server.port}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_zeroconf_discovery_with_confirm(
    hass: HomeAssistant, verba_server: VerbaServer
) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": config_entries.SOURCE_ZEROCONF},
        data=zeroconf_info(verba_server.port),
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "zeroconf_confirm"
    assert result["description_placeholders"]["name"] == "verba"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == "verba"
    assert result["data"] == {CONF_HOST: "127.0.0.1", CONF_PORT: verba_server.port}


async def test_zeroconf_known_server_updates_its_address(
    hass: HomeAssistant, verba_server: VerbaServer
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id="verba", data={CONF_HOST: "10.0.0.9", CONF_PORT: 1}
    )
    entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": config_entries.SOURCE_ZEROCONF},
        data=zeroconf_info(verba_server.port),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data == {CONF_HOST: "127.0.0.1", CONF_PORT: verba_server.port}


async def test_zeroconf_refuses_other_wyoming_servers(hass: HomeAssistant) -> None:
    async with not_verba_server() as port:
        result = await hass.config_entries.flow.async_init(
            DOMAIN,
            context={"source": config_entries.SOURCE_ZEROCONF},
            data=zeroconf_info(port, "verba-piper"),
        )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_verba"
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": config_entries.SOURCE_ZEROCONF},
        data=zeroconf_info(free_port(), "verba-gone"),
    )
    assert result["reason"] == "cannot_connect"


async def test_reconfigure(hass: HomeAssistant, verba_server: VerbaServer) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id="verba", data={CONF_HOST: "127.0.0.1", CONF_PORT: free_port()}
    )
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: free_port()}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: verba_server.port}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_PORT] == verba_server.port
    await hass.async_block_till_done()
    assert entry.state is config_entries.ConfigEntryState.LOADED


async def test_manifest_limits_discovery_to_verba_instances() -> None:
    import json
    from pathlib import Path

    manifest = json.loads(
        (Path(__file__).parents[2] / "custom_components/verba/manifest.json").read_text()
    )
    assert manifest["zeroconf"] == [{"type": "_wyoming._tcp.local.", "name": "verba*"}]
    assert manifest["iot_class"] == "local_push" and manifest["config_flow"] is True
    assert manifest["requirements"][0].startswith("wyoming>=")
