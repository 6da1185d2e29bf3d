"""WAV containers for PCM: a complete file, or a header for a stream of unknown length."""

from __future__ import annotations

import io
import struct
import wave
from dataclasses import dataclass

# "Length unknown: read to the end". Home Assistant (2026.11+) passes a WAV stream through
# without ffmpeg only when the data chunk's size is this or 0.
STREAM_SIZE = 0xFFFFFFFF


@dataclass
class AudioFormat:
    """PCM format of a response (filled in from its audio-start and chunks)."""

    rate: int = 24000
    width: int = 2
    channels: int = 1


def wav_bytes(pcm: bytes, audio_format: AudioFormat) -> bytes:
    """A complete WAV file."""
    with io.BytesIO() as buffer:
        with wave.open(buffer, "wb") as writer:
            writer.setframerate(audio_format.rate)
            writer.setsampwidth(audio_format.width)
            writer.setnchannels(audio_format.channels)
            writer.writeframes(pcm)
        return buffer.getvalue()


def streaming_wav_header(audio_format: AudioFormat) -> bytes:
    """A 44-byte WAV header for streamed audio: the RIFF and data sizes are STREAM_SIZE.

    For audio whose length is known, use wav_bytes: its sizes are exact, for players that trust
    them.
    """
    block = audio_format.width * audio_format.channels
    return (
        b"RIFF"
        + struct.pack("<I", STREAM_SIZE)
        + b"WAVEfmt "
        + struct.pack(
            "<IHHIIHH",
            16,
            1,
            audio_format.channels,
            audio_format.rate,
            audio_format.rate * block,
            block,
            audio_format.width * 8,
        )
        + b"data"
        + struct.pack("<I", STREAM_SIZE)
    )
