"""What a wyoming_verba server tells about itself in its Info: id, version, voices, languages."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from wyoming.info import Info

from .const import EXTENSION_KEY, PROGRAM_NAME


class NotVerbaServerError(Exception):
    """The server speaks Wyoming but is not a wyoming_verba TTS server."""


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

    server_id: str | None  # None: a server from before ids existed
    version: str | None
    voices: tuple[VoiceEntry, ...]
    supports_streaming: bool
    # The speaking options (context.verba) each engine honours; empty from older servers.
    speak_options: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def engines(self) -> list[str]:
        """Engines the server runs, in the order of its voice list."""
        return list(dict.fromkeys(voice.engine for voice in self.voices))

    def voices_of(self, engine: str) -> list[VoiceEntry]:
        """Voices of one engine."""
        return [voice for voice in self.voices if voice.engine == engine]

    def voice(self, name: str | None) -> VoiceEntry | None:
        """The voice called `name`, if the server has it."""
        return next((voice for voice in self.voices if voice.name == name), None)

    @property
    def languages(self) -> list[str]:
        """Every language tag any voice speaks."""
        return sorted({language for voice in self.voices for language in voice.languages})

    def voices_speaking(self, language: str, engine_first: str | None = None) -> list[VoiceEntry]:
        """Voices for `language`: exact tag matches, then same language in other regions.

        Within each group, `engine_first`'s voices come first; otherwise the server's order,
        which puts each engine's default voice first.
        """
        exact = [v for v in self.voices if language in v.languages]
        related = [v for v in self.voices if v not in exact and speaks(v, language)]
        return [
            voice
            for group in (exact, related)
            for voice in sorted(group, key=lambda v: v.engine != engine_first)
        ]


def base_language(tag: str) -> str:
    """'de-DE' → 'de'; language tags compare case-insensitively."""
    return tag.replace("_", "-").split("-")[0].lower()


def speaks(voice: VoiceEntry, language: str) -> bool:
    """Whether the voice speaks the language, in any region ('en-GB' for an 'en-US' voice)."""
    wanted = base_language(language)
    return any(base_language(tag) == wanted for tag in voice.languages)


def parse_info(info: Info, data: Mapping[str, Any]) -> ServerInfo:
    """ServerInfo from an Info event and its raw data (for `verba.server_id`)."""
    program = next((p for p in info.tts if p.name == PROGRAM_NAME), None)
    if program is None:
        raise NotVerbaServerError
    extension = data.get(EXTENSION_KEY)
    server_id = extension.get("server_id") if isinstance(extension, dict) else None
    return ServerInfo(
        server_id=server_id if isinstance(server_id, str) and server_id else None,
        version=program.version,
        voices=tuple(_voices(program.voices)),
        supports_streaming=bool(getattr(program, "supports_synthesize_streaming", False)),
        speak_options=_speak_options(extension),
    )


def _speak_options(extension: Any) -> dict[str, tuple[str, ...]]:
    """`verba.engines.<engine>.options` from the Info extension, whatever a server sent."""
    engines = extension.get("engines") if isinstance(extension, dict) else None
    if not isinstance(engines, dict):
        return {}
    found: dict[str, tuple[str, ...]] = {}
    for engine, state in engines.items():
        options = state.get("options") if isinstance(state, dict) else None
        if isinstance(engine, str) and isinstance(options, list):
            found[engine] = tuple(o for o in options if isinstance(o, str))
    return found


def _voices(voices: Iterable[Any]) -> Iterable[VoiceEntry]:
    for voice in voices:
        if ":" in voice.name:
            yield VoiceEntry(
                name=voice.name,
                engine=voice.name.partition(":")[0],
                description=voice.description or voice.name,
                languages=tuple(voice.languages),
            )
