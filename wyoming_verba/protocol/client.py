"""Client side: synthesize over Wyoming and measure it; ask a server what it runs.

Used by `say`, `bench`, `voices`, `health` and `doctor`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info, TtsVoice
from wyoming.tts import Synthesize

from wyoming_verba.server.info import EXTENSION_KEY


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
        """Save as a WAV file (OSError when the file cannot be written)."""
        with path.open("wb") as file, wave.open(file, "wb") as wav:
            wav.setframerate(self.rate or 24000)
            wav.setsampwidth(self.width)
            wav.setnchannels(self.channels)
            wav.writeframes(bytes(self.audio))


def synthesize_event(text: str, voice: str | None, speaker: int | None) -> Event:
    """A `synthesize` request; a speaker without a voice applies to the server's default voice.

    The wyoming library drops a speaker that has no voice name, so the voice is written raw.
    """
    event = Synthesize(text=text).event()
    voice_data: dict[str, str] = {}
    if voice:
        voice_data["name"] = voice
    if speaker is not None:
        voice_data["speaker"] = str(speaker)
    if voice_data:
        event.data["voice"] = voice_data
    return event


async def synthesize(
    uri: str,
    text: str,
    voice: str | None = None,
    speaker: int | None = None,
    timeout_s: float = 120,
) -> Synthesis:
    """Send one `synthesize` and collect the audio until audio-stop.

    Every wait (connecting, sending, each event back) is bounded by timeout_s: TimeoutError.
    """

    result = Synthesis()
    started = time.perf_counter()
    client = AsyncClient.from_uri(uri)
    await asyncio.wait_for(client.connect(), timeout_s)
    try:
        await asyncio.wait_for(
            client.write_event(synthesize_event(text, voice, speaker)), timeout_s
        )
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
    finally:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(client.disconnect(), timeout_s)
    result.total_s = time.perf_counter() - started
    return result


@dataclass(frozen=True)
class EngineReport:
    """One engine's state as the server reports it (loading, ready, failed, idle)."""

    state: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.state} ({self.detail})" if self.detail else self.state


@dataclass(frozen=True)
class ServerStatus:
    """A server's answer to Describe: its voices, and its engines' states when it is ours."""

    info: Info
    engines: dict[str, EngineReport]

    @property
    def voices(self) -> list[TtsVoice]:
        """The voices of the first TTS program (the one Home Assistant uses)."""
        return list(self.info.tts[0].voices) if self.info.tts else []

    def engines_line(self) -> str:
        """'csm loading (…), edge ready', or a note that the server does not report engines."""
        if not self.engines:
            return "engine states not reported (not a wyoming-verba server?)"
        return ", ".join(f"{name} {report}" for name, report in self.engines.items())


def _engine_reports(data: dict[str, Any]) -> dict[str, EngineReport]:
    # Read from the raw event: wyoming's Info.from_event drops unknown keys. Untrusted input.
    extension = data.get(EXTENSION_KEY)
    engines = extension.get("engines") if isinstance(extension, dict) else None
    if not isinstance(engines, dict):
        return {}
    reports: dict[str, EngineReport] = {}
    for name, entry in engines.items():
        if isinstance(entry, dict) and isinstance(entry.get("state"), str):
            detail = entry.get("detail")
            reports[str(name)] = EngineReport(
                entry["state"], detail if isinstance(detail, str) else ""
            )
    return reports


async def describe(uri: str, timeout_s: float = 5) -> ServerStatus:
    """Ask the server for its Info (a real round-trip; used by `health`, `voices`, `doctor`)."""

    async def round_trip() -> ServerStatus:
        async with AsyncClient.from_uri(uri) as client:
            await client.write_event(Describe().event())
            while True:
                event = await client.read_event()
                if event is None:
                    raise SynthesisFailedError("the server closed the connection")
                if Info.is_type(event.type):
                    return ServerStatus(Info.from_event(event), _engine_reports(event.data))

    return await asyncio.wait_for(round_trip(), timeout_s)
