"""The rate/volume stage: sample counts follow the rate, pitch stays, audio streams, gain."""

from __future__ import annotations

import numpy as np
import pytest

from wyoming_verba.engines.csm.tempo import AudioShaper
from wyoming_verba.protocol.options import SpeakOptions

RATE = 24000
FRAME = 1920  # one CSM frame


def tone(samples: int, frequency: float = 300.0, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(samples) / RATE
    return (amplitude * np.sin(2 * np.pi * frequency * t) * 32767).astype(np.int16)


def dominant_frequency(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float32)))
    return float(np.fft.rfftfreq(samples.size, 1 / RATE)[int(np.argmax(spectrum))])


def run(shaper: AudioShaper, audio: np.ndarray, block: int = FRAME) -> list[np.ndarray]:
    out = [shaper.process(audio[i : i + block]) for i in range(0, audio.size, block)]
    return [*out, shaper.flush()]


@pytest.mark.parametrize("rate", [50, -50, 100, 20, -20])
def test_sample_count_follows_the_rate_and_the_pitch_stays(rate: int) -> None:
    shaper = AudioShaper.for_options(SpeakOptions(rate=rate), RATE)
    assert shaper is not None
    audio = tone(50 * FRAME)
    out = np.concatenate(run(shaper, audio))
    expected = audio.size / (1 + rate / 100)
    assert abs(out.size - expected) < 0.01 * expected
    assert abs(dominant_frequency(out) - 300.0) < 3.0


def test_the_first_frame_already_gives_audio() -> None:
    shaper = AudioShaper.for_options(SpeakOptions(rate=50), RATE)
    assert shaper is not None
    first = shaper.process(tone(FRAME))
    assert first.size > 0  # streamed: not held until the next frame


def test_flush_ends_a_sentence_and_the_next_one_counts_from_zero() -> None:
    shaper = AudioShaper.for_options(SpeakOptions(rate=100), RATE)
    assert shaper is not None
    for _ in range(2):
        out = np.concatenate(run(shaper, tone(20 * FRAME)))
        assert abs(out.size - 10 * FRAME) < 0.02 * 10 * FRAME


def test_volume_is_a_gain_clipped_to_16_bits() -> None:
    half = AudioShaper.for_options(SpeakOptions(volume=-50), RATE)
    double = AudioShaper.for_options(SpeakOptions(volume=100), RATE)
    assert half is not None and double is not None
    audio = tone(FRAME, amplitude=0.9)
    assert np.array_equal(half.process(audio), np.round(audio * 0.5).astype(np.int16))
    loud = double.process(audio)
    assert loud.max() == 32767 and loud.min() == -32768
    assert np.array_equal(loud[:3], np.clip(audio[:3].astype(np.int32) * 2, -32768, 32767))


def test_no_change_means_no_stage() -> None:
    assert AudioShaper.for_options(SpeakOptions(rate=0, volume=0, pitch="+5Hz"), RATE) is None
