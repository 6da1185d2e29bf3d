"""Bad input never stops the server nor disturbs other clients."""

from __future__ import annotations

import asyncio
import json

import pytest
from wyoming.client import AsyncClient
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.tts import Synthesize, SynthesizeVoice

from tests.fakes.fake_edge import FakeEdgeService, decoded_samples
from tests.support.raw import RawClient
from tests.support.serving import ServerFactory, audio_of, read_until, types_of, uri_of


async def raw_exchange(port: int, data: bytes, timeout: float = 5) -> list[dict]:  # type: ignore[type-arg]
    """Send raw bytes; return the event headers received until the server closes or goes quiet."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    headers = []
    try:
        while True:
            line = await asyncio.wait_for(reader.readline(), timeout)
            if not line:
                break
            header = json.loads(line)
            if header.get("data_length"):
                header["data"] = json.loads(await reader.readexactly(header["data_length"]))
            if header.get("payload_length"):
                await reader.readexactly(header["payload_length"])
            headers.append(header)
    except TimeoutError:
        pass
    writer.close()
    return headers


async def assert_still_serving(server_uri: str, fake: FakeEdgeService) -> None:
    async with AsyncClient.from_uri(server_uri) as client:
        await client.write_event(Synthesize("Still here.").event())
        events = await read_until(client, "audio-stop")
    expected = decoded_samples(fake.mp3_for("Still here.", "en-US-AriaNeural"))
    assert len(audio_of(events)) // 2 == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"this is not json\n", "not UTF-8 JSON"),
        (b'{"type": "synthesize", "data": {"text": "\xff\xfe broken"}}\n', "not UTF-8 JSON"),
        (b'["a list"]\n', "JSON object"),
        (
            b'{"type": "synthesize", "data_length": 99999999999}\n',
            "larger than this server accepts",
        ),
        (
            b'{"type": "audio-chunk", "payload_length": 5000000000}\n',
            "larger than this server accepts",
        ),
        (b'{"type": "synthesize", "data_length": -5}\n', "non-negative"),
        (b"{" + b"x" * 200_000 + b"\n", "too long"),
    ],
)
async def test_malformed_events_get_an_error_and_server_survives(
    start_server: ServerFactory, fake_edge: FakeEdgeService, raw: bytes, message: str
) -> None:
    server = await start_server()
    headers = await raw_exchange(server.port, raw)
    assert [h["type"] for h in headers] == ["error"]
    assert message in headers[0]["data"]["text"]
    await assert_still_serving(uri_of(server), fake_edge)


async def test_unknown_event_types_are_ignored(
    start_server: ServerFactory, fake_edge: FakeEdgeService
) -> None:
    server = await start_server()
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(Event(type="transcribe", data={"x": 1}))
        await client.write_event(Event(type="no-such-event"))
        await client.write_event(Describe().event())
        events = await read_until(client, "info")
    assert [e.type for e in events] == ["info"]
    await assert_still_serving(uri_of(server), fake_edge)


@pytest.mark.parametrize("text", ["", "   \n\t "])
async def test_empty_text_gives_an_empty_audio_stream(
    start_server: ServerFactory, text: str
) -> None:
    server = await start_server()
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(Synthesize(text).event())
        events = await read_until(client, "audio-stop")
    assert [e.type for e in events] == ["audio-start", "audio-stop"]


async def test_text_over_the_limit_is_refused(
    start_server: ServerFactory, fake_edge: FakeEdgeService
) -> None:
    server = await start_server({"server": {"max_text_chars": 50}})
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(Synthesize("x" * 51).event())
        events = await read_until(client, "audio-stop")
        assert [e.type for e in events] == ["error", "audio-stop"]
        assert "51 characters" in events[0].data["text"]
        assert "server.max_text_chars" in events[0].data["text"]
        await client.write_event(Synthesize("Short.").event())
        assert types_of(await read_until(client, "audio-stop")) == [
            "audio-start",
            "audio-chunk",
            "audio-stop",
        ]
    assert fake_edge.requests[0].text == "Short."


async def test_unknown_voice_names_the_voice(start_server: ServerFactory) -> None:
    server = await start_server()
    async with AsyncClient.from_uri(uri_of(server)) as client:
        for name in ("edge:xx-XX-NobodyNeural", "nobody"):
            await client.write_event(Synthesize("Hi.", voice=SynthesizeVoice(name=name)).event())
            events = await read_until(client, "audio-stop")
            # Home Assistant 2025.4-2025.6 ignore Error and wait for audio-stop: it always comes.
            assert [e.type for e in events] == ["error", "audio-stop"]
            assert repr(name) in events[0].data["text"]
            assert events[0].data["code"] == "unknown-voice"
        await client.write_event(Synthesize("Hi.", voice=SynthesizeVoice("csm:speaker-1")).event())
        events = await read_until(client, "audio-stop")
        assert "csm engine is not enabled" in events[0].data["text"]
        await client.write_event(Synthesize("Hi.").event())
        assert types_of(await read_until(client, "audio-stop"))[-1] == "audio-stop"


async def test_markup_characters_are_spoken_not_interpreted(
    start_server: ServerFactory, fake_edge: FakeEdgeService
) -> None:
    text = 'Tom & Jerry say "<speak>" isn\'t </voice> markup & <break time="9s"/>.'
    server = await start_server()
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(Synthesize(text).event())
        events = await read_until(client, "audio-stop")
    (request,) = fake_edge.requests
    assert request.text == text
    assert "&lt;speak&gt;" in request.ssml and "&amp;" in request.ssml
    assert len(audio_of(events)) // 2 == decoded_samples(request.mp3)


async def test_client_leaving_mid_stream_stops_synthesis(
    start_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeEdgeService(realtime=True)
    await fake.start()
    try:
        server = await start_server({"edge": {"endpoint": fake.url}})
        client = AsyncClient.from_uri(uri_of(server))
        await client.connect()
        await client.write_event(
            Synthesize("This is a long sentence that takes seconds to stream. " * 3).event()
        )
        await read_until(client, "audio-chunk")
        await client.disconnect()
        await asyncio.sleep(0.5)
        # The websockets to the fake were closed: nothing keeps synthesizing for nobody.
        sent_before = [r.messages_sent for r in fake.requests]
        assert len(fake.requests) <= 2
        await asyncio.sleep(0.3)
        assert [r.messages_sent for r in fake.requests] == sent_before
        assert not any(r.finished for r in fake.requests)
        assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
        assert not any("Traceback" in r.getMessage() for r in caplog.records)
        await assert_still_serving(uri_of(server), fake)
    finally:
        await fake.stop()


async def test_a_full_server_closes_its_longest_idle_connection_for_a_new_one(
    start_server: ServerFactory, fake_edge: FakeEdgeService
) -> None:
    server = await start_server({"server": {"max_connections": 2}})
    first = await RawClient.connect(server.port)
    await asyncio.sleep(0.05)
    second = AsyncClient.from_uri(uri_of(server))
    await second.connect()
    try:
        await asyncio.sleep(0.05)
        await assert_still_serving(uri_of(server), fake_edge)
        events = await first.read_to_close()
        assert [(e.type, e.data["code"]) for e in events] == [("error", "evicted")]
        assert "server.max_connections" in events[0].data["text"]
        # The other admitted client is unaffected.
        await second.write_event(Synthesize("One.").event())
        assert types_of(await read_until(second, "audio-stop"))[-1] == "audio-stop"
    finally:
        first.close()
        await second.disconnect()


def with_data(body: bytes) -> bytes:
    """A synthesize header announcing `body` (raw bytes, not necessarily valid) as its data."""
    return json.dumps({"type": "synthesize", "data_length": len(body)}).encode() + b"\n" + body


@pytest.mark.parametrize(
    "raw",
    [
        with_data(b'{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
        b'{"type": "synthesize", "data": ' + b"[" * 30_000 + b"]" * 30_000 + b"}\n",
    ],
    ids=["data", "header"],
)
async def test_json_nested_too_deeply_is_refused(
    start_server: ServerFactory,
    fake_edge: FakeEdgeService,
    no_tracebacks: pytest.LogCaptureFixture,
    raw: bytes,
) -> None:
    server = await start_server()
    headers = await raw_exchange(server.port, raw)
    assert [h["type"] for h in headers] == ["error"]
    assert "nested too deeply" in headers[0]["data"]["text"]
    await assert_still_serving(uri_of(server), fake_edge)


async def test_raw_surrogate_bytes_are_not_utf8(
    start_server: ServerFactory, fake_edge: FakeEdgeService, no_tracebacks: pytest.LogCaptureFixture
) -> None:
    server = await start_server()
    headers = await raw_exchange(server.port, with_data(b'{"text": "bad \xed\xa0\x80 bytes"}'))
    assert [h["type"] for h in headers] == ["error"]
    assert "event data is not UTF-8 JSON" in headers[0]["data"]["text"]
    assert fake_edge.requests == []
    await assert_still_serving(uri_of(server), fake_edge)
