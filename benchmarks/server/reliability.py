"""Reliability against broken and hostile clients, measured on the real server process.

`.venv/bin/python -m benchmarks.server.reliability [--fuzz-cases N] [--only NAME ...]` prints:
(1) fuzz cases run against the wire format and tracebacks logged, (2) how long 32 stalled
connections lock real clients out, (3) server RSS growth under 4000 pipelined requests,
(4) shutdown drain time with 20 active streams. JSON goes to bench-results/reliability.json.
The server runs with its default config (timeouts, limits) unless a figure says otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings

from benchmarks.common import write_results
from tests.server.wire_fuzz import FUZZ_INPUT, run_case
from tests.support import process as process_helpers
from tests.support.process import LogDrain, fake_edge_process, server_process
from tests.support.raw import RawClient, RawEvent, wire

LONG = "This reply goes on long enough that nobody will sit through all of it. " * 40
ONE_AND_A_HALF_S = "A sentence of one and a half seconds."
THIRTY_S = "This reply is long enough to outlast the shutdown grace period. " * 9


@contextmanager
def server(
    edge_url: str, extra: dict[str, Any] | None = None
) -> Iterator[tuple[subprocess.Popen[str], int, LogDrain]]:
    """The real server process (default config plus `extra` server keys) and its log."""
    tmp = Path(tempfile.mkdtemp())
    config = {
        "server": {
            "uri": "tcp://127.0.0.1:0",
            "zeroconf": {"enabled": False},
            "data_dir": str(tmp / "data"),
            **(extra or {}),
        },
        "edge": {"endpoint": edge_url},
    }
    with server_process(tmp, config) as (process, port, _):
        yield process, port, LogDrain(process)


def rss_mb(pid: int, key: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{key} not found")


# (1) fuzzing ------------------------------------------------------------------------------


def fuzz(cases: int) -> dict[str, Any]:
    outcomes: Counter[str] = Counter()
    with (
        fake_edge_process() as edge_url,
        server(edge_url, {"read_timeout_s": 0.2}) as (
            process,
            port,
            log,
        ),
    ):

        @settings(
            max_examples=cases,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(blob=FUZZ_INPUT)
        def one(blob: bytes) -> None:
            outcomes[run_case(port, blob)] += 1
            assert process.poll() is None, "the server died"

        started = time.perf_counter()
        one()
        seconds = time.perf_counter() - started
        describe_after = run_case(port, b"") == "info"
        process.send_signal(signal.SIGTERM)
        exit_code = process.wait(30)
        text = log.text()
    return {
        "cases": sum(outcomes.values()),
        "outcomes": dict(outcomes),
        "seconds": round(seconds, 1),
        "tracebacks": text.count("Traceback"),
        "error_lines": sum(" ERROR " in line for line in text.splitlines()),
        "describe_on_fresh_connection_after": describe_after,
        "exit_code": exit_code,
    }


# (2) lockout ------------------------------------------------------------------------------


async def first_service(port: int, limit_s: float) -> float:
    """Seconds until a new client gets a synthesize served (probing every 0.25 s)."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit_s:
        try:
            client = await RawClient.connect(port)
            await client.send(wire("synthesize", {"text": "Can I get in?"}))
            events = await client.read_until("audio-stop", timeout=5)
            client.close()
            if "error" not in [e.type for e in events]:
                return time.perf_counter() - started
        except (AssertionError, OSError, TimeoutError):
            pass
        await asyncio.sleep(0.25)
    return float("inf")


async def stall(port: int, kind: str) -> list[RawClient]:
    clients = []
    for _ in range(32):
        client = await RawClient.connect(port, receive_buffer=4096)
        if kind == "half-header":
            await client.send(b'{"type": "synthesize", "da')
        elif kind == "not-reading":
            await client.send(wire("synthesize", {"text": LONG}))
        clients.append(client)
    await asyncio.sleep(0.5 if kind != "not-reading" else 3)  # let the audio fill the buffers
    return clients


def lockout() -> dict[str, Any]:
    results = {}
    with fake_edge_process() as edge_url:
        for kind in ("silent", "half-header", "not-reading"):
            with server(edge_url) as (_process, port, _log):

                async def run(port: int = port, kind: str = kind) -> float:
                    clients = await stall(port, kind)
                    seconds = await first_service(port, 90)
                    for client in clients:
                        client.close()
                    return seconds

                results[kind] = round(asyncio.run(run()), 2)
    return {"stalled_connections": 32, "seconds_until_a_real_client_is_served": results}


# (3) memory under pipelined requests ------------------------------------------------------


async def pipeline(port: int, count: int, read: bool, pid: int, log: LogDrain) -> dict[str, Any]:
    """Send `count` requests at once; read every reply, or none until the server drops us."""
    client = await RawClient.connect(port)
    client.writer.write(wire("synthesize", {"text": "Hi there."}) * count)
    peak, answered, started = 0.0, 0, time.perf_counter()
    while answered < count and time.perf_counter() - started < 300:
        peak = max(peak, rss_mb(pid))
        if read:
            await client.read_until("audio-stop", timeout=30)
            answered += 1
        elif any("Dropping a client" in line for line in log.lines):
            break
        else:
            await asyncio.sleep(0.2)
    client.close()
    return {"peak": peak, "answered": answered, "seconds": time.perf_counter() - started}


def pipelined_memory(count: int) -> dict[str, Any]:
    results: dict[str, Any] = {"requests": count}
    with fake_edge_process() as edge_url:
        for read in (False, True):
            with server(edge_url) as (process, port, log):

                async def run(
                    port: int = port, read: bool = read, log: LogDrain = log
                ) -> dict[str, Any]:
                    warm = await RawClient.connect(port)
                    for _ in range(20):
                        await warm.send(wire("synthesize", {"text": "Warm up."}))
                        await warm.read_until("audio-stop")
                    warm.close()
                    await asyncio.sleep(0.5)
                    before = rss_mb(process.pid)
                    outcome = await pipeline(port, count, read, process.pid, log)
                    await asyncio.sleep(1)
                    return {
                        "rss_before_mb": round(before, 1),
                        "peak_growth_mb": round(outcome["peak"] - before, 1),
                        "growth_after_client_left_mb": round(rss_mb(process.pid) - before, 1),
                        "answered": outcome["answered"],
                        "seconds": round(outcome["seconds"], 1),
                    }

                key = "reading" if read else "not_reading"
                results[key] = asyncio.run(run())
                results[key]["dropped_by_write_timeout"] = "Dropping a client" in "".join(log.lines)
    return results


# (4) shutdown drain ----------------------------------------------------------------------


def drain(text: str) -> dict[str, Any]:
    with fake_edge_process(realtime=True) as edge_url, server(edge_url) as (process, port, log):

        async def run() -> tuple[list[list[RawEvent]], float]:
            clients = [await RawClient.connect(port) for _ in range(20)]
            for client in clients:
                await client.send(wire("synthesize", {"text": text}))
            for client in clients:
                await client.read_until("audio-chunk", timeout=30)
            started = time.perf_counter()
            process.send_signal(signal.SIGTERM)
            streams = await asyncio.gather(*(c.read_to_close(timeout=60) for c in clients))
            return list(streams), started

        streams, signalled = asyncio.run(run())
        exit_code = process.wait(60)
        exited = time.perf_counter() - signalled
        text_log = log.text()
    ends = Counter(
        "error+audio-stop"
        if [e.type for e in events][-2:] == ["error", "audio-stop"]
        else "audio-stop"
        if events and events[-1].type == "audio-stop"
        else "cut"
        for events in streams
    )
    return {
        "streams": len(streams),
        "reply_audio_s": round(max(0.3, len(text) * 0.05), 1),
        "sigterm_to_exit_s": round(exited, 2),
        "ended": dict(ends),
        "exit_code": exit_code,
        "tracebacks": text_log.count("Traceback"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fuzz-cases", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument(
        "--only", action="append", choices=("fuzz", "lockout", "memory", "drain"), default=None
    )
    parser.add_argument(
        "--server-root",
        type=Path,
        help="run the server from another checkout (e.g. `git worktree add` of an older commit) "
        "for a before/after comparison",
    )
    args = parser.parse_args()
    if args.server_root:
        process_helpers.ROOT = args.server_root.resolve()
    wanted = set(args.only or ("fuzz", "lockout", "memory", "drain"))
    results: dict[str, Any] = {}
    if "fuzz" in wanted:
        results["fuzz"] = fuzz(args.fuzz_cases)
        print("fuzz:", json.dumps(results["fuzz"]), flush=True)
    if "lockout" in wanted:
        results["lockout"] = lockout()
        print("lockout:", json.dumps(results["lockout"]), flush=True)
    if "memory" in wanted:
        results["memory"] = pipelined_memory(args.requests)
        print("memory:", json.dumps(results["memory"]), flush=True)
    if "drain" in wanted:
        results["drain"] = {
            "replies_shorter_than_grace": drain(ONE_AND_A_HALF_S),
            "replies_longer_than_grace": drain(THIRTY_S),
        }
        print("drain:", json.dumps(results["drain"]), flush=True)
    print(f"wrote {write_results('reliability', results)}")


if __name__ == "__main__":
    main()
