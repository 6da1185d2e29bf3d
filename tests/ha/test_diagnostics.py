"""Diagnostics: everything needed to debug a setup, and not the server's address."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion

from custom_components.verba.const import CONF_BACKEND, CONF_LANGUAGE_VOICES

from .fakes import HOST, FakeServers


async def test_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    servers: FakeServers,
    mock_entry: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    hass.config_entries.async_update_entry(
        mock_entry,
        options={
            CONF_BACKEND: "csm",
            CONF_LANGUAGE_VOICES: {"de": "edge:de-AT-IngridNeural"},
            "rate": 20,
            "volume": 0,
            "temperature": 0.7,
        },
    )
    await hass.config_entries.async_setup(mock_entry.entry_id)
    await hass.async_block_till_done()
    await (
        hass.data["tts"]
        .get_entity("tts.verba_192_168_1_20_10200_speech")
        .async_get_tts_audio("Guten Abend.", "de-DE", {})
    )
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, mock_entry)
    assert diagnostics == snapshot
    assert diagnostics["settings"]["speaking"] == {"rate": "+20%", "temperature": 0.7}
    assert diagnostics["server"]["speak_options"]["csm"] == ["rate", "temperature", "volume"]
    assert HOST not in str(diagnostics)
