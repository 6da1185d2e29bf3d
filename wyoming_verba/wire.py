"""Reading Wyoming events with size limits, so a bad header cannot make us buffer gigabytes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from wyoming.event import Event


class ProtocolError(Exception):
    """The client sent something that is not a valid Wyoming event; the message says what."""


def _length(header: dict[str, Any], key: str, limit: int) -> int:
    value = header.get(key) or 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProtocolError(f"{key} must be a non-negative whole number (got {value!r})")
    if value > limit:
        raise ProtocolError(f"{key} {value} is larger than this server accepts ({limit} bytes)")
    return value


async def read_event(reader: asyncio.StreamReader, max_bytes: int) -> Event | None:
    """Read one event; None at end of stream; ProtocolError for anything malformed or oversized."""
    try:
        line = await reader.readline()
    except (asyncio.LimitOverrunError, ValueError) as err:
        raise ProtocolError("event header line is too long") from err
    if not line:
        return None
    if not line.endswith(b"\n"):
        return None  # connection closed mid-header
    try:
        header = json.loads(line)
    except ValueError as err:
        raise ProtocolError("event header is not UTF-8 JSON") from err
    if not isinstance(header, dict) or not isinstance(header.get("type"), str):
        raise ProtocolError("event header must be a JSON object with a 'type' string")
    data_length = _length(header, "data_length", max_bytes)
    payload_length = _length(header, "payload_length", max_bytes)
    data = header.get("data") or {}
    if not isinstance(data, dict):
        raise ProtocolError("event data must be a JSON object")
    try:
        if data_length:
            extra = json.loads(await reader.readexactly(data_length))
            if not isinstance(extra, dict):
                raise ProtocolError("event data must be a JSON object")
            data.update(extra)
        payload = await reader.readexactly(payload_length) if payload_length else None
    except asyncio.IncompleteReadError:
        return None
    except ValueError as err:
        raise ProtocolError("event data is not UTF-8 JSON") from err
    return Event(type=header["type"], data=data, payload=payload)
