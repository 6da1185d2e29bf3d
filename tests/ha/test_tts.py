"""End to end against the real server process: built-in wyoming, ours, streaming, errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest
from homeassistant.components import tts
from homeassistant.components.tts.entity import TTSAudioRequest
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.verba.const import CONF_BACKEND, CONF_VOICE
from custom_components.verba.diagnostics import async_get_config_entry_diagnostics

from .conftest import FakeEdge, VerbaServer
from .helpers import dominant_frequency, wav_samples
from .test_init import setup_entry

pytestmark = pytest.mark.usefixtures("socket_enabled")
WAV = {tts.ATTR_PREFERRED_FORMAT: "wav"}


def tts_entity_id(hass: HomeAssistant, entry_id: str) -> str:
    entities = er.async_entries_for_config_entry(er.async_get(hass), entry_id)
    return next(e.entity_id for e in entities if e.domain == "tts")


async def fetch_audio(
    hass: HomeAssistant, engine: str, message: str, options: dict | None = None
) -> bytes:  # type: ignore[type-arg]
    media_id = tts.generate_media_source_id(
        hass, message, engine=engine, language=None, options={**WAV, **(options or {})}, cache=False
    )
    extension, data = await tts.async_get_media_source_audio(hass, media_id)
    assert extension == "wav"
    return data


def texts_of(requests: list[dict], since: int) -> list[str]:  # type: ignore[type-arg]
    return sorted(r["text"] for r in requests[since:])


async def test_builtin_wyoming_integration_gets_the_fakes_audio(
    hass: HomeAssistant, verba_server: VerbaServer, fake_edge: FakeEdge
) -> None:
    # The wyoming integration pulls in assist_pipeline/conversation, which need the core component.
    assert await async_setup_component(hass, "homeassistant", {})
    entry = MockConfigEntry(domain="wyoming", data={"host": "127.0.0.1", "port": verba_server.port})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    engine = tts_entity_id(hass, entry.entry_id)
    before = len(fake_edge.requests())
    data = await fetch_audio(hass, engine, "Hello from the built in integration.")
    rate, samples, _pcm = wav_samples(data)
    requests = fake_edge.requests()[before:]
    assert texts_of(requests, 0) == ["Hello from the built in integration."]
    assert rate == 24000
    assert samples == sum(r["samples"] for r in requests)


async def test_our_integration_speaks_in_the_chosen_voice(
    hass: HomeAssistant, verba_server: VerbaServer, fake_edge: FakeEdge
) -> None:
    entry = await setup_entry(hass, verba_server.port)
    # Choose backend and voice the way a user does: through the options flow.
    flow = await hass.config_entries.options.async_init(entry.entry_id)
    flow = await hass.config_entries.options.async_configure(
        flow["flow_id"], {CONF_BACKEND: "edge"}
    )
    flow = await hass.config_entries.options.async_configure(
        flow["flow_id"], {CONF_VOICE: "edge:en-GB-SoniaNeural"}
    )
    await hass.async_block_till_done()
    engine = tts_entity_id(hass, entry.entry_id)
    state = hass.states.get(engine)
    assert state is not None
    before = len(fake_edge.requests())
    data = await fetch_audio(hass, engine, "Good evening. The doors are locked.")
    rate, samples, pcm = wav_samples(data)
    requests = fake_edge.requests()[before:]
    assert {r["voice"] for r in requests} == {"en-GB-SoniaNeural"}
    assert texts_of(requests, 0) == ["Good evening.", "The doors are locked."]
    assert samples == sum(r["samples"] for r in requests)
    assert abs(dominant_frequency(pcm, rate) - 330) < 5  # the fake's pitch for Sonia

    # A voice passed with the request wins over the configured one.
    before = len(fake_edge.requests())
    await fetch_audio(hass, engine, "Guten Abend.", {tts.ATTR_VOICE: "edge:de-DE-KatjaNeural"})
    assert {r["voice"] for r in fake_edge.requests()[before:]} == {"de-DE-KatjaNeural"}

    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["server"]["engines"] == ["edge", "csm"]
    assert diagnostics["options"][CONF_VOICE] == "edge:en-GB-SoniaNeural"
    assert diagnostics["last_request"]["first_audio_ms"] is not None
    assert diagnostics["last_request"]["audio_s"] > 0


async def test_first_audio_reaches_ha_before_the_server_finishes(
    hass: HomeAssistant, verba_server: VerbaServer, fake_edge: FakeEdge
) -> None:
    entry = await setup_entry(hass, verba_server.port)
    engine = tts_entity_id(hass, entry.entry_id)
    message = (
        "This reply is long enough to take a few seconds to speak out loud. And a second sentence."
    )
    stream = tts.async_create_stream(hass, engine, language="en-US", options=WAV)
    before = len(fake_edge.requests())
    stream.async_set_message(message)
    chunks = []
    finished_at_first_audio = None
    async for chunk in stream.async_stream_result():
        if finished_at_first_audio is None and len(chunk) > 44:
            requests = await hass.async_add_executor_job(fake_edge.requests)
            finished_at_first_audio = [r["finished"] for r in requests[before:]]
        chunks.append(chunk)
    # When the first audio bytes reached HA, the server was still synthesizing.
    assert finished_at_first_audio is not None and not all(finished_at_first_audio)
    rate, samples, _pcm = wav_samples(b"".join(chunks))
    requests = fake_edge.requests()[before:]
    assert rate == 24000 and samples == sum(r["samples"] for r in requests)


async def test_streamed_text_goes_out_as_synthesize_chunks(
    hass: HomeAssistant, verba_server: VerbaServer, fake_edge: FakeEdge
) -> None:
    entry = await setup_entry(hass, verba_server.port)
    engine = tts_entity_id(hass, entry.entry_id)
    entity = hass.data["tts"].get_entity(engine)

    async def llm_reply() -> AsyncGenerator[str]:
        for piece in ["The first sen", "tence arrives. ", "Then the ", "second one."]:
            await asyncio.sleep(0.05)
            yield piece

    before = len(fake_edge.requests())
    response = await entity.async_stream_tts_audio(TTSAudioRequest("en-US", {}, llm_reply()))
    data = b"".join([chunk async for chunk in response.data_gen])
    assert response.extension == "wav"
    _rate, samples, _pcm = wav_samples(data)
    requests = fake_edge.requests()[before:]
    assert texts_of(requests, 0) == ["The first sentence arrives.", "Then the second one."]
    assert samples == sum(r["samples"] for r in requests)
    assert entry.runtime_data.client.last.streaming is True


async def test_server_error_becomes_home_assistant_error(
    hass: HomeAssistant, verba_server: VerbaServer
) -> None:
    entry = await setup_entry(hass, verba_server.port)
    entity = hass.data["tts"].get_entity(tts_entity_id(hass, entry.entry_id))
    with pytest.raises(HomeAssistantError) as err:
        await entity.async_get_tts_audio(
            "Hello.", "en-US", {tts.ATTR_VOICE: "edge:xx-XX-NobodyNeural"}
        )
    assert err.value.translation_key == "synthesis_failed"
    assert "unknown voice 'edge:xx-XX-NobodyNeural'" in err.value.translation_placeholders["error"]
    response = await entity.async_stream_tts_audio(
        TTSAudioRequest("en-US", {tts.ATTR_VOICE: "edge:xx-XX-NobodyNeural"}, _one("Hi."))
    )
    with pytest.raises(HomeAssistantError) as err:
        await _drain(response.data_gen)
    assert err.value.translation_key == "synthesis_failed"


async def test_languages_and_voices(hass: HomeAssistant, verba_server: VerbaServer) -> None:
    entry = await setup_entry(hass, verba_server.port)
    entity = hass.data["tts"].get_entity(tts_entity_id(hass, entry.entry_id))
    assert set(entity.supported_languages) >= {"en-US", "en-GB", "de-DE", "en"}
    assert entity.default_language == "en-US"
    voices = entity.async_get_supported_voices("en-GB")
    assert [v.voice_id for v in voices] == ["edge:en-GB-SoniaNeural"]
    assert entity.supported_options == ["voice", "speaker"]


async def _one(text: str) -> AsyncGenerator[str]:
    yield text


async def _drain(chunks: AsyncGenerator[bytes]) -> None:
    async for _ in chunks:
        pass


async def test_whole_message_path_returns_a_complete_wav(
    hass: HomeAssistant, verba_server: VerbaServer, fake_edge: FakeEdge
) -> None:
    entry = await setup_entry(
        hass, verba_server.port, {CONF_BACKEND: "edge", CONF_VOICE: "edge:en-US-GuyNeural"}
    )
    entity = hass.data["tts"].get_entity(tts_entity_id(hass, entry.entry_id))
    before = len(fake_edge.requests())
    extension, data = await entity.async_get_tts_audio("Lights off.", "en-US", {})
    assert extension == "wav"
    rate, samples, pcm = wav_samples(data)
    requests = fake_edge.requests()[before:]
    assert data[4:8] != b"\xff\xff\xff\xff"  # real sizes, not a stream header
    assert samples == sum(r["samples"] for r in requests)
    assert abs(dominant_frequency(pcm, rate) - 220) < 5
