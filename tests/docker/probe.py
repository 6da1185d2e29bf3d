"""Run inside a fresh network namespace (see test_docker.py): the image's entrypoint + health check.

Paths of the image map to the checkout: /app → the repository root, /config and /data → temporary
directories, through the environment variables the entrypoint honours. Prints a JSON report.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_case(
    entrypoint: list[str], healthcheck: list[str], config_text: str | None
) -> dict[str, object]:
    config_dir = Path(tempfile.mkdtemp())
    if config_text is not None:
        (config_dir / "config.yaml").write_text(config_text)
    env = {
        **os.environ,
        "VERBA_CONFIG_DIR": str(config_dir),
        "VERBA_APP_DIR": str(ROOT),
        "VERBA_DATA_DIR": tempfile.mkdtemp(),
        "HF_HUB_OFFLINE": "1",
    }
    env.pop("VERBA_HEALTH_URI", None)
    command = [str(ROOT / entrypoint[0].removeprefix("/app/")), *entrypoint[1:]]
    server = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    healthy_after = None
    started = time.monotonic()
    while time.monotonic() - started < 90:
        if subprocess.run(healthcheck, env=env, capture_output=True).returncode == 0:
            healthy_after = time.monotonic() - started
            break
        if server.poll() is not None:
            break
        time.sleep(0.3)
    server.send_signal(signal.SIGTERM)
    exit_code = server.wait(30)
    assert server.stderr is not None
    log = server.stderr.read()
    down = subprocess.run(healthcheck, env=env, capture_output=True, text=True)
    return {
        "healthy_after_s": healthy_after,
        "exit_code": exit_code,
        "health_when_down": down.returncode,
        "health_when_down_message": down.stderr.strip(),
        "used_example": "using the bundled example" in log,
        "traceback": "Traceback" in log,
    }


if __name__ == "__main__":
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["ip", "link", "set", "lo", "multicast", "on"], check=True)
    import socket

    if [name for _, name in socket.if_nameindex()] != ["lo"]:
        print(json.dumps({"error": "not isolated"}))
        sys.exit(3)
    entrypoint, healthcheck = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    custom = (
        "server: {uri: 'tcp://0.0.0.0:10200', zeroconf: {enabled: false}}\n"
        "edge: {voice: en-GB-RyanNeural, voice_list_timeout_s: 1}\n"
    )
    print(
        json.dumps(
            {
                "custom": run_case(entrypoint, healthcheck, custom),
                "example": run_case(entrypoint, healthcheck, None),
            }
        )
    )
