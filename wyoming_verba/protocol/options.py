"""Per-request speaking options: `context["verba"]` of a synthesize or synthesize-start.

    {"context": {"verba": {"rate": "+20%", "volume": "-10%", "pitch": "+5Hz", "temperature": 0.7}}}

Every value is checked (type, format, range) here; a bad one is a BadRequestError naming the
option. Keys this server does not know are not an error (a newer client may send them): they are
named in the request's log line as ignored. Which options an engine honours is the engine's
business (`Engine.speak_options()`); the rest are ignored, never refused.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from .echo import echo, kind_of
from .fields import BadRequestError
from .prosody import VOLUME_RANGE, check_pitch

CONTEXT_KEY = "verba"
ALL_OPTIONS = ("rate", "volume", "pitch", "temperature")
# Percent; what both engines do (CSM's time-stretch covers 0.5×..2× in one atempo stage).
# Volume and pitch follow edge.volume and edge.pitch (prosody.py).
RATE_RANGE = (-50, 100)
TEMPERATURE_RANGE = (0.0, 5.0)  # the same bound as csm.temperature
_MAX_KEYS = 16
# fullmatch, not match: edge-tts's own `re.match(r"^...$")` lets a trailing newline through.
_PERCENT = re.compile(r"([+-]?)(\d{1,4})%")


@dataclass(frozen=True)
class SpeakOptions:
    """A request's speaking options; None means 'not given' (the engine's configured value)."""

    rate: int | None = None  # percent change of the speaking rate
    volume: int | None = None  # percent change of the volume
    pitch: str | None = None  # Edge's format, sign included: "+5Hz" or "-10%"
    temperature: float | None = None  # CSM sampling temperature (0 = greedy)
    unknown: tuple[str, ...] = ()  # keys this server does not know (escaped, for the log)

    @property
    def given(self) -> tuple[str, ...]:
        """Names of the options that are set, in ALL_OPTIONS order."""
        return tuple(name for name in ALL_OPTIONS if getattr(self, name) is not None)

    def ignored_by(self, honoured: frozenset[str]) -> tuple[str, ...]:
        """What an engine honouring `honoured` leaves out: given options it lacks, unknown keys."""
        return tuple(name for name in self.given if name not in honoured) + self.unknown

    def describe(self) -> str:
        """The given options for the log line, e.g. 'rate=+20%,temperature=0.7' ('' if none)."""
        return ",".join(f"{name}={self._rendered(name)}" for name in self.given)

    def _rendered(self, name: str) -> str:
        value = getattr(self, name)
        if name in ("rate", "volume"):
            return percent(value)
        return f"{value:g}" if isinstance(value, float) else str(value)


NO_OPTIONS = SpeakOptions()


def percent(value: int) -> str:
    """A percent change in Edge's format: +20%, -5%, +0%."""
    return f"{value:+d}%"


def options_field(data: dict[str, Any]) -> SpeakOptions:
    """The options in a synthesize (or synthesize-start) event's `context.verba`, checked."""
    context = data.get("context")
    if context is None:
        return NO_OPTIONS
    if not isinstance(context, dict):
        raise BadRequestError(f"'context' must be an object (got {kind_of(context)})")
    given = context.get(CONTEXT_KEY)
    if given is None:
        return NO_OPTIONS
    if not isinstance(given, dict):
        raise BadRequestError(
            f'\'context.verba\' must be an object like {{"rate": "+20%"}} (got {kind_of(given)})'
        )
    if len(given) > _MAX_KEYS:
        raise BadRequestError(f"'context.verba' has {len(given)} keys; at most {_MAX_KEYS}")
    values = {key: value for key, value in given.items() if value is not None and value != ""}
    return SpeakOptions(
        rate=_percent_option("rate", values.get("rate"), RATE_RANGE),
        volume=_percent_option("volume", values.get("volume"), VOLUME_RANGE),
        pitch=_pitch_option(values.get("pitch")),
        temperature=_temperature_option(values.get("temperature")),
        unknown=tuple(echo(key, 30) for key in values if key not in ALL_OPTIONS),
    )


def _percent_option(name: str, value: Any, bounds: tuple[int, int]) -> int | None:
    """A percent change: "+20%", "-10%", "20%", or a whole number (20 = +20%)."""
    if value is None:
        return None
    low, high = bounds
    expected = f"'context.verba.{name}' must be a change from {percent(low)} to {percent(high)}"
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and (match := _PERCENT.fullmatch(value.strip())):
        number = int(match[2]) * (-1 if match[1] == "-" else 1)
    else:
        raise BadRequestError(f"{expected}, like '+20%' or '-10%' (got {echo(value)})")
    if not low <= number <= high:
        raise BadRequestError(f"{expected} (got {echo(value)})")
    return number


def _pitch_option(value: Any) -> str | None:
    """A pitch change in Hz or percent: "+5Hz", "-20Hz", "+10%" (edge.pitch's rule)."""
    if value is None:
        return None
    try:
        return check_pitch(value.strip() if isinstance(value, str) else value)
    except ValueError as err:
        raise BadRequestError(f"'context.verba.pitch': {err} (got {echo(value)})") from None


def _temperature_option(value: Any) -> float | None:
    """A sampling temperature: a number from 0 (greedy) to 5, or a string holding one."""
    if value is None:
        return None
    low, high = TEMPERATURE_RANGE
    expected = f"'context.verba.temperature' must be a number from {low:g} (greedy) to {high:g}"
    number: float | None = None
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        try:  # a long string is never a temperature; 10**400 does not convert
            number = float(value) if not isinstance(value, str) or len(value) <= 20 else None
        except (ValueError, OverflowError):
            number = None
    if number is None or not math.isfinite(number) or not low <= number <= high:
        raise BadRequestError(f"{expected} (got {echo(value)})")
    return number
