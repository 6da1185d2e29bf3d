"""Speaking options (rate, volume, pitch, temperature): the entry's defaults and a request's own.

They reach the server in synthesize's `context["verba"]` (wyoming ≥ 1.7's context field), which
only this integration sends: Home Assistant's built-in Wyoming client sends voice and speaker only.
The server checks every value and ignores what the chosen engine cannot honour (Edge has no
temperature, CSM no pitch), so nothing here depends on the backend.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .const import ATTR_PITCH, ATTR_RATE, ATTR_TEMPERATURE, ATTR_VOLUME, SPEAK_OPTIONS

PITCH_PATTERN = re.compile(r"[+-]?\d{1,4}(Hz|%)")  # the server's own check has the ranges


def speak_defaults(options: Mapping[str, Any]) -> dict[str, Any]:
    """The defaults the options flow stored; a 0 % rate or volume means the server's own."""
    defaults: dict[str, Any] = {}
    for key in (ATTR_RATE, ATTR_VOLUME):
        value = options.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value:
            defaults[key] = f"{int(value):+d}%"
    pitch = options.get(ATTR_PITCH)
    if isinstance(pitch, str) and PITCH_PATTERN.fullmatch(pitch.strip()):
        defaults[ATTR_PITCH] = pitch.strip()
    temperature = options.get(ATTR_TEMPERATURE)
    if isinstance(temperature, int | float) and not isinstance(temperature, bool):
        defaults[ATTR_TEMPERATURE] = float(temperature)
    return defaults


def request_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The speaking options of a request (HA merged the entity's defaults in), unset ones out."""
    return {key: options[key] for key in SPEAK_OPTIONS if options.get(key) not in (None, "")}
