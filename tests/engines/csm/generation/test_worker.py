"""The generation worker: slots joining and leaving, cancellation, end-of-audio, failures."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import torch

from tests.support.csm import Worker, reference_codes
from wyoming_verba.engines.base import SENTENCE_END, EngineUnavailableError
from wyoming_verba.engines.csm.model.backbone import Backbone
from wyoming_verba.engines.csm.model.mimi import FRAME_SAMPLES
from wyoming_verba.engines.csm.model.pipeline import FramePipeline
from wyoming_verba.engines.csm.model.step import FrameStep

TEXTS = ["Hello there.", "The kitchen lights are now off, and the door is locked.", "Yes."]


@pytest.fixture(params=["in-step", "overlapped"])
def stack(
    request: pytest.FixtureRequest, tiny_csm: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Worker]:
    """The worker as on the CPU (each frame read at once) and as on CUDA, where the host reads
    frame t while frame t+1 already runs (results here still arrive at once)."""
    if request.param == "overlapped":
        monkeypatch.setattr(FramePipeline, "overlaps", property(lambda self: True))
    worker = Worker(*tiny_csm)
    yield worker
    worker.stop()


def single(stack: Worker, model: Any, text: str, frames: int) -> torch.Tensor:
    ids = stack.prompts.text_ids(text, 0)
    return reference_codes(model, stack.step.backbone.embed_prompt(ids), frames)


def test_one_reply_streams_its_frames_and_equals_the_reference(
    stack: Worker, tiny_csm: Any
) -> None:
    reply, collector = stack.reply([(TEXTS[0], 12)])
    assert collector.done.wait(60)
    assert collector.items[-1] is None and collector.items[-2] is SENTENCE_END
    assert len(reply.frames) == 12
    assert collector.samples == 12 * FRAME_SAMPLES
    # The first chunk is a single frame, then chunk_frames (2) at a time.
    sizes = [item.size // FRAME_SAMPLES for item in collector.audio]
    assert sizes[0] == 1 and all(size <= 2 for size in sizes[1:])
    assert torch.equal(torch.stack(reply.frames), single(stack, tiny_csm[0], TEXTS[0], 12))


def test_replies_joining_and_leaving_give_the_same_codes_as_single_runs(
    stack: Worker, tiny_csm: Any
) -> None:
    caps = [15, 9, 20]
    expected = [single(stack, tiny_csm[0], t, c) for t, c in zip(TEXTS, caps, strict=True)]
    first = stack.reply([(TEXTS[0], caps[0])])
    deadline = time.monotonic() + 30
    while len(first[0].frames) < 4 and time.monotonic() < deadline:
        time.sleep(0.002)
    later = [stack.reply([(text, cap)]) for text, cap in zip(TEXTS[1:], caps[1:], strict=True)]
    runs = [first, *later]
    for (_reply, collector), cap in zip(runs, caps, strict=True):
        assert collector.done.wait(60)
        assert collector.samples == cap * FRAME_SAMPLES
    assert stack.worker.max_rows_seen >= 2, "the replies were not batched"
    assert len(first[0].frames) > 0
    for (reply, _collector), codes in zip(runs, expected, strict=True):
        assert torch.equal(torch.stack(reply.frames), codes)


def test_cancelled_reply_stops_within_a_frame_and_frees_its_slot(stack: Worker) -> None:
    replies = [stack.reply([(TEXTS[1], 400)]) for _ in range(4)]  # every slot taken
    reply, _collector = replies[0]
    deadline = time.monotonic() + 30
    while len(reply.frames) < 3 and time.monotonic() < deadline:
        time.sleep(0.002)
    steps = stack.worker.steps
    reply.cancel()
    at_cancel = len(reply.frames)
    waiting, waited = stack.reply([(TEXTS[2], 3)])  # a fifth reply gets the freed slot
    assert waited.done.wait(30) and waited.samples == 3 * FRAME_SAMPLES
    assert len(reply.frames) <= at_cancel + 1
    assert len(waiting.frames) == 3 and stack.worker.steps > steps
    for other, _ in replies[1:]:
        other.cancel()


def test_end_of_audio_on_the_first_frame_gives_no_audio(stack: Worker, tiny_csm: Any) -> None:
    model, _ = tiny_csm
    saved = [
        w.detach().clone()
        for w in (model.lm_head.weight, model.depth_decoder.codebooks_head.weight)
    ]
    try:
        with torch.no_grad():
            model.lm_head.weight.zero_()
            model.depth_decoder.codebooks_head.weight.zero_()
        reply, collector = stack.reply([(TEXTS[0], 20)])
        assert collector.done.wait(30)
        assert collector.items == [SENTENCE_END, None]
        assert reply.frames == []
    finally:
        with torch.no_grad():
            model.lm_head.weight.copy_(saved[0])
            model.depth_decoder.codebooks_head.weight.copy_(saved[1])


def test_end_of_audio_mid_sentence_ends_that_sentence(
    stack: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = Backbone.is_end
    calls = {"n": 0}

    def ending_on_the_fifth(self: Backbone, frames: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        ended = real(self, frames)
        return torch.ones_like(ended) if calls["n"] == 5 else ended

    monkeypatch.setattr(Backbone, "is_end", ending_on_the_fifth)
    reply, collector = stack.reply([(TEXTS[0], 50)])
    assert collector.done.wait(30)
    assert len(reply.frames) == 4
    assert collector.samples == 4 * FRAME_SAMPLES


def test_out_of_memory_fails_the_replies_and_the_worker_survives(
    stack: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = FrameStep.frame
    state = {"raised": False}

    def out_of_memory_once(self: FrameStep, rows: int) -> None:
        if not state["raised"]:
            state["raised"] = True
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        real(self, rows)

    monkeypatch.setattr(FrameStep, "frame", out_of_memory_once)
    _reply, failed = stack.reply([(TEXTS[0], 5)])
    assert failed.done.wait(30)
    assert isinstance(failed.items[-1], EngineUnavailableError)
    assert "out of GPU memory" in str(failed.items[-1])
    _reply, ok = stack.reply([(TEXTS[0], 5)])
    assert ok.done.wait(30) and ok.items[-1] is None and ok.samples == 5 * FRAME_SAMPLES


def test_a_failing_prefill_fails_only_its_reply(
    stack: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = Backbone.prefill
    state = {"calls": 0}

    def second_fails(self: Backbone, *args: Any) -> torch.Tensor:
        state["calls"] += 1
        if state["calls"] == 2:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return real(self, *args)

    monkeypatch.setattr(Backbone, "prefill", second_fails)
    first = stack.reply([(TEXTS[1], 30)])
    second = stack.reply([(TEXTS[2], 5)])
    assert second[1].done.wait(30) and isinstance(second[1].items[-1], EngineUnavailableError)
    assert first[1].done.wait(30) and first[1].items[-1] is None
    assert first[1].samples == 30 * FRAME_SAMPLES


@pytest.fixture
def one_slot(tiny_csm: Any) -> Iterator[Worker]:
    worker = Worker(*tiny_csm, max_batch=1)
    yield worker
    worker.stop()


def wait_for(condition: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


def test_a_reply_without_sentences_holds_no_slot(one_slot: Worker) -> None:
    silent, silent_items = one_slot.reply([], end=False)  # a stream that sends no text
    _reply, served = one_slot.reply([(TEXTS[0], 5)])
    assert served.done.wait(30) and served.items[-1] is None
    assert served.samples == 5 * FRAME_SAMPLES
    assert not silent_items.done.is_set()
    silent.end()
    assert silent_items.done.wait(30) and silent_items.items == [None]


def test_a_sentence_kept_waiting_past_queue_timeout_fails_its_reply(one_slot: Worker) -> None:
    long, _ = one_slot.reply([(TEXTS[1], 400)])
    wait_for(lambda: len(long.frames) >= 2)
    started = time.monotonic()
    _reply, starved = one_slot.reply([(TEXTS[0], 5)], queue_timeout_s=0.3)
    assert starved.done.wait(30)
    waited = time.monotonic() - started
    failure = starved.items[-1]
    assert isinstance(failure, EngineUnavailableError)
    assert "csm.queue_timeout_s" in str(failure) and "csm.max_batch" in str(failure)
    assert starved.samples == 0 and waited >= 0.3
    frames = len(long.frames)
    wait_for(lambda: len(long.frames) > frames)  # the long reply goes on
    long.cancel()


def test_a_reply_between_sentences_lends_its_slot_and_continues_exactly(
    one_slot: Worker, tiny_csm: Any
) -> None:
    first, first_items = one_slot.reply([(TEXTS[0], 8)], end=False)
    wait_for(lambda: first_items.sentence_ends == 1)
    _other, other_items = one_slot.reply([(TEXTS[2], 6)])  # only one slot: first lends it
    assert other_items.done.wait(30) and other_items.samples == 6 * FRAME_SAMPLES
    one_slot.add(first, TEXTS[1], 10)
    first.end()
    assert first_items.done.wait(30) and first_items.items[-1] is None
    assert first_items.samples == 18 * FRAME_SAMPLES
    # The same reply in a slot it never left: identical codes (context rebuilt exactly).
    kept, kept_items = one_slot.reply([(TEXTS[0], 8), (TEXTS[1], 10)])
    assert kept_items.done.wait(30)
    assert torch.equal(torch.stack(first.frames), torch.stack(kept.frames))
