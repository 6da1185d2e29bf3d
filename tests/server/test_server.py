"""The real server process: start, serve, shut down on SIGTERM; the client commands."""

from __future__ import annotations

import json
import signal
import wave
from pathlib import Path

from tests.fakes.fake_edge import decoded_samples
from tests.support.process import fake_edge_process, run_cli, server_process


def config_for(edge_url: str, tmp_path: Path) -> dict:  # type: ignore[type-arg]
    return {
        "server": {
            "uri": "tcp://127.0.0.1:0",
            "zeroconf": {"enabled": False},
            "data_dir": str(tmp_path / "data"),
        },
        "edge": {"endpoint": edge_url},
    }


def test_serve_say_bench_health_and_sigterm(tmp_path: Path) -> None:
    with (
        fake_edge_process() as edge_url,
        server_process(tmp_path, config_for(edge_url, tmp_path)) as (
            process,
            port,
            _,
        ),
    ):
        uri = f"tcp://127.0.0.1:{port}"
        out = tmp_path / "out.wav"
        said = run_cli(
            "say",
            "--uri",
            uri,
            "--voice",
            "edge:en-US-GuyNeural",
            "-o",
            str(out),
            "Hello from the command line.",
        )
        assert said.returncode == 0, said.stderr
        assert "first audio" in said.stdout and "total" in said.stdout
        with wave.open(str(out)) as wav:
            assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (24000, 2, 1)
            frames = wav.getnframes()
        import urllib.request

        with urllib.request.urlopen(f"{edge_url}/requests") as response:
            requests = json.loads(response.read())
        assert frames == sum(r["samples"] for r in requests)

        report = tmp_path / "bench.json"
        plot = tmp_path / "bench.png"
        bench = run_cli(
            "bench",
            "--uri",
            uri,
            "--voice",
            "edge:en-US-AriaNeural",
            "--voice",
            "edge:en-GB-SoniaNeural",
            "--runs",
            "3",
            "--json",
            str(report),
            "--plot",
            str(plot),
        )
        assert bench.returncode == 0, bench.stderr
        assert "edge:en-GB-SoniaNeural" in bench.stdout and "RTF" in bench.stdout
        rows = json.loads(report.read_text())
        assert [row["voice"] for row in rows] == ["edge:en-US-AriaNeural", "edge:en-GB-SoniaNeural"]
        assert all(row["runs"] == 3 and row["audio_s"] > 0 for row in rows)
        assert plot.read_bytes()[:4] == b"\x89PNG"

        assert run_cli("health", "--uri", uri).returncode == 0

        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
        assert process.stdout is not None
        log = process.stdout.read()
        assert "Shutting down" in log
        assert "Traceback" not in log
        assert log.count("synthesize ok backend=edge") >= 7
    assert run_cli("health", "--uri", uri, "--timeout", "2").returncode == 1


def test_flags_override_config(tmp_path: Path) -> None:
    with (
        fake_edge_process() as edge_url,
        server_process(
            tmp_path,
            config_for(edge_url, tmp_path),
            ["--uri", "tcp://127.0.0.1:0", "--debug", "--no-zeroconf"],
        ) as (process, port, startup_log),
    ):
        assert port > 0
        assert "DEBUG" in startup_log
        process.send_signal(signal.SIGINT)
        assert process.wait(15) == 0


def test_decoded_samples_helper_matches_mp3_frames() -> None:
    from tests.fakes.fake_edge import encode_mp3

    mp3 = encode_mp3("abc", "en-US-AriaNeural")
    assert decoded_samples(mp3) % 576 == 0


def test_unloadable_model_without_fallback_is_a_startup_error(tmp_path: Path) -> None:
    # sesame/csm-1b is not in the (offline) Hugging Face cache: the server says what to do and exits.
    config = {
        "server": {
            "uri": "tcp://127.0.0.1:0",
            "zeroconf": {"enabled": False},
            "data_dir": str(tmp_path / "data"),
        },
        "tts": {"backend": "csm", "fallback": "none"},
        "csm": {"device": "cpu"},
    }
    with server_process(tmp_path, config, env={"HF_HUB_OFFLINE": "1"}) as (process, _port, _log):
        assert process.wait(60) == 1
        assert process.stdout is not None
        log = process.stdout.read()
    assert "The csm engine cannot start and tts.fallback is none" in log
    assert "wyoming-verba download" in log
    assert "Traceback" not in log


def test_client_commands_report_errors_in_one_line(tmp_path: Path) -> None:
    unreachable_edge = {**config_for("http://127.0.0.1:9", tmp_path)}
    unreachable_edge["edge"]["voice_list_timeout_s"] = 1
    with server_process(tmp_path, unreachable_edge) as (_process, port, _log):
        said = run_cli(
            "say", "--uri", f"tcp://127.0.0.1:{port}", "-o", str(tmp_path / "x.wav"), "Hi."
        )
    assert said.returncode == 1
    assert said.stderr.startswith(
        "error: the server could not synthesize: cannot reach the Edge TTS"
    )
    assert "Traceback" not in said.stderr
    refused = run_cli("say", "--uri", f"tcp://127.0.0.1:{port}", "Hi.")
    assert refused.returncode == 1
    assert refused.stderr.startswith(f"error: cannot talk to tcp://127.0.0.1:{port}")
