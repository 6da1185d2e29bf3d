"""Checking a CSM voice (reference clip + transcript + speaker) before anything heavy is done.

A clip's length is read from its container header before a sample is decoded, so a 1-hour file
is refused at once; decoding itself stops past the longest clip allowed, whatever the header
said. The transcript must leave room to speak in the 2048-position context. Each check raises
VoiceProfileError with a message a user can act on and a code for the protocol. These are the only
rules: configured profiles, voices created at run time (before anything is stored) and stored
voices at the next start are checked by the same functions, so a voice accepted once is accepted
again.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

from wyoming_verba.engines.base import VoiceRefusedError
from wyoming_verba.engines.csm.model.mimi import FRAME_SAMPLES, FRAMES_PER_SECOND, SAMPLE_RATE
from wyoming_verba.engines.csm.model.slots import CONTEXT_LIMIT
from wyoming_verba.protocol.clip import MAX_CLIP_S, MIN_CLIP_S, duration_problem

MAX_TRANSCRIPT_CHARS = 1000
ROOM_TO_SPEAK = 1024  # context positions a reply keeps after the reference (half of 2048) ...
REPLY_TEXT_TOKENS = 64  # ... or, if more, csm.max_audio_s of frames plus its sentence's text
_SLACK_S = 0.5  # a header may round; decoding stops only this far past the limit

TextPositions = Callable[[str, int], int]  # (transcript, speaker) -> positions of its text turn


class VoiceProfileError(VoiceRefusedError):
    """A voice that cannot be used; `field` is reference_audio or reference_text, `code` the
    rule it broke (the protocol's error code), and the message says what to do."""

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(code, message)
        self.field = field


@dataclass(frozen=True)
class CheckedVoice:
    """A voice that passed every check, with its clip decoded to 24 kHz mono float32."""

    speaker: int
    transcript: str
    audio: npt.NDArray[np.float32]
    positions: int | None  # context positions the reference takes (None: not counted)

    @property
    def seconds(self) -> float:
        """Length of the clip."""
        return self.audio.size / SAMPLE_RATE


def check_voice(
    clip: Path | npt.NDArray[np.float32],
    transcript: str,
    speaker: int,
    text_positions: TextPositions | None = None,
    max_audio_s: float = 0.0,
) -> CheckedVoice:
    """Check a voice: the transcript says something in at most MAX_TRANSCRIPT_CHARS, the clip
    (a file, or 24 kHz mono samples) is readable audio of MIN_CLIP_S–MAX_CLIP_S and, given
    `text_positions`, the reference leaves a reply its room (`reply_room`). Raises
    VoiceProfileError."""
    check_transcript(transcript)
    audio = read_clip(clip) if isinstance(clip, Path) else _bounded(clip)
    positions = None
    if text_positions is not None:
        positions = check_room(audio.size, transcript, speaker, text_positions, max_audio_s)
    return CheckedVoice(speaker, transcript, audio, positions)


def check_transcript(transcript: str) -> None:
    """The transcript has words, and not too many characters."""
    if not any(c.isalnum() for c in transcript):
        raise VoiceProfileError(
            "reference_text",
            "empty-transcript",
            "the transcript has no words; write what is said in the clip",
        )
    if len(transcript) > MAX_TRANSCRIPT_CHARS:
        raise VoiceProfileError(
            "reference_text",
            "transcript-too-long",
            f"the transcript has {len(transcript)} characters; at most {MAX_TRANSCRIPT_CHARS}",
        )


def check_seconds(samples: int) -> None:
    """A clip of `samples` (24 kHz) is MIN_CLIP_S–MAX_CLIP_S long, exactly: samples need no
    slack for a header's rounding."""
    _check_seconds(None, samples / SAMPLE_RATE, slack_s=0.0)


def reply_room(max_audio_s: float) -> int:
    """Context positions a reply keeps after a voice's reference."""
    return max(ROOM_TO_SPEAK, math.ceil(max_audio_s * FRAMES_PER_SECOND) + REPLY_TEXT_TOKENS)


def check_room(
    samples: int, transcript: str, speaker: int, text_positions: TextPositions, max_audio_s: float
) -> int:
    """The context positions the reference takes (clip frames + end of audio + its text turn);
    VoiceProfileError if that leaves a reply less than its room."""
    positions = text_positions(transcript, speaker) + -(-samples // FRAME_SAMPLES) + 1
    room = reply_room(max_audio_s)
    if positions + room > CONTEXT_LIMIT:
        raise VoiceProfileError(
            "reference_text",
            "too-long-for-context",
            f"the clip and its transcript take {positions} of CSM's {CONTEXT_LIMIT} context "
            f"positions and a reply needs {room} (csm.max_audio_s = {max_audio_s:g}); use a "
            "shorter clip and transcript (5-15 s works best)",
        )
    return positions


def read_clip(path: Path) -> npt.NDArray[np.float32]:
    """Decode a clip to 24 kHz mono float32 after checking its length from the header."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise _unreadable(path, "it has no audio stream")
            stream = container.streams.audio[0]
            _check_seconds(path, _header_seconds(container, stream))
            audio = np.concatenate([np.zeros(0, np.float32), *_decode(container, stream, path)])
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as err:
        raise _unreadable(path, str(err)) from err
    except OSError as err:
        raise _unreadable(path, err.strerror or str(err)) from err
    if not audio.size:
        raise _unreadable(path, "it holds no audio")
    _check_seconds(path, audio.size / SAMPLE_RATE)
    return audio


def _bounded(audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    samples = np.asarray(audio, dtype=np.float32).reshape(-1)
    _check_seconds(None, samples.size / SAMPLE_RATE)
    return samples


def _header_seconds(container: av.container.InputContainer, stream: av.AudioStream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return float(container.duration) / av.time_base
    if stream.frames and stream.rate:
        return float(stream.frames) / stream.rate
    return None


def _decode(
    container: av.container.InputContainer, stream: av.AudioStream, path: Path
) -> Iterator[npt.NDArray[np.float32]]:
    """24 kHz mono pieces; stops (refusing the clip) once past MAX_CLIP_S, header or not."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    limit = int((MAX_CLIP_S + _SLACK_S) * SAMPLE_RATE)
    total = 0
    for frame in container.decode(stream):
        for out in resampler.resample(frame):
            piece = out.to_ndarray().reshape(-1).astype(np.float32)
            total += piece.size
            if total > limit:
                _check_seconds(path, total / SAMPLE_RATE, at_least=True)
            yield piece
    for out in resampler.resample(None):
        yield out.to_ndarray().reshape(-1).astype(np.float32)


def _check_seconds(
    path: Path | None, seconds: float | None, at_least: bool = False, slack_s: float = _SLACK_S
) -> None:
    if seconds is None or MIN_CLIP_S <= seconds <= MAX_CLIP_S + slack_s:
        return
    what = f"{path} is" if path is not None else "the clip is"
    problem = duration_problem(seconds, what, at_least)
    raise VoiceProfileError("reference_audio", "bad-duration", problem or "")


def _unreadable(path: Path, why: str) -> VoiceProfileError:
    return VoiceProfileError(
        "reference_audio",
        "bad-audio",
        f"cannot read {path} as audio ({why}); use a WAV, FLAC, MP3 or OGG file",
    )
