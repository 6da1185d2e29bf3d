"""The generation thread: all model work happens here, never on the event loop.

Requests join a running batch at frame boundaries (up to `max_batch` rows), every row advances one
frame per step, and audio is decoded and handed over every `chunk_frames` frames (the first chunk
after a single frame, for latency). A cancelled row leaves within one frame. Any failure (CUDA out
of memory included) frees what it can and fails the affected requests; the thread keeps running.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ...audio import Pcm, float_to_pcm16
from ..base import EngineUnavailableError
from .batch import Batch
from .frames import FrameModel, Sampling
from .mimi_stream import StreamingMimiDecoder
from .prompts import PromptBuilder, VoicePrefix

_LOGGER = logging.getLogger(__name__)

END = None
Delivery = Pcm | BaseException | None
FRAME_SAMPLES = 1920  # 80 ms at 24 kHz


@dataclass
class Job:
    """One sentence to generate; `deliver` is called from the worker thread."""

    ids: torch.Tensor
    prefix: VoicePrefix | None
    max_frames: int
    deliver: Callable[[Delivery], None]
    cancelled: threading.Event = field(default_factory=threading.Event)
    frames: list[torch.Tensor] = field(default_factory=list)  # every frame generated so far


@dataclass
class _Row:
    job: Job
    decoder: StreamingMimiDecoder
    pending: list[torch.Tensor] = field(default_factory=list)
    sent_first: bool = False


class GenerationWorker:
    """Owns the model on its thread; `submit` is thread-safe."""

    def __init__(
        self,
        frames: FrameModel,
        prompts: PromptBuilder,
        sampling: Sampling,
        chunk_frames: int,
        max_batch: int,
    ) -> None:
        self._frames = frames
        self._prompts = prompts
        self._sampling = sampling
        self._chunk_frames = chunk_frames
        self._max_batch = max_batch
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._batch: Batch[_Row] = Batch(frames)
        self._thread = threading.Thread(target=self._run, name="csm-generation", daemon=True)
        self._stopping = threading.Event()
        self.steps = 0
        self.max_rows_seen = 0

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def submit(self, job: Job) -> None:
        """Queue a job; it joins the batch at the next frame boundary."""
        self._jobs.put(job)

    def stop(self) -> None:
        """Stop after the current step; pending jobs get END."""
        self._stopping.set()
        self._jobs.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._admit()
                if len(self._batch):
                    self._step()
            except Exception as err:
                self._fail_all(err)
        for row in self._batch.rows:
            row.job.deliver(END)
        self._batch.keep([])

    def _admit(self) -> None:
        block = not len(self._batch)
        while len(self._batch) < self._max_batch:
            try:
                job = self._jobs.get(block=block, timeout=0.5 if block else None)
            except queue.Empty:
                return
            if job is None:
                return
            block = False
            if job.cancelled.is_set():
                continue
            try:
                prefill = self._prompts.prefill(job.prefix, job.ids)
            except Exception as err:
                job.deliver(_unavailable(err))
                _free_memory()
                continue
            row = _Row(job, StreamingMimiDecoder(self._frames.model.codec_model))
            self._batch.add(row, prefill.cache, prefill.hidden, prefill.length)
            self.max_rows_seen = max(self.max_rows_seen, len(self._batch))

    def _step(self) -> None:
        batch = self._batch
        alive = [i for i, row in enumerate(batch.rows) if not row.job.cancelled.is_set()]
        batch.keep(alive)
        if not len(batch):
            return
        assert batch.hidden is not None
        frames = self._frames.frame(batch.hidden, self._sampling)
        ended = self._frames.is_end(frames).tolist()
        self.steps += 1
        continuing = []
        for index, row in enumerate(batch.rows):
            if ended[index]:
                self._finish(row)
                continue
            frame = frames[index]
            row.job.frames.append(frame)
            row.pending.append(frame)
            if len(row.job.frames) >= row.job.max_frames:
                self._finish(row)
                continue
            if len(row.pending) >= (self._chunk_frames if row.sent_first else 1):
                self._emit(row)
            continuing.append(index)
        batch.keep(continuing)
        if continuing:
            batch.advance(frames[continuing])

    def _emit(self, row: _Row) -> None:
        if not row.pending:
            return
        codes = torch.stack(row.pending, dim=1)  # (num_codebooks, n)
        row.pending = []
        audio = row.decoder.decode(codes).cpu().numpy()
        row.sent_first = True
        row.job.deliver(float_to_pcm16(np.asarray(audio, dtype=np.float32)))

    def _finish(self, row: _Row) -> None:
        self._emit(row)
        row.job.deliver(END)

    def _fail_all(self, err: Exception) -> None:
        rows = list(self._batch.rows)
        self._batch.keep([])
        _free_memory()
        failure = _unavailable(err)
        for row in rows:
            row.job.deliver(failure)


def _unavailable(err: Exception) -> EngineUnavailableError:
    if _is_out_of_memory(err):
        _LOGGER.error("CSM ran out of GPU memory; lower csm.max_audio_s or csm.max_batch")
        return EngineUnavailableError(
            "CSM ran out of GPU memory (lower csm.max_audio_s or csm.max_batch, or use float16)"
        )
    _LOGGER.exception("CSM generation failed", exc_info=err)
    return EngineUnavailableError(f"CSM generation failed: {type(err).__name__}: {err}")


def _is_out_of_memory(err: BaseException) -> bool:
    oom = getattr(torch, "OutOfMemoryError", None)
    return (oom is not None and isinstance(err, oom)) or "out of memory" in str(err).lower()


def _free_memory() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
