"""The Docker image, checked without Docker: lint-level facts, and its commands run for real."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instruction(name: str) -> str:
    match = re.search(rf"^{name}\s+(.*?)(?<!\\)$", DOCKERFILE, re.M | re.S)
    assert match, name
    return match.group(1).replace("\\\n", " ")


def exec_form(text: str) -> list[str]:
    return json.loads(text[text.index("[") :])


def test_image_facts() -> None:
    assert "EXPOSE 10200" in DOCKERFILE
    assert exec_form(instruction("VOLUME")) == ["/config", "/data"]
    user = instruction("USER").strip()
    assert user not in ("root", "0", "0:0")
    assert re.search(r"ARG GPU_BASE=pytorch/pytorch:[\w.-]+cuda[\w.-]+", DOCKERFILE)
    assert "ARG VARIANT=gpu" in DOCKERFILE and "FROM base-${VARIANT}" in DOCKERFILE
    # The dependency layer comes before the source is copied.
    assert DOCKERFILE.index("COPY pyproject.toml") < DOCKERFILE.index("COPY wyoming_verba")
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[1] == "*" or "*" in ignore


def test_compose_file() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    service = compose["services"]["verba"]
    assert service["restart"] == "unless-stopped"
    assert service["network_mode"] == "host"
    assert service["environment"]["HF_TOKEN"] == "${HF_TOKEN:-}"
    assert {v.split(":")[1].split()[0] for v in service["volumes"]} == {"/config", "/data"}
    device = service["deploy"]["resources"]["reservations"]["devices"][0]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]


def _namespaces_available() -> bool:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _namespaces_available(), reason="needs unshare -n (network namespaces)")
def test_entrypoint_and_healthcheck_run_for_real() -> None:
    entrypoint = exec_form(instruction("ENTRYPOINT"))
    healthcheck = exec_form(instruction("HEALTHCHECK").split("CMD", 1)[1])
    assert entrypoint == ["/app/docker/entrypoint.sh"]
    assert healthcheck == ["wyoming-verba", "health"]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    result = subprocess.run(
        [
            "unshare",
            "-n",
            sys.executable,
            "-m",
            "tests.server.docker_probe",
            json.dumps(entrypoint),
            json.dumps(healthcheck),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    for case in ("custom", "example"):
        outcome = report[case]
        assert outcome["healthy_after_s"] is not None, report
        assert outcome["exit_code"] == 0
        assert outcome["health_when_down"] != 0
        assert "unhealthy" in outcome["health_when_down_message"]
        assert not outcome["traceback"]
    assert report["example"]["used_example"] and not report["custom"]["used_example"]


def test_entrypoint_passes_operator_commands_through(tmp_path: Path, tiny_csm_dir: Path) -> None:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "config.yaml").write_text(yaml.safe_dump({"csm": {"model": str(tiny_csm_dir)}}))
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "VERBA_CONFIG_DIR": str(config_dir),
        "VERBA_APP_DIR": str(ROOT),
        "HF_HUB_OFFLINE": "1",
    }
    result = subprocess.run(
        [str(ROOT / "docker/entrypoint.sh"), "download"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert f"{tiny_csm_dir} is a local model directory" in result.stdout
