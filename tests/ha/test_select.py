"""The backend, voice and speaker selects: views of the entry's options that write them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from homeassistant.const import STATE_UNAVAILABLE, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion

from custom_components.verba.const import CONF_BACKEND, CONF_SPEAKER, CONF_VOICE

from .fakes import FakeServers
from .helpers import loaded_with

BACKEND, VOICE, SPEAKER = (
    "select.verba_192_168_1_20_10200_backend",
    "select.verba_192_168_1_20_10200_voice",
    "select.verba_192_168_1_20_10200_csm_speaker",
)


@pytest.fixture
async def loaded(
    hass: HomeAssistant, servers: FakeServers, mock_entry: MockConfigEntry
) -> AsyncIterator[MockConfigEntry]:
    async with loaded_with(hass, mock_entry, Platform.SELECT) as entry:
        yield entry


async def select(hass: HomeAssistant, entity_id: str, option: str) -> None:
    await hass.services.async_call(
        "select", "select_option", {"entity_id": entity_id, "option": option}, blocking=True
    )


async def test_entities(
    hass: HomeAssistant,
    loaded: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    from pytest_homeassistant_custom_component.common import snapshot_platform

    await snapshot_platform(hass, entity_registry, snapshot, loaded.entry_id)


async def test_selects_write_the_options_and_follow_the_backend(
    hass: HomeAssistant, loaded: MockConfigEntry
) -> None:
    assert hass.states.get(BACKEND).state == "edge"
    assert hass.states.get(VOICE).state == "edge:en-US-AriaNeural"
    assert hass.states.get(SPEAKER).state == STATE_UNAVAILABLE

    await select(hass, BACKEND, "csm")
    assert loaded.options == {CONF_BACKEND: "csm"}
    voice = hass.states.get(VOICE)
    assert voice.state == "csm:speaker-0"
    assert voice.attributes["options"] == ["csm:speaker-0", "csm:speaker-1"]
    assert hass.states.get(SPEAKER).state == "default"

    await select(hass, SPEAKER, "2")
    await select(hass, VOICE, "csm:speaker-1")
    assert loaded.options == {CONF_BACKEND: "csm", CONF_SPEAKER: "2", CONF_VOICE: "csm:speaker-1"}
    await select(hass, SPEAKER, "default")
    assert loaded.options[CONF_SPEAKER] == ""


async def test_selects_show_what_the_options_flow_wrote(
    hass: HomeAssistant, loaded: MockConfigEntry
) -> None:
    hass.config_entries.async_update_entry(
        loaded, options={CONF_BACKEND: "edge", CONF_VOICE: "edge:de-DE-KatjaNeural"}
    )
    await hass.async_block_till_done()
    assert hass.states.get(VOICE).state == "edge:de-DE-KatjaNeural"
    # A voice the server no longer has shows the backend's default instead.
    hass.config_entries.async_update_entry(loaded, options={CONF_VOICE: "edge:xx-XX-GoneNeural"})
    await hass.async_block_till_done()
    assert hass.states.get(VOICE).state == "edge:en-US-AriaNeural"


async def test_no_state_of_their_own_survives_a_restart(
    hass: HomeAssistant, loaded: MockConfigEntry
) -> None:
    from homeassistant.core import State
    from pytest_homeassistant_custom_component.common import mock_restore_cache

    await hass.config_entries.async_unload(loaded.entry_id)
    await hass.async_block_till_done()
    mock_restore_cache(hass, [State(VOICE, "edge:de-DE-KatjaNeural")])
    await hass.config_entries.async_setup(loaded.entry_id)
    await hass.async_block_till_done()
    assert loaded.options == {}
    assert hass.states.get(VOICE).state == "edge:en-US-AriaNeural"
