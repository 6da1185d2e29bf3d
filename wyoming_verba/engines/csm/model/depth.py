"""The depth decoder with static KV: codebooks 1..31 of a frame in fixed-shape steps.

Each step calls transformers' own depth-decoder layers (so the arithmetic is the one `generate()`
does) with a cache object that writes into preallocated (slots, heads, positions, dim) buffers.
The first step (backbone state + codebook 0, two positions) writes [0, 2) and attends to it. Every
later step has one shape whatever its codebook: it writes its K/V at its position through a
one-hot mask and attends to all positions with a mask of those ≤ its own, so one compiled region
serves all 30 of them (per-codebook inputs are tensors chosen outside the region).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.nn import functional as F  # noqa: N812

from wyoming_verba.engines.csm.model.compat import cache_keyword
from wyoming_verba.engines.csm.model.sampling import SlotSampling, pick

# (previous code, its embedding offset, head, write one-hot, attention mask, cos, sin, positions,
#  sampling params, uniforms or None) -> code
NextStep = Callable[..., torch.Tensor]


class _StaticWindow:
    """Duck-types the `update` of transformers' Cache for the depth layers: writes the new K/V
    into static buffers, at [0, end) (`write` None) or where the one-hot `write` is set."""

    def __init__(
        self,
        keys: list[torch.Tensor],
        values: list[torch.Tensor],
        end: int,
        write: torch.Tensor | None = None,
    ) -> None:
        self._keys, self._values = keys, values
        self._end, self._write = end, write

    def update(
        self,
        key_states: torch.Tensor,
        value_states: torch.Tensor,
        layer_idx: int,
        **_: Any,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        keys, values = self._keys[layer_idx], self._values[layer_idx]
        if self._write is None:
            keys[:, :, : self._end] = key_states
            values[:, :, : self._end] = value_states
            return keys[:, :, : self._end], values[:, :, : self._end]
        keys.copy_(torch.where(self._write, key_states, keys))
        values.copy_(torch.where(self._write, value_states, values))
        return keys, values


class DepthDecoder:
    """Static-buffer depth decoding for up to `slots` rows."""

    def __init__(self, model: Any, slots: int) -> None:
        depth = model.depth_decoder
        config = depth.config
        self._model = depth.model
        self._lm_head = model.lm_head
        self._cache_keyword = cache_keyword(
            depth.model.layers[0],
            also=("attention_mask", "position_ids", "use_cache", "position_embeddings"),
        )
        self._vocab: int = depth.model.vocab_size
        self._heads = depth.codebooks_head.weight  # (num_codebooks - 1, hidden, vocab)
        self.num_codebooks: int = model.config.num_codebooks
        device = self._heads.device
        length = self.num_codebooks + 1
        positions = torch.arange(length, device=device)[None]
        probe = torch.zeros(1, 1, config.hidden_size, device=device, dtype=self._heads.dtype)
        self._cos, self._sin = depth.model.rotary_emb(probe, positions)
        self._positions = positions
        # Per codebook k ≥ 2: write at position k, attend to positions ≤ k (same shapes for all k).
        self._writes = [(positions[0] == k)[None, None, :, None] for k in range(length)]
        self._masks = [(positions[0] <= k)[None, None, None, :] for k in range(length)]
        self._offsets = [torch.tensor(k * self._vocab, device=device) for k in range(length)]
        shape = (slots, config.num_key_value_heads, length, config.head_dim)
        self.keys = [
            torch.zeros(shape, dtype=self._heads.dtype, device=device) for _ in depth.model.layers
        ]
        self.values = [torch.zeros_like(k) for k in self.keys]
        self.first_step: Callable[..., tuple[torch.Tensor, torch.Tensor]] = self.start
        self.next_step: NextStep = self.advance

    def decode(
        self,
        hidden: torch.Tensor,
        backbone_params: SlotSampling,
        depth_params: SlotSampling,
        noise: torch.Tensor | None,
        top_p: bool,
    ) -> torch.Tensor:
        """Codebooks 0..31 (rows, num_codebooks) from the backbone's last hidden state; `noise`
        (rows, num_codebooks, vocab) uniforms, None when greedy."""
        first, code = self.first_step(
            hidden, backbone_params, depth_params, _uniforms(noise, 0), _uniforms(noise, 1), top_p
        )
        codes = [first, code]
        for codebook in range(2, self.num_codebooks):
            window = slice(codebook, codebook + 1)
            code = self.next_step(
                code,
                self._offsets[codebook - 1],
                self._heads[codebook - 1],
                self._writes[codebook],
                self._masks[codebook],
                self._cos[:, window],
                self._sin[:, window],
                self._positions[:, window],
                depth_params,
                _uniforms(noise, codebook),
                top_p,
            )
            codes.append(code)
        return torch.stack(codes, dim=1)

    def start(
        self,
        hidden: torch.Tensor,
        backbone_params: SlotSampling,
        depth_params: SlotSampling,
        uniforms_0: torch.Tensor | None,
        uniforms_1: torch.Tensor | None,
        top_p: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Codebook 0 from the backbone state, then codebook 1 (positions 0 and 1)."""
        rows = hidden.shape[0]
        model = self._model
        first = pick(self._lm_head(hidden), backbone_params, uniforms_0, top_p)
        cache = _StaticWindow([k[:rows] for k in self.keys], [v[:rows] for v in self.values], 2)
        # Position 0 carries the backbone state, position 1 the first codebook (offset 0).
        embeds = torch.cat([hidden[:, None], model.embed_tokens(first[:, None])], dim=1)
        states = model.inputs_embeds_projector(embeds)
        rotary = (self._cos[:, :2], self._sin[:, :2])
        for layer in model.layers:
            states = layer(
                states,
                attention_mask=None,
                position_ids=self._positions[:, :2],
                **{self._cache_keyword: cache},
                use_cache=True,
                position_embeddings=rotary,
            )
        states = model.norm(states)
        logits = F.linear(states[:, -1], self._heads[0].T)
        return first, pick(logits, depth_params, uniforms_1, top_p)

    def advance(
        self,
        previous: torch.Tensor,
        offset: torch.Tensor,
        head: torch.Tensor,
        write: torch.Tensor,
        mask: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        positions: torch.Tensor,
        params: SlotSampling,
        uniforms: torch.Tensor | None,
        top_p: bool,
    ) -> torch.Tensor:
        """The next codebook from the previous one: one position, written where `write` is."""
        rows = previous.shape[0]
        model = self._model
        cache = _StaticWindow(
            [k[:rows] for k in self.keys], [v[:rows] for v in self.values], 0, write
        )
        states = model.inputs_embeds_projector(model.embed_tokens(previous[:, None] + offset))
        for layer in model.layers:
            states = layer(
                states,
                attention_mask=mask,
                position_ids=positions,
                **{self._cache_keyword: cache},
                use_cache=True,
                position_embeddings=(cos, sin),
            )
        states = model.norm(states)
        return pick(F.linear(states[:, -1], head.T), params, uniforms, top_p)

    def tensors(self) -> list[torch.Tensor]:
        """The static buffers (for address checks)."""
        return [*self.keys, *self.values]


def _uniforms(noise: torch.Tensor | None, codebook: int) -> torch.Tensor | None:
    return None if noise is None else noise[:, codebook]
