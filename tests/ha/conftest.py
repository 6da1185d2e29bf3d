"""Fixtures for the Home Assistant tests.

Fast tests: a FakeVerbaClient stands in for the server (`servers`). End-to-end tests: the real
wyoming_verba server and fake Edge service as processes (`verba_server`, `fake_edge`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from homeassistant.const import CONF_HOST, CONF_PORT, MAJOR_VERSION, MINOR_VERSION
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

# Bound here, before the harness puts its own `custom_components` package first on sys.path.
import custom_components.verba
from custom_components.verba.const import DOMAIN
from tests.support.process import ROOT, fake_edge_process, wait_for_port

from .fakes import HOST, PORT, SERVER_ID, FakeServers, server_info

SERVER_PYTHON = os.environ.get("VERBA_SERVER_PYTHON", str(ROOT / ".venv" / "bin" / "python"))
HA_SERIES = f"{MAJOR_VERSION}.{MINOR_VERSION}"
ENTRY_ID = "01JVERBATESTENTRY000000000"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Load custom_components/verba."""


@pytest.fixture(autouse=True)
def tts_cache_dir(tmp_path: Path) -> Iterator[Path]:
    """Keep HA's TTS file cache in a temporary directory."""
    with patch("homeassistant.components.tts._init_tts_cache_dir", return_value=str(tmp_path)):
        yield tmp_path


class VersionedSnapshotExtension(HomeAssistantSnapshotExtension):
    """Snapshots per Home Assistant version: registry entries and states differ between them.

    Not under `snapshots/`: the harness's own extension walks that directory, and would call the
    other version's snapshots unused.
    """

    @classmethod
    def dirname(cls, *, test_location: Any) -> str:
        return str(Path(test_location.filepath).parent / f"snapshots-{HA_SERIES}")


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Syrupy snapshots, kept apart for each Home Assistant version."""
    return snapshot.use_extension(VersionedSnapshotExtension)


@pytest.fixture
def servers() -> Iterator[FakeServers]:
    """Fake Verba servers by address; the integration's client talks to them."""
    fake = FakeServers({(HOST, PORT): server_info()})
    with (
        patch.object(custom_components.verba, "VerbaClient", fake.client),
        patch("custom_components.verba.config_flow.VerbaClient", fake.client),
    ):
        yield fake


@pytest.fixture
def mock_entry(hass: HomeAssistant) -> MockConfigEntry:
    """An entry for the fake server at HOST:PORT (not set up yet)."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        entry_id=ENTRY_ID,
        unique_id=SERVER_ID,
        title=f"Verba ({HOST}:{PORT})",
        data={CONF_HOST: HOST, CONF_PORT: PORT},
    )
    entry.add_to_hass(hass)
    return entry


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
    server_id: str
    log: Path

    def log_text(self) -> str:
        return self.log.read_text()


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


# A speaking style: a voice name that carries options, for clients that send only a name.
STYLE = {"name": "sonia-fast", "voice": "edge:en-GB-SoniaNeural", "rate": "+25%", "pitch": "-5Hz"}


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
                "tts": {
                    "backend": "edge",
                    "engines": ["edge", "csm"],
                    "styles": [STYLE],
                },
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
    log = directory / "server.log"
    process = subprocess.Popen(
        [SERVER_PYTHON, "-m", "wyoming_verba", "--config", str(config)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        port, startup = wait_for_port(process, timeout=120)
        # From here on the log goes to a file, so a full pipe never blocks the server.
        threading.Thread(target=_copy_log, args=(process, log, startup), daemon=True).start()
        server_id = (directory / "data" / "server_id").read_text().strip()
        yield VerbaServer("127.0.0.1", port, process, server_id, log)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(15)


def _copy_log(process: subprocess.Popen[str], log: Path, startup: str) -> None:
    assert process.stdout is not None
    with log.open("w") as out:
        out.write(startup)
        out.flush()
        for line in process.stdout:
            out.write(line)
            out.flush()
