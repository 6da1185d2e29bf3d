"""What Microsoft Edge TTS accepts: voice names and XML text (prosody values: prosody.py).

edge-tts accepts any voice name ending in `Neural` — a quote in it reaches the SSML. This check is
stricter (fullmatch, the characters real voice names use), so a bad name is refused where it is
configured or requested, not by the service.
"""

from __future__ import annotations

import re

# ShortName as the voice list gives it: en-US-AriaNeural, fil-PH-AngeloNeural,
# en-US-AndrewMultilingualNeural, zh-CN-liaoning-XiaobeiNeural (a regional variant).
_SHORT_NAME = re.compile(r"[a-z]{2,3}-[A-Z]{2,3}-(?:[a-z]+-)?[A-Za-z0-9]+Neural")
# The long form edge-tts also takes:
# "Microsoft Server Speech Text to Speech Voice (en-US, AriaNeural)".
_LONG_NAME = re.compile(
    r"Microsoft Server Speech Text to Speech Voice \([a-z]{2,3}(?:-[A-Za-z0-9]+){1,3}, "
    r"[A-Za-z0-9]+Neural\)"
)
VOICE_EXAMPLE = "a voice name such as en-US-AriaNeural or en-US-AndrewMultilingualNeural"

# Characters XML 1.0 does not allow (C0 controls but tab/newline/return, surrogates,
# U+FFFE/U+FFFF), plus the other Unicode non-characters, which the service refuses too.
_NOT_XML = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
    + "".join(
        f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(1, 17)
    )
    + "]"
)


def check_voice_name(name: str) -> str:
    """The name, if it has the form of an Edge voice; ValueError otherwise."""
    if _SHORT_NAME.fullmatch(name) or _LONG_NAME.fullmatch(name):
        return name
    raise ValueError(f"expected {VOICE_EXAMPLE} (see `wyoming-verba voices`)")


def xml_text(text: str) -> str:
    """The text with every character XML 1.0 (and the service) refuses replaced by a space."""
    return _NOT_XML.sub(" ", text)
