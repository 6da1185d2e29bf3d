"""Advertise the server as `_wyoming._tcp.local.` so Home Assistant discovers it."""

from __future__ import annotations

import ipaddress
import logging
import socket
from dataclasses import dataclass
from pathlib import Path

import ifaddr
from zeroconf import InterfaceChoice, IPVersion, NonUniqueNameException, ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

_LOGGER = logging.getLogger(__name__)

SERVICE_TYPE = "_wyoming._tcp.local."
MDNS_GROUP = "224.0.0.251"
MDNS_PORT = 5353
TXT_SERVER_ID = "server_id"


@dataclass(frozen=True)
class HostNetwork:
    """What the host's network looks like, as far as choosing an address goes."""

    default_interface: str | None  # the interface of the default route (lowest metric)
    mdns_source: str | None  # the local address the kernel would send to the mDNS group from
    interfaces: dict[str, list[str]]  # interface name → its IPv4 addresses, in listing order


def advertised_address(bind_host: str, configured: str | None) -> str:
    """The IPv4 address to advertise: the configured one, the bound one, or the host's own."""
    if configured:
        return configured
    if _specific_ipv4(bind_host):
        return bind_host  # the only address the server answers on
    address, note = choose_address(read_host_network())
    if note:
        _LOGGER.log(logging.WARNING if address == "127.0.0.1" else logging.INFO, note)
    return address


def choose_address(network: HostNetwork) -> tuple[str, str]:
    """(address, a note to log or '') for a server bound to every interface.

    The default route's interface is the one the LAN reaches the host on; its address wins over
    the first interface listed (docker0, a VPN). The route to the mDNS group comes next: a VPN
    that redirects all traffic (OpenVPN's 0.0.0.0/1 + 128.0.0.0/1) captures it, the default
    route stays. Then the first address other machines could reach; then loopback.
    """
    usable = {
        name: [address for address in addresses if _lan_ipv4(address)]
        for name, addresses in network.interfaces.items()
    }
    default = usable.get(network.default_interface or "", [])
    if default:
        return default[0], ""
    if network.mdns_source is not None and _lan_ipv4(network.mdns_source):
        return network.mdns_source, ""
    candidates = [address for addresses in usable.values() for address in addresses]
    if candidates:
        note = (
            f"No default route; advertising {candidates[0]} of {', '.join(candidates)} "
            "(set server.zeroconf.host to choose)"
        )
        return candidates[0], note
    # Home Assistant drops 0.0.0.0 and link-local records; loopback only helps same-host setups.
    return "127.0.0.1", (
        "This host has only a loopback address: advertising 127.0.0.1, which only a Home "
        "Assistant on this same host can use. Set server.zeroconf.host to the address Home "
        "Assistant should connect to"
    )


def default_route_interface(route_table: str) -> str | None:
    """The interface of the lowest-metric default route in /proc/net/route's text."""
    best: tuple[int, str] | None = None
    for line in route_table.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8 or fields[1] != "00000000" or fields[7] != "00000000":
            continue
        try:
            flags, metric = int(fields[3], 16), int(fields[6])
        except ValueError:
            continue
        if flags & 0x1 and (best is None or metric < best[0]):  # RTF_UP
            best = (metric, fields[0])
    return None if best is None else best[1]


def read_host_network() -> HostNetwork:
    """This host's interfaces and routes (reads /proc/net/route; sends nothing)."""
    try:
        table = Path("/proc/net/route").read_text(encoding="ascii", errors="replace")
    except OSError:
        table = ""
    interfaces: dict[str, list[str]] = {}
    for adapter in ifaddr.get_adapters():
        addresses = [ip.ip for ip in adapter.ips if isinstance(ip.ip, str)]
        interfaces.setdefault(adapter.name, []).extend(addresses)
    return HostNetwork(
        default_route_interface(table), _source_address_towards(MDNS_GROUP), interfaces
    )


def _source_address_towards(group: str) -> str | None:
    """The local address the kernel would send from to `group` (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((group, MDNS_PORT))
        except OSError:
            return None
        return str(probe.getsockname()[0])


def _specific_ipv4(host: str) -> bool:
    try:
        return not ipaddress.IPv4Address(host).is_unspecified
    except ValueError:  # "" or "::" (every interface), a host name or IPv6: choose one
        return False


def _lan_ipv4(address: str) -> bool:
    """An IPv4 address literal other machines could reach (not loopback/link-local/0.0.0.0)."""
    try:
        ip = ipaddress.IPv4Address(address)
    except ValueError:
        return False
    return not (ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast)


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
