"""The fixed-shape frame step against transformers' generate(): codes, syncs, addresses, compile."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from transformers import LogitsProcessor, LogitsProcessorList

from tests.support.csm import GREEDY, write_wav
from wyoming_verba.engines.csm.generation.reply import frame_budget
from wyoming_verba.engines.csm.model.sampling import Sampling, SamplingParams
from wyoming_verba.engines.csm.model.slots import CONTEXT_LIMIT, SlotState
from wyoming_verba.engines.csm.model.step import FrameStep, batch_buckets
from wyoming_verba.engines.csm.startup.compile_cache import CacheUse, CompileCache, open_cache
from wyoming_verba.engines.csm.voices.prompts import PromptBuilder, load_reference_audio

TEXT = "The kitchen lights are now off."
SAMPLED = Sampling(SamplingParams(0.9, 50, 0.95), SamplingParams(0.8, 20, 1.0))


def prompt(processor: Any, text: str, speaker: int = 0) -> dict[str, torch.Tensor]:
    turn = [{"role": str(speaker), "content": [{"type": "text", "text": text}]}]
    return processor.apply_chat_template(turn, tokenize=True, return_dict=True)


def start(step: FrameStep, slot: int, embeds: torch.Tensor, frames: int, seed: int = 0) -> None:
    """Prefill `embeds` into `slot` and switch it on."""
    hidden = step.backbone.prefill(step.slots, slot, 0, embeds)
    sampling = step.sampling
    step.slots.activate(
        slot,
        hidden=hidden,
        position=int(embeds.shape[1]),
        max_frames=frames,
        seed=seed,
        draws=0,
        sampling=sampling,
    )


def run(step: FrameStep, slot: int, frames: int, rows: int | None = None) -> torch.Tensor:
    """Step until `slot` finished; its emitted codes (1, n, codebooks)."""
    out = []
    for _ in range(frames + 1):
        step.run(rows or step.bucket_for(slot + 1))
        if bool(step.slots.emitted[slot]):
            out.append(step.slots.codes[slot].clone())
        if bool(step.slots.finished[slot]):
            break
    return torch.stack(out)[None]


def greedy_step(model: Any, slots: int = 2) -> FrameStep:
    return FrameStep(model, SlotState(model, slots), GREEDY)


def test_greedy_codes_identical_to_generate(tiny_csm: Any) -> None:
    model, processor = tiny_csm
    inputs = prompt(processor, TEXT)
    expected = model.generate(
        **inputs, max_new_tokens=40, do_sample=False, depth_decoder_do_sample=False
    )
    step = greedy_step(model, 4)
    start(step, 2, step.backbone.embed_prompt(inputs["input_ids"]), 40)
    ours = run(step, 2, 40)
    assert expected.shape == ours.shape == (1, 40, 32)
    assert torch.equal(expected, ours)


def test_greedy_codes_identical_to_generate_at_csm_1b_widths(wide_csm: Any) -> None:
    # Backbone 2048 wide (32 heads, 8 KV heads), depth decoder 1024 (8 heads, 2 KV heads),
    # 32 codebooks, vocabulary 2051: csm-1b's real widths, with fewer layers.
    model, processor = wide_csm
    inputs = prompt(processor, TEXT)
    expected = model.generate(
        **inputs, max_new_tokens=12, do_sample=False, depth_decoder_do_sample=False
    )
    step = greedy_step(model)
    start(step, 0, step.backbone.embed_prompt(inputs["input_ids"]), 12)
    assert torch.equal(expected, run(step, 0, 12))


def test_voice_prefix_equals_the_full_conversation(tiny_csm: Any, tmp_path: Path) -> None:
    model, processor = tiny_csm
    clip = write_wav(tmp_path / "ref.wav", 1.3, rate=16000)
    step = greedy_step(model)
    builder = PromptBuilder(processor, step)
    prefix = builder.build_prefix("narrator", 1, clip, "This is how I sound.")
    conversation = [
        {
            "role": "1",
            "content": [
                {"type": "text", "text": "This is how I sound."},
                {"type": "audio", "path": load_reference_audio(clip)},
            ],
        },
        {"role": "1", "content": [{"type": "text", "text": "And now something new."}]},
    ]
    full = processor.apply_chat_template(conversation, tokenize=True, return_dict=True)
    expected = model.generate(
        **full, max_new_tokens=20, do_sample=False, depth_decoder_do_sample=False
    )
    ids = builder.text_ids("And now something new.", 1)
    assert prefix.length + ids.shape[1] == full["input_ids"].shape[1]
    for slot in (1, 0):  # any slot, and the prefix is untouched for the next request
        position = step.slots.load_prefix(slot, prefix)
        hidden = step.backbone.prefill(step.slots, slot, position, step.backbone.embed_prompt(ids))
        step.slots.activate(
            slot,
            hidden=hidden,
            position=position + ids.shape[1],
            max_frames=20,
            seed=0,
            draws=0,
            sampling=GREEDY,
        )
        assert torch.equal(expected, run(step, slot, 20, rows=2))


class ForceEndAfter(LogitsProcessor):
    def __init__(self, frames: int) -> None:
        self.frames = frames

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if input_ids.dim() == 3 and input_ids.shape[1] >= self.frames:
            scores[:] = float("-inf")
            scores[:, 0] = 0
        return scores


def test_end_of_audio_frame_ends_the_sentence_as_in_generate(tiny_csm: Any) -> None:
    model, processor = tiny_csm
    weights = (model.depth_decoder.codebooks_head.weight, model.lm_head.weight)
    saved = [w.detach().clone() for w in weights]
    try:
        with torch.no_grad():
            weights[0].zero_()  # codebooks 1..31 always 0: a frame ends audio when codebook 0 is 0
        inputs = prompt(processor, "Short.")
        generated = model.generate(
            **inputs,
            max_new_tokens=30,
            do_sample=False,
            depth_decoder_do_sample=False,
            logits_processor=LogitsProcessorList([ForceEndAfter(5)]),
        )
        assert generated.shape[1] == 6 and bool(generated[0, -1, :-1].eq(0).all())
        step = greedy_step(model)
        start(step, 0, step.backbone.embed_prompt(inputs["input_ids"]), 30)
        frames = []
        for _ in range(5):
            step.run(1)
            assert bool(step.slots.emitted[0]) and not bool(step.slots.finished[0])
            frames.append(step.slots.codes[0].clone())
        assert torch.equal(generated[0, :5], torch.stack(frames))
        with torch.no_grad():
            weights[1].zero_()  # every code scores 0: codebook 0 is 0, the end-of-audio frame
        step.run(1)
        assert bool(step.slots.finished[0]) and not bool(step.slots.emitted[0])
        assert not bool(step.slots.active[0])
        assert int(step.slots.positions[0]) == inputs["input_ids"].shape[1] + 5
    finally:
        with torch.no_grad():
            for weight, value in zip(weights, saved, strict=True):
                weight.copy_(value)


def test_frame_budget_follows_text_and_cap() -> None:
    assert frame_budget("Hi.", 20) == int((1 + 0.09 * 3) * 12.5)
    assert frame_budget("x" * 1000, 20) == 250
    assert frame_budget("x" * 1000, 5) == 62
    assert CONTEXT_LIMIT == 2048
    assert batch_buckets(1) == [1] and batch_buckets(4) == [1, 2, 4]
    assert batch_buckets(6) == [1, 2, 4, 6] and batch_buckets(8) == [1, 2, 4, 8]


def test_speaker_anchor_is_seeded_and_reused(tiny_csm: Any) -> None:
    model, processor = tiny_csm
    step = FrameStep(model, SlotState(model, 2), SAMPLED)
    builder = PromptBuilder(processor, step)
    first = builder.build_anchor(0, "Hello, nice to meet you.", 12, seed=7)
    again = builder.build_anchor(0, "Hello, nice to meet you.", 12, seed=7)
    other = builder.build_anchor(0, "Hello, nice to meet you.", 12, seed=8)
    ids = builder.text_ids("Hello, nice to meet you.", 0)
    # text turn + 12 sampled frames (random weights: no end-of-audio) + the end-of-audio frame
    assert first.length == ids.shape[1] + 12 + 1 == first.keys[0].shape[2]
    assert torch.equal(first.keys[0], again.keys[0])
    assert not torch.equal(first.keys[0], other.keys[0])


class HostSyncs(TorchDispatchMode):
    """Counts operations that make the host wait for the device, and all operations."""

    SYNCING = ("_local_scalar_dense", "item", "nonzero", "is_nonzero", "equal")

    def __init__(self) -> None:
        super().__init__()
        self.syncs: dict[str, int] = {}
        self.ops = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        self.ops += 1
        name = func.overloadpacket.__name__
        if name in self.SYNCING:
            self.syncs[name] = self.syncs.get(name, 0) + 1
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("sampling", [GREEDY, SAMPLED], ids=["greedy", "sampled"])
def test_a_frame_step_never_syncs_and_keeps_every_address(
    tiny_csm: Any, sampling: Sampling
) -> None:
    model, processor = tiny_csm
    step = FrameStep(model, SlotState(model, 4), sampling)
    start(step, 1, step.backbone.embed_prompt(prompt(processor, TEXT)["input_ids"]), 50)
    addresses = [t.data_ptr() for t in step.tensors()]
    counter = HostSyncs()
    with counter:
        step.run(2)
    assert counter.syncs == {}
    assert counter.ops > 100  # it really ran the step
    for _ in range(3):
        step.run(4)
    assert [t.data_ptr() for t in step.tensors()] == addresses
    assert int(step.slots.positions[1]) > 0 and int(step.slots.frames[1]) == 4


WARM_CHILD = """
import json, sys
import torch
torch.set_num_threads(1)
from pathlib import Path
from transformers import CsmForConditionalGeneration
from tests.engines.csm.model.test_step import SAMPLED, compiled_codes
from wyoming_verba.engines.csm.startup.compile_cache import open_cache
model = CsmForConditionalGeneration.from_pretrained(sys.argv[1]).eval()
cache = open_cache(Path(sys.argv[2]), model, sys.argv[1])
source, codes, _ = compiled_codes(model, [int(x) for x in sys.argv[3].split(",")], cache)
print(json.dumps({"source": source, "existing": cache.existing, "codes": codes}))
"""


REGIONS = ("noise", "begin", "commit", "first_step", "next_step", "layer_step")


def compiled_codes(
    model: Any, ids: list[int], cache: CompileCache | None, regions: list[str] | None = None
) -> tuple[str, list[Any], int]:
    """Compile a 4-slot sampled step (with `cache`), then the codes of slot 0 alone (bucket 1)
    and of slot 2 beside slot 0 (bucket 4): (cache use, codes, graphs compiled)."""
    from torch._dynamo.utils import counters

    step = FrameStep(model, SlotState(model, 4), SAMPLED)
    graphs = counters["stats"]["unique_graphs"]
    source = ""
    if cache is not None:
        cache.activate()
        use = CacheUse()
        said = regions if regions is not None else []
        step.compile(lambda index, total, name: said.append(f"{index}/{total} {name}"))
        source = use.source()
    embeds = step.backbone.embed_prompt(torch.tensor([ids]))
    start(step, 0, embeds, 6, seed=11)
    alone = run(step, 0, 6)
    start(step, 0, embeds, 6, seed=11)
    start(step, 2, embeds, 6, seed=12)
    beside = run(step, 2, 6)
    codes = [alone.tolist(), beside.tolist()]
    return source, codes, counters["stats"]["unique_graphs"] - graphs


@pytest.mark.timeout(1800)  # a cold compile takes minutes on a shared 2-core machine
def test_compiled_regions_equal_eager_serve_every_bucket_and_are_kept(
    tiny_csm_4: Any, tmp_path: Path
) -> None:
    # fullgraph=True: any graph break (a host sync among them) fails the compile.
    model, processor = tiny_csm_4
    ids = prompt(processor, TEXT)["input_ids"][0].tolist()
    _, eager, _ = compiled_codes(model, ids, None)
    assert torch.tensor(eager[0]).shape == (1, 6, 4) and eager[0] != eager[1]
    path = model.name_or_path
    cache = open_cache(tmp_path / "data", model, path)
    assert not cache.existing and cache.directory is not None
    assert cache.directory.parent == tmp_path / "data" / "torch-compile"
    regions: list[str] = []
    source, codes, graphs = compiled_codes(model, ids, cache, regions)
    assert (source, codes) == ("cold", eager)
    # Each region said as its compile begins, once (then the compiled region runs directly).
    assert sorted(regions) == [f"{i}/6 {name}" for i, name in enumerate(REGIONS, 1)]
    # Six regions, each compiled once at full width, serving buckets 1 and 4 alike.
    assert graphs == 6
    # A second start on the same cache: another process, every graph from the cache.
    child = subprocess.run(
        [sys.executable, "-c", WARM_CHILD, path, str(tmp_path / "data"), ",".join(map(str, ids))],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[4],
        timeout=900,
        check=True,
    )
    warm = json.loads(child.stdout.strip().splitlines()[-1])
    assert warm == {"source": "from cache", "existing": True, "codes": eager}
