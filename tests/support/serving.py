"""Helpers for tests that talk to a real server on loopback: config merging and reading events."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from wyoming.client import AsyncClient
from wyoming.event import Event

from wyoming_verba.server.server import VerbaServer

ServerFactory = Callable[..., Awaitable[VerbaServer]]


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge two config dicts."""
    result = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = value
    return result


def uri_of(server: VerbaServer) -> str:
    return f"tcp://127.0.0.1:{server.port}"


async def read_until(client: AsyncClient, last_type: str, timeout: float = 30) -> list[Event]:
    """Read events until one of `last_type` (inclusive)."""
    events: list[Event] = []
    while True:
        event = await asyncio.wait_for(client.read_event(), timeout)
        assert event is not None, f"connection closed; got {[e.type for e in events]}"
        events.append(event)
        if event.type == last_type:
            return events


def audio_of(events: list[Event]) -> bytes:
    return b"".join(e.payload or b"" for e in events if e.type == "audio-chunk")


def types_of(events: list[Event]) -> list[str]:
    """Event types with consecutive audio-chunks collapsed to one entry."""
    result: list[str] = []
    for event in events:
        if event.type == "audio-chunk" and result and result[-1] == "audio-chunk":
            continue
        result.append(event.type)
    return result
