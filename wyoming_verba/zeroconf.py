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
MDNS_GROUP = "224.0.0.251"
MDNS_PORT = 5353
TXT_SERVER_ID = "server_id"


def advertised_address(bind_host: str, configured: str | None) -> str:
    """The IPv4 address to advertise: the configured one, the bound one, or the host's own.

    The host's own is the address of the interface that routes to the mDNS group (as the wyoming
    library picks it), not merely the first one listed, which can be docker0's or a VPN's.
    """
    if configured:
        return configured
    if bind_host not in ("", "0.0.0.0", "::"):
        return bind_host
    routed = _source_address_towards(MDNS_GROUP)
    if routed is not None and _reachable_from_lan(routed):
        return routed
    candidates = _interface_addresses()
    if candidates:
        _LOGGER.info(
            "No route to the mDNS group %s; advertising %s of %s (set server.zeroconf.host to "
            "choose)",
            MDNS_GROUP,
            candidates[0],
            ", ".join(candidates),
        )
        return candidates[0]
    # Home Assistant drops 0.0.0.0 and link-local records; loopback only helps same-host setups.
    _LOGGER.warning(
        "This host has only a loopback address: advertising 127.0.0.1, which only a Home "
        "Assistant on this same host can use. Set server.zeroconf.host to the address Home "
        "Assistant should connect to"
    )
    return "127.0.0.1"


def _source_address_towards(group: str) -> str | None:
    """The local address the kernel would send from to `group` (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((group, MDNS_PORT))
        except OSError:
            return None
        return str(probe.getsockname()[0])


def _reachable_from_lan(address: str) -> bool:
    ip = ipaddress.IPv4Address(address)
    return not (ip.is_loopback or ip.is_link_local or ip.is_unspecified)


def _interface_addresses() -> list[str]:
    """Every IPv4 address of the host that other machines could reach, in interface order."""
    return [
        ip.ip
        for adapter in ifaddr.get_adapters()
        for ip in adapter.ips
        if isinstance(ip.ip, str) and _reachable_from_lan(ip.ip)
    ]


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
