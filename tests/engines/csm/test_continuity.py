"""A reply is one continuous CSM utterance: each sentence is generated with the earlier ones in
its slot's context, exactly as a fresh prefill of the whole conversation would have it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from wyoming.client import AsyncClient
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop

from tests.support.csm import Worker, reference_codes, write_wav
from tests.support.serving import ServerFactory, audio_of, merge, read_until, uri_of
from wyoming_verba.engines.csm.generation import running as occupant
from wyoming_verba.engines.csm.generation.reply import Sentence
from wyoming_verba.engines.csm.model.mimi import FRAME_SAMPLES
from wyoming_verba.engines.csm.voices.prompts import load_reference_audio

FIRST, SECOND, THIRD = "Hello there.", "The lights are off now.", "Sleep well."


@pytest.fixture
def stack(tiny_csm: Any) -> Iterator[Worker]:
    worker = Worker(*tiny_csm, max_batch=2)
    yield worker
    worker.stop()


def text_embeds(model: Any, processor: Any, turns: list[dict[str, Any]]) -> torch.Tensor:
    """Embeddings of chat-template turns through transformers' own merge (audio encoded by Mimi)."""
    encoded = processor.apply_chat_template(turns, tokenize=True, return_dict=True)
    return model._merge_input_ids_with_input_values(
        encoded["input_ids"], encoded.get("input_values"), encoded.get("input_values_cutoffs")
    )["inputs_embeds"]


def turn(text: str, speaker: int = 0) -> dict[str, Any]:
    return {"role": str(speaker), "content": [{"type": "text", "text": text}]}


def spoken(model: Any, frames: torch.Tensor) -> torch.Tensor:
    """A sentence's frames followed by the end-of-audio frame, embedded as the backbone sees them."""
    eos = torch.full((1, model.config.num_codebooks), model.config.codebook_eos_token_id)
    return model.backbone_model.embed_tokens(torch.cat([frames, eos])[None])


def wait(collector: Any) -> None:
    assert collector.done.wait(60)
    assert collector.items[-1] is None, collector.items[-1]


def test_continuing_in_the_slot_equals_a_fresh_prefill_of_the_conversation(
    stack: Worker, tiny_csm: Any, tmp_path: Path
) -> None:
    model, processor = tiny_csm
    clip = write_wav(tmp_path / "ref.wav", 1.0)
    prefix = stack.worker.call(
        lambda: stack.prompts.build_prefix("narrator", 1, clip, "I read stories.")
    ).result()
    reply, collector = stack.reply([(FIRST, 8), (SECOND, 10), (THIRD, 6)], speaker=1, prefix=prefix)
    wait(collector)
    assert collector.sentence_ends == 3 and collector.samples == 24 * FRAME_SAMPLES
    frames = torch.stack(reply.frames)
    first, second, third = frames[:8], frames[8:18], frames[18:]
    reference = {
        "role": "1",
        "content": [
            {"type": "text", "text": "I read stories."},
            {"type": "audio", "path": load_reference_audio(clip)},
        ],
    }
    context = text_embeds(model, processor, [reference, turn(FIRST, 1)])
    assert torch.equal(first, reference_codes(model, context, 8))
    context = torch.cat(
        [context, spoken(model, first), text_embeds(model, processor, [turn(SECOND, 1)])], dim=1
    )
    assert torch.equal(second, reference_codes(model, context, 10))
    context = torch.cat(
        [context, spoken(model, second), text_embeds(model, processor, [turn(THIRD, 1)])], dim=1
    )
    assert torch.equal(third, reference_codes(model, context, 6))


def test_the_next_sentence_starts_in_the_very_next_step(stack: Worker) -> None:
    steps = stack.worker.steps
    _reply, collector = stack.reply([(FIRST, 7), (SECOND, 9)])
    wait(collector)
    assert stack.worker.steps - steps == 16  # 7 + 9 frames, no idle step between sentences


def test_with_continuity_a_sentence_depends_on_the_one_before(stack: Worker) -> None:
    results = {}
    for continuity in (True, False):
        for before in (FIRST, THIRD):
            reply, collector = stack.reply([(before, 6), (SECOND, 8)], continuity=continuity)
            wait(collector)
            results[(continuity, before)] = torch.stack(reply.frames[6:])
    assert not torch.equal(results[(True, FIRST)], results[(True, THIRD)])
    assert torch.equal(results[(False, FIRST)], results[(False, THIRD)])
    alone, collector = stack.reply([(SECOND, 8)])
    wait(collector)
    assert torch.equal(results[(False, FIRST)], torch.stack(alone.frames))


def test_a_waiting_slot_costs_no_steps_and_goes_on_when_the_sentence_comes(
    stack: Worker,
) -> None:
    reply, collector = stack.reply([(FIRST, 5)], end=False)
    deadline = time.monotonic() + 30
    while collector.sentence_ends < 1 and time.monotonic() < deadline:
        time.sleep(0.005)
    steps = stack.worker.steps
    time.sleep(0.3)
    assert stack.worker.steps == steps  # waiting for the next sentence: no frame steps
    reply.add(Sentence(stack.prompts.text_ids(SECOND, 0), 4))
    reply.end()
    wait(collector)
    assert len(reply.frames) == 9 and stack.worker.steps == steps + 4


def test_the_rolling_window_keeps_the_audio_whole_and_equals_a_fresh_prefill(
    stack: Worker, tiny_csm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, processor = tiny_csm
    limit = 160
    monkeypatch.setattr(occupant, "CONTEXT_LIMIT", limit)
    texts = [FIRST, SECOND, THIRD, FIRST, SECOND]
    caps = [20, 25, 20, 22, 18]
    reply, collector = stack.reply(list(zip(texts, caps, strict=True)))
    wait(collector)
    # Continuous audio: every sentence's frames, nothing repeated, nothing missing.
    assert collector.samples == sum(caps) * FRAME_SAMPLES
    frames = torch.stack(reply.frames)
    history: list[tuple[str, torch.Tensor]] = []  # the context as the slot should hold it
    start, rebuilt = 0, 0
    for text, cap in zip(texts, caps, strict=True):
        ids = stack.prompts.text_ids(text, 0).shape[1]
        used = sum(stack.prompts.text_ids(t, 0).shape[1] + len(f) + 1 for t, f in history)
        if history and used + ids + cap > limit:
            rebuilt += 1
            room, kept = limit - ids - cap, []
            for old_text, old_frames in reversed(history):
                size = stack.prompts.text_ids(old_text, 0).shape[1] + len(old_frames) + 1
                if size > room:
                    break
                kept.insert(0, (old_text, old_frames))
                room -= size
            history = kept
        pieces = [
            torch.cat([text_embeds(model, processor, [turn(t)]), spoken(model, f)], dim=1)
            for t, f in history
        ]
        context = torch.cat([*pieces, text_embeds(model, processor, [turn(text)])], dim=1)
        mine = frames[start : start + cap]
        assert torch.equal(mine, reference_codes(model, context, cap)), (text, len(history))
        history.append((text, mine))
        start += cap
    assert rebuilt >= 2


def test_a_listener_leaving_mid_reply_frees_the_slot_within_a_frame(tiny_csm: Any) -> None:
    stack = Worker(*tiny_csm, max_batch=1)
    try:
        reply, collector = stack.reply([(FIRST, 200), (SECOND, 200)], end=False)
        deadline = time.monotonic() + 30
        while len(reply.frames) < 3 and time.monotonic() < deadline:
            time.sleep(0.002)
        reply.cancel()
        at_cancel = len(reply.frames)
        other, done = stack.reply([(THIRD, 3)])  # the only slot must come free
        wait(done)
        assert len(other.frames) == 3
        assert len(reply.frames) <= at_cancel + 1
        assert collector.items[-1] is None
    finally:
        stack.stop()


async def test_streamed_text_in_small_pieces_sounds_like_the_whole_text(
    start_server: ServerFactory, csm_config: dict[str, Any]
) -> None:
    server = await start_server(merge(csm_config, {"csm": {"max_audio_s": 3}}))
    await server.service.engines["csm"].ready()
    text = f"{FIRST} {SECOND} {THIRD}"
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(Synthesize(text).event())
        whole = audio_of(await read_until(client, "audio-stop"))
        await client.write_event(SynthesizeStart().event())
        for index in range(0, len(text), 3):
            await client.write_event(SynthesizeChunk(text[index : index + 3]).event())
        await client.write_event(Synthesize(text).event())
        await client.write_event(SynthesizeStop().event())
        streamed = audio_of(await read_until(client, "synthesize-stopped"))
    assert len(whole) > 0 and streamed == whole
