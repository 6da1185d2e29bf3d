"""Hypothesis strategies for hostile Wyoming wire input, and one fuzz case run against a server.

Shared by tests/server/test_fuzz.py (a bounded run inside script/test) and
benchmarks/server/reliability.py (a longer run for the figures in docs/benchmarks.md).
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

from hypothesis import strategies as st

EVENT_TYPES = [
    "synthesize",
    "synthesize-start",
    "synthesize-chunk",
    "synthesize-stop",
    "describe",
    "audio-chunk",
    "transcribe",
]
VOICE_NAMES = ["edge:en-US-AriaNeural", "edge:de-DE-KatjaNeural", "csm:speaker-1", "nobody", ""]

# Any code point, lone surrogates included (json.loads accepts "\ud800").
_CHARS = st.characters(codec=None, categories=None)
_TEXT = st.one_of(
    st.text(_CHARS, max_size=40),
    st.sampled_from(["Hello there.", "Two. Sentences.", "\ud800", "a\udfffb", "\x00\n\r", ""]),
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    _TEXT,
)
JSON_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_VOICE = st.one_of(
    JSON_VALUES,
    st.fixed_dictionaries(
        {},
        optional={
            "name": st.one_of(st.sampled_from(VOICE_NAMES), JSON_VALUES),
            "speaker": st.one_of(st.sampled_from(["0", "1", " 2 ", "-1", "1.5", "x"]), JSON_VALUES),
            "language": JSON_VALUES,
        },
    ),
)
EVENT_DATA = st.fixed_dictionaries(
    {},
    optional={
        "text": st.one_of(_TEXT, JSON_VALUES),
        "voice": _VOICE,
        "context": JSON_VALUES,
        "extra": JSON_VALUES,
    },
)


def _dumps(value: Any, ascii_only: bool) -> bytes:
    # surrogatepass: raw lone surrogate bytes (ED A0 80), as a hostile client would send.
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


@st.composite
def events(draw: st.DrawFn) -> bytes:
    """One event, well-formed or broken in one of the ways a client can break it."""
    event_type = draw(st.one_of(st.sampled_from(EVENT_TYPES), _TEXT))
    data = draw(EVENT_DATA)
    ascii_only = draw(st.booleans())
    body = _dumps(data, ascii_only)
    header: dict[str, Any] = {"type": event_type}
    mode = draw(
        st.sampled_from(["normal", "inline", "bad-length", "payload", "header-junk", "deep"])
    )
    if mode == "normal":
        header["data_length"] = len(body)
    elif mode == "inline":
        header["data"], body = data, b""
    elif mode == "bad-length":
        header["data_length"] = draw(
            st.one_of(
                st.integers(min_value=-5, max_value=len(body) + 5),
                st.sampled_from([2**40, 1.5, "12", True, None, [1]]),
            )
        )
    elif mode == "payload":
        header["data_length"] = len(body)
        payload = draw(st.binary(max_size=64))
        header["payload_length"] = len(payload)
        body += payload
    elif mode == "header-junk":
        header = draw(
            st.dictionaries(st.sampled_from(["type", "data", "data_length"]), JSON_VALUES)
        )
        body = b""
    else:  # nested too deeply for json
        depth = draw(st.integers(min_value=900, max_value=5000))
        body = b"[" * depth + b"]" * depth
        header["data_length"] = len(body)
    return _dumps(header, ascii_only) + b"\n" + body


FUZZ_INPUT = st.lists(
    st.one_of(
        events(),
        events().flatmap(lambda raw: st.integers(0, len(raw)).map(lambda cut: raw[:cut])),
        st.binary(max_size=200),
    ),
    min_size=1,
    max_size=4,
).map(b"".join)

DESCRIBE = b'{"type": "describe"}\n'


def run_case(port: int, blob: bytes, deadline_s: float = 10.0) -> str:
    """Send `blob` then a Describe; 'info' if it was answered, 'closed' if the server closed.

    Raises TimeoutError if neither happened within deadline_s: the server left a client waiting.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=deadline_s) as sock:
        try:
            sock.sendall(blob + DESCRIBE)
        except OSError:
            return "closed"  # the server already dropped us (e.g. after a malformed header)
        reader = sock.makefile("rb")
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            try:
                line = reader.readline()
            except ConnectionResetError:
                return "closed"
            if not line:
                return "closed"
            header = json.loads(line)
            for key in ("data_length", "payload_length"):
                if header.get(key):
                    reader.read(header[key])
            if header["type"] == "info":
                return "info"
    raise TimeoutError(f"no answer and no close within {deadline_s} s for {blob[:200]!r}")
