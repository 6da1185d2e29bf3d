"""Hypothesis strategies for hostile config files, environment values and serve flags.

Used by tests/config/test_config_fuzz.py: whatever an operator writes, `wyoming-verba serve
--check-config` exits 0, or 2 with one line, and never prints a traceback.
"""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import strategies as st

from tests.server.wire_fuzz import JSON_VALUES

SECTIONS = {
    "server": [
        "uri", "zeroconf", "samples_per_chunk", "output_rate", "max_text_chars", "max_connections",
        "max_event_bytes", "read_timeout_s", "idle_timeout_s", "shutdown_grace_s", "data_dir",
        "stream_pause_s",
    ],
    "tts": ["backend", "fallback", "engines", "styles", "clean_text"],
    "edge": ["voice", "rate", "volume", "pitch", "proxy", "timeout_s", "endpoint"],
    "csm": ["model", "device", "speaker", "max_audio_s", "temperature", "top_k", "voices"],
}  # fmt: skip
# Values that once got through, or nearly: each one is a case from issue 18 or its neighbours.
TRICKY_VALUES = [
    float("inf"), float("nan"), -0.0, 1e300, 10**30, True, None, "", " ", "\x00", "\ud800",
    "+0%\n", "+0%", "-100%", "+201%", "+99999999Hz", "+5Hz", "en-US-AriaNeural",
    "en-US-Aria'Neural", "foo", "zh-CN-liaoning-XiaobeiNeural", "tcp://0.0.0.0:10200",
    "tcp://u:p@0.0.0.0:1/x", "tcp://127.0.0.1:99999", "tcp://[::1]:0", "http://proxy:3128",
    "http://:80", "not a url", "~nobody-here/x", "192.168.1.20", "0.0.0.0", "not an ip",
    "a\nb", "ü" * 40, "a.b", "csm", "sesame", "edge", "none", "native", 16000, 0, -1, 2**63,
    [], {}, ["edge"], [{"name": "a\nb"}], {"enabled": "yes"}, {"host": "1.2.3.4"},
    [{"name": "calm", "voice": "edge:en-US-GuyNeural", "rate": "+20%"}],
    [{"name": "calm", "voice": "csm:speaker-1", "temperature": float("nan")}],
    [{"name": "x", "voice": "csm:a"}, {"name": "x", "voice": "edge:en-US-AriaNeural"}],
    [{"name": "speaker-1", "voice": []}], [{"name": {}, "voice": "edge:x", "pitch": 10**30}],
]  # fmt: skip
_VALUES = st.one_of(st.sampled_from(TRICKY_VALUES), JSON_VALUES)
_SECTION_DATA = {
    name: st.dictionaries(st.sampled_from(keys), _VALUES, max_size=4)
    for name, keys in SECTIONS.items()
}
CONFIGS = st.fixed_dictionaries({}, optional=_SECTION_DATA)


def _dump(data: Any) -> bytes:
    return yaml.safe_dump(data, allow_unicode=True).encode("utf-8", "surrogatepass")


RAW_FILES = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(
        [
            b"edge:\n  voice: \xff\xfe\n",
            b"a: " + b"[" * 3000 + b"]" * 3000,
            b"csm: {speaker: " + b"7" * 5000 + b"}",
            b"a: &a [1, 1, 1, 1, 1, 1, 1, 1]\nb: &b [*a, *a, *a, *a, *a, *a, *a]\n"
            b"server: {uri: [*b, *b, *b, *b, *b, *b]}\n",
            b"edge: !!python/object:os.system {}\n",
            b"edge: {voice: 2001-01-01, timeout_s: !!binary aGVsbG8=}\n",
            b"server: {zeroconf: !!set {a, b}}\n",
            b"%YAML 9.9\n---\nx: 1\n",
            b"\xef\xbb\xbfserver: {}\n",
            b"- [a, b]\n",
        ]
    ),
)
CONFIG_FILES = st.one_of(CONFIGS.map(_dump), RAW_FILES)

# The environment cannot hold NUL; anything else an operator could export is fair.
_ENV_TEXT = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12),
    st.sampled_from(["²", "٣", "9" * 5000, " 4 ", "-1", "csm", "Sesame", "~nobody-here"]),
)
ENVIRONMENTS = st.fixed_dictionaries(
    {},
    optional={name: _ENV_TEXT for name in ("TTS_BACKEND", "SESAME_SPEAKER_ID", "VERBA_DATA_DIR")},
)
_FLAG_TEXT = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=12),
    st.sampled_from(["%(nope)s", "%(message)d", "%(message", "not an ip", "tcp://h:99999"]),
)


@st.composite
def serve_flags(draw: st.DrawFn) -> list[str]:
    """Flags of `serve` with hostile values (argparse itself checks --backend's choices)."""
    flags: list[str] = []
    for flag in ("--uri", "--zeroconf-host", "--zeroconf", "--log-format"):
        if draw(st.booleans()):
            value = draw(_FLAG_TEXT)
            flags.append(f"{flag}={value}")  # `=`: a value starting with '-' stays a value
    return flags
