"""The CSM frame loop as it was before the fixed-slot step (kept only to compare against).

A DynamicCache backbone step and a depth decoder whose cache is rebuilt every frame, each
layer called from Python: the launch-bound shape the frame step replaced.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F  # noqa: N812
from transformers import DynamicCache

from wyoming_verba.engines.csm.model.compat import cache_keyword


class PreviousLoop:
    """Greedy frames the old way, for `script/bench csm` only."""

    def __init__(self, model: Any) -> None:
        self.model = model
        depth = model.depth_decoder
        self._depth = depth.model
        self._heads = depth.codebooks_head.weight
        self._codebooks = model.config.num_codebooks
        device = self._heads.device
        self._positions = torch.arange(self._codebooks + 1, device=device)[None]
        probe = torch.zeros(1, 1, depth.config.hidden_size, device=device, dtype=self._heads.dtype)
        self._cos, self._sin = self._depth.rotary_emb(probe, self._positions)
        self._backbone_cache = cache_keyword(model.backbone_model, also=("inputs_embeds",))
        self._layer_cache = cache_keyword(
            self._depth.layers[0], also=("position_ids", "use_cache", "position_embeddings")
        )

    @torch.no_grad()
    def run(self, embeds: torch.Tensor, frames: int) -> torch.Tensor:
        backbone = self.model.backbone_model
        cache = {self._backbone_cache: DynamicCache(config=self.model.config)}
        hidden = backbone(inputs_embeds=embeds, use_cache=True, **cache).last_hidden_state[:, -1]
        out = []
        for _ in range(frames):
            frame = self._frame(hidden)
            out.append(frame)
            embedded = backbone.embed_tokens(frame[:, None, :])
            hidden = backbone(inputs_embeds=embedded, use_cache=True, **cache)
            hidden = hidden.last_hidden_state[:, -1]
        return torch.stack(out, dim=1)

    def _frame(self, hidden: torch.Tensor) -> torch.Tensor:
        model = self._depth
        first = self.model.lm_head(hidden).float().argmax(-1)
        cache = {self._layer_cache: DynamicCache(config=model.config)}
        embeds = model.embed_tokens(torch.stack([torch.zeros_like(first), first], dim=1))
        embeds[:, 0] = hidden
        states = model.inputs_embeds_projector(embeds)
        codes, start = [first], 0
        for codebook in range(1, self._codebooks):
            length = states.shape[1]
            window = slice(start, start + length)
            rotary = (self._cos[:, window], self._sin[:, window])
            for layer in model.layers:
                states = layer(
                    states,
                    position_ids=self._positions[:, window],
                    use_cache=True,
                    position_embeddings=rotary,
                    **cache,
                )
            states = model.norm(states)
            code = F.linear(states[:, -1], self._heads[codebook - 1].T).float().argmax(-1)
            codes.append(code)
            start += length
            offset = codebook * model.vocab_size
            states = model.inputs_embeds_projector(model.embed_tokens(code[:, None] + offset))
        return torch.stack(codes, dim=1)
