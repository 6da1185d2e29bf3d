"""transformers-version names resolved once at load: the cache keyword by signature, Mimi's layout,
and a loud failure where a keyword would be swallowed by **kwargs."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import torch
import transformers
from torch import nn

from tests.support.csm import reference_codes
from wyoming_verba.engines.csm.model.backbone import Backbone
from wyoming_verba.engines.csm.model.compat import (
    IncompatibleTransformersError,
    cache_keyword,
    mimi_decoder_parts,
    require_keywords,
)
from wyoming_verba.engines.csm.model.mimi import BatchedMimiDecoder


def _expected_keyword() -> str:
    major, minor = (int(part) for part in transformers.__version__.split(".")[:2])
    return "cache" if (major, minor) >= (5, 24) else "past_key_values"


def test_cache_keyword_matches_the_installed_transformers(tiny_csm: Any) -> None:
    model, _ = tiny_csm
    assert cache_keyword(model.backbone_model) == _expected_keyword()
    assert cache_keyword(model.depth_decoder.model.layers[0]) == _expected_keyword()


class _SwallowsEverything(nn.Module):
    def forward(self, hidden_states: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return hidden_states


def test_a_keyword_only_kwargs_would_take_fails_loudly() -> None:
    with pytest.raises(IncompatibleTransformersError, match=r"neither cache nor past_key_values"):
        cache_keyword(_SwallowsEverything())
    with pytest.raises(IncompatibleTransformersError, match=r"takes no use_cache.*5\.17"):
        require_keywords(_SwallowsEverything(), ["hidden_states", "use_cache"])


def test_the_cache_really_reaches_the_layers(tiny_csm: Any) -> None:
    # With the keyword resolved, two one-token calls equal one two-token call; a swallowed
    # cache would make the second call attend to itself only.
    model, _ = tiny_csm
    Backbone(model)  # resolves (and checks) its keywords at construction
    embeds = torch.randn(1, 2, model.config.hidden_size)
    keyword = cache_keyword(model.backbone_model)
    cache = {keyword: transformers.DynamicCache(config=model.config)}
    with torch.no_grad():
        whole = model.backbone_model(inputs_embeds=embeds).last_hidden_state[:, -1]
        model.backbone_model(inputs_embeds=embeds[:, :1], use_cache=True, **cache)
        out = model.backbone_model(inputs_embeds=embeds[:, 1:], use_cache=True, **cache)
    torch.testing.assert_close(out.last_hidden_state[:, -1], whole)


def test_reference_helper_uses_its_cache(tiny_csm: Any) -> None:
    model, _ = tiny_csm
    embeds = torch.randn(1, 5, model.config.hidden_size)
    frames = reference_codes(model, embeds, 3)
    assert frames.shape == (3, model.config.num_codebooks)


class _Holder(nn.Module):
    pass


def _layouts(codec: Any) -> tuple[nn.Module, nn.Module]:
    """The same modules in 5.24's nested layout and in 5.17's flat one."""
    parts = mimi_decoder_parts(codec)
    nested, inner = _Holder(), _Holder()
    inner.upsample, inner.decoder_transformer, inner.decoder_seanet = (
        parts.upsample,
        parts.transformer,
        parts.seanet,
    )
    nested.decoder = inner
    flat = _Holder()
    flat.upsample, flat.decoder_transformer, flat.decoder = (
        parts.upsample,
        parts.transformer,
        parts.seanet,
    )
    return nested, flat


def test_mimi_parts_found_in_either_layout(tiny_csm: Any) -> None:
    model, _ = tiny_csm
    real = mimi_decoder_parts(model.codec_model)
    assert hasattr(real.seanet, "layers")
    for layout in _layouts(model.codec_model):
        assert mimi_decoder_parts(layout) == real


def test_mimi_without_either_layout_fails_loudly() -> None:
    with pytest.raises(IncompatibleTransformersError, match="decoder"):
        mimi_decoder_parts(_Holder())


def test_streaming_decoder_builds_on_the_installed_layout(tiny_csm: Any) -> None:
    model, _ = tiny_csm
    decoder = BatchedMimiDecoder(model.codec_model, 2)
    codes = torch.full((2, model.config.num_codebooks, 1), 3)
    audio = decoder.decode(codes, torch.tensor([True, False]))
    assert audio.shape == (2, 1920)


def test_no_import_inside_the_rotary_function() -> None:
    # torch 2.11's dynamo breaks the graph on an import of a transformers lazy module.
    from wyoming_verba.engines.csm.model import backbone

    assert "import" not in inspect.getsource(backbone.rotate).split('"""')[-1]
