"""Voice creation benchmark: time from sending `verba-voice-create` (a 10 s clip) to receiving
`verba-voice-created`, through the real server (in process) and the wyoming library's client.

CPU (default): the tiny random CSM model, 1 torch thread. `--model DIR --device cuda` runs it
against any local model directory instead.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from wyoming.client import AsyncClient

from benchmarks.common import summary, write_results
from wyoming_verba.config import parse_config
from wyoming_verba.protocol.voice_events import VoiceCreate, VoiceDelete
from wyoming_verba.server.server import VerbaServer

TRANSCRIPT = (
    "This is a ten second clip of one person speaking clearly, the kind of recording a phone makes "
    "when you read a few sentences aloud in a quiet room."
)


def clip(seconds: float, rate: int) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 220 * t) * 32767).astype("<i2").tobytes()


async def measure(args: argparse.Namespace, model: str) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp()) / "data"
    config = parse_config(
        {
            "server": {"uri": "tcp://127.0.0.1:0", "zeroconf": False, "data_dir": str(data_dir)},
            "tts": {"backend": "csm", "engines": ["csm"], "fallback": "none"},
            "csm": {
                "model": model,
                "device": args.device,
                "voice_uploads": True,
                "anchor_speakers": False,
                "max_voices": args.runs + 1,
            },
        },
        environ={},
    )
    server = VerbaServer(config)
    await server.start()
    await server.service.engines["csm"].ready()
    audio = clip(args.seconds, args.rate)
    uri = f"tcp://127.0.0.1:{server.port}"
    times = []
    try:
        for index in range(args.runs):
            async with AsyncClient.from_uri(uri) as client:
                request = VoiceCreate(f"bench{index}", TRANSCRIPT, audio, args.rate, speaker=0)
                started = time.perf_counter()
                await client.write_event(request.event())
                answer = await client.read_event()
                times.append(time.perf_counter() - started)
                assert answer is not None and answer.type == "verba-voice-created", answer
                await client.write_event(VoiceDelete(f"bench{index}").event())
                await client.read_event()
    finally:
        await server.stop()
    return {"seconds_to_created": summary(times), "clip_s": args.seconds, "rate": args.rate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", help="local model directory (default: build the tiny model)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=24000, help="the clip's sample rate")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = args.model
    if model is None:
        from tests.fakes.tiny_csm import build_tiny_csm

        model = str(build_tiny_csm(Path(tempfile.mkdtemp()) / "tiny-csm"))
    results = asyncio.run(measure(args, model))
    figures = results["seconds_to_created"]
    print(
        f"verba-voice-create → verba-voice-created, {args.seconds:g} s clip at {args.rate} Hz, "
        f"{args.device}: median {figures['median'] * 1000:.0f} ms, p95 "
        f"{figures['p95'] * 1000:.0f} ms, min {figures['min'] * 1000:.0f} ms (n={figures['n']})"
    )
    print(f"wrote {write_results('voice_create', {**results, 'device': args.device})}")


if __name__ == "__main__":
    main()
