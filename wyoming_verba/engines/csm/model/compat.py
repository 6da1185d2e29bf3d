"""Names that differ between the transformers versions we support (5.17 through 5.24), resolved
once when the model is wrapped, never inside traced code.

- The cache keyword of the backbone and the decoder layers: `past_key_values` in 5.17, `cache` in
  5.24. Each forward also takes `**kwargs`, so a keyword it does not name is swallowed silently:
  no error, no cache, wrong codes. Every keyword we pass is therefore checked against the
  signature here, and a missing one raises.
- Mimi's decoder parts: in 5.17 `MimiModel` holds `upsample` and `decoder_transformer` itself and
  `.decoder` is only the SEANet decoder; in 5.24 `.decoder` is a `MimiDecoderModel` holding
  `upsample`, `decoder_transformer` and `decoder_seanet`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import transformers

from wyoming_verba.engines.base import EngineUnavailableError

SUPPORTED = "transformers 5.17 through 5.24"
CACHE_KEYWORDS = ("cache", "past_key_values")  # newest first


class IncompatibleTransformersError(EngineUnavailableError):
    """The installed transformers does not have the names this engine calls."""


def _incompatible(what: str) -> IncompatibleTransformersError:
    return IncompatibleTransformersError(
        f"{what} in transformers {transformers.__version__}; the CSM engine supports "
        f"{SUPPORTED}: install one of those (pip install 'transformers>=5.17,<=5.24')"
    )


def named_parameters(function: Callable[..., Any]) -> set[str]:
    """The parameters `function` names (not its *args / **kwargs catch-alls)."""
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    parameters = inspect.signature(function).parameters.values()
    return {p.name for p in parameters if p.kind not in variadic}


def require_keywords(module: Any, keywords: Iterable[str]) -> None:
    """Raise unless `module.forward` names every keyword (a **kwargs would swallow the rest)."""
    missing = sorted(set(keywords) - named_parameters(module.forward))
    if missing:
        raise _incompatible(f"{type(module).__name__}.forward takes no {', '.join(missing)}")


def cache_keyword(module: Any, also: Iterable[str] = ()) -> str:
    """The keyword `module.forward` takes its KV cache by; `also` are keywords checked with it."""
    names = named_parameters(module.forward)
    found = next((keyword for keyword in CACHE_KEYWORDS if keyword in names), None)
    if found is None:
        raise _incompatible(
            f"{type(module).__name__}.forward takes its cache by neither "
            f"{' nor '.join(CACHE_KEYWORDS)}"
        )
    require_keywords(module, also)
    return found


@dataclass(frozen=True)
class MimiDecoderParts:
    """Mimi's decoding path in order: upsample, decoder transformer, SEANet decoder."""

    upsample: Any
    transformer: Any
    seanet: Any


def mimi_decoder_parts(codec_model: Any) -> MimiDecoderParts:
    """Find the decoder parts in either layout (see the module docstring)."""
    decoder = getattr(codec_model, "decoder", None)
    nested = ("upsample", "decoder_transformer", "decoder_seanet")
    if decoder is not None and all(getattr(decoder, name, None) is not None for name in nested):
        return MimiDecoderParts(
            decoder.upsample, decoder.decoder_transformer, decoder.decoder_seanet
        )
    flat = ("upsample", "decoder_transformer")
    if (
        decoder is not None
        and hasattr(decoder, "layers")
        and all(getattr(codec_model, name, None) is not None for name in flat)
    ):
        return MimiDecoderParts(codec_model.upsample, codec_model.decoder_transformer, decoder)
    raise _incompatible(
        f"{type(codec_model).__name__} has neither decoder.{{{', '.join(nested)}}} "
        f"nor {{{', '.join(flat)}}} beside a SEANet decoder"
    )
