"""Typed request fields: a wrong type, invalid Unicode or an out-of-order streaming event gets an
Error naming the field, and the reply still ends the way the client waits for (real server)."""

from __future__ import annotations

import pytest

from tests.fakes.fake_edge import FakeEdgeService
from tests.support.raw import RawClient, wire
from tests.support.serving import ServerFactory, types_of

GOOD = wire("synthesize", {"text": "Fine."})
BAD_FIELDS = [
    ({"text": "Hi.", "voice": {"name": 1}}, "'voice.name' must be a string (got a number)"),
    ({"text": "Hi.", "voice": {"name": 1.5}}, "'voice.name' must be a string"),
    ({"text": "Hi.", "voice": {"name": True}}, "'voice.name' must be a string (got true/false)"),
    ({"text": "Hi.", "voice": {"name": ["a"]}}, "'voice.name' must be a string (got a list)"),
    ({"text": "Hi.", "voice": {"name": {"a": 1}}}, "'voice.name' must be a string (got an object)"),
    ({"text": "Hi.", "voice": "edge:en-US-AriaNeural"}, "'voice' must be an object"),
    ({"text": "Hi.", "voice": ["edge:en-US-AriaNeural"]}, "'voice' must be an object"),
    (
        {"text": "Hi.", "voice": {"name": "edge:en-US-AriaNeural", "speaker": 1.5}},
        "'voice.speaker'",
    ),
    (
        {"text": "Hi.", "voice": {"name": "edge:en-US-AriaNeural", "speaker": True}},
        "'voice.speaker'",
    ),
    (
        {"text": "Hi.", "voice": {"name": "edge:en-US-AriaNeural", "speaker": "1.5"}},
        "'voice.speaker'",
    ),
    ({"text": "Hi.", "voice": {"name": "edge:en-US-AriaNeural", "speaker": -1}}, "'voice.speaker'"),
    (
        {"text": "Hi.", "voice": {"name": "edge:en-US-AriaNeural", "language": 7}},
        "'voice.language'",
    ),
    ({"text": "Hi.", "voice": {"name": "edge:\ud800"}}, "'voice.name' is not valid Unicode"),
    ({"text": 5}, "'text' must be a string (got a number)"),
    ({"text": None}, "'text' must be a string (got null)"),
    ({}, "'text' must be a string (got null)"),
    ({"text": "Lone \ud800 surrogate."}, "'text' is not valid Unicode: it has a lone surrogate"),
    ({"text": "Low \udfff end."}, "'text' is not valid Unicode"),
]


@pytest.mark.parametrize(("data", "message"), BAD_FIELDS)
async def test_a_bad_field_is_named_and_the_reply_still_ends_with_audio_stop(
    start_server: ServerFactory,
    fake_edge: FakeEdgeService,
    no_tracebacks: pytest.LogCaptureFixture,
    data: dict,  # type: ignore[type-arg]
    message: str,
) -> None:
    server = await start_server()
    client = await RawClient.connect(server.port)
    await client.send(wire("synthesize", data) + GOOD)
    refused = await client.read_until("audio-stop")
    assert [e.type for e in refused] == ["error", "audio-stop"]
    assert refused[0].data["code"] == "bad-request"
    assert message in refused[0].data["text"]
    served = await client.read_until("audio-stop")  # the connection stays usable
    assert types_of(served) == ["audio-start", "audio-chunk", "audio-stop"]
    assert [r.text for r in fake_edge.requests] == ["Fine."]  # nothing bad reached the engine
    client.close()


@pytest.mark.parametrize(
    ("data", "message"), [(d, m) for d, m in BAD_FIELDS if "voice" in m and "text" in d]
)
async def test_a_bad_voice_in_synthesize_start_ends_the_stream_with_an_error(
    start_server: ServerFactory,
    fake_edge: FakeEdgeService,
    no_tracebacks: pytest.LogCaptureFixture,
    data: dict,  # type: ignore[type-arg]
    message: str,
) -> None:
    server = await start_server()
    client = await RawClient.connect(server.port)
    start = {"voice": data["voice"]}
    await client.send(
        wire("synthesize-start", start)
        + wire("synthesize-chunk", {"text": "Not spoken. "})
        + wire("synthesize", {"text": "Not spoken."})
        + wire("synthesize-stop")
        + GOOD
    )
    events = await client.read_until("synthesize-stopped")
    assert [e.type for e in events] == ["error", "synthesize-stopped"]
    assert message in events[0].data["text"]
    assert types_of(await client.read_until("audio-stop"))[-1] == "audio-stop"
    assert [r.text for r in fake_edge.requests] == ["Fine."]
    client.close()


async def test_a_bad_chunk_ends_its_stream_after_the_audio_so_far(
    start_server: ServerFactory, fake_edge: FakeEdgeService, no_tracebacks: pytest.LogCaptureFixture
) -> None:
    server = await start_server()
    client = await RawClient.connect(server.port)
    await client.send(
        wire("synthesize-start", {})
        + wire("synthesize-chunk", {"text": "Spoken first. "})
        + wire("synthesize-chunk", {"text": ["not", "text"]})
        + wire("synthesize-chunk", {"text": "Never spoken. "})
        + wire("synthesize-stop")
    )
    events = await client.read_until("synthesize-stopped")
    assert types_of(events) == [
        "audio-start",
        "audio-chunk",
        "error",
        "audio-stop",
        "synthesize-stopped",
    ]
    assert "'text' must be a string (got a list)" in events[-3].data["text"]
    assert [r.text for r in fake_edge.requests] == ["Spoken first."]
    client.close()


async def test_streaming_events_out_of_order_get_an_error(
    start_server: ServerFactory, fake_edge: FakeEdgeService, no_tracebacks: pytest.LogCaptureFixture
) -> None:
    server = await start_server()
    client = await RawClient.connect(server.port)
    await client.send(wire("synthesize-chunk", {"text": "Lost words. "}))
    events = await client.read_until("error")
    assert [(e.type, e.data["code"]) for e in events] == [("error", "out-of-order")]
    assert "synthesize-chunk without synthesize-start" in events[0].data["text"]
    # A client waiting for synthesize-stopped gets it.
    await client.send(wire("synthesize-stop"))
    events = await client.read_until("synthesize-stopped")
    assert [e.type for e in events] == ["error", "synthesize-stopped"]
    assert "synthesize-stop without synthesize-start" in events[0].data["text"]
    await client.send(GOOD)
    assert types_of(await client.read_until("audio-stop"))[-1] == "audio-stop"
    assert [r.text for r in fake_edge.requests] == ["Fine."]
    client.close()


async def test_an_engine_failure_ends_with_an_error_then_audio_stop(
    start_server: ServerFactory, fake_edge: FakeEdgeService, no_tracebacks: pytest.LogCaptureFixture
) -> None:
    # Home Assistant 2025.4-2025.6 ignore the Error and wait for audio-stop: it must come.
    server = await start_server()
    client = await RawClient.connect(server.port)
    await client.send(wire("synthesize", {"text": "NOAUDIO please."}) + GOOD)
    events = await client.read_until("audio-stop")
    assert [(e.type, e.data.get("code")) for e in events] == [
        ("error", "synthesis-failed"),
        ("audio-stop", None),
    ]
    assert "returned no audio" in events[0].data["text"]
    assert types_of(await client.read_until("audio-stop"))[-1] == "audio-stop"
    lines = [r.getMessage() for r in no_tracebacks.records if r.name == "wyoming_verba.request"]
    assert lines[0].startswith("synthesize failed backend=edge")
    assert "error=synthesis-failed: Edge TTS returned no audio" in lines[0]
    client.close()
