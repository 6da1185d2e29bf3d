"""The config file's schema: voluptuous validators and messages that name the key."""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import voluptuous as vol

from wyoming_verba.config.styles import STYLE_SCHEMA
from wyoming_verba.config.uris import parse_tcp_uri
from wyoming_verba.core.voices import check_edge_voice
from wyoming_verba.protocol.echo import echo
from wyoming_verba.protocol.fields import MAX_SPEAKER
from wyoming_verba.protocol.prosody import check_pitch, check_rate, check_volume

ENGINE_NAMES = ("edge", "csm")
ENGINE_ALIASES = {"sesame": "csm"}  # the name the original setup guide used
OUTPUT_RATES = (8000, 16000, 22050, 24000, 44100, 48000)
# A created voice keeps its prefilled prefix on the device while CSM is loaded: at most 1024
# positions (the other 1024 are a reply's room) × 32 KiB per position on csm-1b (16 layers × K
# and V × 8 heads × 64 × 2 bytes) = 32 MiB. 128 voices bound that to 4 GiB.
VOICE_PREFIX_MIB_CSM_1B = 32
MAX_VOICES = 128


def _checked(check: Callable[[str], str | None]) -> Callable[[Any], str]:
    """A validator from a check that raises ValueError with its message; a check that returns a
    string gives the value as used (a pitch with its sign added)."""

    def validate(value: Any) -> str:
        if not isinstance(value, str):
            raise vol.Invalid("expected a string")
        try:
            used = check(value)
        except ValueError as err:
            raise vol.Invalid(str(err)) from err
        return value if used is None else used

    return validate


def _tcp_uri(value: str) -> None:
    parse_tcp_uri(value)


def _ipv4_address(value: str) -> None:
    try:
        address = ipaddress.IPv4Address(value)
    except ValueError as err:
        raise ValueError("expected an IPv4 address such as 192.168.1.20") from err
    if address.is_unspecified or address.is_multicast:
        raise ValueError("expected this host's IPv4 address as Home Assistant reaches it")


def _proxy_url(value: str) -> None:
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as err:
        raise ValueError("expected http://HOST:PORT (port 1 to 65535)") from err
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        raise ValueError(
            "expected a proxy URL such as http://HOST:PORT or http://USER:PASS@HOST:PORT"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("expected http://HOST:PORT without a path, query or fragment")


def _zeroconf_name(value: str) -> None:
    if len(value.encode("utf-8")) > 63:
        raise ValueError("expected at most 63 bytes (UTF-8)")
    if not value.isprintable() or value != value.strip() or "." in value:
        raise ValueError("expected printable text without dots or leading/trailing spaces")


def _no_control(value: str) -> None:
    if not value.isprintable():
        raise ValueError("expected one line of printable text")


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
    try:
        path = Path(str(value)).expanduser()
    except RuntimeError as err:  # ~user that does not exist
        raise vol.Invalid(f"cannot expand {value!r}: {err}") from err
    if not path.is_file():
        raise vol.Invalid(f"file not found: {path}")
    return path


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise vol.Invalid("expected a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise vol.Invalid("expected a finite number")
    try:
        return float(value)
    except OverflowError as err:  # an integer with hundreds of digits
        raise vol.Invalid("expected a number of sensible size") from err


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise vol.Invalid("expected an integer")
    return value


def _or_null(validator: Any) -> Any:
    """null (use the default) or whatever `validator` accepts, keeping its error message."""

    def check(value: Any) -> Any:
        return None if value is None else validator(value)

    return check


def _positive(validator: Any, max: float = 86_400) -> Any:
    return vol.All(validator, vol.Range(min=0, min_included=False, max=max))


def _no_nul(value: str) -> str:
    if "\0" in value:
        raise vol.Invalid("expected text without NUL characters")
    return value


_STR = vol.All(str, vol.Length(min=1), _no_nul)

_VOICE_PROFILE = vol.Schema(
    {
        vol.Required("name"): vol.All(
            _STR,
            vol.Length(max=64),
            vol.Match(r"[A-Za-z0-9_.-]+\Z", msg="expected letters, digits, '_', '.' or '-'"),
        ),
        vol.Optional("speaker", default=0): vol.All(_int, vol.Range(min=0, max=MAX_SPEAKER)),
        vol.Optional("reference_audio"): _existing_file,
        vol.Optional("reference_text"): _STR,
    }
)

SCHEMA = vol.Schema(
    {
        vol.Optional("server", default={}): {
            vol.Optional("uri"): _checked(_tcp_uri),
            vol.Optional("zeroconf", default={}): vol.All(
                _zeroconf_shorthand,
                {
                    vol.Optional("enabled"): bool,
                    vol.Optional("name"): vol.All(_STR, _checked(_zeroconf_name)),
                    vol.Optional("host"): _or_null(_checked(_ipv4_address)),
                },
            ),
            vol.Optional("samples_per_chunk"): vol.All(_int, vol.Range(min=64, max=96000)),
            vol.Optional("output_rate"): _output_rate,
            vol.Optional("max_text_chars"): vol.All(_int, vol.Range(min=1, max=10_000_000)),
            vol.Optional("max_connections"): vol.All(_int, vol.Range(min=1, max=100_000)),
            vol.Optional("max_event_bytes"): vol.All(_int, vol.Range(min=1024, max=1 << 30)),
            vol.Optional("max_pending_requests"): vol.All(_int, vol.Range(min=1, max=1000)),
            vol.Optional("read_timeout_s"): _positive(_number),
            vol.Optional("idle_timeout_s"): _positive(_number),
            vol.Optional("write_timeout_s"): _positive(_number),
            vol.Optional("shutdown_grace_s"): vol.All(_number, vol.Range(min=0, max=3600)),
            vol.Optional("max_stream_s"): vol.All(_number, vol.Range(min=1, max=86400)),
            vol.Optional("stream_pause_s"): _positive(_number),
            vol.Optional("data_dir"): _STR,
        },
        vol.Optional("tts", default={}): {
            vol.Optional("backend"): _engine,
            vol.Optional("fallback"): _fallback,
            vol.Optional("engines"): vol.All([_engine], vol.Length(min=1)),
            vol.Optional("styles"): vol.All([STYLE_SCHEMA], vol.Length(max=100)),
            vol.Optional("clean_text"): bool,
            vol.Optional("code_phrase"): vol.All(str, vol.Length(max=100), _checked(_no_control)),
            vol.Optional("keep_emoji"): bool,
        },
        vol.Optional("edge", default={}): {
            vol.Optional("voice"): _checked(check_edge_voice),
            vol.Optional("rate"): _checked(check_rate),
            vol.Optional("volume"): _checked(check_volume),
            vol.Optional("pitch"): _checked(check_pitch),
            vol.Optional("proxy"): _or_null(_checked(_proxy_url)),
            vol.Optional("timeout_s"): _positive(_number, max=300),
            vol.Optional("voice_list_timeout_s"): _positive(_number, max=300),
            vol.Optional("endpoint"): vol.Any(
                None, vol.Match(r"https?://[^/\s]+\Z", msg="expected http(s)://HOST:PORT")
            ),
        },
        vol.Optional("csm", default={}): {
            vol.Optional("model"): vol.All(_STR, _checked(_no_control)),
            vol.Optional("device"): vol.Any("auto", "cuda", "cpu", vol.Match(r"cuda:\d{1,3}\Z")),
            vol.Optional("dtype"): vol.Any("bfloat16", "float16", "float32"),
            vol.Optional("speaker"): vol.All(_int, vol.Range(min=0, max=MAX_SPEAKER)),
            vol.Optional("max_audio_s"): vol.All(_number, vol.Range(min=0.5, max=160)),
            vol.Optional("temperature"): _or_null(vol.All(_number, vol.Range(min=0, max=5))),
            vol.Optional("top_k"): _or_null(vol.All(_int, vol.Range(min=0, max=1_000_000))),
            vol.Optional("top_p"): _or_null(vol.All(_number, vol.Range(min=0, max=1))),
            vol.Optional("chunk_frames"): vol.All(_int, vol.Range(min=1, max=50)),
            vol.Optional("preload"): bool,
            vol.Optional("compile"): vol.Any("auto", bool),
            vol.Optional("cuda_graphs"): bool,
            vol.Optional("continuity"): bool,
            vol.Optional("max_batch"): vol.All(_int, vol.Range(min=1, max=64)),
            vol.Optional("anchor_speakers"): bool,
            vol.Optional("queue_timeout_s"): vol.All(_number, vol.Range(min=0.1, max=600)),
            vol.Optional("unload_after_s"): _or_null(_positive(_number)),
            vol.Optional("voices"): [_VOICE_PROFILE],
            vol.Optional("voice_uploads"): bool,
            vol.Optional("max_voices"): vol.All(_int, vol.Range(min=1, max=MAX_VOICES)),
        },
    }
)


def format_invalid(
    error: vol.Invalid, raw: Mapping[str, Any], sources: Mapping[str, str] | None = None
) -> str:
    """One line naming where the bad value came from (config key, environment variable or flag).

    `sources` maps a key's dotted path to the variable or flag that set it. The value is echoed
    shortened and escaped, never rendered whole (it may be nested or aliased without end).
    """
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
    shown = value is not None and not isinstance(value, Mapping) and path not in _SECRET_KEYS
    got = f" (got {_echo_value(value)})" if shown else ""
    source = (sources or {}).get(path)
    where = f"{source} (config key {path})" if source else f"config key {path}"
    return f"{where}: {message}{got}"


_SECRET_KEYS = {"edge.proxy"}  # may hold a password


def _echo_value(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"a number of about {int(value.bit_length() * 0.30103)} digits"
    return echo(value)
