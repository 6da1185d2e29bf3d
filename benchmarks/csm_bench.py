"""CSM generation benchmark: our frame loop vs transformers' generate(), streaming, batching.

CPU (default): the tiny random model loaded through from_pretrained, 1 torch thread.
GPU: `--size csm-1b --device cuda` builds csm-1b's architecture (CsmConfig defaults) with random
weights in bf16 and forces every run to its full frame count; it reports first audio, RTF, peak
VRAM and the ratio vs generate() with a static cache, with and without torch.compile.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import torch

from tests.fakes.tiny_csm import _randomize_codec, build_tiny_csm, build_tokenizer
from wyoming_verba.engines.csm.frames import FrameModel, Sampling
from wyoming_verba.engines.csm.prompts import PromptBuilder
from wyoming_verba.engines.csm.worker import FRAME_SAMPLES, GenerationWorker, Job

from .common import summary, write_results

GREEDY = Sampling(0.0, 0)
TEXT = "The kitchen lights are now off, and tomorrow will be sunny with a light breeze."


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def load(size: str, device: torch.device, dtype: torch.dtype) -> tuple[Any, Any]:
    from transformers import (
        AutoProcessor,
        CsmConfig,
        CsmForConditionalGeneration,
        CsmProcessor,
        EncodecFeatureExtractor,
    )

    if size == "tiny":
        path = build_tiny_csm(Path(tempfile.mkdtemp()) / "tiny-csm")
        processor = AutoProcessor.from_pretrained(path)
        model = CsmForConditionalGeneration.from_pretrained(
            path, dtype=dtype, device_map=str(device)
        )
    else:
        tokenizer = build_tokenizer()
        from tests.fakes.tiny_csm import CHAT_TEMPLATE

        processor = CsmProcessor(
            EncodecFeatureExtractor(feature_size=1, sampling_rate=24000),
            tokenizer,
            chat_template=CHAT_TEMPLATE,
        )
        config = CsmConfig(
            bos_token_id=tokenizer.bos_token_id,
            audio_token_id=tokenizer.convert_tokens_to_ids("<|AUDIO|>"),
            audio_eos_token_id=tokenizer.convert_tokens_to_ids("<|audio_eos|>"),
            pad_token_id=tokenizer.convert_tokens_to_ids("<|AUDIO|>"),
        )
        with torch.device(device):
            model = CsmForConditionalGeneration(config).to(dtype)
        with torch.no_grad():
            _randomize_codec(model, 0)
    model.eval()
    model.codec_model.to(torch.float32)
    with torch.no_grad():
        model.lm_head.weight[0].zero_()  # code 0 on codebook 0 never wins: no end-of-audio frames
    return model, processor


def per_frame_ms(
    model: Any, processor: Any, frames: int, runs: int, static: bool
) -> dict[str, Any]:
    """Interleaved: generate() and our loop on the same prompt, ms per frame for each."""
    device = model.lm_head.weight.device
    turn = [{"role": "0", "content": [{"type": "text", "text": TEXT}]}]
    inputs = processor.apply_chat_template(turn, tokenize=True, return_dict=True).to(device)
    ours_model = FrameModel(model)
    kwargs: dict[str, Any] = {
        "do_sample": False,
        "depth_decoder_do_sample": False,
        "max_new_tokens": frames,
        "min_new_tokens": frames,
    }
    if static:
        kwargs["cache_implementation"] = "static"

    def run_generate() -> float:
        sync(device)
        started = time.perf_counter()
        model.generate(**inputs, **kwargs)
        sync(device)
        return (time.perf_counter() - started) * 1000 / frames

    def run_ours() -> float:
        sync(device)
        started = time.perf_counter()
        cache = ours_model.new_cache()
        hidden = ours_model.backbone(ours_model.embed_prompt(inputs["input_ids"]), cache)
        for _ in range(frames):
            frame = ours_model.frame(hidden, GREEDY)
            hidden = ours_model.backbone(ours_model.embed_frames(frame[:, None, :]), cache)
        sync(device)
        return (time.perf_counter() - started) * 1000 / frames

    run_generate(), run_ours()  # warm up
    generate_ms, ours_ms = [], []
    for _ in range(runs):
        generate_ms.append(run_generate())
        ours_ms.append(run_ours())
    ratios = [g / o for g, o in zip(generate_ms, ours_ms, strict=True)]
    return {
        "generate_ms_per_frame": summary(generate_ms),
        "ours_ms_per_frame": summary(ours_ms),
        "speedup_vs_generate": summary(ratios),
        "frames": frames,
        "static_cache": static,
    }


class Timed:
    """Collects a job's deliveries with timestamps."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.first: float | None = None
        self.samples = 0
        self.done = threading.Event()
        self.end = 0.0

    def __call__(self, item: Any) -> None:
        if item is None or isinstance(item, BaseException):
            self.end = time.perf_counter()
            self.done.set()
            return
        if self.first is None:
            self.first = time.perf_counter()
        self.samples += item.size


def streaming(
    worker: GenerationWorker, prompts: PromptBuilder, frames: int, concurrent: int
) -> dict[str, Any]:
    ids = prompts.text_ids(TEXT, 0)
    timers = [Timed() for _ in range(concurrent)]
    for timer in timers:
        timer.started = time.perf_counter()
        worker.submit(Job(ids, None, frames, timer))
    for timer in timers:
        timer.done.wait(3600)
    wall = max(t.end for t in timers) - min(t.started for t in timers)
    first = min((t.first or t.end) - t.started for t in timers)
    return {
        "wall_s": wall,
        "first_audio_s": first,
        "audio_s": sum(t.samples for t in timers) / 24000,
        "samples_ok": all(t.samples == frames * FRAME_SAMPLES for t in timers),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=("tiny", "csm-1b"), default="tiny")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default=None)
    parser.add_argument(
        "--frames", type=int, default=None, help="frames per run (default 40 / 125)"
    )
    parser.add_argument("--stream-frames", type=int, default=125, help="10 s of audio = 125")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--compile", choices=("off", "on", "both"), default="off")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype or ("bfloat16" if device.type == "cuda" else "float32"))
    model, processor = load(args.size, device, dtype)
    frames_per_run = args.frames or (125 if args.size == "csm-1b" else 40)
    results: dict[str, Any] = {
        "size": args.size,
        "device": str(device),
        "dtype": str(dtype),
        "threads": args.threads,
    }
    if device.type == "cuda":
        results["gpu"] = torch.cuda.get_device_name()

    results["loop_vs_generate"] = per_frame_ms(
        model, processor, frames_per_run, args.runs, static=False
    )
    if device.type == "cuda":
        try:
            results["loop_vs_generate_static"] = per_frame_ms(
                model, processor, frames_per_run, args.runs, static=True
            )
        except Exception as err:
            results["loop_vs_generate_static"] = {"error": f"{type(err).__name__}: {err}"}

    for compiled in {"off": [False], "on": [True], "both": [False, True]}[args.compile]:
        frames = FrameModel(model)
        if compiled:
            frames.enable_compile()
        prompts = PromptBuilder(processor, frames)
        worker = GenerationWorker(frames, prompts, GREEDY, chunk_frames=2, max_batch=4)
        worker.start()
        try:
            streaming(worker, prompts, 4, 1)  # warm up (and compile)
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            ten_seconds = args.stream_frames
            one = statistics.median(
                streaming(worker, prompts, ten_seconds, 1)["wall_s"] for _ in range(3)
            )
            single = streaming(worker, prompts, ten_seconds, 1)
            four = streaming(worker, prompts, ten_seconds, 4)
        finally:
            worker.stop()
        key = "compiled" if compiled else "eager"
        results[key] = {
            "first_audio_s": single["first_audio_s"],
            "total_s_10s_audio": single["wall_s"],
            "first_audio_fraction_of_total": single["first_audio_s"] / single["wall_s"],
            "rtf": single["wall_s"] / (ten_seconds * FRAME_SAMPLES / 24000),
            "four_concurrent_wall_s": four["wall_s"],
            "one_request_wall_s": one,
            "four_vs_one_wall_ratio": four["wall_s"] / one,
            "sample_counts_ok": single["samples_ok"] and four["samples_ok"],
        }
        if device.type == "cuda":
            results[key]["peak_vram_gib"] = torch.cuda.max_memory_allocated() / 2**30

    speed = results["loop_vs_generate"]["speedup_vs_generate"]["median"]
    print(f"{args.size} on {results.get('gpu', device)} ({dtype}, {args.threads} thread(s))")
    print(
        f"ours vs generate(): {results['loop_vs_generate']['ours_ms_per_frame']['median']:.1f} vs "
        f"{results['loop_vs_generate']['generate_ms_per_frame']['median']:.1f} ms/frame, "
        f"{speed:.2f}x faster (target >= 1.5x CPU, >= 2.5x GPU vs static)"
    )
    static_result = results.get("loop_vs_generate_static", {})
    if "speedup_vs_generate" in static_result:
        static = static_result["speedup_vs_generate"]["median"]
        print(f"ours vs generate(static cache): {static:.2f}x")
    elif "error" in static_result:
        print(f"generate(static cache) failed: {static_result['error']}")
    for key in ("eager", "compiled"):
        if key in results:
            r = results[key]
            print(
                f"[{key}] {args.stream_frames / 12.5:g} s of audio: first audio "
                f"{r['first_audio_s'] * 1000:.0f} ms, total {r['total_s_10s_audio']:.2f} s, "
                f"fraction {r['first_audio_fraction_of_total']:.3f} "
                f"(target <= 0.1), RTF {r['rtf']:.3f}; 4 concurrent vs 1: "
                f"{r['four_vs_one_wall_ratio']:.2f}x (target <= 1.5x)"
                + (f"; peak VRAM {r['peak_vram_gib']:.2f} GiB" if "peak_vram_gib" in r else "")
            )
    name = f"csm-{args.size}-{device.type}"
    print(f"wrote {write_results(name, results)}")


if __name__ == "__main__":
    main()
