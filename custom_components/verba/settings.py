"""The settings stored in the entry's options, their defaults, and the voice for a language.

The options are the one source of truth: the options flow and the selects both write them, the
TTS entity and the selects read them through Settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .const import CONF_BACKEND, CONF_LANGUAGE_VOICES, CONF_SPEAKER, CONF_VOICE
from .models import ServerInfo, base_language, speaks
from .speaking import speak_defaults


@dataclass(frozen=True)
class Settings:
    """Resolved settings; voice None means 'the server's default for the backend'."""

    backend: str
    voice: str | None
    speaker: str | None
    language_voices: dict[str, str] = field(default_factory=dict)  # base language → voice
    speaking: dict[str, Any] = field(default_factory=dict)  # default rate/volume/pitch/temperature

    @classmethod
    def from_options(cls, options: Mapping[str, Any], info: ServerInfo) -> Settings:
        """Settings from options, dropping what the server no longer offers."""
        engines = info.engines or ["edge"]
        backend = options.get(CONF_BACKEND)
        if backend not in engines:
            backend = engines[0]
        voice = options.get(CONF_VOICE)
        if voice not in {v.name for v in info.voices_of(backend)}:
            voice = None
        speaker = options.get(CONF_SPEAKER) if backend == "csm" else None
        stored = options.get(CONF_LANGUAGE_VOICES)
        language_voices = {
            language: name
            for language, name in (stored.items() if isinstance(stored, Mapping) else ())
            if isinstance(name, str) and info.voice(name) is not None
        }
        return cls(backend, voice, speaker or None, language_voices, speak_defaults(options))

    def request_voice(self, info: ServerInfo) -> str | None:
        """The configured voice: the chosen one, else the backend's default (its first)."""
        if self.voice is not None:
            return self.voice
        voices = info.voices_of(self.backend)
        return voices[0].name if voices else None

    def voice_for(self, info: ServerInfo, language: str) -> str | None:
        """The voice for a request in `language` that names no voice.

        The configured voice when it speaks the language (in any region); else the voice chosen
        for that language in the options; else the server's default voice of that language
        (the backend's own first); else the configured voice.
        """
        configured = self.request_voice(info)
        entry = info.voice(configured)
        if entry is None or speaks(entry, language):
            return configured
        chosen = self.language_voices.get(base_language(language))
        if chosen is not None:
            return chosen
        candidates = info.voices_speaking(language, engine_first=self.backend)
        return candidates[0].name if candidates else configured

    def speaker_for(self, voice: str | None) -> str | None:
        """The CSM speaker override, only for CSM voices."""
        if voice is not None and voice.startswith("csm:"):
            return self.speaker
        return None
