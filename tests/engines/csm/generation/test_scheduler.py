"""No client holds CSM hostage (real server, tiny CSM, fake Edge): a stream takes a slot only
when a sentence is ready, and a request that cannot get one in csm.queue_timeout_s is served by
tts.fallback, or told why."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from wyoming.client import AsyncClient
from wyoming.event import Event
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeVoice,
)

from tests.fakes.fake_edge import FakeEdgeService, decoded_samples
from tests.support.serving import ServerFactory, audio_of, merge, read_until, types_of, uri_of
from wyoming_verba.core.text import split_sentences
from wyoming_verba.engines.csm.generation.reply import frame_budget
from wyoming_verba.engines.csm.model.step import FrameStep
from wyoming_verba.server.server import VerbaServer

CSM = SynthesizeVoice("csm:speaker-0")
LONG = (
    "This first sentence is long enough to keep the only slot busy for a while. "
    "And here comes a second sentence that is about as long as the first one was. "
    "A third one follows, so the reply holds its slot for several seconds."
)


async def ready(server: Any) -> Any:
    engine = server.service.engines["csm"]
    await engine.ready()
    return engine


@contextlib.asynccontextmanager
async def trickling(uri: str, text: str) -> AsyncIterator[AsyncClient]:
    """A client that opens a CSM stream and sends `text` every 0.5 s, never a sentence."""
    async with AsyncClient.from_uri(uri) as client:
        await client.write_event(SynthesizeStart(voice=CSM).event())

        async def trickle() -> None:
            while True:
                await client.write_event(SynthesizeChunk(text).event())
                await asyncio.sleep(0.5)

        task = asyncio.create_task(trickle())
        try:
            yield client
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await client.write_event(SynthesizeStop().event())
            events = await read_until(client, "synthesize-stopped")
            assert types_of(events) == ["synthesize-stopped"]  # nothing speakable: no audio


async def test_trickling_streams_do_not_hold_csm_from_another_client(
    start_server: ServerFactory, csm_config: dict[str, Any], fake_edge: FakeEdgeService
) -> None:
    config = merge(csm_config, {"csm": {"max_batch": 2, "queue_timeout_s": 2}})
    server = await start_server(config)
    await ready(server)
    uri = uri_of(server)
    async with trickling(uri, " "), trickling(uri, "\u200b"):
        await asyncio.sleep(1.2)  # both streams are open and have sent text
        async with AsyncClient.from_uri(uri) as client:
            await client.write_event(Synthesize("Hello there.", voice=CSM).event())
            events = await read_until(client, "audio-stop")
    # Served by CSM, not by the fallback after csm.queue_timeout_s.
    assert fake_edge.requests == []
    assert len(audio_of(events)) // 2 == frame_budget("Hello there.", 8) * 1920


async def late_behind_a_long_reply(server: VerbaServer) -> tuple[list[Event], list[Event]]:
    """A long CSM reply holds the only slot; "Lights off." comes in behind it. The late
    request's events and the long one's, each up to its audio-stop."""
    async with (
        AsyncClient.from_uri(uri_of(server)) as busy,
        AsyncClient.from_uri(uri_of(server)) as late,
    ):
        await busy.write_event(Synthesize(LONG, voice=CSM).event())
        await read_until(busy, "audio-chunk")
        await late.write_event(Synthesize("Lights off.", voice=CSM).event())
        late_events = await read_until(late, "audio-stop")
        busy_events = await read_until(busy, "audio-stop")
    return late_events, busy_events


async def test_a_request_finding_every_slot_busy_goes_to_the_fallback(
    start_server: ServerFactory,
    csm_config: dict[str, Any],
    fake_edge: FakeEdgeService,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO")
    config = merge(csm_config, {"csm": {"max_batch": 1, "queue_timeout_s": 0.5}})
    server = await start_server(config)
    await ready(server)
    late_events, busy_events = await late_behind_a_long_reply(server)
    assert [r.text for r in fake_edge.requests] == ["Lights off."]
    assert len(audio_of(late_events)) // 2 == decoded_samples(fake_edge.requests[0].mp3)
    assert "csm.queue_timeout_s" in caplog.text and "backend=edge(fallback-from-csm)" in caplog.text
    # The busy request was spoken by CSM to the end.
    frames = sum(frame_budget(s, 8) for s in split_sentences(LONG))
    assert len(audio_of(busy_events)) // 2 >= (frames - 1) * 1920


async def test_without_a_fallback_a_starved_request_is_told_why(
    start_server: ServerFactory, csm_config: dict[str, Any]
) -> None:
    config = merge(
        csm_config, {"tts": {"fallback": "none"}, "csm": {"max_batch": 1, "queue_timeout_s": 0.3}}
    )
    server = await start_server(config)
    await ready(server)
    events, _ = await late_behind_a_long_reply(server)
    assert types_of(events) == ["error", "audio-stop"]
    message = events[0].data["text"]
    assert "CSM is busy" in message
    assert "csm.max_batch" in message and "csm.queue_timeout_s" in message


async def test_a_reply_failing_partway_is_finished_by_the_fallback(
    start_server: ServerFactory,
    csm_config: dict[str, Any],
    fake_edge: FakeEdgeService,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import torch

    caplog.set_level("INFO")
    server = await start_server(csm_config)
    await ready(server)
    text = "Hello there. The kitchen lights are now off. Sleep well."
    first, second, third = split_sentences(text)
    real = FrameStep.frame
    calls = {"n": 0}

    def failing_in_the_second_sentence(self: FrameStep, rows: int) -> None:
        calls["n"] += 1
        if calls["n"] == frame_budget(first, 8) + 3:
            raise torch.OutOfMemoryError("CUDA out of memory")
        real(self, rows)

    monkeypatch.setattr(FrameStep, "frame", failing_in_the_second_sentence)
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(Synthesize(text, voice=CSM).event())
        events = await read_until(client, "audio-stop")
    # No Error (Home Assistant 2026.9+ would drop the whole reply): CSM's first sentence and
    # part of the second, then Edge from the start of the interrupted sentence.
    assert types_of(events) == ["audio-start", "audio-chunk", "audio-stop"]
    assert sorted(r.text for r in fake_edge.requests) == sorted([second, third])
    edge_samples = sum(decoded_samples(r.mp3) for r in fake_edge.requests)
    csm_samples = len(audio_of(events)) // 2 - edge_samples
    assert frame_budget(first, 8) * 1920 < csm_samples < (frame_budget(first, 8) + 3) * 1920
    assert "failed partway through a reply" in caplog.text
    assert "backend=csm-then-edge(fallback)" in caplog.text
