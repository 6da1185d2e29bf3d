"""Zeroconf: register and browse inside a network namespace this test makes (never on real NICs)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from typing import Any

import pytest

from tests.support.process import ROOT
from wyoming_verba.server.zeroconf import (
    HostNetwork,
    advertised_address,
    choose_address,
    default_route_interface,
)


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


ROUTES = """Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
tun0\t00000000\t0100080A\t0003\t0\t0\t0\t00000080\t0\t0\t0
wlan0\t00000000\t0132A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0
eth0\t00000000\t0132A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
"""
INTERFACES = {
    "lo": ["127.0.0.1"],
    "docker0": ["172.17.0.1"],
    "tun0": ["10.8.0.2"],
    "wlan0": ["169.254.3.4", "192.168.50.77"],
    "eth0": ["169.254.9.9", "192.168.50.10"],
}


def test_the_lowest_metric_default_route_names_the_interface() -> None:
    # tun0's 0.0.0.0/1 (mask 00000080) is no default route; eth0 (metric 100) beats wlan0 (600).
    assert default_route_interface(ROUTES) == "eth0"
    assert default_route_interface(ROUTES.splitlines()[0]) is None
    assert default_route_interface("garbage\nx 00000000 y zz 0 0 q 00000000") is None


@pytest.mark.parametrize(
    ("network", "address", "noted"),
    [
        # The default route's interface, skipping its link-local address; not docker0 or tun0.
        (HostNetwork("eth0", "10.8.0.2", INTERFACES), "192.168.50.10", False),
        (HostNetwork("wlan0", None, INTERFACES), "192.168.50.77", False),
        # No default route: the interface that routes to the mDNS group.
        (HostNetwork(None, "192.168.50.77", INTERFACES), "192.168.50.77", False),
        # Neither: the first reachable address, with a note listing the others.
        (HostNetwork(None, None, INTERFACES), "172.17.0.1", True),
        (HostNetwork("tun9", "169.254.1.1", {"lo": ["127.0.0.1"]}), "127.0.0.1", True),
    ],
)
def test_choose_address(network: HostNetwork, address: str, noted: bool) -> None:
    chosen, note = choose_address(network)
    assert chosen == address
    assert bool(note) is noted
    assert "server.zeroconf.host" in note or not noted


def test_a_configured_or_bound_address_wins() -> None:
    assert advertised_address("0.0.0.0", "10.0.0.5") == "10.0.0.5"
    assert advertised_address("192.168.1.4", None) == "192.168.1.4"
    assert advertised_address("localhost", None) not in ("localhost", "0.0.0.0")  # never a name


@needs_namespaces
def test_a_vpn_that_redirects_all_traffic_is_not_advertised() -> None:
    report, _ = _probe("vpn")
    assert report["listed"][1:] == ["172.17.0.1", "10.8.0.2", "192.168.50.10"]
    assert report["addresses"] == ["192.168.50.10"]
