"""Config: YAML + environment + flags, validation errors that name the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from wyoming_verba.config import ConfigError, Overrides, load_config, parse_config

ROOT = Path(__file__).resolve().parents[2]


def test_example_config_is_valid_and_matches_the_defaults() -> None:
    config = load_config(ROOT / "config.example.yaml", environ={})
    assert config == parse_config({}, environ={})
    assert config.server.uri == "tcp://0.0.0.0:10200"
    assert config.server.output_rate is None
    assert config.tts.backend == "edge"
    assert config.tts.engines == ("edge",)
    assert config.csm.model == "sesame/csm-1b"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"server": {"uri": "http://x"}}, "config key server.uri: expected tcp://HOST:PORT"),
        (
            {"server": {"samples_per_chunk": "big"}},
            "config key server.samples_per_chunk: expected an integer (got 'big')",
        ),
        (
            {"server": {"output_rate": 12345}},
            "config key server.output_rate: expected 'native' or one of",
        ),
        (
            {"server": {"zeroconf": {"enabld": True}}},
            "config key server.zeroconf.enabld: unknown key",
        ),
        (
            {"tts": {"backend": "piper"}},
            "config key tts.backend: expected one of edge, csm (got 'piper')",
        ),
        ({"edge": {"rate": "fast"}}, "config key edge.rate: expected like '+0%'"),
        ({"edge": {"timeout_s": -1}}, "config key edge.timeout_s"),
        (
            {"csm": {"temperature": "hot"}},
            "config key csm.temperature: expected a number (got 'hot')",
        ),
        ({"csm": {"dtype": "int4"}}, "config key csm.dtype"),
        (
            {
                "csm": {
                    "voices": [{"name": "a", "reference_audio": "/nope.wav", "reference_text": "x"}]
                }
            },
            "config key csm.voices.0.reference_audio: file not found: /nope.wav",
        ),
        (
            {"csm": {"voices": [{"speaker": 1}]}},
            "config key csm.voices.0.name: required key not provided",
        ),
        ({"whatever": 1}, "config key whatever: unknown key"),
    ],
)
def test_invalid_values_name_the_key(raw: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError) as err:
        parse_config(raw, environ={})
    assert message in str(err.value)


def test_voice_profile_needs_audio_and_text_together(tmp_path: Path) -> None:
    clip = tmp_path / "a.wav"
    clip.write_bytes(b"RIFF")
    with pytest.raises(ConfigError, match="reference_audio and reference_text go together"):
        parse_config({"csm": {"voices": [{"name": "a", "reference_audio": str(clip)}]}}, environ={})


def test_environment_then_flags_override_the_file() -> None:
    raw = {"tts": {"backend": "edge"}, "csm": {"speaker": 1}}
    config = parse_config(raw, environ={"TTS_BACKEND": "CSM", "SESAME_SPEAKER_ID": "4"})
    assert config.tts.backend == "csm"
    assert config.tts.engines == ("csm", "edge")
    assert config.csm.speaker == 4
    flagged = parse_config(raw, environ={"TTS_BACKEND": "csm"}, overrides=Overrides(backend="edge"))
    assert flagged.tts.backend == "edge"


def test_bad_environment_values_are_named() -> None:
    with pytest.raises(ConfigError, match="SESAME_SPEAKER_ID: expected a whole number"):
        parse_config({}, environ={"SESAME_SPEAKER_ID": "zero"})
    with pytest.raises(ConfigError, match="tts.backend: expected one of edge, csm"):
        parse_config({}, environ={"TTS_BACKEND": "piper"})


def test_zeroconf_flags() -> None:
    config = parse_config(
        {},
        environ={},
        overrides=Overrides(zeroconf=True, zeroconf_name="kitchen", zeroconf_host="10.1.2.3"),
    )
    assert (config.server.zeroconf.enabled, config.server.zeroconf.name) == (True, "kitchen")
    assert config.server.zeroconf.host == "10.1.2.3"
    assert not parse_config(
        {}, environ={}, overrides=Overrides(zeroconf=False)
    ).server.zeroconf.enabled


def test_fallback_none_and_engine_list() -> None:
    config = parse_config({"tts": {"backend": "csm", "fallback": "none"}}, environ={})
    assert config.tts.fallback is None
    assert config.tts.engines == ("csm",)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "server:\n  max_connections: many\n",
            "config key server.max_connections: expected an integer",
        ),
        ("server: [1, 2\n", "not valid YAML"),
        ("- just a list\n", "expected a mapping of sections"),
    ],
)
def test_cli_exits_2_with_one_message(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(content)
    result = subprocess.run(
        [sys.executable, "-m", "wyoming_verba", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_missing_config_file(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wyoming_verba", "--config", str(tmp_path / "nope.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "cannot read it" in result.stderr
