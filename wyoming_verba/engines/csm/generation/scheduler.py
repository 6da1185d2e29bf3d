"""The scheduler: which replies wait, which run, and in which slot — decided between frames.

A reply waits, holding nothing, until its first sentence is ready (a stream that sends no
speakable text never takes a slot); admission gives a free slot only to a ready sentence, the
longest waiting first. A running reply that has spoken a sentence and waits for the next one lends
its slot to a ready reply; it rebuilds its context in whichever slot it gets next. A sentence
that stays ready for csm.queue_timeout_s without a slot fails its reply with
EngineUnavailableError, so tts.fallback speaks it (or the client gets an Error saying why).
Between frames each running reply is tended: a cancelled or finished one frees its slot, one with
a sentence queued starts it (eager prefill). Runs on the generation thread only (`add` excepted).
"""

from __future__ import annotations

import logging
import queue
import time
from typing import Any

import torch

from wyoming_verba.engines.base import EngineUnavailableError
from wyoming_verba.engines.csm.generation.reply import END, Reply
from wyoming_verba.engines.csm.generation.running import RunningReply
from wyoming_verba.engines.csm.model.pipeline import FramePipeline, release_cuda_cache

_LOGGER = logging.getLogger(__name__)


class Scheduler:
    """Waiting replies (no slot, arrival order) and running ones (`running[slot]`, None: free)."""

    def __init__(self, pipeline: FramePipeline, chunk_frames: int) -> None:
        self._pipeline = pipeline
        self._chunk_frames = chunk_frames
        self._arrivals: queue.SimpleQueue[Reply] = queue.SimpleQueue()
        self.waiting: list[RunningReply] = []
        self.running: list[RunningReply | None] = [None] * pipeline.step.slots.count

    def add(self, reply: Reply) -> None:
        """A new reply (thread-safe); it waits until the next boundary."""
        self._arrivals.put(reply)

    def schedule(self) -> None:
        """At a frame boundary: admit ready replies into slots, then tend every running one."""
        self._admit()
        for running in self.running:
            if running is not None:
                self._tend(running)

    @property
    def generating(self) -> bool:
        """Some running reply is speaking a sentence (a frame step is due)."""
        return any(r is not None and r.generating for r in self.running)

    @property
    def has_work(self) -> bool:
        """Something needs the generation thread: an arrival, a ready sentence, a reply over."""
        if not self._arrivals.empty() or any(_needs_tending(w.reply) for w in self.waiting):
            return True
        return any(r is not None and _needs_tending(r.reply) for r in self.running)

    def free_slot(self) -> int | None:
        """A slot no reply holds (no lending)."""
        return next((i for i, r in enumerate(self.running) if r is None), None)

    def fail_all(self, err: Exception) -> None:
        """A step failed: every running reply gets the error; slots are freed, memory released."""
        failure = unavailable(err)
        for index, running in enumerate(self.running):
            self._pipeline.step.slots.deactivate(index)
            if running is not None:
                self.running[index] = None
                running.reply.deliver(failure)
        release_cuda_cache()

    def end_all(self) -> None:
        """The worker stops: every running, then every waiting reply gets END."""
        for index, running in enumerate(self.running):
            if running is not None:
                running.reply.deliver(END)
                self.running[index] = None
        for waiting in self.waiting:
            waiting.reply.deliver(END)
        self.waiting.clear()

    def _admit(self) -> None:
        num_codebooks = self._pipeline.step.backbone.num_codebooks
        while not self._arrivals.empty():
            reply = self._arrivals.get()
            self.waiting.append(RunningReply(reply, -1, self._chunk_frames, num_codebooks))
        self._settle(time.monotonic())
        ready = sorted(
            (w for w in self.waiting if w.reply.has_sentence), key=lambda w: w.reply.ready_since
        )
        for waiting in ready:
            slot = self._slot_for_admission()
            if slot is None:
                return
            self.waiting.remove(waiting)
            waiting.move(slot)
            self.running[slot] = waiting
            self._pipeline.reset_stream(slot)

    def _settle(self, now: float) -> None:
        """End waiting replies that are over (cancelled, or ended with nothing left to say) and
        fail those whose sentence waited too long for a slot."""
        for waiting in list(self.waiting):
            reply = waiting.reply
            if reply.cancelled.is_set() or reply.exhausted:
                self.waiting.remove(waiting)
                reply.deliver(END)
            elif reply.waited_too_long(now):
                self.waiting.remove(waiting)
                reply.deliver(busy_error(len(self.running), reply.queue_timeout_s))

    def _slot_for_admission(self) -> int | None:
        """A free slot, or the one a reply idle between sentences lends."""
        if None in self.running:
            return self.running.index(None)
        idle = self._lender()
        if idle is None:
            return None
        slot = idle.slot
        self._pipeline.step.slots.deactivate(slot)
        self.running[slot] = None
        idle.move(-1)
        self.waiting.append(idle)
        _LOGGER.debug("CSM slot %d lent by a reply waiting for its next sentence", slot)
        return slot

    def _lender(self) -> RunningReply | None:
        """The running reply idle the longest between sentences (nothing queued, not over)."""
        idle = [
            r
            for r in self.running
            if r is not None
            and not r.generating
            and not r.reply.has_sentence
            and not r.reply.exhausted
            and not r.reply.cancelled.is_set()
        ]
        return min(idle, key=lambda r: r.idle_since, default=None)

    def _tend(self, running: RunningReply) -> None:
        reply = running.reply
        if reply.cancelled.is_set():
            self._release(running)
        elif running.generating:
            return
        elif (sentence := reply.take()) is not None:
            if not reply.continuity:
                self._pipeline.reset_stream(running.slot)
            try:
                running.start(sentence, self._pipeline.step)
            except Exception as err:
                reply.deliver(unavailable(err))
                self._release(running, notify=False)
                release_cuda_cache()
        elif reply.exhausted:
            self._release(running)

    def _release(self, running: RunningReply, notify: bool = True) -> None:
        self._pipeline.step.slots.deactivate(running.slot)
        self.running[running.slot] = None
        if notify:
            running.reply.deliver(END)


def _needs_tending(reply: Reply) -> bool:
    """A sentence is ready, or the reply is over (cancelled, or ended with nothing left)."""
    return reply.has_sentence or reply.cancelled.is_set() or reply.exhausted


def busy_error(slot_count: int, timeout_s: float) -> EngineUnavailableError:
    """What a reply gets when no slot came free in time."""
    _LOGGER.warning(
        "CSM busy: no generation slot came free within %g s (csm.queue_timeout_s; "
        "csm.max_batch = %d)",
        timeout_s,
        slot_count,
    )
    return EngineUnavailableError(
        f"CSM is busy: all {slot_count} generation slots (csm.max_batch) stayed taken for "
        f"{timeout_s:g} s (csm.queue_timeout_s)"
    )


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
