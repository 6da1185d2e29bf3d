"""Client side of CSM voice management: `wyoming-verba voice add/delete` over verba-voice-*."""

from __future__ import annotations

import asyncio
from pathlib import Path

import av
import numpy as np
from wyoming.client import AsyncClient
from wyoming.error import Error
from wyoming.event import Event

from wyoming_verba.protocol.voice_events import VoiceCreate, VoiceCreated, VoiceDelete, VoiceDeleted

CLIP_RATE = 24000  # what the server keeps; sending it so spares the server a resample


class VoiceRequestError(Exception):
    """The server refused (its reason), or the clip cannot be read."""


def read_clip(path: Path) -> bytes:
    """Any audio file PyAV (FFmpeg) reads, as 24 kHz mono 16-bit PCM."""
    try:
        with av.open(str(path)) as container:
            resampler = av.AudioResampler(format="s16", layout="mono", rate=CLIP_RATE)
            frames = [
                out for frame in container.decode(audio=0) for out in resampler.resample(frame)
            ]
            frames += resampler.resample(None)
    except (av.error.FFmpegError, IndexError, OSError) as err:
        raise VoiceRequestError(f"cannot read the clip {path}: {err}") from err
    if not frames:
        raise VoiceRequestError(f"the clip {path} has no audio")
    pcm = np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype("<i2")
    return pcm.tobytes()


async def _exchange(uri: str, event: Event, timeout_s: float) -> Event:
    async with asyncio.timeout(timeout_s), AsyncClient.from_uri(uri) as client:
        await client.write_event(event)
        answer: Event | None = await client.read_event()
    if answer is None:
        raise VoiceRequestError("the server closed the connection without an answer")
    if Error.is_type(answer.type):
        raise VoiceRequestError(Error.from_event(answer).text)
    return answer


async def create_voice(
    uri: str, name: str, clip: Path, transcript: str, speaker: int | None, timeout_s: float = 300
) -> str:
    """Upload a clip and its transcript; the created voice's name once it can speak."""
    audio = await asyncio.to_thread(read_clip, clip)
    request = VoiceCreate(name, transcript, audio, CLIP_RATE, speaker=speaker)
    answer = await _exchange(uri, request.event(), timeout_s)
    if not VoiceCreated.is_type(answer.type):
        raise VoiceRequestError(f"unexpected answer {answer.type!r}; is it a Verba server?")
    return VoiceCreated.from_event(answer).name


async def delete_voice(uri: str, name: str, timeout_s: float = 30) -> str:
    """Delete a created voice; its name once gone."""
    answer = await _exchange(uri, VoiceDelete(name).event(), timeout_s)
    if not VoiceDeleted.is_type(answer.type):
        raise VoiceRequestError(f"unexpected answer {answer.type!r}; is it a Verba server?")
    return VoiceDeleted.from_event(answer).name
