"""Start the real server and the fake Edge service as separate processes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def fake_edge_process(realtime: bool = False) -> Iterator[str]:
    """The fake Edge service in its own process; yields its base URL."""
    command = [sys.executable, "-m", "tests.fakes.fake_edge", "--port", "0"]
    if realtime:
        command.append("--realtime")
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.match(r"READY (\d+)", line)
        assert match, f"fake edge did not start: {line!r}"
        yield f"http://127.0.0.1:{match.group(1)}"
    finally:
        process.terminate()
        process.wait(10)


@contextmanager
def server_process(
    tmp_path: Path,
    config: dict,
    extra_args: list[str] | None = None,
    env: dict[str, str] | None = None,  # type: ignore[type-arg]
) -> Iterator[tuple[subprocess.Popen[str], int, str]]:
    """`python -m wyoming_verba --config FILE` on a free port; yields (process, port, startup log)."""
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    command = [
        sys.executable,
        "-m",
        "wyoming_verba",
        "--config",
        str(config_path),
        *(extra_args or []),
    ]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    port, startup_log = wait_for_port(process)
    try:
        yield process, port, startup_log
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


def wait_for_port(process: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str]:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"server exited: {''.join(seen)}")
        seen.append(line)
        match = re.search(r"Listening on tcp://[^:]+:(\d+)", line)
        if match:
            return int(match.group(1)), "".join(seen)
    raise AssertionError(f"server did not start: {''.join(seen)}")
