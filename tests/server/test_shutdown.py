"""Graceful shutdown: active requests finish within server.shutdown_grace_s, the rest are ended
with an Error and audio-stop; on SIGTERM/SIGINT the process exits 0."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.fake_edge import FakeEdgeService, decoded_samples
from tests.support.process import fake_edge_process, read_until, server_process
from tests.support.raw import RawClient, RawEvent, wire
from tests.support.serving import ServerFactory, types_of

SENTENCE = "A sentence of one and a half seconds."  # 37 characters: 1.85 s from the fake
LONG = "This reply is long enough to outlast any grace period in these tests. " * 3


@pytest.fixture
async def slow_edge() -> AsyncIterator[FakeEdgeService]:
    fake = FakeEdgeService(realtime=True)
    await fake.start()
    yield fake
    await fake.stop()


def audio_samples(events: list[RawEvent]) -> int:
    return sum(e.payload_bytes for e in events if e.type == "audio-chunk") // 2


async def start_requests(port: int, count: int, text: str) -> list[RawClient]:
    clients = [await RawClient.connect(port) for _ in range(count)]
    for client in clients:
        await client.send(wire("synthesize", {"text": text}))
    for client in clients:
        await client.read_until("audio-chunk")
    return clients


async def test_stop_lets_requests_in_progress_finish(
    start_server: ServerFactory, slow_edge: FakeEdgeService
) -> None:
    server = await start_server({"edge": {"endpoint": slow_edge.url}})
    port = server.port
    idle = await RawClient.connect(port)
    clients = await start_requests(port, 5, SENTENCE)
    stopping = asyncio.create_task(server.stop())
    # An idle connection is closed at once; a new one is not accepted.
    assert await idle.read_to_close(timeout=2) == []
    await asyncio.sleep(0.1)
    with pytest.raises(OSError):
        await RawClient.connect(port)
    expected = decoded_samples(slow_edge.mp3_for(SENTENCE, "en-US-AriaNeural"))
    for client in clients:
        rest = await client.read_to_close(timeout=10)
        assert types_of(rest)[-2:] == ["audio-chunk", "audio-stop"]
        # (one chunk was read before the stop)
        assert expected - 4096 <= audio_samples(rest) <= expected
    await asyncio.wait_for(stopping, 5)
    assert not stopping.exception()


async def test_requests_past_the_grace_period_end_with_an_error_and_audio_stop(
    start_server: ServerFactory, slow_edge: FakeEdgeService
) -> None:
    server = await start_server(
        {"server": {"shutdown_grace_s": 0.3}, "edge": {"endpoint": slow_edge.url}}
    )
    plain = (await start_requests(server.port, 1, LONG))[0]
    stream = await RawClient.connect(server.port)
    await stream.send(wire("synthesize-start", {}) + wire("synthesize-chunk", {"text": LONG[:71]}))
    await stream.read_until("audio-chunk")
    started = time.monotonic()
    await server.stop()
    assert time.monotonic() - started < 2
    events = await plain.read_to_close(timeout=2)
    assert types_of(events)[-3:] == ["audio-chunk", "error", "audio-stop"]
    assert events[-2].data["code"] == "shutting-down"
    events = await stream.read_to_close(timeout=2)
    assert types_of(events)[-4:] == ["audio-chunk", "error", "audio-stop", "synthesize-stopped"]
    assert events[-3].data["code"] == "shutting-down"


async def test_new_requests_during_the_drain_are_refused(
    start_server: ServerFactory, slow_edge: FakeEdgeService
) -> None:
    server = await start_server({"edge": {"endpoint": slow_edge.url}})
    (client,) = await start_requests(server.port, 1, SENTENCE)
    stopping = asyncio.create_task(server.stop())
    await asyncio.sleep(0.1)
    await client.send(wire("synthesize", {"text": "One more."}))
    first = await client.read_until("audio-stop")
    assert types_of(first)[-1] == "audio-stop" and "error" not in types_of(first)
    assert [e.type for e in await client.read_to_close()] == ["error", "audio-stop"]
    await asyncio.wait_for(stopping, 5)
    assert [r.text for r in slow_edge.requests] == [SENTENCE]


async def test_a_second_signal_ends_the_grace_period(
    start_server: ServerFactory, slow_edge: FakeEdgeService
) -> None:
    server = await start_server({"edge": {"endpoint": slow_edge.url}})  # grace: 10 s
    (client,) = await start_requests(server.port, 1, LONG)
    hurry = asyncio.Event()
    started = time.monotonic()
    stopping = asyncio.create_task(server.stop(hurry))
    await asyncio.sleep(0.2)
    hurry.set()
    await asyncio.wait_for(stopping, 3)
    assert time.monotonic() - started < 2
    events = await client.read_to_close(timeout=2)
    assert types_of(events)[-2:] == ["error", "audio-stop"]


def config_for(edge_url: str, tmp_path: Path, grace: float) -> dict:  # type: ignore[type-arg]
    return {
        "server": {
            "uri": "tcp://127.0.0.1:0",
            "zeroconf": {"enabled": False},
            "data_dir": str(tmp_path / "data"),
            "shutdown_grace_s": grace,
        },
        "edge": {"endpoint": edge_url},
    }


@pytest.mark.parametrize(
    ("grace", "text", "sig"),
    [(10, SENTENCE, signal.SIGTERM), (0.5, LONG, signal.SIGTERM), (10, SENTENCE, signal.SIGINT)],
    ids=["finish", "grace-expires", "sigint"],
)
def test_a_signal_drains_twenty_streams_and_exits_0(
    tmp_path: Path, grace: float, text: str, sig: signal.Signals
) -> None:
    with (
        fake_edge_process(realtime=True) as edge_url,
        server_process(tmp_path, config_for(edge_url, tmp_path, grace)) as (process, port, _),
    ):

        async def run() -> tuple[list[list[RawEvent]], float]:
            clients = await start_requests(port, 20, text)
            started = time.monotonic()
            process.send_signal(sig)
            events = await asyncio.gather(*(c.read_to_close(timeout=15) for c in clients))
            return list(events), time.monotonic() - started

        streams, drained = asyncio.run(run())
        assert process.wait(15) == 0
        assert process.stdout is not None
        log = process.stdout.read()
        with urllib.request.urlopen(f"{edge_url}/requests") as response:
            samples = {r["text"]: r["samples"] for r in json.loads(response.read())}
    assert "Traceback" not in log and "Shutting down" in log and "Stopped" in log
    for events in streams:
        kinds = types_of(events)
        if grace == 10:  # every stream finished: all its audio, then audio-stop
            assert kinds[-2:] == ["audio-chunk", "audio-stop"] and "error" not in kinds
            assert samples[text] - 4096 <= audio_samples(events) <= samples[text]
        else:  # cut at the grace period with an Error, still ended by audio-stop
            assert kinds[-2:] == ["error", "audio-stop"]
            assert drained < grace + 3


@pytest.mark.parametrize("stage", ["Loading CSM", "Compiling the CSM frame step"])
def test_a_signal_while_csm_loads_or_compiles_exits_0_within_the_grace_period(
    tmp_path: Path, tiny_csm_dir: Path, stage: str
) -> None:
    config = {
        "server": {
            "uri": "tcp://127.0.0.1:0",
            "zeroconf": {"enabled": False},
            "data_dir": str(tmp_path / "data"),
            "shutdown_grace_s": 2,
        },
        "tts": {"backend": "csm", "fallback": "none", "engines": ["csm"]},
        "csm": {"model": str(tiny_csm_dir), "device": "cpu", "compile": True},
    }
    with server_process(tmp_path, config, env={"HF_HUB_OFFLINE": "1"}) as (process, _, start):
        log = start if stage in start else start + read_until(process, stage, 60)[1]
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = process.wait(30)
        took = time.monotonic() - started
        assert process.stdout is not None
        log += process.stdout.read()
    assert code == 0, log[-2000:]
    assert took < 2 + 5, f"exit took {took:.1f} s"
    assert "Traceback" not in log and "terminate called" not in log and "Stopped" in log
