"""Property: whatever bytes a client sends, the real server process answers or closes in bounded
time, keeps serving everyone else, and never logs a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings

from tests.server.wire_fuzz import FUZZ_INPUT, run_case
from tests.support.process import LogDrain, fake_edge_process, server_process

EXAMPLES = int(os.environ.get("VERBA_FUZZ_EXAMPLES", "150"))


@pytest.fixture(scope="module")
def fuzzed_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[int, subprocess.Popen[str], LogDrain]]:
    tmp_path = tmp_path_factory.mktemp("fuzz")
    config = {
        "server": {
            "uri": "tcp://127.0.0.1:0",
            "zeroconf": {"enabled": False},
            "data_dir": str(tmp_path / "data"),
            "read_timeout_s": 0.2,  # broken events are answered fast, so the run stays short
            "max_text_chars": 300,
        },
        "edge": {"timeout_s": 2},
    }
    with fake_edge_process() as edge_url:
        config["edge"]["endpoint"] = edge_url
        with server_process(tmp_path, config, ["--debug"]) as (process, port, _):
            yield port, process, LogDrain(process)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,  # the same cases on every run of script/test
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(blob=FUZZ_INPUT)
def test_fuzzed_input_is_answered_or_closed(
    fuzzed_server: tuple[int, subprocess.Popen[str], LogDrain], blob: bytes
) -> None:
    port, process, _ = fuzzed_server
    assert run_case(port, blob) in ("info", "closed")
    assert process.poll() is None, "the server died"


def test_after_fuzzing_the_server_serves_and_logged_no_traceback(
    fuzzed_server: tuple[int, subprocess.Popen[str], LogDrain],
) -> None:
    port, process, log = fuzzed_server
    assert run_case(port, b"") == "info"  # Describe on a fresh connection
    process.send_signal(signal.SIGTERM)
    assert process.wait(20) == 0
    text = log.text()
    assert "Traceback" not in text
    assert " ERROR " not in text and " CRITICAL " not in text
    assert text.count("synthesize ") > 0  # requests were made and logged


def test_fuzz_input_covers_the_broken_cases() -> None:
    # The strategy reaches what matters: surrogates, deep nesting, bad lengths, cut events.
    from hypothesis import find

    for wanted in (b"\\ud8", b"[[[[[[[[", b'"data_length": -', b"\xed\xa0"):
        assert wanted in find(
            FUZZ_INPUT,
            lambda blob, w=wanted: w in blob,
            settings=settings(database=None, max_examples=20000),
        )  # type: ignore[misc]
