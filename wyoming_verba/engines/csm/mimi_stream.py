"""Exact streaming decode for transformers' Mimi codec: frames in, audio out, no seams.

transformers' Mimi decoder streams only its transformer (through a KV cache); its causal convs
and transposed convolutions keep no state, so decoding chunks independently is wrong at every chunk
boundary. This decoder walks the same modules with the state they need: the last K-1 input samples
of every causal convolution, the overlap-add tail of every transposed convolution, and the
sliding-window attention cache of the transformer. The result matches a whole-utterance decode.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812


class StreamingMimiDecoder:
    """Decodes one stream of CSM frames (codes of shape (num_codebooks, frames)) incrementally."""

    def __init__(self, codec_model: Any) -> None:
        self._codec = codec_model
        decoder = codec_model.decoder
        self._upsample = decoder.upsample
        self._transformer = decoder.decoder_transformer
        self._seanet = decoder.decoder_seanet
        self._conv_state: dict[int, torch.Tensor] = {}
        self._tails: dict[int, torch.Tensor] = {}
        from transformers import DynamicCache

        self._cache = DynamicCache(config=self._transformer.config)
        self._position = 0

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Float32 audio (1-D) for new frames; codes: (codebooks, n) or (1, codebooks, n)."""
        if codes.dim() == 2:
            codes = codes.unsqueeze(0)
        latents = self._codec.quantizer.decode(codes)
        hidden = latents if self._upsample is None else self._transposed(self._upsample, latents)
        steps = hidden.shape[-1]
        positions = torch.arange(self._position, self._position + steps, device=hidden.device)
        self._position += steps
        out = self._transformer(
            hidden.transpose(1, 2),
            cache=self._cache,
            use_cache=True,
            position_ids=positions.unsqueeze(0),
        )
        hidden = out.last_hidden_state.transpose(1, 2)
        for layer in self._seanet.layers:
            hidden = self._apply(layer, hidden)
        return hidden[0, 0].float()

    def _apply(self, layer: Any, hidden: torch.Tensor) -> torch.Tensor:
        kind = type(layer).__name__
        if kind == "MimiConv1d":
            return self._conv(layer, hidden)
        if kind == "MimiConvTranspose1d":
            return self._transposed(layer, hidden)
        if kind == "MimiResnetBlock":
            residual = hidden
            for inner in layer.block:
                hidden = self._apply(inner, hidden)
            shortcut = layer.shortcut
            residual = (
                self._conv(shortcut, residual)
                if type(shortcut).__name__ == "MimiConv1d"
                else shortcut(residual)
            )
            return residual + hidden
        return layer(hidden)  # type: ignore[no-any-return]  # pointwise (ELU, identity)

    def _conv(self, layer: Any, hidden: torch.Tensor) -> torch.Tensor:
        conv: nn.Conv1d = layer.conv
        if int(conv.stride[0]) != 1:
            raise ValueError("streaming decode supports only stride-1 convolutions in the decoder")
        context = (conv.kernel_size[0] - 1) * conv.dilation[0]
        key = id(layer)
        state = self._conv_state.get(key)
        if state is None:
            # Whole-utterance decode pads the left with zeros ("constant" pad mode).
            state = hidden.new_zeros(hidden.shape[0], hidden.shape[1], context)
        joined = torch.cat([state, hidden], dim=-1)
        self._conv_state[key] = joined[..., joined.shape[-1] - context :] if context else state
        return conv(joined)  # type: ignore[no-any-return]

    def _transposed(self, layer: Any, hidden: torch.Tensor) -> torch.Tensor:
        conv: nn.ConvTranspose1d = layer.conv
        stride = int(conv.stride[0])
        if layer.padding_left != 0:
            raise ValueError("streaming decode needs causal transposed convolutions")
        full = F.conv_transpose1d(hidden, conv.weight, None, stride, 0, 0, conv.groups)
        keep = hidden.shape[-1] * stride
        key = id(layer)
        tail = self._tails.get(key)
        if tail is not None:
            full[..., : tail.shape[-1]] += tail
        self._tails[key] = full[..., keep:]
        out = full[..., :keep]
        if conv.bias is not None:
            out = out + conv.bias[None, :, None]
        return out
