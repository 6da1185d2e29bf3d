"""Speaking rate and volume for an engine that has neither itself (CSM): a streaming PCM stage.

Rate is a time-stretch that keeps the pitch: FFmpeg's `atempo` filter (WSOLA) in a PyAV filter
graph, fed as audio arrives. atempo covers 0.5×..2× in one stage, which is the whole range of the
`rate` option (-50%..+100%). Volume is a gain on the samples (clipped to 16 bits).

atempo only emits whole output frames sized from its input frames, so a block is fed in 20 ms
pieces: measured at 24 kHz, a first 80 ms CSM frame fed whole gives no output until the next
frame, fed in 20 ms pieces it gives 40 ms at +50% — only the filter's own window is held back.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

import av
import av.filter
import numpy as np

from wyoming_verba.core.audio import Pcm, frames_to_pcm
from wyoming_verba.engines.base import SentenceEnd
from wyoming_verba.protocol.options import SpeakOptions

_PIECE_S = 0.02


class AudioShaper:
    """Tempo and gain for one reply; flush() at the end of each sentence."""

    def __init__(self, sample_rate: int, tempo: float = 1.0, gain: float = 1.0) -> None:
        self.sample_rate = sample_rate
        self.tempo = tempo
        self.gain = gain
        self._piece = max(1, int(sample_rate * _PIECE_S))
        self._graph = self._new_graph()
        self._pts = 0

    @classmethod
    def for_options(cls, options: SpeakOptions, sample_rate: int) -> AudioShaper | None:
        """The stage for a request's rate and volume; None when neither changes anything."""
        tempo = 1.0 + (options.rate or 0) / 100
        gain = 1.0 + (options.volume or 0) / 100
        if tempo == 1.0 and gain == 1.0:
            return None
        return cls(sample_rate, tempo, gain)

    def _new_graph(self) -> av.filter.Graph | None:
        if self.tempo == 1.0:
            return None
        graph = av.filter.Graph()
        source = graph.add_abuffer(format="s16", sample_rate=self.sample_rate, layout="mono")
        stretch = graph.add("atempo", f"{self.tempo:.6f}")
        convert = graph.add("aformat", "sample_fmts=s16:channel_layouts=mono")
        sink = graph.add("abuffersink")
        source.link_to(stretch)
        stretch.link_to(convert)
        convert.link_to(sink)
        graph.configure()
        return graph

    def process(self, samples: Pcm) -> Pcm:
        """Shape one block; with a tempo change some audio stays in the filter until later."""
        if self._graph is None or samples.size == 0:
            return self._gained(samples)
        out: list[av.AudioFrame] = []
        for start in range(0, samples.size, self._piece):
            piece = np.ascontiguousarray(samples[start : start + self._piece], dtype=np.int16)
            frame = av.AudioFrame.from_ndarray(piece.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = self.sample_rate
            frame.pts = self._pts
            self._pts += piece.size
            self._graph.push(frame)
            out += _pull_all(self._graph)
        return self._gained(frames_to_pcm(out))

    def flush(self) -> Pcm:
        """The audio still inside the filter; the stage is then ready for the next sentence."""
        if self._graph is None:
            return np.zeros(0, dtype=np.int16)
        self._graph.push(None)
        tail = frames_to_pcm(_pull_all(self._graph))
        self._graph, self._pts = self._new_graph(), 0
        return self._gained(tail)

    def _gained(self, samples: Pcm) -> Pcm:
        if self.gain == 1.0 or samples.size == 0:
            return samples
        scaled = np.round(samples.astype(np.float32) * self.gain)
        return np.clip(scaled, -32768, 32767).astype(np.int16)


def _pull_all(graph: av.filter.Graph) -> list[av.AudioFrame]:
    frames: list[av.AudioFrame] = []
    while True:
        try:
            frame = graph.pull()
        except (av.BlockingIOError, av.EOFError):
            return frames
        assert isinstance(frame, av.AudioFrame)
        frames.append(frame)


async def shaped(
    stream: AsyncIterator[Pcm | SentenceEnd], shaper: AudioShaper | None
) -> AsyncGenerator[Pcm | SentenceEnd, None]:
    """An engine's stream through the stage; each sentence's audio is out before its end mark."""
    async for item in stream:
        if shaper is None:
            yield item
        elif isinstance(item, SentenceEnd):
            tail = shaper.flush()
            if tail.size:
                yield tail
            yield item
        else:
            pcm = shaper.process(item)
            if pcm.size:
                yield pcm
