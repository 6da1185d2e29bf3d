"""One frame on the device and its results on the host, without stalling the device.

Per frame: the frame step, then (on CUDA on its own stream) one batched Mimi decode of every slot
that produced a frame, then non-blocking copies of codes, flags and audio into pinned host memory
and an event. The host waits on that event only when it needs the results, so while it reads
frame t the device already runs frame t+1. A small ring of buffers keeps frames in flight apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from wyoming_verba.engines.csm.model.mimi import FRAME_SAMPLES, BatchedMimiDecoder
from wyoming_verba.engines.csm.model.step import FrameStep, cuda_api

_RING = 3


@dataclass
class FrameResults:
    """What one frame produced, for slots [0, rows): host tensors, valid after wait()."""

    codes: torch.Tensor  # (rows, num_codebooks)
    emitted: torch.Tensor  # (rows,) a real audio frame
    finished: torch.Tensor  # (rows,) the sentence ended (end-of-audio or frame cap)
    audio: torch.Tensor  # (rows, FRAME_SAMPLES) float32
    _event: Any = None

    def wait(self) -> None:
        """Block until the copies have landed (no-op on the CPU)."""
        if self._event is not None:
            self._event.synchronize()


class _Buffers:
    """One ring entry: device snapshots for Mimi and host copies of the results."""

    def __init__(self, step: FrameStep, pinned: bool) -> None:
        slots = step.slots
        count = slots.count
        self.codes = torch.zeros_like(slots.codes)
        self.emitted = torch.zeros_like(slots.emitted)
        self.host_codes = torch.zeros(slots.codes.shape, dtype=torch.long, pin_memory=pinned)
        self.host_emitted = torch.zeros(count, dtype=torch.bool, pin_memory=pinned)
        self.host_finished = torch.zeros(count, dtype=torch.bool, pin_memory=pinned)
        self.host_audio = torch.zeros(count, FRAME_SAMPLES, pin_memory=pinned)


class FramePipeline:
    """Runs frames and hands their results to the host."""

    def __init__(self, step: FrameStep, mimi: BatchedMimiDecoder) -> None:
        self.step = step
        self.mimi = mimi
        cuda = step.slots.device.type == "cuda"
        self._ring = [_Buffers(step, cuda) for _ in range(_RING)]
        self._next = 0
        self._mimi_stream: Any = cuda_api().Stream() if cuda else None

    @property
    def overlaps(self) -> bool:
        """True when results arrive asynchronously (CUDA): read frame t while t+1 runs."""
        return self._mimi_stream is not None

    def reset_stream(self, slot: int) -> None:
        """A new audio stream starts in `slot` (ordered after frames already in flight)."""
        if self._mimi_stream is None:
            self.mimi.reset(slot)
            return
        with torch.cuda.stream(self._mimi_stream):
            self.mimi.reset(slot)

    def launch(self, rows: int) -> FrameResults:
        """Run one frame for slots [0, rows); the results arrive asynchronously on CUDA."""
        buffers = self._ring[self._next]
        self._next = (self._next + 1) % _RING
        self.step.run(rows)
        slots = self.step.slots
        codes, emitted = buffers.codes[:rows], buffers.emitted[:rows]
        codes.copy_(slots.codes[:rows])
        emitted.copy_(slots.emitted[:rows])
        host = FrameResults(
            buffers.host_codes[:rows],
            buffers.host_emitted[:rows],
            buffers.host_finished[:rows],
            buffers.host_audio[:rows],
        )
        stream = self._mimi_stream
        overlapped = stream is not None
        host.codes.copy_(codes, non_blocking=overlapped)
        host.emitted.copy_(emitted, non_blocking=overlapped)
        host.finished.copy_(slots.finished[:rows], non_blocking=overlapped)
        if stream is None:
            host.audio.copy_(self.mimi.decode(codes[:, :, None], emitted))
            return host
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            audio = self.mimi.decode(codes[:, :, None], emitted)
            host.audio.copy_(audio, non_blocking=True)
            host._event = cuda_api().Event()
            host._event.record(stream)
        return host


def release_cuda_cache() -> None:
    """Hand the CUDA memory torch caches but no longer uses back to the driver (no CUDA: no-op)."""
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
