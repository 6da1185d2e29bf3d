"""Talking to a wyoming_verba server: Describe, synthesize, and streaming synthesize.

Home Assistant 2025.4-2025.6 ship wyoming 1.5.4, which predates the streaming events (1.7.0), so
those are built here from their wire names instead of imported.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeVoice

from .const import CONNECT_TIMEOUT, PROGRAM_NAME, READ_TIMEOUT

SYNTHESIZE_START = "synthesize-start"
SYNTHESIZE_CHUNK = "synthesize-chunk"
SYNTHESIZE_STOP = "synthesize-stop"
SYNTHESIZE_STOPPED = "synthesize-stopped"


class VerbaError(Exception):
    """Base error."""


class CannotConnectError(VerbaError):
    """The server did not answer."""


class NotVerbaServerError(VerbaError):
    """The server speaks Wyoming but is not a wyoming_verba TTS server."""


class SynthesisError(VerbaError):
    """The server answered a request with an Error event; str() is the server's text."""


@dataclass(frozen=True)
class VoiceEntry:
    """One voice the server offers."""

    name: str
    engine: str
    description: str
    languages: tuple[str, ...]


@dataclass(frozen=True)
class ServerInfo:
    """What Describe told us about the server."""

    version: str | None
    voices: tuple[VoiceEntry, ...]
    supports_streaming: bool

    @property
    def engines(self) -> list[str]:
        """Engines the server runs, in the order of its voice list."""
        return list(dict.fromkeys(voice.engine for voice in self.voices))

    def voices_of(self, engine: str) -> list[VoiceEntry]:
        """Voices of one engine."""
        return [voice for voice in self.voices if voice.engine == engine]

    @property
    def languages(self) -> list[str]:
        """Every language any voice speaks."""
        return sorted({language for voice in self.voices for language in voice.languages})


def parse_info(info: Info) -> ServerInfo:
    """ServerInfo from an Info event, or NotVerbaServerError."""
    program = next((p for p in info.tts if p.name == PROGRAM_NAME), None)
    if program is None:
        raise NotVerbaServerError
    voices = tuple(
        VoiceEntry(
            name=voice.name,
            engine=voice.name.partition(":")[0],
            description=voice.description or voice.name,
            languages=tuple(voice.languages),
        )
        for voice in program.voices
        if ":" in voice.name
    )
    streaming = bool(getattr(program, "supports_synthesize_streaming", False))
    return ServerInfo(program.version, voices, streaming)


@dataclass
class Timings:
    """How long the last request took, for diagnostics."""

    streaming: bool = False
    chars: int = 0
    first_audio_ms: float | None = None
    total_ms: float | None = None
    audio_s: float = 0.0


@dataclass
class AudioFormat:
    """PCM format of a response."""

    rate: int = 24000
    width: int = 2
    channels: int = 1


@dataclass
class VerbaClient:
    """Connects per request, like Home Assistant's own Wyoming client."""

    host: str
    port: int
    last: Timings = field(default_factory=Timings)

    def _client(self) -> AsyncTcpClient:
        return AsyncTcpClient(self.host, self.port)

    async def describe(self) -> ServerInfo:
        """Describe → ServerInfo (CannotConnectError, NotVerbaServerError)."""
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                async with self._client() as client:
                    await client.write_event(Describe().event())
                    while True:
                        event = await client.read_event()
                        if event is None:
                            raise CannotConnectError("connection closed")
                        if Info.is_type(event.type):
                            return parse_info(Info.from_event(event))
        except (OSError, TimeoutError) as err:
            raise CannotConnectError(str(err)) from err

    async def stream(
        self,
        text: AsyncIterator[str] | str,
        voice: str | None,
        speaker: str | None,
        audio_format: AudioFormat,
    ) -> AsyncGenerator[bytes]:
        """Yield PCM as the server produces it; `text` may itself arrive in pieces."""
        self.last = timings = Timings(streaming=not isinstance(text, str))
        started = time.perf_counter()
        synth_voice = SynthesizeVoice(name=voice, speaker=speaker) if voice else None
        try:
            async with self._client() as client:
                sender: asyncio.Task[None] | None = None
                if isinstance(text, str):
                    timings.chars = len(text)
                    await client.write_event(Synthesize(text=text, voice=synth_voice).event())
                    last_event = AudioStop().event().type
                else:
                    start_data = {"voice": synth_voice.to_dict()} if synth_voice else {}
                    await client.write_event(Event(type=SYNTHESIZE_START, data=start_data))
                    sender = asyncio.create_task(_send_chunks(client, text, timings))
                    last_event = SYNTHESIZE_STOPPED
                try:
                    while True:
                        async with asyncio.timeout(READ_TIMEOUT):
                            event = await client.read_event()
                        if event is None:
                            raise CannotConnectError("the server closed the connection")
                        if Error.is_type(event.type):
                            raise SynthesisError(Error.from_event(event).text)
                        if AudioStart.is_type(event.type):
                            start = AudioStart.from_event(event)
                            audio_format.rate, audio_format.width = start.rate, start.width
                            audio_format.channels = start.channels
                        elif AudioChunk.is_type(event.type):
                            chunk = AudioChunk.from_event(event)
                            if timings.first_audio_ms is None:
                                timings.first_audio_ms = (time.perf_counter() - started) * 1000
                            timings.audio_s += len(chunk.audio) / (
                                chunk.rate * chunk.width * chunk.channels
                            )
                            yield chunk.audio
                        if event.type == last_event:
                            break
                finally:
                    if sender is not None:
                        sender.cancel()
        except (OSError, TimeoutError) as err:
            raise CannotConnectError(str(err)) from err
        timings.total_ms = (time.perf_counter() - started) * 1000


async def _send_chunks(client: AsyncTcpClient, text: AsyncIterator[str], timings: Timings) -> None:
    async for piece in text:
        if piece:
            timings.chars += len(piece)
            await client.write_event(Event(type=SYNTHESIZE_CHUNK, data={"text": piece}))
    await client.write_event(Event(type=SYNTHESIZE_STOP))
