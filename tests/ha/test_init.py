"""Setup and unload with a fake client: entities, retries, wrong servers, the server id."""

from __future__ import annotations

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
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


async def set_up(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def test_setup_creates_entities_and_unload_removes_them(
    hass: HomeAssistant, mock_entry: MockConfigEntry
) -> None:
    await set_up(hass, mock_entry)
    assert mock_entry.state is ConfigEntryState.LOADED
    entities = er.async_entries_for_config_entry(er.async_get(hass), mock_entry.entry_id)
    assert sorted(e.domain for e in entities) == ["select", "select", "select", "tts"]
    # Not async_get_device: it raises in tests from HA 2026.9.
    (device,) = dr.async_entries_for_config_entry(dr.async_get(hass), mock_entry.entry_id)
    assert (DOMAIN, mock_entry.entry_id) in device.identifiers
    assert device.name == mock_entry.title
    assert await hass.config_entries.async_unload(mock_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_entry.state is ConfigEntryState.NOT_LOADED


async def test_unreachable_server_is_retried(
    hass: HomeAssistant, servers: FakeServers, mock_entry: MockConfigEntry
) -> None:
    servers.at[(HOST, PORT)] = CannotConnectError("refused")
    await set_up(hass, mock_entry)
    assert mock_entry.state is ConfigEntryState.SETUP_RETRY


async def test_another_kind_of_wyoming_server_is_an_error_not_a_retry(
    hass: HomeAssistant, servers: FakeServers, mock_entry: MockConfigEntry
) -> None:
    servers.at[(HOST, PORT)] = NotVerbaServerError()
    await set_up(hass, mock_entry)
    assert mock_entry.state is ConfigEntryState.SETUP_ERROR
    assert mock_entry.reason is not None and "not a Verba TTS server" in mock_entry.reason


async def test_an_entry_from_before_server_ids_adopts_its_servers_id(
    hass: HomeAssistant,
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id=f"{HOST}:{PORT}", data={CONF_HOST: HOST, CONF_PORT: PORT}
    )
    entry.add_to_hass(hass)
    await set_up(hass, entry)
    assert entry.state is ConfigEntryState.LOADED
    assert entry.unique_id == SERVER_ID


async def test_a_server_with_a_new_id_keeps_its_entry(
    hass: HomeAssistant,
    servers: FakeServers,
    mock_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Its server.data_dir was wiped: same address, new id. The entry follows, with a warning.
    servers.at[(HOST, PORT)] = server_info(server_id=OTHER_SERVER_ID)
    await set_up(hass, mock_entry)
    assert mock_entry.state is ConfigEntryState.LOADED
    assert mock_entry.unique_id == OTHER_SERVER_ID
    assert "now reports id" in caplog.text


async def test_an_address_answering_as_another_configured_server_is_an_error(
    hass: HomeAssistant, servers: FakeServers, mock_entry: MockConfigEntry
) -> None:
    other = MockConfigEntry(
        domain=DOMAIN,
        unique_id=OTHER_SERVER_ID,
        title="Verba (attic)",
        data={CONF_HOST: "10.0.0.7", CONF_PORT: PORT},
    )
    other.add_to_hass(hass)
    servers.at[(HOST, PORT)] = server_info(server_id=OTHER_SERVER_ID)
    await set_up(hass, mock_entry)
    assert mock_entry.state is ConfigEntryState.SETUP_ERROR
    assert mock_entry.unique_id == SERVER_ID
    assert mock_entry.reason is not None and "Verba (attic)" in mock_entry.reason
