"""Typed reading of the fields clients send in synthesize events; anything else is a BadRequest.

Every field a request uses is checked here, before it reaches voices, the text splitter or an
engine: wrong JSON types, lone surrogates (which json accepts but no encoder can write) and
non-integral speakers become a BadRequestError that names the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .echo import echo, kind_of
from .errors import VerbaError

MAX_SPEAKER = 999_999_999  # speaker ids have at most nine digits


class BadRequestError(VerbaError):
    """A request is refused; the message names the field (or the limit) and what is expected."""

    code = "bad-request"


@dataclass(frozen=True)
class VoiceRequest:
    """The `voice` object of a request: a name and a speaker, both optional."""

    name: str | None = None
    speaker: int | None = None

    @property
    def label(self) -> str:
        """The requested voice, escaped and shortened, for logs."""
        if self.name is None:
            return "(default)"
        return echo(self.name)


def text_field(data: dict[str, Any], key: str = "text", required: bool = True) -> str:
    """A string field that can be encoded as UTF-8."""
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise BadRequestError(f"'{key}' must be a string (got {kind_of(value)})")
    _check_unicode(key, value)
    return value


def voice_field(data: dict[str, Any]) -> VoiceRequest:
    """The optional `voice` object: {name?: string, speaker?: whole number, language?: string}."""
    voice = data.get("voice")
    if voice is None:
        return VoiceRequest()
    if not isinstance(voice, dict):
        raise BadRequestError(
            f'\'voice\' must be an object like {{"name": "edge:en-US-AriaNeural"}} '
            f"(got {kind_of(voice)})"
        )
    name = voice.get("name")
    if name is not None:
        if not isinstance(name, str):
            raise BadRequestError(f"'voice.name' must be a string (got {kind_of(name)})")
        _check_unicode("voice.name", name)
    language = voice.get("language")
    if language is not None and not isinstance(language, str):
        raise BadRequestError(f"'voice.language' must be a string (got {kind_of(language)})")
    return VoiceRequest(name or None, speaker_field(voice.get("speaker")))


def speaker_field(value: Any, key: str = "voice.speaker") -> int | None:
    """A speaker id: a whole number ≥ 0, as a number or a string of digits; None when absent.
    `key` names the field in the error."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    digits = value.strip() if isinstance(value, str) else ""
    speaker: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        speaker = value
    elif digits.isascii() and digits.isdigit():
        # More than nine digits is out of range, never parsed (no 4300-digit int()).
        speaker = speaker_digits(digits) if len(digits) <= 9 else MAX_SPEAKER + 1
    if speaker is None:
        raise BadRequestError(
            f"'{key}' must be a whole number such as 0 or \"1\" (got {echo(value)})"
        )
    if not 0 <= speaker <= MAX_SPEAKER:
        raise BadRequestError(f"'{key}' must be between 0 and {MAX_SPEAKER} (got {echo(value)})")
    return speaker


def speaker_digits(text: str) -> int | None:
    """A speaker id written as 1-9 ASCII digits ("0", "12"); None for anything else."""
    if 1 <= len(text) <= 9 and text.isascii() and text.isdigit():
        return int(text)
    return None


def _check_unicode(key: str, value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise BadRequestError(
            f"'{key}' is not valid Unicode: it has a lone surrogate "
            f"{value[err.start]!r} at position {err.start}"
        ) from err
