"""An unreachable model hub is found out in seconds and said once: no huggingface_hub retry storm.

The hub is HF_ENDPOINT on a loopback port where nothing listens (refused at once, as a machine
without network refuses DNS), the Hugging Face cache a fresh directory.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

from tests.support.process import LogDrain, read_until, run_cli, server_process


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _offline_env(tmp_path: Path) -> dict[str, str]:
    return {
        "HF_ENDPOINT": f"http://127.0.0.1:{_closed_port()}",
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_OFFLINE": "",
        "NO_PROXY": "*",
    }


def _config(tmp_path: Path, model: str) -> dict[str, object]:
    return {
        "server": {"uri": "tcp://127.0.0.1:0", "zeroconf": False, "data_dir": str(tmp_path / "d")},
        "tts": {"backend": "csm", "fallback": None},
        "csm": {"model": model, "device": "cpu", "temperature": 0, "compile": False},
    }


def test_uncached_model_fails_at_once_with_one_line_saying_what_to_do(tmp_path: Path) -> None:
    env = _offline_env(tmp_path)
    with server_process(tmp_path, _config(tmp_path, "sesame/csm-1b"), env=env) as (process, _, _):
        assert process.wait(60) == 1  # seconds, where the hub's retries took minutes
        log = LogDrain(process).text()
    assert "Retrying" not in log and "thrown while requesting" not in log
    errors = [line for line in log.splitlines() if "cannot reach the Hugging Face hub" in line]
    assert errors and all("sesame/csm-1b is not in the local cache" in line for line in errors)
    assert "run `wyoming-verba download` where the hub is reachable" in errors[0]
    download = run_cli("download", "--model", "sesame/csm-1b", env=env)
    assert download.returncode == 1
    assert download.stderr.startswith("error: cannot reach the Hugging Face hub (127.0.0.1:")
    assert download.stderr.count("\n") == 1


def test_cached_model_loads_from_the_cache_with_one_warning(
    tiny_csm_dir: Path, tmp_path: Path
) -> None:
    # The cache layout huggingface_hub writes: refs/main names the snapshot holding the files.
    repo = tmp_path / "hf" / "hub" / "models--test--tiny-csm"
    commit = "0" * 40
    shutil.copytree(tiny_csm_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    env = _offline_env(tmp_path)
    with server_process(tmp_path, _config(tmp_path, "test/tiny-csm"), env=env) as (process, _, _):
        _match, log = read_until(process, r"CSM ready in|CSM could not be loaded", timeout=180)
    assert "CSM ready in" in log, log
    warnings = [line for line in log.splitlines() if "Cannot reach the Hugging Face hub" in line]
    assert len(warnings) == 1 and "loading test/tiny-csm from the cache" in warnings[0]
    assert "Retrying" not in log and "thrown while requesting" not in log
