"""Per-request speaking options (context.verba) through the real server, on both engines."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
from wyoming.client import AsyncClient
from wyoming.info import Describe
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeVoice,
)

from tests.fakes.fake_edge import FakeEdgeService
from tests.support.serving import ServerFactory, audio_of, merge, read_until, types_of, uri_of
from wyoming_verba.core.text import split_sentences
from wyoming_verba.engines.csm.generation.reply import frame_budget

TEXT = "Hello there. The lights in the kitchen are now off."
SHORT = "Hi there. Lights off."  # short replies keep the CPU tests quick
NO_ANCHORS = {"csm": {"anchor_speakers": False}}  # the same prefix (none) whatever the sampling


def verba(**options: Any) -> dict[str, Any]:
    return {"verba": options}


async def speak(server: Any, text: str, **options: Any) -> list[Any]:
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(Synthesize(text, context=verba(**options)).event())
        return await read_until(client, "audio-stop")


def pcm(events: list[Any]) -> np.ndarray:
    return np.frombuffer(audio_of(events), dtype="<i2")


def request_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "wyoming_verba.request"]


async def test_edge_rate_volume_pitch_reach_the_ssml_over_the_config(
    start_server: ServerFactory, fake_edge: FakeEdgeService
) -> None:
    server = await start_server({"edge": {"rate": "+5%", "volume": "+0%", "pitch": "+0Hz"}})
    await speak(server, "Hi.", rate="+20%", volume=-30, pitch="-12Hz")
    await speak(server, "Hi.", pitch="+10%")
    await speak(server, "Hi.")
    first, percent_pitch, plain = (r.ssml for r in fake_edge.requests)
    assert "rate='+20%'" in first and "volume='-30%'" in first and "pitch='-12Hz'" in first
    assert "pitch='+10%'" in percent_pitch and "rate='+5%'" in percent_pitch
    # The next request without options is back to the configured edge.rate/volume/pitch.
    assert "rate='+5%'" in plain and "volume='+0%'" in plain and "pitch='+0Hz'" in plain


async def test_a_configured_pitch_in_percent_follows_the_request_rule(
    start_server: ServerFactory, fake_edge: FakeEdgeService
) -> None:
    server = await start_server({"edge": {"pitch": "10%"}})  # the sign is added, as for requests
    await speak(server, "Hi.")
    await speak(server, "Hi.", pitch="+400Hz")  # the same range as edge.pitch
    configured, requested = (r.ssml for r in fake_edge.requests)
    assert "pitch='+10%'" in configured and "pitch='+400Hz'" in requested


async def test_a_stream_s_options_apply_to_every_sentence(
    start_server: ServerFactory, fake_edge: FakeEdgeService
) -> None:
    server = await start_server()
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(SynthesizeStart(context=verba(rate="-25%")).event())
        for piece in ["The first sentence. ", "And the second one."]:
            await client.write_event(SynthesizeChunk(piece).event())
        await client.write_event(
            Synthesize("The first sentence. And the second one.", context=verba()).event()
        )
        await client.write_event(SynthesizeStop().event())
        events = await read_until(client, "synthesize-stopped")
    assert types_of(events) == ["audio-start", "audio-chunk", "audio-stop", "synthesize-stopped"]
    assert len(fake_edge.requests) == 2
    assert all("rate='-25%'" in r.ssml for r in fake_edge.requests)


async def test_bad_values_get_an_error_naming_the_option_and_the_connection_stays(
    start_server: ServerFactory, fake_edge: FakeEdgeService
) -> None:
    server = await start_server()
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(Synthesize("Hi.", context=verba(rate="+300%")).event())
        refused = await read_until(client, "audio-stop")
        await client.write_event(SynthesizeStart(context=verba(pitch="high")).event())
        await client.write_event(SynthesizeChunk("Not spoken.").event())
        await client.write_event(SynthesizeStop().event())
        stream = await read_until(client, "synthesize-stopped")
        await client.write_event(Synthesize("Hi.", context={"verba": "fast"}).event())
        wrong_type = await read_until(client, "audio-stop")
        await client.write_event(Synthesize("Spoken.").event())
        spoken = await read_until(client, "audio-stop")
    assert types_of(refused) == ["error", "audio-stop"]
    assert refused[0].data["text"].startswith("'context.verba.rate' must be a change from -50%")
    assert types_of(stream) == ["error", "synthesize-stopped"]
    assert "'context.verba.pitch'" in stream[0].data["text"]
    assert "'context.verba' must be an object" in wrong_type[0].data["text"]
    assert types_of(spoken) == ["audio-start", "audio-chunk", "audio-stop"]
    assert [r.text for r in fake_edge.requests] == ["Spoken."]


async def test_options_an_engine_cannot_honour_are_ignored_and_logged(
    start_server: ServerFactory, fake_edge: FakeEdgeService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="wyoming_verba.request")
    server = await start_server()
    events = await speak(server, "Hi.", rate="+10%", temperature=0.5, speed=2)
    await asyncio.sleep(0.05)
    assert types_of(events) == ["audio-start", "audio-chunk", "audio-stop"]
    (line,) = request_lines(caplog)
    assert "synthesize ok" in line
    assert "options=rate=+10%,temperature=0.5 ignored=temperature,'speed'" in line
    assert "rate='+10%'" in fake_edge.requests[0].ssml


async def test_info_lists_the_options_each_engine_honours(
    start_server: ServerFactory, csm_config: dict[str, Any]
) -> None:
    config = merge(csm_config, {"tts": {"engines": ["csm", "edge"]}, "csm": {"preload": False}})
    server = await start_server(merge(config, {"csm": {"temperature": 0.9}}))
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(Describe().event())
        (info,) = await read_until(client, "info")
    engines = info.data["verba"]["engines"]
    assert engines["edge"]["options"] == ["pitch", "rate", "volume"]
    assert engines["csm"]["options"] == ["rate", "temperature", "volume"]


async def csm_server(start_server: ServerFactory, config: dict[str, Any]) -> Any:
    server = await start_server(merge(config, NO_ANCHORS))
    await server.service.engines["csm"].ready()
    return server


async def test_csm_rate_stretches_the_audio_and_volume_scales_it(
    start_server: ServerFactory,
    csm_config: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="wyoming_verba.request")
    server = await csm_server(start_server, csm_config)  # greedy: the same codes every time
    plain = pcm(await speak(server, SHORT))
    faster = await speak(server, SHORT, rate="+50%")
    quieter = pcm(await speak(server, SHORT, volume="-50%", pitch="+5Hz"))
    frames = sum(frame_budget(s, 8) for s in split_sentences(SHORT))
    assert plain.size == frames * 1920
    assert types_of(faster) == ["audio-start", "audio-chunk", "audio-stop"]
    assert abs(pcm(faster).size - plain.size * 2 / 3) < 0.01 * plain.size
    halved = np.round(plain.astype(np.float32) * 0.5)
    assert np.abs(quieter.astype(np.float32) - halved).max() <= 1
    await asyncio.sleep(0.05)
    lines = request_lines(caplog)
    assert "options=rate=+50%" in lines[1] and "ignored" not in lines[1]
    assert "ignored=pitch" in lines[2]


async def test_csm_stream_keeps_its_rate_for_every_sentence(
    start_server: ServerFactory, csm_config: dict[str, Any]
) -> None:
    server = await csm_server(start_server, csm_config)
    sentences = split_sentences(SHORT)
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(SynthesizeStart(context=verba(rate="+100%")).event())
        for sentence in sentences:
            await client.write_event(SynthesizeChunk(sentence + " ").event())
        await client.write_event(SynthesizeStop().event())
        events = await read_until(client, "synthesize-stopped")
    frames = sum(frame_budget(s, 8) for s in sentences)
    assert abs(pcm(events).size - frames * 1920 / 2) < 0.01 * frames * 1920


async def test_csm_temperature_is_per_request_and_zero_stays_greedy(
    start_server: ServerFactory, csm_config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="wyoming_verba.request")
    greedy_server = await csm_server(start_server, csm_config)
    greedy = pcm(await speak(greedy_server, SHORT))
    # A greedy-only frame step (csm.temperature: 0) cannot sample: temperature is ignored.
    assert np.array_equal(pcm(await speak(greedy_server, SHORT, temperature=1.0)), greedy)
    sampling_server = await csm_server(
        start_server, merge(csm_config, {"csm": {"temperature": 0.9}})
    )
    assert not np.array_equal(pcm(await speak(sampling_server, SHORT)), greedy)  # it samples
    zero = [pcm(await speak(sampling_server, SHORT, temperature=0)) for _ in range(2)]
    assert np.array_equal(zero[0], greedy) and np.array_equal(zero[1], greedy)
    hot = pcm(await speak(sampling_server, SHORT, temperature="2.5"))
    assert not np.array_equal(hot, greedy)
    await asyncio.sleep(0.05)
    lines = request_lines(caplog)
    assert "ignored=temperature" in lines[1]
    assert all("ignored" not in line for line in lines[2:])


async def test_describe_logs_nothing_at_info(
    start_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # Home Assistant 2026.9+ re-reads Info every 30 s per entry: no log line for each.
    server = await start_server()
    caplog.clear()
    caplog.set_level("INFO")
    async with AsyncClient.from_uri(uri_of(server)) as client:
        for _ in range(3):
            await client.write_event(Describe().event())
            (info,) = await read_until(client, "info")
            assert info.data["tts"][0]["voices"]
    await asyncio.sleep(0.05)
    assert [r.getMessage() for r in caplog.records if r.levelno >= 20] == []


async def test_a_temperature_too_large_to_convert_is_an_error_on_both_engines_and_paths(
    start_server: ServerFactory, csm_config: dict[str, Any], no_tracebacks: Any
) -> None:
    server = await csm_server(start_server, csm_config)
    huge = 10**400  # json carries it; float() of it overflows
    async with AsyncClient.from_uri(uri_of(server)) as client:
        for voice in ["edge:en-US-AriaNeural", "csm:speaker-0"]:
            chosen = SynthesizeVoice(voice)
            await client.write_event(
                Synthesize("Hi.", voice=chosen, context=verba(temperature=huge)).event()
            )
            plain = await read_until(client, "audio-stop")
            await client.write_event(
                SynthesizeStart(voice=chosen, context=verba(temperature=huge)).event()
            )
            await client.write_event(SynthesizeChunk("Not spoken.").event())
            await client.write_event(SynthesizeStop().event())
            stream = await read_until(client, "synthesize-stopped")
            assert types_of(plain) == ["error", "audio-stop"]
            assert types_of(stream) == ["error", "synthesize-stopped"]
            for refused in (plain[0], stream[0]):
                assert refused.data["text"].startswith("'context.verba.temperature' must be")
        await client.write_event(Synthesize("Spoken.").event())
        assert "audio-chunk" in types_of(await read_until(client, "audio-stop"))
