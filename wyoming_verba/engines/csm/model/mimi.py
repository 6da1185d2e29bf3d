"""Exact, batched streaming decode for transformers' Mimi codec: frames in, audio out, no seams.

transformers' Mimi decoder streams only its transformer (through a KV cache); its causal convs and
transposed convolutions keep no state, so decoding chunks independently is wrong at every chunk
boundary. This decoder walks the same modules with the state they need — the last K-1 input
samples of every causal convolution, the overlap-add tail of every transposed convolution, and the
sliding-window attention keys — kept for every slot in one batch. One call decodes one step for
all slots; a slot whose `update` flag is off is computed but its state does not move, so slots at
different points of their streams share the call. The result matches a whole-utterance decode.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from wyoming_verba.engines.csm.model.backbone import rotate
from wyoming_verba.engines.csm.model.compat import mimi_decoder_parts

SAMPLE_RATE = 24000  # Mimi's audio: every CSM sample rate in this package is this one
FRAME_SAMPLES = 1920  # one Mimi frame: 80 ms
FRAMES_PER_SECOND = SAMPLE_RATE / FRAME_SAMPLES  # 12.5
_NEVER = -(2**40)  # position of a ring entry that holds nothing yet


class BatchedMimiDecoder:
    """Streams CSM frames to audio for `slots` independent streams at once."""

    def __init__(self, codec_model: Any, slots: int, max_steps: int = 8) -> None:
        self._codec = codec_model
        parts = mimi_decoder_parts(codec_model)  # the layout differs across transformers versions
        self._upsample = parts.upsample
        self._transformer = parts.transformer
        self._seanet = parts.seanet
        config = self._transformer.config
        self._window: int = config.sliding_window
        self._ring = self._window + max_steps
        self._slots = slots
        device = next(codec_model.parameters()).device
        self._position = torch.zeros(slots, dtype=torch.long, device=device)
        self._stored = torch.full((slots, self._ring), _NEVER, dtype=torch.long, device=device)
        shape = (slots, config.num_key_value_heads, self._ring, config.head_dim)
        self._keys = [torch.zeros(shape, device=device) for _ in self._transformer.layers]
        self._values = [torch.zeros(shape, device=device) for _ in self._transformer.layers]
        self._conv_state: dict[int, torch.Tensor] = {}
        self._tails: dict[int, torch.Tensor] = {}

    def reset(self, slot: int) -> None:
        """Start a new stream in `slot` (as if nothing had been decoded there)."""
        self._position[slot] = 0
        self._stored[slot] = _NEVER
        for state in (*self._conv_state.values(), *self._tails.values()):
            state[slot] = 0

    @torch.no_grad()
    def decode(self, codes: torch.Tensor, update: torch.Tensor) -> torch.Tensor:
        """Audio (rows, samples) float32 for codes (rows, codebooks, frames) of slots [0, rows).

        Rows with `update` False get audio too, but their stream state is left as it was.
        """
        rows = codes.shape[0]
        latents = self._codec.quantizer.decode(codes)
        hidden = self._transposed(self._upsample, latents, update)
        hidden = self._attend(hidden.transpose(1, 2), update).transpose(1, 2)
        for layer in self._seanet.layers:
            hidden = self._apply(layer, hidden, update)
        return hidden[:rows, 0].float()

    def _attend(self, hidden: torch.Tensor, update: torch.Tensor) -> torch.Tensor:
        rows, steps = hidden.shape[:2]
        if steps > self._ring - self._window:
            raise ValueError(f"decode at most {self._ring - self._window} transformer steps a call")
        positions = self._position[:rows, None] + torch.arange(steps, device=hidden.device)
        ring = positions % self._ring
        stored = self._stored[:rows].scatter(1, ring, positions)
        distance = positions[:, :, None] - stored[:, None, :]
        mask = ((distance >= 0) & (distance < self._window))[:, None]  # (rows, 1, steps, ring)
        cos, sin = self._transformer.rotary_emb(hidden, positions)
        keep = update[:, None, None, None]
        for layer, keys, values in zip(
            self._transformer.layers, self._keys, self._values, strict=True
        ):
            attn = layer.self_attn
            residual = hidden
            normed = layer.input_layernorm(hidden)
            shape = (rows, steps, -1, attn.head_dim)
            query = attn.q_proj(normed).view(shape).transpose(1, 2)
            key = attn.k_proj(normed).view(shape).transpose(1, 2)
            value = attn.v_proj(normed).view(shape).transpose(1, 2)
            query, key = rotate(query, key, cos, sin)
            where = ring[:, None, :, None].expand_as(key)
            new_keys = keys[:rows].scatter(2, where, key)
            new_values = values[:rows].scatter(2, where, value)
            out = F.scaled_dot_product_attention(
                query, new_keys, new_values, attn_mask=mask, scale=attn.scaling
            )
            out = attn.o_proj(out.transpose(1, 2).reshape(rows, steps, -1))
            hidden = residual + layer.self_attn_layer_scale(out)
            mlp = layer.mlp(layer.post_attention_layernorm(hidden))
            hidden = hidden + layer.mlp_layer_scale(mlp)
            keys[:rows] = torch.where(keep, new_keys, keys[:rows])
            values[:rows] = torch.where(keep, new_values, values[:rows])
        self._stored[:rows] = torch.where(update[:, None], stored, self._stored[:rows])
        self._position[:rows] += update.long() * steps
        return hidden

    def _apply(self, layer: Any, hidden: torch.Tensor, update: torch.Tensor) -> torch.Tensor:
        kind = type(layer).__name__
        if kind == "MimiConv1d":
            return self._conv(layer, hidden, update)
        if kind == "MimiConvTranspose1d":
            return self._transposed(layer, hidden, update)
        if kind == "MimiResnetBlock":
            residual = hidden
            for inner in layer.block:
                hidden = self._apply(inner, hidden, update)
            shortcut = layer.shortcut
            residual = (
                self._conv(shortcut, residual, update)
                if type(shortcut).__name__ == "MimiConv1d"
                else shortcut(residual)
            )
            return residual + hidden
        return layer(hidden)  # type: ignore[no-any-return]  # pointwise (ELU, identity)

    def _state(
        self, store: dict[int, torch.Tensor], layer: Any, like: torch.Tensor, size: int
    ) -> torch.Tensor:
        key = id(layer)
        if key not in store:
            store[key] = like.new_zeros(self._slots, like.shape[1], size)
        return store[key]

    def _conv(self, layer: Any, hidden: torch.Tensor, update: torch.Tensor) -> torch.Tensor:
        conv: nn.Conv1d = layer.conv
        if int(conv.stride[0]) != 1:
            raise ValueError("streaming decode supports only stride-1 convolutions in the decoder")
        context = (conv.kernel_size[0] - 1) * conv.dilation[0]
        rows = hidden.shape[0]
        if not context:
            return conv(hidden)  # type: ignore[no-any-return]
        # Whole-utterance decode pads the left with zeros: a fresh state is zeros.
        state = self._state(self._conv_state, layer, hidden, context)
        joined = torch.cat([state[:rows], hidden], dim=-1)
        tail = joined[..., joined.shape[-1] - context :]
        state[:rows] = torch.where(update[:, None, None], tail, state[:rows])
        return conv(joined)  # type: ignore[no-any-return]

    def _transposed(self, layer: Any, hidden: torch.Tensor, update: torch.Tensor) -> torch.Tensor:
        conv: nn.ConvTranspose1d = layer.conv
        stride = int(conv.stride[0])
        if layer.padding_left != 0:
            raise ValueError("streaming decode needs causal transposed convolutions")
        rows = hidden.shape[0]
        full = F.conv_transpose1d(hidden, conv.weight, None, stride, 0, 0, conv.groups)
        keep = hidden.shape[-1] * stride
        overlap = full.shape[-1] - keep
        tail = self._state(self._tails, layer, full, overlap)
        full = torch.cat([full[..., :overlap] + tail[:rows], full[..., overlap:]], dim=-1)
        tail[:rows] = torch.where(update[:, None, None], full[..., keep:], tail[:rows])
        out = full[..., :keep]
        if conv.bias is not None:
            out = out + conv.bias[None, :, None]
        return out
