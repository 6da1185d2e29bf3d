"""The settings stored in the entry's options, their defaults, and the voice for a language.

The options are the one source of truth: the options flow and the selects both write them, the
TTS entity and the selects read them through Settings. Speaking options (rate, volume, pitch,
temperature) reach the server in synthesize's context["verba"], which only this integration
sends; the server checks every value and ignores what the chosen engine cannot honour.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .const import (
    ATTR_PITCH,
    ATTR_RATE,
    ATTR_TEMPERATURE,
    ATTR_VOLUME,
    CONF_BACKEND,
    CONF_LANGUAGE_VOICES,
    CONF_SPEAKER,
    CONF_VOICE,
    SPEAK_OPTIONS,
)
from .protocol.info import ServerInfo, base_language, speaks
from .protocol.options import percent
from .protocol.prosody import check_pitch


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


def valid_pitch(value: str) -> bool:
    """Whether a pitch change is one the server takes (the protocol's format and ranges)."""
    try:
        check_pitch(value)
    except ValueError:
        return False
    return True


def speak_defaults(options: Mapping[str, Any]) -> dict[str, Any]:
    """The defaults the options flow stored; a 0 % rate or volume means the server's own."""
    defaults: dict[str, Any] = {}
    for key in (ATTR_RATE, ATTR_VOLUME):
        value = options.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value:
            defaults[key] = percent(int(value))
    pitch = options.get(ATTR_PITCH)
    if isinstance(pitch, str) and valid_pitch(pitch.strip()):
        defaults[ATTR_PITCH] = pitch.strip()
    temperature = options.get(ATTR_TEMPERATURE)
    if isinstance(temperature, int | float) and not isinstance(temperature, bool):
        defaults[ATTR_TEMPERATURE] = float(temperature)
    return defaults


def request_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The speaking options of a request (HA merged the entity's defaults in), unset ones out."""
    return {key: options[key] for key in SPEAK_OPTIONS if options.get(key) not in (None, "")}
