"""`say` and `bench` tell what served and how long they wait: a note when the asked engine was not
ready, its state in an error, progress on a terminal only, and --plot's dependency checked first."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.cli.test_cli import loopback_config
from tests.support.process import ROOT, fake_edge_process, run_cli, server_process


@contextmanager
def csm_failed_server(tmp_path: Path, edge_url: str) -> Iterator[str]:
    """A server whose default engine (CSM) failed to load, Edge the fallback; yields its URI."""
    settings = loopback_config(
        tmp_path,
        edge_url,
        tts={"backend": "csm", "fallback": "edge"},
        csm={"model": str(tmp_path / "no-model"), "device": "cpu"},
    )
    with server_process(tmp_path, settings) as (_process, port, _log):
        uri = f"tcp://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while "csm failed" not in run_cli("health", "--uri", uri).stderr:
            assert time.monotonic() < deadline, "CSM never reported failed"
            time.sleep(0.5)
        yield uri


def test_say_notes_the_engine_that_stood_in(tmp_path: Path) -> None:
    with fake_edge_process() as edge_url, csm_failed_server(tmp_path, edge_url) as uri:
        said = run_cli("say", "--uri", uri, "-o", str(tmp_path / "a.wav"), "Hello there.")
    assert said.returncode == 0, said.stderr
    assert said.stderr == ""  # piped: no progress line
    lines = said.stdout.splitlines()
    assert lines[0].startswith(f"wrote {tmp_path / 'a.wav'}:")
    assert lines[1].startswith("note: you asked for csm, which was failed (csm.model: directory")
    assert "the edge engine (tts.fallback) answered" in lines[1]


def test_say_error_names_the_asked_engines_state(tmp_path: Path) -> None:
    with csm_failed_server(tmp_path, "http://127.0.0.1:9") as uri:
        said = run_cli("say", "--uri", uri, "-o", str(tmp_path / "a.wav"), "Hello there.")
    assert said.returncode == 1
    assert said.stderr.startswith("error: the server could not synthesize: ")
    assert "(you asked for csm, which is failed (csm.model: directory" in said.stderr


def test_progress_shows_on_a_terminal_only(tmp_path: Path) -> None:
    with fake_edge_process(realtime=True) as edge_url:
        settings = loopback_config(tmp_path, edge_url)
        with server_process(tmp_path, settings) as (_process, port, _log):
            args = ["say", "--uri", f"tcp://127.0.0.1:{port}", "-o", str(tmp_path / "a.wav")]
            leader, follower = pty.openpty()
            command = [sys.executable, "-m", "wyoming_verba", *args, "One. Two. Three."]
            with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=follower):
                os.close(follower)
                terminal = _read_all(leader)
            piped = run_cli(*args, "One. Two. Three.")
    assert "say: edge speaking… 0 s" in terminal
    assert terminal.endswith("\r\x1b[K")  # the line is erased at the end
    assert piped.stderr == "" and piped.returncode == 0


def _read_all(fd: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode()


def test_bench_plot_checks_matplotlib_before_running(tmp_path: Path) -> None:
    hidden = tmp_path / "no-matplotlib" / "matplotlib"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ImportError('No module named matplotlib')\n")
    result = run_cli(
        "bench",
        "--uri",
        "tcp://127.0.0.1:9",  # nothing listens: a run would fail differently
        "--voice",
        "edge:en-US-AriaNeural",
        "--plot",
        str(tmp_path / "plot.png"),
        env={"PYTHONPATH": str(hidden.parent)},
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: bench --plot needs matplotlib (")
    assert "-m pip install matplotlib), or leave out --plot" in result.stderr
