"""Our integration against the real server process and the fake Edge service, on each HA version:
plain and streaming, a failing request, the pipeline's language, one entry per server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from ipaddress import ip_address

import pytest
from homeassistant import config_entries
from homeassistant.components import tts
from homeassistant.components.tts.entity import TTSAudioRequest
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo

from custom_components.verba.const import CONF_BACKEND, CONF_VOICE, DOMAIN

from .conftest import FakeEdge, VerbaServer
from .e2e import (
    HA_BEFORE_2025_7,
    UNKNOWN_VOICE,
    WAV,
    add_entry,
    fetch_audio,
    speak_llm_reply,
    texts_of,
)
from .helpers import dominant_frequency, wav_samples

pytestmark = pytest.mark.usefixtures("socket_enabled")


async def test_ours_plain_in_the_voice_chosen_in_the_options(
    hass: HomeAssistant, verba_server: VerbaServer, fake_edge: FakeEdge
) -> None:
    engine = await add_entry(hass, DOMAIN, verba_server)
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    flow = await hass.config_entries.options.async_init(entry.entry_id)
    flow = await hass.config_entries.options.async_configure(
        flow["flow_id"], {"next_step_id": "backend"}
    )
    flow = await hass.config_entries.options.async_configure(
        flow["flow_id"], {CONF_BACKEND: "edge"}
    )
    await hass.config_entries.options.async_configure(
        flow["flow_id"], {CONF_VOICE: "edge:en-GB-SoniaNeural"}
    )
    await hass.async_block_till_done()

    before = len(fake_edge.requests())
    data = await fetch_audio(hass, engine, "Good evening. The doors are locked.")
    rate, samples, pcm = wav_samples(data)
    requests = fake_edge.requests()[before:]
    assert {r["voice"] for r in requests} == {"en-GB-SoniaNeural"}
    assert texts_of(requests) == ["Good evening.", "The doors are locked."]
    assert samples == sum(r["samples"] for r in requests)
    assert abs(dominant_frequency(pcm, rate) - 330) < 5  # the fake's pitch for Sonia

    # The whole-message path returns a complete WAV with real sizes.
    entity = hass.data["tts"].get_entity(engine)
    before = len(fake_edge.requests())
    extension, data = await entity.async_get_tts_audio(
        "Lights off.", "en-US", {tts.ATTR_VOICE: "edge:en-US-GuyNeural"}
    )
    rate, samples, pcm = wav_samples(data)
    assert extension == "wav" and data[4:8] != b"\xff\xff\xff\xff"
    assert samples == sum(r["samples"] for r in fake_edge.requests()[before:])
    assert abs(dominant_frequency(pcm, rate) - 220) < 5


async def test_ours_streaming(
    hass: HomeAssistant, verba_server: VerbaServer, fake_edge: FakeEdge
) -> None:
    engine = await add_entry(hass, DOMAIN, verba_server)
    before = len(fake_edge.requests())
    data, first_spoken_early = await speak_llm_reply(hass, engine, fake_edge)
    _rate, samples, _pcm = wav_samples(data)
    requests = fake_edge.requests()[before:]
    assert texts_of(requests) == ["The first sentence arrives.", "Then the second one."]
    assert samples == sum(r["samples"] for r in requests)
    assert first_spoken_early is (not HA_BEFORE_2025_7)
    assert hass.config_entries.async_entries(DOMAIN)[0].runtime_data.client.last.streaming


async def test_ours_first_audio_arrives_before_the_server_finishes(
    hass: HomeAssistant, verba_server: VerbaServer, fake_edge: FakeEdge
) -> None:
    engine = await add_entry(hass, DOMAIN, verba_server)
    stream = tts.async_create_stream(hass, engine, language="en-US", options=WAV)
    before = len(fake_edge.requests())
    stream.async_set_message(
        "This reply is long enough to take a few seconds to speak out loud. And a second sentence."
    )
    chunks, finished_at_first_audio = [], None
    async for chunk in stream.async_stream_result():
        if finished_at_first_audio is None and len(chunk) > 44:
            requests = await hass.async_add_executor_job(fake_edge.requests)
            finished_at_first_audio = [r["finished"] for r in requests[before:]]
        chunks.append(chunk)
    assert finished_at_first_audio is not None and not all(finished_at_first_audio)
    rate, samples, _pcm = wav_samples(b"".join(chunks))
    assert rate == 24000 and samples == sum(r["samples"] for r in fake_edge.requests()[before:])


async def test_ours_unknown_voice_fails_promptly_with_the_servers_words(
    hass: HomeAssistant, verba_server: VerbaServer
) -> None:
    engine = await add_entry(hass, DOMAIN, verba_server)
    entity = hass.data["tts"].get_entity(engine)

    async def reply() -> AsyncGenerator[str]:
        yield "Hi."

    async with asyncio.timeout(5):
        with pytest.raises(HomeAssistantError) as err:
            await entity.async_get_tts_audio("Hello.", "en-US", {tts.ATTR_VOICE: UNKNOWN_VOICE})
        assert f"unknown voice '{UNKNOWN_VOICE}'" in str(err.value)
        response = await entity.async_stream_tts_audio(
            TTSAudioRequest("en-US", {tts.ATTR_VOICE: UNKNOWN_VOICE}, reply())
        )
        with pytest.raises(HomeAssistantError) as err:
            async for _chunk in response.data_gen:
                pass
        assert err.value.translation_key == "synthesis_failed"


async def test_ours_speaks_the_pipelines_language(
    hass: HomeAssistant, verba_server: VerbaServer, fake_edge: FakeEdge
) -> None:
    # CSM (English only) is the backend; a German request gets the server's German voice.
    engine = await add_entry(hass, DOMAIN, verba_server, {CONF_BACKEND: "csm"})
    before = len(fake_edge.requests())
    data = await fetch_audio(hass, engine, "Guten Abend.", language="de-DE")
    rate, samples, pcm = wav_samples(data)
    requests = fake_edge.requests()[before:]
    assert [(r["voice"], r["text"]) for r in requests] == [("de-DE-KatjaNeural", "Guten Abend.")]
    assert samples == requests[0]["samples"]
    assert abs(dominant_frequency(pcm, rate) - 550) < 5  # the fake's pitch for Katja


async def test_one_entry_per_server_found_again_at_its_address(
    hass: HomeAssistant, verba_server: VerbaServer
) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: verba_server.host, CONF_PORT: verba_server.port}
    )
    entry = result["result"]
    assert entry.unique_id == verba_server.server_id  # read from the server's Info
    await hass.async_block_till_done()
    # The server moves; discovery (without a TXT id, so the flow asks the server) finds it.
    hass.config_entries.async_update_entry(entry, data={CONF_HOST: "10.0.0.9", CONF_PORT: 1})
    discovery = ZeroconfServiceInfo(
        ip_address=ip_address(verba_server.host),
        ip_addresses=[],
        hostname="gpu-box.local.",
        name="verba._wyoming._tcp.local.",
        port=verba_server.port,
        type="_wyoming._tcp.local.",
        properties={},
    )
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_ZEROCONF}, data=discovery
    )
    assert result["type"] is FlowResultType.ABORT and result["reason"] == "already_configured"
    assert entry.data == {CONF_HOST: verba_server.host, CONF_PORT: verba_server.port}
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


async def test_ours_carries_speaking_options_to_the_server(
    hass: HomeAssistant, verba_server: VerbaServer, fake_edge: FakeEdge
) -> None:
    # Defaults from the options flow, and a tts.speak call's own options over them.
    engine = await add_entry(hass, DOMAIN, verba_server, {"rate": 10, "volume": -20})
    before = len(fake_edge.requests())
    await fetch_audio(hass, engine, "Slow and low.", {"rate": "+20%", "pitch": "-5Hz"})
    (request,) = fake_edge.requests()[before:]
    assert "rate='+20%'" in request["ssml"]
    assert "volume='-20%'" in request["ssml"] and "pitch='-5Hz'" in request["ssml"]

    entity = hass.data["tts"].get_entity(engine)

    async def reply() -> AsyncGenerator[str]:
        yield "First part. "
        yield "Second part."

    before = len(fake_edge.requests())
    response = await entity.async_stream_tts_audio(
        TTSAudioRequest("en-US", {"rate": "-30%"}, reply())
    )
    data = b"".join([chunk async for chunk in response.data_gen])
    assert wav_samples(data)[1] > 0
    requests = fake_edge.requests()[before:]
    assert len(requests) == 2 and all("rate='-30%'" in r["ssml"] for r in requests)


async def test_ours_bad_option_gets_the_servers_words(
    hass: HomeAssistant, verba_server: VerbaServer
) -> None:
    engine = await add_entry(hass, DOMAIN, verba_server)
    with pytest.raises(HomeAssistantError, match="'context.verba.rate' must be a change"):
        await fetch_audio(hass, engine, "Too fast.", {"rate": "+500%"})
