"""Helpers for the Home Assistant tests."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from unittest.mock import patch

import numpy as np
from homeassistant.const import MAJOR_VERSION, MINOR_VERSION, Platform
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from wyoming.event import Event
from wyoming.info import Attribution, Describe, Info, TtsProgram, TtsVoice
from wyoming.server import AsyncEventHandler, AsyncTcpServer

# HA's words when a TTS request carries an option the engine does not take (2026.11 reworded them).
OPTIONS_REFUSED = (
    "Unsupported options" if (MAJOR_VERSION, MINOR_VERSION) >= (2026, 11) else "Invalid options"
)


def tts_info(program: str, extension: dict[str, Any] | None = None) -> Event:
    """An Info event with one TTS program (and Verba's `verba` extension object, if given)."""
    voice = TtsVoice("edge:en-US-AriaNeural", Attribution("a", ""), True, "Aria", None, ["en-US"])
    tts = TtsProgram(program, Attribution("a", ""), True, None, "0.1.0", [voice])
    event = Info(tts=[tts]).event()
    if extension is not None:
        event.data["verba"] = extension
    return event


@asynccontextmanager
async def info_server(info: Event) -> AsyncIterator[int]:
    """A Wyoming server on 127.0.0.1 that answers Describe with `info`; yields its port."""

    class Handler(AsyncEventHandler):
        async def handle_event(self, event: Event) -> bool:
            if Describe.is_type(event.type):
                await self.write_event(info)
            return True

    server = AsyncTcpServer("127.0.0.1", 0)
    await server.start(Handler)
    assert server._server is not None
    try:
        yield server._server.sockets[0].getsockname()[1]
    finally:
        await server.stop()
        await asyncio.sleep(0)


def free_port() -> int:
    """A port nothing listens on."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wav_samples(data: bytes) -> tuple[int, int, np.ndarray]:
    """(rate, sample count, samples) of 16-bit mono WAV bytes, counting the data chunk's bytes.

    Streamed WAV says "unknown" (0xFFFFFFFF, ours) or 0 frames (HA 2026.2's built-in Wyoming
    client) in its header; the samples are whatever follows the data chunk's header.
    """
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", data[:12]
    offset, rate = 12, 0
    while offset + 8 <= len(data):
        kind, size = (
            data[offset : offset + 4],
            struct.unpack("<I", data[offset + 4 : offset + 8])[0],
        )
        body = offset + 8
        if kind == b"fmt ":
            channels, rate, _rate_bytes, _block, bits = struct.unpack(
                "<HIIHH", data[body + 2 : body + 16]
            )
            assert (channels, bits) == (1, 16)
        elif kind == b"data":
            end = len(data) if size in (0, 0xFFFFFFFF) else body + size
            pcm = np.frombuffer(data[body:end], dtype="<i2")
            return rate, pcm.size, pcm
        offset = body + size + (size & 1)
    raise AssertionError("no data chunk")


def dominant_frequency(pcm: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float32)))
    return float(np.fft.rfftfreq(pcm.size, 1 / rate)[int(np.argmax(spectrum))])


@asynccontextmanager
async def loaded_with(
    hass: HomeAssistant, entry: MockConfigEntry, platform: Platform
) -> AsyncIterator[MockConfigEntry]:
    """The entry set up with only `platform` loaded."""
    with patch("custom_components.verba.PLATFORMS", [platform]):
        await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        yield entry
