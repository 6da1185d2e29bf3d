"""`wyoming-verba download` and `wyoming-verba doctor`."""

from __future__ import annotations

from pathlib import Path

import yaml

from .process import fake_edge_process
from .process import run_cli as run


def test_download_local_directory_is_checked(tiny_csm_dir: Path, tmp_path: Path) -> None:
    ok = run("download", "--model", str(tiny_csm_dir))
    assert ok.returncode == 0 and "nothing to download" in ok.stdout
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = run("download", "--model", str(empty))
    assert bad.returncode == 1 and "missing config.json" in bad.stderr


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
                    "tts": {"backend": "csm"},
                    "edge": {"endpoint": edge_url},
                    "csm": {"model": str(tiny_csm_dir), "device": "cpu"},
                }
            )
        )
        result = run("doctor", "--config", str(config), env={"HF_TOKEN": "hf_secret_value"})
    lines = result.stdout.splitlines()
    assert any(line.startswith("[ok] torch: 2.13.0") for line in lines)
    assert any(line.startswith("[ok] csm model: local directory") for line in lines)
    assert any(line.startswith("[ok] edge service: reachable, 4 voices") for line in lines)
    assert any(line.startswith("[ok] csm device: cpu with dtype torch.float32") for line in lines)
    assert "hf_secret_value" not in result.stdout + result.stderr
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
    result = run("doctor", "--config", str(config), env={"HF_HOME": str(tmp_path / "hf")})
    assert result.returncode == 1
    assert "[!!] edge service: unreachable" in result.stdout
    assert "[!!] csm model: sesame/csm-1b is not in the Hugging Face cache" in result.stdout
    assert "[!!] gpu: no CUDA GPU visible" in result.stdout
