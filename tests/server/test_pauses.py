"""An LLM reply that pauses mid-sentence (a slow tool call): everything is spoken, and what came
before the pause is heard during it, on both engines."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from wyoming.client import AsyncClient
from wyoming.event import Event
from wyoming.tts import SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

from tests.fakes.fake_edge import FakeEdgeService, decoded_samples
from tests.support.process import LogDrain, fake_edge_process, server_process
from tests.support.serving import ServerFactory, merge, uri_of
from wyoming_verba.engines.csm.generation.reply import frame_budget

BEFORE = "The weather today is sunny. Let me check the"  # then the LLM calls a tool
AFTER = " forecast for tomorrow."
FIRST, SECOND = "The weather today is sunny.", "Let me check the forecast for tomorrow."
EDGE_VOICE = "en-US-AriaNeural"


def csm_samples(sentence: str) -> int:
    return frame_budget(sentence, 8) * 1920  # the tiny greedy model speaks its whole budget


class PausingClient:
    """Streams BEFORE, pauses, then AFTER and stop; counts the audio as it arrives."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.samples = 0
        self.events: list[Event] = []

    async def start(self, voice: str | None) -> None:
        named = SynthesizeVoice(name=voice) if voice else None
        await self.client.write_event(SynthesizeStart(voice=named).event())
        await self.client.write_event(SynthesizeChunk(BEFORE).event())

    async def read_samples(self, count: int, timeout: float) -> None:
        """Read until `count` samples came (AssertionError if not within `timeout`)."""
        async with asyncio.timeout(timeout):
            while self.samples < count:
                await self._read_one()

    async def finish(self) -> None:
        await self.client.write_event(SynthesizeChunk(AFTER).event())
        await self.client.write_event(SynthesizeStop().event())
        while not self.events or self.events[-1].type != "synthesize-stopped":
            await asyncio.wait_for(self._read_one(), 60)

    async def _read_one(self) -> None:
        event = await self.client.read_event()
        assert event is not None, f"closed after {[e.type for e in self.events]}"
        self.events.append(event)
        if event.type == "audio-chunk":
            self.samples += len(event.payload or b"") // 2

    def errors(self) -> list[Any]:
        return [e.data for e in self.events if e.type == "error"]


async def pause_and_finish(
    uri: str, voice: str | None, first: int, total: int, pause_s: float
) -> PausingClient:
    async with AsyncClient.from_uri(uri) as client:
        speaker = PausingClient(client)
        paused_at = time.monotonic()
        await speaker.start(voice)
        # The whole first sentence is heard during the pause, its last short chunk included.
        await speaker.read_samples(first, timeout=pause_s * 0.8)
        await asyncio.sleep(paused_at + pause_s - time.monotonic())
        assert speaker.samples == first  # nothing more until the text goes on
        await speaker.finish()
        assert speaker.errors() == [] and speaker.samples == total
        return speaker


async def test_edge_pause_longer_than_the_idle_timeout(
    start_server: ServerFactory, fake_edge: FakeEdgeService
) -> None:
    server = await start_server({"server": {"idle_timeout_s": 0.3, "stream_pause_s": 20}})
    first = decoded_samples(fake_edge.mp3_for(FIRST, EDGE_VOICE))
    total = first + decoded_samples(fake_edge.mp3_for(SECOND, EDGE_VOICE))
    await pause_and_finish(uri_of(server), None, first, total, pause_s=3)
    assert [r.text for r in fake_edge.requests] == [FIRST, SECOND]


async def test_csm_pause_longer_than_the_idle_timeout(
    start_server: ServerFactory, csm_config: dict[str, Any]
) -> None:
    config = merge(csm_config, {"server": {"idle_timeout_s": 0.3, "stream_pause_s": 30}})
    server = await start_server(merge(config, {"csm": {"anchor_speakers": False}}))
    await server.service.engines["csm"].ready()
    first, second = csm_samples(FIRST), csm_samples(SECOND)
    assert first % 1024  # the first sentence ends in a short chunk: the one a pause held back
    await pause_and_finish(uri_of(server), None, first, first + second, pause_s=4)


async def test_a_pause_past_stream_pause_s_ends_the_stream_speaking_what_came(
    start_server: ServerFactory, fake_edge: FakeEdgeService
) -> None:
    server = await start_server({"server": {"idle_timeout_s": 5, "stream_pause_s": 0.5}})
    async with AsyncClient.from_uri(uri_of(server)) as client:
        speaker = PausingClient(client)
        await speaker.start(None)
        while not speaker.events or speaker.events[-1].type != "synthesize-stopped":
            await asyncio.wait_for(speaker._read_one(), 10)
    (error,) = speaker.errors()
    assert "server.stream_pause_s" in error["text"]
    assert [r.text for r in fake_edge.requests] == [FIRST, "Let me check the"]


@pytest.mark.timeout(240)
def test_a_45_s_pause_on_the_real_server_with_default_timeouts(
    tmp_path: Path, tiny_csm_dir: Path
) -> None:
    """Both engines at once in one server process, with the default idle timeout (30 s)."""
    with fake_edge_process() as edge_url:
        config = {
            "server": {"uri": "tcp://127.0.0.1:0", "zeroconf": False, "data_dir": str(tmp_path)},
            "tts": {"backend": "csm", "fallback": "edge", "engines": ["csm", "edge"]},
            "edge": {"endpoint": edge_url},
            "csm": {"model": str(tiny_csm_dir), "device": "cpu", "temperature": 0},
        }
        config["csm"].update({"max_audio_s": 8, "anchor_speakers": False})
        with server_process(tmp_path, config) as (process, port, log):
            drain = LogDrain(process)
            deadline = time.monotonic() + 120
            while "CSM ready" not in log + "".join(drain.lines):
                assert time.monotonic() < deadline, "CSM did not load"
                time.sleep(0.2)
            uri = f"tcp://127.0.0.1:{port}"
            csm = (csm_samples(FIRST), csm_samples(FIRST) + csm_samples(SECOND))
            with urllib.request.urlopen(f"{edge_url}/requests") as response:
                assert json.loads(response.read()) == []

            async def both() -> None:
                edge_first = asyncio.create_task(edge_reply(uri, edge_url))
                await pause_and_finish(uri, None, *csm, pause_s=45)
                await edge_first

            asyncio.run(both())
    lines = [line for line in drain.lines if "wyoming_verba.request" in line]
    assert len(lines) == 2 and all("synthesize ok" in line for line in lines), lines


async def edge_reply(uri: str, edge_url: str) -> None:
    """The Edge half of the 45 s test; the fake's own report gives the expected samples."""
    async with AsyncClient.from_uri(uri) as client:
        speaker = PausingClient(client)
        await speaker.start(f"edge:{EDGE_VOICE}")
        await speaker.read_samples(1, timeout=20)  # the fake has the first sentence by now
        (first,) = await asyncio.to_thread(_fake_requests, edge_url)
        await speaker.read_samples(first["samples"], timeout=20)
        await asyncio.sleep(45)
        assert speaker.samples == first["samples"]
        await speaker.finish()
    requests = await asyncio.to_thread(_fake_requests, edge_url)
    assert [r["text"] for r in requests] == [FIRST, SECOND]
    assert speaker.errors() == [] and speaker.samples == sum(r["samples"] for r in requests)


def _fake_requests(edge_url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{edge_url}/requests") as response:
        result: list[dict[str, Any]] = json.loads(response.read())
        return result
