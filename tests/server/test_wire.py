"""The wire format on its own: what we write, what we accept, and how client values are echoed."""

from __future__ import annotations

import asyncio
import json

import pytest
from wyoming.audio import AudioChunk
from wyoming.error import Error
from wyoming.event import async_read_event

from wyoming_verba.protocol.echo import echo, one_line
from wyoming_verba.server.wire import ProtocolError, ReadTimeoutError, encode_event, read_event


async def read_back(raw: bytes) -> object:
    reader = asyncio.StreamReader()
    reader.feed_data(raw)
    reader.feed_eof()
    return await async_read_event(reader)


async def test_events_we_write_are_read_by_the_wyoming_library() -> None:
    chunk = AudioChunk(24000, 2, 1, b"\x01\x02" * 10).event()
    back = await read_back(b"".join(encode_event(chunk)))
    assert back == chunk


async def test_a_lone_surrogate_in_our_own_text_is_escaped_not_a_crash() -> None:
    parts = encode_event(Error(text="bad \ud800 value").event())
    back = await read_back(b"".join(parts))
    assert back is not None and back.data["text"] == "bad \ud800 value"  # type: ignore[attr-defined]
    json.loads(parts[1])  # still valid JSON


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"type": "x", "data_length": "12"}\n', "data_length must be a non-negative"),
        (b'{"type": "x", "data": [1]}\n', "event data must be a JSON object (got a list)"),
        (b'{"type": 5}\n', "must have a 'type' string"),
        (b'{"type": "x", "data_length": 3}\n[1]', "must be a JSON object (got a list)"),
    ],
)
async def test_malformed_events_are_protocol_errors(raw: bytes, message: str) -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(raw[1:])
    with pytest.raises(ProtocolError, match=message.replace("(", r"\(").replace(")", r"\)")):
        await read_event(reader, raw[:1], 1000, 1)


async def test_a_started_event_must_complete_in_time() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(b'"type": "describe"')  # no newline: the header never ends
    with pytest.raises(ReadTimeoutError, match=r"within 0\.1 s \(server\.read_timeout_s\)"):
        await read_event(reader, b"{", 1000, 0.1)


def test_echo_shortens_escapes_and_never_renders_containers() -> None:
    assert echo("edge:x\n\x1b[2J") == "'edge:x\\n\\x1b[2J'"
    assert echo("y" * 100) == f"'{'y' * 60}'… (100 characters)"
    assert echo("\ud800") == "'\\ud800'"
    assert echo(1.5) == "1.5" and echo(True) == "True" and echo(None) == "None"
    nested: list[object] = []
    for _ in range(100_000):
        nested = [nested]
    assert echo(nested) == "a list" and echo({"a": nested}) == "an object"
    assert one_line("two\nlines\r\x00") == "two\\nlines\\r\\x00"
