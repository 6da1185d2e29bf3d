"""One audio frame for every slot: a single fixed-shape step with no host synchronisation.

lm_head → sample codebook 0 → 31 depth steps → embed the frame → backbone step writing into the
slots → next hidden state. End-of-audio flags, frame counters and positions stay on the device:
a slot that ends (end-of-audio frame, or its frame cap) switches itself off inside the step, so the
host can read frame t's results while frame t+1 already runs.

The step runs over the first `rows` slots, where `rows` is a batch bucket (1, 2, 4, 8 … up to
csm.max_batch); unused slots in a bucket are inactive and change nothing. Compiling is regional:
the blocks that repeat (a backbone layer, a depth-decoder step) and the glue between them are each
compiled once with torch.compile (fullgraph=True) and shared by every layer and codebook, while
plain Python calls them in order; compiled, the step runs at full width (one bucket). On CUDA the
whole frame (Python, compiled regions and all) is captured as one CUDA graph per bucket and
replayed every frame.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch

from wyoming_verba.engines.csm.model.backbone import Backbone
from wyoming_verba.engines.csm.model.depth import DepthDecoder
from wyoming_verba.engines.csm.model.sampling import Sampling, uniform_noise
from wyoming_verba.engines.csm.model.slots import SlotState


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
        self._greedy = sampling.greedy
        self._top_p = sampling.uses_top_p
        self._vocab: int = model.config.vocab_size
        self.buckets = batch_buckets(slots.count)
        self._runners: dict[int, Callable[[], None]] = {
            rows: self._eager(rows) for rows in self.buckets
        }
        # The regions compile() replaces with compiled versions of themselves.
        self.noise: Callable[..., torch.Tensor] = self._noise
        self.begin: Callable[..., tuple[torch.Tensor, ...]] = self._begin
        self.commit: Callable[..., None] = self._commit

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

    def compile(self, progress: Callable[[int, int, str], None] | None = None) -> None:
        """Compile the step's regions (fullgraph: a graph break is an error) at full width and
        run them once, so nothing compiles on a user's request; on any failure the step stays
        eager. Compiled, every frame runs all slots (inactive ones change nothing): one compile
        of static shapes serves every batch size, where a dynamic batch dimension compiled each
        region twice (size 1 is always specialised) into slower kernels."""
        hooks = self._hooks()
        # On the CPU a region call costs mostly its wrapper; a C++ wrapper made the tiny step's
        # compiled/eager time 0.36 instead of 0.44 (one run each on a shared CPU).
        options: dict[str, Any] = {"cpp_wrapper": self.slots.device.type == "cpu"}
        rows = self.buckets[-1]
        try:
            for index, (owner, name) in enumerate(hooks, 1):
                compiled = torch.compile(getattr(owner, name), fullgraph=True, options=options)
                announce = partial(progress, index, len(hooks), name) if progress else None
                setattr(owner, name, _on_first_call(owner, name, compiled, announce))
            self._eager(rows)()
        except BaseException:
            for (owner, name), original in hooks.items():
                setattr(owner, name, original)
            raise
        self.buckets = [rows]
        self._runners = {rows: self._eager(rows)}

    def _hooks(self) -> dict[tuple[Any, str], Callable[..., Any]]:
        """The regions compile() swaps for compiled ones, with their eager originals."""
        names = [
            (self, "noise"),
            (self, "begin"),
            (self, "commit"),
            (self.depth, "first_step"),
            (self.depth, "next_step"),
            (self.backbone, "layer_step"),
        ]
        return {(owner, name): getattr(owner, name) for owner, name in names}

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
        """The step itself: eager Python calling the regions (compiled after compile())."""
        slots = self.slots
        noise = None if self._greedy else self.noise(slots.seeds[:rows], slots.draws[:rows])
        codes = self.depth.decode(
            slots.hidden[:rows],
            slots.backbone_sampling.rows(rows),
            slots.depth_sampling.rows(rows),
            noise,
            self._top_p,
        )
        embeds, emitted, finished, frames, *attention = self.begin(
            codes,
            slots.active[:rows],
            slots.frames[:rows],
            slots.limits[:rows],
            slots.positions[:rows],
        )
        hidden = self.backbone.layers(slots, embeds, emitted, *attention)
        self.commit(rows, hidden, codes, emitted, finished, frames)

    def _noise(self, seeds: torch.Tensor, draws: torch.Tensor) -> torch.Tensor:
        return uniform_noise(seeds, draws, self.backbone.num_codebooks, self._vocab)

    def _begin(
        self,
        codes: torch.Tensor,
        active: torch.Tensor,
        frames: torch.Tensor,
        limits: torch.Tensor,
        positions: torch.Tensor,
    ) -> tuple[torch.Tensor, ...]:
        """Flags and counters of the new frame, its embedding, the backbone's attention inputs."""
        end = self.backbone.is_end(codes)
        emitted = active & ~end
        frames = frames + emitted.long()
        finished = active & (end | (frames >= limits))
        embeds = self.backbone.embed_frames(codes[:, None, :])
        where, mask, cos, sin = self.backbone.attention_inputs(self.slots, len(codes), embeds)
        return embeds, emitted, finished, frames, where, mask, cos, sin

    def _commit(
        self,
        rows: int,
        hidden: torch.Tensor,
        codes: torch.Tensor,
        emitted: torch.Tensor,
        finished: torch.Tensor,
        frames: torch.Tensor,
    ) -> None:
        """Write the frame's results and the next hidden states into the slots."""
        slots = self.slots
        new_hidden = self.backbone.norm(hidden)
        old_hidden = slots.hidden[:rows]
        active = slots.active[:rows]
        old_hidden.copy_(torch.where(emitted[:, None], new_hidden, old_hidden))
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


def _on_first_call(
    owner: Any, name: str, compiled: Callable[..., Any], announce: Callable[[], None] | None
) -> Callable[..., Any]:
    """`compiled`, announced when its first call (which compiles it) begins; it then replaces
    itself, so frames call the compiled region directly."""

    def first(*args: Any, **kwargs: Any) -> Any:
        setattr(owner, name, compiled)
        if announce is not None:
            announce()
        return compiled(*args, **kwargs)

    return first


def cuda_api() -> Any:
    """torch.cuda, whose Stream and Event constructors are untyped, behind Any for mypy."""
    return torch.cuda
