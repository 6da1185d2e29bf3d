"""The generation worker: batching, cancellation, end-of-audio, failures."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import torch

from wyoming_verba.engines.base import EngineUnavailableError
from wyoming_verba.engines.csm.frames import FrameModel, Sampling
from wyoming_verba.engines.csm.prompts import PromptBuilder
from wyoming_verba.engines.csm.worker import FRAME_SAMPLES, GenerationWorker, Job

from .csm_helpers import loop_codes

TEXTS = ["Hello there.", "The kitchen lights are now off, and the door is locked.", "Yes."]


class Collector:
    def __init__(self) -> None:
        self.items: list[Any] = []
        self.done = threading.Event()

    def __call__(self, item: Any) -> None:
        self.items.append(item)
        if item is None or isinstance(item, BaseException):
            self.done.set()

    @property
    def samples(self) -> int:
        return sum(
            item.size
            for item in self.items
            if item is not None and not isinstance(item, BaseException)
        )


@pytest.fixture
def worker_parts(tiny_csm: Any) -> Iterator[tuple[FrameModel, PromptBuilder, GenerationWorker]]:
    model, processor = tiny_csm
    frames = FrameModel(model)
    prompts = PromptBuilder(processor, frames)
    worker = GenerationWorker(frames, prompts, Sampling(0, 0), chunk_frames=2, max_batch=4)
    worker.start()
    yield frames, prompts, worker
    worker.stop()


def run_job(
    worker: GenerationWorker, prompts: PromptBuilder, text: str, frames: int
) -> tuple[Job, Collector]:
    collector = Collector()
    job = Job(prompts.text_ids(text, 0), None, frames, collector)
    worker.submit(job)
    return job, collector


def test_single_job_matches_our_loop_and_frame_count(worker_parts: Any) -> None:
    frames, prompts, worker = worker_parts
    job, collector = run_job(worker, prompts, TEXTS[0], 12)
    assert collector.done.wait(60)
    assert collector.items[-1] is None
    assert len(job.frames) == 12
    assert collector.samples == 12 * FRAME_SAMPLES
    # First chunk is a single frame, then chunk_frames (2) at a time.
    sizes = [item.size // FRAME_SAMPLES for item in collector.items[:-1]]
    assert sizes[0] == 1 and all(size <= 2 for size in sizes[1:])
    expected = loop_codes(frames, frames.embed_prompt(job.ids), 12)[0]
    assert torch.equal(torch.stack(job.frames), expected)


def test_batched_jobs_give_the_same_codes_as_single_runs(worker_parts: Any) -> None:
    frames, prompts, worker = worker_parts
    singles = [
        loop_codes(frames, frames.embed_prompt(prompts.text_ids(t, 0)), 15)[0] for t in TEXTS
    ]
    jobs = [run_job(worker, prompts, text, 15) for text in TEXTS]
    for _job, collector in jobs:
        assert collector.done.wait(60)
        assert collector.samples == 15 * FRAME_SAMPLES
    assert worker.max_rows_seen >= 2, "the jobs were not batched"
    for (job, _collector), expected in zip(jobs, singles, strict=True):
        assert torch.equal(torch.stack(job.frames), expected)


def test_cancelled_job_stops_within_a_frame(worker_parts: Any) -> None:
    _frames, prompts, worker = worker_parts
    job, _collector = run_job(worker, prompts, TEXTS[1], 400)
    deadline = time.monotonic() + 30
    while len(job.frames) < 3 and time.monotonic() < deadline:
        time.sleep(0.005)
    job.cancelled.set()
    at_cancel = len(job.frames)
    time.sleep(0.5)
    assert len(job.frames) <= at_cancel + 1
    assert len(job.frames) < 400
    # The worker is free for the next job.
    _next, other = run_job(worker, prompts, TEXTS[2], 3)
    assert other.done.wait(30) and other.samples == 3 * FRAME_SAMPLES


def test_end_of_audio_on_the_first_frame_gives_no_audio(worker_parts: Any, tiny_csm: Any) -> None:
    model, _ = tiny_csm
    _frames, prompts, worker = worker_parts
    saved = (
        model.lm_head.weight.detach().clone(),
        model.depth_decoder.codebooks_head.weight.detach().clone(),
    )
    try:
        with torch.no_grad():
            model.lm_head.weight.zero_()
            model.depth_decoder.codebooks_head.weight.zero_()
        job, collector = run_job(worker, prompts, TEXTS[0], 20)
        assert collector.done.wait(30)
        assert collector.items == [None]
        assert job.frames == []
    finally:
        with torch.no_grad():
            model.lm_head.weight.copy_(saved[0])
            model.depth_decoder.codebooks_head.weight.copy_(saved[1])


def test_end_of_audio_mid_sentence_ends_that_row(
    worker_parts: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _frames, prompts, worker = worker_parts
    real = FrameModel.frame
    calls = {"n": 0}

    def ending_after_four(
        self: FrameModel, hidden: torch.Tensor, sampling: Sampling, generator: Any = None
    ) -> torch.Tensor:
        calls["n"] += 1
        out = real(self, hidden, sampling, generator)
        if calls["n"] == 5:
            out[:] = 0  # end-of-audio for every row in this step
        return out

    monkeypatch.setattr(FrameModel, "frame", ending_after_four)
    job, collector = run_job(worker, prompts, TEXTS[0], 50)
    assert collector.done.wait(30)
    assert len(job.frames) == 4
    assert collector.samples == 4 * FRAME_SAMPLES


def test_out_of_memory_fails_the_rows_and_the_worker_survives(
    worker_parts: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _frames, prompts, worker = worker_parts
    real = FrameModel.frame
    state = {"raised": False}

    def out_of_memory_once(
        self: FrameModel, hidden: torch.Tensor, sampling: Sampling, generator: Any = None
    ) -> torch.Tensor:
        if not state["raised"]:
            state["raised"] = True
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(self, hidden, sampling, generator)

    monkeypatch.setattr(FrameModel, "frame", out_of_memory_once)
    _job, failed = run_job(worker, prompts, TEXTS[0], 5)
    assert failed.done.wait(30)
    assert isinstance(failed.items[-1], EngineUnavailableError)
    assert "out of GPU memory" in str(failed.items[-1])
    _job, ok = run_job(worker, prompts, TEXTS[0], 5)
    assert ok.done.wait(30) and ok.items[-1] is None and ok.samples == 5 * FRAME_SAMPLES
