"""Created voices under churn, through the real server (in process) and the wyoming client.

1. `cycles`: unload/reload loop. Each cycle creates a voice (loading CSM again when it has
   unloaded: csm.unload_after_s), waits for the unload, and records this process's resident memory
   (RSS) and, on CUDA, the device memory allocated by torch. Voices are kept, so each reload builds
   one more prefix.
2. `gaps`: the worst gap between two audio chunks of a client that streams replies while another
   client creates voices from 30-s clips back to back, against the same client alone.

CPU (default): the tiny random CSM model, 1 torch thread; `--model DIR --device cuda` for any
local model directory.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from wyoming.client import AsyncClient
from wyoming.tts import Synthesize, SynthesizeVoice

from benchmarks.common import summary, write_results
from wyoming_verba.config import parse_config
from wyoming_verba.protocol.voice_events import VoiceCreate, VoiceDelete
from wyoming_verba.server.server import VerbaServer

TRANSCRIPT = "One person speaking clearly, the kind of recording a phone makes in a quiet room."
TEXT = "A longer reply that keeps the model busy for a while. And then a second sentence follows."


def clip(seconds: float) -> bytes:
    t = np.arange(int(seconds * 24000)) / 24000
    return (0.3 * np.sin(2 * np.pi * 220 * t) * 32767).astype("<i2").tobytes()


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def vram_mib(device: str) -> float | None:
    return torch.cuda.memory_allocated() / 2**20 if device.startswith("cuda") else None


async def start(args: argparse.Namespace, model: str, **csm: Any) -> VerbaServer:
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
                "temperature": 0,
                "max_voices": 128,
                **csm,
            },
        },
        environ={},
    )
    server = VerbaServer(config)
    await server.start()
    await server.service.engines["csm"].ready()
    return server


async def ask(uri: str, event: Any) -> Any:
    async with AsyncClient.from_uri(uri) as client:
        await client.write_event(event)
        return await client.read_event()


async def cycles(args: argparse.Namespace, model: str) -> list[dict[str, Any]]:
    server = await start(args, model, unload_after_s=args.unload_after_s)
    engine: Any = server.service.engines["csm"]
    uri = f"tcp://127.0.0.1:{server.port}"
    rows = []
    try:
        for index in range(args.cycles):
            started = time.perf_counter()
            answer = await ask(uri, VoiceCreate(f"v{index}", TRANSCRIPT, clip(10), 24000).event())
            assert answer is not None and answer.type == "verba-voice-created", answer
            created_s = time.perf_counter() - started
            while engine.status().state != "unloaded":  # noqa: ASYNC110 (no event to wait on)
                await asyncio.sleep(0.05)
            rows.append(
                {
                    "cycle": index,
                    "create_s": created_s,
                    "rss_mib": rss_mib(),
                    "vram_mib": vram_mib(args.device),
                }
            )
            print(f"cycle {index}: create {created_s:.2f} s, RSS {rows[-1]['rss_mib']:.0f} MiB")
    finally:
        await server.stop()
    return rows


async def listen(uri: str, replies: int) -> list[float]:
    """Gaps between consecutive audio chunks over `replies` replies (first chunk excluded)."""
    gaps = []
    async with AsyncClient.from_uri(uri) as client:
        for _ in range(replies):
            await client.write_event(
                Synthesize(TEXT, voice=SynthesizeVoice("csm:speaker-0")).event()
            )
            last = None
            while (event := await client.read_event()) is not None and event.type != "audio-stop":
                if event.type == "audio-chunk":
                    now = time.perf_counter()
                    if last is not None:
                        gaps.append(now - last)
                    last = now
    return gaps


async def create_back_to_back(uri: str, stop: asyncio.Event) -> int:
    count = 0
    async with AsyncClient.from_uri(uri) as client:
        while not stop.is_set():
            await client.write_event(VoiceCreate("churn", TRANSCRIPT, clip(30), 24000).event())
            answer = await client.read_event()
            assert answer is not None and answer.type == "verba-voice-created", answer
            await client.write_event(VoiceDelete("churn").event())
            await client.read_event()
            count += 1
    return count


async def gaps(args: argparse.Namespace, model: str) -> dict[str, Any]:
    server = await start(args, model, max_audio_s=8)
    uri = f"tcp://127.0.0.1:{server.port}"
    try:
        alone = await listen(uri, args.replies)
        stop = asyncio.Event()
        maker = asyncio.create_task(create_back_to_back(uri, stop))
        busy = await listen(uri, args.replies)
        stop.set()
        created = await maker
    finally:
        await server.stop()
    return {"alone": summary(alone), "while_creating": summary(busy), "creations": created}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", help="local model directory (default: build the tiny model)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--unload-after-s", type=float, default=0.5)
    parser.add_argument("--replies", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = args.model
    if model is None:
        from tests.fakes.tiny_csm import build_tiny_csm

        model = str(build_tiny_csm(Path(tempfile.mkdtemp()) / "tiny-csm"))
    rows = asyncio.run(cycles(args, model))
    chunk_gaps = asyncio.run(gaps(args, model))
    for name in ("alone", "while_creating"):
        figures = chunk_gaps[name]
        print(
            f"chunk gaps {name}: median {figures['median'] * 1000:.0f} ms, p95 "
            f"{figures['p95'] * 1000:.0f} ms, max {figures['max'] * 1000:.0f} ms (n={figures['n']})"
        )
    print(f"30-s clips created meanwhile: {chunk_gaps['creations']}")
    results = {"cycles": rows, "gaps": chunk_gaps, "device": args.device}
    print(f"wrote {write_results('voice_churn', results)}")


if __name__ == "__main__":
    main()
