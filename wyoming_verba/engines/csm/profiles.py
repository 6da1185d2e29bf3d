"""Checking a CSM voice (reference clip + transcript + speaker) before anything heavy is done.

A clip's length is read from its container header before a sample is decoded, so a 1-hour file
is refused at once; decoding itself stops past the longest clip allowed, whatever the header
said. The transcript must leave room to speak in the 2048-position context. Each check raises
VoiceProfileError with a message a user can act on; `check_voice` is the one entry point (the
engine runs it per configured profile, and voice creation at run time can run it too).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

from ..base import EngineError
from .slots import CONTEXT_LIMIT

SAMPLE_RATE = 24000
MIN_CLIP_S = 1.0
MAX_CLIP_S = 30.0
ROOM_TO_SPEAK = 1024  # context positions a reply keeps after the reference (half of 2048)
FRAME_SAMPLES = 1920  # one Mimi frame
_SLACK_S = 0.5  # a header may round; decoding stops only this far past the limit

TextPositions = Callable[[str, int], int]  # (transcript, speaker) -> positions of its text turn


class VoiceProfileError(EngineError):
    """A voice that cannot be used; `field` is reference_audio or reference_text, and the
    message says what is wrong and what to do."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
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
) -> CheckedVoice:
    """Check a voice: the clip (a file, or 24 kHz mono samples) is readable audio of
    MIN_CLIP_S–MAX_CLIP_S, the transcript says something and, given `text_positions`, the
    reference leaves ROOM_TO_SPEAK positions. Raises VoiceProfileError."""
    if not any(c.isalnum() for c in transcript):
        raise VoiceProfileError(
            "reference_text", "the transcript has no words; write what is said in the clip"
        )
    audio = read_clip(clip) if isinstance(clip, Path) else _bounded(clip)
    positions = None
    if text_positions is not None:
        frames = -(-audio.size // FRAME_SAMPLES)
        positions = text_positions(transcript, speaker) + frames + 1  # + end of audio
        if positions > CONTEXT_LIMIT - ROOM_TO_SPEAK:
            raise VoiceProfileError(
                "reference_text",
                f"the clip and its transcript take {positions} of CSM's {CONTEXT_LIMIT} context "
                f"positions, leaving less than {ROOM_TO_SPEAK} to speak in; use a shorter clip "
                "and transcript (5-15 s works best)",
            )
    return CheckedVoice(speaker, transcript, audio, positions)


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


def _check_seconds(path: Path | None, seconds: float | None, at_least: bool = False) -> None:
    if seconds is None or MIN_CLIP_S <= seconds <= MAX_CLIP_S + _SLACK_S:
        return
    what = f"{path} is" if path is not None else "the clip is"
    raise VoiceProfileError(
        "reference_audio",
        f"{what} {'over ' if at_least else ''}{seconds:.1f} s long; use a clip of "
        f"{MIN_CLIP_S:g}-{MAX_CLIP_S:g} s (5-15 s works best)",
    )


def _unreadable(path: Path, why: str) -> VoiceProfileError:
    return VoiceProfileError(
        "reference_audio",
        f"cannot read {path} as audio ({why}); use a WAV, FLAC, MP3 or OGG file",
    )
