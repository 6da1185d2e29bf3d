"""Device benchmark stages for what a restart costs: a new process compiling on the compile
cache the benchmark process filled (benchmarks/device/compile.py), for the greedy step at each
width and for the sampled step (what a model's generation config gives users)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.device import worker as stages
from benchmarks.device.compile import second_start

if TYPE_CHECKING:
    from benchmarks.device.bench import DeviceBench

SAMPLED_TEMPERATURE = 0.9


def _dtype(bench: DeviceBench) -> str:
    return str(bench.dtype).removeprefix("torch.")


def second_start_stage(bench: DeviceBench, width: int) -> None:
    """A new process compiling the greedy step at `width` on the kept cache."""
    found = second_start(bench.args, _dtype(bench), [width], bench.budget.left() - 10)
    cold = bench.measured.get(f"compile_b{width}_s")
    if "error" not in found:
        bench.measured[f"compile_warm_b{width}_s"] = found["widths"][0]["compile_s"]
    status = "failed" if "error" in found else "ok"
    line = stages.warm_line(width, found, cold)
    bench.rec.record(f"second_start_b{width}", status, line, cold_compile_s=cold, **found)


def sampled_stage(bench: DeviceBench, width: int) -> None:
    """The sampled step compiled by a new process on an empty cache of its own (truly cold: in
    this process, kernels the greedy step shares would be reused from memory), then by another
    new process on that cache: what its first and every later start cost."""
    cache_root = Path(tempfile.mkdtemp(prefix="verba-compile-sampled-"))
    dtype = _dtype(bench)

    def start() -> dict[str, Any]:
        left = bench.budget.left() - 10
        return second_start(bench.args, dtype, [width], left, SAMPLED_TEMPERATURE, cache_root)

    runs = [start()]
    if "error" not in runs[0]:
        runs.append(start())
    if "error" in runs[-1]:
        bench.rec.record(f"sampled_b{width}", "failed", f"failed: {runs[-1]['error']}", runs=runs)
        return
    cold, warm = (run["widths"][0] for run in runs)
    bench.measured["compile_sampled_cold_s"] = cold["compile_s"]
    bench.measured["compile_sampled_warm_s"] = warm["compile_s"]
    line = (
        f"temperature {SAMPLED_TEMPERATURE:g}, new processes: compile at width {width} "
        f"{cold['compile_s']:.1f} s {cold['source']}, then {warm['compile_s']:.1f} s "
        f"{warm['source']} (load {runs[0]['load_s']:.1f} s)"
    )
    bench.rec.record(f"sampled_b{width}", "ok", line, runs=runs)
