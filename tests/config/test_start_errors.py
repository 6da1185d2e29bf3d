"""Starting with a bad config file, environment value or flag: one line on stderr, exit 2, the key
named, before anything listens — and special files refused without being read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.process import ROOT


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI with a short timeout: each of these must fail at once, never start serving."""
    return subprocess.run(
        [sys.executable, "-m", "wyoming_verba", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **(env or {})},
    )


def _serve(tmp_path: Path, config: object, *flags: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config) if not isinstance(config, str) else config)
    base = ["--config", str(path), "--no-zeroconf"]
    data_dir = {} if "data_dir" in str(config) else {"VERBA_DATA_DIR": str(tmp_path)}
    return run_cli(*base, *flags, env={**data_dir, **(env or {})})


def _assert_one_line(result, *needles: str) -> None:  # type: ignore[no-untyped-def]
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0]
    assert "Listening" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("config", "needles"),
    [
        ({"edge": {"timeout_s": float("inf")}}, ["config key edge.timeout_s", "finite"]),
        ({"edge": {"timeout_s": float("nan")}}, ["config key edge.timeout_s", "finite"]),
        ({"server": {"read_timeout_s": 1e300}}, ["config key server.read_timeout_s", "at most"]),
        ({"edge": {"voice": "foo"}}, ["config key edge.voice", "en-US-AriaNeural", "'foo'"]),
        ({"edge": {"voice": "en-US-Aria'Neural"}}, ["config key edge.voice"]),
        ({"edge": {"rate": "+0%\n"}}, ["config key edge.rate", "'+0%\\n'"]),
        ({"edge": {"pitch": "+99999999Hz"}}, ["config key edge.pitch", "in Hz or percent"]),
        ({"edge": {"pitch": "+900Hz"}}, ["config key edge.pitch", "-500Hz to +500Hz"]),
        ({"edge": {"pitch": "+101%"}}, ["config key edge.pitch", "-50% to +100%"]),
        ({"edge": {"volume": "-101%"}}, ["config key edge.volume", "-100% to +100%"]),
        ({"edge": {"proxy": "not a url"}}, ["config key edge.proxy", "http://HOST:PORT"]),
        ({"edge": {"proxy": "http://user:secret@:80"}}, ["config key edge.proxy"]),
        ({"csm": {"voices": [{"name": "a\nb"}]}}, ["config key csm.voices.0.name"]),
        ({"server": {"uri": "tcp://me:pw@0.0.0.0:10200"}}, ["server.uri", "no user name"]),
        ({"server": {"uri": "tcp://0.0.0.0:10200/tts"}}, ["server.uri", "no path"]),
        ({"server": {"zeroconf": {"host": "not an ip"}}}, ["config key server.zeroconf.host"]),
        ({"server": {"zeroconf": {"name": "ü" * 40}}}, ["server.zeroconf.name", "63 bytes"]),
        ({"server": {"data_dir": "~nobody-here/x"}}, ["server.data_dir", "cannot expand"]),
        ({"csm": {"speaker": 10**30}}, ["config key csm.speaker", "at most"]),
        ({"csm": {"device": "cuda:0\n"}}, ["config key csm.device"]),
    ],
)
def test_bad_config_values(tmp_path: Path, config: object, needles: list[str]) -> None:
    _assert_one_line(_serve(tmp_path, config), *needles)


def test_a_proxy_password_is_not_echoed(tmp_path: Path) -> None:
    result = _serve(tmp_path, {"edge": {"proxy": "ftp://user:hunter2@proxy:3128"}})
    _assert_one_line(result, "config key edge.proxy")
    assert "hunter2" not in result.stderr


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        (b"edge:\n  voice: \xff\xfe\n", ["not UTF-8 text", "line 2", "save it as UTF-8"]),
        (b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n", ["nested too deeply"]),
        (b"csm:\n  speaker: " + b"1" * 5000 + b"\n", ["a value cannot be read"]),
        (b"server: {uri: *nope}\n", ["not valid YAML", "nope"]),
    ],
)
def test_bad_config_files(tmp_path: Path, content: bytes, needles: list[str]) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(content)
    result = run_cli("--config", str(path), "--no-zeroconf")
    _assert_one_line(result, f"config file {path}", *needles)


def test_a_config_file_too_large_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(b"# padding\n" * 200_000)
    _assert_one_line(run_cli("--config", str(path)), "larger than 1024 KiB")


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/null", "directory", "fifo"])
def test_special_files_are_refused_without_reading(tmp_path: Path, special: str) -> None:
    path = Path(special)
    if special == "directory":
        path = tmp_path
    elif special == "fifo":
        path = tmp_path / "config.fifo"
        os.mkfifo(path)
    # A FIFO nobody writes to would block a reader for ever; run_cli has a timeout.
    result = run_cli("--config", str(path))
    _assert_one_line(result, f"config file {path}")
    assert "not a regular file" in result.stderr or "Is a directory" in result.stderr


@pytest.mark.parametrize(
    ("env", "needles"),
    [
        ({"SESAME_SPEAKER_ID": "²"}, ["environment variable SESAME_SPEAKER_ID", "'²'"]),
        ({"SESAME_SPEAKER_ID": "9" * 5000}, ["SESAME_SPEAKER_ID", "at most 9 digits"]),
        ({"VERBA_DATA_DIR": "~nobody-here"}, ["environment variable VERBA_DATA_DIR"]),
    ],
)
def test_bad_environment_values(tmp_path: Path, env: dict[str, str], needles: list[str]) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("{}\n")
    result = run_cli("--config", str(path), "--no-zeroconf", env=env)
    _assert_one_line(result, *needles)


@pytest.mark.parametrize(
    ("flags", "needles"),
    [
        (["--log-format", "%(nope)s"], ["flag --log-format", "nope"]),
        (["--log-format", "%(message)d"], ["flag --log-format"]),
        (["--log-format", "%(message"], ["flag --log-format"]),
        (["--zeroconf-host", "not an ip"], ["flag --zeroconf-host", "IPv4 address"]),
        (["--zeroconf-host", "0.0.0.0"], ["flag --zeroconf-host"]),
        (["--uri", "tcp://127.0.0.1:99999"], ["flag --uri", "port 0 to 65535"]),
        (["--zeroconf", "a.b"], ["flag --zeroconf", "without dots"]),
    ],
)
def test_bad_flags(tmp_path: Path, flags: list[str], needles: list[str]) -> None:
    result = run_cli("--no-zeroconf", *flags, env={"VERBA_DATA_DIR": str(tmp_path)})
    _assert_one_line(result, *needles)


def test_check_config_accepts_a_valid_setup(tmp_path: Path) -> None:
    config = {
        "edge": {"voice": "zh-CN-liaoning-XiaobeiNeural", "rate": "-20%", "pitch": "+5Hz"},
        "server": {"zeroconf": {"host": "192.168.1.20", "name": "Küche"}},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    result = run_cli("--config", str(path), "--check-config", env={"SESAME_SPEAKER_ID": "3"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("config valid: engines edge, listening on tcp://0.0.0.0:10200")
