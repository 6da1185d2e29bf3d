"""Build a tiny random Sesame CSM model on disk, loadable with the real `from_pretrained` path.

Same architecture and file layout as sesame/csm-1b (processor with tokenizer and chat template,
CsmForConditionalGeneration with a Mimi codec keeping the real up/down-sampling ratios), with
small widths and random weights. `csm_1b_config()` gives the real model's sizes for benchmarks.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import (
    CsmConfig,
    CsmForConditionalGeneration,
    CsmProcessor,
    EncodecFeatureExtractor,
    MimiConfig,
    PreTrainedTokenizerFast,
)

SPECIAL_TOKENS = ["<|begin_of_text|>", "<|end_of_text|>", "<|AUDIO|>", "<|audio_eos|>"]

# The same shape as the chat template sesame/csm-1b ships: one turn per message,
# "<bos>[speaker]text<eos>", then the reference audio placeholder for context turns.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- bos_token -}}"
    "{{- '[' + message['role'] + ']' -}}"
    "{%- for item in message['content'] if item['type'] == 'text' -%}{{- item['text'] -}}{%- endfor -%}"
    "{{- eos_token -}}"
    "{%- for item in message['content'] if item['type'] == 'audio' -%}"
    "{{- '<|AUDIO|><|audio_eos|>' -}}"
    "{%- endfor -%}"
    "{%- endfor -%}"
)


def build_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level tokenizer (one token per byte) with CSM's special tokens, built offline."""
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {token: index for index, token in enumerate(sorted(alphabet))}
    for token in SPECIAL_TOKENS:
        vocab[token] = len(vocab)
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens(SPECIAL_TOKENS)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<|begin_of_text|>",
        eos_token="<|end_of_text|>",
        pad_token="<|AUDIO|>",
    )
    return fast


def tiny_config(tokenizer: PreTrainedTokenizerFast, num_codebooks: int = 32) -> CsmConfig:
    codebook_size = 64
    codec = MimiConfig(
        hidden_size=32,
        num_filters=4,
        num_residual_layers=1,
        upsampling_ratios=[8, 6, 5, 4],
        codebook_size=codebook_size,
        codebook_dim=16,
        vector_quantization_hidden_dimension=16,
        num_quantizers=num_codebooks,
        upsample_groups=32,
        num_hidden_layers=2,
        intermediate_size=64,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=16,
        sliding_window=250,
        layer_scale_initial_scale=0.5,
    )
    vocab = tokenizer.convert_tokens_to_ids
    return CsmConfig(
        num_codebooks=num_codebooks,
        vocab_size=codebook_size,
        text_vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        pad_token_id=vocab("<|AUDIO|>"),
        bos_token_id=vocab("<|begin_of_text|>"),
        audio_token_id=vocab("<|AUDIO|>"),
        audio_eos_token_id=vocab("<|audio_eos|>"),
        codebook_pad_token_id=codebook_size - 1,
        codebook_eos_token_id=0,
        depth_decoder_config={
            "num_codebooks": num_codebooks,
            "backbone_hidden_size": 64,
            "vocab_size": codebook_size,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "max_position_embeddings": num_codebooks + 1,
        },
        codec_config=codec.to_dict(),
    )


def _randomize_codec(model: CsmForConditionalGeneration, seed: int) -> None:
    """A fresh Mimi has all-zero codebooks; give every code its own embedding."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.codec_model.modules():
        if hasattr(module, "embed_sum") and hasattr(module, "cluster_usage"):
            module.embed_sum.copy_(torch.randn(module.embed_sum.shape, generator=generator))
            module.cluster_usage.fill_(1.0)
            module._embed = None


def build_tiny_csm(path: Path, seed: int = 0, num_codebooks: int = 32) -> Path:
    """Write processor + model to `path` and return it."""
    torch.manual_seed(seed)
    tokenizer = build_tokenizer()
    feature_extractor = EncodecFeatureExtractor(
        feature_size=1, sampling_rate=24000, padding_value=0.0
    )
    processor = CsmProcessor(feature_extractor, tokenizer, chat_template=CHAT_TEMPLATE)
    model = CsmForConditionalGeneration(tiny_config(tokenizer, num_codebooks)).eval()
    with torch.no_grad():
        _randomize_codec(model, seed)
    model.generation_config.max_new_tokens = 400
    path.mkdir(parents=True, exist_ok=True)
    processor.save_pretrained(path)
    model.save_pretrained(path)
    return path


def build_wide_csm(path: Path, seed: int = 0, layers: int = 2) -> Path:
    """Like build_tiny_csm, at csm-1b's real widths: backbone 2048 (32 heads, 8 KV heads, head
    dim 64), depth decoder 1024 (8 heads, 2 KV heads, head dim 128), 32 codebooks, vocabulary
    2051 — with `layers` layers each instead of 16 and 4, so a test stays fast."""
    torch.manual_seed(seed)
    tokenizer = build_tokenizer()
    config = tiny_config(tokenizer)
    real = CsmConfig()
    for key in ("hidden_size", "intermediate_size", "num_attention_heads", "num_key_value_heads"):
        setattr(config, key, getattr(real, key))
    config.head_dim = real.hidden_size // real.num_attention_heads
    config.vocab_size = real.vocab_size
    config.codebook_pad_token_id = real.codebook_pad_token_id
    config.num_hidden_layers = layers
    depth, real_depth = config.depth_decoder_config, real.depth_decoder_config
    for key in (
        "backbone_hidden_size",
        "hidden_size",
        "intermediate_size",
        "num_attention_heads",
        "num_key_value_heads",
        "head_dim",
        "vocab_size",
    ):
        setattr(depth, key, getattr(real_depth, key))
    depth.num_hidden_layers = layers
    config.codec_config.codebook_size = 2048
    feature_extractor = EncodecFeatureExtractor(feature_size=1, sampling_rate=24000)
    processor = CsmProcessor(feature_extractor, tokenizer, chat_template=CHAT_TEMPLATE)
    model = CsmForConditionalGeneration(config).eval()
    with torch.no_grad():
        _randomize_codec(model, seed)
        model.lm_head.weight[0].zero_()  # code 0 (end of audio) never wins on codebook 0
    path.mkdir(parents=True, exist_ok=True)
    processor.save_pretrained(path)
    model.save_pretrained(path)
    return path


def csm_1b_config() -> CsmConfig:
    """The real csm-1b sizes (CsmConfig defaults) for random-weight benchmarks."""
    return CsmConfig()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", type=Path)
    args = parser.parse_args()
    print(build_tiny_csm(args.path))
