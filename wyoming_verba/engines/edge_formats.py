"""What Microsoft Edge TTS accepts: voice names, prosody values (rate, volume, pitch), XML text.

edge-tts checks rate/volume/pitch with `re.match(r"^[+-]\\d+%$")`, which lets a trailing newline
through, and accepts any voice name ending in `Neural` — a quote in it reaches the SSML. These
checks are stricter (fullmatch, bounded ranges, the characters real voice names use), so a bad
value is refused where it is configured or requested, not by the service.
"""

from __future__ import annotations

import re

# ShortName as the voice list gives it: en-US-AriaNeural, fil-PH-AngeloNeural,
# en-US-AndrewMultilingualNeural, zh-CN-liaoning-XiaobeiNeural (a regional variant).
_SHORT_NAME = re.compile(r"[a-z]{2,3}-[A-Z]{2,3}-(?:[a-z]+-)?[A-Za-z0-9]+Neural")
# The long form edge-tts also takes:
# "Microsoft Server Speech Text to Speech Voice (en-US, AriaNeural)".
_LONG_NAME = re.compile(
    r"Microsoft Server Speech Text to Speech Voice \([a-z]{2,3}(?:-[A-Za-z0-9]+){1,3}, "
    r"[A-Za-z0-9]+Neural\)"
)
VOICE_EXAMPLE = "a voice name such as en-US-AriaNeural or en-US-AndrewMultilingualNeural"

RATE_RANGE = (-100, 200)  # percent change of the speaking rate
VOLUME_RANGE = (-100, 100)  # percent change of the volume
PITCH_RANGE = (-200, 200)  # change of the pitch in Hz
_PERCENT = re.compile(r"[+-]\d{1,4}%")
_HERTZ = re.compile(r"[+-]\d{1,4}Hz")

# Characters XML 1.0 does not allow (C0 controls but tab/newline/return, surrogates,
# U+FFFE/U+FFFF), plus the other Unicode non-characters, which the service refuses too.
_NOT_XML = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
    + "".join(
        f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(1, 17)
    )
    + "]"
)


def check_voice_name(name: str) -> str:
    """The name, if it has the form of an Edge voice; ValueError otherwise."""
    if _SHORT_NAME.fullmatch(name) or _LONG_NAME.fullmatch(name):
        return name
    raise ValueError(f"expected {VOICE_EXAMPLE} (see `wyoming-verba voices`)")


def check_rate(value: str) -> str:
    """A rate change such as '+0%' or '-10%', within RATE_RANGE; ValueError otherwise."""
    return _check(value, _PERCENT, "%", RATE_RANGE)


def check_volume(value: str) -> str:
    """A volume change such as '+0%' or '-20%', within VOLUME_RANGE; ValueError otherwise."""
    return _check(value, _PERCENT, "%", VOLUME_RANGE)


def check_pitch(value: str) -> str:
    """A pitch change such as '+0Hz' or '-5Hz', within PITCH_RANGE; ValueError otherwise."""
    return _check(value, _HERTZ, "Hz", PITCH_RANGE)


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


def xml_text(text: str) -> str:
    """The text with every character XML 1.0 (and the service) refuses replaced by a space."""
    return _NOT_XML.sub(" ", text)
