"""An LLM-paced reply through the server: first audio with and without tts.clean_text, a style
voice beside its base voice, and the tail of a sentence during a pause.

Runs the real server in-process against the fake Edge service paced at real time, with the
wyoming library's client. The reply (markdown: a link, a URL, inline code, emoji, a table) is
streamed a few words every 50 ms, as an LLM writes it; cases alternate run by run so a busy
shared CPU hits them alike. Figures are printed and written to bench-results/llm_reply.json.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from wyoming.client import AsyncClient
from wyoming.tts import SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

from benchmarks.common import summary, write_results
from tests.fakes.fake_edge import FakeEdgeService
from wyoming_verba.config import parse_config
from wyoming_verba.core.cleaning import SpeechCleaner
from wyoming_verba.server.server import VerbaServer

REPLY = (  # the first sentence is plain prose, so both clean_text cases say the same first
    "Sure, here is the weather for Berlin. The [forecast](https://weather.example.com/berlin) "
    "says `sunny_and_warm` 🌤️ for tomorrow, see https://www.dwd.de/DE/wetter.html for details."
    "\n\n| Day | High |\n|---|---|\n| Mon | 21 °C |\n| Tue | 23 °C |\n\nAnything else?"
)
STYLE = {"name": "guy-fast", "voice": "edge:en-US-GuyNeural", "rate": "+25%"}
CASES = {
    "clean_text on": ("on", None),
    "clean_text off": ("off", None),
    "base voice edge:en-US-GuyNeural": ("on", "edge:en-US-GuyNeural"),
    "style voice edge:guy-fast": ("on", "edge:guy-fast"),
}


async def llm_paced(port: int, voice: str | None) -> tuple[float, float]:
    """(first audio ms after the first chunk was sent, total ms) for the paced REPLY."""
    words = re.findall(r"\S+\s*", REPLY)
    named = SynthesizeVoice(name=voice) if voice else None
    async with AsyncClient.from_uri(f"tcp://127.0.0.1:{port}") as client:
        started = time.perf_counter()
        await client.write_event(SynthesizeStart(voice=named).event())

        async def write() -> None:
            for start in range(0, len(words), 4):
                await client.write_event(SynthesizeChunk("".join(words[start : start + 4])).event())
                await asyncio.sleep(0.05)
            await client.write_event(SynthesizeStop().event())

        writer = asyncio.create_task(write())
        first: float | None = None
        while (event := await client.read_event()) is not None:
            if event.type == "audio-chunk" and first is None:
                first = time.perf_counter()
            elif event.type == "error":
                raise RuntimeError(event.data)
            elif event.type == "synthesize-stopped":
                break
        await writer
    assert first is not None
    return (first - started) * 1000, (time.perf_counter() - started) * 1000


async def tail_during_pause(port: int) -> float:
    """ms from the sentence's previous chunk to its last (short) one, the LLM paused meanwhile."""
    async with AsyncClient.from_uri(f"tcp://127.0.0.1:{port}") as client:
        await client.write_event(SynthesizeStart().event())
        await client.write_event(SynthesizeChunk("The weather is sunny. Let me check the").event())
        times: list[float] = []
        sizes: list[int] = []
        while True:
            try:
                async with asyncio.timeout(1.0):  # the sentence has ended: the pause goes on
                    event = await client.read_event()
            except TimeoutError:
                break
            assert event is not None
            if event.type == "audio-chunk":
                times.append(time.perf_counter())
                sizes.append(len(event.payload or b"") // 2)
        await client.write_event(SynthesizeChunk(" forecast.").event())
        await client.write_event(SynthesizeStop().event())
        while (event := await client.read_event()) is not None:
            if event.type == "synthesize-stopped":
                break
    assert sizes[-1] < 1024, "no short tail: the sentence's end was held back"
    return (times[-1] - times[-2]) * 1000


async def run(runs: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp())
    fake = FakeEdgeService(realtime=True)
    await fake.start()
    servers = {}
    for clean in ("on", "off"):
        raw = {
            "server": {"uri": "tcp://127.0.0.1:0", "zeroconf": False, "data_dir": str(work)},
            "tts": {"clean_text": clean == "on", "styles": [STYLE]},
            "edge": {"endpoint": fake.url},
        }
        servers[clean] = VerbaServer(parse_config(raw, environ={}))
        await servers[clean].start()
    found: dict[str, dict[str, list[float]]] = {
        name: {"first_audio_ms": [], "total_ms": []} for name in CASES
    }
    tails: list[float] = []
    try:
        await llm_paced(servers["on"].port, None)  # warm-up
        for _ in range(runs):
            for name, (clean, voice) in CASES.items():
                first, total = await llm_paced(servers[clean].port, voice)
                found[name]["first_audio_ms"].append(first)
                found[name]["total_ms"].append(total)
            tails.append(await tail_during_pause(servers["on"].port))
    finally:
        for server in servers.values():
            await server.stop()
        await fake.stop()
    results: dict[str, Any] = {
        name: {key: summary(values) for key, values in figures.items()}
        for name, figures in found.items()
    }
    results["tail gap ms"] = summary(tails)
    results["clean_text µs per reply"] = _cleaning_cost()
    return results


def _cleaning_cost() -> float:
    """The cleaner's own time for REPLY, fed in the 4-word chunks of the paced stream (µs)."""
    words = re.findall(r"\S+\s*", REPLY)
    chunks = ["".join(words[start : start + 4]) for start in range(0, len(words), 4)]
    started = time.perf_counter()
    for _ in range(1000):
        cleaner = SpeechCleaner()
        for chunk in chunks:
            cleaner.feed(chunk)
        cleaner.flush()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    results = asyncio.run(run(args.runs))
    print(f"LLM-paced reply ({len(REPLY)} characters, 4 words / 50 ms), {args.runs} runs each")
    for name, figures in results.items():
        if not isinstance(figures, dict) or "first_audio_ms" not in figures:
            continue
        first, total = figures["first_audio_ms"], figures["total_ms"]
        print(
            f"{name:<34} first audio median {first['median']:6.1f} ms (p95 {first['p95']:.1f}),"
            f" total median {total['median']:.0f} ms"
        )
    tail = results["tail gap ms"]
    print(f"tail during a pause: {tail['median']:.1f} ms median after the chunk before it")
    print(f"cleaner: {results['clean_text µs per reply']:.0f} µs per reply")
    path = write_results("llm_reply", {"runs": args.runs, "reply": REPLY, "results": results})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
