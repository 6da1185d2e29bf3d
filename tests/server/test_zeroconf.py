"""Zeroconf: register and browse inside a network namespace this test makes (never on real NICs)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from typing import Any

import pytest

from wyoming_verba.zeroconf import advertised_address

from .process import ROOT


def _namespaces_available() -> bool:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=10)
    return probe.returncode == 0


needs_namespaces = pytest.mark.skipif(
    not _namespaces_available(), reason="needs unshare -n (network namespaces)"
)


def _probe(mode: str) -> tuple[dict[str, Any], str]:
    """Run zeroconf_probe in a fresh network namespace; (its report, its log)."""
    # The fake Edge service is not reachable inside the namespace; the server starts anyway with
    # the configured voice, which is all these tests need.
    result = subprocess.run(
        [
            "unshare",
            "-n",
            sys.executable,
            "-m",
            "tests.server.zeroconf_probe",
            mode,
            "http://127.0.0.1:9",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr


def test_advertised_address_is_never_unspecified() -> None:
    assert advertised_address("0.0.0.0", "10.0.0.5") == "10.0.0.5"
    assert advertised_address("127.0.0.1", None) == "127.0.0.1"
    address = advertised_address("0.0.0.0", None)
    assert address != "0.0.0.0"
    assert not address.startswith("169.254.")


@needs_namespaces
def test_register_browse_unregister_in_a_namespace() -> None:
    report, log = _probe("loopback")
    assert report["name"] == "kitchen._wyoming._tcp.local."
    assert report["addresses"] == ["127.0.0.1"]
    assert report["port"] == report["server_port"]
    assert report["txt"] == {"server_id": report["server_id"]}
    assert len(report["server_id"]) == 32
    assert [state for _, state in report["changes"]] == ["Added", "Removed"]
    # With nothing but loopback, 0.0.0.0 is advertised as 127.0.0.1, with a warning saying so.
    assert report["unspecified_bind_advertises"] == "127.0.0.1"
    assert "only a loopback address" in log and "server.zeroconf.host" in log


@needs_namespaces
def test_advertises_the_interface_that_routes_to_mdns_not_docker0() -> None:
    report, log = _probe("routed")
    # docker0 is listed before eth0, so "the first non-loopback address" would be docker0's.
    assert report["listed"][1:] == ["172.17.0.1", "192.168.50.10"]
    assert report["addresses"] == ["192.168.50.10"]
    assert report["port"] == report["server_port"]
    assert report["txt"] == {"server_id": report["server_id"]}
    assert "only a loopback address" not in log
