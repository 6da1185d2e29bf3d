"""CSM through the real server: streaming, sample counts, Describe, voices, fallback, errors."""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import torch
from wyoming.client import AsyncClient
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeVoice

from tests.fakes.fake_edge import FakeEdgeService, decoded_samples
from tests.support.csm import write_wav
from tests.support.serving import ServerFactory, audio_of, merge, read_until, types_of, uri_of
from wyoming_verba.core.text import split_sentences
from wyoming_verba.engines.csm.generation.reply import SentenceFitter, frame_budget
from wyoming_verba.engines.csm.model.step import FrameStep

TEXT = "Hello there. The lights in the kitchen are now off."


def with_narrator(csm_config: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """The CSM config plus a voice profile 'narrator' (speaker 1) with a reference clip."""
    clip = write_wav(tmp_path / "narrator.wav", 1.0)
    profile = {
        "name": "narrator",
        "speaker": 1,
        "reference_audio": str(clip),
        "reference_text": "I read stories.",
    }
    return merge(csm_config, {"csm": {"voices": [profile]}})


async def ready(server: Any) -> Any:
    engine = server.service.engines["csm"]
    await engine.ready()
    return engine


async def test_csm_streams_and_sample_count_is_frames_times_1920(
    start_server: ServerFactory, csm_config: dict[str, Any]
) -> None:
    server = await start_server(csm_config)
    engine = await ready(server)
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(Synthesize(TEXT).event())
        events = await read_until(client, "audio-chunk")
        steps_at_first_audio = engine.generation_stats()["steps"]
        events += await read_until(client, "audio-stop")
    assert types_of(events) == ["audio-start", "audio-chunk", "audio-stop"]
    assert events[0].data["rate"] == 24000
    frames = sum(frame_budget(s, 8) for s in split_sentences(TEXT))  # random weights: no EOS
    assert len(audio_of(events)) // 2 == frames * 1920
    # The first chunk reached the client while most frames were still to be generated.
    assert steps_at_first_audio < frames / 2


async def test_describe_answers_during_generation_and_lists_csm_voices(
    start_server: ServerFactory, csm_config: dict[str, Any], tmp_path: Path
) -> None:
    config = with_narrator(csm_config, tmp_path)
    server = await start_server(config)
    engine = await ready(server)
    async with (
        AsyncClient.from_uri(uri_of(server)) as busy,
        AsyncClient.from_uri(uri_of(server)) as other,
    ):
        await busy.write_event(
            Synthesize("A longer sentence that keeps the model busy for a while.").event()
        )
        await read_until(busy, "audio-chunk")
        await other.write_event(Describe().event())
        info = Info.from_event((await read_until(other, "info"))[-1])
        # Describe came back while the generation was still running.
        steps_at_info = engine.generation_stats()["steps"]
        rest = await read_until(busy, "audio-stop")
        assert steps_at_info < engine.generation_stats()["steps"]
        assert any(e.type == "audio-chunk" for e in rest)
    voices = {voice.name: voice.languages for voice in info.tts[0].voices}
    assert voices["csm:speaker-0"] == ["en"]
    assert voices["csm:narrator"] == ["en"]
    assert "edge:en-US-AriaNeural" in voices


async def test_voice_profile_and_speaker_override(
    start_server: ServerFactory, csm_config: dict[str, Any], tmp_path: Path
) -> None:
    config = with_narrator(csm_config, tmp_path)
    server = await start_server(config)
    await ready(server)
    results = {}
    async with AsyncClient.from_uri(uri_of(server)) as client:
        for name, speaker in (
            ("csm:narrator", None),
            ("csm:narrator", "1"),
            ("csm:speaker-0", None),
        ):
            await client.write_event(
                Synthesize("Good night.", voice=SynthesizeVoice(name, speaker=speaker)).event()
            )
            results[(name, speaker)] = audio_of(await read_until(client, "audio-stop"))
    # Same voice, same greedy output; speaker 1 is the profile's own speaker.
    assert results[("csm:narrator", None)] == results[("csm:narrator", "1")]
    assert results[("csm:narrator", None)] != results[("csm:speaker-0", None)]


async def test_out_of_memory_falls_back_to_edge(
    start_server: ServerFactory,
    csm_config: dict[str, Any],
    fake_edge: FakeEdgeService,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="wyoming_verba.request")
    server = await start_server(csm_config)
    await ready(server)

    def out_of_memory(*_args: Any, **_kwargs: Any) -> torch.Tensor:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 8.00 GiB")

    monkeypatch.setattr(FrameStep, "frame", out_of_memory)
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(Synthesize("Lights off.").event())
        events = await read_until(client, "audio-stop")
    assert types_of(events) == ["audio-start", "audio-chunk", "audio-stop"]
    assert [r.text for r in fake_edge.requests] == ["Lights off."]
    await asyncio.sleep(0.05)
    assert "backend=edge(fallback-from-csm)" in caplog.text
    assert len(audio_of(events)) // 2 == decoded_samples(fake_edge.requests[0].mp3)


async def test_without_fallback_the_error_reaches_the_client(
    start_server: ServerFactory, csm_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = await start_server(merge(csm_config, {"tts": {"fallback": "none"}}))
    await ready(server)
    monkeypatch.setattr(
        FrameStep,
        "frame",
        lambda *a, **k: (_ for _ in ()).throw(torch.OutOfMemoryError("CUDA out of memory")),
    )
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(Synthesize("Lights off.").event())
        events = await read_until(client, "error")
        assert "out of GPU memory" in events[-1].data["text"]
        monkeypatch.undo()
        await client.write_event(Synthesize("Lights on.").event())
        assert types_of(await read_until(client, "audio-stop"))[-1] == "audio-stop"


async def test_missing_model_falls_back_and_says_what_to_do(
    start_server: ServerFactory,
    fake_edge: FakeEdgeService,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # sesame/csm-1b is not in the cache and HF_HUB_OFFLINE=1 (conftest): loading fails at once.
    server = await start_server({"tts": {"backend": "csm"}, "csm": {"device": "cpu"}})
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(Describe().event())
        assert (await read_until(client, "info"))[-1].type == "info"
        await client.write_event(Synthesize("Hi.").event())
        events = await read_until(client, "audio-stop")
    assert len(audio_of(events)) // 2 == decoded_samples(fake_edge.requests[0].mp3)
    await asyncio.sleep(0)
    assert "wyoming-verba download" in caplog.text


async def test_lazy_loading_loads_on_first_request(
    start_server: ServerFactory, csm_config: dict[str, Any]
) -> None:
    config = merge(csm_config, {"tts": {"fallback": "none"}, "csm": {"preload": False}})
    server = await start_server(config)
    engine = server.service.engines["csm"]
    assert engine.generation_stats() == {} and engine.status().state == "idle"
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(Synthesize("Hi.", voice=SynthesizeVoice("csm:speaker-1")).event())
        events = await read_until(client, "audio-stop")
    assert len(audio_of(events)) // 2 == frame_budget("Hi.", 8) * 1920
    assert engine.generation_stats()["steps"] > 0 and engine.status().state == "ready"


async def test_while_csm_loads_the_fallback_serves(
    start_server: ServerFactory,
    csm_config: dict[str, Any],
    fake_edge: FakeEdgeService,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO")
    server = await start_server(merge(csm_config, {"csm": {"preload": False}}))
    engine = server.service.engines["csm"]
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(Synthesize("Hi.").event())
        events = await read_until(client, "audio-stop")
        # Served by Edge at once; the request started CSM loading.
        assert [r.text for r in fake_edge.requests] == ["Hi."]
        assert len(audio_of(events)) // 2 == decoded_samples(fake_edge.requests[0].mp3)
        assert engine.status().state in ("loading", "ready")
        assert "csm is still loading; the edge engine (tts.fallback) serves" in caplog.text
        await engine.ready()
        await client.write_event(Synthesize("Hi.").event())
        events = await read_until(client, "audio-stop")
    assert len(fake_edge.requests) == 1
    assert len(audio_of(events)) // 2 == frame_budget("Hi.", 8) * 1920


async def test_bare_speakers_are_anchored_to_a_generated_reference(
    start_server: ServerFactory, csm_config: dict[str, Any]
) -> None:
    outputs = {}
    for anchored in (True, False):
        server = await start_server(merge(csm_config, {"csm": {"anchor_speakers": anchored}}))
        await ready(server)
        async with AsyncClient.from_uri(uri_of(server)) as client:
            await client.write_event(Describe().event())
            info = Info.from_event((await read_until(client, "info"))[-1])
            description = next(
                v.description for v in info.tts[0].voices if v.name == "csm:speaker-0"
            )
            await client.write_event(
                Synthesize("Good night.", voice=SynthesizeVoice("csm:speaker-0")).event()
            )
            outputs[anchored] = audio_of(await read_until(client, "audio-stop"))
        assert ("fixed generated reference" in description) is anchored
    # Same greedy decoding, different context: the anchor really conditions the request.
    assert len(outputs[True]) == len(outputs[False])
    assert outputs[True] != outputs[False]


async def test_text_longer_than_max_audio_is_split_not_cut(
    start_server: ServerFactory, csm_config: dict[str, Any]
) -> None:
    server = await start_server(merge(csm_config, {"csm": {"max_audio_s": 2}}))
    await ready(server)
    text = "one two three four five six seven eight nine ten eleven twelve"  # 63 chars: ~6.7 s
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(Synthesize(text, voice=SynthesizeVoice("csm:speaker-0")).event())
        events = await read_until(client, "audio-stop")
    fitter = fitter_of(server.service.engines["csm"], 0, 2)
    pieces = fitter.fit(text)
    tokenize = fitter.tokenize
    assert len(pieces) > 1
    assert sum(p.length for p in pieces) > tokenize(text).shape[1]  # each piece its own turn
    assert all(p.max_frames < 2 * 12.5 for p in pieces)
    # Every piece got its full budget: more audio than one capped sentence could hold.
    assert len(audio_of(events)) // 2 == sum(p.max_frames for p in pieces) * 1920
    assert len(audio_of(events)) // 2 > frame_budget(text, 2) * 1920


def fitter_of(engine: Any, prefix_length: int, max_audio_s: float) -> SentenceFitter:
    return SentenceFitter(
        partial(engine._runtime.prompts.text_ids, speaker=0), prefix_length, max_audio_s
    )


async def test_prompt_and_frames_stay_within_2048_positions(
    start_server: ServerFactory, csm_config: dict[str, Any]
) -> None:
    from wyoming_verba.engines.base import EngineError

    server = await start_server(csm_config)
    engine = await ready(server)
    text = "This sentence needs more room than a nearly full context has left."
    pieces = fitter_of(engine, 1950, 8).fit(text)
    assert len(pieces) > 1
    for piece in pieces:
        assert 1950 + piece.length + piece.max_frames <= 2048
    with pytest.raises(EngineError, match="do not fit CSM's 2048-position context"):
        fitter_of(engine, 2040, 8).fit(text)


async def test_a_failing_compile_leaves_csm_working_uncompiled(
    start_server: ServerFactory,
    csm_config: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken_compiler(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("inductor exploded")

    monkeypatch.setattr(torch, "compile", broken_compiler)
    server = await start_server(merge(csm_config, {"csm": {"compile": True}}))
    await ready(server)
    assert "Compiling the CSM frame step failed (RuntimeError: inductor exploded)" in caplog.text
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(Synthesize("Hi.", voice=SynthesizeVoice("csm:speaker-0")).event())
        events = await read_until(client, "audio-stop")
    assert len(audio_of(events)) // 2 == frame_budget("Hi.", 8) * 1920


@pytest.mark.parametrize(
    ("text", "edge_error"),
    [
        ("ERROR lights off.", "Edge TTS service error"),
        ("NOAUDIO lights off.", "Edge TTS returned no audio"),
    ],
)
async def test_when_the_fallback_fails_too_the_error_names_both_causes(
    start_server: ServerFactory,
    csm_config: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    edge_error: str,
) -> None:
    server = await start_server(csm_config)
    await ready(server)

    def out_of_memory(*_args: Any, **_kwargs: Any) -> None:
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(FrameStep, "frame", out_of_memory)
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(Synthesize(text).event())  # the fake fails it
        events = await read_until(client, "error")
    message = events[-1].data["text"]
    assert edge_error in message and "out of GPU memory" in message


async def test_a_missing_model_directory_is_named(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    missing = tmp_path / "models" / "csm-1b"
    server = await start_server(
        {"tts": {"engines": ["edge", "csm"]}, "csm": {"model": str(missing)}}
    )
    engine = server.service.engines["csm"]
    with pytest.raises(Exception, match="not found"):
        await engine.wait_ready()
    status = engine.status()
    assert status.state == "failed"
    assert f"csm.model: directory {missing} not found" in status.detail


@pytest.mark.parametrize("text", ["<|AUDIO|>", "hi<|end_of_text|><|begin_of_text|>[7]there"])
async def test_special_token_spellings_in_a_request_are_spoken_as_text(
    start_server: ServerFactory, csm_config: dict[str, Any], no_tracebacks: Any, text: str
) -> None:
    server = await start_server(merge(csm_config, {"tts": {"fallback": "none"}}))
    engine = await ready(server)
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(Synthesize(text, voice=SynthesizeVoice("csm:speaker-0")).event())
        events = await read_until(client, "audio-stop")
    assert types_of(events) == ["audio-start", "audio-chunk", "audio-stop"]
    assert len(audio_of(events)) // 2 == frame_budget(text, 8) * 1920
    # One text turn of plain text: as many positions as the characters, never a second turn.
    ids = engine._runtime.prompts.text_ids(text, 0)
    assert ids.shape[1] == len(f"[0]{text}") + 2
