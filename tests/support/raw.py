"""A raw TCP client for tests that must send what the wyoming library's client never would."""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RawEvent:
    """An event as received: type, data and payload size."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)
    payload_bytes: int = 0


def wire(event_type: str, data: dict[str, Any] | None = None) -> bytes:
    """One event in the wire format (header line plus data)."""
    header: dict[str, Any] = {"type": event_type}
    body = b""
    if data is not None:
        body = json.dumps(data).encode()
        header["data_length"] = len(body)
    return json.dumps(header).encode() + b"\n" + body


class RawClient:
    """A connection that sends raw bytes and reads events (or nothing at all)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int, receive_buffer: int | None = None) -> RawClient:
        """Connect to 127.0.0.1:port; a small receive_buffer makes a non-reading client stall fast."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read_event(self, timeout: float = 10) -> RawEvent | None:
        """The next event, or None when the server closed the connection."""
        async with asyncio.timeout(timeout):
            line = await self.reader.readline()
            if not line:
                return None
            header = json.loads(line)
            data = header.get("data") or {}
            if header.get("data_length"):
                data.update(json.loads(await self.reader.readexactly(header["data_length"])))
            payload = header.get("payload_length") or 0
            if payload:
                await self.reader.readexactly(payload)
            return RawEvent(header["type"], data, payload)

    async def read_until(self, last_type: str, timeout: float = 10) -> list[RawEvent]:
        """Events up to and including one of `last_type`."""
        events: list[RawEvent] = []
        while True:
            event = await self.read_event(timeout)
            assert event is not None, f"closed after {[e.type for e in events]}"
            events.append(event)
            if event.type == last_type:
                return events

    async def read_to_close(self, timeout: float = 10) -> list[RawEvent]:
        """Every event until the server closes the connection."""
        events: list[RawEvent] = []
        try:
            while (event := await self.read_event(timeout)) is not None:
                events.append(event)
        except ConnectionResetError:
            pass
        return events

    def close(self) -> None:
        self.writer.close()
