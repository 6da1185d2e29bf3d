"""Start the real server and the fake Edge service as separate processes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m wyoming_verba ARGS`, offline from any model hub."""
    return subprocess.run(
        [sys.executable, "-m", "wyoming_verba", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
    )


@contextmanager
def fake_edge_process(realtime: bool = False, python: str = sys.executable) -> Iterator[str]:
    """The fake Edge service in its own process (run by `python`); yields its base URL."""
    command = [python, "-m", "tests.fakes.fake_edge", "--port", "0"]
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


def read_until(
    process: subprocess.Popen[str], pattern: str, timeout: float = 120
) -> tuple[re.Match[str], str]:
    """Read the process's stdout until a line matches; (match, everything read so far)."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return match, "".join(seen)
    raise AssertionError(f"process did not print {pattern!r}: {''.join(seen)}")


def wait_for_port(process: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str]:
    """The port from the server's 'Listening on' line, and its log up to there."""
    match, log = read_until(process, r"Listening on tcp://[^:]+:(\d+)", timeout)
    return int(match.group(1)), log


class LogDrain:
    """Reads a process's output in a thread, so a chatty server never blocks on a full pipe."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert process.stdout is not None
        self._thread = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.lines.append(line)

    def text(self, timeout: float = 10) -> str:
        """Everything read, once the process has closed its output (or `timeout` passed)."""
        self._thread.join(timeout)
        return "".join(self.lines)
