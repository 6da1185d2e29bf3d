"""Command-line options of the device benchmark (benchmarks/device/bench.py)."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import torch


def parse(argv: list[str] | None = None, description: str | None = None) -> argparse.Namespace:
    """The device benchmark's options (`python -m benchmarks.device.bench --help`)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--size", choices=("tiny", "csm-1b"), default="csm-1b")
    parser.add_argument("--model", help="a local model directory instead of random weights")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default=None)
    parser.add_argument("--budget-s", type=float, default=420.0, help="hard limit (7 min)")
    parser.add_argument("--compile-estimate-s", type=float, default=240.0)
    parser.add_argument("--no-compile", dest="compile", action="store_false")
    parser.add_argument(
        "--compile-cache",
        type=Path,
        default=None,
        help="the kept compile cache's data_dir (default: a new temporary directory)",
    )
    parser.add_argument("--frames", type=int, default=None, help="frames per run (125 / 40)")
    parser.add_argument("--check-frames", type=int, default=32)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads on the CPU")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "bench-results")))
    args = parser.parse_args(argv)
    args.frames = args.frames or (125 if args.size == "csm-1b" else 40)
    # Not under OUT: the cache is large and need not come back.
    args.compile_cache = args.compile_cache or Path(tempfile.mkdtemp(prefix="verba-compile-"))
    return args
