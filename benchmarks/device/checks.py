"""Device benchmark stages 1 and 2: the frame step's greedy codes against transformers'
generate() (dynamic and static cache), then eager speed side by side.

Every figure is one greedy run on the same prompt. "First audio" here is the time to the first
frame's codes (prefill + one frame); stage 3 measures first audio through the worker and Mimi.
"""

from __future__ import annotations

import platform
import shutil
import sysconfig
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from benchmarks.common import summary
from benchmarks.csm.runs import GREEDY, TEXT, sync
from wyoming_verba.engines.csm.model.slots import SlotState
from wyoming_verba.engines.csm.model.step import FrameStep

FRAME_MS = 80.0  # one Mimi frame is 80 ms of audio


@dataclass
class Prompt:
    """The benchmark prompt: generate()'s inputs and the step's embeddings."""

    inputs: Any
    embeds: torch.Tensor


def make_prompt(model: Any, processor: Any) -> Prompt:
    device = model.lm_head.weight.device
    turn = [{"role": "0", "content": [{"type": "text", "text": TEXT}]}]
    inputs = processor.apply_chat_template(turn, tokenize=True, return_dict=True).to(device)
    with torch.no_grad():
        embeds = model._merge_input_ids_with_input_values(inputs["input_ids"])["inputs_embeds"]
    return Prompt(inputs, embeds)


class _FirstFrame:
    """A generate() streamer that notes when the first frame arrives (the first put is the
    prompt)."""

    def __init__(self, started: float) -> None:
        self.started, self.first_s, self._puts = started, float("nan"), 0

    def put(self, value: torch.Tensor) -> None:
        self._puts += 1
        if self._puts == 2:
            value.cpu()  # waits for the frame
            self.first_s = time.perf_counter() - self.started

    def end(self) -> None:
        pass


def generate_codes(
    model: Any, prompt: Prompt, frames: int, cache: str, compiled: bool = False
) -> tuple[torch.Tensor, float]:
    """Greedy codes (frames, codebooks) from generate(), and the time to its first frame."""
    options: dict[str, Any] = {"do_sample": False, "depth_decoder_do_sample": False}
    if cache == "static":
        options["cache_implementation"] = "static"
        options["disable_compile"] = not compiled  # transformers compiles a static cache on CUDA
    streamer = _FirstFrame(time.perf_counter())
    with torch.no_grad():
        out = model.generate(
            **prompt.inputs,
            max_new_tokens=frames,
            min_new_tokens=frames,
            streamer=streamer,
            **options,
        )
    return out[0], streamer.first_s


def new_step(model: Any, rows: int = 1) -> FrameStep:
    return FrameStep(model, SlotState(model, rows), GREEDY)


def step_codes(step: FrameStep, prompt: Prompt, frames: int) -> tuple[torch.Tensor, float]:
    """Greedy codes (frames, codebooks) from the step in slot 0 (the smallest bucket holding it,
    as the worker chooses), and the time to the first frame."""
    started = time.perf_counter()
    rows = step.bucket_for(1)
    with torch.no_grad():
        hidden = step.backbone.prefill(step.slots, 0, 0, prompt.embeds)
        step.slots.activate(
            0,
            hidden=hidden,
            position=int(prompt.embeds.shape[1]),
            max_frames=frames,
            seed=0,
            draws=0,
            sampling=GREEDY,
        )
        codes = []
        first = float("nan")
        for index in range(frames):
            step.run(rows)
            codes.append(step.slots.codes[0].clone())
            if index == 0:
                sync(step.slots.device)
                first = time.perf_counter() - started
    return torch.stack(codes), first


def compare(expected: torch.Tensor, ours: torch.Tensor) -> dict[str, Any]:
    """Frames agreeing (all codebooks), first divergent frame and codebook."""
    same = (expected.cpu() == ours.cpu()).all(dim=-1)
    differing = (~same).nonzero().flatten().tolist()
    result: dict[str, Any] = {
        "frames": int(same.numel()),
        "frames_agreeing": int(same.sum()),
        "first_divergent_frame": differing[0] if differing else None,
    }
    if differing:
        frame = differing[0]
        codebook = (expected[frame].cpu() != ours[frame].cpu()).nonzero().flatten()[0]
        result["first_divergent_codebook"] = int(codebook)
    return result


def explain(by_dtype: dict[str, dict[str, dict[str, Any]]]) -> str:
    """Why a divergence is or is not acceptable, from what each precision showed."""
    fp32 = by_dtype.get("float32", {})
    exact32 = bool(fp32) and all(r.get("first_divergent_frame") is None for r in fp32.values())
    low = {d: r for d, r in by_dtype.items() if d != "float32"}
    diverged = [
        d
        for d, r in low.items()
        if any(x.get("first_divergent_frame") is not None for x in r.values())
    ]
    if fp32 and not exact32:
        return "NOT acceptable: float32 codes differ from generate(), a logic difference"
    if not diverged:
        return "identical codes in every precision run: the step computes what generate() does"
    return (
        f"{'/'.join(diverged)} diverges while float32 is identical: the same computation with "
        "other kernels (fixed 2048-position masked attention, grouped KV heads) rounds "
        "differently; a near-tie argmax flips and the autoregressive sequences part from there: "
        "acceptable"
        if exact32
        else f"{'/'.join(diverged)} diverges; no float32 run tells rounding from logic"
    )


def correctness(model: Any, prompt: Prompt, frames: int, dtype: str) -> dict[str, dict[str, Any]]:
    """Stage 1 for one precision: the step's codes against generate() with each cache."""
    ours, _ = step_codes(new_step(model), prompt, frames)
    results = {}
    for cache in ("dynamic", "static"):
        try:
            expected, _ = generate_codes(model, prompt, frames, cache)
            results[cache] = compare(expected, ours)
        except Exception as err:  # a generate() variant failing is a figure, not a lost run
            results[cache] = {"error": f"{type(err).__name__}: {err}"}
    return results


def generate_compiled(
    model: Any, prompt: Prompt, frames: int, runs: int, device: torch.device
) -> tuple[float, dict[str, Any]]:
    """generate() with a static cache compiled by transformers: its first call (the compile)
    in seconds, then the timed runs."""
    started = time.perf_counter()
    generate_codes(model, prompt, 4, "static", compiled=True)
    compile_s = time.perf_counter() - started

    def run() -> float:
        return generate_codes(model, prompt, frames, "static", compiled=True)[1]

    return compile_s, timed(run, frames, runs, device)


def timed(run: Callable[[], float], frames: int, runs: int, device: torch.device) -> dict[str, Any]:
    """ms/frame (prefill included), RTF and time to first frame over `runs` runs after one
    warm-up."""
    run()
    per_frame, firsts = [], []
    for _ in range(runs):
        sync(device)
        started = time.perf_counter()
        firsts.append(run() * 1000)
        sync(device)
        per_frame.append((time.perf_counter() - started) * 1000 / frames)
    ms = summary(per_frame)
    return {"ms_per_frame": ms, "rtf": ms["median"] / FRAME_MS, "first_frame_ms": summary(firsts)}


def eager_variants(model: Any, prompt: Prompt, frames: int) -> dict[str, Callable[[], float]]:
    """Stage 2's contenders; the CUDA-graph capture of the eager step is timed and reported."""
    eager = new_step(model)
    found: dict[str, Callable[[], float]] = {
        "generate_dynamic": lambda: generate_codes(model, prompt, frames, "dynamic")[1],
        "generate_static": lambda: generate_codes(model, prompt, frames, "static")[1],
        "step_eager": lambda: step_codes(eager, prompt, frames)[1],
    }
    return found


def capture_eager(model: Any) -> tuple[FrameStep, float]:
    """The eager step captured as a CUDA graph, and the capture time in seconds."""
    step = new_step(model)
    started = time.perf_counter()
    step.capture()
    return step, time.perf_counter() - started


def line(name: str, figures: dict[str, Any]) -> str:
    if "error" in figures:
        return f"failed: {figures['error']}"
    return (
        f"{name} {figures['ms_per_frame']['median']:.2f} ms/frame, RTF {figures['rtf']:.3f}, "
        f"first frame {figures['first_frame_ms']['median']:.0f} ms"
    )


def load(model_dir: str | None, size: str, device: torch.device) -> tuple[Any, Any, str]:
    """float32 first (stage 1 checks float32, then the run's dtype on the same weights)."""
    from benchmarks.csm.bench import load as build

    if model_dir:
        import transformers

        auto_processor: Any = transformers.AutoProcessor
        csm_model: Any = transformers.CsmForConditionalGeneration
        processor = auto_processor.from_pretrained(model_dir)
        model = csm_model.from_pretrained(
            model_dir, dtype=torch.float32, device_map=str(device)
        ).eval()
        with torch.no_grad():  # as for random weights: every run goes to its full frame count
            model.lm_head.weight[0].zero_()
        return model, processor, f"local directory {model_dir} (end-of-audio code disabled)"
    model, processor = build(size, device, torch.float32)
    what = "csm-1b's architecture (CsmConfig defaults)" if size == "csm-1b" else "tiny CSM"
    return model, processor, f"{what} with random weights (no hub: not the real csm-1b)"


def to_dtype(model: Any, dtype: torch.dtype) -> None:
    """The model in the run's dtype (same weights); Mimi stays float32, as the engine loads it."""
    model.to(dtype)
    model.codec_model.to(torch.float32)


def version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def environment(model: Any, device: torch.device, source: str) -> tuple[dict[str, Any], str]:
    """Versions, GPU, model shape and what compiling needs (a C compiler, Python.h)."""
    config = model.config
    include = Path(sysconfig.get_paths()["include"]) / "Python.h"
    compiler = shutil.which("cc") or shutil.which("gcc")
    data = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": version("transformers"),
        "triton": version("triton"),
        "device": str(device),
        "gpu": torch.cuda.get_device_name() if device.type == "cuda" else None,
        "model": source,
        "backbone": f"{config.num_hidden_layers} layers, hidden {config.hidden_size}",
        "depth": f"{config.depth_decoder_config.num_hidden_layers} layers, hidden "
        f"{config.depth_decoder_config.hidden_size}",
        "codebooks": config.num_codebooks,
        "audio_vocab": config.vocab_size,
        "text_vocab": config.text_vocab_size,
        "c_compiler": compiler,
        "python_h": include.exists(),
    }
    line = (
        f"Python {data['python']}, torch {data['torch']}, transformers "
        f"{data['transformers']}, triton {data['triton']}, {data['gpu'] or 'CPU'}; model: "
        f"{source} ({data['backbone']}; depth {data['depth']}); C compiler "
        f"{compiler or 'MISSING'}, Python.h {'found' if data['python_h'] else 'MISSING'}"
    )
    return data, line
