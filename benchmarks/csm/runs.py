"""Measurements for `script/bench csm`: per-frame cost side by side, dispatch counts, streaming
through the generation worker, concurrency, and sentence-to-sentence gaps."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from benchmarks.common import summary
from benchmarks.csm.previous_loop import PreviousLoop
from wyoming_verba.engines.base import SentenceEnd
from wyoming_verba.engines.csm.generation.reply import Reply, Sentence
from wyoming_verba.engines.csm.generation.worker import GenerationWorker
from wyoming_verba.engines.csm.model.mimi import FRAME_SAMPLES, BatchedMimiDecoder
from wyoming_verba.engines.csm.model.pipeline import FramePipeline
from wyoming_verba.engines.csm.model.sampling import Sampling, SamplingParams
from wyoming_verba.engines.csm.model.slots import SlotState
from wyoming_verba.engines.csm.model.step import FrameStep
from wyoming_verba.engines.csm.startup.runtime import CsmRuntime, prepare_step
from wyoming_verba.engines.csm.voices.prompts import PromptBuilder

GREEDY = Sampling(SamplingParams(0.0), SamplingParams(0.0))
TEXT = "The kitchen lights are now off, and tomorrow will be sunny with a light breeze."
SENTENCES = [
    "The kitchen lights are now off.",
    "Tomorrow will be sunny with a light breeze.",
    "Enjoy your evening.",
]
SYNCING = ("_local_scalar_dense", "item", "nonzero", "is_nonzero", "equal")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def make_step(model: Any, slots: int, compiled: bool, graphs: bool) -> FrameStep:
    """A frame step as the engine prepares it (compile and capture are done here, untimed)."""
    step = FrameStep(model, SlotState(model, slots), GREEDY)
    if compiled:
        step.compile()
    if graphs:
        step.capture()
    return step


def step_frames(step: FrameStep, embeds: torch.Tensor, frames: int) -> None:
    """Prefill slot 0 and generate `frames` frames with the step."""
    hidden = step.backbone.prefill(step.slots, 0, 0, embeds)
    step.slots.activate(
        0,
        hidden=hidden,
        position=int(embeds.shape[1]),
        max_frames=frames,
        seed=0,
        draws=0,
        sampling=GREEDY,
    )
    for _ in range(frames):
        step.run(1)


def per_frame(
    model: Any, processor: Any, frames: int, runs: int, variants: dict[str, Any]
) -> dict[str, Any]:
    """Interleaved runs of every variant on the same prompt: ms per frame (prefill included)."""
    device = model.lm_head.weight.device
    turn = [{"role": "0", "content": [{"type": "text", "text": TEXT}]}]
    inputs = processor.apply_chat_template(turn, tokenize=True, return_dict=True).to(device)
    embeds = model._merge_input_ids_with_input_values(inputs["input_ids"])["inputs_embeds"]
    greedy = {"do_sample": False, "depth_decoder_do_sample": False}
    forced = {"max_new_tokens": frames, "min_new_tokens": frames, **greedy}

    def runner(kind: str, value: Any) -> Callable[[], None]:
        if kind == "generate":
            return lambda: model.generate(**inputs, **forced, **value)
        if kind == "previous":
            return lambda: value.run(embeds, frames)
        return lambda: step_frames(value, embeds, frames)

    calls = {name: runner(kind, value) for name, (kind, value) in variants.items()}
    errors: dict[str, Any] = {}
    with torch.no_grad():
        for name, run in list(calls.items()):
            try:
                run()  # warm up
            except Exception as err:  # e.g. generate() with a static cache: recorded, not fatal
                errors[name] = {"error": f"{type(err).__name__}: {err}"}
                del calls[name]
    times: dict[str, list[float]] = {name: [] for name in calls}
    with torch.no_grad():
        for _ in range(runs):
            for name, run in calls.items():
                sync(device)
                started = time.perf_counter()
                run()
                sync(device)
                times[name].append((time.perf_counter() - started) * 1000 / frames)
    return {**{name: summary(values) for name, values in times.items()}, **errors}


class _Counter(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.ops = 0
        self.syncs = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        self.ops += 1
        self.syncs += func.overloadpacket.__name__ in SYNCING
        return func(*args, **(kwargs or {}))


def dispatch_counts(model: Any, processor: Any) -> dict[str, int]:
    """Operations dispatched and host syncs in one eager frame step, and in the previous loop."""
    device = model.lm_head.weight.device
    turn = [{"role": "0", "content": [{"type": "text", "text": TEXT}]}]
    ids = processor.apply_chat_template(turn, tokenize=True, return_dict=True)["input_ids"]
    step = make_step(model, 1, compiled=False, graphs=False)
    embeds = step.backbone.embed_prompt(ids.to(device))
    step_frames(step, embeds, 1)
    counter = _Counter()
    with torch.no_grad(), counter:
        step.run(1)
    previous = _Counter()
    loop = PreviousLoop(model)
    with torch.no_grad():
        loop.run(embeds, 1)
        one = _Counter()
        with one:
            loop.run(embeds, 1)
        with previous:
            loop.run(embeds, 2)
    return {
        "step_ops_per_frame": counter.ops,
        "step_host_syncs_per_frame": counter.syncs,
        "previous_loop_ops_per_frame": previous.ops - one.ops,
        "previous_loop_host_syncs_per_frame": previous.syncs - one.syncs,
    }


class Timed:
    """A reply's deliveries with timestamps."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.audio: list[tuple[float, int]] = []  # (time, samples)
        self.sentence_ends: list[float] = []
        self.done = threading.Event()
        self.end = 0.0

    def __call__(self, item: Any) -> None:
        now = time.perf_counter()
        if isinstance(item, np.ndarray):
            self.audio.append((now, item.size))
        elif isinstance(item, SentenceEnd):
            self.sentence_ends.append(now)
        else:
            self.end = now
            self.done.set()

    @property
    def samples(self) -> int:
        return sum(size for _, size in self.audio)

    @property
    def first_audio_s(self) -> float:
        return self.audio[0][0] - self.started if self.audio else float("nan")


class Stack:
    """The generation worker as the engine builds and prepares it (compiled on its thread)."""

    def __init__(self, model: Any, processor: Any, max_batch: int, compiled: bool) -> None:
        device = model.lm_head.weight.device
        self.step = FrameStep(model, SlotState(model, max_batch), GREEDY)
        mimi = BatchedMimiDecoder(model.codec_model, max_batch)
        self.worker = GenerationWorker(FramePipeline(self.step, mimi), chunk_frames=2)
        self.prompts = PromptBuilder(processor, self.step)
        self.worker.start()
        runtime = CsmRuntime(self.worker, self.prompts)
        prepare = partial(prepare_step, runtime, compiled, device.type == "cuda")
        self.worker.call(prepare).result()

    def speak(self, texts: list[str], frames: int, continuity: bool = True) -> Timed:
        timed = Timed()
        reply = Reply(None, timed, seed=0, continuity=continuity)
        for text in texts:
            reply.add(Sentence(self.prompts.text_ids(text, 0), frames))
        reply.end()
        timed.started = time.perf_counter()
        self.worker.submit(reply)
        return timed

    def close(self) -> None:
        self.worker.stop()


def streaming(stack: Stack, frames: int, concurrent: int) -> dict[str, Any]:
    """`concurrent` one-sentence requests at once: first audio, wall time and RTF per request."""
    timers = [stack.speak([TEXT], frames) for _ in range(concurrent)]
    for timer in timers:
        timer.done.wait(3600)
    audio_s = frames * FRAME_SAMPLES / 24000
    return {
        "first_audio_s": summary([t.first_audio_s for t in timers]),
        "wall_s": max(t.end for t in timers) - min(t.started for t in timers),
        "rtf_each": summary([(t.end - t.started) / audio_s for t in timers]),
        "samples_ok": all(t.samples == frames * FRAME_SAMPLES for t in timers),
    }


def sentence_gaps(stack: Stack, frames: int, runs: int) -> dict[str, Any]:
    """Three-sentence replies, with and without continuity: the time from a sentence's last audio
    to the next sentence's first audio, against the time of one frame step; first audio."""
    results: dict[str, Any] = {}
    for continuity in (True, False):
        gaps, steps, firsts = [], [], []
        for _ in range(runs):
            timed = stack.speak(SENTENCES, frames, continuity)
            timed.done.wait(3600)
            firsts.append(timed.first_audio_s)
            total_frames = timed.samples // FRAME_SAMPLES
            steps.append((timed.end - timed.started) / total_frames)
            for ended in timed.sentence_ends[:-1]:
                gaps.append(next(t for t, _ in timed.audio if t > ended) - ended)
        step = statistics.median(steps)
        results["continuity" if continuity else "independent"] = {
            "gap_ms": summary([g * 1000 for g in gaps]),
            "frame_step_ms": step * 1000,
            "gap_in_frame_steps": statistics.median(gaps) / step,
            "first_audio_ms": summary([f * 1000 for f in firsts]),
        }
    return results
