"""WAV containers: streamed headers Home Assistant passes through; complete files stay exact."""

from __future__ import annotations

import io
import struct
import wave

from wyoming_verba.protocol.wav import AudioFormat, streaming_wav_header, wav_bytes


def test_a_streamed_header_says_unknown_length_as_home_assistant_expects() -> None:
    header = streaming_wav_header(AudioFormat(rate=24000, width=2, channels=1))
    assert len(header) == 44
    assert header[:4] == b"RIFF" and header[8:16] == b"WAVEfmt " and header[36:40] == b"data"
    # HA 2026.11 streams WAV without ffmpeg only when the data size is 0 or 0xFFFFFFFF.
    assert struct.unpack("<I", header[40:44])[0] == 0xFFFFFFFF
    assert struct.unpack("<I", header[4:8])[0] == 0xFFFFFFFF
    channels, rate, byte_rate, block, bits = struct.unpack("<HIIHH", header[22:36])
    assert (channels, rate, byte_rate, block, bits) == (1, 24000, 48000, 2, 16)


def test_a_streamed_header_describes_stereo_too() -> None:
    header = streaming_wav_header(AudioFormat(rate=48000, width=2, channels=2))
    assert struct.unpack("<HIIHH", header[22:36]) == (2, 48000, 192000, 4, 16)


def test_a_complete_file_has_exact_sizes_that_players_can_trust() -> None:
    pcm = bytes(range(200)) * 24  # 4800 bytes = 2400 frames
    data = wav_bytes(pcm, AudioFormat(rate=24000))
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8
    assert struct.unpack("<I", data[40:44])[0] == len(pcm)
    with wave.open(io.BytesIO(data)) as reader:
        assert (reader.getframerate(), reader.getnframes()) == (24000, 2400)
        assert reader.readframes(2400) == pcm
