"""PCM helpers: float → 16-bit, resampling with PyAV, fixed-size chunking."""

from __future__ import annotations

import av
import numpy as np
import numpy.typing as npt

SAMPLE_WIDTH = 2  # bytes, 16-bit signed
CHANNELS = 1

Pcm = npt.NDArray[np.int16]


def float_to_pcm16(samples: npt.NDArray[np.floating]) -> Pcm:
    """Float samples in [-1, 1] to 16-bit PCM (clipped)."""
    scaled = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0) * 32767.0
    return np.round(scaled).astype(np.int16)


def frames_to_pcm(frames: list[av.AudioFrame]) -> Pcm:
    """Concatenate PyAV frames (already 16-bit mono) into one PCM array."""
    if not frames:
        return np.zeros(0, dtype=np.int16)
    return np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.int16)


class Resampler:
    """Streaming 16-bit mono resampler (PyAV / libswresample); identity when rates match."""

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._resampler = self._new()
        self._pts = 0

    def _new(self) -> av.AudioResampler | None:
        if self.in_rate == self.out_rate:
            return None
        return av.AudioResampler(format="s16", layout="mono", rate=self.out_rate)

    def process(self, samples: Pcm) -> Pcm:
        """Resample one block; may return fewer samples than expected until flushed."""
        if self._resampler is None or samples.size == 0:
            return samples
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, dtype=np.int16).reshape(1, -1),
            format="s16",
            layout="mono",
        )
        frame.sample_rate = self.in_rate
        frame.pts = self._pts
        self._pts += samples.size
        return frames_to_pcm(self._resampler.resample(frame))

    def flush(self) -> Pcm:
        """Return the samples still held inside the resampler; it is then ready for a new stream."""
        if self._resampler is None:
            return np.zeros(0, dtype=np.int16)
        tail = frames_to_pcm(self._resampler.resample(None))
        self._resampler, self._pts = self._new(), 0
        return tail


class Chunker:
    """Cuts a PCM stream into chunks of a fixed number of samples.

    The very first chunk goes out as soon as any audio exists (shorter if need be), because time to
    first audio matters more than uniform chunk sizes; later chunks are full size but those flushed.
    """

    def __init__(self, samples_per_chunk: int) -> None:
        self._size = samples_per_chunk
        self._pending: list[Pcm] = []
        self._pending_samples = 0
        self._sent_first = False

    def push(self, samples: Pcm) -> list[bytes]:
        """Add samples; return the chunks (16-bit little-endian bytes) that are ready."""
        if samples.size:
            self._pending.append(samples)
            self._pending_samples += samples.size
        if not self._pending_samples:
            return []
        if not self._sent_first:
            self._sent_first = True
            first = self._take(min(self._pending_samples, self._size))
            return [first, *self.push(np.zeros(0, dtype=np.int16))]
        chunks = []
        while self._pending_samples >= self._size:
            chunks.append(self._take(self._size))
        return chunks

    def flush(self) -> list[bytes]:
        """Return the remaining samples as a (short) chunk; pushing may go on afterwards."""
        if not self._pending_samples:
            return []
        return [self._take(self._pending_samples)]

    def _take(self, count: int) -> bytes:
        joined = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        head, tail = joined[:count], joined[count:]
        self._pending = [tail] if tail.size else []
        self._pending_samples = int(tail.size)
        return head.astype("<i2").tobytes()


class TrailingSilenceTrimmer:
    """Holds back quiet samples until louder audio follows; at the end keeps only a short tail.

    Generated speech often ends with a long near-silent stretch; this drops it while streaming.
    """

    def __init__(self, sample_rate: int, threshold: int = 64, keep_s: float = 0.1) -> None:
        self._threshold = threshold
        self._keep = int(sample_rate * keep_s)
        self._quiet: list[Pcm] = []

    def push(self, samples: Pcm) -> Pcm:
        """Return the audio that is certainly not trailing silence."""
        loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > self._threshold)
        if loud.size == 0:
            self._quiet.append(samples)
            return np.zeros(0, dtype=np.int16)
        cut = int(loud[-1]) + 1
        out = np.concatenate([*self._quiet, samples[:cut]])
        self._quiet = [samples[cut:]] if cut < samples.size else []
        return out

    def flush(self) -> Pcm:
        """The end of the stream: a short tail of the held-back quiet audio."""
        quiet = np.concatenate(self._quiet) if self._quiet else np.zeros(0, dtype=np.int16)
        self._quiet = []
        return quiet[: self._keep]
