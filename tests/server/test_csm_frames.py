"""Our CSM frame loop against transformers' generate(), prefix caching, context limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import LogitsProcessor, LogitsProcessorList

from wyoming_verba.engines.csm.engine import CONTEXT_LIMIT, frame_budget
from wyoming_verba.engines.csm.frames import FrameModel, Sampling
from wyoming_verba.engines.csm.prompts import PromptBuilder

from .csm_helpers import loop_codes, write_wav


def prompt(processor: Any, text: str, speaker: int = 0) -> dict[str, torch.Tensor]:
    turn = [{"role": str(speaker), "content": [{"type": "text", "text": text}]}]
    return processor.apply_chat_template(turn, tokenize=True, return_dict=True)


def test_greedy_codes_identical_to_generate(tiny_csm: Any) -> None:
    model, processor = tiny_csm
    inputs = prompt(processor, "The kitchen lights are now off.")
    expected = model.generate(
        **inputs, max_new_tokens=40, do_sample=False, depth_decoder_do_sample=False
    )
    frames = FrameModel(model)
    ours = loop_codes(frames, frames.embed_prompt(inputs["input_ids"]), 40)
    assert expected.shape == ours.shape == (1, 40, 32)
    assert torch.equal(expected, ours)


def test_prefix_cache_equals_full_conversation(tiny_csm: Any, tmp_path: Path) -> None:
    model, processor = tiny_csm
    clip = write_wav(tmp_path / "ref.wav", 1.3, rate=16000)
    frames = FrameModel(model)
    builder = PromptBuilder(processor, frames)
    prefix = builder.build_prefix("narrator", 1, clip, "This is how I sound.")

    from wyoming_verba.engines.csm.prompts import load_reference_audio

    conversation = [
        {
            "role": "1",
            "content": [
                {"type": "text", "text": "This is how I sound."},
                {"type": "audio", "path": load_reference_audio(clip)},
            ],
        },
        {"role": "1", "content": [{"type": "text", "text": "And now something new."}]},
    ]
    full = processor.apply_chat_template(conversation, tokenize=True, return_dict=True)
    expected = model.generate(
        **full, max_new_tokens=20, do_sample=False, depth_decoder_do_sample=False
    )

    ids = builder.text_ids("And now something new.", 1)
    assert prefix.length + ids.shape[1] == full["input_ids"].shape[1]
    prefill = builder.prefill(prefix, ids)
    hidden = prefill.hidden
    ours = []
    for _ in range(20):
        frame = frames.frame(hidden, Sampling(0, 0))
        ours.append(frame)
        hidden = frames.backbone(frames.embed_frames(frame[:, None, :]), prefill.cache)
    assert torch.equal(expected, torch.stack(ours, dim=1))
    # The prefix cache itself is untouched and can serve the next request.
    again = builder.prefill(prefix, ids)
    assert torch.equal(again.hidden, prefill.hidden) or torch.allclose(again.hidden, prefill.hidden)


class ForceEndAfter(LogitsProcessor):
    def __init__(self, frames: int, prompt_length: int) -> None:
        self.frames, self.prompt_length = frames, prompt_length

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        generated = input_ids.shape[1] if input_ids.dim() == 3 else 0
        if generated >= self.frames:
            scores[:] = float("-inf")
            scores[:, 0] = 0
        return scores


def test_end_of_audio_frame_detection_matches_generate(tiny_csm: Any, tmp_path: Path) -> None:
    model, processor = tiny_csm
    frames = FrameModel(model)
    head = model.depth_decoder.codebooks_head.weight
    saved = head.detach().clone()
    try:
        with torch.no_grad():
            head.zero_()  # codebooks 1..31 always 0: a frame ends audio exactly when codebook 0 is 0
        inputs = prompt(processor, "Short.")
        generated = model.generate(
            **inputs,
            max_new_tokens=30,
            do_sample=False,
            depth_decoder_do_sample=False,
            logits_processor=LogitsProcessorList([ForceEndAfter(5, 0)]),
        )
        assert generated.shape[1] == 6 and bool(frames.is_end(generated[:, -1]).all())
        ours = loop_codes(frames, frames.embed_prompt(inputs["input_ids"]), 5)
        assert torch.equal(generated[:, :5], ours)
        assert not bool(frames.is_end(ours[0]).any())
    finally:
        with torch.no_grad():
            head.copy_(saved)


def test_frame_budget_follows_text_and_cap() -> None:
    assert frame_budget("Hi.", 20) == int((1 + 0.09 * 3) * 12.5)
    assert frame_budget("x" * 1000, 20) == 250
    assert frame_budget("x" * 1000, 5) == 62
    assert CONTEXT_LIMIT == 2048


def test_speaker_anchor_is_seeded_and_reused(tiny_csm: Any) -> None:
    model, processor = tiny_csm
    frames = FrameModel(model)
    builder = PromptBuilder(processor, frames)
    sampling = Sampling(temperature=0.9, top_k=20)
    first = builder.build_anchor(0, "Hello, nice to meet you.", 12, sampling, seed=7)
    again = builder.build_anchor(0, "Hello, nice to meet you.", 12, sampling, seed=7)
    other = builder.build_anchor(0, "Hello, nice to meet you.", 12, sampling, seed=8)
    ids = builder.text_ids("Hello, nice to meet you.", 0)
    # text turn + 12 sampled frames (random weights: no end-of-audio) + the end-of-audio frame
    assert first.length == ids.shape[1] + 12 + 1
    assert first.cache.get_seq_length() == first.length
    assert torch.equal(first.cache.layers[0].keys, again.cache.layers[0].keys)
    assert not torch.equal(first.cache.layers[0].keys, other.cache.layers[0].keys)
