"""tts.styles: speaking styles, each a voice name of its own for a base voice plus options.

    tts:
      styles:
        - {name: narrator-calm, voice: csm:alice, rate: "-10%", temperature: 0.6}
        - {name: guy-fast, voice: edge:en-US-GuyNeural, rate: "+25%"}

The options take the formats and ranges of a request's `context.verba`. What the config alone
can tell is checked here (form, engine enabled, duplicates, names that are another voice's
form); whether the base voice exists, and whether a style's name is taken by a listed voice,
is checked once the engines have started (SpeechService.start), exiting 2 all the same.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import voluptuous as vol

from wyoming_verba.config.file import ConfigError
from wyoming_verba.core.voices import Style, check_edge_voice, split_voice_name
from wyoming_verba.protocol.fields import BadRequestError
from wyoming_verba.protocol.options import ALL_OPTIONS, CONTEXT_KEY, options_field

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}\Z")
_SPEAKER = re.compile(r"speaker-\d{1,6}\Z")
_GOT = re.compile(r" \(got .*\)\Z", re.DOTALL)


def _name(value: Any) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise vol.Invalid("expected 1 to 64 letters, digits, '_', '.' or '-'")
    if _SPEAKER.match(value) or value.endswith("Neural"):
        raise vol.Invalid("expected a name that is not another voice's (speaker-<n>, ...Neural)")
    return value


def _base_voice(value: Any) -> str:
    engine, voice_id = split_voice_name(value) if isinstance(value, str) else (None, "")
    if engine == "edge":
        try:
            check_edge_voice(voice_id)
        except ValueError as err:
            raise vol.Invalid(f"edge:<ShortName> {err}") from err
        return str(value)
    if engine == "csm" and _NAME.match(voice_id):
        return str(value)
    raise vol.Invalid("expected a base voice: csm:<profile>, csm:speaker-<n> or edge:<ShortName>")


def _option(name: str) -> Callable[[Any], Any]:
    def validate(value: Any) -> Any:
        try:
            options_field({"context": {CONTEXT_KEY: {name: value}}})
        except BadRequestError as err:
            message = str(err).replace(f"'context.verba.{name}' must be", "expected")
            raise vol.Invalid(_GOT.sub("", message)) from None  # the schema adds its own
        return value

    return validate


def _fields() -> dict[Any, Callable[[Any], Any]]:
    fields: dict[Any, Callable[[Any], Any]] = {
        vol.Required("name"): _name,
        vol.Required("voice"): _base_voice,
    }
    for option in ALL_OPTIONS:
        fields[vol.Optional(option)] = _option(option)
    return fields


STYLE_SCHEMA = vol.Schema(_fields())


def build_styles(entries: Sequence[dict[str, Any]], engines: Sequence[str]) -> tuple[Style, ...]:
    """Styles from validated entries; ConfigError naming the key for a duplicate name or a base
    voice whose engine is not in tts.engines."""
    styles: list[Style] = []
    for index, entry in enumerate(entries):
        given = {key: entry[key] for key in ALL_OPTIONS if key in entry}
        options = options_field({"context": {CONTEXT_KEY: given}})
        style = Style(entry["name"], entry["voice"], options)
        if style.engine not in engines:
            raise ConfigError(
                f"config key tts.styles.{index}.voice: the {style.engine} engine is not enabled "
                f"(got {style.voice!r}); add it to tts.engines or pick another base voice"
            )
        if any(other.name == style.name for other in styles):
            raise ConfigError(
                f"config key tts.styles.{index}.name: another style is named {style.name!r}; "
                "style names must differ"
            )
        styles.append(style)
    return tuple(styles)
