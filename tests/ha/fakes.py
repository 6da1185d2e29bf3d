"""A stand-in for VerbaClient for the fast tests: servers by address, a tone for audio."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from custom_components.verba.protocol.client import (
    AudioFormat,
    CannotConnectError,
    SynthesisFailedError,
    Timings,
)
from custom_components.verba.protocol.info import NotVerbaServerError, ServerInfo, VoiceEntry

SERVER_ID = "0123456789abcdef0123456789abcdef"
OTHER_SERVER_ID = "fedcba9876543210fedcba9876543210"
HOST, PORT = "192.168.1.20", 10200


def _voice(name: str, description: str, *languages: str) -> VoiceEntry:
    return VoiceEntry(name, name.partition(":")[0], description, languages)


VOICES = (
    _voice("edge:en-US-AriaNeural", "Aria (en-US)", "en-US"),
    _voice("edge:de-AT-IngridNeural", "Ingrid (de-AT)", "de-AT"),
    _voice("edge:de-DE-KatjaNeural", "Katja (de-DE)", "de-DE"),
    _voice("edge:en-GB-SoniaNeural", "Sonia (en-GB)", "en-GB"),
    _voice("edge:fr-FR-DeniseNeural", "Denise (fr-FR)", "fr-FR"),
    _voice("csm:speaker-0", "CSM speaker 0", "en"),
    _voice("csm:speaker-1", "CSM speaker 1", "en"),
)


SPEAK_OPTIONS = {"edge": ("pitch", "rate", "volume"), "csm": ("rate", "temperature", "volume")}


def server_info(
    server_id: str | None = SERVER_ID, voices: tuple[VoiceEntry, ...] = VOICES
) -> ServerInfo:
    """What a Verba server with Edge (default) and CSM answers to Describe."""
    return ServerInfo(
        server_id=server_id,
        version="0.1.0",
        voices=voices,
        supports_streaming=True,
        speak_options=SPEAK_OPTIONS,
    )


@dataclass
class Request:
    """One synthesis request the fake saw."""

    text: str
    voice: str | None
    speaker: int | str | None
    streamed: bool
    options: dict[str, Any] = field(default_factory=dict)  # what goes in context["verba"]


@dataclass
class FakeServers:
    """What answers at each address: a ServerInfo, or an exception to raise."""

    at: dict[tuple[str, int], ServerInfo | Exception] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    error: str | None = None  # the next requests fail with this SynthesisFailedError text

    def client(self, host: str, port: int) -> FakeVerbaClient:
        return FakeVerbaClient(self, host, port)


@dataclass
class FakeVerbaClient:
    """Answers like VerbaClient from FakeServers; audio is 0.1 s of a 440 Hz tone per request."""

    servers: FakeServers
    host: str
    port: int
    last: Timings = field(default_factory=Timings)

    def _answer(self) -> ServerInfo:
        answer = self.servers.at.get((self.host, self.port), CannotConnectError("refused"))
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def describe(self) -> ServerInfo:
        return self._answer()

    async def stream(
        self,
        text: AsyncIterator[str] | str,
        voice: str | None,
        speaker: int | str | None,
        audio_format: AudioFormat,
        options: Mapping[str, Any] | None = None,
    ) -> AsyncGenerator[bytes]:
        self._answer()
        streamed = not isinstance(text, str)
        whole = text if isinstance(text, str) else "".join([piece async for piece in text])
        self.servers.requests.append(Request(whole, voice, speaker, streamed, dict(options or {})))
        self.last = Timings(streaming=streamed, chars=len(whole), first_audio_ms=1.0)
        if self.servers.error is not None:
            raise SynthesisFailedError(self.servers.error)
        audio_format.rate, audio_format.width, audio_format.channels = 24000, 2, 1
        yield tone(2400).tobytes()
        self.last.total_ms, self.last.audio_s = 2.0, 0.1


def tone(samples: int, frequency: float = 440.0, rate: int = 24000) -> np.ndarray:
    t = np.arange(samples) / rate
    return (0.3 * np.sin(2 * np.pi * frequency * t) * 32767).astype("<i2")


__all__ = ["CannotConnectError", "NotVerbaServerError"]
