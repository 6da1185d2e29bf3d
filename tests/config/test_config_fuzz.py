"""Property: whatever config file, environment and flags an operator gives, `serve --check-config`
exits 0, or 2 with one line naming what is wrong, and never prints a traceback — in this process
(many cases, fast) and in a real process (a few)."""

from __future__ import annotations

import contextlib
import io
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import edge_tts
from hypothesis import HealthCheck, given, settings
from zeroconf import ServiceInfo

from tests.config.fuzz import CONFIG_FILES, ENVIRONMENTS, serve_flags
from tests.support.process import ROOT
from wyoming_verba.__main__ import main, parse_args
from wyoming_verba.cli.serve import serve_config
from wyoming_verba.config import Config
from wyoming_verba.config.uris import parse_tcp_uri
from wyoming_verba.server.zeroconf import SERVICE_TYPE

EXAMPLES = int(os.environ.get("VERBA_CONFIG_FUZZ_EXAMPLES", "100"))
_SETTINGS = settings(
    deadline=None,
    database=None,
    derandomize=True,  # the same cases on every run of script/test
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@contextlib.contextmanager
def _written(content: bytes) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="verba-config-fuzz-") as folder:
        path = Path(folder) / "config.yaml"
        path.write_bytes(content)
        yield path


def _started_parts_accept(config: Config) -> None:
    """What start does with a valid config must not fail either: URI, zeroconf record, edge-tts."""
    parse_tcp_uri(config.server.uri)
    zeroconf = config.server.zeroconf
    ServiceInfo(
        SERVICE_TYPE,
        f"{zeroconf.name}.{SERVICE_TYPE}",
        addresses=[socket.inet_aton(zeroconf.host or "192.168.1.2")],
        port=10200,
        server="verba.local.",
    )
    edge = config.edge
    edge_tts.Communicate(
        "x", edge.voice, rate=edge.rate, volume=edge.volume, pitch=edge.pitch, proxy=edge.proxy
    )


@settings(_SETTINGS, max_examples=EXAMPLES)
@given(content=CONFIG_FILES, environ=ENVIRONMENTS, flags=serve_flags())
def test_any_config_exits_0_or_2_with_one_line(
    content: bytes, environ: dict[str, str], flags: list[str]
) -> None:
    err, out = io.StringIO(), io.StringIO()
    with (
        _written(content) as path,
        mock.patch.dict(os.environ, {"VERBA_DATA_DIR": str(path.parent), **environ}),
        contextlib.redirect_stderr(err),
        contextlib.redirect_stdout(out),
    ):
        argv = ["serve", "--config", str(path), "--check-config", *flags]
        code = main(argv)
        if code == 0:
            _started_parts_accept(serve_config(parse_args(argv)))
    assert code in (0, 2), err.getvalue()
    if code == 2:
        lines = err.getvalue().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), err.getvalue()
        assert len(lines[0]) < 1000
    else:
        assert err.getvalue() == "" and out.getvalue().startswith("config valid: ")


@settings(_SETTINGS, max_examples=int(os.environ.get("VERBA_CONFIG_FUZZ_PROCESSES", "8")))
@given(content=CONFIG_FILES, environ=ENVIRONMENTS, flags=serve_flags())
def test_the_real_process_never_prints_a_traceback(
    content: bytes, environ: dict[str, str], flags: list[str]
) -> None:
    with _written(content) as path:
        command = [sys.executable, "-m", "wyoming_verba", "--config", str(path), "--check-config"]
        result = subprocess.run(
            [*command, *flags],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": os.environ.get("PATH", ""), "VERBA_DATA_DIR": str(path.parent), **environ},
        )
    assert result.returncode in (0, 2), result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == (1 if result.returncode else 0), result.stderr
