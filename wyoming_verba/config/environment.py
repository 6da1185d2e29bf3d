"""Environment variables (TTS_BACKEND, SESAME_SPEAKER_ID, VERBA_DATA_DIR) written into raw config
data, each checked here so a bad one is named by its variable."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wyoming_verba.config.file import ConfigError
from wyoming_verba.config.schema import ENGINE_ALIASES, ENGINE_NAMES
from wyoming_verba.protocol.echo import echo
from wyoming_verba.protocol.fields import speaker_digits

_VARIABLES = {
    "tts.backend": "TTS_BACKEND",
    "csm.speaker": "SESAME_SPEAKER_ID",
    "server.data_dir": "VERBA_DATA_DIR",
}


def section(parent: dict[str, Any], key: str) -> dict[str, Any]:
    """parent[key] as a dict to write into; an empty YAML section (null) becomes {}.

    A value of the wrong type is left for the schema to report; writes then go nowhere.
    """
    value = parent.get(key)
    if value is None:
        value = parent[key] = {}
    return value if isinstance(value, dict) else {}


def apply_environment(raw: dict[str, Any], environ: Mapping[str, str]) -> dict[str, str]:
    """Write the environment's values into raw; returns {config key: variable} for messages."""
    backend = environ.get("TTS_BACKEND", "").strip()
    if backend:
        engine = ENGINE_ALIASES.get(backend.lower(), backend.lower())
        if engine not in ENGINE_NAMES:
            raise ConfigError(
                f"environment variable TTS_BACKEND: expected {' or '.join(ENGINE_NAMES)} "
                f"(got {echo(backend)})"
            )
        section(raw, "tts")["backend"] = engine
    speaker = environ.get("SESAME_SPEAKER_ID", "").strip()
    if speaker:
        number = speaker_digits(speaker)
        if number is None:
            too_long = speaker.isascii() and speaker.isdigit()
            expected = "at most 9 digits" if too_long else "0 or more"
            raise ConfigError(
                f"environment variable SESAME_SPEAKER_ID: expected a whole number, {expected} "
                f"(got {echo(speaker)})"
            )
        section(raw, "csm")["speaker"] = number
    data_dir = environ.get("VERBA_DATA_DIR", "").strip()
    if data_dir:
        section(raw, "server")["data_dir"] = data_dir
    variables = {"tts.backend": backend, "csm.speaker": speaker, "server.data_dir": data_dir}
    return {
        key: f"environment variable {_VARIABLES[key]}" for key, value in variables.items() if value
    }
