"""Options flow and the backend/voice/speaker selects, kept in sync."""

from __future__ import annotations

import pytest
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er

from custom_components.verba.const import CONF_BACKEND, CONF_SPEAKER, CONF_VOICE

from .conftest import VerbaServer
from .test_init import setup_entry

pytestmark = pytest.mark.usefixtures("socket_enabled")


def select_ids(hass: HomeAssistant, entry_id: str) -> dict[str, str]:
    registry = er.async_get(hass)
    return {
        e.unique_id.rsplit("_", 1)[-1]: e.entity_id
        for e in er.async_entries_for_config_entry(registry, entry_id)
        if e.domain == "select"
    }


async def test_options_flow_lists_server_engines_and_their_voices(
    hass: HomeAssistant, verba_server: VerbaServer
) -> None:
    entry = await setup_entry(hass, verba_server.port)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["step_id"] == "init"
    backend_options = result["data_schema"].schema[CONF_BACKEND].config["options"]
    assert [o["value"] for o in backend_options] == ["edge", "csm"]

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_BACKEND: "csm"}
    )
    assert result["step_id"] == "voice"
    schema = {str(key): value for key, value in result["data_schema"].schema.items()}
    voices = [o["value"] for o in schema[CONF_VOICE].config["options"]]
    assert voices == ["csm:speaker-0", "csm:speaker-1"]
    assert CONF_SPEAKER in schema
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_VOICE: "csm:speaker-1", CONF_SPEAKER: "3"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {CONF_BACKEND: "csm", CONF_VOICE: "csm:speaker-1", CONF_SPEAKER: "3"}
    await hass.async_block_till_done()

    ids = select_ids(hass, entry.entry_id)
    assert hass.states.get(ids["backend"]).state == "csm"
    assert hass.states.get(ids["voice"]).state == "csm:speaker-1"
    assert hass.states.get(ids["speaker"]).state == "3"


async def test_edge_options_have_no_speaker(hass: HomeAssistant, verba_server: VerbaServer) -> None:
    entry = await setup_entry(hass, verba_server.port)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_BACKEND: "edge"}
    )
    schema = {str(key): value for key, value in result["data_schema"].schema.items()}
    voices = [o["value"] for o in schema[CONF_VOICE].config["options"]]
    assert voices[0] == "edge:en-US-AriaNeural"  # the server's default voice comes first
    assert "edge:de-DE-KatjaNeural" in voices
    assert CONF_SPEAKER not in schema
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_VOICE: "edge:en-GB-SoniaNeural"}
    )
    assert entry.options == {CONF_BACKEND: "edge", CONF_VOICE: "edge:en-GB-SoniaNeural"}


async def test_selects_write_the_options(hass: HomeAssistant, verba_server: VerbaServer) -> None:
    entry = await setup_entry(hass, verba_server.port)
    ids = select_ids(hass, entry.entry_id)
    assert hass.states.get(ids["backend"]).state == "edge"
    assert hass.states.get(ids["voice"]).state == "edge:en-US-AriaNeural"
    assert hass.states.get(ids["speaker"]).state == STATE_UNAVAILABLE
    assert hass.states.get(ids["voice"]).attributes["options"][0] == "edge:en-US-AriaNeural"

    await hass.services.async_call(
        "select", "select_option", {"entity_id": ids["backend"], "option": "csm"}, blocking=True
    )
    assert entry.options[CONF_BACKEND] == "csm"
    voice = hass.states.get(ids["voice"])
    assert voice.state == "csm:speaker-0"
    assert voice.attributes["options"] == ["csm:speaker-0", "csm:speaker-1"]
    assert hass.states.get(ids["speaker"]).state == "default"

    await hass.services.async_call(
        "select", "select_option", {"entity_id": ids["speaker"], "option": "2"}, blocking=True
    )
    assert entry.options[CONF_SPEAKER] == "2"
    registry = er.async_get(hass)
    assert registry.async_get(ids["backend"]).entity_category == "config"


async def test_select_state_is_restored(hass: HomeAssistant, verba_server: VerbaServer) -> None:
    from homeassistant.core import State
    from pytest_homeassistant_custom_component.common import mock_restore_cache

    entry = await setup_entry(hass, verba_server.port)
    ids = select_ids(hass, entry.entry_id)
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    mock_restore_cache(hass, [State(ids["voice"], "edge:de-DE-KatjaNeural")])
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.options[CONF_VOICE] == "edge:de-DE-KatjaNeural"
    assert hass.states.get(ids["voice"]).state == "edge:de-DE-KatjaNeural"
