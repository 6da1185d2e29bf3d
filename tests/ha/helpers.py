"""Helpers for the Home Assistant tests."""

from __future__ import annotations

import asyncio
import io
import struct
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import numpy as np
from wyoming.event import Event
from wyoming.info import Attribution, Describe, Info, TtsProgram, TtsVoice
from wyoming.server import AsyncEventHandler, AsyncTcpServer


class _NotVerbaHandler(AsyncEventHandler):
    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            voice = TtsVoice("x", Attribution("a", ""), True, None, None, ["en"])
            program = TtsProgram("piper", Attribution("a", ""), True, None, None, [voice])
            await self.write_event(Info(tts=[program]).event())
        return True


@asynccontextmanager
async def not_verba_server() -> AsyncIterator[int]:
    """A Wyoming TTS server that is not verba (a piper look-alike) on 127.0.0.1; yields its port."""
    server = AsyncTcpServer("127.0.0.1", 0)
    await server.start(_NotVerbaHandler)
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
    """(rate, sample count, samples) of WAV bytes, also for streamed WAV with unknown sizes."""
    if data[4:8] == struct.pack("<I", 0xFFFFFFFF):
        rate = struct.unpack("<I", data[24:28])[0]
        pcm = np.frombuffer(data[44:], dtype="<i2")
        return rate, pcm.size, pcm
    with wave.open(io.BytesIO(data)) as reader:
        rate, frames = reader.getframerate(), reader.getnframes()
        pcm = np.frombuffer(reader.readframes(frames), dtype="<i2")
    return rate, frames, pcm


def dominant_frequency(pcm: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float32)))
    return float(np.fft.rfftfreq(pcm.size, 1 / rate)[int(np.argmax(spectrum))])
