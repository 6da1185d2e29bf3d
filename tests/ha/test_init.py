"""Setup, unload, and a server that is not there."""

from __future__ import annotations

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.verba.const import DOMAIN

from .conftest import VerbaServer
from .helpers import free_port

pytestmark = pytest.mark.usefixtures("socket_enabled")


async def setup_entry(
    hass: HomeAssistant, port: int, options: dict | None = None
) -> MockConfigEntry:  # type: ignore[type-arg]
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="verba",
        title="Verba (test)",
        data={CONF_HOST: "127.0.0.1", CONF_PORT: port},
        options=options or {},
    )
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def test_setup_creates_entities_and_unload_removes_them(
    hass: HomeAssistant, verba_server: VerbaServer
) -> None:
    entry = await setup_entry(hass, verba_server.port)
    assert entry.state is ConfigEntryState.LOADED
    entities = er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    assert sorted(e.domain for e in entities) == ["select", "select", "select", "tts"]
    assert all(e.unique_id.startswith(entry.entry_id) for e in entities)
    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, entry.entry_id)})
    assert device is not None and device.name == "Verba (test)"
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED


async def test_unreachable_server_is_retried(hass: HomeAssistant) -> None:
    entry = await setup_entry(hass, free_port())
    assert entry.state is ConfigEntryState.SETUP_RETRY


async def test_other_wyoming_server_is_not_set_up(hass: HomeAssistant) -> None:
    from .helpers import not_verba_server

    async with not_verba_server() as port:
        entry = await setup_entry(hass, port)
        assert entry.state is ConfigEntryState.SETUP_RETRY
