"""Start and idle-unload figures for `script/bench csm --start`, on the real server process.

Two starts with `csm.compile: true` on one data_dir: the first finds an empty compile cache
(cold), the second the first one's (warm). The second server also runs with csm.unload_after_s:
after the model unloads it gives the resident memory before and after, then the time from a
request to its first audio (served by tts.fallback, a local fake Edge service) and to CSM
serving again.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from wyoming.audio import AudioChunk
from wyoming.client import AsyncClient
from wyoming.tts import Synthesize, SynthesizeVoice

from tests.support.process import LogDrain, fake_edge_process, server_process

READY = re.compile(
    r"CSM ready in ([\d.]+) s \(load ([\d.]+) s, compile ([\d.]+) s ([a-z ]+), capture ([\d.]+) s"
)
UNLOAD_AFTER_S = 5.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wait_for(drain: LogDrain, pattern: str | re.Pattern[str], count: int, timeout: float) -> Any:
    """The `count`-th match of `pattern` in the server's log, waiting up to `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        matches = list(re.finditer(pattern, "".join(drain.lines)))
        if len(matches) >= count:
            return matches[count - 1]
        time.sleep(0.05)
    raise TimeoutError(f"no {pattern!r} (#{count}) in {timeout} s:\n{''.join(drain.lines)[-3000:]}")


async def first_audio_s(port: int, text: str = "Hi.") -> float:
    """Seconds from sending a CSM request to its first audio chunk (whoever serves it)."""
    async with AsyncClient.from_uri(f"tcp://127.0.0.1:{port}") as client:
        sent = time.monotonic()
        await client.write_event(Synthesize(text, voice=SynthesizeVoice("csm:speaker-0")).event())
        first = None
        while (event := await asyncio.wait_for(client.read_event(), 600)) is not None:
            if first is None and AudioChunk.is_type(event.type):
                first = time.monotonic() - sent
            if event.type == "audio-stop":
                break
        assert first is not None, "no audio"
        return first


def one_start(tmp: Path, config: dict[str, Any], idle_unload: bool) -> dict[str, Any]:
    """Start the server, wait for `CSM ready`; with idle_unload also the unload figures."""
    tmp.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    env = {"OMP_NUM_THREADS": "1"}
    with server_process(tmp, config, env=env) as (process, port, _):
        drain = LogDrain(process)
        match = wait_for(drain, READY, 1, 1800)
        figures: dict[str, Any] = {
            "process_start_to_ready_s": time.monotonic() - started,
            "ready_s": float(match.group(1)),
            "load_s": float(match.group(2)),
            "compile_s": float(match.group(3)),
            "compile_source": match.group(4).strip(),
            "capture_s": float(match.group(5)),
        }
        if idle_unload:
            figures["idle_unload"] = unload_figures(process.pid, port, drain)
        process.terminate()
        process.wait(60)
    return figures


def unload_figures(pid: int, port: int, drain: LogDrain) -> dict[str, Any]:
    asyncio.run(first_audio_s(port))  # CSM serves (and the idle clock starts)
    before = rss_mb(pid)
    wait_for(drain, "CSM unloaded after", 1, UNLOAD_AFTER_S * 10 + 120)
    after = rss_mb(pid)
    sent = time.monotonic()
    fallback_first_audio = asyncio.run(first_audio_s(port))
    wait_for(drain, READY, 2, 1800)
    reloaded = time.monotonic() - sent
    csm_first_audio = asyncio.run(first_audio_s(port))
    assert "backend=edge(while-csm-loads)" in "".join(drain.lines)
    return {
        "unload_after_s": UNLOAD_AFTER_S,
        "rss_mb_before_unload": before,
        "rss_mb_after_unload": after,
        "fallback_first_audio_s": fallback_first_audio,
        "request_to_csm_ready_again_s": reloaded,
        "csm_first_audio_after_reload_s": csm_first_audio,
    }


def start_figures(model_dir: Path, temperature: float = 0.0) -> dict[str, Any]:
    """Cold and warm start (same data_dir), the warm one with the idle-unload figures; at
    temperature 0 the step is greedy (no sampling regions to compile)."""
    tmp = Path(tempfile.mkdtemp())
    with fake_edge_process() as edge_url:
        config: dict[str, Any] = {
            "server": {
                "uri": "tcp://127.0.0.1:0",
                "zeroconf": {"enabled": False},
                "data_dir": str(tmp / "data"),
            },
            "tts": {"backend": "csm", "fallback": "edge"},
            "edge": {"endpoint": edge_url},
            "csm": {
                "model": str(model_dir),
                "device": "cpu",
                "compile": True,
                "temperature": temperature,
                "max_audio_s": 4,
            },
        }
        cold = one_start(tmp / "cold", config, idle_unload=False)
        config["csm"]["unload_after_s"] = UNLOAD_AFTER_S
        warm = one_start(tmp / "warm", config, idle_unload=True)
    return {"cold": cold, "warm": warm}


def report_start(figures: dict[str, Any]) -> None:
    for name in ("cold", "warm"):
        f = figures[name]
        print(
            f"  start {name}: CSM ready {f['ready_s']:.1f} s after load began "
            f"({f['process_start_to_ready_s']:.1f} s from process start): "
            f"load {f['load_s']:.1f} s, compile {f['compile_s']:.1f} s {f['compile_source']}, "
            f"capture {f['capture_s']:.1f} s"
        )
    u = figures["warm"]["idle_unload"]
    print(
        f"  idle unload ({u['unload_after_s']:.0f} s): RSS {u['rss_mb_before_unload']:.0f} → "
        f"{u['rss_mb_after_unload']:.0f} MB; next request's first audio "
        f"{u['fallback_first_audio_s'] * 1000:.0f} ms (fallback), CSM ready again "
        f"{u['request_to_csm_ready_again_s']:.1f} s later, then first audio "
        f"{u['csm_first_audio_after_reload_s'] * 1000:.0f} ms"
    )
