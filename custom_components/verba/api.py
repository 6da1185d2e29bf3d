"""Talking to a wyoming_verba server: Describe, synthesize, and streaming synthesize.

Home Assistant 2025.4-2025.6 ship wyoming 1.5.4, which predates the streaming events (1.7.0), so
those are built here from their wire names instead of imported.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeVoice

from .const import CONNECT_TIMEOUT, CONTEXT_KEY, READ_TIMEOUT
from .models import NotVerbaServerError, ServerInfo, parse_info

__all__ = [
    "AudioFormat",
    "CannotConnectError",
    "NotVerbaServerError",
    "SynthesisError",
    "Timings",
    "VerbaClient",
    "VoiceRefusedError",
]

SYNTHESIZE_START = "synthesize-start"
SYNTHESIZE_CHUNK = "synthesize-chunk"
SYNTHESIZE_STOP = "synthesize-stop"
SYNTHESIZE_STOPPED = "synthesize-stopped"
VOICE_CREATE = "verba-voice-create"  # the server's own events for CSM voices
VOICE_CREATED = "verba-voice-created"
VOICE_DELETE = "verba-voice-delete"
VOICE_DELETED = "verba-voice-deleted"


class CannotConnectError(Exception):
    """The server did not answer."""


class SynthesisError(Exception):
    """The server answered a request with an Error event; str() is the server's text."""


class VoiceRefusedError(Exception):
    """The server refused to create or delete a voice; str() is its reason."""


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

    async def _connect(self) -> AsyncTcpClient:
        client = AsyncTcpClient(self.host, self.port)
        async with asyncio.timeout(CONNECT_TIMEOUT):
            await client.connect()
        return client

    async def describe(self) -> ServerInfo:
        """Describe → ServerInfo (CannotConnectError, NotVerbaServerError)."""
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                async with AsyncTcpClient(self.host, self.port) as client:
                    await client.write_event(Describe().event())
                    while True:
                        event = await client.read_event()
                        if event is None:
                            raise CannotConnectError("connection closed")
                        if Info.is_type(event.type):
                            return parse_info(Info.from_event(event), event.data)
        except (OSError, TimeoutError) as err:
            raise CannotConnectError(str(err) or type(err).__name__) from err

    async def create_voice(
        self, name: str, transcript: str, speaker: int | None, pcm: bytes, rate: int
    ) -> None:
        """Upload a clip (16-bit mono PCM) and its transcript as CSM voice `name`; returns once
        it can speak (VoiceRefusedError with the server's reason, CannotConnectError)."""
        data: dict[str, object] = {
            "name": name,
            "transcript": transcript,
            "rate": rate,
            "width": 2,
            "channels": 1,
        }
        if speaker is not None:
            data["speaker"] = speaker
        await self._voice_request(Event(VOICE_CREATE, data, pcm), VOICE_CREATED)

    async def delete_voice(self, name: str) -> None:
        """Delete a voice created with create_voice."""
        await self._voice_request(Event(VOICE_DELETE, {"name": name}), VOICE_DELETED)

    async def _voice_request(self, event: Event, expected: str) -> None:
        try:
            async with asyncio.timeout(READ_TIMEOUT):
                async with AsyncTcpClient(self.host, self.port) as client:
                    await client.write_event(event)
                    answer = await client.read_event()
        except (OSError, TimeoutError) as err:
            raise CannotConnectError(str(err) or type(err).__name__) from err
        if answer is None:
            raise CannotConnectError("the server closed the connection")
        if Error.is_type(answer.type):
            raise VoiceRefusedError(Error.from_event(answer).text)
        if answer.type != expected:
            raise CannotConnectError(f"unexpected answer {answer.type!r} (server too old?)")

    async def stream(
        self,
        text: AsyncIterator[str] | str,
        voice: str | None,
        speaker: str | None,
        audio_format: AudioFormat,
        options: Mapping[str, Any] | None = None,
    ) -> AsyncGenerator[bytes]:
        """Yield PCM as the server produces it; `text` may itself arrive in pieces. `options`
        (rate, volume, pitch, temperature) go in the request's context["verba"].

        Raises SynthesisError for the server's Error event, CannotConnectError when the server
        cannot be reached or stops answering, and at once whatever stops the text from being sent.
        """
        self.last = timings = Timings(streaming=not isinstance(text, str))
        started = time.perf_counter()
        synth_voice = SynthesizeVoice(name=voice, speaker=speaker) if voice else None
        sender: asyncio.Task[None] | None = None
        try:
            client = await self._connect()
        except (OSError, TimeoutError) as err:
            raise CannotConnectError(str(err) or "connection timed out") from err
        try:
            context = {CONTEXT_KEY: dict(options)} if options else None
            last_event, sender = await _send_request(client, text, synth_voice, context, timings)
            while True:
                async with asyncio.timeout(READ_TIMEOUT):
                    event = await _read_event(client, sender)
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
        except (OSError, TimeoutError) as err:
            raise CannotConnectError(str(err) or "no answer in time") from err
        finally:
            await _stop(sender)
            with contextlib.suppress(OSError, TimeoutError):
                async with asyncio.timeout(CONNECT_TIMEOUT):
                    await client.disconnect()
        timings.total_ms = (time.perf_counter() - started) * 1000


async def _send_request(
    client: AsyncTcpClient,
    text: AsyncIterator[str] | str,
    voice: SynthesizeVoice | None,
    context: dict[str, Any] | None,
    timings: Timings,
) -> tuple[str, asyncio.Task[None] | None]:
    """Send a plain synthesize, or start a stream whose text a task sends as it arrives.

    `context` is set on the event's data directly: wyoming 1.5.4 (HA 2025.4-2025.6) has no
    context field. Returns the event type that ends the answer and the sending task (None for
    plain text).
    """
    extra = {"context": context} if context else {}
    if isinstance(text, str):
        timings.chars = len(text)
        event = Synthesize(text=text, voice=voice).event()
        await client.write_event(Event(type=event.type, data={**(event.data or {}), **extra}))
        return AudioStop().event().type, None
    start_data: dict[str, Any] = {"voice": voice.to_dict()} if voice else {}
    await client.write_event(Event(type=SYNTHESIZE_START, data={**start_data, **extra}))
    return SYNTHESIZE_STOPPED, asyncio.create_task(_send_chunks(client, text, timings))


async def _send_chunks(client: AsyncTcpClient, text: AsyncIterator[str], timings: Timings) -> None:
    async for piece in text:
        if piece:
            timings.chars += len(piece)
            await client.write_event(Event(type=SYNTHESIZE_CHUNK, data={"text": piece}))
    await client.write_event(Event(type=SYNTHESIZE_STOP))


async def _read_event(client: AsyncTcpClient, sender: asyncio.Task[None] | None) -> Event | None:
    """The next event from the server; raises at once if sending the text fails meanwhile."""
    read = asyncio.ensure_future(client.read_event())
    try:
        if sender is not None and not sender.done():
            await asyncio.wait({read, sender}, return_when=asyncio.FIRST_COMPLETED)
        if sender is not None and sender.done() and not read.done():
            sender.result()  # re-raises the sender's failure; None when all text was sent
        return await read
    finally:
        read.cancel()


async def _stop(sender: asyncio.Task[None] | None) -> None:
    """Cancel the text sender and wait for it, so it never outlives the request."""
    if sender is None:
        return
    sender.cancel()
    await asyncio.wait({sender})
    if not sender.cancelled():
        sender.exception()  # retrieved: already raised from _read_event, or moot after an error
