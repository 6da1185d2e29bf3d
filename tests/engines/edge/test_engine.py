"""The Edge engine: real edge-tts client against the local fake service."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest
from wyoming.client import AsyncClient
from wyoming.tts import Synthesize

from tests.fakes.fake_edge import FakeEdgeService, decoded_samples
from tests.support.serving import ServerFactory, audio_of, read_until, types_of, uri_of
from wyoming_verba.config import EdgeConfig
from wyoming_verba.engines.base import EngineState, EngineStatus
from wyoming_verba.engines.edge.engine import EdgeEngine


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ("STALL", "Edge TTS sent nothing for 1 s (edge.timeout_s)"),
        ("DROP", "closed the connection before the sentence was complete"),
        ("ERROR", "Edge TTS service error"),
        ("NOAUDIO", "Edge TTS returned no audio for voice 'edge:en-US-AriaNeural'"),
    ],
)
async def test_service_failures_become_error_events(
    start_server: ServerFactory, fake_edge: FakeEdgeService, marker: str, message: str
) -> None:
    server = await start_server({"edge": {"timeout_s": 1.0}})
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(Synthesize(f"Please {marker} here").event())
        events = await read_until(client, "error", timeout=10)
        assert message in events[-1].data["text"]
        # With or without partial audio, audio-stop follows (clients that ignore Error wait for it).
        assert types_of(await read_until(client, "audio-stop")) == ["audio-stop"]
        # The same connection keeps working.
        await client.write_event(Synthesize("Fine now.").event())
        events = await read_until(client, "audio-stop")
        assert len(audio_of(events)) // 2 == decoded_samples(
            fake_edge.mp3_for("Fine now.", "en-US-AriaNeural")
        )


async def test_audio_is_decoded_as_it_arrives(tmp_path: Path) -> None:
    fake = FakeEdgeService(realtime=True)
    await fake.start()
    try:
        engine = EdgeEngine(EdgeConfig(endpoint=fake.url), tmp_path)
        await engine.start()
        text = "A sentence long enough to take a couple of seconds to stream out."
        sent_at_first_pcm = None
        total = 0
        async for pcm in engine.synthesize(text, engine.default_voice()):
            if sent_at_first_pcm is None:
                sent_at_first_pcm = fake.requests[0].messages_sent
            total += pcm.size
        (request,) = fake.requests
        assert total == decoded_samples(request.mp3)
        # PCM came out after the first MP3 message, long before the fake had sent them all.
        assert sent_at_first_pcm is not None
        assert sent_at_first_pcm < request.messages_sent / 4
    finally:
        await fake.stop()


async def test_rate_volume_pitch_go_into_the_ssml(
    tmp_path: Path, fake_edge: FakeEdgeService
) -> None:
    config = EdgeConfig(endpoint=fake_edge.url, rate="+10%", volume="-5%", pitch="+3Hz")
    engine = EdgeEngine(config, tmp_path)
    await engine.start()
    pcm = [block async for block in engine.synthesize("Hi.", engine.default_voice())]
    assert np.concatenate(pcm).dtype == np.int16
    assert "rate='+10%'" in fake_edge.requests[0].ssml
    assert "volume='-5%'" in fake_edge.requests[0].ssml
    assert "pitch='+3Hz'" in fake_edge.requests[0].ssml


async def test_voice_list_is_cached_for_offline_starts(
    tmp_path: Path, fake_edge: FakeEdgeService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    online = EdgeEngine(EdgeConfig(endpoint=fake_edge.url), tmp_path)
    await online.start()
    assert len(online.voices()) == 4
    assert "Edge TTS ready: 4 voices from the service" in caplog.text
    assert online.status() == EngineStatus(EngineState.READY)
    cache = tmp_path / "edge-voices.json"
    assert len(json.loads(cache.read_text())) == 4

    caplog.clear()
    fake_edge.voice_list_available = False
    offline = EdgeEngine(EdgeConfig(endpoint=fake_edge.url, voice_list_timeout_s=1), tmp_path)
    await offline.start()
    assert [v.name for v in offline.voices()] == [v.name for v in online.voices()]
    assert "Edge TTS service unreachable at start" in caplog.text
    assert f"listing the cached list of 4 voices in {cache}" in caplog.text
    assert "ready" not in caplog.text
    assert offline.status().detail.startswith("service unreachable at start")


async def test_unreachable_service_without_cache_starts_with_configured_voice(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = EdgeConfig(
        endpoint="http://127.0.0.1:9", voice="en-GB-RyanNeural", voice_list_timeout_s=1
    )
    engine = EdgeEngine(config, tmp_path)
    started = time.perf_counter()
    await engine.start()
    assert time.perf_counter() - started < 20  # bounded by the 1 s timeout, not hanging
    assert [(v.name, v.languages) for v in engine.voices()] == [
        ("edge:en-GB-RyanNeural", ("en-GB",))
    ]
    assert (
        "Edge TTS service unreachable at start (cannot connect to 127.0.0.1:9 (connection "
        "refused)); listing only edge.voice en-GB-RyanNeural (no cached voice list yet)"
    ) in caplog.text
    assert "ready" not in caplog.text and "SSLContext" not in caplog.text
    status = engine.status()
    assert status.state == EngineState.READY
    assert (
        status.detail
        == "service unreachable at start: cannot connect to 127.0.0.1:9 (connection refused)"
    )


async def test_unreachable_service_at_request_time(start_server: ServerFactory) -> None:
    server = await start_server(
        {"edge": {"endpoint": "http://127.0.0.1:9", "voice_list_timeout_s": 1}}
    )
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(Synthesize("Hello.").event())
        events = await read_until(client, "error")
    assert events[-1].data["text"] == (
        "cannot reach the Edge TTS service (cannot connect to 127.0.0.1:9 (connection refused)); "
        "check the network or edge.proxy"
    )


async def test_text_reaches_edge_as_well_formed_xml(
    start_server: ServerFactory, fake_edge: FakeEdgeService
) -> None:
    # XML 1.0 forbids U+FFFE, U+FFFF and most C0 controls; U+FDD0 and U+1FFFF are non-characters.
    text = "Hi \ufffe there\uffff, a \ufdd0 b \U0001ffff c \x0b\x1b d <&> ]]> e."
    server = await start_server()
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(Synthesize(text).event())
        events = await read_until(client, "audio-stop")
    assert "error" not in types_of(events) and audio_of(events)
    (request,) = fake_edge.requests
    ElementTree.fromstring(request.ssml)  # raises on a character XML does not allow
    assert not {"\ufffe", "\uffff", "\ufdd0", "\U0001ffff", "\x0b", "\x1b"} & set(request.ssml)
    assert "".join(request.text.split()) == "Hithere,abcd<&>]]>e."
