"""Loading the configuration: YAML file, then environment, then command-line flags → Config."""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import voluptuous as vol

from wyoming_verba.config.environment import apply_environment, section
from wyoming_verba.config.file import ConfigError, read_yaml_file
from wyoming_verba.config.schema import (
    SCHEMA,
    format_invalid,
)
from wyoming_verba.config.styles import build_styles
from wyoming_verba.config.types import (
    Config,
    CsmConfig,
    CsmVoiceProfile,
    EdgeConfig,
    LogConfig,
    ServerConfig,
    TtsConfig,
    ZeroconfConfig,
)
from wyoming_verba.protocol.echo import echo, one_line


@dataclass(frozen=True)
class Overrides:
    """Values from command-line flags; None means 'not given'."""

    uri: str | None = None
    backend: str | None = None
    zeroconf: bool | None = None
    zeroconf_name: str | None = None
    zeroconf_host: str | None = None
    debug: bool | None = None
    log_format: str | None = None


_FLAGS = {
    "uri": ("server.uri", "flag --uri"),
    "backend": ("tts.backend", "flag --backend"),
    "zeroconf_name": ("server.zeroconf.name", "flag --zeroconf"),
    "zeroconf_host": ("server.zeroconf.host", "flag --zeroconf-host"),
}


def _apply_overrides(raw: dict[str, Any], overrides: Overrides) -> dict[str, str]:
    """Write the flags' values into raw; returns {config key: flag} for the flags given."""
    server = section(raw, "server")
    if overrides.uri is not None:
        server["uri"] = overrides.uri
    if isinstance(server.get("zeroconf"), bool):  # the `zeroconf: false` shorthand
        server["zeroconf"] = {"enabled": server["zeroconf"]}
    zeroconf = section(server, "zeroconf")
    if overrides.zeroconf is not None:
        zeroconf["enabled"] = overrides.zeroconf
    if overrides.zeroconf_name is not None:
        zeroconf["name"] = overrides.zeroconf_name
    if overrides.zeroconf_host is not None:
        zeroconf["host"] = overrides.zeroconf_host
    if overrides.backend is not None:
        section(raw, "tts")["backend"] = overrides.backend
    return {
        key: flag for name, (key, flag) in _FLAGS.items() if getattr(overrides, name) is not None
    }


def check_log_format(text: str) -> str:
    """The format, if logging can format a record with it; ConfigError naming --log-format."""
    record = logging.makeLogRecord({"msg": "message", "levelname": "INFO", "name": "verba"})
    try:
        logging.Formatter(text).format(record)
    except (ValueError, KeyError, TypeError, IndexError) as err:
        raise ConfigError(
            f"flag --log-format: not a usable logging format ({type(err).__name__}: "
            f"{one_line(str(err), 80)}); use %(name)s fields such as %(asctime)s %(levelname)s "
            "%(message)s"
        ) from err
    return text


def _data_dir(value: str, sources: Mapping[str, str]) -> Path:
    try:
        return Path(value).expanduser()
    except RuntimeError as err:  # ~user that does not exist
        where = sources.get("server.data_dir", "config key server.data_dir")
        raise ConfigError(f"{where}: cannot expand {echo(value)}: {err}") from err


def _build(data: dict[str, Any], overrides: Overrides, sources: Mapping[str, str]) -> Config:
    server_data = dict(data["server"])
    zeroconf = ZeroconfConfig(**server_data.pop("zeroconf"))
    if "data_dir" in server_data:
        server_data["data_dir"] = _data_dir(server_data["data_dir"], sources)
    server = ServerConfig(zeroconf=zeroconf, **server_data)

    tts_data = dict(data["tts"])
    backend = tts_data.get("backend", TtsConfig.backend)
    fallback = tts_data.get("fallback", TtsConfig.fallback)
    engines = list(tts_data.get("engines", []))
    for name in (backend, fallback):
        if name is not None and name not in engines:
            engines.append(name)
    styles = build_styles(tts_data.get("styles", []), engines)
    cleaning = {
        key: tts_data[key] for key in ("clean_text", "code_phrase", "keep_emoji") if key in tts_data
    }
    tts = TtsConfig(backend, fallback, tuple(engines), styles, **cleaning)

    csm_data = dict(data["csm"])
    profiles = tuple(CsmVoiceProfile(**entry) for entry in csm_data.pop("voices", []))
    names = [profile.name for profile in profiles]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ConfigError(f"config key csm.voices: duplicate voice name {duplicates[0]!r}")
    for index, profile in enumerate(profiles):
        if (profile.reference_audio is None) != (profile.reference_text is None):
            raise ConfigError(
                f"config key csm.voices.{index}: reference_audio and reference_text go together "
                f"(voice {profile.name!r} has only one of them)"
            )
    csm = CsmConfig(voices=profiles, **csm_data)

    log = LogConfig(
        debug=bool(overrides.debug),
        format=check_log_format(overrides.log_format or LogConfig.format),
    )
    return Config(server=server, tts=tts, edge=EdgeConfig(**data["edge"]), csm=csm, log=log)


def parse_config(
    raw: Mapping[str, Any] | None,
    environ: Mapping[str, str] | None = None,
    overrides: Overrides | None = None,
) -> Config:
    """Validate raw YAML data plus environment and flag overrides into a Config."""
    overrides = overrides or Overrides()
    if not isinstance(raw or {}, Mapping):
        raise ConfigError("config file: expected a mapping of sections (server, tts, edge, csm)")
    data: dict[str, Any] = copy.deepcopy(dict(raw or {}))
    for name in ("server", "tts", "edge", "csm"):
        section(data, name)  # an empty section (`csm:` with every key commented out) is {}
    sources = apply_environment(data, os.environ if environ is None else environ)
    sources.update(_apply_overrides(data, overrides))
    try:
        validated = SCHEMA(data)
    except vol.MultipleInvalid as err:
        raise ConfigError(format_invalid(err.errors[0], data, sources)) from err
    except RecursionError as err:
        raise ConfigError("config file: nested too deeply (a config is a few levels deep)") from err
    return _build(validated, overrides, sources)


def load_config(
    path: Path | None,
    environ: Mapping[str, str] | None = None,
    overrides: Overrides | None = None,
) -> Config:
    """Read a YAML file (or nothing, for defaults) and return the validated Config."""
    raw: Any = {}
    if path is not None:
        raw = read_yaml_file(path)
        if not isinstance(raw, dict):
            raise ConfigError(
                f"config file {path}: expected a mapping of sections (server, tts, edge, csm)"
            )
    return parse_config(raw, environ, overrides)
