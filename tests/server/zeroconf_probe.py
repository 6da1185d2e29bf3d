"""Run inside a fresh network namespace (see test_zeroconf.py): advertise, browse, unregister."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import tempfile

from zeroconf import IPVersion, ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from wyoming_verba.config import parse_config
from wyoming_verba.server import VerbaServer
from wyoming_verba.zeroconf import SERVICE_TYPE


async def main(edge_url: str) -> dict:  # type: ignore[type-arg]
    config = parse_config(
        {
            "server": {
                "uri": "tcp://127.0.0.1:0",
                "zeroconf": {"enabled": True, "name": "kitchen"},
                "data_dir": tempfile.mkdtemp(),
            },
            "edge": {"endpoint": edge_url, "voice_list_timeout_s": 0.5},
        },
        environ={},
    )
    server = VerbaServer(config)
    await server.start()
    browser_zc = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
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


if __name__ == "__main__":
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["ip", "link", "set", "lo", "multicast", "on"], check=True)
    names = [name for _, name in socket.if_nameindex()]
    if names != ["lo"]:
        print(json.dumps({"error": f"not isolated: {names}"}))
        sys.exit(3)
    print(json.dumps(asyncio.run(main(sys.argv[1]))))
