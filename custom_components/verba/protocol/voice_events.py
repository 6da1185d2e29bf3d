"""Wyoming events that manage CSM voice profiles (`verba-voice-*`), one small dataclass each.

`verba-voice-create` carries data `{name, transcript, speaker?, rate, width, channels}` and the
clip as raw PCM in its payload (the clip rule, clip.py: 16-bit, mono or stereo, 8-48 kHz,
1-30 s); the server answers
`verba-voice-created {name}` once the voice can speak, or an Error. `verba-voice-delete {name}` is
answered with `verba-voice-deleted {name}` or an Error. Reading an event type-checks every field:
anything else is a BadRequestError that names the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from wyoming.event import Event

from .clip import CLIP_WIDTH, check_format
from .echo import echo, kind_of
from .fields import BadRequestError, speaker_field, text_field

VOICE_CREATE = "verba-voice-create"
VOICE_CREATED = "verba-voice-created"
VOICE_DELETE = "verba-voice-delete"
VOICE_DELETED = "verba-voice-deleted"

MAX_NAME_CHARS = 64
_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")  # no leading dot: hidden, '.', '..'
NAME_RULE = (
    f"use up to {MAX_NAME_CHARS} letters, digits, '_', '.' or '-', not starting with '.' "
    "(and not speaker-<n>, which names bare speakers)"
)


def name_problem(name: str) -> str | None:
    """Why a voice name is not allowed (None when it is): one rule for a created voice, at its
    creation and when it is read back from disk."""
    if _NAME.fullmatch(name) and len(name) <= MAX_NAME_CHARS and not name.startswith("speaker-"):
        return None
    return f"voice name {echo(name)} is not allowed: {NAME_RULE}"


def case_twin(name: str, names: Iterable[str]) -> str | None:
    """Another name that differs from `name` only in case (None when there is none)."""
    folded = name.casefold()
    return next((other for other in names if other != name and other.casefold() == folded), None)


def name_field(data: dict[str, Any]) -> str:
    """A voice name by name_problem's rule; a leading 'csm:' is accepted and dropped (it is how
    the voice is listed in Info)."""
    value = data.get("name")
    if not isinstance(value, str):
        raise BadRequestError(f"'name' must be a string (got {kind_of(value)})", "invalid-name")
    name = value.removeprefix("csm:")
    problem = name_problem(name)
    if problem is not None:
        raise BadRequestError(
            f"voice name {echo(value)} is not allowed: {NAME_RULE}", "invalid-name"
        )
    return name


def _whole(data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequestError(f"'{key}' must be a whole number (got {echo(value)})", "bad-audio")
    return value


@dataclass(frozen=True)
class VoiceCreate:
    """Create a CSM voice from a clip (raw PCM) and its exact transcript."""

    name: str
    transcript: str
    audio: bytes
    rate: int
    width: int = CLIP_WIDTH
    channels: int = 1
    speaker: int | None = None

    @staticmethod
    def is_type(event_type: str) -> bool:
        """Whether an event is a verba-voice-create."""
        return event_type == VOICE_CREATE

    def event(self) -> Event:
        """The event to send."""
        data: dict[str, Any] = {
            "name": self.name,
            "transcript": self.transcript,
            "rate": self.rate,
            "width": self.width,
            "channels": self.channels,
        }
        if self.speaker is not None:
            data["speaker"] = self.speaker
        return Event(type=VOICE_CREATE, data=data, payload=self.audio)

    @classmethod
    def from_event(cls, event: Event) -> VoiceCreate:
        """Read and type-check a received event (BadRequestError names what is wrong)."""
        data = event.data or {}
        name = name_field(data)
        transcript = text_field(data, "transcript").strip()
        rate, width, channels = (_whole(data, key) for key in ("rate", "width", "channels"))
        check_format(rate, width, channels)
        speaker = data.get("speaker")
        return cls(
            name=name,
            transcript=transcript,
            audio=event.payload or b"",
            rate=rate,
            width=width,
            channels=channels,
            speaker=None if speaker is None else speaker_field(speaker, "speaker"),
        )


@dataclass(frozen=True)
class VoiceCreated:
    """The voice exists and speaks: it is listed in Info as csm:<name>."""

    name: str

    @staticmethod
    def is_type(event_type: str) -> bool:
        """Whether an event is a verba-voice-created."""
        return event_type == VOICE_CREATED

    def event(self) -> Event:
        """The event to send."""
        return Event(type=VOICE_CREATED, data={"name": self.name})

    @classmethod
    def from_event(cls, event: Event) -> VoiceCreated:
        """Read a received event."""
        return cls(name=str((event.data or {}).get("name", "")))


@dataclass(frozen=True)
class VoiceDelete:
    """Delete a voice created with verba-voice-create (not one from config.yaml)."""

    name: str

    @staticmethod
    def is_type(event_type: str) -> bool:
        """Whether an event is a verba-voice-delete."""
        return event_type == VOICE_DELETE

    def event(self) -> Event:
        """The event to send."""
        return Event(type=VOICE_DELETE, data={"name": self.name})

    @classmethod
    def from_event(cls, event: Event) -> VoiceDelete:
        """Read and type-check a received event."""
        return cls(name=name_field(event.data or {}))


@dataclass(frozen=True)
class VoiceDeleted:
    """The voice is gone."""

    name: str

    @staticmethod
    def is_type(event_type: str) -> bool:
        """Whether an event is a verba-voice-deleted."""
        return event_type == VOICE_DELETED

    def event(self) -> Event:
        """The event to send."""
        return Event(type=VOICE_DELETED, data={"name": self.name})

    @classmethod
    def from_event(cls, event: Event) -> VoiceDeleted:
        """Read a received event."""
        return cls(name=str((event.data or {}).get("name", "")))
