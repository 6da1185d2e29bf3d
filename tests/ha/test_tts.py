"""The TTS entity with a fake client: which voice speaks, languages, errors, the WAV it returns."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import pytest
from homeassistant.components import tts
from homeassistant.components.tts.entity import TTSAudioRequest
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from custom_components.verba.const import (
    CONF_BACKEND,
    CONF_LANGUAGE_VOICES,
    CONF_SPEAKER,
    CONF_VOICE,
)
from custom_components.verba.protocol.wav import AudioFormat, streaming_wav_header

from .e2e import fetch_audio
from .fakes import HOST, PORT, CannotConnectError, FakeServers, Request
from .helpers import OPTIONS_REFUSED, loaded_with, wav_samples

ENTITY = "tts.verba_192_168_1_20_10200_speech"


@pytest.fixture
async def loaded(
    hass: HomeAssistant, servers: FakeServers, mock_entry: MockConfigEntry
) -> AsyncIterator[MockConfigEntry]:
    async with loaded_with(hass, mock_entry, Platform.TTS) as entry:
        yield entry


def entity(hass: HomeAssistant) -> Any:
    return hass.data["tts"].get_entity(ENTITY)


async def speak(
    hass: HomeAssistant, servers: FakeServers, language: str, options: dict[str, Any] | None = None
) -> Request:
    extension, data = await entity(hass).async_get_tts_audio("Hallo.", language, options or {})
    assert extension == "wav"
    rate, samples, _pcm = wav_samples(data)
    assert (rate, samples) == (24000, 2400)
    assert data[40:44] == (2400 * 2).to_bytes(4, "little")  # a whole file: its exact size
    return servers.requests[-1]


async def set_options(hass: HomeAssistant, entry: MockConfigEntry, **options: Any) -> None:
    hass.config_entries.async_update_entry(entry, options=options)
    await hass.async_block_till_done()


async def test_entity(
    hass: HomeAssistant,
    loaded: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    await snapshot_platform(hass, entity_registry, snapshot, loaded.entry_id)
    tts_entity = entity(hass)
    assert tts_entity.default_language == "en-US"
    assert tts_entity.supported_languages == ["de-AT", "de-DE", "en", "en-GB", "en-US", "fr-FR"]
    assert tts_entity.supported_options == [
        "voice",
        "speaker",
        "rate",
        "volume",
        "pitch",
        "temperature",
    ]


async def test_supported_voices_cover_every_engine_backend_first(
    hass: HomeAssistant, loaded: MockConfigEntry
) -> None:
    assert [v.voice_id for v in entity(hass).async_get_supported_voices("en")] == [
        "csm:speaker-0",
        "csm:speaker-1",
    ]
    assert [v.voice_id for v in entity(hass).async_get_supported_voices("de-DE")] == [
        "edge:de-DE-KatjaNeural"
    ]
    assert entity(hass).async_get_supported_voices("it-IT") is None


async def test_the_configured_voice_speaks_its_own_language_in_any_region(
    hass: HomeAssistant, servers: FakeServers, loaded: MockConfigEntry
) -> None:
    await set_options(
        hass, loaded, **{CONF_BACKEND: "csm", CONF_VOICE: "csm:speaker-1", CONF_SPEAKER: "4"}
    )
    request = await speak(hass, servers, "en-GB")
    assert (request.voice, request.speaker) == ("csm:speaker-1", "4")


async def test_another_language_gets_the_servers_voice_for_it(
    hass: HomeAssistant, servers: FakeServers, loaded: MockConfigEntry
) -> None:
    # CSM speaks English only: German goes to the server's German voice, without the CSM speaker.
    await set_options(hass, loaded, **{CONF_BACKEND: "csm", CONF_SPEAKER: "4"})
    request = await speak(hass, servers, "de-DE")
    assert (request.voice, request.speaker) == ("edge:de-DE-KatjaNeural", None)
    # A region the server has no voice for: the language's first voice in another region.
    assert (await speak(hass, servers, "de-CH")).voice == "edge:de-AT-IngridNeural"
    # A language nobody speaks: the configured voice (the server says what it can).
    assert (await speak(hass, servers, "it-IT")).voice == "csm:speaker-0"


async def test_the_voice_chosen_for_a_language_wins_over_the_servers(
    hass: HomeAssistant, servers: FakeServers, loaded: MockConfigEntry
) -> None:
    await set_options(
        hass,
        loaded,
        **{CONF_BACKEND: "csm", CONF_LANGUAGE_VOICES: {"de": "edge:de-AT-IngridNeural"}},
    )
    assert (await speak(hass, servers, "de-DE")).voice == "edge:de-AT-IngridNeural"
    # But not over the configured voice when that one speaks the language.
    await set_options(
        hass,
        loaded,
        **{
            CONF_VOICE: "edge:de-DE-KatjaNeural",
            CONF_LANGUAGE_VOICES: {"de": "edge:de-AT-IngridNeural"},
        },
    )
    assert (await speak(hass, servers, "de-DE")).voice == "edge:de-DE-KatjaNeural"


async def test_a_voice_in_the_request_wins(
    hass: HomeAssistant, servers: FakeServers, loaded: MockConfigEntry
) -> None:
    await set_options(
        hass,
        loaded,
        **{CONF_BACKEND: "csm", CONF_LANGUAGE_VOICES: {"de": "edge:de-AT-IngridNeural"}},
    )
    request = await speak(hass, servers, "de-DE", {tts.ATTR_VOICE: "edge:fr-FR-DeniseNeural"})
    assert request.voice == "edge:fr-FR-DeniseNeural"


async def llm_reply() -> AsyncGenerator[str]:
    for piece in ["Guten ", "Abend. ", "Das Licht ist aus."]:
        yield piece


async def test_streamed_text_uses_the_requests_language(
    hass: HomeAssistant, servers: FakeServers, loaded: MockConfigEntry
) -> None:
    await set_options(hass, loaded, **{CONF_BACKEND: "csm"})
    response = await entity(hass).async_stream_tts_audio(TTSAudioRequest("de-DE", {}, llm_reply()))
    data = b"".join([chunk async for chunk in response.data_gen])
    assert response.extension == "wav"
    # A stream: sizes unknown. HA 2026.11 passes WAV through (no ffmpeg) only when the data size
    # is 0 or 0xFFFFFFFF.
    assert data[4:8] == data[40:44] == b"\xff\xff\xff\xff"
    assert wav_samples(data)[:2] == (24000, 2400)
    assert servers.requests[-1] == Request(
        "Guten Abend. Das Licht ist aus.", "edge:de-DE-KatjaNeural", None, True
    )


async def test_server_errors_become_translated_errors(
    hass: HomeAssistant, servers: FakeServers, loaded: MockConfigEntry
) -> None:
    servers.error = "unknown voice 'edge:xx'"
    with pytest.raises(HomeAssistantError) as err:
        await entity(hass).async_get_tts_audio("Hi.", "en-US", {})
    assert err.value.translation_key == "synthesis_failed"
    assert (
        str(err.value)
        == "The Verba TTS server could not synthesize speech: unknown voice 'edge:xx'"
    )
    response = await entity(hass).async_stream_tts_audio(TTSAudioRequest("en-US", {}, llm_reply()))
    with pytest.raises(HomeAssistantError) as err:
        async for _chunk in response.data_gen:
            pass
    assert err.value.translation_key == "synthesis_failed"
    servers.at[(HOST, PORT)] = CannotConnectError("Connection refused")
    with pytest.raises(HomeAssistantError) as err:
        await entity(hass).async_get_tts_audio("Hi.", "en-US", {})
    assert str(err.value) == "Lost the connection to the Verba TTS server: Connection refused"


async def test_speaking_options_are_supported_and_defaults_come_from_the_options(
    hass: HomeAssistant, servers: FakeServers, loaded: MockConfigEntry
) -> None:
    tts_entity = entity(hass)
    assert {"voice", "speaker", "rate", "volume", "pitch", "temperature"} <= set(
        tts_entity.supported_options
    )
    assert tts_entity.default_options is None
    await set_options(hass, loaded, rate=15, volume=0, pitch="+5Hz", temperature=0.6)
    assert tts_entity.default_options == {"rate": "+15%", "pitch": "+5Hz", "temperature": 0.6}


async def test_tts_speak_options_reach_the_server_over_the_defaults(
    hass: HomeAssistant, servers: FakeServers, loaded: MockConfigEntry
) -> None:
    await fetch_audio(hass, ENTITY, "Hallo.", {"rate": "+20%"})
    assert servers.requests[-1].options == {"rate": "+20%"}
    await set_options(hass, loaded, rate=10, pitch="-3Hz")
    await fetch_audio(hass, ENTITY, "Hallo.", {"rate": "-20%", "volume": "+5%"})
    assert servers.requests[-1].options == {"rate": "-20%", "volume": "+5%", "pitch": "-3Hz"}
    await fetch_audio(hass, ENTITY, "Hallo again.")
    assert servers.requests[-1].options == {"rate": "+10%", "pitch": "-3Hz"}
    with pytest.raises(HomeAssistantError, match=OPTIONS_REFUSED):
        await fetch_audio(hass, ENTITY, "Hallo.", {"speed": 2})


async def test_a_streamed_reply_carries_its_options(
    hass: HomeAssistant, servers: FakeServers, loaded: MockConfigEntry
) -> None:
    request = TTSAudioRequest("de-DE", {"temperature": 0.4}, llm_reply())
    response = await entity(hass).async_stream_tts_audio(request)
    assert b"".join([chunk async for chunk in response.data_gen])
    assert servers.requests[-1].streamed and servers.requests[-1].options == {"temperature": 0.4}


def test_home_assistant_passes_our_stream_through_without_ffmpeg() -> None:
    # HA 2026.11 feeds a streamed WAV to the player as raw PCM only when its parser accepts the
    # header (data size 0 or 0xFFFFFFFF); otherwise it starts ffmpeg for every reply.
    parse = getattr(tts, "_parse_streaming_wav_header", None)
    if parse is None:
        pytest.skip("Home Assistant before 2026.11 has no WAV pass-through")
    info = parse(streaming_wav_header(AudioFormat(rate=24000, width=2, channels=1)))
    assert info is not None
    pcm = info.pcm_format
    assert (pcm.sample_rate, pcm.sample_width, pcm.channels) == (24000, 2, 1)
