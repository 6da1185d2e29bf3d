"""`wyoming-verba serve`: the config from file, environment and flags, the listener bound before
anything heavy starts, the server run until a signal, and a clean exit."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import socket
import sys
import threading

from wyoming_verba.cli.commands import CommandError
from wyoming_verba.config import Config, Overrides, load_config

_LISTEN_ERRNOS = {errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES}


def serve_config(args: argparse.Namespace) -> Config:
    """The server's config: the file, the environment, then the flags."""
    zeroconf: bool | None = None
    if args.no_zeroconf:
        zeroconf = False
    elif args.zeroconf is not None:
        zeroconf = True
    overrides = Overrides(
        uri=args.uri,
        backend=args.backend,
        zeroconf=zeroconf,
        zeroconf_name=args.zeroconf or None,
        zeroconf_host=args.zeroconf_host,
        debug=args.debug,
        log_format=args.log_format,
    )
    return load_config(args.config, overrides=overrides)


def serve(args: argparse.Namespace) -> int:
    """Run the server until SIGTERM/SIGINT (or, with --check-config, only validate)."""
    config = serve_config(args)
    if args.check_config:
        engines = ", ".join(config.tts.engines)
        print(f"config valid: engines {engines}, listening on {config.server.uri}")
        return 0
    logging.basicConfig(
        level=logging.DEBUG if config.log.debug else logging.INFO, format=config.log.format
    )
    from wyoming_verba.server.server import VerbaServer, bind_listener

    try:
        listener = bind_listener(config.server.uri)  # a busy port is said before the model loads
        code = asyncio.run(VerbaServer(config, listener=listener).run_until_signal())
    except OSError as err:
        binding = err.errno in _LISTEN_ERRNOS and "bind" in str(err)  # asyncio's bind message
        if isinstance(err, socket.gaierror) or binding:
            raise CommandError(listen_problem(config.server.uri, err)) from err
        raise
    exit_past_abandoned_threads(code)
    return code


def exit_past_abandoned_threads(code: int) -> None:
    """End the process now when a daemon thread is still busy (a CSM load, compile or capture
    cut short by a signal): the interpreter's exit would stop it inside torch's C++ code, which
    aborts the process ("terminate called without an active exception", exit 134). Everything
    else has been drained and closed by then."""
    busy = [t.name for t in threading.enumerate() if t.daemon and t.is_alive()]
    if not busy:
        return
    logging.getLogger(__name__).info("Exiting past unfinished work: %s", ", ".join(busy))
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def listen_problem(uri: str, err: OSError) -> str:
    """Why the server could not listen on `uri`, and what to do."""
    if isinstance(err, socket.gaierror):
        reason = f"the host name does not resolve ({err.strerror})"
    elif err.errno == errno.EADDRINUSE:
        reason = (
            "the port is already in use (another wyoming-verba or Wyoming server?); "
            "stop that one or choose another port"
        )
    elif err.errno == errno.EADDRNOTAVAIL:
        reason = "this machine has no such address; use 0.0.0.0 or one of its own addresses"
    else:
        reason = "permission denied (ports below 1024 need extra rights); choose another port"
    return f"cannot listen on {uri} (server.uri / --uri): {reason}"
