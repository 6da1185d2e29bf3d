"""Anchors are kept in server.data_dir: a second start reads them instead of generating them, the
`CSM ready` line says so and their time, and the anchored voice sounds the same."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.support.process import LogDrain, read_until, run_cli, server_process


def _start(tmp_path: Path, config: dict[str, Any], out: Path) -> tuple[str, bytes]:
    """Start the server, wait for `CSM ready`, speak with an anchored speaker; (log, audio)."""
    with server_process(tmp_path, config) as (process, port, log):
        _match, more = read_until(process, r"CSM ready in|CSM could not be loaded", timeout=240)
        drain = LogDrain(process)
        said = run_cli(
            "say",
            "--uri",
            f"tcp://127.0.0.1:{port}",
            "--voice",
            "csm:speaker-1",
            "-o",
            str(out),
            "Hello there.",
        )
        assert said.returncode == 0, said.stderr + drain.text(1)
    return log + more, out.read_bytes()


def test_second_start_reads_the_kept_anchors(
    tiny_csm_dir: Path, tmp_path: Path, csm_config: dict[str, Any]
) -> None:
    data = tmp_path / "data"
    config = {
        "server": {"uri": "tcp://127.0.0.1:0", "zeroconf": False, "data_dir": str(data)},
        "edge": {"endpoint": "http://127.0.0.1:9", "voice_list_timeout_s": 1},
        **csm_config,
    }
    first_log, first_audio = _start(tmp_path, config, tmp_path / "first.wav")
    second_log, second_audio = _start(tmp_path, config, tmp_path / "second.wav")

    assert first_log.count("Generating the reference clip that anchors CSM speaker") == 2
    assert re.search(r"CSM ready in .*2 anchored speakers in [\d.]+ s \(generated\)", first_log)
    assert "Generating the reference clip" not in second_log
    assert re.search(r"CSM ready in .*2 anchored speakers in [\d.]+ s \(kept\)", second_log)
    assert len(list((data / "csm-anchors").glob("*/speaker-*.pt"))) == 2
    assert second_audio == first_audio  # greedy: the kept anchor is the generated one


def test_a_damaged_anchor_is_generated_again(
    tiny_csm_dir: Path, tmp_path: Path, csm_config: dict[str, Any]
) -> None:
    data = tmp_path / "data"
    config = {
        "server": {"uri": "tcp://127.0.0.1:0", "zeroconf": False, "data_dir": str(data)},
        "edge": {"endpoint": "http://127.0.0.1:9", "voice_list_timeout_s": 1},
        **csm_config,
    }
    _start(tmp_path, config, tmp_path / "first.wav")
    for kept in (data / "csm-anchors").glob("*/speaker-*.pt"):
        kept.write_bytes(b"not a tensor file")
    log, _audio = _start(tmp_path, config, tmp_path / "second.wav")
    assert log.count("Ignoring the kept CSM anchor") == 2
    assert log.count("Generating the reference clip that anchors CSM speaker") == 2
    assert "Traceback" not in log
