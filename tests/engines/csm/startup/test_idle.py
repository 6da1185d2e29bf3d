"""csm.unload_after_s through the real server: an idle model is freed, Info says `unloaded`, the
fallback serves while it loads again, requests in flight keep it, a failed reload is reported."""

from __future__ import annotations

import asyncio
import time
from typing import Any

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
from tests.support.serving import ServerFactory, audio_of, merge, read_until, uri_of
from wyoming_verba.config import ConfigError, parse_config
from wyoming_verba.engines.csm.generation.reply import frame_budget

UNLOAD = {"csm": {"unload_after_s": 0.5, "anchor_speakers": False}}
CSM_VOICE = SynthesizeVoice("csm:speaker-0")


async def state_becomes(engine: Any, state: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while engine.status().state != state:
        assert time.monotonic() < deadline, f"still {engine.status()} after {timeout} s"
        await asyncio.sleep(0.05)


async def logged(caplog: pytest.LogCaptureFixture, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while text not in caplog.text:
        assert time.monotonic() < deadline, f"never logged {text!r}"
        await asyncio.sleep(0.05)


async def engines_in_info(client: AsyncClient) -> dict[str, Any]:
    await client.write_event(Describe().event())
    engines = (await read_until(client, "info"))[-1].data["verba"]["engines"]
    # Each engine's state and detail (Info also lists the speaking options it honours).
    return {name: {k: engines[name][k] for k in ("state", "detail")} for name in engines}


async def test_idle_csm_unloads_and_the_next_request_reloads_it_while_edge_serves(
    start_server: ServerFactory,
    csm_config: dict[str, Any],
    fake_edge: FakeEdgeService,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO")
    server = await start_server(merge(csm_config, UNLOAD))
    engine: Any = server.service.engines["csm"]
    await engine.ready()
    full = frame_budget("Hi.", 8) * 1920
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(Synthesize("Hi.", voice=CSM_VOICE).event())
        assert len(audio_of(await read_until(client, "audio-stop"))) // 2 == full
        await state_becomes(engine, "unloaded")
        assert (await engines_in_info(client))["csm"] == {"state": "unloaded", "detail": ""}
        await logged(caplog, "CSM unloaded after")
        assert "RSS" in caplog.text
        assert engine.generation_stats() == {}  # the worker and its model are gone
        await client.write_event(Synthesize("Hi.", voice=CSM_VOICE).event())
        await read_until(client, "audio-stop")
        assert [r.text for r in fake_edge.requests] == ["Hi."]  # Edge served the reload's wait
        assert "csm is still loading; the edge engine (tts.fallback) serves" in caplog.text
        assert engine.status().state in ("loading", "ready")
        await engine.ready()
        await client.write_event(Synthesize("Hi.", voice=CSM_VOICE).event())
        assert len(audio_of(await read_until(client, "audio-stop"))) // 2 == full
    assert len(fake_edge.requests) == 1
    assert caplog.text.count("CSM ready in") == 2


async def test_a_request_in_flight_keeps_the_model_past_unload_after_s(
    start_server: ServerFactory, csm_config: dict[str, Any], fake_edge: FakeEdgeService
) -> None:
    server = await start_server(merge(csm_config, UNLOAD))
    engine: Any = server.service.engines["csm"]
    await engine.ready()
    first, second = "Hello there.", "Good night."
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(SynthesizeStart(voice=CSM_VOICE).event())
        await client.write_event(SynthesizeChunk(f"{first} ").event())
        # The reply holds its slot while the client takes its time: 4× unload_after_s.
        for _ in range(40):
            await asyncio.sleep(0.05)
            assert engine.status().state == "ready"
        await client.write_event(SynthesizeChunk(second).event())
        await client.write_event(SynthesizeStop().event())
        audio = audio_of(await read_until(client, "synthesize-stopped"))
    assert len(audio) // 2 == (frame_budget(first, 8) + frame_budget(second, 8)) * 1920
    assert fake_edge.requests == []
    await state_becomes(engine, "unloaded")


async def test_a_failed_reload_is_reported_like_a_failed_load(
    start_server: ServerFactory,
    csm_config: dict[str, Any],
    fake_edge: FakeEdgeService,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = await start_server(merge(csm_config, UNLOAD))
    engine: Any = server.service.engines["csm"]
    await engine.ready()
    await state_becomes(engine, "unloaded")

    def vanished(*_args: Any) -> Any:
        raise OSError("csm.model: /models/csm is gone")

    monkeypatch.setattr("wyoming_verba.engines.csm.startup.lifecycle.load_model", vanished)
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(Synthesize("Hi.", voice=CSM_VOICE).event())
        await read_until(client, "audio-stop")
        await state_becomes(engine, "failed")
        assert (await engines_in_info(client))["csm"] == {
            "state": "failed",
            "detail": "csm.model: /models/csm is gone",
        }
        await client.write_event(Synthesize("Hi.", voice=CSM_VOICE).event())
        await read_until(client, "audio-stop")
    assert [r.text for r in fake_edge.requests] == ["Hi.", "Hi."]
    assert "CSM could not be loaded: csm.model: /models/csm is gone" in caplog.text


def test_unload_after_s_is_off_by_default_and_must_be_positive() -> None:
    assert parse_config({}, environ={}).csm.unload_after_s is None
    assert parse_config({"csm": {"unload_after_s": 300}}, environ={}).csm.unload_after_s == 300
    assert parse_config({"csm": {"unload_after_s": None}}, environ={}).csm.unload_after_s is None
    for bad in (0, -5, "soon"):
        with pytest.raises(ConfigError, match="csm.unload_after_s"):
            parse_config({"csm": {"unload_after_s": bad}}, environ={})
