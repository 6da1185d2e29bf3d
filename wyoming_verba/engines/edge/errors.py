"""Edge service failures as one short line an operator can act on.

aiohttp's own messages carry object reprs (`ssl:<ssl.SSLContext object at 0x…>`) and asyncio's
"Connect call failed (...)"; these say which host could not be reached and why, in plain words.
"""

from __future__ import annotations

import os

import aiohttp


def describe_service_error(err: BaseException) -> str:
    """What went wrong talking to the Edge service, without reprs."""
    if isinstance(err, TimeoutError):
        return "timed out"
    if isinstance(err, aiohttp.ClientConnectorCertificateError):
        return f"the TLS certificate of {err.host}:{err.port} is not trusted"
    if isinstance(err, aiohttp.ClientProxyConnectionError):
        return f"cannot connect to the proxy {err.host}:{err.port} ({_reason(err.os_error)})"
    if isinstance(err, aiohttp.ClientConnectorError):
        return f"cannot connect to {err.host}:{err.port} ({_reason(err.os_error)})"
    if isinstance(err, aiohttp.ClientResponseError):
        return f"the service answered HTTP {err.status} {err.message}".rstrip()
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _reason(error: OSError) -> str:
    if isinstance(error.errno, int) and error.errno > 0:
        return os.strerror(error.errno).lower()  # "connection refused", not "Connect call failed"
    return (error.strerror or str(error) or type(error).__name__).lower()
