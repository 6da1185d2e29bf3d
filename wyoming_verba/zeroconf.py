"""Advertise the server as `_wyoming._tcp.local.` so Home Assistant discovers it."""

from __future__ import annotations

import ipaddress
import logging
import socket

import ifaddr
from zeroconf import InterfaceChoice, IPVersion, NonUniqueNameException, ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

_LOGGER = logging.getLogger(__name__)

SERVICE_TYPE = "_wyoming._tcp.local."
TXT_SERVER_ID = "server_id"


def advertised_address(bind_host: str, configured: str | None) -> str:
    """The IPv4 address to advertise: the configured one, the bound one, or the host's own."""
    if configured:
        return configured
    if bind_host not in ("", "0.0.0.0", "::"):
        return bind_host
    candidates = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if not isinstance(ip.ip, str):
                continue
            address = ipaddress.IPv4Address(ip.ip)
            if not (address.is_loopback or address.is_link_local or address.is_unspecified):
                candidates.append(str(address))
    # Home Assistant drops 0.0.0.0 and link-local records; loopback only helps same-host setups.
    return candidates[0] if candidates else "127.0.0.1"


class ZeroconfAdvertiser:
    """Registers one service instance (TXT: the server id) and unregisters it on close."""

    def __init__(self, name: str, address: str, port: int, server_id: str) -> None:
        self.name = name
        self.address = address
        self.port = port
        hostname = socket.gethostname().split(".")[0] or "verba"
        self.info = ServiceInfo(
            SERVICE_TYPE,
            f"{name}.{SERVICE_TYPE}",
            addresses=[socket.inet_aton(address)],
            port=port,
            properties={TXT_SERVER_ID: server_id},
            server=f"{hostname}.local.",
        )
        # A loopback address means a same-host (or test) setup: keep mDNS on that interface.
        interfaces: list[str] | InterfaceChoice = (
            [address] if ipaddress.IPv4Address(address).is_loopback else InterfaceChoice.All
        )
        self._zeroconf = AsyncZeroconf(interfaces=interfaces, ip_version=IPVersion.V4Only)

    async def start(self) -> None:
        """Register the service (takes about a second of mDNS probing)."""
        try:
            # The first await schedules the probe/announce; the second waits for it to finish.
            await (await self._zeroconf.async_register_service(self.info))
        except NonUniqueNameException:
            _LOGGER.error(
                "Another service on the network is already called %r; set a different "
                "server.zeroconf.name (or --zeroconf NAME)",
                self.name,
            )
            raise
        _LOGGER.info(
            "Advertising %s at %s:%d over zeroconf", self.info.name, self.address, self.port
        )

    async def close(self) -> None:
        """Unregister and shut down mDNS."""
        try:
            await (await self._zeroconf.async_unregister_service(self.info))
        finally:
            await self._zeroconf.async_close()
