"""The Info extension: built by the server, read back by the CLI and Home Assistant, untrusted."""

from __future__ import annotations

import pytest
from wyoming.info import Attribution, Info, TtsProgram, TtsVoice

from wyoming_verba.protocol.info import (
    EXTENSION_KEY,
    EngineReport,
    Extension,
    NotVerbaServerError,
    ServerInfo,
    ServerStatus,
)
from wyoming_verba.protocol.speech import request_data

ARIA = TtsVoice("edge:en-US-AriaNeural", Attribution("a", ""), True, "Aria", None, ["en-US"])


def info(program: str = "verba") -> Info:
    return Info(tts=[TtsProgram(program, Attribution("a", ""), True, None, "0.1.0", [ARIA])])


def test_the_extension_round_trips_in_wire_order() -> None:
    extension = Extension(
        "ab" * 16,
        {"edge": EngineReport("ready", "", ("pitch", "rate")), "csm": EngineReport("loading", "x")},
    )
    event = extension.event(info().event())
    assert list(event.data)[-1] == EXTENSION_KEY  # after the Info itself, as before
    assert event.data[EXTENSION_KEY] == {
        "server_id": "ab" * 16,
        "engines": {
            "edge": {"state": "ready", "detail": "", "options": ["pitch", "rate"]},
            "csm": {"state": "loading", "detail": "x", "options": []},
        },
    }
    assert Extension.read(event.data) == extension
    read = ServerInfo.read(event)
    assert read.server_id == "ab" * 16 and read.version == "0.1.0"
    assert read.speak_options == {"edge": ("pitch", "rate"), "csm": ()}
    status = ServerStatus.read(event)
    assert status.engines_line() == "edge ready, csm loading (x)"
    assert [v.name for v in status.voices] == ["edge:en-US-AriaNeural"]


@pytest.mark.parametrize(
    "extension",
    [
        None,
        [],
        {"server_id": 5, "engines": []},
        {"server_id": "", "engines": {"edge": "ready", "csm": {"state": 1}}},
    ],
)
def test_a_bad_extension_is_left_out(extension: object) -> None:
    event = info().event()
    event.data[EXTENSION_KEY] = extension
    assert Extension.read(event.data) == Extension()
    assert ServerInfo.read(event).server_id is None
    assert ServerStatus.read(event).engines_line().startswith("engine states not reported")


def test_odd_options_and_details_are_dropped() -> None:
    data = {
        EXTENSION_KEY: {
            "engines": {"edge": {"state": "ready", "detail": 3, "options": [1, "rate"]}}
        }
    }
    assert Extension.read(data).engines == {"edge": EngineReport("ready", "", ("rate",))}


def test_another_wyoming_server_is_not_verba_but_has_a_status() -> None:
    with pytest.raises(NotVerbaServerError):
        ServerInfo.read(info("piper").event())
    assert [v.name for v in ServerStatus.read(info("piper").event()).voices] == [ARIA.name]


@pytest.mark.parametrize(
    ("voice", "speaker", "options", "expected"),
    [
        (None, None, None, {}),
        (None, 1, None, {"voice": {"speaker": "1"}}),  # a speaker alone: the default voice's
        ("csm:a", " 2 ", None, {"voice": {"name": "csm:a", "speaker": "2"}}),
        (
            "edge:x",
            None,
            {"rate": "+5%"},
            {"voice": {"name": "edge:x"}, "context": {"verba": {"rate": "+5%"}}},
        ),
    ],
)
def test_request_data(
    voice: str | None, speaker: int | str | None, options: dict[str, str] | None, expected: object
) -> None:
    assert request_data(voice, speaker, options) == expected


def test_a_speaker_is_read_by_the_servers_rule() -> None:
    from wyoming_verba.protocol.fields import BadRequestError

    with pytest.raises(BadRequestError, match="'voice.speaker' must be a whole number"):
        request_data(None, "-1", None)
