"""PCM helpers: chunking and PyAV resampling."""

from __future__ import annotations

import numpy as np

from wyoming_verba.core.audio import Chunker, Resampler, float_to_pcm16


def test_first_chunk_goes_out_at_once_then_fixed_sizes() -> None:
    chunker = Chunker(1024)
    first = chunker.push(np.ones(576, dtype=np.int16))
    assert [len(c) // 2 for c in first] == [576]
    later = []
    for _ in range(10):
        later += chunker.push(np.ones(576, dtype=np.int16))
    later += chunker.flush()
    sizes = [len(c) // 2 for c in later]
    assert all(size == 1024 for size in sizes[:-1])
    assert sum(sizes) == 5760


def test_chunk_bytes_are_little_endian_16_bit() -> None:
    chunker = Chunker(4)
    (chunk,) = chunker.push(np.array([1, -2], dtype=np.int16))
    assert chunk == b"\x01\x00\xfe\xff"


def test_resampler_keeps_length_and_frequency() -> None:
    t = np.arange(48000) / 24000
    tone = (np.sin(2 * np.pi * 1000 * t) * 10000).astype(np.int16)
    resampler = Resampler(24000, 16000)
    out = np.concatenate(
        [resampler.process(block) for block in np.array_split(tone, 37)] + [resampler.flush()]
    )
    assert abs(out.size - 32000) <= 32
    spectrum = np.abs(np.fft.rfft(out.astype(np.float32)))
    assert abs(np.fft.rfftfreq(out.size, 1 / 16000)[np.argmax(spectrum)] - 1000) < 2


def test_resampler_is_ready_for_the_next_stream_after_a_flush() -> None:
    t = np.arange(24000) / 24000
    tone = (np.sin(2 * np.pi * 1000 * t) * 10000).astype(np.int16)
    resampler = Resampler(24000, 16000)
    lengths = []
    for _ in range(2):
        out = np.concatenate([resampler.process(tone), resampler.flush()])
        lengths.append(out.size)
    assert all(abs(length - 16000) <= 32 for length in lengths)


def test_same_rate_is_identity() -> None:
    block = np.arange(100, dtype=np.int16)
    assert Resampler(24000, 24000).process(block) is block


def test_float_to_pcm16_clips() -> None:
    assert float_to_pcm16(np.array([0.0, 1.5, -2.0, 0.5])).tolist() == [0, 32767, -32767, 16384]


def test_trailing_silence_is_trimmed_to_a_short_tail() -> None:
    from wyoming_verba.core.audio import TrailingSilenceTrimmer

    trimmer = TrailingSilenceTrimmer(24000, threshold=64, keep_s=0.1)
    loud = np.full(1000, 5000, dtype=np.int16)
    quiet = np.zeros(24000, dtype=np.int16)
    out = [trimmer.push(loud), trimmer.push(quiet)]
    assert [block.size for block in out] == [1000, 0]  # quiet audio is held back
    assert trimmer.push(loud).size == 24000 + 1000  # ...and released when speech follows
    trimmer.push(quiet)
    assert trimmer.flush().size == 2400  # at the end only 0.1 s of the silence is kept
