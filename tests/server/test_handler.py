"""Protocol behaviour of a real server on loopback, talked to with the wyoming library's client."""

from __future__ import annotations

import asyncio
import contextlib
import json

import numpy as np
from wyoming.client import AsyncClient
from wyoming.info import Describe, Info
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeVoice,
)

from tests.fakes.fake_edge import FakeEdgeService, decoded_samples, voice_pitch
from tests.support.serving import ServerFactory, audio_of, read_until, types_of, uri_of

TEXT = "Hello there. The kitchen lights are now off."


def dominant_frequency(pcm: bytes, rate: int) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(samples.size, 1 / rate)[int(np.argmax(spectrum))])


async def test_describe_lists_edge_voices_with_languages(start_server: ServerFactory) -> None:
    server = await start_server()
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(Describe().event())
        info = Info.from_event((await read_until(client, "info"))[-1])
    assert len(info.tts) == 1
    program = info.tts[0]
    assert program.name == "verba"
    assert program.supports_synthesize_streaming
    names = {voice.name: voice.languages for voice in program.voices}
    assert names["edge:en-US-AriaNeural"] == ["en-US"]
    assert names["edge:de-DE-KatjaNeural"] == ["de-DE"]
    assert all(voice.languages for voice in program.voices)


async def test_synthesize_streams_all_of_the_fakes_audio(
    start_server: ServerFactory, fake_edge: FakeEdgeService
) -> None:
    server = await start_server({"server": {"samples_per_chunk": 1024}})
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(
            Synthesize(TEXT, voice=SynthesizeVoice(name="edge:en-US-GuyNeural")).event()
        )
        events = await read_until(client, "audio-stop")
    assert types_of(events) == ["audio-start", "audio-chunk", "audio-stop"]
    start = events[0].data
    assert (start["rate"], start["width"], start["channels"]) == (24000, 2, 1)
    expected = sum(decoded_samples(r.mp3) for r in fake_edge.requests)
    # Both sentences run concurrently (one ahead), so the fake may see them in either order.
    assert sorted(r.text for r in fake_edge.requests) == [
        "Hello there.",
        "The kitchen lights are now off.",
    ]
    assert {r.voice for r in fake_edge.requests} == {"en-US-GuyNeural"}
    assert len(audio_of(events)) // 2 == expected
    chunk_sizes = [len(e.payload or b"") // 2 for e in events if e.type == "audio-chunk"]
    assert all(size == 1024 for size in chunk_sizes[1:-1])
    assert abs(dominant_frequency(audio_of(events), 24000) - voice_pitch("en-US-GuyNeural")) < 5


async def test_no_voice_uses_configured_default(
    start_server: ServerFactory, fake_edge: FakeEdgeService
) -> None:
    server = await start_server({"edge": {"voice": "en-GB-SoniaNeural"}})
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(Synthesize("Hi.").event())
        await read_until(client, "audio-stop")
    assert [r.voice for r in fake_edge.requests] == ["en-GB-SoniaNeural"]


async def test_output_rate_resamples(
    start_server: ServerFactory, fake_edge: FakeEdgeService
) -> None:
    server = await start_server({"server": {"output_rate": 16000}})
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(Synthesize(TEXT).event())
        events = await read_until(client, "audio-stop")
    assert {e.data["rate"] for e in events if e.type in ("audio-start", "audio-chunk")} == {16000}
    native = sum(decoded_samples(r.mp3) for r in fake_edge.requests)
    assert abs(len(audio_of(events)) // 2 - native * 2 / 3) <= 64
    assert abs(dominant_frequency(audio_of(events), 16000) - 440) < 5


async def test_streaming_synthesize(
    start_server: ServerFactory, fake_edge: FakeEdgeService
) -> None:
    server = await start_server()
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(
            SynthesizeStart(voice=SynthesizeVoice("edge:en-US-GuyNeural")).event()
        )
        for piece in ["The first ", "sentence is here. And the", " second one", "."]:
            await client.write_event(SynthesizeChunk(piece).event())
        # First sentence is complete: its audio must come before the stream ends.
        first = await read_until(client, "audio-chunk")
        assert types_of(first) == ["audio-start", "audio-chunk"]
        await client.write_event(
            Synthesize("The first sentence is here. And the second one.").event()
        )
        await client.write_event(SynthesizeStop().event())
        rest = await read_until(client, "synthesize-stopped")
    events = first + rest
    assert types_of(events) == ["audio-start", "audio-chunk", "audio-stop", "synthesize-stopped"]
    # The full-text duplicate was ignored: exactly the two streamed sentences were spoken.
    assert sorted(r.text for r in fake_edge.requests) == [
        "And the second one.",
        "The first sentence is here.",
    ]
    expected = sum(decoded_samples(r.mp3) for r in fake_edge.requests)
    assert len(audio_of(events)) // 2 == expected


async def test_streaming_with_no_text_just_stops(start_server: ServerFactory) -> None:
    server = await start_server()
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(SynthesizeStart().event())
        await client.write_event(SynthesizeChunk("  ").event())
        await client.write_event(SynthesizeStop().event())
        events = await read_until(client, "synthesize-stopped")
    assert types_of(events) == ["synthesize-stopped"]


async def test_describe_answered_during_synthesis(start_server: ServerFactory) -> None:
    fake = FakeEdgeService(realtime=True)
    await fake.start()
    try:
        server = await start_server({"edge": {"endpoint": fake.url}})
        async with (
            AsyncClient.from_uri(uri_of(server)) as busy,
            AsyncClient.from_uri(uri_of(server)) as other,
        ):
            await busy.write_event(Synthesize("A fairly long sentence to keep it busy.").event())
            await read_until(busy, "audio-chunk")
            for client in (busy, other):
                await client.write_event(Describe().event())
                events = await read_until(client, "info")
                assert events[-1].type == "info"
                # Answered while the synthesis was still streaming from the service.
                assert not fake.requests[0].finished
            rest = await read_until(busy, "audio-stop")
            assert any(e.type == "audio-chunk" for e in rest)
    finally:
        await fake.stop()


async def test_next_sentence_is_synthesized_while_current_streams(
    start_server: ServerFactory,
) -> None:
    fake = FakeEdgeService(realtime=True)
    await fake.start()
    try:
        server = await start_server({"edge": {"endpoint": fake.url}})
        async with AsyncClient.from_uri(uri_of(server)) as client:
            await client.write_event(
                Synthesize("This first sentence takes a while to speak. Second one.").event()
            )
            await read_until(client, "audio-stop")
        first, second = sorted(fake.requests, key=lambda r: r.text, reverse=True)
        assert second.first_frame_sent is not None and first.finished_at is not None
        # The second sentence was already streaming before the first one had been sent in full.
        assert second.first_frame_sent < first.finished_at
    finally:
        await fake.stop()


async def test_fifty_clients_ten_requests_each(
    start_server: ServerFactory, fake_edge: FakeEdgeService
) -> None:
    server = await start_server({"server": {"max_connections": 64}})
    expected = decoded_samples(fake_edge.mp3_for("Quick check.", "en-US-AriaNeural"))

    async def one_client() -> list[int]:
        counts = []
        async with AsyncClient.from_uri(uri_of(server)) as client:
            for _ in range(10):
                await client.write_event(Synthesize("Quick check.").event())
                events = await read_until(client, "audio-stop", timeout=60)
                assert types_of(events) == ["audio-start", "audio-chunk", "audio-stop"], events
                counts.append(len(audio_of(events)) // 2)
        return counts

    results = await asyncio.gather(*(one_client() for _ in range(50)))
    assert [count for counts in results for count in counts] == [expected] * 500


async def test_request_log_line(start_server: ServerFactory, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level("INFO", logger="wyoming_verba.request")
    server = await start_server()
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(Synthesize("Hi there.").event())
        await read_until(client, "audio-stop")
    await asyncio.sleep(0.05)
    lines = [r.getMessage() for r in caplog.records if r.name == "wyoming_verba.request"]
    assert len(lines) == 1
    for key in (
        "backend=edge",
        "voice=edge:en-US-AriaNeural",
        "chars=9",
        "first_audio_ms=",
        "total_ms=",
        "audio_s=",
        "rtf=",
    ):
        assert key in lines[0]


def test_info_json_is_small_enough() -> None:
    # Sanity for the wire: Info with a few hundred voices stays far below the event size limit.
    from wyoming_verba.core.voices import VoiceInfo
    from wyoming_verba.server.info import build_info

    voices = [VoiceInfo("edge", f"xx-XX-Voice{i}Neural", "desc", ("xx-XX",)) for i in range(500)]
    assert len(json.dumps(build_info(voices).event().data)) < 1_048_576


async def test_a_stream_open_past_max_stream_s_speaks_its_text_and_ends(
    start_server: ServerFactory,
    fake_edge: FakeEdgeService,
    caplog,  # type: ignore[no-untyped-def]
) -> None:
    caplog.set_level("INFO")
    server = await start_server({"server": {"max_stream_s": 1.5, "idle_timeout_s": 30}})
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(SynthesizeStart().event())
        await client.write_event(SynthesizeChunk("Hello there. And the").event())

        async def trickle() -> None:  # a space every 0.2 s: never idle, never a sentence
            with contextlib.suppress(ConnectionError):
                while True:
                    await client.write_event(SynthesizeChunk(" ").event())
                    await asyncio.sleep(0.2)

        task = asyncio.create_task(trickle())
        try:
            events = await read_until(client, "synthesize-stopped")
            assert await asyncio.wait_for(client.read_event(), 5) is None  # then closed
        finally:
            task.cancel()
    # The text so far is spoken, then the Error, then the stream's usual ending.
    assert types_of(events) == [
        "audio-start",
        "audio-chunk",
        "error",
        "audio-stop",
        "synthesize-stopped",
    ]
    error = next(e for e in events if e.type == "error")
    assert error.data["code"] == "stream-too-long" and "server.max_stream_s" in error.data["text"]
    assert sorted(r.text for r in fake_edge.requests) == ["And the", "Hello there."]
    assert "server.max_stream_s" in caplog.text
