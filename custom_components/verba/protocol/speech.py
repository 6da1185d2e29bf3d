"""One synthesis over an open connection: the request (plain or streamed text) and the audio back.

wyoming 1.5.4 (Home Assistant 2025.4-2025.6) predates the streaming events (1.7.0) and has no
`context` field, and every version drops a speaker without a voice name, so requests are built
here from their wire names as plain data.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncClient
from wyoming.error import Error
from wyoming.event import Event

from .errors import VerbaError
from .fields import speaker_field
from .options import CONTEXT_KEY
from .wav import AudioFormat

SYNTHESIZE = "synthesize"
SYNTHESIZE_START = "synthesize-start"
SYNTHESIZE_CHUNK = "synthesize-chunk"
SYNTHESIZE_STOP = "synthesize-stop"
SYNTHESIZE_STOPPED = "synthesize-stopped"


class ServerError(VerbaError):
    """The server answered with an Error event: str() is its text, `code` its code."""

    @classmethod
    def from_event(cls, event: Event) -> ServerError:
        """From a received Error event."""
        error = Error.from_event(event)
        return cls(error.text, error.code or None)


class SynthesisFailedError(ServerError):
    """The server refused or failed a synthesis (its Error event)."""


class ConnectionClosedError(ConnectionError):
    """The server closed the connection before its answer was complete."""


@dataclass
class Timings:
    """How long a request took."""

    streaming: bool = False
    chars: int = 0
    first_audio_ms: float | None = None
    total_ms: float | None = None
    audio_s: float = 0.0


def voice_data(voice: str | None, speaker: int | str | None) -> dict[str, str]:
    """A request's `voice` object; a speaker alone applies to the server's default voice.

    The speaker is checked with the server's own rule (BadRequestError with its message).
    """
    data: dict[str, str] = {"name": voice} if voice else {}
    speaker_id = speaker_field(speaker)
    if speaker_id is not None:
        data["speaker"] = str(speaker_id)
    return data


def request_data(
    voice: str | None, speaker: int | str | None, options: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The voice and context["verba"] options of a synthesize or synthesize-start, as given."""
    data: dict[str, Any] = {}
    if voice_object := voice_data(voice, speaker):
        data["voice"] = voice_object
    if options:
        data["context"] = {CONTEXT_KEY: dict(options)}
    return data


async def send_request(
    client: AsyncClient, text: AsyncIterator[str] | str, data: dict[str, Any], timings: Timings
) -> tuple[str, asyncio.Task[None] | None]:
    """Send a plain synthesize, or start a stream whose text a task sends as it arrives.

    Returns the event type that ends the answer and the sending task (None for plain text).
    """
    if isinstance(text, str):
        timings.chars = len(text)
        await client.write_event(Event(type=SYNTHESIZE, data={"text": text, **data}))
        return AudioStop().event().type, None
    await client.write_event(Event(type=SYNTHESIZE_START, data=data))
    return SYNTHESIZE_STOPPED, asyncio.create_task(_send_chunks(client, text, timings))


async def _send_chunks(client: AsyncClient, text: AsyncIterator[str], timings: Timings) -> None:
    async for piece in text:
        if piece:
            timings.chars += len(piece)
            await client.write_event(Event(type=SYNTHESIZE_CHUNK, data={"text": piece}))
    await client.write_event(Event(type=SYNTHESIZE_STOP))


async def read_audio(
    client: AsyncClient,
    last_event: str,
    sender: asyncio.Task[None] | None,
    audio_format: AudioFormat,
    timings: Timings,
    read_timeout: float,
    started: float,
) -> AsyncGenerator[bytes]:
    """PCM as it arrives until `last_event`; `audio_format` follows the server's, and
    `timings` counts from `started` (a time.perf_counter() reading).

    Raises SynthesisFailedError (the server's Error), ConnectionClosedError, TimeoutError when
    an event takes longer than read_timeout, and at once whatever stops the text being sent.
    """
    while True:
        async with asyncio.timeout(read_timeout):
            event = await _read_event(client, sender)
        if event is None:
            raise ConnectionClosedError("the server closed the connection")
        if Error.is_type(event.type):
            raise SynthesisFailedError.from_event(event)
        if AudioStart.is_type(event.type):
            start = AudioStart.from_event(event)
            audio_format.rate, audio_format.width = start.rate, start.width
            audio_format.channels = start.channels
        elif AudioChunk.is_type(event.type):
            chunk = AudioChunk.from_event(event)
            if timings.first_audio_ms is None:
                timings.first_audio_ms = (time.perf_counter() - started) * 1000
            audio_format.rate, audio_format.width = chunk.rate, chunk.width
            audio_format.channels = chunk.channels
            timings.audio_s += len(chunk.audio) / (chunk.rate * chunk.width * chunk.channels)
            yield chunk.audio
        if event.type == last_event:
            return


async def _read_event(client: AsyncClient, sender: asyncio.Task[None] | None) -> Event | None:
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


async def stop_sender(sender: asyncio.Task[None] | None) -> None:
    """Cancel the text sender and wait for it, so it never outlives the request."""
    if sender is None:
        return
    sender.cancel()
    await asyncio.wait({sender})
    if not sender.cancelled():
        sender.exception()  # retrieved: already raised from _read_event, or moot after an error
