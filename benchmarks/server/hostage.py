"""CSM under hostile clients and careless profiles, on the real server process (tiny CSM, CPU).

`.venv/bin/python -m benchmarks.server.hostage [--runs N]` prints: (1) time for a CSM request
(first audio, total) with no other client and with csm.max_batch trickling streams open (a space
every second; or one sentence, then spaces), (2) the server's peak RSS while loading a profile
whose clip is 1 hour long (refused from its header) beside the same server without it.
JSON goes to bench-results/hostage.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from wyoming.client import AsyncClient
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeVoice

from benchmarks.common import summary, write_results
from benchmarks.server.reliability import rss_mb
from tests.fakes.tiny_csm import build_tiny_csm
from tests.support.process import LogDrain, fake_edge_process, server_process

CSM = SynthesizeVoice("csm:speaker-0")
MAX_BATCH = 4


def csm_config(tmp: Path, model: Path, voices: list[dict[str, Any]], edge: str) -> dict[str, Any]:
    return {
        "server": {"uri": "tcp://127.0.0.1:0", "zeroconf": False, "data_dir": str(tmp / "d")},
        "tts": {"backend": "csm", "fallback": "edge"},
        "edge": {"endpoint": edge},
        "csm": {
            "model": str(model),
            "device": "cpu",
            "temperature": 0,
            "max_audio_s": 4,
            "max_batch": MAX_BATCH,
            "voices": voices,
        },
    }


def wait_ready(log: LogDrain, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not any("CSM ready" in line for line in log.lines):
        if time.monotonic() > deadline:
            raise RuntimeError("CSM did not get ready: " + "".join(log.lines[-20:]))
        time.sleep(0.05)


@contextlib.asynccontextmanager
async def tricklers(port: int, count: int, first: str) -> AsyncIterator[None]:
    """`count` open CSM streams sending `first`, then a space every second."""
    clients = [AsyncClient("127.0.0.1", port) for _ in range(count)]

    async def trickle(client: AsyncClient) -> None:
        await client.connect()
        await client.write_event(SynthesizeStart(voice=CSM).event())
        await client.write_event(SynthesizeChunk(first).event())
        while True:
            await asyncio.sleep(1)
            await client.write_event(SynthesizeChunk(" ").event())

    async def drain(client: AsyncClient) -> None:
        with contextlib.suppress(Exception):
            while await client.read_event() is not None:
                pass

    tasks = [asyncio.create_task(trickle(c)) for c in clients]
    await asyncio.sleep(0.5)
    readers = [asyncio.create_task(drain(c)) for c in clients]
    try:
        await asyncio.sleep(2)  # the first sentence (if any) has been spoken
        yield
    finally:
        for task in tasks + readers:
            task.cancel()
        for client in clients:
            with contextlib.suppress(Exception):
                await client.disconnect()


async def one_request(port: int) -> tuple[float, float, str]:
    async with AsyncClient.from_uri(f"tcp://127.0.0.1:{port}") as client:
        started = time.perf_counter()
        await client.write_event(Synthesize("Hello there.", voice=CSM).event())
        first = None
        while (event := await asyncio.wait_for(client.read_event(), 60)) is not None:
            if event.type == "audio-chunk" and first is None:
                first = time.perf_counter()
            if event.type == "audio-stop":
                break
        assert first is not None
        return (first - started) * 1000, (time.perf_counter() - started) * 1000, ""


def trickling_figures(model: Path, runs: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp())
    results: dict[str, Any] = {}
    with (
        fake_edge_process() as edge,
        server_process(tmp, csm_config(tmp, model, [], edge)) as (process, port, _),
    ):
        log = LogDrain(process)
        wait_ready(log)
        for name, count, first in (
            ("alone", 0, ""),
            ("spaces", MAX_BATCH, " "),
            ("sentence-then-spaces", MAX_BATCH, "Hi. "),
        ):

            async def measure(count: int = count, first: str = first) -> list[tuple[float, float]]:
                async with tricklers(port, count, first) if count else contextlib.nullcontext():
                    return [(await one_request(port))[:2] for _ in range(runs)]

            timings = asyncio.run(measure())
            fallbacks = sum("fallback-from-csm" in line for line in log.lines)
            results[name] = {
                "first_audio_ms": summary([t[0] for t in timings]),
                "total_ms": summary([t[1] for t in timings]),
                "fallbacks_so_far": fallbacks,
            }
            print(name, results[name])
    return results


def hour_wav(path: Path) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(24000)
        second = b"\x00\x01" * 24000
        for _ in range(3600):
            wav.writeframes(second)
    return path


def rss_figures(model: Path) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp())
    clip = hour_wav(tmp / "hour.wav")
    voice = {"name": "hour", "reference_audio": str(clip), "reference_text": "An hour of talk."}
    results: dict[str, Any] = {"clip_mb": clip.stat().st_size / 2**20}
    with fake_edge_process() as edge:
        for name, voices in (("without", []), ("with-1h-clip", [voice])):
            config = csm_config(tmp, model, voices, edge)
            with server_process(tmp, config) as (process, _port, startup):
                log = LogDrain(process)
                wait_ready(log)
                refused = [line for line in startup.splitlines() if "skipped" in line]
                results[name] = {"peak_rss_mb": rss_mb(process.pid, "VmHWM"), "log": refused}
            print(name, results[name])
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    model = build_tiny_csm(Path(tempfile.mkdtemp()) / "tiny")
    results = {"trickling": trickling_figures(model, args.runs), "rss": rss_figures(model)}
    print("wrote", write_results("hostage", results))


if __name__ == "__main__":
    main()
