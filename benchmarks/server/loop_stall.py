"""How long one long `synthesize` stalls every other connection (the real server process).

`.venv/bin/python -m benchmarks.server.loop_stall [--chars N] [--texts prose abbreviations]`:
while one client sends a plain synthesize of N characters (server.max_text_chars raised to fit),
a second connection sends Describe after Describe; the longest Describe round trip is the stall
every connection saw. Also prints the long request's time to its first audio. JSON goes to
bench-results/loop_stall.json.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import write_results
from tests.support.process import fake_edge_process, server_process
from tests.support.raw import RawClient, wire

_PROSE = (
    "The kitchen lights are now off. Dr. Smith arrives at 5 p.m. tomorrow! Is the U.S. office "
    "open? It will be sunny, with a high of 21.5 degrees, and a light breeze from the west. "
)
TEXTS = {
    "prose": _PROSE,
    "abbreviations": "A. ",  # every period might end an abbreviation: the library's slow path
}


async def _probe(port: int, stop: asyncio.Event) -> list[float]:
    client = await RawClient.connect(port)
    round_trips: list[float] = []
    try:
        while not stop.is_set():
            started = time.perf_counter()
            await client.send(wire("describe"))
            await client.read_until("info", timeout=300)
            round_trips.append(time.perf_counter() - started)
            await asyncio.sleep(0.005)
    finally:
        client.close()
    return round_trips


async def _measure(port: int, text: str) -> dict[str, Any]:
    stop = asyncio.Event()
    probe = asyncio.create_task(_probe(port, stop))
    await asyncio.sleep(0.3)  # the probe's connection is open and answered
    client = await RawClient.connect(port)
    started = time.perf_counter()
    await client.send(wire("synthesize", {"text": text}))
    first_audio = None
    while (event := await client.read_event(timeout=600)) is not None:
        if event.type == "audio-chunk" and first_audio is None:
            first_audio = time.perf_counter() - started
            break
    client.close()
    stop.set()
    round_trips = await probe
    return {
        "chars": len(text),
        "max_describe_round_trip_ms": round(max(round_trips) * 1000, 1),
        "describes": len(round_trips),
        "first_audio_ms": None if first_audio is None else round(first_audio * 1000),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chars", type=int, default=200_000)
    parser.add_argument("--texts", nargs="+", choices=list(TEXTS), default=list(TEXTS))
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    results: dict[str, Any] = {}
    with fake_edge_process() as edge_url:
        config = {
            "server": {
                "uri": "tcp://127.0.0.1:0",
                "zeroconf": {"enabled": False},
                "data_dir": str(tmp / "data"),
                "max_text_chars": args.chars,
                "idle_timeout_s": 600,
            },
            "edge": {"endpoint": edge_url},
        }
        with server_process(tmp, config) as (_process, port, _log):
            for name in args.texts:
                unit = TEXTS[name]
                text = "".join(itertools.repeat(unit, args.chars // len(unit) + 1))[: args.chars]
                results[name] = asyncio.run(_measure(port, text))
                print(f"{name}: {results[name]}")
    print(f"JSON: {write_results('loop_stall', results)}")


if __name__ == "__main__":
    main()
