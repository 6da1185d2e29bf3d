"""One audio frame for every slot: a single fixed-shape step with no host synchronisation.

lm_head → sample codebook 0 → 31 depth steps → embed the frame → backbone step writing into the
slots → next hidden state. End-of-audio flags, frame counters and positions stay on the device:
a slot that ends (end-of-audio frame, or its frame cap) switches itself off inside the step, so the
host can read frame t's results while frame t+1 already runs.

The step runs over the first `rows` slots, where `rows` is a batch bucket (1, 2, 4, 8 … up to
csm.max_batch); unused slots in a bucket are inactive and change nothing. Per bucket the step is
eager, compiled whole (torch.compile fullgraph=True), or on CUDA compiled and captured as a CUDA
graph that is replayed every frame.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .backbone import Backbone
from .depth import DepthDecoder
from .sampling import Sampling, pick, uniform_noise
from .slots import SlotState


def batch_buckets(max_batch: int) -> list[int]:
    """1, 2, 4, … below max_batch, then max_batch itself."""
    buckets, size = [], 1
    while size < max_batch:
        buckets.append(size)
        size *= 2
    return [*buckets, max_batch]


class FrameStep:
    """The frame step over shared slots; `run(rows)` generates one frame for slots [0, rows)."""

    def __init__(self, model: Any, slots: SlotState, sampling: Sampling) -> None:
        self.backbone = Backbone(model)
        self.slots = slots
        self.depth = DepthDecoder(model, slots.count)
        self.sampling = sampling
        self._lm_head = model.lm_head
        self._greedy = sampling.greedy
        self._top_p = sampling.uses_top_p
        self._vocab: int = model.config.vocab_size
        self.buckets = batch_buckets(slots.count)
        self._runners: dict[int, Callable[[], None]] = {
            rows: self._eager(rows) for rows in self.buckets
        }

    def bucket_for(self, used: int) -> int:
        """The smallest bucket holding slots [0, used)."""
        return next(rows for rows in self.buckets if rows >= used)

    def run(self, rows: int) -> None:
        """One frame for slots [0, rows); results in slots.codes / emitted / finished."""
        self._runners[rows]()

    def _eager(self, rows: int) -> Callable[[], None]:
        def run() -> None:
            with torch.no_grad():
                self.frame(rows)

        return run

    def compile(self) -> None:
        """Compile the whole step per bucket (fullgraph: a graph break is an error); on any
        failure the step stays as it was."""
        runners = dict(self._runners)
        for rows in self.buckets:
            compiled = torch.compile(self.frame, fullgraph=True, dynamic=False)

            def run(rows: int = rows, compiled: Any = compiled) -> None:
                with torch.no_grad():
                    compiled(rows)

            run()  # compile now, not on a user's first request
            runners[rows] = run
        self._runners = runners

    def capture(self) -> None:
        """On CUDA: capture each bucket's step as a CUDA graph, replayed by run(); on any failure
        the step stays as it was."""
        runners = dict(self._runners)
        pool = None
        for rows in self.buckets:
            runner = self._runners[rows]
            side = cuda_api().Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(2):
                    runner()
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=pool):
                runner()
            pool = graph.pool()
            runners[rows] = graph.replay  # the bound method keeps the graph (and its pool) alive
        self._runners = runners

    def frame(self, rows: int) -> None:
        """The step itself (traced whole by torch.compile)."""
        slots = self.slots
        active = slots.active[:rows]
        hidden = slots.hidden[:rows]
        noise = (
            None
            if self._greedy
            else uniform_noise(
                slots.seeds[:rows], slots.draws[:rows], self.backbone.num_codebooks, self._vocab
            )
        )
        backbone_params = slots.backbone_sampling.rows(rows)
        depth_params = slots.depth_sampling.rows(rows)

        def pick_depth(logits: torch.Tensor, codebook: int) -> torch.Tensor:
            uniforms = None if noise is None else noise[:, codebook]
            return pick(logits, depth_params, uniforms, self._top_p)

        first = pick(
            self._lm_head(hidden),
            backbone_params,
            None if noise is None else noise[:, 0],
            self._top_p,
        )
        codes = self.depth.decode(first, hidden, pick_depth)
        end = self.backbone.is_end(codes)
        emitted = active & ~end
        frames = slots.frames[:rows] + emitted.long()
        finished = active & (end | (frames >= slots.limits[:rows]))
        embeds = self.backbone.embed_frames(codes[:, None, :])
        new_hidden = self.backbone.step(slots, rows, embeds, emitted)
        hidden.copy_(torch.where(emitted[:, None], new_hidden, hidden))
        slots.positions[:rows] += emitted.long()
        slots.frames[:rows] = frames
        slots.draws[:rows] += active.long()
        active &= ~finished
        slots.codes[:rows] = codes
        slots.emitted[:rows] = emitted
        slots.finished[:rows] = finished

    def tensors(self) -> list[torch.Tensor]:
        """Every persistent tensor the step reads or writes."""
        return [*self.slots.tensors(), *self.depth.tensors()]


def cuda_api() -> Any:
    """torch.cuda, whose Stream and Event constructors are untyped, behind Any for mypy."""
    return torch.cuda
