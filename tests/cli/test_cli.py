"""The command line: help, argument errors, client commands, and failures that say what happened."""

from __future__ import annotations

import asyncio
import socket
import time
import wave
from pathlib import Path

import pytest
import yaml
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.server import AsyncEventHandler, AsyncServer
from wyoming.tts import Synthesize

from tests.support.process import fake_edge_process, run_cli, server_process

COMMANDS = ("serve", "say", "voices", "health", "bench", "download", "doctor")


def loopback_config(tmp_path: Path, edge_url: str, **extra: object) -> dict[str, object]:
    return {
        "server": {"uri": "tcp://127.0.0.1:0", "zeroconf": False, "data_dir": str(tmp_path)},
        "edge": {"endpoint": edge_url, "voice_list_timeout_s": 1},
        **extra,
    }


def test_help_lists_every_command_and_shows_defaults() -> None:
    top = run_cli("--help")
    assert top.returncode == 0
    for name in COMMANDS:
        assert f"\n    {name} " in top.stdout, name
    for name in COMMANDS:
        assert run_cli(name, "--help").returncode == 0, name
    say = run_cli("say", "--help").stdout
    assert "(default: tcp://127.0.0.1:10200)" in say and "(default: out.wav)" in say
    assert "(default: 5)" in run_cli("bench", "--help").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["say", "--speaker", "abc", "Hi."], "argument --speaker: expected a whole number"),
        (["say", "--speaker", "-1", "Hi."], "argument --speaker: expected a whole number"),
        (["bench", "--voice", "x", "--runs", "0"], "argument --runs: expected a whole number"),
    ],
)
def test_bad_arguments_are_refused(args: list[str], message: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr


class _Recorder(AsyncEventHandler):
    """A Wyoming TTS server that records requests and answers with 0.1 s of silence."""

    def __init__(self, received: list[Event], *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self._received = received

    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            await self.write_event(Info().event())
        if Synthesize.is_type(event.type):
            self._received.append(event)
            await self.write_event(AudioStart(rate=24000, width=2, channels=1).event())
            chunk = AudioChunk(rate=24000, width=2, channels=1, audio=bytes(4800))
            await self.write_event(chunk.event())
            await self.write_event(AudioStop().event())
        return True


async def test_say_sends_a_speaker_without_a_voice(tmp_path: Path) -> None:
    received: list[Event] = []
    server = AsyncServer.from_uri("tcp://127.0.0.1:0")
    await server.start(lambda *args: _Recorder(received, *args))
    try:
        port = server._server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        uri = f"tcp://127.0.0.1:{port}"
        out = tmp_path / "out.wav"
        said = await asyncio.to_thread(
            run_cli, "say", "--uri", uri, "--speaker", "1", "-o", str(out), "Hi."
        )
        named = await asyncio.to_thread(
            run_cli,
            "say",
            "--uri",
            uri,
            "--voice",
            "csm:narrator",
            "--speaker",
            "2",
            "-o",
            str(out),
            "Hi.",
        )
    finally:
        await server.stop()
    assert said.returncode == 0 and named.returncode == 0, said.stderr + named.stderr
    assert [event.data.get("voice") for event in received] == [
        {"speaker": "1"},
        {"name": "csm:narrator", "speaker": "2"},
    ]
    with wave.open(str(out)) as wav:
        assert wav.getnframes() == 2400


def test_say_to_a_missing_directory_blames_the_file(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "x.wav"
    result = run_cli("say", "--uri", "tcp://127.0.0.1:9", "-o", str(target), "Hi.")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: cannot write {target}: the directory {target.parent} does not exist"
    )


def test_port_in_use_says_which_address_before_loading(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = tmp_path / "config.yaml"
        settings = loopback_config(
            tmp_path,
            "http://127.0.0.1:9",
            tts={"backend": "csm", "fallback": None},
            csm={"model": str(tmp_path / "no-model"), "device": "cpu"},
        )
        settings["server"]["uri"] = f"tcp://127.0.0.1:{port}"  # type: ignore[index]
        config.write_text(yaml.safe_dump(settings))
        result = run_cli("--config", str(config))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: cannot listen on tcp://127.0.0.1:{port} (server.uri / --uri): the port is "
        "already in use (another wyoming-verba or Wyoming server?); stop that one or choose "
        "another port"
    )
    assert "Traceback" not in result.stderr
    assert "CSM" not in result.stderr  # nothing loaded: the port came first


def test_zeroconf_false_in_the_file_and_no_zeroconf_flag(tmp_path: Path) -> None:
    with (
        fake_edge_process() as edge_url,
        server_process(tmp_path, loopback_config(tmp_path, edge_url), ["--no-zeroconf"]) as (
            process,
            port,
            log,
        ),
    ):
        assert port > 0 and process.poll() is None
    assert (
        "Traceback" not in log and "wyoming_verba.server.zeroconf" not in log
    )  # nothing advertised


def test_environment_errors_name_the_variable(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("tts:\n  backend: edge\n")
    result = run_cli("--config", str(config), env={"TTS_BACKEND": "piper"})
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: environment variable TTS_BACKEND: expected edge or csm (got 'piper')"
    )


def test_health_fails_when_the_default_engine_failed(tmp_path: Path) -> None:
    # CSM is the default and cannot load; Edge still serves, but a container must not look healthy.
    settings = loopback_config(
        tmp_path,
        "",
        tts={"backend": "csm", "fallback": "edge"},
        csm={"model": str(tmp_path / "no-model"), "device": "cpu"},
    )
    with fake_edge_process() as edge_url:
        settings["edge"]["endpoint"] = edge_url  # type: ignore[index]
        with server_process(tmp_path, settings) as (_process, port, _log):
            uri = f"tcp://127.0.0.1:{port}"
            deadline = time.monotonic() + 90
            health = run_cli("health", "--uri", uri)
            while "csm failed" not in health.stderr and time.monotonic() < deadline:
                time.sleep(0.5)
                health = run_cli("health", "--uri", uri)
            config = tmp_path / "doctor.yaml"
            config.write_text(yaml.safe_dump({**settings, "tts": {"engines": ["edge"]}}))
            doctor = run_cli("doctor", "--config", str(config), "--uri", uri, "--backend", "csm")
    assert health.returncode == 1 and health.stdout == ""
    assert health.stderr.count("\n") == 1
    assert health.stderr.startswith(
        f"unhealthy: {uri}: the default engine csm failed; 6 voices; engines: csm failed ("
    )
    assert "[ok] engines: default csm; running edge, csm; fallback edge" in doctor.stdout


def test_voices_health_and_doctor_show_each_engine(tmp_path: Path) -> None:
    # csm.model points nowhere: CSM fails to load, Edge serves; both states are visible.
    settings = loopback_config(
        tmp_path,
        "",
        tts={"engines": ["edge", "csm"]},
        csm={"model": str(tmp_path / "no-model"), "device": "cpu"},
    )
    with fake_edge_process() as edge_url:
        settings["edge"]["endpoint"] = edge_url  # type: ignore[index]
        with server_process(tmp_path, settings) as (_process, port, _log):
            uri = f"tcp://127.0.0.1:{port}"
            deadline = time.monotonic() + 90
            health = run_cli("health", "--uri", uri)
            while "csm failed" not in health.stdout and time.monotonic() < deadline:
                time.sleep(0.5)
                health = run_cli("health", "--uri", uri)
            voices = run_cli("voices", "--uri", uri)
            german = run_cli("voices", "--uri", uri, "--language", "de")
            config = tmp_path / "doctor.yaml"
            config.write_text(yaml.safe_dump(settings))
            doctor = run_cli("doctor", "--config", str(config), "--uri", uri)
    assert health.returncode == 0
    assert health.stdout.startswith(f"healthy: {uri}: 6 voices; engines: edge ready, csm failed (")
    lines = voices.stdout.splitlines()
    assert lines[0].split() == ["VOICE", "LANGUAGES", "DESCRIPTION"]
    assert any(line.split()[:2] == ["edge:de-DE-KatjaNeural", "de-DE"] for line in lines)
    assert any(line.split()[:2] == ["csm:speaker-0", "en"] for line in lines)
    assert lines[-1].startswith("6 voices; engines: edge ready, csm failed (")
    assert [line.split()[0] for line in german.stdout.splitlines()[1:-1]] == [
        "edge:de-DE-KatjaNeural"
    ]
    assert german.stdout.splitlines()[-1].startswith("1 of 6 voices;")
    assert "[ok] server engine edge: ready" in doctor.stdout
    assert "[!!] server engine csm: failed (csm.model: directory" in doctor.stdout
    assert "no-model not found" in doctor.stdout
    assert doctor.returncode == 1 and doctor.stderr == ""


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["say", "--uri", "garbage", "Hi."], "error: --uri 'garbage': expected tcp://HOST:PORT"),
        (["say", "--uri", "tcp://127.0.0.1:99999", "Hi."], "(port 1 to 65535)"),
        (["say", "--uri", "tcp://u@127.0.0.1:1", "Hi."], "(no user name or password)"),
        (["doctor", "--uri", "garbage"], "error: --uri 'garbage': expected tcp://HOST:PORT"),
        (["doctor", "--uri", "tcp://127.0.0.1:99999"], "(port 1 to 65535)"),
        (["voices", "--uri", "tcp://127.0.0.1:1/x"], "(no path, query or fragment)"),
        (["bench", "--voice", "x", "--uri", "nope"], "error: --uri 'nope'"),
        (["health"], "error: VERBA_HEALTH_URI 'garbage'"),
    ],
)
def test_bad_uris_are_one_line(args: list[str], needle: str) -> None:
    result = run_cli(*args, env={"VERBA_HEALTH_URI": "garbage"})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and needle in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_say_gives_up_on_a_server_that_never_answers(tmp_path: Path) -> None:
    with socket.socket() as silent:  # the kernel accepts connections; nobody ever answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        uri = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        result = run_cli(
            "say", "--uri", uri, "--timeout", "1", "-o", str(tmp_path / "x.wav"), "Hi."
        )
        waited = time.monotonic() - started
    assert result.returncode == 1
    assert result.stderr == (
        f"error: cannot talk to {uri}: no answer within 1 s (--timeout); is it a Wyoming server, "
        "and is it overloaded?\n"
    )
    assert waited < 60  # bounded (run_cli itself would give up after 120 s)
    assert "(default: 30)" in run_cli("say", "--help").stdout


def test_say_refuses_text_that_is_not_utf8(tmp_path: Path) -> None:
    # "\udcff" is how Python reads the byte 0xFF from a command line; run_cli passes it back raw.
    result = run_cli(
        "say", "--uri", "tcp://127.0.0.1:9", "-o", str(tmp_path / "x.wav"), "Hi \udcff"
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: the text is not valid UTF-8 (byte 3)")
    assert result.stderr.count("\n") == 1


def test_bench_names_an_unwritable_json_file_before_running() -> None:
    result = run_cli(
        "bench", "--voice", "x", "--uri", "tcp://127.0.0.1:9", "--json", "/nonexistent/x.json"
    )
    assert result.returncode == 1
    assert result.stderr == (
        "error: cannot write /nonexistent/x.json: the directory /nonexistent does not exist\n"
    )


def test_say_with_empty_text_reports_no_audio(tmp_path: Path) -> None:
    with (
        fake_edge_process() as edge_url,
        server_process(tmp_path, loopback_config(tmp_path, edge_url)) as (_process, port, _log),
    ):
        out = tmp_path / "empty.wav"
        result = run_cli("say", "--uri", f"tcp://127.0.0.1:{port}", "-o", str(out), "")
    assert result.returncode == 0, result.stderr
    assert "nan" not in result.stdout
    assert result.stdout.startswith(f"wrote {out}: 0.00 s of audio at 24000 Hz; no audio (nothing")
    with wave.open(str(out)) as wav:
        assert wav.getnframes() == 0


def write_tone(path: Path, seconds: float, rate: int) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(bytes(2 * int(seconds * rate)))
    return path


@pytest.mark.parametrize(
    ("seconds", "rate", "words"),
    [
        (60.0, 48000, "the clip is 60.0 s long; it must be 1-30 s"),
        (0.5, 16000, "the clip is 0.5 s long; it must be 1-30 s"),
        (2.0, 6000, "'rate' must be 8000-48000 Hz (got 6000)"),
    ],
)
def test_voice_add_checks_the_clip_rule_before_connecting(
    tmp_path: Path, seconds: float, rate: int, words: str
) -> None:
    clip = write_tone(tmp_path / "phone.wav", seconds, rate)
    # Nothing listens on port 9: any attempt to upload would be "cannot talk to".
    result = run_cli("voice", "add", "--uri", "tcp://127.0.0.1:9", "x", str(clip), "Hi.")
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: voice add x: {words}"), result.stderr
