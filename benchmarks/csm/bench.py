"""CSM generation benchmark: the frame step against generate() and the previous loop, streaming,
concurrency, sentence gaps.

CPU (default): the tiny random model loaded through from_pretrained, 1 torch thread.
GPU: `--size csm-1b --device cuda` builds csm-1b's architecture (CsmConfig defaults) with random
weights in bf16; every run is forced to its full frame count (no end-of-audio frame can win).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import torch

from benchmarks.common import write_results
from benchmarks.csm.previous_loop import PreviousLoop
from benchmarks.csm.runs import (
    Stack,
    dispatch_counts,
    make_step,
    per_frame,
    sentence_gaps,
    streaming,
)
from tests.fakes.tiny_csm import CHAT_TEMPLATE, _randomize_codec, build_tiny_csm, build_tokenizer


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


def variants(model: Any, device: torch.device, compiled: bool) -> dict[str, Any]:
    """What per_frame compares, all greedy on the same prompt."""
    found: dict[str, Any] = {
        "generate": ("generate", {}),
        "previous_loop": ("previous", PreviousLoop(model)),
    }
    if device.type == "cuda":
        found["generate_static"] = ("generate", {"cache_implementation": "static"})
    found["step_eager"] = ("step", make_step(model, 1, compiled=False, graphs=False))
    if device.type == "cuda":
        found["step_graph"] = ("step", make_step(model, 1, compiled=False, graphs=True))
    if compiled:
        graphs = device.type == "cuda"
        found["step_compiled"] = ("step", make_step(model, 1, compiled=True, graphs=graphs))
    return found


def report_frames(results: dict[str, Any], args: argparse.Namespace) -> None:
    frames = results["per_frame_ms"]
    base = frames["generate"]["median"]
    print(f"{args.size} on {results.get('gpu', results['device'])} ({results['dtype']})")
    for name, figures in frames.items():
        if "error" in figures:
            print(f"  {name:16s} failed: {figures['error']}")
            continue
        ms = figures["median"]
        print(f"  {name:16s} {ms:8.2f} ms/frame   {base / ms:5.2f}x generate()")
    if "median" in frames.get("generate_static", {}):
        static = frames["generate_static"]["median"]
        for name in ("step_graph", "step_compiled"):
            if "median" in frames.get(name, {}):
                print(f"  {name} vs generate(static): {static / frames[name]['median']:.2f}x")
    counts = results["dispatch"]
    print(
        f"  ops per frame: step {counts['step_ops_per_frame']} (host syncs "
        f"{counts['step_host_syncs_per_frame']}), previous loop "
        f"{counts['previous_loop_ops_per_frame']} (host syncs "
        f"{counts['previous_loop_host_syncs_per_frame']})"
    )


def report(results: dict[str, Any], args: argparse.Namespace) -> None:
    report_frames(results, args)
    for key, value in results["streaming"].items():
        print(
            f"  {key}: first audio {value['first_audio_s']['median'] * 1000:.0f} ms, "
            f"RTF each median {value['rtf_each']['median']:.3f} max {value['rtf_each']['max']:.3f}"
            f", samples ok {value['samples_ok']}"
        )
    if "peak_vram_gib_max_batch_4" in results:
        print(f"  peak VRAM at max_batch 4: {results['peak_vram_gib_max_batch_4']:.2f} GiB")
    for key, value in results["sentence_gaps"].items():
        print(
            f"  {key}: sentence gap {value['gap_ms']['median']:.1f} ms = "
            f"{value['gap_in_frame_steps']:.2f} frame steps; first audio "
            f"{value['first_audio_ms']['median']:.1f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=("tiny", "csm-1b"), default="tiny")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default=None)
    parser.add_argument("--frames", type=int, default=None, help="frames per run (40 / 125)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--compile", action="store_true", help="also the compiled step")
    parser.add_argument(
        "--start",
        action="store_true",
        help="also server starts with csm.compile (cold, then warm cache) and idle unload (tiny)",
    )
    parser.add_argument("--only-start", action="store_true", help="only the --start figures")
    parser.add_argument(
        "--start-temperature",
        type=float,
        default=0.0,
        help="csm.temperature of the started servers (0: greedy; above 0 the sampled step)",
    )
    parser.add_argument(
        "--only-frames", action="store_true", help="only ms/frame and dispatch counts"
    )
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    if args.start or args.only_start:
        # Only here: the start figures run real servers (wyoming & co.), which the lent GPU
        # machine lacks, and device_checks imports this module for load().
        from benchmarks.csm.lifecycle import report_start, start_figures
    if args.only_start:
        tiny = build_tiny_csm(Path(tempfile.mkdtemp()) / "tiny-csm")
        start = start_figures(tiny, args.start_temperature)
        report_start(start)
        name = "csm-start-tiny-cpu" + ("-sampled" if args.start_temperature else "")
        print(f"wrote {write_results(name, {'start': start})}")
        return
    torch._dynamo.config.cache_size_limit = 64  # one compiled graph per variant and bucket
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype or ("bfloat16" if device.type == "cuda" else "float32"))
    model, processor = load(args.size, device, dtype)
    frames = args.frames or (125 if args.size == "csm-1b" else 40)
    results: dict[str, Any] = {
        "size": args.size,
        "device": str(device),
        "dtype": str(dtype),
        "threads": args.threads,
        "frames": frames,
    }
    if device.type == "cuda":
        results["gpu"] = torch.cuda.get_device_name()
    found = variants(model, device, args.compile)
    results["per_frame_ms"] = per_frame(model, processor, frames, args.runs, found)
    del found
    results["dispatch"] = dispatch_counts(model, processor)
    if args.only_frames:
        report_frames(results, args)
        print(f"wrote {write_results(f'csm-frames-{args.size}-{device.type}', results)}")
        return
    results["streaming"] = {}
    for batch in (4, 8):
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        # The engine's own preparation: compiled on CUDA (csm.compile: auto), eager on the CPU.
        stack = Stack(model, processor, batch, compiled=device.type == "cuda")
        try:
            streaming(stack, 4, 1)  # warm up
            results["streaming"][f"max_batch_{batch}_one_request"] = streaming(stack, frames, 1)
            results["streaming"][f"max_batch_{batch}_{batch}_requests"] = streaming(
                stack, frames, batch
            )
            if device.type == "cuda" and batch == 4:
                results["peak_vram_gib_max_batch_4"] = torch.cuda.max_memory_allocated() / 2**30
            if batch == 4:
                results["sentence_gaps"] = sentence_gaps(stack, 20, max(2, args.runs // 2))
        finally:
            stack.close()
    if args.start:
        tiny = build_tiny_csm(Path(tempfile.mkdtemp()) / "tiny-csm")
        results["start"] = start_figures(tiny, args.start_temperature)
    report(results, args)
    if args.start:
        report_start(results["start"])
    print(f"wrote {write_results(f'csm-{args.size}-{device.type}', results)}")


if __name__ == "__main__":
    main()
