"""The config file's schema: voluptuous validators and messages that name the key."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import voluptuous as vol

ENGINE_NAMES = ("edge", "csm")
ENGINE_ALIASES = {"sesame": "csm"}  # the name the original setup guide used
OUTPUT_RATES = (8000, 16000, 22050, 24000, 44100, 48000)


def _tcp_uri(value: Any) -> str:
    text = str(value)
    parsed = urlparse(text)
    if parsed.scheme != "tcp" or not parsed.hostname or parsed.port is None:
        raise vol.Invalid("expected tcp://HOST:PORT, for example tcp://0.0.0.0:10200")
    return text


def _output_rate(value: Any) -> int | None:
    if value in (None, "native"):
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value in OUTPUT_RATES:
        return value
    raise vol.Invalid(f"expected 'native' or one of {', '.join(map(str, OUTPUT_RATES))}")


def _engine(value: Any) -> str:
    value = ENGINE_ALIASES.get(value, value) if isinstance(value, str) else value
    if value in ENGINE_NAMES:
        return str(value)
    raise vol.Invalid(f"expected one of {', '.join(ENGINE_NAMES)}")


def _zeroconf_shorthand(value: Any) -> Any:
    """`server.zeroconf: true/false` means `{enabled: true/false}`."""
    if isinstance(value, bool):
        return {"enabled": value}
    if isinstance(value, Mapping):
        return value
    raise vol.Invalid("expected true, false or a mapping (enabled, name, host)")


def _fallback(value: Any) -> str | None:
    if value in (None, "none"):
        return None
    return _engine(value)


def _existing_file(value: Any) -> Path:
    path = Path(str(value)).expanduser()
    if not path.is_file():
        raise vol.Invalid(f"file not found: {path}")
    return path


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise vol.Invalid("expected a number")
    return float(value)


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise vol.Invalid("expected an integer")
    return value


def _or_null(validator: Any) -> Any:
    """null (use the default) or whatever `validator` accepts, keeping its error message."""

    def check(value: Any) -> Any:
        return None if value is None else validator(value)

    return check


def _positive(validator: Any) -> Any:
    return vol.All(validator, vol.Range(min=0, min_included=False))


_STR = vol.All(str, vol.Length(min=1))

_VOICE_PROFILE = vol.Schema(
    {
        vol.Required("name"): vol.All(_STR, vol.Match(r"^[A-Za-z0-9_.-]+$")),
        vol.Optional("speaker", default=0): vol.All(_int, vol.Range(min=0)),
        vol.Optional("reference_audio"): _existing_file,
        vol.Optional("reference_text"): _STR,
    }
)

SCHEMA = vol.Schema(
    {
        vol.Optional("server", default={}): {
            vol.Optional("uri"): _tcp_uri,
            vol.Optional("zeroconf", default={}): vol.All(
                _zeroconf_shorthand,
                {
                    vol.Optional("enabled"): bool,
                    vol.Optional("name"): vol.All(_STR, vol.Length(max=63)),
                    vol.Optional("host"): vol.Any(None, _STR),
                },
            ),
            vol.Optional("samples_per_chunk"): vol.All(_int, vol.Range(min=64, max=96000)),
            vol.Optional("output_rate"): _output_rate,
            vol.Optional("max_text_chars"): vol.All(_int, vol.Range(min=1)),
            vol.Optional("max_connections"): vol.All(_int, vol.Range(min=1)),
            vol.Optional("max_event_bytes"): vol.All(_int, vol.Range(min=1024)),
            vol.Optional("max_pending_requests"): vol.All(_int, vol.Range(min=1, max=1000)),
            vol.Optional("read_timeout_s"): _positive(_number),
            vol.Optional("idle_timeout_s"): _positive(_number),
            vol.Optional("write_timeout_s"): _positive(_number),
            vol.Optional("shutdown_grace_s"): vol.All(_number, vol.Range(min=0)),
            vol.Optional("data_dir"): _STR,
        },
        vol.Optional("tts", default={}): {
            vol.Optional("backend"): _engine,
            vol.Optional("fallback"): _fallback,
            vol.Optional("engines"): vol.All([_engine], vol.Length(min=1)),
        },
        vol.Optional("edge", default={}): {
            vol.Optional("voice"): _STR,
            vol.Optional("rate"): vol.Match(r"^[+-]\d+%$", msg="expected like '+0%' or '-10%'"),
            vol.Optional("volume"): vol.Match(r"^[+-]\d+%$", msg="expected like '+0%' or '-10%'"),
            vol.Optional("pitch"): vol.Match(r"^[+-]\d+Hz$", msg="expected like '+0Hz' or '-5Hz'"),
            vol.Optional("proxy"): vol.Any(None, _STR),
            vol.Optional("timeout_s"): _positive(_number),
            vol.Optional("voice_list_timeout_s"): _positive(_number),
            vol.Optional("endpoint"): vol.Any(
                None, vol.Match(r"^https?://[^/]+$", msg="expected http(s)://HOST:PORT")
            ),
        },
        vol.Optional("csm", default={}): {
            vol.Optional("model"): _STR,
            vol.Optional("device"): vol.Any("auto", "cuda", "cpu", vol.Match(r"^cuda:\d+$")),
            vol.Optional("dtype"): vol.Any("bfloat16", "float16", "float32"),
            vol.Optional("speaker"): vol.All(_int, vol.Range(min=0)),
            vol.Optional("max_audio_s"): vol.All(_number, vol.Range(min=0.5, max=160)),
            vol.Optional("temperature"): _or_null(vol.All(_number, vol.Range(min=0, max=5))),
            vol.Optional("top_k"): _or_null(vol.All(_int, vol.Range(min=0))),
            vol.Optional("top_p"): _or_null(vol.All(_number, vol.Range(min=0, max=1))),
            vol.Optional("chunk_frames"): vol.All(_int, vol.Range(min=1, max=50)),
            vol.Optional("preload"): bool,
            vol.Optional("compile"): vol.Any("auto", bool),
            vol.Optional("cuda_graphs"): bool,
            vol.Optional("continuity"): bool,
            vol.Optional("max_batch"): vol.All(_int, vol.Range(min=1, max=64)),
            vol.Optional("anchor_speakers"): bool,
            vol.Optional("unload_after_s"): _or_null(_positive(_number)),
            vol.Optional("voices"): [_VOICE_PROFILE],
        },
    }
)


def format_invalid(error: vol.Invalid, raw: Mapping[str, Any]) -> str:
    path = ".".join(str(part) for part in error.path) or "(top level)"
    message = error.msg
    if message == "extra keys not allowed":
        message = "unknown key (check the spelling against config.example.yaml)"
    value: Any = raw
    for part in error.path:
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            value = None
            break
    got = f" (got {value!r})" if value is not None and not isinstance(value, Mapping) else ""
    return f"config key {path}: {message}{got}"
