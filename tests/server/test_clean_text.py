"""tts.clean_text through the real server: an LLM reply is spoken the same streamed or whole."""

from __future__ import annotations

import random

from wyoming.client import AsyncClient
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop

from tests.core.test_cleaning import LLM_REPLY
from tests.fakes.fake_edge import FakeEdgeService
from tests.support.serving import ServerFactory, read_until, uri_of


async def spoken_whole(uri: str, text: str) -> None:
    async with AsyncClient.from_uri(uri) as client:
        await client.write_event(Synthesize(text).event())
        events = await read_until(client, "audio-stop")
    assert not [e for e in events if e.type == "error"]


async def spoken_streamed(uri: str, text: str, rng: random.Random) -> None:
    async with AsyncClient.from_uri(uri) as client:
        await client.write_event(SynthesizeStart().event())
        start = 0
        while start < len(text):
            size = rng.randint(1, 40)
            await client.write_event(SynthesizeChunk(text[start : start + size]).event())
            start += size
        await client.write_event(SynthesizeStop().event())
        events = await read_until(client, "synthesize-stopped")
    assert not [e for e in events if e.type == "error"]


async def test_an_llm_reply_is_spoken_clean_and_the_same_streamed_or_whole(
    start_server: ServerFactory, fake_edge: FakeEdgeService
) -> None:
    server = await start_server()
    await spoken_whole(uri_of(server), LLM_REPLY)
    whole = [r.text for r in fake_edge.requests]
    assert "Here is the forecast for tomorrow." in whole and "Details are on dwd.de." in whole
    assert "Mon, 21 °C, 12 °C." in whole
    said = " ".join(whole)
    assert not any(mark in said for mark in ("http", "```", "`", "<b>", "☀", "👍", "platform: hue"))
    for seed in range(3):
        fake_edge.requests.clear()
        await spoken_streamed(uri_of(server), LLM_REPLY, random.Random(seed))
        # Sorted: Edge synthesizes one sentence ahead, so the fake may see two in either order.
        assert sorted(r.text for r in fake_edge.requests) == sorted(whole)


async def test_clean_text_off_leaves_the_text_as_sent(
    start_server: ServerFactory, fake_edge: FakeEdgeService
) -> None:
    server = await start_server({"tts": {"clean_text": False}})
    await spoken_whole(uri_of(server), "See [the docs](https://x.example/a) now.")
    assert [r.text for r in fake_edge.requests] == ["See [the docs](https://x.example/a) now."]


async def test_a_code_phrase_is_said_instead_of_a_code_block(
    start_server: ServerFactory, fake_edge: FakeEdgeService
) -> None:
    server = await start_server({"tts": {"code_phrase": "Code omitted.", "keep_emoji": True}})
    await spoken_whole(uri_of(server), "Add this:\n```yaml\nlight:\n```\nThen restart 🙂.")
    said = [r.text for r in fake_edge.requests]
    assert said == ["Add this:", "Code omitted.", "Then restart 🙂."]
