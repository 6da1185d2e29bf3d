"""One update listener; exactly one reload per address change, none for options (HA 2026.12)."""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import ip_address
from unittest.mock import MagicMock, patch

import pytest
from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.verba.const import CONF_BACKEND, CONF_VOICE, DOMAIN

from .fakes import HOST, PORT, SERVER_ID, CannotConnectError, FakeServers, server_info

pytestmark = pytest.mark.usefixtures("servers")
NEW_HOST = "192.168.1.77"
DEPRECATION = "should use it for scheduling a reload"
VOICE = "select.verba_192_168_1_20_10200_voice"


@pytest.fixture
def reloads(hass: HomeAssistant) -> Iterator[MagicMock]:
    """Every reload of an entry, whoever asked for it."""
    with patch.object(
        hass.config_entries, "async_reload", wraps=hass.config_entries.async_reload
    ) as spy:
        yield spy


async def set_up(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def test_the_entry_has_one_update_listener_and_entities_none(
    hass: HomeAssistant, mock_entry: MockConfigEntry
) -> None:
    await set_up(hass, mock_entry)
    assert len(mock_entry.update_listeners) == 1  # three selects loaded, still one
    await hass.config_entries.async_unload(mock_entry.entry_id)
    assert mock_entry.update_listeners == []


async def test_rediscovery_at_a_new_address_reloads_once(
    hass: HomeAssistant,
    servers: FakeServers,
    mock_entry: MockConfigEntry,
    reloads: MagicMock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await set_up(hass, mock_entry)
    servers.at[(NEW_HOST, PORT)] = server_info()
    info = ZeroconfServiceInfo(
        ip_address=ip_address(NEW_HOST),
        ip_addresses=[ip_address(NEW_HOST)],
        hostname="gpu-box.local.",
        name="verba._wyoming._tcp.local.",
        port=PORT,
        type="_wyoming._tcp.local.",
        properties={"server_id": SERVER_ID},
    )
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_ZEROCONF}, data=info
    )
    await hass.async_block_till_done()
    assert result["reason"] == "already_configured"
    assert reloads.call_count == 1
    assert mock_entry.state is ConfigEntryState.LOADED
    assert mock_entry.runtime_data.client.host == NEW_HOST  # the reloaded entry uses it
    assert mock_entry.title == f"Verba ({NEW_HOST}:{PORT})"
    assert DEPRECATION not in caplog.text


async def test_rediscovery_at_the_same_address_reloads_nothing(
    hass: HomeAssistant, mock_entry: MockConfigEntry, reloads: MagicMock
) -> None:
    await set_up(hass, mock_entry)
    info = ZeroconfServiceInfo(
        ip_address=ip_address(HOST),
        ip_addresses=[ip_address(HOST)],
        hostname="gpu-box.local.",
        name="verba._wyoming._tcp.local.",
        port=PORT,
        type="_wyoming._tcp.local.",
        properties={"server_id": SERVER_ID},
    )
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_ZEROCONF}, data=info
    )
    await hass.async_block_till_done()
    assert result["reason"] == "already_configured"
    assert reloads.call_count == 0


async def test_reconfigure_reloads_once(
    hass: HomeAssistant,
    servers: FakeServers,
    mock_entry: MockConfigEntry,
    reloads: MagicMock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await set_up(hass, mock_entry)
    servers.at[("10.0.0.5", PORT)] = server_info()
    result = await mock_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "10.0.0.5", CONF_PORT: PORT}
    )
    await hass.async_block_till_done()
    assert result["reason"] == "reconfigure_successful"
    assert reloads.call_count == 1
    assert mock_entry.state is ConfigEntryState.LOADED
    assert mock_entry.runtime_data.client.host == "10.0.0.5"
    assert DEPRECATION not in caplog.text


async def test_reconfigure_of_an_entry_waiting_to_retry_sets_it_up(
    hass: HomeAssistant, servers: FakeServers, mock_entry: MockConfigEntry, reloads: MagicMock
) -> None:
    servers.at[(HOST, PORT)] = CannotConnectError("refused")
    await set_up(hass, mock_entry)
    assert mock_entry.state is ConfigEntryState.SETUP_RETRY
    servers.at[("10.0.0.5", PORT)] = server_info()
    result = await mock_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "10.0.0.5", CONF_PORT: PORT}
    )
    await hass.async_block_till_done()
    assert result["reason"] == "reconfigure_successful"
    assert reloads.call_count == 1
    assert mock_entry.state is ConfigEntryState.LOADED


async def test_options_changes_reload_nothing_and_the_selects_follow(
    hass: HomeAssistant, mock_entry: MockConfigEntry, reloads: MagicMock
) -> None:
    with patch("custom_components.verba.PLATFORMS", [Platform.SELECT]):
        await set_up(hass, mock_entry)
    result = await hass.config_entries.options.async_init(mock_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "backend"}
    )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_BACKEND: "csm"}
    )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_VOICE: "csm:speaker-1"}
    )
    await hass.async_block_till_done()
    assert mock_entry.options[CONF_VOICE] == "csm:speaker-1"
    state = hass.states.get(VOICE)
    assert state is not None and state.state == "csm:speaker-1"
    await hass.services.async_call(
        "select", "select_option", {"entity_id": VOICE, "option": "csm:speaker-0"}, blocking=True
    )
    await hass.async_block_till_done()
    assert reloads.call_count == 0
    assert mock_entry.state is ConfigEntryState.LOADED


async def test_the_listener_is_what_reloads_a_moved_entry(
    hass: HomeAssistant, servers: FakeServers, mock_entry: MockConfigEntry, reloads: MagicMock
) -> None:
    # The flows only update the entry (HA 2026.12 refuses flows that reload an entry with an
    # update listener); the listener must notice the new address by itself.
    await set_up(hass, mock_entry)
    servers.at[("10.0.0.5", PORT)] = server_info()
    hass.config_entries.async_update_entry(
        mock_entry, data={CONF_HOST: "10.0.0.5", CONF_PORT: PORT}
    )
    await hass.async_block_till_done()
    assert reloads.call_count == 1
    assert mock_entry.runtime_data.client.host == "10.0.0.5"
