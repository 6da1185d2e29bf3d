"""HA's built-in Wyoming integration against the real server: plain, streaming, a failing request."""

from __future__ import annotations

import asyncio

import pytest
from homeassistant.components import tts
from homeassistant.const import MAJOR_VERSION, MINOR_VERSION
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError

from .conftest import FakeEdge, VerbaServer
from .e2e import HA_BEFORE_2025_7, UNKNOWN_VOICE, add_entry, fetch_audio, speak_llm_reply, texts_of
from .helpers import OPTIONS_REFUSED, wav_samples

pytestmark = pytest.mark.usefixtures("socket_enabled")


async def test_builtin_plain(
    hass: HomeAssistant, verba_server: VerbaServer, fake_edge: FakeEdge
) -> None:
    engine = await add_entry(hass, "wyoming", verba_server)
    before = len(fake_edge.requests())
    data = await fetch_audio(hass, engine, "Hello from the built in integration.")
    # HA 2026.2 streams to a server that advertises streaming; its WAV header then says 0 frames.
    rate, samples, _pcm = wav_samples(data)
    requests = fake_edge.requests()[before:]
    assert texts_of(requests) == ["Hello from the built in integration."]
    assert rate == 24000
    assert samples == sum(r["samples"] for r in requests) > 0


async def test_builtin_streaming(
    hass: HomeAssistant, verba_server: VerbaServer, fake_edge: FakeEdge
) -> None:
    engine = await add_entry(hass, "wyoming", verba_server)
    before = len(fake_edge.requests())
    data, first_spoken_early = await speak_llm_reply(hass, engine, fake_edge)
    rate, samples, _pcm = wav_samples(data)
    requests = fake_edge.requests()[before:]
    assert texts_of(requests) == ["The first sentence arrives.", "Then the second one."]
    assert rate == 24000 and samples == sum(r["samples"] for r in requests)
    assert first_spoken_early is (not HA_BEFORE_2025_7)


async def test_builtin_unknown_voice_returns_promptly(
    hass: HomeAssistant, verba_server: VerbaServer
) -> None:
    engine = await add_entry(hass, "wyoming", verba_server)
    async with asyncio.timeout(5):
        if (MAJOR_VERSION, MINOR_VERSION) >= (2026, 9):
            # From 2026.9 HA raises on an Error event, with the server's text.
            with pytest.raises(HomeAssistantError, match="unknown voice"):
                await fetch_audio(hass, engine, "Hello.", {tts.ATTR_VOICE: UNKNOWN_VOICE})
            return
        try:
            data = await fetch_audio(hass, engine, "Hello.", {tts.ATTR_VOICE: UNKNOWN_VOICE})
        except HomeAssistantError:
            return  # no audio: HA's media source refuses an empty result
    assert data == b"" or wav_samples(data)[1] == 0


async def test_builtin_rejects_speaking_options_and_sends_plain_requests(
    hass: HomeAssistant, verba_server: VerbaServer, fake_edge: FakeEdge
) -> None:
    # Only our integration carries rate/volume/pitch; the built-in one refuses them itself.
    engine = await add_entry(hass, "wyoming", verba_server)
    with pytest.raises(HomeAssistantError, match=OPTIONS_REFUSED):
        await fetch_audio(hass, engine, "Hello.", {"rate": "+20%"})
    before = len(fake_edge.requests())
    await fetch_audio(hass, engine, "Plain words.")
    (request,) = fake_edge.requests()[before:]
    assert "rate='+0%'" in request["ssml"] and "pitch='+0Hz'" in request["ssml"]


async def test_builtin_speaks_a_style_picked_by_its_voice_name(
    hass: HomeAssistant, verba_server: VerbaServer, fake_edge: FakeEdge
) -> None:
    # The built-in integration sends only voice{name}: a tts.styles voice carries the options.
    engine = await add_entry(hass, "wyoming", verba_server)
    before = len(fake_edge.requests())
    data = await fetch_audio(hass, engine, "Styled words.", {tts.ATTR_VOICE: "edge:sonia-fast"})
    (request,) = fake_edge.requests()[before:]
    assert request["voice"] == "en-GB-SoniaNeural" and request["text"] == "Styled words."
    assert "rate='+25%'" in request["ssml"] and "pitch='-5Hz'" in request["ssml"]
    assert wav_samples(data)[1] == request["samples"] > 0
