"""Prosody values as Edge TTS takes them (rate, volume, pitch): the one set of formats and ranges
for edge.rate/volume/pitch in the config and for a request's context.verba (options.py).

edge-tts checks rate/volume/pitch with `re.match(r"^[+-]\\d+%$")`, which lets a trailing newline
through. These checks are stricter (fullmatch, bounded ranges), so a bad value is refused where it
is configured or requested, not by the service.
"""

from __future__ import annotations

import re

# The ranges for edge.* in the config and, where they apply, context.verba of a request
# (options.py): one pitch and one volume rule. A request's rate keeps to what CSM's time-stretch
# does too (options.RATE_RANGE); edge.rate is Edge's alone.
RATE_RANGE = (-100, 200)  # percent change of the speaking rate
VOLUME_RANGE = (-100, 100)  # percent change of the volume
PITCH_RANGES = {"Hz": (-500, 500), "%": (-50, 100)}  # change of the pitch, in Hz or percent
_PERCENT = re.compile(r"[+-]\d{1,4}%")
_PITCH = re.compile(r"([+-]?)(\d{1,4})(Hz|%)")


def check_rate(value: str) -> str:
    """A rate change such as '+0%' or '-10%', within RATE_RANGE; ValueError otherwise."""
    return _check(value, _PERCENT, "%", RATE_RANGE)


def check_volume(value: str) -> str:
    """A volume change such as '+0%' or '-20%', within VOLUME_RANGE; ValueError otherwise."""
    return _check(value, _PERCENT, "%", VOLUME_RANGE)


def check_pitch(value: str) -> str:
    """A pitch change such as '+0Hz', '-5Hz' or '+10%', within PITCH_RANGES, as Edge takes it
    (sign included); ValueError otherwise."""
    match = _PITCH.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError("expected a change in Hz or percent, like '+5Hz' or '-10%'")
    sign, digits, unit = match.groups()
    number = int(digits) * (-1 if sign == "-" else 1)
    low, high = PITCH_RANGES[unit]
    if not low <= number <= high:
        raise ValueError(f"expected a change in {unit} from {low:+d}{unit} to {high:+d}{unit}")
    return f"{number:+d}{unit}"


def _check(value: str, form: re.Pattern[str], unit: str, bounds: tuple[int, int]) -> str:
    low, high = bounds
    span = f"{low:+d}{unit} to {high:+d}{unit}"
    if not isinstance(value, str) or not form.fullmatch(value):
        raise ValueError(
            f"expected like '+0{unit}' or '-10{unit}' (a sign, a whole number, {unit}; {span})"
        )
    if not low <= int(value[: -len(unit)]) <= high:
        raise ValueError(f"expected a change from {span}")
    return value
