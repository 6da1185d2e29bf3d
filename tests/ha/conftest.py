"""Fixtures for the Home Assistant tests: real wyoming_verba server and fake Edge service processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest

from tests.server.process import ROOT, fake_edge_process, wait_for_port

SERVER_PYTHON = os.environ.get("VERBA_SERVER_PYTHON", str(ROOT / ".venv" / "bin" / "python"))


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Load custom_components/verba."""


@pytest.fixture(autouse=True)
def tts_cache_dir(tmp_path: Path) -> Iterator[Path]:
    """Keep HA's TTS file cache in a temporary directory."""
    with patch("homeassistant.components.tts._init_tts_cache_dir", return_value=str(tmp_path)):
        yield tmp_path


@dataclass
class FakeEdge:
    """The fake Edge service process."""

    url: str

    def requests(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.url}/requests", timeout=5) as response:
            return json.loads(response.read())


@dataclass
class VerbaServer:
    """A running wyoming_verba server process."""

    host: str
    port: int
    process: subprocess.Popen[str]


@pytest.fixture(scope="session")
def fake_edge() -> Iterator[FakeEdge]:
    """The fake Edge service (real-time paced MP3) in its own process, on 127.0.0.1."""
    with fake_edge_process(realtime=True, python=SERVER_PYTHON) as url:
        yield FakeEdge(url)


@pytest.fixture(scope="session")
def tiny_csm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random CSM model, built with the server's Python."""
    path = tmp_path_factory.mktemp("tiny-csm")
    subprocess.run(
        [SERVER_PYTHON, "-m", "tests.fakes.tiny_csm", str(path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return path


@pytest.fixture(scope="session")
def verba_server(
    fake_edge: FakeEdge, tiny_csm_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[VerbaServer]:
    """`python -m wyoming_verba --config …` from the server venv: Edge (default) and CSM engines."""
    import yaml

    directory = tmp_path_factory.mktemp("verba")
    config = directory / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "server": {
                    "uri": "tcp://127.0.0.1:0",
                    "zeroconf": {"enabled": False},
                    "data_dir": str(directory / "data"),
                },
                "tts": {"backend": "edge", "engines": ["edge", "csm"]},
                "edge": {"endpoint": fake_edge.url},
                "csm": {
                    "model": str(tiny_csm_dir),
                    "device": "cpu",
                    "preload": False,
                    "temperature": 0,
                },
            }
        )
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [SERVER_PYTHON, "-m", "wyoming_verba", "--config", str(config)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    port, _log = wait_for_port(process, timeout=120)
    yield VerbaServer("127.0.0.1", port, process)
    process.send_signal(signal.SIGTERM)
    process.wait(15)
