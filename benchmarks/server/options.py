"""Speaking options on CSM: first-audio latency and total time with and without `rate`.

Runs the real server in-process with the tiny random CSM model (CPU, 1 torch thread, greedy) and
the wyoming library's client; requests alternate between no options, `rate: +50%`, `rate: -30%`
and `volume: -20%`, so a busy shared CPU hits them alike. Figures are printed and written to
bench-results/options.json.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from wyoming.client import AsyncClient
from wyoming.tts import Synthesize

from benchmarks.common import summary, write_results
from tests.fakes.tiny_csm import build_tiny_csm
from wyoming_verba.config import parse_config
from wyoming_verba.server.server import VerbaServer

TEXT = "Hi there. Lights off."
CASES: dict[str, dict[str, Any]] = {
    "none": {},
    "rate +50%": {"rate": "+50%"},
    "rate -30%": {"rate": "-30%"},
    "volume -20%": {"volume": "-20%"},
}


async def one_request(port: int, options: dict[str, Any]) -> tuple[float, float, int]:
    """(first audio ms, total ms, samples) as the client sees them."""
    context = {"verba": options} if options else None
    async with AsyncClient.from_uri(f"tcp://127.0.0.1:{port}") as client:
        started = time.perf_counter()
        await client.write_event(Synthesize(TEXT, context=context).event())
        first: float | None = None
        samples = 0
        while True:
            event = await client.read_event()
            assert event is not None
            if event.type == "audio-chunk":
                first = first if first is not None else time.perf_counter()
                samples += len(event.payload or b"") // 2
            elif event.type == "audio-stop":
                break
            elif event.type == "error":
                raise RuntimeError(event.data)
    assert first is not None
    return (first - started) * 1000, (time.perf_counter() - started) * 1000, samples


async def run(runs: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp())
    model = build_tiny_csm(work / "tiny-csm")
    config = parse_config(
        {
            "server": {
                "uri": "tcp://127.0.0.1:0",
                "zeroconf": {"enabled": False},
                "data_dir": str(work / "data"),
            },
            "tts": {"backend": "csm", "engines": ["csm"], "fallback": "none"},
            "csm": {"model": str(model), "device": "cpu", "temperature": 0, "max_audio_s": 8},
        },
        environ={},
    )
    server = VerbaServer(config)
    await server.start()
    try:
        await server.service.engines["csm"].ready()  # type: ignore[attr-defined]
        await one_request(server.port, {})  # warm-up
        found: dict[str, dict[str, list[float]]] = {
            name: {"first_audio_ms": [], "total_ms": [], "samples": []} for name in CASES
        }
        for _ in range(runs):
            for name, options in CASES.items():
                first, total, samples = await one_request(server.port, options)
                found[name]["first_audio_ms"].append(first)
                found[name]["total_ms"].append(total)
                found[name]["samples"].append(samples)
    finally:
        await server.stop()
    return {
        name: {key: summary(values) for key, values in figures.items()}
        for name, figures in found.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = asyncio.run(run(args.runs))
    print(f"CSM (tiny, CPU, 1 thread), {args.runs} runs each, text {TEXT!r}")
    header = f"{'options':<14}{'first audio ms (median / p95)':>32}"
    print(f"{header}{'total ms median':>18}{'samples':>10}")
    for name, figures in results.items():
        first, total = figures["first_audio_ms"], figures["total_ms"]
        print(
            f"{name:<14}{first['median']:>20.0f} / {first['p95']:<9.0f}"
            f"{total['median']:>18.0f}{figures['samples']['median']:>10.0f}"
        )
    path = write_results("options", {"runs": args.runs, "text": TEXT, "results": results})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
