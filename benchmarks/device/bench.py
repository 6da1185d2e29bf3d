"""The CSM benchmark for a lent GPU machine: one process, a hard time budget, stages cheapest first,
each printing its figure line as it ends and appending a JSON record to OUT/device_bench.jsonl.
Each compile (cold, into a kept compile cache) is followed by a second start: a new process on
that cache, as a restarted container finds it (benchmarks/device/compile.py).

  python -m benchmarks.device.bench --size csm-1b --device cuda --out "$OUT"

With no model hub there, the model is csm-1b's real architecture (transformers' CsmConfig
defaults) with random weights unless --model names a local directory: greedy decoding on random
weights exercises the same code paths and costs the same time per frame. `script/bench-device`
prepares the command and rehearses it on the CPU with the tiny model.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch

from benchmarks.csm.runs import sentence_gaps, streaming, sync
from benchmarks.device import checks, restarts
from benchmarks.device import worker as stages
from benchmarks.device.args import parse
from benchmarks.device.budget import Budget, Recorder, Stage
from benchmarks.device.compile import model_ref
from benchmarks.device.summary import against_targets
from wyoming_verba.engines.csm.startup.idle import memory_in_use, release_memory


class DeviceBench:
    """The stages, sharing one model and what earlier stages measured (for later estimates)."""

    def __init__(self, args: argparse.Namespace, recorder: Recorder, budget: Budget) -> None:
        self.args, self.rec, self.budget = args, recorder, budget
        self.device = torch.device(args.device)
        self.dtype = getattr(
            torch, args.dtype or ("bfloat16" if args.device == "cuda" else "float32")
        )
        started = time.perf_counter()
        self.model, self.processor, self.source = checks.load(args.model, args.size, self.device)
        self.load_s = time.perf_counter() - started
        self.prompt = checks.make_prompt(self.model, self.processor)
        self.measured: dict[str, Any] = {}
        self.frame_s = self._probe()

    def _probe(self) -> float:
        """Seconds per eager frame (prefill included), for the estimates."""
        step = checks.new_step(self.model)
        checks.step_codes(step, self.prompt, 2)
        started = time.perf_counter()
        checks.step_codes(step, self.prompt, 4)
        sync(self.device)
        return (time.perf_counter() - started) / 4

    def environment(self) -> None:
        data, line = checks.environment(self.model, self.device, self.source)
        data |= {
            "probe_eager_ms_per_frame": self.frame_s * 1000,
            "load_s": self.load_s,
            "compile_cache": str(self.args.compile_cache),
        }
        self.rec.record("environment", "ok", line, **data)

    def convert(self) -> None:
        """To the run's dtype (same weights); Mimi stays float32, as the engine loads it."""
        checks.to_dtype(self.model, self.dtype)
        self.prompt = checks.make_prompt(self.model, self.processor)
        self.rec.record("convert", "ok", f"model now {self.dtype} (Mimi float32)")

    def correctness(self, dtype: torch.dtype) -> None:
        name = str(dtype).removeprefix("torch.")
        results = checks.correctness(self.model, self.prompt, self.args.check_frames, name)
        self.measured.setdefault("correctness", {})[name] = results
        why = checks.explain(self.measured["correctness"])
        parts = [
            f"{cache}: "
            + (
                r["error"]
                if "error" in r
                else f"{r['frames_agreeing']}/{r['frames']} frames agree, first divergence "
                f"{r['first_divergent_frame']}"
            )
            for cache, r in results.items()
        ]
        self.rec.record(
            f"correctness_{name}",
            "ok",
            f"{'; '.join(parts)} -> {why}",
            results=results,
            explanation=why,
        )

    def eager_speed(self) -> None:
        frames, runs = self.args.frames, self.args.runs
        found = checks.eager_variants(self.model, self.prompt, frames)
        if self.device.type == "cuda":
            try:
                graph, capture_s = checks.capture_eager(self.model)
                self.rec.record(
                    "capture_eager", "ok", f"captured in {capture_s:.2f} s", capture_s=capture_s
                )
                found["step_eager_graph"] = lambda: checks.step_codes(graph, self.prompt, frames)[1]
            except Exception as err:
                self.rec.record("capture_eager", "failed", f"capture failed: {err}")
        else:
            self.rec.record("capture_eager", "skipped", "skipped: CUDA graphs need CUDA")
        for name, run in found.items():
            try:
                figures = checks.timed(run, frames, runs, self.device)
            except Exception as err:
                figures = {"error": f"{type(err).__name__}: {err}"}
            self.measured[name] = figures
            self.rec.record(
                name,
                "failed" if "error" in figures else "ok",
                checks.line(name, figures),
                **figures,
            )
        stages.free_device_memory()

    def worker(self, max_batch: int) -> None:
        stages.free_device_memory()
        stages.reset_peak_vram()
        ref = model_ref(self.args.model, self.args.size)
        step, figures = stages.prepare(
            self.model, max_batch, self.args.compile, self.args.compile_cache, ref
        )
        self.measured[f"compile_b{max_batch}_s"] = figures.get("compile_s")
        status = "failed" if any(k.endswith("_failed") for k in figures) else "ok"
        self.rec.record(f"prepare_b{max_batch}", status, stages.describe(figures), **figures)
        timed = checks.timed(
            lambda: checks.step_codes(step, self.prompt, self.args.frames)[1],
            self.args.frames,
            self.args.runs,
            self.device,
        )
        self.measured[f"step_b{max_batch}"] = timed
        self.rec.record(
            f"step_prepared_b{max_batch}",
            "ok",
            checks.line(f"prepared step (width {max_batch}), one slot", timed),
            **timed,
        )
        stack = stages.PreparedStack(self.model, self.processor, step)
        try:
            streaming(stack, 4, 1)  # warm-up
            for concurrent in (1, max_batch):
                result = streaming(stack, self.args.frames, concurrent)
                name = f"worker_b{max_batch}_{concurrent}_requests"
                self.measured[name] = result
                self.rec.record(name, "ok", stages.streaming_line(name, result), **result)
            if max_batch == 4:
                vram = self.measured["peak_vram_gib_b4"] = stages.peak_vram_gib()
                gaps = sentence_gaps(stack, 20, 2)
                self.rec.record(
                    "worker_b4_vram_gaps",
                    "ok",
                    f"peak VRAM {vram if vram is None else f'{vram:.2f} GiB'}; "
                    f"{stages.gaps_line(gaps)}",
                    peak_vram_gib=vram,
                    gaps=gaps,
                )
        finally:
            stack.close()

    def generate_compiled(self) -> None:
        if self.device.type != "cuda":
            self.rec.record(
                "generate_static_compiled",
                "skipped",
                "skipped: transformers compiles a static cache on CUDA only",
            )
            return
        compile_s, figures = checks.generate_compiled(
            self.model, self.prompt, self.args.frames, self.args.runs, self.device
        )
        self.measured["generate_static_compiled"] = figures
        self.rec.record(
            "generate_static_compiled",
            "ok",
            f"first call (compile) {compile_s:.0f} s; "
            + checks.line("generate_static_compiled", figures),
            compile_s=compile_s,
            **figures,
        )

    def unload(self) -> None:
        """What csm.unload_after_s gives back: the engine's release path after the last
        reference to the model (and every step compiled or captured on it) is gone."""
        kind, before = memory_in_use(self.device)
        del self.model, self.prompt, self.processor
        release_memory(compiled=self.args.compile)
        _, after = memory_in_use(self.device)
        self.measured["unload_returned_gib"] = (before - after) / 2**30
        self.rec.record(
            "unload",
            "ok",
            f"{kind} {before / 2**30:.2f} -> {after / 2**30:.2f} GiB "
            f"({(before - after) / 2**30:.2f} GiB returned)",
            kind=kind,
            before_bytes=before,
            after_bytes=after,
        )

    def stages(self) -> list[Stage]:
        frames, runs, probe = self.args.frames, self.args.runs, self.frame_s
        compile_s = self.args.compile_estimate_s if self.args.compile else 0.0
        check = 6 * self.args.check_frames * probe  # generate() is ~2x the eager step, 2 caches
        found = [
            Stage("correctness_float32", lambda: check, lambda: self.correctness(torch.float32))
        ]
        if self.dtype != torch.float32:
            name = f"correctness_{str(self.dtype).removeprefix('torch.')}"
            found += [
                Stage("convert", lambda: 0.0, self.convert),
                Stage(name, lambda: check, lambda: self.correctness(self.dtype)),
            ]
        eager = 4 * (runs + 1) * frames * probe * 2
        worker = (runs + 1 + 2 + 6 * 2) * frames * probe  # timed runs, requests, gaps

        def later() -> float:
            return float(self.measured.get("compile_b4_s") or compile_s)

        def warm(width: int) -> Stage:
            def needed() -> float:  # a load, and a compile that finds its graphs
                cold = self.measured.get(f"compile_b{width}_s") or compile_s
                return 2 * self.load_s + float(cold) / 2 + 10

            run = lambda: restarts.second_start_stage(self, width)  # noqa: E731
            return Stage(f"second_start_b{width}", needed, run)

        seconds = [warm(4), warm(8)] if self.args.compile else []
        sampled = Stage(
            "sampled_b4",
            lambda: 2 * (later() + self.load_s),  # a cold compile and a second start
            lambda: restarts.sampled_stage(self, 4),
        )

        return [
            *found,
            Stage("eager_speed", lambda: eager, self.eager_speed),
            Stage("worker_b4", lambda: compile_s + worker, lambda: self.worker(4)),
            *seconds[:1],
            Stage("worker_b8", lambda: later() + worker, lambda: self.worker(8)),
            *seconds[1:],
            Stage(
                "generate_static_compiled",
                lambda: self.args.compile_estimate_s + eager / 4,
                self.generate_compiled,
            ),
            *([sampled] if self.args.compile else []),
            Stage("unload", lambda: 5.0, self.unload),  # last: it frees the model
        ]


def main(argv: list[str] | None = None) -> None:
    args = parse(argv, __doc__)
    recorder = Recorder(args.out)
    budget = Budget(args.budget_s, recorder)
    budget.start()
    if args.device == "cpu":
        torch.set_num_threads(args.threads)
    torch._dynamo.config.cache_size_limit = 16  # one graph per prepared stack; main thread
    budget.current = "load"
    try:
        bench = DeviceBench(args, recorder, budget)
    except Exception as err:
        recorder.record("load", "failed", f"failed: {type(err).__name__}: {err}")
        raise SystemExit(1) from err
    bench.environment()
    budget.run_stages(bench.stages())
    budget.cancel()
    for figure, result, target in against_targets(bench.measured):
        recorder.record("summary", "ok", f"{figure}: {result} (target {target})")
    recorder.record("done", "ok", f"finished in {recorder.elapsed():.0f} s; JSON: {recorder.path}")


if __name__ == "__main__":
    main()
