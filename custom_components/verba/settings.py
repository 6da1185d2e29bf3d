"""The backend / voice / speaker settings stored in the entry's options, and their defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .api import ServerInfo
from .const import CONF_BACKEND, CONF_SPEAKER, CONF_VOICE


@dataclass(frozen=True)
class Settings:
    """Resolved settings; voice None means 'the server's default for the backend'."""

    backend: str
    voice: str | None
    speaker: str | None

    @classmethod
    def from_options(cls, options: Mapping[str, Any], info: ServerInfo) -> Settings:
        """Settings from options, falling back to what the server offers."""
        engines = info.engines or ["edge"]
        backend = options.get(CONF_BACKEND)
        if backend not in engines:
            backend = engines[0]
        voice = options.get(CONF_VOICE)
        names = {v.name for v in info.voices_of(backend)}
        if voice not in names:
            voice = None
        speaker = options.get(CONF_SPEAKER) if backend == "csm" else None
        return cls(backend, voice, speaker or None)

    def request_voice(self, info: ServerInfo) -> str | None:
        """The voice name to send: the chosen one, else the backend's first voice."""
        if self.voice is not None:
            return self.voice
        voices = info.voices_of(self.backend)
        return voices[0].name if voices else None
