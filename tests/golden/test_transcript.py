"""A golden transcript of the wire: what a real server process sends for four exchanges.

Recorded on the tree before the restructuring (issue 24) and kept byte for byte since: Describe →
Info, a synthesize against the fake Edge, a refused `verba-voice-create` (uploads are off), and a
synthesize whose `context.verba` option is refused. Headers and data are compared as sent; each
payload by its length and SHA-256. Rewrite the file with VERBA_GOLDEN_WRITE=1 only when a change
of what goes on the wire is intended, and say so in the change.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from pathlib import Path

from tests.support.process import fake_edge_process, server_process

GOLDEN = Path(__file__).with_name("transcript.txt")
SERVER_ID = "0123456789abcdef0123456789abcdef"
CLIP = b"\x00\x10" * 24000  # 1 s of 16-bit mono PCM at 24 kHz

EXCHANGES: list[tuple[str, dict[str, object], bytes, str]] = [
    ("describe", {}, b"", "info"),
    (
        "synthesize",
        {"text": "Hello there. How are you?", "voice": {"name": "edge:en-US-GuyNeural"}},
        b"",
        "audio-stop",
    ),
    (
        "verba-voice-create",
        {"name": "grandma", "transcript": "Hello.", "rate": 24000, "width": 2, "channels": 1},
        CLIP,
        "error",
    ),
    ("synthesize", {"text": "Hi.", "context": {"verba": {"rate": "+500%"}}}, b"", "error"),
]


def frame(event_type: str, data: dict[str, object], payload: bytes) -> bytes:
    """One event as the wyoming library writes it: header line, data, payload."""
    body = json.dumps(data, ensure_ascii=False).encode() if data else b""
    header: dict[str, object] = {"type": event_type, "version": "1.5.4"}
    if body:
        header["data_length"] = len(body)
    if payload:
        header["payload_length"] = len(payload)
    return json.dumps(header).encode() + b"\n" + body + payload


async def exchange(port: int, sent: bytes, last: str) -> list[str]:
    """Send one event on a new connection; each event received, as text, up to `last`."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(sent)
    await writer.drain()
    lines: list[str] = []
    try:
        while True:
            header_line = await asyncio.wait_for(reader.readline(), 30)
            assert header_line, f"closed after {lines}"
            header = json.loads(header_line)
            data = await reader.readexactly(header.get("data_length") or 0)
            payload = await reader.readexactly(header.get("payload_length") or 0)
            lines.append(header_line.decode().rstrip("\n"))
            if data:
                lines.append("  data " + data.decode())
            if payload:
                digest = hashlib.sha256(payload).hexdigest()
                lines.append(f"  payload {len(payload)} sha256:{digest}")
            if header["type"] == last:
                return lines
    finally:
        writer.close()


async def transcript(port: int) -> str:
    parts: list[str] = []
    for event_type, data, payload, last in EXCHANGES:
        parts.append(f"> {event_type} {json.dumps(data)}")
        parts.extend(await exchange(port, frame(event_type, data, payload), last))
    return "\n".join(parts) + "\n"


def test_the_wire_transcript_is_unchanged(tmp_path: Path) -> None:
    (tmp_path / "server_id").write_text(SERVER_ID)  # the id Info carries, fixed
    with fake_edge_process() as edge_url:
        config = {
            "server": {"uri": "tcp://127.0.0.1:0", "zeroconf": False, "data_dir": str(tmp_path)},
            "edge": {"endpoint": edge_url, "voice_list_timeout_s": 5},
        }
        with server_process(tmp_path, config) as (_process, port, _log):
            got = asyncio.run(transcript(port))
    if os.environ.get("VERBA_GOLDEN_WRITE") == "1":
        GOLDEN.write_text(got)
    assert got == GOLDEN.read_text()
