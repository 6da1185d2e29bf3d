"""Broken and hostile clients: every wait timed out, slots freed, memory bounded (real server)."""

from __future__ import annotations

import asyncio
import time

import pytest
from wyoming.client import AsyncClient
from wyoming.info import Describe
from wyoming.tts import Synthesize

from tests.fakes.fake_edge import FakeEdgeService, decoded_samples
from tests.support.raw import RawClient, wire
from tests.support.serving import ServerFactory, read_until, types_of, uri_of

LONG_TEXT = "This sentence is here to make a lot of audio for a client that never reads. " * 50


async def assert_served(port: int, fake: FakeEdgeService, text: str = "Still here.") -> None:
    async with AsyncClient.from_uri(f"tcp://127.0.0.1:{port}") as client:
        await client.write_event(Synthesize(text).event())
        events = await read_until(client, "audio-stop", timeout=10)
    assert types_of(events) == ["audio-start", "audio-chunk", "audio-stop"]
    expected = decoded_samples(fake.mp3_for(text, "en-US-AriaNeural"))
    assert sum(len(e.payload or b"") for e in events) // 2 == expected


@pytest.mark.parametrize(
    "partial",
    [
        b'{"type": "synthe',  # half a header
        wire("synthesize", {"text": "Hi."})[:-5],  # header complete, data cut short
        b"{",
    ],
)
async def test_a_half_sent_event_times_out(
    start_server: ServerFactory, fake_edge: FakeEdgeService, partial: bytes
) -> None:
    server = await start_server({"server": {"read_timeout_s": 0.3, "max_connections": 1}})
    client = await RawClient.connect(server.port)
    started = time.monotonic()
    await client.send(partial)
    events = await client.read_to_close()
    assert 0.25 < time.monotonic() - started < 3
    assert [(e.type, e.data["code"]) for e in events] == [("error", "read-timeout")]
    assert "server.read_timeout_s" in events[0].data["text"]
    await assert_served(server.port, fake_edge)  # the only slot is free again


async def test_a_silent_connection_is_closed_when_idle(start_server: ServerFactory) -> None:
    server = await start_server({"server": {"idle_timeout_s": 0.5}})
    client = await RawClient.connect(server.port)
    started = time.monotonic()
    events = await client.read_to_close()
    assert 0.45 < time.monotonic() - started < 3
    assert [(e.type, e.data["code"]) for e in events] == [("error", "idle-timeout")]
    assert "server.idle_timeout_s" in events[0].data["text"]


async def test_each_event_restarts_the_idle_clock(start_server: ServerFactory) -> None:
    server = await start_server({"server": {"idle_timeout_s": 0.6}})
    async with AsyncClient.from_uri(uri_of(server)) as client:
        for _ in range(4):  # 1.2 s in all, never 0.6 s silent
            await asyncio.sleep(0.3)
            await client.write_event(Describe().event())
            assert (await read_until(client, "info"))[-1].type == "info"
        started = time.monotonic()
        events = await read_until(client, "error", timeout=5)
        assert events[-1].data["code"] == "idle-timeout"
        assert 0.5 < time.monotonic() - started < 3


async def test_a_request_longer_than_the_idle_timeout_is_served(
    start_server: ServerFactory,
) -> None:
    fake = FakeEdgeService(realtime=True)
    await fake.start()
    try:
        server = await start_server(
            {"server": {"idle_timeout_s": 0.3}, "edge": {"endpoint": fake.url}}
        )
        async with AsyncClient.from_uri(uri_of(server)) as client:
            started = time.monotonic()
            await client.write_event(Synthesize("A sentence that takes about two seconds.").event())
            events = await read_until(client, "audio-stop")
            assert time.monotonic() - started > 1
            assert types_of(events) == ["audio-start", "audio-chunk", "audio-stop"]
            assert sum(len(e.payload or b"") for e in events) // 2 == decoded_samples(
                fake.requests[0].mp3
            )
            assert (await read_until(client, "error"))[-1].data["code"] == "idle-timeout"
    finally:
        await fake.stop()


async def test_an_open_stream_without_text_ends_after_the_pause_bound(
    start_server: ServerFactory, fake_edge: FakeEdgeService
) -> None:
    server = await start_server({"server": {"idle_timeout_s": 0.2, "stream_pause_s": 1.0}})
    client = await RawClient.connect(server.port)
    await client.send(
        wire("synthesize-start", {}) + wire("synthesize-chunk", {"text": "Hello there. And"})
    )
    events = await client.read_to_close()
    kinds = [e.type for e in events]
    assert kinds[0] == "audio-start" and set(kinds[1:-3]) == {"audio-chunk"}
    assert kinds[-3:] == ["error", "audio-stop", "synthesize-stopped"]
    assert events[-3].data["code"] == "idle-timeout"
    assert "server.stream_pause_s" in events[-3].data["text"]
    # The unfinished sentence is spoken too: nothing the client sent is lost.
    assert [r.text for r in fake_edge.requests] == ["Hello there.", "And"]


async def test_a_client_that_never_reads_is_dropped_and_its_synthesis_cancelled(
    start_server: ServerFactory, fake_edge: FakeEdgeService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    server = await start_server({"server": {"write_timeout_s": 0.5, "max_connections": 1}})
    client = await RawClient.connect(server.port, receive_buffer=4096)
    started = time.monotonic()
    await client.send(wire("synthesize", {"text": LONG_TEXT}))
    while not any("Dropping a client" in r.getMessage() for r in caplog.records):
        assert time.monotonic() - started < 20, "never dropped"
        await asyncio.sleep(0.05)
    dropped = time.monotonic() - started
    sentences = len(fake_edge.requests)
    await asyncio.sleep(0.3)
    # Synthesis stopped with the client: no more of the text's 50 sentences were requested.
    assert len(fake_edge.requests) == sentences < 50
    assert dropped > 0.5
    await assert_served(server.port, fake_edge)  # the only slot is free again
    assert "server.write_timeout_s" in next(
        r.getMessage() for r in caplog.records if "Dropping a client" in r.getMessage()
    )
    assert any("synthesize cancelled" in r.getMessage() for r in caplog.records)
    client.close()


async def test_stalled_connections_do_not_lock_out_real_clients(
    start_server: ServerFactory, fake_edge: FakeEdgeService
) -> None:
    # Long timeouts: the stalled connections are still there when the real client arrives.
    server = await start_server({"server": {"max_connections": 32, "read_timeout_s": 60}})
    stalled = [await RawClient.connect(server.port) for _ in range(32)]
    for client in stalled[16:]:
        await client.send(b'{"type": "describe", "da')  # half a header
    await asyncio.sleep(0.1)
    started = time.monotonic()
    for _ in range(3):
        await assert_served(server.port, fake_edge)
        async with AsyncClient.from_uri(uri_of(server)) as client:
            await client.write_event(Describe().event())
            await read_until(client, "info")
    assert time.monotonic() - started < 5
    # The first new client made room by closing the connection idle longest, with a reason.
    events = await stalled[0].read_to_close(timeout=5)
    assert [(e.type, e.data["code"]) for e in events] == [("error", "evicted")]
    assert "server.max_connections" in events[0].data["text"]
    for client in stalled:
        client.close()


async def test_connections_with_requests_in_progress_are_not_evicted(
    start_server: ServerFactory,
) -> None:
    fake = FakeEdgeService(realtime=True)
    await fake.start()
    try:
        server = await start_server(
            {"server": {"max_connections": 2, "write_timeout_s": 5}, "edge": {"endpoint": fake.url}}
        )
        busy = [await RawClient.connect(server.port) for _ in range(2)]
        for client in busy:
            await client.send(wire("synthesize", {"text": "A slow sentence to keep it busy."}))
            await client.read_until("audio-chunk")
        refused = await RawClient.connect(server.port)
        events = await refused.read_to_close()
        assert [(e.type, e.data["code"]) for e in events] == [("error", "busy")]
        assert "server.max_connections" in events[0].data["text"]
        for client in busy:  # the admitted clients are unaffected
            assert (await client.read_until("audio-stop"))[-1].type == "audio-stop"
            client.close()
    finally:
        await fake.stop()


async def test_pipelined_requests_are_read_only_as_fast_as_they_are_served(
    start_server: ServerFactory, fake_edge: FakeEdgeService
) -> None:
    server = await start_server({"server": {"max_pending_requests": 2}, "edge": {"timeout_s": 1.0}})
    client = await RawClient.connect(server.port)
    # The first request stalls the engine for edge.timeout_s (1 s); 40 more wait behind it,
    # each padded to 500 kB with a field the server ignores.
    first = wire("synthesize", {"text": "STALL here."})
    padding = "x" * 500_000
    rest = [wire("synthesize", {"text": f"Number {i}.", "pad": padding}) for i in range(40)]
    client.writer.write(first + b"".join(rest))
    await asyncio.sleep(0.6)
    # The server stopped reading after max_pending_requests: most bytes still wait at the client.
    assert client.writer.transport.get_write_buffer_size() > 10_000_000
    events = await client.read_until("audio-stop", timeout=10)
    assert events[-2].type == "error" and events[-2].data["code"] == "synthesis-failed"
    for i in range(40):  # then every request is answered, in order
        events = await client.read_until("audio-stop", timeout=10)
        assert types_of(events) == ["audio-start", "audio-chunk", "audio-stop"], i
    assert [r.text for r in fake_edge.requests[1:]] == [f"Number {i}." for i in range(40)]
    client.close()
