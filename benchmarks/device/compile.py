"""Compile cost at a second start, for the device benchmark: a fresh process (as a restarted
container is) loads the model, opens the compile cache the benchmark's own compile filled, and
compiles the frame step's regions at each width, printing one JSON line of figures.

  python -m benchmarks.device.compile --size csm-1b --device cuda --dtype bfloat16 \
      --cache-root DIR --widths 4

The cache is opened and used as the engine does (compile_cache.open_cache, activate, CacheUse),
under the same key: a cold compile in the benchmark process and this warm one share it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks.csm.runs import GREEDY
from wyoming_verba.engines.csm.model.sampling import sampling_from_model
from wyoming_verba.engines.csm.model.slots import SlotState
from wyoming_verba.engines.csm.model.step import FrameStep
from wyoming_verba.engines.csm.startup.compile_cache import CacheUse, open_cache

ROOT = Path(__file__).resolve().parents[2]


def model_ref(model_dir: str | None, size: str) -> str:
    """What names the model in the cache key (random weights: the architecture)."""
    return model_dir or f"random:{size}"


def compile_with_cache(model: Any, step: FrameStep, cache_root: Path, ref: str) -> dict[str, Any]:
    """Compile `step`'s regions with `model`'s kept cache, as the engine does; its figures."""
    cache = open_cache(cache_root, model, ref)
    cache.activate()
    use = CacheUse()
    step.compile()
    return {
        "width": step.buckets[-1],
        "compile_s": time.monotonic() - use.started,
        "source": use.source(),
        "cache_dir": str(cache.directory),
        "cache_existed": cache.existing,
        "cache_mib": cache_mib(cache.directory),
    }


def new_step(model: Any, width: int, temperature: float = 0.0) -> FrameStep:
    """A step with one bucket: at full width one graph serves every batch size (the engine's).
    Greedy at temperature 0; above it, the sampled step (its sampling regions compile too)."""
    sampling = GREEDY if not temperature else sampling_from_model(model, temperature)
    step = FrameStep(model, SlotState(model, width), sampling)
    step.buckets = [width]
    return step


def cache_mib(directory: Path | None) -> float | None:
    if directory is None:
        return None
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file()) / 2**20


def second_start(
    bench: argparse.Namespace,
    dtype: str,
    widths: list[int],
    timeout_s: float,
    temperature: float = 0.0,
    cache_root: Path | None = None,
) -> dict[str, Any]:
    """Run this module in a new process on the benchmark's cache (or `cache_root`); its
    figures, or the error."""
    cache_root = cache_root or bench.compile_cache
    command = [
        sys.executable, "-m", "benchmarks.device.compile", "--size", bench.size,
        "--device", bench.device, "--dtype", dtype, "--threads", str(bench.threads),
        "--cache-root", str(cache_root), "--temperature", str(temperature),
        "--widths", *map(str, widths),
    ]  # fmt: skip
    if bench.model:
        command += ["--model", bench.model]
    try:
        done = subprocess.run(
            command,
            check=False,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=max(1.0, timeout_s),
        )
    except subprocess.TimeoutExpired:
        return {"error": f"no result within {timeout_s:.0f} s (the process was stopped)"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"error": f"exit {done.returncode}: {done.stderr.strip()[-1500:]}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def main(argv: list[str] | None = None) -> None:
    from benchmarks.device import checks

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=("tiny", "csm-1b"), default="csm-1b")
    parser.add_argument("--model")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default="float32")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cache-root", type=Path, required=True)
    parser.add_argument("--widths", type=int, nargs="*", default=[])
    parser.add_argument("--temperature", type=float, default=0.0, help="0: the greedy step")
    args = parser.parse_args(argv)
    if args.device == "cpu":
        torch.set_num_threads(args.threads)
    started = time.monotonic()
    model, _, _ = checks.load(args.model, args.size, torch.device(args.device))
    checks.to_dtype(model, getattr(torch, args.dtype))  # as the benchmark process converts it
    load_s = time.monotonic() - started
    ref = model_ref(args.model, args.size)
    found = {
        "load_s": load_s,
        "cache_dir": str(open_cache(args.cache_root, model, ref).directory),
        "widths": [
            compile_with_cache(
                model, new_step(model, width, args.temperature), args.cache_root, ref
            )
            for width in args.widths
        ],
    }
    print(json.dumps(found), flush=True)


if __name__ == "__main__":
    main()
