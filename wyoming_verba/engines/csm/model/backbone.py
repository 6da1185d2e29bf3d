"""The CSM backbone: embeddings, eager prefill into a slot, and the fixed-shape one-frame step.

Prefill runs transformers' own backbone (the exact computation `generate()` does) over a cache
seeded with the slot's K/V, then copies the new K/V into the slot. The per-frame step is our own
forward over the same modules, written for fixed shapes: every slot's new K/V is written at its
own position (a device tensor) and attention covers all 2048 positions with a mask built on the
device, so no shape depends on how far a slot has got.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F  # noqa: N812
from transformers import DynamicCache
from transformers.models.csm.modeling_csm import apply_rotary_pos_emb

from wyoming_verba.engines.csm.model.compat import cache_keyword
from wyoming_verba.engines.csm.model.slots import SlotState


class Backbone:
    """Wraps a loaded CsmForConditionalGeneration's backbone for slot prefill and frame steps."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self._backbone = model.backbone_model
        config = model.config
        self.num_codebooks: int = config.num_codebooks
        self.eos_code: int = config.codebook_eos_token_id
        self.device: torch.device = model.lm_head.weight.device
        self._heads: int = config.num_attention_heads
        self._kv_heads: int = config.num_key_value_heads
        # The per-layer region: compile() swaps in a compiled layer (one for every layer).
        self.layer_step = self.layer
        self._cache_keyword = cache_keyword(self._backbone, also=("inputs_embeds", "use_cache"))

    @torch.no_grad()
    def embed_prompt(
        self,
        input_ids: torch.Tensor,
        input_values: torch.Tensor | None = None,
        input_values_cutoffs: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Prompt embeddings (1, n, hidden): text tokens, plus reference audio encoded by Mimi."""
        merged = self.model._merge_input_ids_with_input_values(
            input_ids.to(self.device),
            None if input_values is None else input_values.to(self.device),
            None if input_values_cutoffs is None else input_values_cutoffs.to(self.device),
        )
        return merged["inputs_embeds"]  # type: ignore[no-any-return]

    @torch.no_grad()
    def embed_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """Embeddings of audio frames (batch, n, num_codebooks) as the backbone sees them."""
        return self._backbone.embed_tokens(frames.to(self.device))  # type: ignore[no-any-return]

    def end_frame(self, count: int = 1) -> torch.Tensor:
        """The end-of-audio frame (every codebook the EOS code), shape (1, count, codebooks)."""
        return torch.full(
            (1, count, self.num_codebooks), self.eos_code, dtype=torch.long, device=self.device
        )

    def is_end(self, frames: torch.Tensor) -> torch.Tensor:
        """Rows whose frame is end-of-audio (every codebook but the last is the EOS code)."""
        return (frames[..., :-1] == self.eos_code).all(dim=-1)

    @torch.no_grad()
    def prefill(
        self, slots: SlotState, slot: int, start: int, embeds: torch.Tensor
    ) -> torch.Tensor:
        """Run `embeds` (1, n, hidden) after the slot's first `start` positions; return the last
        hidden state (1, hidden). The new K/V land in the slot at [start, start + n)."""
        cache: Any = DynamicCache(config=self.model.config)
        if start:
            for layer, (keys, values) in enumerate(zip(slots.keys, slots.values, strict=True)):
                cache.update(
                    keys[slot : slot + 1, :, :start], values[slot : slot + 1, :, :start], layer
                )
        out = self._backbone(inputs_embeds=embeds, use_cache=True, **{self._cache_keyword: cache})
        end = start + int(embeds.shape[1])
        for layer, (keys, values) in enumerate(zip(slots.keys, slots.values, strict=True)):
            keys[slot, :, start:end].copy_(cache.layers[layer].keys[0, :, start:end])
            values[slot, :, start:end].copy_(cache.layers[layer].values[0, :, start:end])
        return out.last_hidden_state[:, -1]  # type: ignore[no-any-return]

    def step(
        self, slots: SlotState, rows: int, embeds: torch.Tensor, write: torch.Tensor
    ) -> torch.Tensor:
        """One token per slot for the first `rows` slots: embeds (rows, 1, hidden) at each slot's
        position; K/V written only where `write` is set. Returns the new last hidden states."""
        where, mask, cos, sin = self.attention_inputs(slots, rows, embeds)
        return self.norm(self.layers(slots, embeds, write, where, mask, cos, sin))

    def layers(
        self,
        slots: SlotState,
        hidden: torch.Tensor,
        write: torch.Tensor,
        *attention: torch.Tensor,
    ) -> torch.Tensor:
        """Every decoder layer in turn (`attention`: where, mask, cos, sin)."""
        where, mask, cos, sin = attention
        for layer, keys, values in zip(
            self._backbone.layers, slots.keys, slots.values, strict=True
        ):
            hidden = self.layer_step(layer, hidden, keys, values, where, write, mask, cos, sin)
        return hidden

    def attention_inputs(
        self, slots: SlotState, rows: int, embeds: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Write positions, the attention mask over all positions, and rotary cos/sin."""
        positions = slots.positions[:rows]
        where = positions.clamp(max=slots.length - 1)
        visible = torch.arange(slots.length, device=embeds.device)[None, :] <= positions[:, None]
        mask = visible[:, None, None, :]  # (rows, 1, 1, length), shared by every head
        cos, sin = self._backbone.rotary_emb(embeds, positions[:, None])
        return where, mask, cos, sin

    def norm(self, hidden: torch.Tensor) -> torch.Tensor:
        """The final norm; the last hidden state per row."""
        return self._backbone.norm(hidden)[:, -1]  # type: ignore[no-any-return]

    def layer(
        self,
        layer: Any,
        hidden: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        where: torch.Tensor,
        write: torch.Tensor,
        mask: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
    ) -> torch.Tensor:
        """One decoder layer for the first `rows` slots (the region compiled once for all)."""
        rows = hidden.shape[0]
        index = torch.arange(rows, device=hidden.device)
        residual = hidden
        attn = layer.self_attn
        normed = layer.input_layernorm(hidden)
        shape = (rows, 1, -1, attn.head_dim)
        query = attn.q_proj(normed).view(shape).transpose(1, 2)
        key = attn.k_proj(normed).view(shape).transpose(1, 2)
        value = attn.v_proj(normed).view(shape).transpose(1, 2)
        query, key = rotate(query, key, cos, sin)
        keep = write[:, None, None]
        old_k, old_v = keys[index, :, where], values[index, :, where]
        keys[index, :, where] = torch.where(keep, key[:, :, 0], old_k)
        values[index, :, where] = torch.where(keep, value[:, :, 0], old_v)
        # All query heads of a KV group attend as one block: no repeated K/V.
        grouped = query.reshape(rows, self._kv_heads, self._heads // self._kv_heads, -1)
        out = F.scaled_dot_product_attention(
            grouped, keys[:rows], values[:rows], attn_mask=mask, scale=attn.scaling
        )
        out = out.reshape(rows, self._heads, 1, -1).transpose(1, 2).reshape(rows, 1, -1)
        hidden = residual + attn.o_proj(out)
        return hidden + layer.mlp(layer.post_attention_layernorm(hidden))  # type: ignore[no-any-return]


def rotate(
    query: torch.Tensor, key: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotary position embedding, the same function transformers' CSM and Mimi layers use.

    Imported at module level: an import inside traced code is a graph break in torch 2.11
    (dynamo rejects transformers' lazy modules)."""
    apply: Any = apply_rotary_pos_emb
    return apply(query, key, cos, sin)  # type: ignore[no-any-return]
