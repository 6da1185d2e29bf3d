"""The generation thread: all model work happens here, never on the event loop.

Between frame steps it admits replies with a sentence ready into free slots (see admission:
replies waiting for text hold nothing; one idle between sentences lends its slot; a long wait
fails the reply for the fallback), starts their sentences (eager prefill),
switches off cancelled ones and frees finished ones. Each frame is launched before the previous
frame's results are read, so the device keeps working while the host delivers audio — except when
a generating reply already has its next sentence queued: then the host reads the frame at once so
that sentence starts in the very next step. Any failure (CUDA out of memory included) fails the
affected replies and frees memory; the thread keeps running.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import torch

from wyoming_verba.engines.base import EngineUnavailableError
from wyoming_verba.engines.csm.generation.reply import END, Reply
from wyoming_verba.engines.csm.generation.running import Occupant
from wyoming_verba.engines.csm.generation.scheduler import WaitingRoom, lender
from wyoming_verba.engines.csm.model.pipeline import FramePipeline, FrameResults

_LOGGER = logging.getLogger(__name__)
T = TypeVar("T")


class GenerationWorker:
    """Owns the model on its thread; submit(), call() and stop() are thread-safe."""

    def __init__(self, pipeline: FramePipeline, chunk_frames: int) -> None:
        self.pipeline = pipeline
        self._chunk_frames = chunk_frames
        self._slots: list[Occupant | None] = [None] * pipeline.step.slots.count
        self._replies: queue.SimpleQueue[Reply] = queue.SimpleQueue()
        self._waiting = WaitingRoom()
        self._calls: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._in_flight: list[tuple[FrameResults, list[Occupant | None]]] = []
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="csm-generation", daemon=True)
        self.steps = 0
        self.max_rows_seen = 0
        self._held = 0  # replies submitted and not yet ended (queued or in a slot)
        self._held_lock = threading.Lock()
        self.last_active = time.monotonic()

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def submit(self, reply: Reply) -> None:
        """Queue a reply; it takes a slot at a frame boundary once a sentence of it is ready."""
        with self._held_lock:
            self._held += 1
        reply.attach(self._wake.set, self._released)
        self._replies.put(reply)
        self._wake.set()

    def call(self, function: Callable[[], T]) -> Future[T]:
        """Run `function` on the generation thread between frames (loading, compiling)."""
        future: Future[T] = Future()

        def run() -> None:
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(function())
                except BaseException as err:  # handed to the caller
                    future.set_exception(err)

        self._calls.put(run)
        self._wake.set()
        return future

    def free_slot(self) -> int | None:
        """A slot no reply holds; only meaningful on the generation thread (inside call())."""
        return next((i for i, o in enumerate(self._slots) if o is None), None)

    @property
    def busy(self) -> bool:
        """True while some reply is queued or holds a slot (it must not lose the model)."""
        with self._held_lock:
            return self._held > 0

    def _released(self) -> None:
        """A held reply made its last delivery (finished, cancelled, timed out, failed)."""
        with self._held_lock:
            self._held -= 1
            self.last_active = time.monotonic()

    def stop(self) -> None:
        """Stop after the current step; replies still held get END."""
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._boundary()
                if any(o is not None and o.generating for o in self._slots):
                    self._frame()
                elif self._in_flight:
                    self._collect(keep=0)
                else:
                    self._idle()
            except Exception as err:
                self._fail_all(err)
        for index, occupant in enumerate(self._slots):
            if occupant is not None:
                occupant.reply.deliver(END)
                self._slots[index] = None
        self._waiting.end_all()

    def _idle(self) -> None:
        self._wake.clear()
        if not self._has_work():
            self._wake.wait(0.5)

    def _has_work(self) -> bool:
        if not self._replies.empty() or not self._calls.empty() or self._waiting.has_work:
            return True
        return any(
            o is not None
            and (o.reply.cancelled.is_set() or o.reply.has_sentence or o.reply.exhausted)
            for o in self._slots
        )

    def _boundary(self) -> None:
        while not self._calls.empty():
            self._calls.get()()
        self._admit()
        for occupant in self._slots:
            if occupant is not None:
                self._tend(occupant)

    def _admit(self) -> None:
        num_codebooks = self.pipeline.step.backbone.num_codebooks
        while not self._replies.empty():
            reply = self._replies.get()
            self._waiting.add(Occupant(reply, -1, self._chunk_frames, num_codebooks))
        self._waiting.settle(time.monotonic(), len(self._slots))
        for occupant in self._waiting.ready():
            slot = self._free_slot()
            if slot is None:
                return
            self._waiting.remove(occupant)
            occupant.move(slot)
            self._slots[slot] = occupant
            self.pipeline.reset_stream(slot)

    def _free_slot(self) -> int | None:
        """A free slot, or the one a reply idle between sentences lends."""
        if None in self._slots:
            return self._slots.index(None)
        idle = lender(self._slots)
        if idle is None:
            return None
        slot = idle.slot
        self.pipeline.step.slots.deactivate(slot)
        self._slots[slot] = None
        idle.move(-1)
        self._waiting.add(idle)
        _LOGGER.debug("CSM slot %d lent by a reply waiting for its next sentence", slot)
        return slot

    def _tend(self, occupant: Occupant) -> None:
        reply = occupant.reply
        if reply.cancelled.is_set():
            self._release(occupant)
        elif occupant.generating:
            return
        elif (sentence := reply.take()) is not None:
            if not reply.continuity:
                self.pipeline.reset_stream(occupant.slot)
            try:
                occupant.start(sentence, self.pipeline.step)
            except Exception as err:
                reply.deliver(unavailable(err))
                self._release(occupant, notify=False)
                free_memory()
        elif reply.exhausted:
            self._release(occupant)

    def _release(self, occupant: Occupant, notify: bool = True) -> None:
        self.pipeline.step.slots.deactivate(occupant.slot)
        self._slots[occupant.slot] = None
        if notify:
            occupant.reply.deliver(END)

    def _frame(self) -> None:
        used = 1 + max(i for i, o in enumerate(self._slots) if o is not None and o.generating)
        rows = self.pipeline.step.bucket_for(used)
        results = self.pipeline.launch(rows)
        self.steps += 1
        generating = sum(1 for o in self._slots if o is not None and o.generating)
        self.max_rows_seen = max(self.max_rows_seen, generating)
        self._in_flight.append((results, list(self._slots[:rows])))
        # Read this frame now when a sentence may end and its successor is already waiting.
        waiting = any(o is not None and o.generating and o.reply.has_sentence for o in self._slots)
        self._collect(keep=1 if self.pipeline.overlaps and not waiting else 0)

    def _collect(self, keep: int) -> None:
        while len(self._in_flight) > keep:
            results, occupants = self._in_flight.pop(0)
            results.wait()
            for row, occupant in enumerate(occupants):
                if occupant is None or occupant.slot != row or self._slots[row] is not occupant:
                    continue  # freed (cancelled) or moved while this frame was in flight
                emitted, finished = bool(results.emitted[row]), bool(results.finished[row])
                occupant.draws += int(emitted or finished)
                if emitted:
                    occupant.take_frame(results.codes[row], results.audio[row])
                if finished:
                    occupant.finish_sentence()

    def _fail_all(self, err: Exception) -> None:
        self._in_flight.clear()
        failure = unavailable(err)
        for index, occupant in enumerate(self._slots):
            self.pipeline.step.slots.deactivate(index)
            if occupant is not None:
                self._slots[index] = None
                occupant.reply.deliver(failure)
        free_memory()


def unavailable(err: BaseException) -> EngineUnavailableError:
    """The error a reply gets when CSM failed under it (out of memory says what to change)."""
    if is_out_of_memory(err):
        _LOGGER.error("CSM ran out of GPU memory; lower csm.max_batch or csm.max_audio_s")
        return EngineUnavailableError(
            "CSM ran out of GPU memory (lower csm.max_batch or csm.max_audio_s, or use float16)"
        )
    _LOGGER.error("CSM generation failed: %s: %s", type(err).__name__, err, exc_info=err)
    return EngineUnavailableError(f"CSM generation failed: {type(err).__name__}: {err}")


def is_out_of_memory(err: BaseException) -> bool:
    """CUDA out of memory, however torch reports it."""
    oom: Any = getattr(torch, "OutOfMemoryError", None)
    return (oom is not None and isinstance(err, oom)) or "out of memory" in str(err).lower()


def free_memory() -> None:
    """Give cached CUDA memory back after a failure."""
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
