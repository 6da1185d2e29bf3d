"""Wyoming events on the wire, with size limits and timeouts on every wait.

The wyoming library's reader has neither: a bad header could make us buffer gigabytes, and a client
that sends half an event (or never reads) would hold its connection forever.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from wyoming.event import Event
from wyoming.version import __version__ as wyoming_version

from wyoming_verba.protocol.echo import echo, kind_of
from wyoming_verba.protocol.errors import VerbaError


class ProtocolError(VerbaError):
    """The client sent something that is not a valid Wyoming event; the message says what."""

    code = "protocol"


class ReadTimeoutError(ProtocolError):
    """An event was started but not completed in time (server.read_timeout_s)."""

    code = "read-timeout"


class WriteStalledError(ConnectionError):
    """The client read nothing for server.write_timeout_s; it is treated as gone."""


def _length(header: dict[str, Any], key: str, limit: int) -> int:
    value = header.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProtocolError(f"{key} must be a non-negative whole number (got {echo(value)})")
    if value > limit:
        raise ProtocolError(f"{key} {value} is larger than this server accepts ({limit} bytes)")
    return value


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        # Strict UTF-8 first: json.loads(bytes) would let raw lone surrogates (ED A0 80) through.
        value = json.loads(raw.decode("utf-8"))
    except ValueError as err:
        raise ProtocolError(f"{what} is not UTF-8 JSON") from err
    except RecursionError as err:
        raise ProtocolError(f"{what} is nested too deeply") from err
    if not isinstance(value, dict):
        raise ProtocolError(f"{what} must be a JSON object (got {kind_of(value)})")
    return value


async def read_event(
    reader: asyncio.StreamReader,
    first: bytes,
    max_bytes: int,
    timeout_s: float,
    payload_limits: Mapping[str, int] | None = None,
) -> Event | None:
    """Read the rest of an event whose first byte was `first`, within `timeout_s` seconds.

    `payload_limits` gives some event types a payload bound of their own instead of `max_bytes`
    (a voice clip upload is larger than any other event). None when the client closed the
    connection mid-event; ProtocolError for anything malformed,
    oversized or late (ReadTimeoutError).
    """
    try:
        async with asyncio.timeout(timeout_s):
            return await _read_rest(reader, first, max_bytes, payload_limits or {})
    except TimeoutError as err:
        raise ReadTimeoutError(
            f"an event was started but not completed within {timeout_s:g} s (server.read_timeout_s)"
        ) from err


async def _read_rest(
    reader: asyncio.StreamReader, first: bytes, max_bytes: int, payload_limits: Mapping[str, int]
) -> Event | None:
    try:
        line = first if first == b"\n" else first + await reader.readline()
    except (asyncio.LimitOverrunError, ValueError) as err:
        raise ProtocolError("event header line is too long") from err
    if not line.endswith(b"\n"):
        return None  # connection closed mid-header
    header = _json_object(line, "event header")
    if not isinstance(header.get("type"), str):
        raise ProtocolError("event header must have a 'type' string")
    data_length = _length(header, "data_length", max_bytes)
    payload_limit = payload_limits.get(header["type"], max_bytes)
    payload_length = _length(header, "payload_length", payload_limit)
    data = header.get("data")
    if data is None:
        data = {}
    elif not isinstance(data, dict):
        raise ProtocolError(f"event data must be a JSON object (got {kind_of(data)})")
    try:
        if data_length:
            data.update(_json_object(await reader.readexactly(data_length), "event data"))
        payload = await reader.readexactly(payload_length) if payload_length else None
    except asyncio.IncompleteReadError:
        return None
    return Event(type=header["type"], data=data, payload=payload)


def encode_event(event: Event) -> list[bytes]:
    """The wire form of an event: header line, data, payload (as the wyoming library writes it)."""
    header: dict[str, Any] = {"type": event.type, "version": wyoming_version}
    parts: list[bytes] = []
    if event.data:
        parts.append(_json_bytes(event.data))
        header["data_length"] = len(parts[0])
    if event.payload:
        parts.append(event.payload)
        header["payload_length"] = len(event.payload)
    return [_json_bytes(header) + b"\n", *parts]


def _json_bytes(value: dict[str, Any]) -> bytes:
    try:
        return json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate slipped into a message: \u-escape it rather than fail the write.
        return json.dumps(value).encode("ascii")


async def write_event(writer: asyncio.StreamWriter, event: Event, timeout_s: float) -> None:
    """Send an event; WriteStalledError when the client reads nothing for `timeout_s` seconds."""
    writer.writelines(encode_event(event))
    try:
        async with asyncio.timeout(timeout_s):
            await writer.drain()
    except TimeoutError as err:
        raise WriteStalledError(
            f"the client read nothing for {timeout_s:g} s (server.write_timeout_s)"
        ) from err
