"""Device benchmark stage 3: the compiled (and, on CUDA, captured) frame step through the
generation worker, as the engine serves requests.

One graph at full width serves every batch size: the step gets a single bucket (max_batch), so
one compile per stack instead of one per bucket (each cold csm-1b compile costs minutes).
Compiling and capturing run on the calling (main) thread: a CUDA build of torch on a machine
without a GPU can crash compiling on another thread, and the rehearsal runs exactly this code.
"""

from __future__ import annotations

import gc
import time
from functools import partial
from pathlib import Path
from typing import Any

import torch

from benchmarks.csm.runs import Stack
from benchmarks.device.compile import compile_with_cache, new_step
from wyoming_verba.engines.csm.generation.worker import GenerationWorker
from wyoming_verba.engines.csm.model.mimi import BatchedMimiDecoder
from wyoming_verba.engines.csm.model.pipeline import FramePipeline
from wyoming_verba.engines.csm.model.step import FrameStep
from wyoming_verba.engines.csm.startup.runtime import CsmRuntime, prepare_step
from wyoming_verba.engines.csm.voices.prompts import PromptBuilder


def free_device_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


class PreparedStack(Stack):
    """csm_runs.Stack with a prepared step: compiled on this thread, one full-width graph."""

    def __init__(self, model: Any, processor: Any, step: FrameStep) -> None:
        self.step = step
        mimi = BatchedMimiDecoder(model.codec_model, step.slots.count)
        self.worker = GenerationWorker(FramePipeline(step, mimi), chunk_frames=2)
        self.prompts = PromptBuilder(processor, step)
        self.worker.start()
        # Only Mimi's streaming state is allocated on the worker thread (nothing compiles there).
        runtime = CsmRuntime(self.worker, self.prompts)
        self.worker.call(partial(prepare_step, runtime, False, False)).result()


def prepare(
    model: Any, max_batch: int, compiled: bool, cache_root: Path, ref: str
) -> tuple[FrameStep, dict[str, Any]]:
    """A step with one bucket (max_batch), compiled (with the kept cache under `cache_root`) and
    captured where asked and possible. A failing compile or capture is a figure, and the step
    stays as it was."""
    step = new_step(model, max_batch)
    figures: dict[str, Any] = {}
    if compiled:
        # As in a new process (the server compiles once): dynamo would otherwise compile this
        # width's regions with a dynamic batch size, having seen another width before.
        torch._dynamo.reset()
        try:
            found = compile_with_cache(model, step, cache_root, ref)
            figures |= {"compile_source" if k == "source" else k: v for k, v in found.items()}
        except Exception as err:
            figures["compile_failed"] = f"{type(err).__name__}: {err}"[:2000]
    if step.slots.device.type == "cuda":
        started = time.perf_counter()
        try:
            step.capture()
            figures["capture_s"] = time.perf_counter() - started
        except Exception as err:
            figures["capture_failed"] = f"{type(err).__name__}: {err}"[:2000]
    return step, figures


def describe(figures: dict[str, Any]) -> str:
    parts = []
    for key in ("compile", "capture"):
        if f"{key}_failed" in figures:
            parts.append(f"{key} failed: {figures[f'{key}_failed'][:300]}")
        elif f"{key}_s" in figures:
            parts.append(f"{key} {figures[f'{key}_s']:.1f} s")
    if "compile_source" in figures:
        parts[0] += f" {figures['compile_source']} (kept cache {figures['cache_mib']:.1f} MiB)"
    return ", ".join(parts) or "eager, not captured (no CUDA)"


def warm_line(width: int, found: dict[str, Any], cold_s: float | None) -> str:
    """The second-start figure line."""
    if "error" in found:
        return f"second start failed: {found['error']}"
    (compiled,) = found["widths"]
    cold = "not measured" if cold_s is None else f"{cold_s:.1f} s"
    return (
        f"second start (a new process, the kept cache): load {found['load_s']:.1f} s, compile "
        f"at width {width} {compiled['compile_s']:.1f} s {compiled['source']} (cold in this "
        f"run: {cold})"
    )


def streaming_line(name: str, figures: dict[str, Any]) -> str:
    return (
        f"{name}: first audio median {figures['first_audio_s']['median'] * 1000:.0f} ms "
        f"(max {figures['first_audio_s']['max'] * 1000:.0f}), RTF each median "
        f"{figures['rtf_each']['median']:.3f} max {figures['rtf_each']['max']:.3f}, "
        f"samples ok {figures['samples_ok']}"
    )


def gaps_line(figures: dict[str, Any]) -> str:
    return "; ".join(
        f"{key}: gap {value['gap_ms']['median']:.1f} ms = {value['gap_in_frame_steps']:.2f} "
        f"frame steps, first audio {value['first_audio_ms']['median']:.0f} ms"
        for key, value in figures.items()
    )


def peak_vram_gib() -> float | None:
    if not torch.cuda.is_available():
        return None
    return torch.cuda.max_memory_allocated() / 2**30


def reset_peak_vram() -> None:
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
