"""`wyoming-verba download` and `wyoming-verba doctor`."""

from __future__ import annotations

from pathlib import Path

import torch
import yaml

from tests.support.process import fake_edge_process
from tests.support.process import run_cli as run


def test_download_local_directory_is_checked(tiny_csm_dir: Path, tmp_path: Path) -> None:
    ok = run("download", "--model", str(tiny_csm_dir))
    assert ok.returncode == 0 and "nothing to download" in ok.stdout
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = run("download", "--model", str(empty))
    assert bad.returncode == 1 and "missing config.json" in bad.stderr


def test_download_missing_directory_says_so(tmp_path: Path) -> None:
    missing = tmp_path / "models" / "csm-1b"
    result = run("download", "--model", str(missing))
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: model directory {missing} not found")
    assert "Traceback" not in result.stderr and "HFValidationError" not in result.stderr


def test_download_offline_says_what_to_do() -> None:
    result = run("download", "--model", "sesame/csm-1b")
    assert result.returncode == 1
    assert "cannot reach the hub" in result.stderr and "csm.model" in result.stderr
    assert "Traceback" not in result.stderr


def test_doctor_reports_each_line(tiny_csm_dir: Path, tmp_path: Path) -> None:
    with fake_edge_process() as edge_url:
        config = tmp_path / "config.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "server": {"data_dir": str(tmp_path / "data")},
                    "tts": {"backend": "csm"},
                    "edge": {"endpoint": edge_url},
                    "csm": {"model": str(tiny_csm_dir), "device": "cpu"},
                }
            )
        )
        result = run(
            "doctor",
            "--config",
            str(config),
            "--uri",
            "tcp://127.0.0.1:9",
            env={"HF_TOKEN": "hf_secret_value"},
        )
    assert result.stdout.splitlines()[2:] == [
        f"[ok] data dir: {tmp_path / 'data'} is writable",
        f"[ok] torch: {torch.__version__}, CUDA build none",
        "[--] gpu: not used (csm.device: cpu)",
        "[--] csm device: cpu with float32 (Mimi stays float32)",
        f"[ok] csm model: local directory {tiny_csm_dir}",
        "[ok] edge service: reachable, 4 voices; edge.voice en-US-AriaNeural",
        "[--] server: not running at tcp://127.0.0.1:9 (nothing listens there)",
    ]
    assert "hf_secret_value" not in result.stdout + result.stderr
    assert result.stderr == ""  # no raw log lines around the report
    assert result.returncode == 0, result.stdout


def test_doctor_flags_problems(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "tts": {"backend": "csm"},
                "edge": {"endpoint": "http://127.0.0.1:9", "voice_list_timeout_s": 1},
                "csm": {"model": "sesame/csm-1b"},
            }
        )
    )
    result = run(
        "doctor",
        "--config",
        str(config),
        "--uri",
        "tcp://127.0.0.1:9",
        env={"HF_HOME": str(tmp_path / "hf")},
    )
    assert result.returncode == 1
    assert (
        "[!!] edge service: unreachable (cannot connect to 127.0.0.1:9 (connection refused)); "
        "check the network or edge.proxy"
    ) in result.stdout.splitlines()
    assert "[!!] csm model: sesame/csm-1b is not in the Hugging Face cache" in result.stdout
    assert "[!!] gpu: no CUDA GPU visible" in result.stdout
    assert "[--] csm device: cpu with float32" in result.stdout
    assert result.stderr == ""


def test_doctor_edge_only_skips_csm(tmp_path: Path) -> None:
    with fake_edge_process() as edge_url:
        config = tmp_path / "config.yaml"
        settings = {
            "server": {"data_dir": str(tmp_path)},
            "edge": {"endpoint": edge_url, "voice": "xx-XX-NobodyNeural"},
        }
        config.write_text(yaml.safe_dump(settings))
        result = run("doctor", "--config", str(config), "--uri", "tcp://127.0.0.1:9")
    assert result.stdout.splitlines()[1:] == [
        "[ok] engines: default edge; running edge; fallback edge",
        f"[ok] data dir: {tmp_path} is writable",
        "[--] csm: not enabled (tts.backend / tts.engines)",
        "[!!] edge service: reachable, 4 voices, but edge.voice xx-XX-NobodyNeural is not one of them: "
        "pick one from `wyoming-verba voices`",
        "[--] server: not running at tcp://127.0.0.1:9 (nothing listens there)",
    ]
    assert result.returncode == 1
