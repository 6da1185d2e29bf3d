"""Options flow with a fake client: backend → voice → speaker; a voice per language."""

from __future__ import annotations

from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.verba.const import (
    CONF_BACKEND,
    CONF_LANGUAGE,
    CONF_LANGUAGE_VOICES,
    CONF_SPEAKER,
    CONF_VOICE,
)

from .fakes import FakeServers

pytestmark = pytest.mark.usefixtures("loaded")


@pytest.fixture
async def loaded(hass: HomeAssistant, servers: FakeServers, mock_entry: MockConfigEntry) -> None:
    await hass.config_entries.async_setup(mock_entry.entry_id)
    await hass.async_block_till_done()


def choices(result: dict[str, Any], field: str) -> list[str]:
    schema = {str(key): value for key, value in result["data_schema"].schema.items()}
    return [option["value"] for option in schema[field].config["options"]]


def default_of(result: dict[str, Any], field: str) -> Any:
    return next(key.default() for key in result["data_schema"].schema if str(key) == field)


async def open_menu(hass: HomeAssistant, entry: MockConfigEntry, item: str) -> dict[str, Any]:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["backend", "languages", "speaking"]
    return await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": item}
    )


async def test_backend_lists_the_servers_engines_then_their_voices(
    hass: HomeAssistant, mock_entry: MockConfigEntry
) -> None:
    result = await open_menu(hass, mock_entry, "backend")
    assert result["step_id"] == "backend"
    assert choices(result, CONF_BACKEND) == ["edge", "csm"]
    assert default_of(result, CONF_BACKEND) == "edge"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_BACKEND: "csm"}
    )
    assert result["step_id"] == "voice"
    assert choices(result, CONF_VOICE) == ["csm:speaker-0", "csm:speaker-1"]
    assert choices(result, CONF_SPEAKER) == ["default", *map(str, range(8))]
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_VOICE: "csm:speaker-1", CONF_SPEAKER: "3"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert mock_entry.options == {
        CONF_BACKEND: "csm",
        CONF_VOICE: "csm:speaker-1",
        CONF_SPEAKER: "3",
    }


async def test_edge_voices_have_no_speaker(
    hass: HomeAssistant, mock_entry: MockConfigEntry
) -> None:
    result = await open_menu(hass, mock_entry, "backend")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_BACKEND: "edge"}
    )
    assert choices(result, CONF_VOICE)[0] == "edge:en-US-AriaNeural"  # the server's default first
    assert default_of(result, CONF_VOICE) == "edge:en-US-AriaNeural"
    assert CONF_SPEAKER not in {str(key) for key in result["data_schema"].schema}
    await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_VOICE: "edge:en-GB-SoniaNeural"}
    )
    assert mock_entry.options == {
        CONF_BACKEND: "edge",
        CONF_VOICE: "edge:en-GB-SoniaNeural",
        CONF_SPEAKER: "",
    }


async def test_a_voice_per_language_is_added_and_removed(
    hass: HomeAssistant, mock_entry: MockConfigEntry
) -> None:
    hass.config.language = "de"
    result = await open_menu(hass, mock_entry, "languages")
    assert result["step_id"] == "languages"
    assert choices(result, CONF_LANGUAGE) == ["de", "en", "fr"]
    assert default_of(result, CONF_LANGUAGE) == "de"  # Home Assistant's own language
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_LANGUAGE: "de"}
    )
    assert result["step_id"] == "language_voice"
    assert result["description_placeholders"] == {"language": "de"}
    assert choices(result, CONF_VOICE) == [
        "default",
        "edge:de-AT-IngridNeural",
        "edge:de-DE-KatjaNeural",
    ]
    await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_VOICE: "edge:de-AT-IngridNeural"}
    )
    assert mock_entry.options == {CONF_LANGUAGE_VOICES: {"de": "edge:de-AT-IngridNeural"}}

    # The other settings stay; choosing "default" removes the language's voice.
    hass.config_entries.async_update_entry(
        mock_entry, options={**mock_entry.options, CONF_BACKEND: "csm"}
    )
    result = await open_menu(hass, mock_entry, "languages")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_LANGUAGE: "de"}
    )
    assert default_of(result, CONF_VOICE) == "edge:de-AT-IngridNeural"
    await hass.config_entries.options.async_configure(result["flow_id"], {CONF_VOICE: "default"})
    assert mock_entry.options == {CONF_BACKEND: "csm", CONF_LANGUAGE_VOICES: {}}


async def test_speaking_defaults_are_set_checked_and_cleared(
    hass: HomeAssistant, mock_entry: MockConfigEntry
) -> None:
    result = await open_menu(hass, mock_entry, "speaking")
    assert result["step_id"] == "speaking"
    assert default_of(result, "rate") == 0 and default_of(result, "volume") == 0
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"rate": 20, "volume": -10, "pitch": "high", "temperature": 0.7}
    )
    assert result["type"] is FlowResultType.FORM and result["errors"] == {"pitch": "invalid_pitch"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"rate": 20, "volume": -10, "pitch": "+5Hz", "temperature": 0.7}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert mock_entry.options == {"rate": 20, "volume": -10, "pitch": "+5Hz", "temperature": 0.7}
    await hass.async_block_till_done()
    tts_entity = hass.data["tts"].get_entity("tts.verba_192_168_1_20_10200_speech")
    assert tts_entity.default_options == {
        "rate": "+20%",
        "volume": "-10%",
        "pitch": "+5Hz",
        "temperature": 0.7,
    }

    # Emptied pitch and temperature go back to the server's own; other options stay.
    hass.config_entries.async_update_entry(
        mock_entry, options={**mock_entry.options, CONF_BACKEND: "edge"}
    )
    result = await open_menu(hass, mock_entry, "speaking")
    assert default_of(result, "rate") == 20
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"rate": 0, "volume": 0}
    )
    assert mock_entry.options == {CONF_BACKEND: "edge", "rate": 0, "volume": 0}
    await hass.async_block_till_done()
    assert tts_entity.default_options is None


async def test_a_pitch_the_server_would_refuse_is_refused_in_the_flow(
    hass: HomeAssistant, mock_entry: MockConfigEntry
) -> None:
    # The protocol's pitch rule (format and ranges), not a format alone: +600Hz used to be
    # stored, and then every request with these defaults failed at the server.
    result = await open_menu(hass, mock_entry, "speaking")
    for pitch in ("+600Hz", "-60%"):
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {"rate": 0, "volume": 0, "pitch": pitch}
        )
        assert result["errors"] == {"pitch": "invalid_pitch"}, pitch
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"rate": 0, "volume": 0, "pitch": "-500Hz"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert mock_entry.options == {"rate": 0, "volume": 0, "pitch": "-500Hz"}
