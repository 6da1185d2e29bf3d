"""The request log: one INFO line per request, refused ones too; client values escaped."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from tests.support.raw import RawClient, wire
from tests.support.serving import ServerFactory
from wyoming_verba.core.text import split_sentences


async def test_client_values_are_shortened_and_escaped_in_errors_and_logs(
    start_server: ServerFactory, no_tracebacks: pytest.LogCaptureFixture
) -> None:
    no_tracebacks.set_level("DEBUG")
    server = await start_server()
    client = await RawClient.connect(server.port)
    name = "edge:" + "\n2026-01-01 INFO forged line " * 30_000  # 870 kB
    await client.send(
        wire("synthesize", {"text": "Hi.", "voice": {"name": name}})
        + wire("forged\nINFO fake: log line\r\x1b[2J")
        + wire("describe")
    )
    events = await client.read_until("audio-stop")
    if "info" not in [e.type for e in events]:  # Describe is answered at once, not queued
        events += await client.read_until("info")
    (error,) = [e for e in events if e.type == "error"]
    assert len(error.data["text"]) < 400
    assert "(870005 characters)" in error.data["text"]
    client.close()
    messages = [r.getMessage() for r in no_tracebacks.records]
    assert any("forged\\nINFO fake" in m and "\\x1b" in m for m in messages)
    assert not any("\n" in m or "\r" in m or "\x1b" in m for m in messages)
    assert max(len(m) for m in messages) < 1000


async def test_every_refused_request_logs_one_line_saying_why(
    start_server: ServerFactory, no_tracebacks: pytest.LogCaptureFixture
) -> None:
    server = await start_server({"server": {"max_text_chars": 20}})
    requests = [
        ({"text": "Hi.", "voice": {"name": "nobody"}}, "voice='nobody'", "error=unknown-voice"),
        ({"text": "Hi.", "voice": {"name": "csm:speaker-1"}}, "csm engine is not enabled", ""),
        (
            {"text": "Hi.", "voice": {"name": "edge:en-US-AriaNeural", "speaker": "x"}},
            "'voice.speaker'",
            "error=bad-request",
        ),
        ({"text": "x" * 21}, "chars=21", "error=text-too-long"),
    ]
    client = await RawClient.connect(server.port)
    for data, _, _ in requests:
        await client.send(wire("synthesize", data))
        await client.read_until("audio-stop")
    client.close()
    lines = [r.getMessage() for r in no_tracebacks.records if r.name == "wyoming_verba.request"]
    assert len(lines) == len(requests)
    for line, (_, detail, code) in zip(lines, requests, strict=True):
        assert line.startswith("synthesize refused backend=-")
        assert detail in line and code in line
        assert "first_audio_ms=- " in line and "audio_s=0.00" in line


def _request_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "wyoming_verba.request"]


async def test_chars_counts_what_was_received_and_first_audio_includes_the_split(
    start_server: ServerFactory, no_tracebacks: pytest.LogCaptureFixture
) -> None:
    # Every period may end an abbreviation ("A."): the splitter's slowest path, ~1 s here.
    text = "A. " * 40_000 + "\n\n  Then a last sentence.   "
    split_started = time.perf_counter()
    split_sentences(text)
    split_s = time.perf_counter() - split_started
    server = await start_server({"server": {"max_text_chars": len(text)}})
    client = await RawClient.connect(server.port)
    await client.send(wire("synthesize", {"text": text}))
    await client.read_until("audio-chunk", timeout=60)
    client.close()
    await _wait_for_log(no_tracebacks)
    (line,) = _request_lines(no_tracebacks)
    assert f" chars={len(text)} " in line  # received, with its spaces: not the spoken sentences
    first_audio_ms = float(re.search(r"first_audio_ms=(\d+)", line).group(1))  # type: ignore[union-attr]
    assert first_audio_ms >= split_s * 1000 / 2  # the clock starts when the request arrived


async def test_streamed_chars_count_every_chunk(
    start_server: ServerFactory, no_tracebacks: pytest.LogCaptureFixture
) -> None:
    chunks = ["Hello ", "there.   ", "\n\n", "How are you?  "]
    server = await start_server()
    client = await RawClient.connect(server.port)
    await client.send(wire("synthesize-start", {}))
    for chunk in chunks:
        await client.send(wire("synthesize-chunk", {"text": chunk}))
    await client.send(wire("synthesize-stop", {}))
    await client.read_until("synthesize-stopped")
    client.close()
    await _wait_for_log(no_tracebacks)
    (line,) = _request_lines(no_tracebacks)
    assert f" chars={sum(map(len, chunks))} " in line and line.startswith("synthesize ok")


async def _wait_for_log(caplog: pytest.LogCaptureFixture, timeout: float = 60) -> None:
    """Until the request's line is logged (a shared CI machine can take seconds to notice a
    closed connection mid-reply)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _request_lines(caplog):
            return
        await asyncio.sleep(0.05)
