"""Zeroconf: register and browse inside a network namespace this test makes (never on real NICs)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from wyoming_verba.zeroconf import advertised_address

from .process import ROOT


def _namespaces_available() -> bool:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=10)
    return probe.returncode == 0


def test_advertised_address_is_never_unspecified() -> None:
    assert advertised_address("0.0.0.0", "10.0.0.5") == "10.0.0.5"
    assert advertised_address("127.0.0.1", None) == "127.0.0.1"
    address = advertised_address("0.0.0.0", None)
    assert address != "0.0.0.0"
    assert not address.startswith("169.254.")


@pytest.mark.skipif(not _namespaces_available(), reason="needs unshare -n (network namespaces)")
def test_register_browse_unregister_in_a_namespace() -> None:
    # The fake Edge service is not reachable inside the namespace; the server starts anyway with
    # the configured voice, which is all this test needs.
    result = subprocess.run(
        [
            "unshare",
            "-n",
            sys.executable,
            "-m",
            "tests.server.zeroconf_probe",
            "http://127.0.0.1:9",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["name"] == "kitchen._wyoming._tcp.local."
    assert report["addresses"] == ["127.0.0.1"]
    assert report["port"] == report["server_port"]
    assert report["txt"] == {"server_id": report["server_id"]}
    assert len(report["server_id"]) == 32
    assert [state for _, state in report["changes"]] == ["Added", "Removed"]
