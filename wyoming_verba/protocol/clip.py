"""The clip rule: what a voice clip may be on the wire, one rule for server, CLI and Home Assistant.

A `verba-voice-create` carries the clip as raw PCM: 16-bit, mono or stereo, 8-48 kHz, 1-30 s, at
most MAX_CLIP_BYTES. The server refuses anything else; clients check the same rule with the same
functions before they upload, so a user reads the server's own message without a round trip.
"""

from __future__ import annotations

from dataclasses import dataclass

from .fields import BadRequestError

# The rate the server keeps a clip at (CSM's): a clip sent at it needs no resampling.
CLIP_RATE = 24000
CLIP_RATES = (8000, 48000)  # lowest and highest accepted sample rate
CLIP_WIDTH = 2  # bytes per sample
CLIP_CHANNELS = (1, 2)
MIN_CLIP_S = 1.0
MAX_CLIP_S = 30.0
# The largest payload a create may carry: 30 s of 48 kHz 16-bit stereo (5.76 MB).
MAX_CLIP_BYTES = int(MAX_CLIP_S * CLIP_RATES[1] * CLIP_WIDTH * CLIP_CHANNELS[1])


class ClipError(BadRequestError):
    """A clip breaks the rule (or cannot be read); `code` is the server's, str() says what to do."""

    code = "bad-audio"


@dataclass(frozen=True)
class Clip:
    """A voice clip as it goes on the wire: interleaved little-endian PCM and its format."""

    pcm: bytes
    rate: int
    width: int = CLIP_WIDTH
    channels: int = 1

    @property
    def frames(self) -> int:
        """Samples per channel."""
        return len(self.pcm) // (self.width * self.channels)

    @property
    def seconds(self) -> float:
        """Length of the clip."""
        return self.frames / self.rate

    def check(self) -> Clip:
        """The clip itself when it keeps the whole rule; ClipError with the server's message."""
        check_format(self.rate, self.width, self.channels)
        check_payload(self.pcm, self.channels)
        check_duration(self.seconds)
        return self


def check_format(rate: int, width: int, channels: int) -> None:
    """Rate, sample width and channels of a clip; ClipError (code bad-audio) names the field."""
    if not CLIP_RATES[0] <= rate <= CLIP_RATES[1]:
        raise ClipError(f"'rate' must be {CLIP_RATES[0]}-{CLIP_RATES[1]} Hz (got {rate})")
    if width != CLIP_WIDTH or channels not in CLIP_CHANNELS:
        raise ClipError(
            f"the clip must be 16-bit (width 2) mono or stereo PCM (got width {width}, "
            f"{channels} channels)"
        )


def check_payload(pcm: bytes, channels: int) -> None:
    """Whole 16-bit frames, at most MAX_CLIP_BYTES (the server drops a larger event unread)."""
    if len(pcm) > MAX_CLIP_BYTES:
        raise ClipError(
            f"the clip is {len(pcm)} bytes, larger than a server accepts ({MAX_CLIP_BYTES} "
            f"bytes); send {MIN_CLIP_S:g}-{MAX_CLIP_S:g} s"
        )
    if not pcm or len(pcm) % (CLIP_WIDTH * channels):
        raise ClipError(
            f"the payload must be whole {channels}-channel 16-bit frames ({len(pcm)} bytes)"
        )


def check_duration(seconds: float, at_least: bool = False) -> None:
    """ClipError (code bad-duration) unless a clip of `seconds` keeps the rule; at_least: the
    clip is longer still (a decode stopped there)."""
    problem = duration_problem(seconds, at_least=at_least)
    if problem is not None:
        raise ClipError(problem, "bad-duration")


def duration_problem(
    seconds: float, what: str = "the clip is", at_least: bool = False
) -> str | None:
    """What is wrong with a clip of `seconds` (None when it is MIN_CLIP_S-MAX_CLIP_S long)."""
    if MIN_CLIP_S <= seconds <= MAX_CLIP_S:
        return None
    return (
        f"{what} {'over ' if at_least else ''}{_outside(seconds)} s long; it must be "
        f"{MIN_CLIP_S:g}-{MAX_CLIP_S:g} s (5-15 s of clear speech works best)"
    )


def _outside(seconds: float) -> str:
    """`seconds` with as few decimals as keep it visibly outside the rule (30.0001, not 30.0)."""
    for digits in range(1, 7):
        text = f"{seconds:.{digits}f}"
        if not MIN_CLIP_S <= float(text) <= MAX_CLIP_S:
            return text
    return repr(seconds)
