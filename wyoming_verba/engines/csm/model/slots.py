"""Fixed backbone KV slots: every request generates in a preallocated slot of 2048 positions.

All tensors here are allocated once and only ever written in place, so their addresses stay the
same from the first frame to the last (what a captured CUDA graph needs). The frame step reads
and writes them on the device; the generation thread changes them only between steps: a request
joins by copying its voice prefix's K/V into a free slot and prefilling its text there (eager),
and leaves by switching its slot off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from wyoming_verba.engines.csm.model.sampling import Sampling, SlotSampling

CONTEXT_LIMIT = 2048  # backbone positions: prompt + generated frames (csm-1b's trained length)


@dataclass
class VoicePrefix:
    """A prefilled reference turn (text, audio frames, end-of-audio frame) as per-layer K/V."""

    name: str
    speaker: int
    keys: list[torch.Tensor]  # per layer (1, kv_heads, length, head_dim)
    values: list[torch.Tensor]
    length: int

    @property
    def nbytes(self) -> int:
        """Device memory the prefix keeps (config.schema.VOICE_PREFIX_MIB_CSM_1B at most)."""
        return sum(t.nbytes for t in (*self.keys, *self.values))


class SlotState:
    """The device-side state of `count` slots: backbone K/V, positions, flags, sampling, seeds."""

    def __init__(self, model: Any, count: int, length: int = CONTEXT_LIMIT) -> None:
        config = model.config
        weight = model.lm_head.weight
        device, dtype = weight.device, weight.dtype
        head_dim = getattr(config, "head_dim", None) or (
            config.hidden_size // config.num_attention_heads
        )
        shape = (count, config.num_key_value_heads, length, head_dim)
        self.count, self.length = count, length
        self.device: torch.device = device
        layers = model.backbone_model.layers
        self.keys = [torch.zeros(shape, dtype=dtype, device=device) for _ in layers]
        self.values = [torch.zeros_like(k) for k in self.keys]
        self.hidden = torch.zeros(count, config.hidden_size, dtype=dtype, device=device)
        self.positions = torch.zeros(count, dtype=torch.long, device=device)  # next write position
        self.active = torch.zeros(count, dtype=torch.bool, device=device)
        self.frames = torch.zeros(count, dtype=torch.long, device=device)  # frames this sentence
        self.limits = torch.ones(count, dtype=torch.long, device=device)  # frame cap this sentence
        self.seeds = torch.zeros(count, dtype=torch.long, device=device)
        self.draws = torch.zeros(count, dtype=torch.long, device=device)  # noise counter
        self.backbone_sampling = SlotSampling.allocate(count, device)
        self.depth_sampling = SlotSampling.allocate(count, device)
        # What the last step produced (read by the host after the step).
        num_codebooks = config.num_codebooks
        self.codes = torch.zeros(count, num_codebooks, dtype=torch.long, device=device)
        self.emitted = torch.zeros(count, dtype=torch.bool, device=device)
        self.finished = torch.zeros(count, dtype=torch.bool, device=device)

    def tensors(self) -> list[torch.Tensor]:
        """Every tensor the step touches (for address checks)."""
        sampling = [self.backbone_sampling, self.depth_sampling]
        return [
            *self.keys,
            *self.values,
            self.hidden,
            self.positions,
            self.active,
            self.frames,
            self.limits,
            self.seeds,
            self.draws,
            *(t for s in sampling for t in (s.temperature, s.top_k, s.top_p)),
            self.codes,
            self.emitted,
            self.finished,
        ]

    def load_prefix(self, slot: int, prefix: VoicePrefix | None) -> int:
        """Copy a voice prefix's K/V into the slot; return the positions it fills."""
        if prefix is None:
            return 0
        for layer, (keys, values) in enumerate(zip(prefix.keys, prefix.values, strict=True)):
            self.keys[layer][slot, :, : prefix.length].copy_(keys[0])
            self.values[layer][slot, :, : prefix.length].copy_(values[0])
        return prefix.length

    def export_prefix(self, slot: int, length: int, name: str, speaker: int) -> VoicePrefix:
        """The slot's first `length` positions as a reusable voice prefix (copies)."""
        return VoicePrefix(
            name,
            speaker,
            [k[slot : slot + 1, :, :length].clone() for k in self.keys],
            [v[slot : slot + 1, :, :length].clone() for v in self.values],
            length,
        )

    def activate(
        self,
        slot: int,
        *,
        hidden: torch.Tensor,
        position: int,
        max_frames: int,
        seed: int,
        draws: int,
        sampling: Sampling,
    ) -> None:
        """Start (or continue) generating in a slot after its prompt was prefilled."""
        self.hidden[slot].copy_(hidden.reshape(-1))
        self.positions[slot] = position
        self.frames[slot] = 0
        self.limits[slot] = max_frames
        self.seeds[slot] = seed
        self.draws[slot] = draws
        self.backbone_sampling.set(slot, sampling.backbone)
        self.depth_sampling.set(slot, sampling.depth)
        self.active[slot] = True

    def deactivate(self, slot: int) -> None:
        """Stop generating in a slot (its K/V stays, e.g. for the next sentence)."""
        self.active[slot] = False
