"""Run inside a fresh network namespace (see test_zeroconf.py): advertise, browse, unregister.

`loopback`: only `lo` exists; the server binds 127.0.0.1, and an unspecified bind address falls
back to 127.0.0.1 with a warning.
`routed`: like a Docker host: `docker0` (a bridge, listed first) and `eth0` (a veth pair) with the
default route; the server binds 0.0.0.0 and must advertise eth0's address.
`vpn`: the same plus `tun0` (listed before eth0) with OpenVPN's redirect-gateway routes
(0.0.0.0/1 and 128.0.0.0/1, which also catch the mDNS group); eth0 keeps the default route and
its address is still the one advertised. Prints one JSON line with what a browser saw.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import subprocess
import sys
import tempfile

import ifaddr
from zeroconf import IPVersion, ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from wyoming_verba.config import parse_config
from wyoming_verba.server.server import VerbaServer
from wyoming_verba.server.zeroconf import SERVICE_TYPE, advertised_address

LAN_ADDRESS = "192.168.50.10"
DOCKER_ADDRESS = "172.17.0.1"
VPN_ADDRESS = "10.8.0.2"


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True)


def make_docker_like_host(vpn: bool) -> None:
    ip("link", "add", "docker0", "type", "bridge")
    ip("addr", "add", f"{DOCKER_ADDRESS}/16", "dev", "docker0")
    ip("link", "set", "docker0", "up")
    if vpn:
        ip("link", "add", "tun0", "type", "veth", "peer", "name", "tun0-peer")
        ip("addr", "add", f"{VPN_ADDRESS}/24", "dev", "tun0")
        for device in ("tun0", "tun0-peer"):
            ip("link", "set", device, "up")
    ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth0-peer")
    ip("addr", "add", f"{LAN_ADDRESS}/24", "dev", "eth0")
    for device in ("eth0", "eth0-peer"):
        ip("link", "set", device, "up")
    ip("route", "add", "default", "via", "192.168.50.1", "dev", "eth0")
    if vpn:
        for half in ("0.0.0.0/1", "128.0.0.0/1"):
            ip("route", "add", half, "via", "10.8.0.1", "dev", "tun0")


async def browse(server: VerbaServer, interface: str) -> dict:  # type: ignore[type-arg]
    browser_zc = AsyncZeroconf(interfaces=[interface], ip_version=IPVersion.V4Only)
    changes: list[tuple[str, str]] = []
    found = asyncio.Event()
    removed = asyncio.Event()

    def on_change(zeroconf, service_type, name, state_change):  # type: ignore[no-untyped-def]
        changes.append((name, state_change.name))
        (found if state_change is ServiceStateChange.Added else removed).set()

    browser = AsyncServiceBrowser(browser_zc.zeroconf, SERVICE_TYPE, handlers=[on_change])
    await asyncio.wait_for(found.wait(), 10)
    info = AsyncServiceInfo(SERVICE_TYPE, changes[0][0])
    await info.async_request(browser_zc.zeroconf, 3000)
    result = {
        "name": changes[0][0],
        "addresses": [socket.inet_ntoa(a) for a in info.addresses],
        "port": info.port,
        "server_port": server.port,
        "txt": {key.decode(): (value or b"").decode() for key, value in info.properties.items()},
        "server_id": server.server_id,
    }
    await server.stop()
    await asyncio.wait_for(removed.wait(), 10)
    result["changes"] = changes
    await browser.async_cancel()
    await browser_zc.async_close()
    return result


async def main(mode: str, edge_url: str) -> dict:  # type: ignore[type-arg]
    unspecified = None
    if mode == "loopback":
        unspecified = advertised_address("0.0.0.0", None)
    else:
        make_docker_like_host(vpn=mode == "vpn")
    config = parse_config(
        {
            "server": {
                "uri": "tcp://127.0.0.1:0" if mode == "loopback" else "tcp://0.0.0.0:0",
                "zeroconf": {"enabled": True, "name": "kitchen"},
                "data_dir": tempfile.mkdtemp(),
            },
            "edge": {"endpoint": edge_url, "voice_list_timeout_s": 0.5},
        },
        environ={},
    )
    server = VerbaServer(config)
    await server.start()
    result = await browse(server, "127.0.0.1" if mode == "loopback" else LAN_ADDRESS)
    result["unspecified_bind_advertises"] = unspecified
    result["listed"] = [
        address.ip
        for adapter in ifaddr.get_adapters()
        for address in adapter.ips
        if isinstance(address.ip, str)
    ]
    return result


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    ip("link", "set", "lo", "up")
    ip("link", "set", "lo", "multicast", "on")
    names = [name for _, name in socket.if_nameindex()]
    if names != ["lo"]:
        print(json.dumps({"error": f"not isolated: {names}"}))
        sys.exit(3)
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2]))))
