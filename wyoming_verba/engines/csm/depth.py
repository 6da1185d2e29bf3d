"""The depth decoder with static KV: codebooks 1..31 of a frame in 31 unrolled, fixed-shape steps.

Each step calls transformers' own depth-decoder layers (so the arithmetic is the one `generate()`
does) with a cache object that writes into preallocated (slots, heads, positions, dim) buffers at
positions fixed by the step number. Step k always attends to positions [0, k] — a static slice, so
no mask is needed and no shape depends on data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.nn import functional as F  # noqa: N812

from .compat import cache_keyword

Picker = Callable[[torch.Tensor, int], torch.Tensor]  # (logits, codebook) -> token per row


class _StaticWindow:
    """Duck-types the `update` of transformers' Cache for the depth layers: writes the new K/V at
    [start, end) of static buffers and returns positions [0, end)."""

    def __init__(self, keys: list[torch.Tensor], values: list[torch.Tensor]) -> None:
        self._keys, self._values = keys, values
        self.start = self.end = 0

    def update(
        self,
        key_states: torch.Tensor,
        value_states: torch.Tensor,
        layer_idx: int,
        **_: Any,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        keys, values = self._keys[layer_idx], self._values[layer_idx]
        keys[:, :, self.start : self.end] = key_states
        values[:, :, self.start : self.end] = value_states
        return keys[:, :, : self.end], values[:, :, : self.end]


class DepthDecoder:
    """Static-buffer depth decoding for up to `slots` rows."""

    def __init__(self, model: Any, slots: int) -> None:
        depth = model.depth_decoder
        config = depth.config
        self._model = depth.model
        self._cache_keyword = cache_keyword(
            depth.model.layers[0],
            also=("attention_mask", "position_ids", "use_cache", "position_embeddings"),
        )
        self._vocab: int = depth.model.vocab_size
        self._heads = depth.codebooks_head.weight  # (num_codebooks - 1, hidden, vocab)
        self.num_codebooks: int = model.config.num_codebooks
        device = self._heads.device
        positions = torch.arange(self.num_codebooks + 1, device=device)[None]
        probe = torch.zeros(1, 1, config.hidden_size, device=device, dtype=self._heads.dtype)
        self._cos, self._sin = depth.model.rotary_emb(probe, positions)
        self._positions = positions
        shape = (slots, config.num_key_value_heads, self.num_codebooks + 1, config.head_dim)
        self.keys = [
            torch.zeros(shape, dtype=self._heads.dtype, device=device) for _ in depth.model.layers
        ]
        self.values = [torch.zeros_like(k) for k in self.keys]

    def decode(self, first: torch.Tensor, hidden: torch.Tensor, pick: Picker) -> torch.Tensor:
        """Codebooks 0..31 (rows, num_codebooks) from codebook 0 and the backbone's hidden state."""
        rows = first.shape[0]
        model = self._model
        cache = _StaticWindow([k[:rows] for k in self.keys], [v[:rows] for v in self.values])
        # Position 0 carries the backbone state, position 1 the first codebook (offset 0).
        embeds = torch.cat([hidden[:, None], model.embed_tokens(first[:, None])], dim=1)
        states = model.inputs_embeds_projector(embeds)
        codes = [first]
        for codebook in range(1, self.num_codebooks):
            cache.start = 0 if codebook == 1 else codebook
            cache.end = codebook + 1
            window = slice(cache.start, cache.end)
            rotary = (self._cos[:, window], self._sin[:, window])
            for layer in model.layers:
                states = layer(
                    states,
                    attention_mask=None,
                    position_ids=self._positions[:, window],
                    use_cache=True,
                    position_embeddings=rotary,
                    **{self._cache_keyword: cache},
                )
            states = model.norm(states)
            code = pick(F.linear(states[:, -1], self._heads[codebook - 1].T), codebook)
            codes.append(code)
            if codebook < self.num_codebooks - 1:
                offset = codebook * self._vocab
                states = model.inputs_embeds_projector(model.embed_tokens(code[:, None] + offset))
        return torch.stack(codes, dim=1)

    def tensors(self) -> list[torch.Tensor]:
        """The static buffers (for address checks)."""
        return [*self.keys, *self.values]
