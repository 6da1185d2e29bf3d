"""A reply's own temperature (context.verba.temperature) in its slot: same seed, other codes;
0 is exactly greedy; the rows beside it keep the step's sampling."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import torch

from tests.support.csm import Collector, Worker, reference_codes
from wyoming_verba.engines.csm.generation.reply import Reply, Sentence
from wyoming_verba.engines.csm.model.sampling import Sampling, SamplingParams

TEXT = "The lights are off."
FRAMES = 10
SAMPLING = Sampling(SamplingParams(0.9, 50), SamplingParams(0.9, 50))


@pytest.fixture
def stack(tiny_csm: Any) -> Iterator[Worker]:
    worker = Worker(*tiny_csm, sampling=SAMPLING)
    yield worker
    worker.stop()


def submit(stack: Worker, seed: int, temperature: float | None) -> tuple[Reply, Collector]:
    collector = Collector()
    reply = Reply(None, collector, seed, temperature=temperature)
    reply.add(Sentence(stack.prompts.text_ids(TEXT, 0), FRAMES))
    reply.end()
    stack.worker.submit(reply)
    return reply, collector


def codes(stack: Worker, seed: int, temperature: float | None) -> torch.Tensor:
    reply, collector = submit(stack, seed, temperature)
    assert collector.done.wait(60)
    return torch.stack(reply.frames)


def test_temperature_changes_the_codes_and_zero_is_greedy(stack: Worker, tiny_csm: Any) -> None:
    configured = codes(stack, seed=7, temperature=None)
    assert torch.equal(codes(stack, seed=7, temperature=None), configured)  # seeded: repeatable
    hotter = codes(stack, seed=7, temperature=3.0)
    assert not torch.equal(hotter, configured)
    embeds = stack.step.backbone.embed_prompt(stack.prompts.text_ids(TEXT, 0))
    greedy = reference_codes(tiny_csm[0], embeds, FRAMES)
    assert torch.equal(codes(stack, seed=7, temperature=0.0), greedy)
    assert torch.equal(codes(stack, seed=8, temperature=0.0), greedy)  # whatever the seed
    assert not torch.equal(configured, greedy)


def test_a_greedy_reply_beside_a_sampled_one_leaves_it_alone(stack: Worker) -> None:
    alone = codes(stack, seed=7, temperature=None)
    greedy_alone = codes(stack, seed=9, temperature=0.0)
    (sampled, done), (greedy, greedy_done) = submit(stack, 7, None), submit(stack, 9, 0.0)
    assert done.done.wait(60) and greedy_done.done.wait(60)
    assert stack.worker.max_rows_seen == 2  # they shared frame steps
    assert torch.equal(torch.stack(sampled.frames), alone)
    assert torch.equal(torch.stack(greedy.frames), greedy_alone)
