"""Device-side sampling: the exponential race draws like multinomial, seeds reproduce, filters."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from scipy import stats

from wyoming_verba.engines.csm.model.sampling import (
    SamplingParams,
    SlotSampling,
    pick,
    sampling_from_model,
    uniform_noise,
)

DRAWS = 20000


def expected_counts(probs: torch.Tensor) -> list[float]:
    """Expected counts for DRAWS draws, summing exactly to DRAWS (as chisquare requires)."""
    values = probs.double() / probs.double().sum() * DRAWS
    return values.tolist()


def slot_params(rows: int, temperature: float, top_k: int = 0, top_p: float = 1.0) -> SlotSampling:
    params = SlotSampling.allocate(rows, torch.device("cpu"))
    for row in range(rows):
        params.set(row, SamplingParams(temperature, top_k, top_p))
    return params


def race(logits: torch.Tensor, params: SlotSampling, seed: int) -> torch.Tensor:
    """DRAWS tokens for one row of logits, one frame counter per draw."""
    rows = DRAWS
    seeds = torch.full((rows,), seed)
    uniforms = uniform_noise(seeds, torch.arange(rows), 1, logits.shape[-1])[:, 0]
    return pick(logits.expand(rows, -1), params, uniforms)


def test_exponential_race_has_the_multinomial_distribution() -> None:
    logits = torch.tensor([[2.0, 1.0, 0.5, 0.0, -1.0, -3.0]])
    params = slot_params(DRAWS, temperature=1.0)
    counts = torch.bincount(race(logits, params, seed=3), minlength=6).numpy()
    expected = expected_counts(torch.softmax(logits[0], -1))
    assert stats.chisquare(counts, expected).pvalue > 0.001
    # torch.multinomial, for comparison, passes the same test.
    generator = torch.Generator().manual_seed(3)
    reference = torch.multinomial(torch.softmax(logits[0], -1), DRAWS, True, generator=generator)
    assert stats.chisquare(torch.bincount(reference, minlength=6).numpy(), expected).pvalue > 0.001


def test_temperature_scales_the_distribution() -> None:
    logits = torch.tensor([[1.0, 0.0, -1.0]])
    counts = torch.bincount(race(logits, slot_params(DRAWS, 2.0), seed=5), minlength=3).numpy()
    expected = expected_counts(torch.softmax(logits[0] / 2.0, -1))
    assert stats.chisquare(counts, expected).pvalue > 0.001


def test_top_k_and_top_p_keep_only_the_likely_tokens() -> None:
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    top_k = race(logits, slot_params(DRAWS, 1.0, top_k=2), seed=1)
    assert set(top_k.tolist()) == {0, 1}
    counts = torch.bincount(top_k, minlength=4).numpy()[:2]
    assert stats.chisquare(counts, [0.625 * DRAWS, 0.375 * DRAWS]).pvalue > 0.001
    # top-p 0.8: 0.5 + 0.3 reach it, so the 0.15 and 0.05 tokens never come.
    top_p = race(logits, slot_params(DRAWS, 1.0, top_p=0.8), seed=2)
    assert set(top_p.tolist()) == {0, 1}
    # top-p below the largest probability still keeps one token.
    assert set(race(logits, slot_params(DRAWS, 1.0, top_p=0.1), seed=2).tolist()) == {0}


def test_same_seed_same_draws_and_other_seeds_differ() -> None:
    counters = torch.arange(50)
    one = uniform_noise(torch.full((50,), 7), counters, 32, 100)
    again = uniform_noise(torch.full((50,), 7), counters, 32, 100)
    other = uniform_noise(torch.full((50,), 8), counters, 32, 100)
    assert torch.equal(one, again)
    assert not torch.equal(one, other)
    assert float(one.min()) > 0 and float(one.max()) < 1
    # Uniform, and codebooks (streams) are not copies of each other.
    assert stats.kstest(one.flatten().numpy(), "uniform").pvalue > 0.001
    assert not torch.equal(one[:, 0], one[:, 1])


def test_temperature_zero_is_exact_greedy_per_row() -> None:
    logits = torch.randn(3, 40, generator=torch.Generator().manual_seed(0))
    params = SlotSampling.allocate(3, torch.device("cpu"))
    params.set(1, SamplingParams(0.9, 5))
    uniforms = uniform_noise(torch.tensor([1, 2, 3]), torch.zeros(3, dtype=torch.long), 1, 40)
    picked = pick(logits, params, uniforms[:, 0])
    assert picked[0] == logits[0].argmax() and picked[2] == logits[2].argmax()
    assert torch.equal(pick(logits, params, None), logits.argmax(-1))


@pytest.mark.parametrize(
    ("overrides", "backbone", "depth"),
    [
        ({}, SamplingParams(0.9, 50, 1.0), SamplingParams(0.7, 20, 0.95)),
        ({"temperature": 0}, SamplingParams(0, 50, 1.0), SamplingParams(0, 20, 0.95)),
        (
            {"temperature": 0.5, "top_k": 10, "top_p": 0.9},
            SamplingParams(0.5, 10, 0.9),
            SamplingParams(0.5, 10, 0.9),
        ),
    ],
)
def test_defaults_come_from_each_generation_config(
    overrides: dict[str, float], backbone: SamplingParams, depth: SamplingParams
) -> None:
    model = SimpleNamespace(
        generation_config=SimpleNamespace(do_sample=True, temperature=0.9, top_k=50, top_p=None),
        depth_decoder=SimpleNamespace(
            generation_config=SimpleNamespace(do_sample=True, temperature=0.7, top_k=20, top_p=0.95)
        ),
    )
    sampling = sampling_from_model(model, **overrides)
    assert (sampling.backbone, sampling.depth) == (backbone, depth)
