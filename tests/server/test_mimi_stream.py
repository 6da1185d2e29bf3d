"""Streaming Mimi decode equals whole-utterance decode."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from wyoming_verba.engines.csm.mimi_stream import StreamingMimiDecoder


@pytest.mark.parametrize("chunk", [1, 2, 5])
def test_streamed_audio_matches_whole_decode(tiny_csm: Any, chunk: int) -> None:
    codec = tiny_csm[0].codec_model
    generator = torch.Generator().manual_seed(chunk)
    codes = torch.randint(1, 64, (1, 32, 310), generator=generator)  # 620 positions > window 250
    with torch.no_grad():
        whole = codec.decode(codes).audio_values[0, 0]
    decoder = StreamingMimiDecoder(codec)
    streamed = torch.cat([decoder.decode(codes[0, :, i : i + chunk]) for i in range(0, 310, chunk)])
    assert streamed.shape == whole.shape == (310 * 1920,)
    scale = whole.abs().max().clamp(min=1.0)
    assert ((streamed - whole).abs().max() / scale).item() <= 1e-4


def test_independent_chunks_would_be_wrong(tiny_csm: Any) -> None:
    # The reason the stateful decoder exists: decoding chunks on their own leaves seams.
    codec = tiny_csm[0].codec_model
    codes = torch.randint(1, 64, (1, 32, 20), generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        whole = codec.decode(codes).audio_values[0, 0]
        naive = torch.cat(
            [codec.decode(codes[..., i : i + 2]).audio_values[0, 0] for i in range(0, 20, 2)]
        )
    assert (naive - whole).abs().max() > 1e-2 * whole.abs().max()
