"""The Verba client: Describe, plain and streamed synthesize, creating and deleting voices.

Used by Home Assistant's Verba integration and the CLI (`say`, `bench`, `voices`, `health`,
`doctor`, `voice`). It connects per request, like Home Assistant's own Wyoming client, and every
wait is bounded: a server that stops answering is a CannotConnectError, never a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info

from .clip import Clip
from .fields import BadRequestError
from .info import ServerInfo, ServerStatus
from .speech import (
    ConnectionClosedError,
    ServerError,
    SynthesisFailedError,
    Timings,
    read_audio,
    request_data,
    send_request,
    stop_sender,
)
from .voice_events import VoiceCreate, VoiceCreated, VoiceDelete, VoiceDeleted
from .wav import AudioFormat, wav_bytes

__all__ = [
    "AudioFormat",
    "CannotConnectError",
    "ServerError",
    "Synthesis",
    "SynthesisFailedError",
    "Timings",
    "VerbaClient",
    "VoiceRefusedError",
    "describe",
    "synthesize",
]


class CannotConnectError(ConnectionError):
    """The server cannot be reached, stopped answering in time, or closed the connection.

    `__cause__` is the OSError or TimeoutError behind it, when there is one.
    """


class VoiceRefusedError(ServerError):
    """The server refused to create or delete a voice; str() is its reason."""


@dataclass
class VerbaClient:
    """A Verba server at host:port; `last` holds the timings of the last synthesis."""

    host: str
    port: int
    connect_timeout: float = 5.0  # connecting; a whole Describe
    read_timeout: float = 120.0  # each event of a synthesis; a whole voice request
    last: Timings = field(default_factory=Timings)

    @classmethod
    def from_uri(cls, uri: str, timeout_s: float) -> VerbaClient:
        """A client for tcp://host:port whose every wait is bounded by timeout_s."""
        parts = urlsplit(uri)
        if parts.scheme != "tcp" or not parts.hostname or parts.port is None:
            raise ValueError(f"expected tcp://host:port (got {uri!r})")
        return cls(parts.hostname, parts.port, timeout_s, timeout_s)

    async def info_event(self) -> Event:
        """The server's raw answer to Describe (CannotConnectError)."""
        try:
            async with (
                asyncio.timeout(self.connect_timeout),
                AsyncTcpClient(self.host, self.port) as client,
            ):
                await client.write_event(Describe().event())
                while True:
                    event: Event | None = await client.read_event()
                    if event is None:
                        raise ConnectionClosedError("the server closed the connection")
                    if Info.is_type(event.type):
                        return event
        except (OSError, TimeoutError) as err:
            raise CannotConnectError(str(err) or type(err).__name__) from err

    async def describe(self) -> ServerInfo:
        """Describe → ServerInfo (CannotConnectError, NotVerbaServerError)."""
        return ServerInfo.read(await self.info_event())

    async def status(self) -> ServerStatus:
        """Describe → ServerStatus, from any Wyoming server (CannotConnectError)."""
        return ServerStatus.read(await self.info_event())

    async def stream(
        self,
        text: AsyncIterator[str] | str,
        voice: str | None,
        speaker: int | str | None,
        audio_format: AudioFormat,
        options: Mapping[str, Any] | None = None,
    ) -> AsyncGenerator[bytes]:
        """Yield PCM as the server produces it; `text` may itself arrive in pieces. A speaker
        without a voice applies to the server's default voice; `options` (rate, volume, pitch,
        temperature) go in the request's context["verba"].

        Raises SynthesisFailedError for the server's Error event (or, with the server's own
        message, for a speaker it would refuse), CannotConnectError when the server cannot be
        reached or stops answering, and at once whatever stops the text from being sent.
        """
        self.last = timings = Timings(streaming=not isinstance(text, str))
        started = time.perf_counter()
        try:
            data = request_data(voice, speaker, options)
        except BadRequestError as err:
            raise SynthesisFailedError(str(err), err.code) from err
        try:
            async with asyncio.timeout(self.connect_timeout):
                client = await _connected(AsyncTcpClient(self.host, self.port))
        except (OSError, TimeoutError) as err:
            raise CannotConnectError(str(err) or "connection timed out") from err
        sender: asyncio.Task[None] | None = None
        try:
            async with asyncio.timeout(self.read_timeout):
                last_event, sender = await send_request(client, text, data, timings)
            audio = read_audio(
                client, last_event, sender, audio_format, timings, self.read_timeout, started
            )
            async for chunk in audio:
                yield chunk
        except (OSError, TimeoutError) as err:
            raise CannotConnectError(str(err) or "no answer in time") from err
        finally:
            await stop_sender(sender)
            with contextlib.suppress(OSError, TimeoutError):
                async with asyncio.timeout(self.connect_timeout):
                    await client.disconnect()
        timings.total_ms = (time.perf_counter() - started) * 1000

    async def create_voice(
        self, name: str, transcript: str, clip: Clip, speaker: int | None = None
    ) -> str:
        """Upload a clip and its exact transcript as CSM voice `name`; the voice's name once it
        can speak. The clip is checked first (ClipError with the server's message); then
        VoiceRefusedError with the server's reason, or CannotConnectError."""
        clip.check()
        request = VoiceCreate(
            name.removeprefix("csm:"), transcript, clip.pcm, clip.rate, clip.width, clip.channels,
            speaker,
        )  # fmt: skip
        answer = await self._voice_request(request.event())
        if not VoiceCreated.is_type(answer.type):
            raise _unexpected(answer)
        return VoiceCreated.from_event(answer).name

    async def delete_voice(self, name: str) -> str:
        """Delete a voice created with create_voice; its name once gone."""
        answer = await self._voice_request(VoiceDelete(name.removeprefix("csm:")).event())
        if not VoiceDeleted.is_type(answer.type):
            raise _unexpected(answer)
        return VoiceDeleted.from_event(answer).name

    async def _voice_request(self, event: Event) -> Event:
        try:
            async with (
                asyncio.timeout(self.read_timeout),
                AsyncTcpClient(self.host, self.port) as client,
            ):
                await client.write_event(event)
                answer: Event | None = await client.read_event()
        except (OSError, TimeoutError) as err:
            raise CannotConnectError(str(err) or type(err).__name__) from err
        if answer is None:
            raise CannotConnectError("the server closed the connection without an answer")
        if Error.is_type(answer.type):
            error = Error.from_event(answer)
            raise VoiceRefusedError(error.text, error.code or None)
        return answer


async def _connected(client: AsyncTcpClient) -> AsyncTcpClient:
    await client.connect()
    return client


def _unexpected(answer: Event) -> CannotConnectError:
    return CannotConnectError(f"unexpected answer {answer.type!r}; is it a Verba server?")


@dataclass
class Synthesis:
    """The audio of one request and how long it took (the CLI's `say` and `bench`)."""

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
        """Save as a WAV file (OSError when the file cannot be written)."""
        audio_format = AudioFormat(self.rate or 24000, self.width, self.channels)
        path.write_bytes(wav_bytes(bytes(self.audio), audio_format))


@contextlib.contextmanager
def transport_errors() -> Iterator[None]:
    """CannotConnectError as what caused it (the CLI names the server and the cause); a closed
    connection as SynthesisFailedError."""
    try:
        yield
    except CannotConnectError as err:
        cause = err.__cause__
        if isinstance(cause, ConnectionClosedError) or cause is None:
            raise SynthesisFailedError(str(cause or err)) from err
        raise cause from None


async def synthesize(
    uri: str,
    text: str,
    voice: str | None = None,
    speaker: int | None = None,
    timeout_s: float = 120,
) -> Synthesis:
    """Send one `synthesize` and collect the audio until audio-stop.

    Every wait (connecting, sending, each event back) is bounded by timeout_s: TimeoutError;
    OSError when the server cannot be reached; SynthesisFailedError for its Error event.
    """
    client = VerbaClient.from_uri(uri, timeout_s)
    audio_format = AudioFormat(rate=0)
    result = Synthesis()
    with transport_errors():
        async for chunk in client.stream(text, voice, speaker, audio_format):
            result.audio.extend(chunk)
    result.rate, result.width, result.channels = (
        audio_format.rate, audio_format.width, audio_format.channels,
    )  # fmt: skip
    first_ms, total_ms = client.last.first_audio_ms, client.last.total_ms or 0.0
    result.first_audio_s = None if first_ms is None else first_ms / 1000
    result.total_s = total_ms / 1000
    return result


async def describe(uri: str, timeout_s: float = 5) -> ServerStatus:
    """Ask the server for its Info (a real round-trip; used by `health`, `voices`, `doctor`)."""
    with transport_errors():
        return await VerbaClient.from_uri(uri, timeout_s).status()
