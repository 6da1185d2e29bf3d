"""Voice names and resolution."""

from __future__ import annotations

import pytest

from wyoming_verba.core.voices import UnknownVoiceError, VoiceCatalog, VoiceChoice, VoiceInfo
from wyoming_verba.protocol.fields import BadRequestError


def catalog(default: str = "edge") -> VoiceCatalog:
    voices = {
        "edge": [VoiceInfo("edge", "en-US-AriaNeural", "Aria", ("en-US",))],
        "csm": [
            VoiceInfo("csm", "speaker-0", "Speaker 0", ("en",)),
            VoiceInfo("csm", "narrator", "Narrator", ("en",)),
        ],
    }
    defaults = {
        "edge": VoiceChoice("edge", "en-US-AriaNeural"),
        "csm": VoiceChoice("csm", "speaker-0"),
    }
    return VoiceCatalog(voices, defaults, default)


def test_names_pick_engine_and_voice() -> None:
    assert catalog().resolve("edge:en-US-AriaNeural") == VoiceChoice("edge", "en-US-AriaNeural")
    assert catalog().resolve("csm:narrator", "3") == VoiceChoice("csm", "narrator", 3)
    assert catalog().resolve("narrator") == VoiceChoice("csm", "narrator")
    assert catalog().resolve("csm:speaker-7") == VoiceChoice("csm", "speaker-7")


def test_no_voice_uses_default_backend() -> None:
    assert catalog().resolve(None) == VoiceChoice("edge", "en-US-AriaNeural")
    assert catalog("csm").resolve(None, "2") == VoiceChoice("csm", "speaker-0", 2)
    assert catalog("csm").resolve("", "") == VoiceChoice("csm", "speaker-0")


@pytest.mark.parametrize(
    ("name", "speaker", "message"),
    [
        ("edge:nobody", None, "unknown voice 'edge:nobody'"),
        ("csm:speaker-x", None, "unknown voice 'csm:speaker-x'"),
    ],
)
def test_unknown_voices_are_named(name: str, speaker: str | None, message: str) -> None:
    with pytest.raises(UnknownVoiceError, match=message):
        catalog().resolve(name, speaker)


@pytest.mark.parametrize(
    "speaker", ["loud", "-1", -1, 1.5, 1.0, True, "1.5", "²", "9" * 5000, [1], {"id": 1}]
)
def test_a_speaker_must_be_a_whole_number(speaker: object) -> None:
    with pytest.raises(BadRequestError, match=r"'voice\.speaker' must be") as caught:
        catalog().resolve("csm:narrator", speaker)  # type: ignore[arg-type]
    assert not isinstance(caught.value, UnknownVoiceError)
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize(("speaker", "expected"), [("3", 3), (" 3 ", 3), (7, 7), ("", None)])
def test_speakers_as_numbers_or_digit_strings(speaker: object, expected: int | None) -> None:
    assert catalog().resolve("csm:narrator", speaker).speaker == expected  # type: ignore[arg-type]


def test_long_or_odd_voice_names_are_echoed_short_and_escaped() -> None:
    with pytest.raises(UnknownVoiceError) as caught:
        catalog().resolve("x\n" * 500_000)
    message = str(caught.value)
    assert len(message) < 300
    assert "\n" not in message.replace("\\n", "")
    assert "(1000000 characters)" in message
    with pytest.raises(UnknownVoiceError, match="unknown voice 'csm:speaker-9999999999'"):
        catalog().resolve("csm:speaker-9999999999")
