"""Helpers for the end-to-end tests against the real server process and the fake Edge service."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from typing import Any

from homeassistant.components import tts
from homeassistant.const import CONF_HOST, CONF_PORT, MAJOR_VERSION, MINOR_VERSION
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .conftest import FakeEdge, VerbaServer

WAV = {tts.ATTR_PREFERRED_FORMAT: "wav"}
UNKNOWN_VOICE = "edge:xx-XX-NobodyNeural"
# Home Assistant streams text into TTS entities from 2025.7 on.
HA_BEFORE_2025_7 = (MAJOR_VERSION, MINOR_VERSION) < (2025, 7)


def tts_entity_id(hass: HomeAssistant, entry_id: str) -> str:
    entities = er.async_entries_for_config_entry(er.async_get(hass), entry_id)
    return next(e.entity_id for e in entities if e.domain == "tts")


async def add_entry(
    hass: HomeAssistant, domain: str, server: VerbaServer, options: dict[str, Any] | None = None
) -> str:
    """Set up an entry for the server (ours, or the built-in `wyoming`); its TTS entity id."""
    if domain == "wyoming":
        # The wyoming integration pulls in assist_pipeline/conversation, which need the core.
        assert await async_setup_component(hass, "homeassistant", {})
    entry = MockConfigEntry(
        domain=domain,
        unique_id=server.server_id,
        title="Verba (test)",
        data={CONF_HOST: server.host, CONF_PORT: server.port},
        options=options or {},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return tts_entity_id(hass, entry.entry_id)


async def fetch_audio(
    hass: HomeAssistant,
    engine: str,
    message: str,
    options: dict[str, Any] | None = None,
    language: str | None = None,
) -> bytes:
    media_id = tts.generate_media_source_id(
        hass,
        message,
        engine=engine,
        language=language,
        options={**WAV, **(options or {})},
        cache=False,
    )
    extension, data = await tts.async_get_media_source_audio(hass, media_id)
    assert extension == "wav"
    return data


def texts_of(requests: list[dict[str, Any]]) -> list[str]:
    return sorted(r["text"] for r in requests)


def streams_input(hass: HomeAssistant, engine: str) -> bool:
    """Whether HA feeds this entity text as it arrives (HA 2025.7+ and a streaming entity)."""
    entity = hass.data["tts"].get_entity(engine)
    return bool(getattr(entity, "async_supports_streaming_input", lambda: False)())


async def speak_llm_reply(
    hass: HomeAssistant, engine: str, fake_edge: FakeEdge
) -> tuple[bytes, bool]:
    """Feed a reply in pieces through HA's TTS manager, as a pipeline does; (WAV, whether the
    first sentence reached Edge before the reply was complete)."""
    before = len(fake_edge.requests())
    first_spoken_early = False

    async def llm_reply() -> AsyncGenerator[str]:
        nonlocal first_spoken_early
        for piece in ["The first sen", "tence arrives. ", "Then the "]:
            yield piece
        deadline = time.monotonic() + 3
        while streams_input(hass, engine) and time.monotonic() < deadline:
            requests = await hass.async_add_executor_job(fake_edge.requests)
            if len(requests) > before:
                first_spoken_early = True
                break
            await asyncio.sleep(0.05)
        yield "second one."

    stream = tts.async_create_stream(hass, engine, language="en-US", options=WAV)
    if hasattr(stream, "async_set_message_stream"):
        stream.async_set_message_stream(llm_reply())
    else:  # HA 2025.4 takes whole messages only
        stream.async_set_message("".join([piece async for piece in llm_reply()]))
    data = b"".join([chunk async for chunk in stream.async_stream_result()])
    return data, first_spoken_early
