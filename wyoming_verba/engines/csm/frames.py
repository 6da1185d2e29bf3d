"""CSM generation one audio frame at a time: a backbone step, then 31 depth-decoder steps.

Same computation as transformers' `CsmForConditionalGeneration.generate()` (greedy output is
bit-identical), without its per-step overhead: the depth decoder's layers are called directly with
precomputed rotary tables, and no logits processors or stopping criteria run per token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch.nn import functional as F  # noqa: N812


@dataclass(frozen=True)
class Sampling:
    """Temperature / top-k sampling; temperature 0 means greedy."""

    temperature: float
    top_k: int

    def pick(self, logits: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One token per row from logits of shape (batch, vocab)."""
        scores = logits.float()
        if self.temperature <= 0:
            return scores.argmax(-1)
        scores = scores / self.temperature
        if 0 < self.top_k < scores.shape[-1]:
            kth = torch.topk(scores, self.top_k, dim=-1).values[..., -1:]
            scores = scores.masked_fill(scores < kth, float("-inf"))
        probabilities = torch.softmax(scores, dim=-1)
        return torch.multinomial(probabilities, 1, generator=generator).squeeze(-1)


class FrameModel:
    """Wraps a loaded CsmForConditionalGeneration for frame-by-frame generation."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.config = model.config
        self.num_codebooks: int = model.config.num_codebooks
        self.eos_code: int = model.config.codebook_eos_token_id
        self.device: torch.device = model.lm_head.weight.device
        depth = model.depth_decoder
        self._depth_model = depth.model
        self._depth_vocab: int = depth.model.vocab_size
        self._heads = depth.codebooks_head.weight  # (num_codebooks - 1, hidden, vocab)
        self._positions = torch.arange(self.num_codebooks + 1, device=self.device)[None]
        probe = torch.zeros(
            1, 1, depth.config.hidden_size, device=self.device, dtype=self._heads.dtype
        )
        self._cos, self._sin = depth.model.rotary_emb(probe, self._positions)
        self._layers = list(depth.model.layers)

    def enable_compile(self) -> None:
        """torch.compile the depth decoder's layers (31 calls per frame: where the time goes)."""
        import torch._dynamo

        torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 64)
        self._layers = [torch.compile(layer, dynamic=False) for layer in self._depth_model.layers]

    def new_cache(self) -> Any:
        """An empty backbone KV cache."""
        from transformers import DynamicCache

        return DynamicCache(config=self.config)

    @torch.no_grad()
    def embed_prompt(
        self,
        input_ids: torch.Tensor,
        input_values: torch.Tensor | None = None,
        input_values_cutoffs: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Prompt embeddings: text tokens, plus reference audio encoded by Mimi into frames."""
        merged = self.model._merge_input_ids_with_input_values(
            input_ids.to(self.device),
            None if input_values is None else input_values.to(self.device),
            None if input_values_cutoffs is None else input_values_cutoffs.to(self.device),
        )
        return merged["inputs_embeds"]  # type: ignore[no-any-return]

    @torch.no_grad()
    def embed_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """Embeddings of audio frames (batch, n, num_codebooks) as the backbone sees them."""
        return self.model.backbone_model.embed_tokens(frames.to(self.device))  # type: ignore[no-any-return]

    @torch.no_grad()
    def backbone(
        self,
        embeds: torch.Tensor,
        cache: Any,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Run the backbone over `embeds` (batch, n, hidden); return each row's last state."""
        out = self.model.backbone_model(
            inputs_embeds=embeds,
            cache=cache,
            use_cache=True,
            attention_mask=attention_mask,
            position_ids=position_ids,
        )
        return out.last_hidden_state[:, -1]  # type: ignore[no-any-return]

    @torch.no_grad()
    def frame(
        self, hidden: torch.Tensor, sampling: Sampling, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Sample one frame (batch, num_codebooks) from the backbone's last hidden state."""
        first = sampling.pick(self.model.lm_head(hidden), generator)
        return self._depth(first, hidden, sampling, generator)

    def _depth(
        self,
        first: torch.Tensor,
        hidden: torch.Tensor,
        sampling: Sampling,
        generator: torch.Generator | None,
    ) -> torch.Tensor:
        from transformers import DynamicCache

        model = self._depth_model
        cache = DynamicCache(config=model.config)
        # Position 0 carries the backbone state, position 1 the first codebook (offset 0).
        embeds = model.embed_tokens(torch.stack([torch.zeros_like(first), first], dim=1))
        embeds[:, 0] = hidden
        states = model.inputs_embeds_projector(embeds)
        codes = [first]
        start = 0
        for codebook in range(1, self.num_codebooks):
            length = states.shape[1]
            window = slice(start, start + length)
            rotary = (self._cos[:, window], self._sin[:, window])
            for layer in self._layers:
                states = layer(
                    states,
                    attention_mask=None,
                    position_ids=self._positions[:, window],
                    cache=cache,
                    use_cache=True,
                    position_embeddings=rotary,
                )
            states = model.norm(states)
            logits = F.linear(states[:, -1], self._heads[codebook - 1].T)
            code = sampling.pick(logits, generator)
            codes.append(code)
            start += length
            if codebook < self.num_codebooks - 1:
                offset = codebook * self._depth_vocab
                states = model.inputs_embeds_projector(model.embed_tokens(code[:, None] + offset))
        return torch.stack(codes, dim=1)

    def is_end(self, frames: torch.Tensor) -> torch.Tensor:
        """Rows whose frame is end-of-audio (every codebook but the last is the EOS code)."""
        return (frames[:, :-1] == self.eos_code).all(dim=-1)
