"""Sampling on the device, safe inside a compiled graph or a CUDA graph.

Temperature, top-k and top-p are per-slot tensors. A draw is the exponential race: the argmax of
p / E with E ~ Exp(1) independent per token, which picks token i with probability p_i (the same
distribution as `torch.multinomial`) but needs no host sync and no torch RNG state. The noise comes
from a counter-based hash of (slot seed, frame counter, codebook, token), so a seed reproduces the
same audio whatever else is in the batch, and nothing in the graph holds generator state.
Temperature 0 is exact greedy (argmax of the raw logits).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

_MASK32 = 0xFFFFFFFF
_UNIFORM_SCALE = 2.0**-24


@dataclass(frozen=True)
class SamplingParams:
    """One stage's sampling: temperature (0 = greedy), top-k (0 = off), top-p (1.0 = off)."""

    temperature: float
    top_k: int = 0
    top_p: float = 1.0

    @property
    def greedy(self) -> bool:
        """True when this stage always takes the most likely token."""
        return self.temperature <= 0


@dataclass(frozen=True)
class Sampling:
    """The backbone's (codebook 0) and the depth decoder's (codebooks 1..31) sampling."""

    backbone: SamplingParams
    depth: SamplingParams

    @property
    def greedy(self) -> bool:
        """True when every codebook is greedy: the step can skip the sampling work."""
        return self.backbone.greedy and self.depth.greedy

    @property
    def uses_top_p(self) -> bool:
        """True when some stage filters by top-p (needs a sort over the vocabulary)."""
        return any(not p.greedy and p.top_p < 1.0 for p in (self.backbone, self.depth))

    def with_temperature(self, temperature: float | None) -> Sampling:
        """Both stages at another temperature (a request's own); unchanged for None."""
        if temperature is None:
            return self
        return Sampling(
            SamplingParams(temperature, self.backbone.top_k, self.backbone.top_p),
            SamplingParams(temperature, self.depth.top_k, self.depth.top_p),
        )


def _stage_defaults(config: Any) -> SamplingParams:
    if not getattr(config, "do_sample", False):
        return SamplingParams(0.0)
    return SamplingParams(
        float(getattr(config, "temperature", None) or 1.0),
        int(getattr(config, "top_k", None) or 0),
        float(getattr(config, "top_p", None) or 1.0),
    )


def sampling_from_model(
    model: Any,
    temperature: float | None = None,
    top_k: int | None = None,
    top_p: float | None = None,
) -> Sampling:
    """Defaults from the model's generation configs (backbone and depth decoder each its own),
    with csm.temperature / top_k / top_p overriding both when set."""
    stages = [
        _stage_defaults(model.generation_config),
        _stage_defaults(model.depth_decoder.generation_config),
    ]
    if temperature is not None or top_k is not None or top_p is not None:
        stages = [
            SamplingParams(
                stage.temperature if temperature is None else temperature,
                stage.top_k if top_k is None else top_k,
                stage.top_p if top_p is None else top_p,
            )
            for stage in stages
        ]
    return Sampling(*stages)


def _mul32(x: torch.Tensor, constant: int) -> torch.Tensor:
    """(x * constant) mod 2**32 for x in [0, 2**32), without int64 overflow."""
    low = (x & 0xFFFF) * constant
    high = ((x >> 16) * (constant & 0xFFFF)) << 16
    return (low + high) & _MASK32


def _hash32(x: torch.Tensor) -> torch.Tensor:
    """A well-mixed 32-bit integer hash (Wellons' lowbias32) on int64 tensors."""
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


def uniform_noise(
    seeds: torch.Tensor, counters: torch.Tensor, streams: int, vocab: int
) -> torch.Tensor:
    """Uniforms in (0, 1) of shape (slots, streams, vocab), a pure function of seed and counter."""
    base = _hash32((seeds & _MASK32) ^ _hash32((counters * 0x9E3779B1) & _MASK32))
    stream = _mul32(torch.arange(streams, device=seeds.device), 0x85EBCA6B)
    token = _mul32(torch.arange(vocab, device=seeds.device), 0xC2B2AE35)
    keyed = _hash32(base[:, None] ^ stream[None, :])
    bits = _hash32(keyed[:, :, None] ^ token[None, None, :])
    return ((bits >> 8).float() + 0.5) * _UNIFORM_SCALE


@dataclass
class SlotSampling:
    """Per-slot sampling tensors for one stage (shape (slots,) each)."""

    temperature: torch.Tensor
    top_k: torch.Tensor
    top_p: torch.Tensor

    @classmethod
    def allocate(cls, slots: int, device: torch.device) -> SlotSampling:
        """Greedy for every slot until set."""
        return cls(
            torch.zeros(slots, device=device),
            torch.zeros(slots, dtype=torch.long, device=device),
            torch.ones(slots, device=device),
        )

    def set(self, slot: int, params: SamplingParams) -> None:
        """Write one slot's parameters in place (the tensors keep their addresses)."""
        self.temperature[slot] = params.temperature
        self.top_k[slot] = params.top_k
        self.top_p[slot] = params.top_p

    def rows(self, count: int) -> SlotSampling:
        """The first `count` slots (views)."""
        return SlotSampling(self.temperature[:count], self.top_k[:count], self.top_p[:count])


def pick(
    logits: torch.Tensor,
    params: SlotSampling,
    uniforms: torch.Tensor | None,
    use_top_p: bool = True,
) -> torch.Tensor:
    """One token per row from logits (rows, vocab); `uniforms` None means every row is greedy.

    Same filtering as transformers' warpers, in their order: temperature, top-k (ties with the
    k-th score kept), top-p (keeping at least one token).
    """
    scores = logits.float()
    greedy = scores.argmax(-1)
    if uniforms is None:
        return greedy
    vocab = scores.shape[-1]
    scores = scores / params.temperature.clamp_min(1e-5)[:, None]
    k = torch.where(params.top_k > 0, params.top_k, vocab).clamp(max=vocab)
    ordered, order = scores.sort(dim=-1, descending=True)
    kth = ordered.gather(-1, (k - 1)[:, None])
    remove = scores < kth
    if use_top_p:
        ordered = ordered.masked_fill(ordered < kth, float("-inf"))
        probs = torch.softmax(ordered, dim=-1)
        before = probs.cumsum(-1) - probs
        drop = (before >= params.top_p[:, None]) & (params.top_p[:, None] < 1.0)
        drop[:, 0] = False
        remove = remove | torch.zeros_like(drop).scatter(-1, order, drop)
    probs = torch.softmax(scores.masked_fill(remove, float("-inf")), dim=-1)
    race = (probs / -torch.log(uniforms)).argmax(-1)
    return torch.where(params.temperature > 0, race, greedy)
