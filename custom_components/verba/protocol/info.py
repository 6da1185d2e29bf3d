"""The Info extension: what a Verba server says about itself beyond wyoming's Info, and reading it.

A Verba server's Info has one TTS program named `verba` and an extra top-level object `verba`
(wyoming clients ignore unknown keys): `{server_id, engines: {<engine>: {state, detail,
options}}}`, where options are the context["verba"] options the engine honours and the default
engine (the one answering requests that name no voice) comes first. Everything read back is
untrusted: what has the wrong type is left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from wyoming.event import Event
from wyoming.info import Info, TtsVoice

PROGRAM_NAME = "verba"
EXTENSION_KEY = "verba"  # extra top-level key in Info's data; wyoming clients ignore unknown keys


class NotVerbaServerError(Exception):
    """The server speaks Wyoming but is not a wyoming_verba TTS server."""


@dataclass(frozen=True)
class EngineReport:
    """One engine's state as the server reports it (loading, ready, failed, idle)."""

    state: str
    detail: str = ""
    options: tuple[str, ...] = ()  # the context["verba"] options it honours

    def __str__(self) -> str:
        return f"{self.state} ({self.detail})" if self.detail else self.state


@dataclass(frozen=True)
class Extension:
    """The `verba` object of Info: the server's stable id and its engines."""

    server_id: str | None = None
    engines: Mapping[str, EngineReport] = field(default_factory=dict)

    def data(self) -> dict[str, Any]:
        """The object as it goes on the wire."""
        return {
            "server_id": self.server_id,
            "engines": {
                name: {"state": report.state, "detail": report.detail, "options": [*report.options]}
                for name, report in self.engines.items()
            },
        }

    def event(self, info: Event) -> Event:
        """The Info event with this object added."""
        return Event(type=info.type, data={**info.data, EXTENSION_KEY: self.data()})

    @classmethod
    def read(cls, data: Mapping[str, Any]) -> Extension:
        """The object in an Info event's raw data (wyoming's Info.from_event drops it)."""
        extension = data.get(EXTENSION_KEY)
        if not isinstance(extension, dict):
            return cls()
        server_id = extension.get("server_id")
        engines = extension.get("engines")
        reports = {
            str(name): _report(entry)
            for name, entry in (engines.items() if isinstance(engines, dict) else ())
            if isinstance(entry, dict) and isinstance(entry.get("state"), str)
        }
        return cls(server_id if isinstance(server_id, str) and server_id else None, reports)


def _report(entry: dict[str, Any]) -> EngineReport:
    detail, options = entry.get("detail"), entry.get("options")
    return EngineReport(
        entry["state"],
        detail if isinstance(detail, str) else "",
        tuple(o for o in options if isinstance(o, str)) if isinstance(options, list) else (),
    )


@dataclass(frozen=True)
class ServerStatus:
    """Any Wyoming server's answer to Describe, and its engines' states when it is ours."""

    info: Info
    engines: Mapping[str, EngineReport]

    @classmethod
    def read(cls, event: Event) -> ServerStatus:
        """From a received Info event."""
        return cls(Info.from_event(event), Extension.read(event.data).engines)

    @property
    def voices(self) -> list[TtsVoice]:
        """The voices of the first TTS program (the one Home Assistant uses)."""
        return list(self.info.tts[0].voices) if self.info.tts else []

    @property
    def default_engine(self) -> tuple[str, EngineReport] | None:
        """The engine answering requests that name no voice (listed first); None if not reported."""
        return next(iter(self.engines.items()), None)

    def engines_line(self) -> str:
        """'csm loading (…), edge ready', or a note that the server does not report engines."""
        if not self.engines:
            return "engine states not reported (not a wyoming-verba server?)"
        return ", ".join(f"{name} {report}" for name, report in self.engines.items())


@dataclass(frozen=True)
class VoiceEntry:
    """One voice the server offers."""

    name: str
    engine: str
    description: str
    languages: tuple[str, ...]


@dataclass(frozen=True)
class ServerInfo:
    """What Describe told about a Verba server: id, version, voices, options per engine."""

    server_id: str | None  # None: a server from before ids existed
    version: str | None
    voices: tuple[VoiceEntry, ...]
    supports_streaming: bool
    # The speaking options (context.verba) each engine honours; empty from older servers.
    speak_options: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def read(cls, event: Event) -> ServerInfo:
        """From a received Info event; NotVerbaServerError when it has no `verba` program."""
        info = Info.from_event(event)
        program = next((p for p in info.tts if p.name == PROGRAM_NAME), None)
        if program is None:
            raise NotVerbaServerError
        extension = Extension.read(event.data)
        return cls(
            server_id=extension.server_id,
            version=program.version,
            voices=tuple(_voices(program.voices)),
            supports_streaming=bool(getattr(program, "supports_synthesize_streaming", False)),
            speak_options={name: r.options for name, r in extension.engines.items()},
        )

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


def _voices(voices: Iterable[Any]) -> Iterable[VoiceEntry]:
    for voice in voices:
        if ":" in voice.name:
            yield VoiceEntry(
                name=voice.name,
                engine=voice.name.partition(":")[0],
                description=voice.description or voice.name,
                languages=tuple(voice.languages),
            )
