"""Config: YAML + environment + flags, validation errors that name the key."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import voluptuous as vol
import yaml

from wyoming_verba.config import ConfigError, Overrides, load_config, parse_config
from wyoming_verba.config.schema import SCHEMA

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


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"SESAME_SPEAKER_ID": "zero"},
            "environment variable SESAME_SPEAKER_ID: expected a whole number, 0 or more "
            "(got 'zero')",
        ),
        (
            {"SESAME_SPEAKER_ID": "-1"},
            "environment variable SESAME_SPEAKER_ID: expected a whole number, 0 or more (got '-1')",
        ),
        (
            {"TTS_BACKEND": "piper"},
            "environment variable TTS_BACKEND: expected edge or csm (got 'piper')",
        ),
    ],
)
def test_bad_environment_values_name_the_variable(environ: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError) as err:
        parse_config({}, environ=environ)
    assert str(err.value) == message


@pytest.mark.parametrize("value", ["sesame", "Sesame", " csm "])
def test_sesame_is_an_alias_of_csm(value: str) -> None:
    assert parse_config({}, environ={"TTS_BACKEND": value}).tts.backend == "csm"
    assert parse_config({"tts": {"backend": "sesame"}}, environ={}).tts.backend == "csm"


@pytest.mark.parametrize("enabled", [True, False])
def test_zeroconf_true_false_shorthand(enabled: bool) -> None:
    raw = {"server": {"zeroconf": enabled}}
    assert parse_config(raw, environ={}).server.zeroconf.enabled is enabled
    # With the flags that used to crash on the shorthand.
    flagged = parse_config(raw, environ={}, overrides=Overrides(zeroconf=False, zeroconf_name="k"))
    assert (flagged.server.zeroconf.enabled, flagged.server.zeroconf.name) == (False, "k")
    with pytest.raises(ConfigError, match="server.zeroconf: expected true, false or a mapping"):
        parse_config(
            {"server": {"zeroconf": "yes"}}, environ={}, overrides=Overrides(zeroconf=True)
        )


def test_empty_sections_mean_defaults() -> None:
    # `csm:` with every key commented out loads as null.
    raw = {"server": None, "tts": None, "edge": None, "csm": None}
    assert parse_config(raw, environ={"TTS_BACKEND": "edge"}) == parse_config({}, environ={})
    with pytest.raises(ConfigError, match="config key server: expected a dictionary"):
        parse_config({"server": 5}, environ={}, overrides=Overrides(uri="tcp://1.2.3.4:1"))


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


def _schema_keys(schema: Any, prefix: str = "") -> set[str]:
    if isinstance(schema, vol.Schema):
        return _schema_keys(schema.schema, prefix)
    if isinstance(schema, vol.All):
        return set().union(*(_schema_keys(inner, prefix) for inner in schema.validators))
    if isinstance(schema, list):
        return set().union(set(), *(_schema_keys(inner, prefix) for inner in schema))
    if not isinstance(schema, dict):
        return set()
    keys = set()
    for marker, value in schema.items():
        name = f"{prefix}{getattr(marker, 'schema', marker)}"
        keys |= {name, *_schema_keys(value, f"{name}.")}
    return keys


def _data_keys(data: Any, prefix: str = "") -> set[str]:
    if isinstance(data, list):
        return set().union(set(), *(_data_keys(item, prefix) for item in data))
    if not isinstance(data, dict):
        return set()
    keys = set()
    for key, value in data.items():
        keys |= {f"{prefix}{key}", *_data_keys(value, f"{prefix}{key}.")}
    return keys


def _documented_keys(text: str) -> set[str]:
    """Keys of config.example.yaml, with commented-out examples below `key: []` read as its value."""
    data = yaml.safe_load(text)
    for match in re.finditer(r"^( *)(\w+): \[\]\n((?:\1#.*\n)+)", text, re.M):
        indent = len(match.group(1)) + 1
        lines = [line[indent:] for line in match.group(3).splitlines()]
        example = yaml.safe_load(textwrap.dedent("\n".join(lines)))
        for section in data.values():
            if isinstance(section, dict) and section.get(match.group(2)) == []:
                section[match.group(2)] = example
    return _data_keys(data)


def test_every_schema_key_is_documented_and_every_documented_key_exists() -> None:
    documented = _documented_keys((ROOT / "config.example.yaml").read_text())
    known = _schema_keys(SCHEMA)
    assert known - documented == set(), "keys missing from config.example.yaml"
    assert documented - known == set(), "config.example.yaml documents unknown keys"
    assert "csm.voices.reference_text" in documented  # the commented example was read
