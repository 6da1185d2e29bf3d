"""The generation thread: all model work happens here, never on the event loop.

Its loop, in the words of an inference engine: schedule (between frames the scheduler admits
ready replies into slots, lends idle ones, fails long waits, starts sentences and frees finished
or cancelled replies), run the frame step for the used slots, then postprocess (read the frame's
codes and audio and deliver them). Each frame is launched before the previous frame's results are
read, so the device keeps working while the host delivers audio — except when a generating reply
already has its next sentence queued: then the host reads the frame at once so that sentence
starts in the very next step. Any failure (CUDA out of memory included) fails the affected
replies and frees memory; the thread keeps running.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

from wyoming_verba.engines.csm.generation.reply import Reply
from wyoming_verba.engines.csm.generation.running import RunningReply
from wyoming_verba.engines.csm.generation.scheduler import Scheduler
from wyoming_verba.engines.csm.model.pipeline import FramePipeline, FrameResults

T = TypeVar("T")


class GenerationWorker:
    """Owns the model on its thread; submit(), call() and stop() are thread-safe."""

    def __init__(self, pipeline: FramePipeline, chunk_frames: int) -> None:
        self.pipeline = pipeline
        self.scheduler = Scheduler(pipeline, chunk_frames)
        self._calls: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._in_flight: list[tuple[FrameResults, list[RunningReply | None]]] = []
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
        self.scheduler.add(reply)
        self._wake.set()

    async def run(self, function: Callable[[], T]) -> T:
        """Run `function` on the generation thread and wait for its result (from the loop)."""
        return await asyncio.wrap_future(self.call(function))

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
        return self.scheduler.free_slot()

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

    def stop(self, wait_s: float = 30.0) -> None:
        """Stop after the current step (waiting up to `wait_s` for it); replies still held get
        END."""
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout=wait_s)

    def _run(self) -> None:
        scheduler = self.scheduler
        while not self._stopping.is_set():
            try:
                while not self._calls.empty():
                    self._calls.get()()
                scheduler.schedule()
                if scheduler.generating:
                    self._frame()
                elif self._in_flight:
                    self._postprocess(keep=0)
                else:
                    self._idle()
            except Exception as err:
                self._in_flight.clear()
                scheduler.fail_all(err)
        scheduler.end_all()

    def _idle(self) -> None:
        self._wake.clear()
        if self._calls.empty() and not self.scheduler.has_work:
            self._wake.wait(0.5)

    def _frame(self) -> None:
        running = self.scheduler.running
        used = 1 + max(i for i, r in enumerate(running) if r is not None and r.generating)
        rows = self.pipeline.step.bucket_for(used)
        results = self.pipeline.launch(rows)
        self.steps += 1
        generating = sum(1 for r in running if r is not None and r.generating)
        self.max_rows_seen = max(self.max_rows_seen, generating)
        self._in_flight.append((results, list(running[:rows])))
        # Read this frame now when a sentence may end and its successor is already waiting.
        waiting = any(r is not None and r.generating and r.reply.has_sentence for r in running)
        self._postprocess(keep=1 if self.pipeline.overlaps and not waiting else 0)

    def _postprocess(self, keep: int) -> None:
        """Read launched frames (all but the last `keep`) and hand each slot its frame."""
        slots = self.scheduler.running
        while len(self._in_flight) > keep:
            results, launched = self._in_flight.pop(0)
            results.wait()
            for row, running in enumerate(launched):
                if running is None or running.slot != row or slots[row] is not running:
                    continue  # freed (cancelled) or moved while this frame was in flight
                emitted, finished = bool(results.emitted[row]), bool(results.finished[row])
                running.draws += int(emitted or finished)
                if emitted:
                    running.take_frame(results.codes[row], results.audio[row])
                if finished:
                    running.finish_sentence()
