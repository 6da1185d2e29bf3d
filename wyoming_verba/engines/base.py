"""The interface every speech engine implements."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from wyoming_verba.core.audio import Pcm
from wyoming_verba.core.voices import VoiceChoice, VoiceInfo
from wyoming_verba.protocol.errors import VerbaError
from wyoming_verba.protocol.options import NO_OPTIONS, SpeakOptions


class EngineError(VerbaError):
    """Synthesis failed; the message is safe to show to the user."""

    code = "synthesis-failed"


class VoiceRefusedError(EngineError):
    """The engine will not create or delete a voice; `code` names the rule, the message what to
    do."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code)


class EngineUnavailableError(EngineError):
    """The engine cannot serve requests (model failed to load, out of memory, service down).

    Requests that hit this may be retried on the configured fallback engine.
    """


@dataclass(frozen=True)
class SentenceEnd:
    """Yielded by Engine.speak after the last audio of each sentence."""


SENTENCE_END = SentenceEnd()


class EngineState(StrEnum):
    """Where an engine is in its life; shown in Info (`verba.engines`), `health` and `doctor`."""

    IDLE = "idle"  # loads on first use (csm.preload: false)
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"
    UNLOADED = "unloaded"  # freed after csm.unload_after_s unused; loads on next use


@dataclass(frozen=True)
class EngineStatus:
    """An engine's state and, when there is something to say, a one-line detail."""

    state: EngineState
    detail: str = ""


class Engine(Protocol):
    """A speech engine: yields 16-bit mono PCM at `sample_rate` as it is produced."""

    name: str
    sample_rate: int

    async def start(self) -> None:
        """Load or connect; heavy loading may go on in the background or wait for first use."""

    def ensure_loading(self) -> None:
        """Begin loading now if it waits for first use (so a fallback can serve meanwhile)."""

    async def wait_ready(self) -> None:
        """Wait for loading that start() began in the background; raise if it failed."""

    def status(self) -> EngineStatus:
        """Loading, ready or failed (with the reason)."""

    def voices(self) -> list[VoiceInfo]:
        """The voices to list in Info; every voice has a language."""

    def default_voice(self) -> VoiceChoice:
        """The voice used when a request names none."""

    def speak_options(self) -> frozenset[str]:
        """The per-request options (SpeakOptions names) this engine honours now."""

    def speak(
        self,
        sentences: AsyncIterator[str],
        voice: VoiceChoice,
        options: SpeakOptions = NO_OPTIONS,
    ) -> AsyncGenerator[Pcm | SentenceEnd, None]:
        """Stream PCM for a reply's sentences as they arrive, SENTENCE_END after each one;
        stops working promptly when the consumer stops. Options it does not honour are
        ignored."""

    async def close(self) -> None:
        """Release connections, threads and memory."""
