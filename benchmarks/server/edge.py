"""Edge path latency against the local fake service sending MP3 paced at real time.

Measures, in one run: (1) first audio-chunk at the client after the fake sent its first MP3 frame,
(2) total time of a server request vs the raw edge-tts stream on the same text (interleaved),
(3) Describe round-trip while a synthesis is streaming.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time

import edge_tts
from wyoming.client import AsyncClient
from wyoming.info import Describe
from wyoming.tts import Synthesize

from benchmarks.common import summary, write_results
from tests.fakes.fake_edge import FakeEdgeService
from wyoming_verba.config import parse_config
from wyoming_verba.server.server import VerbaServer

TEXT = "The kitchen lights are now off. Tomorrow will be sunny with a high of twenty one degrees."
ONE_SENTENCE = "Tomorrow will be sunny with a high of twenty one degrees and a light breeze."


async def read_until(client: AsyncClient, event_type: str) -> float:
    while True:
        event = await client.read_event()
        assert event is not None
        if event.type == event_type:
            return time.perf_counter()


async def first_audio_after_first_frame(uri: str, fake: FakeEdgeService) -> float:
    async with AsyncClient.from_uri(uri) as client:
        await client.write_event(Synthesize("Short reply.").event())
        received = await read_until(client, "audio-chunk")
        request = fake.requests[-1]
        await read_until(client, "audio-stop")
    assert request.first_frame_sent is not None
    return (received - request.first_frame_sent) * 1000


async def server_total(uri: str, text: str) -> float:
    started = time.perf_counter()
    async with AsyncClient.from_uri(uri) as client:
        await client.write_event(Synthesize(text).event())
        await read_until(client, "audio-stop")
    return time.perf_counter() - started


async def raw_total(text: str) -> float:
    started = time.perf_counter()
    async for _ in edge_tts.Communicate(text, "en-US-AriaNeural").stream():
        pass
    return time.perf_counter() - started


async def describe_during_synthesis(uri: str) -> list[float]:
    latencies = []
    async with AsyncClient.from_uri(uri) as busy, AsyncClient.from_uri(uri) as other:
        await busy.write_event(Synthesize(TEXT).event())
        await read_until(busy, "audio-chunk")
        for client in (busy, other, busy, other):
            started = time.perf_counter()
            await client.write_event(Describe().event())
            latencies.append((await read_until(client, "info") - started) * 1000)
            await asyncio.sleep(0.1)
        await read_until(busy, "audio-stop")
    return latencies


async def main(runs: int) -> None:
    fake = FakeEdgeService(realtime=True)
    await fake.start()
    config = parse_config(
        {
            "server": {
                "uri": "tcp://127.0.0.1:0",
                "zeroconf": {"enabled": False},
                "data_dir": tempfile.mkdtemp(),
            },
            "edge": {"endpoint": fake.url},
        },
        environ={},
    )
    server = VerbaServer(config)
    await server.start()
    uri = f"tcp://127.0.0.1:{server.port}"
    try:
        await server_total(uri, TEXT)  # warm up
        first = [await first_audio_after_first_frame(uri, fake) for _ in range(runs)]
        ours, raw, ours_one, raw_one = [], [], [], []
        for _ in range(max(3, runs // 4)):  # interleaved, side by side
            ours.append(await server_total(uri, TEXT))
            raw.append(await raw_total(TEXT))
            ours_one.append(await server_total(uri, ONE_SENTENCE))
            raw_one.append(await raw_total(ONE_SENTENCE))
        describe = []
        for _ in range(max(3, runs // 4)):
            describe += await describe_during_synthesis(uri)
    finally:
        await server.stop()
        await fake.stop()
    ratios = [o / r for o, r in zip(ours, raw, strict=True)]
    ratios_one = [o / r for o, r in zip(ours_one, raw_one, strict=True)]
    results = {
        "first_audio_after_first_mp3_frame_ms": summary(first),
        "total_s_server": summary(ours),
        "total_s_raw_edge_tts": summary(raw),
        "total_ratio_server_vs_raw": summary(ratios),
        "total_ratio_server_vs_raw_one_sentence": summary(ratios_one),
        "describe_during_synthesis_ms": summary(describe),
        "targets": {"first_audio_ms_median": 10, "total_ratio": 1.05, "describe_ms": 50},
    }
    first_ms = results["first_audio_after_first_mp3_frame_ms"]
    print(
        f"first audio-chunk after first MP3 frame: median {first_ms['median']:.1f} ms, "
        f"p95 {first_ms['p95']:.1f} ms (target <= 10 ms median)"
    )
    print(
        f"total: server {summary(ours)['median']:.3f} s vs raw edge-tts "
        f"{summary(raw)['median']:.3f} s, ratio median {summary(ratios)['median']:.3f} "
        "(target <= 1.05)"
    )
    print(f"total, one sentence (no pipelining): ratio median {summary(ratios_one)['median']:.3f}")
    print(
        f"Describe during synthesis: median {summary(describe)['median']:.1f} ms, "
        f"max {summary(describe)['max']:.1f} ms (target < 50 ms)"
    )
    print(f"wrote {write_results('edge', results)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(args.runs))
