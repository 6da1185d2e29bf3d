"""Voice names and resolution."""

from __future__ import annotations

import pytest

from wyoming_verba.voices import UnknownVoiceError, VoiceCatalog, VoiceChoice, VoiceInfo


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
        ("csm:narrator", "loud", "speaker 'loud' is not a whole number"),
        ("csm:narrator", "-1", "must be 0 or more"),
    ],
)
def test_unknown_voices_are_named(name: str, speaker: str | None, message: str) -> None:
    with pytest.raises(UnknownVoiceError, match=message):
        catalog().resolve(name, speaker)
