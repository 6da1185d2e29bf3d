"""Text with nothing to say gives an empty stream on every engine (real server, tiny CSM, fake
Edge), never an Error or noise."""

from __future__ import annotations

from typing import Any

import pytest
from wyoming.client import AsyncClient
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeVoice,
)

from tests.fakes.fake_edge import FakeEdgeService
from tests.support.serving import ServerFactory, read_until, types_of, uri_of
from wyoming_verba.core.text import is_speakable

UNSPEAKABLE = ["   \t\n", "\u200b\u200c\u200d\u2060\ufeff", " ... !? ", "\u0301\u0308", "\x07\x1b"]


@pytest.mark.parametrize("text", UNSPEAKABLE)
def test_unspeakable_text(text: str) -> None:
    assert not is_speakable(text)


@pytest.mark.parametrize("text", ["a", "7", "$", "🙂", "你", " x "])
def test_speakable_text(text: str) -> None:
    assert is_speakable(text)


@pytest.mark.parametrize("voice", ["edge:en-US-AriaNeural", "csm:speaker-0"])
async def test_unspeakable_text_gives_an_empty_stream(
    start_server: ServerFactory,
    csm_config: dict[str, Any],
    fake_edge: FakeEdgeService,
    no_tracebacks: Any,
    voice: str,
) -> None:
    server = await start_server({**csm_config, "tts": {"backend": "edge", "engines": ["csm"]}})
    engine = server.service.engines["csm"]
    await engine.ready()
    steps = engine.generation_stats()["steps"]
    async with AsyncClient.from_uri(uri_of(server)) as client:
        for text in UNSPEAKABLE:
            await client.write_event(Synthesize(text, voice=SynthesizeVoice(voice)).event())
            assert types_of(await read_until(client, "audio-stop")) == ["audio-start", "audio-stop"]
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice(voice)).event())
        for text in UNSPEAKABLE:
            await client.write_event(SynthesizeChunk(text).event())
        await client.write_event(SynthesizeStop().event())
        assert types_of(await read_until(client, "synthesize-stopped")) == ["synthesize-stopped"]
    assert fake_edge.requests == []
    assert engine.generation_stats()["steps"] == steps  # CSM generated nothing
