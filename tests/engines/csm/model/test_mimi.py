"""Batched streaming Mimi decode equals whole-utterance decode, for every slot."""

from __future__ import annotations

from typing import Any

import torch

from wyoming_verba.engines.csm.model.mimi import BatchedMimiDecoder

FRAMES = 300  # 600 transformer positions: more than the 250-position attention window


def relative_error(streamed: torch.Tensor, whole: torch.Tensor) -> float:
    return float((streamed - whole).abs().max() / whole.abs().max().clamp(min=1.0))


def test_slots_at_different_points_decode_exactly(tiny_csm: Any) -> None:
    codec = tiny_csm[0].codec_model
    codes = torch.randint(1, 64, (3, 32, FRAMES), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        whole = [codec.decode(codes[i : i + 1]).audio_values[0, 0] for i in range(3)]
    decoder = BatchedMimiDecoder(codec, 4)
    audio: list[list[torch.Tensor]] = [[], [], []]
    done = [0, 0, 0]
    for step in range(2 * FRAMES + 10):
        # Slot 0 from the start, slot 1 joins at step 10, slot 2 has a frame every other step;
        # slot 3 is never used.
        wants = [True, step >= 10, step % 2 == 1]
        update = [wants[i] and done[i] < FRAMES for i in range(3)] + [False]
        batch = torch.zeros(4, 32, 1, dtype=torch.long)
        for i in range(3):
            if update[i]:
                batch[i, :, 0] = codes[i, :, done[i]]
        out = decoder.decode(batch, torch.tensor(update))
        assert out.shape == (4, 1920)
        for i in range(3):
            if update[i]:
                audio[i].append(out[i])
                done[i] += 1
    for i in range(3):
        streamed = torch.cat(audio[i])
        assert streamed.shape == whole[i].shape == (FRAMES * 1920,)
        assert relative_error(streamed, whole[i]) <= 2e-5


def test_reset_starts_a_new_stream(tiny_csm: Any) -> None:
    codec = tiny_csm[0].codec_model
    codes = torch.randint(1, 64, (1, 32, 6), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        whole = codec.decode(codes).audio_values[0, 0]
    decoder = BatchedMimiDecoder(codec, 1)
    on = torch.tensor([True])
    for i in range(4):  # an earlier stream in the same slot
        decoder.decode(torch.full((1, 32, 1), 5 + i), on)
    decoder.reset(0)
    streamed = torch.cat([decoder.decode(codes[:, :, i : i + 1], on)[0] for i in range(6)])
    assert relative_error(streamed, whole) <= 2e-5


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
