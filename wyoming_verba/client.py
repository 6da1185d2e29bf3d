"""Client side: synthesize over Wyoming and measure it (used by `say`, `bench`, `health`)."""

from __future__ import annotations

import asyncio
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncClient
from wyoming.error import Error
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeVoice


class SynthesisFailedError(Exception):
    """The server answered with an Error event or closed the connection."""


@dataclass
class Synthesis:
    """The audio of one request and how long it took."""

    rate: int = 0
    width: int = 2
    channels: int = 1
    audio: bytearray = field(default_factory=bytearray)
    first_audio_s: float | None = None
    total_s: float = 0.0

    @property
    def audio_s(self) -> float:
        """Seconds of audio received."""
        frame = self.width * self.channels
        return len(self.audio) / frame / self.rate if self.rate else 0.0

    def write_wav(self, path: Path) -> None:
        """Save as a WAV file."""
        with wave.open(str(path), "wb") as wav:
            wav.setframerate(self.rate or 24000)
            wav.setsampwidth(self.width)
            wav.setnchannels(self.channels)
            wav.writeframes(bytes(self.audio))


async def synthesize(
    uri: str,
    text: str,
    voice: str | None = None,
    speaker: str | None = None,
    timeout_s: float = 120,
) -> Synthesis:
    """Send one `synthesize` and collect the audio until audio-stop."""

    result = Synthesis()
    started = time.perf_counter()
    async with AsyncClient.from_uri(uri) as client:
        synth_voice = SynthesizeVoice(name=voice, speaker=speaker) if voice else None
        await client.write_event(Synthesize(text=text, voice=synth_voice).event())
        while True:
            event = await asyncio.wait_for(client.read_event(), timeout_s)
            if event is None:
                raise SynthesisFailedError("the server closed the connection")
            if Error.is_type(event.type):
                raise SynthesisFailedError(Error.from_event(event).text)
            if AudioStart.is_type(event.type):
                start = AudioStart.from_event(event)
                result.rate, result.width, result.channels = start.rate, start.width, start.channels
            elif AudioChunk.is_type(event.type):
                chunk = AudioChunk.from_event(event)
                if result.first_audio_s is None:
                    result.first_audio_s = time.perf_counter() - started
                result.rate, result.width, result.channels = chunk.rate, chunk.width, chunk.channels
                result.audio.extend(chunk.audio)
            elif AudioStop.is_type(event.type):
                break
    result.total_s = time.perf_counter() - started
    return result


async def describe(uri: str, timeout_s: float = 5) -> Info:
    """Ask the server for its Info (a real round-trip; used by the health check)."""

    async def round_trip() -> Info:
        async with AsyncClient.from_uri(uri) as client:
            await client.write_event(Describe().event())
            while True:
                event = await client.read_event()
                if event is None:
                    raise SynthesisFailedError("the server closed the connection")
                if Info.is_type(event.type):
                    return Info.from_event(event)

    return await asyncio.wait_for(round_trip(), timeout_s)
