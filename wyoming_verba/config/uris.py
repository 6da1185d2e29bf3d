"""`tcp://HOST:PORT` addresses, for the server's listen address and the CLI's `--uri`."""

from __future__ import annotations

from urllib.parse import urlsplit

EXAMPLE = "tcp://HOST:PORT, for example tcp://0.0.0.0:10200"


def parse_tcp_uri(text: str, min_port: int = 0) -> tuple[str, int]:
    """(host, port) of `tcp://HOST:PORT`; ValueError saying what is wrong.

    Nothing else is allowed (no user, path, query or fragment): the server and the wyoming
    client would silently ignore them.
    """
    if any(not char.isprintable() or char.isspace() for char in text):
        raise ValueError(f"expected {EXAMPLE} (no spaces or control characters)")
    ports = f"port {min_port} to 65535"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as err:
        wrong = f" ({ports})" if "range" in str(err) else ""
        raise ValueError(f"expected {EXAMPLE}{wrong}") from err
    if parts.scheme != "tcp" or not parts.hostname or port is None:
        raise ValueError(f"expected {EXAMPLE}")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"expected {EXAMPLE} (no user name or password)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"expected {EXAMPLE} (no path, query or fragment)")
    if port < min_port:
        raise ValueError(f"expected {EXAMPLE} ({ports})")
    return parts.hostname, port
