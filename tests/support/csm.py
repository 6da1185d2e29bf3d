"""Helpers for CSM tests: an independent greedy reference, the worker stack, reference clips."""

from __future__ import annotations

import threading
import wave
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F  # noqa: N812
from transformers import DynamicCache

from wyoming_verba.engines.base import SentenceEnd
from wyoming_verba.engines.csm.generation.reply import Reply, Sentence
from wyoming_verba.engines.csm.generation.worker import GenerationWorker
from wyoming_verba.engines.csm.model.compat import cache_keyword
from wyoming_verba.engines.csm.model.mimi import BatchedMimiDecoder
from wyoming_verba.engines.csm.model.pipeline import FramePipeline
from wyoming_verba.engines.csm.model.sampling import Sampling, SamplingParams
from wyoming_verba.engines.csm.model.slots import SlotState
from wyoming_verba.engines.csm.model.step import FrameStep
from wyoming_verba.engines.csm.voices.prompts import PromptBuilder

GREEDY = Sampling(SamplingParams(0.0), SamplingParams(0.0))


@torch.no_grad()
def reference_codes(model: Any, embeds: torch.Tensor, count: int) -> torch.Tensor:
    """Greedy frames (count, num_codebooks) after prompt embeddings, computed with transformers'
    own backbone and depth-decoder generate() — nothing from our slot or step code."""
    codebooks = model.config.num_codebooks
    # The keyword by signature: a wrong one is swallowed by **kwargs and the cache is lost.
    keyword = cache_keyword(model.backbone_model, also=("inputs_embeds", "use_cache"))
    cache = {keyword: DynamicCache(config=model.config)}
    hidden = model.backbone_model(inputs_embeds=embeds, use_cache=True, **cache)
    last = hidden.last_hidden_state[:, -1]
    frames = []
    for _ in range(count):
        first = model.lm_head(last).argmax(-1)
        depth = model.depth_decoder.generate(
            input_ids=F.pad(first[:, None], (1, 0)),
            backbone_last_hidden_state=last.clone(),
            do_sample=False,
            min_new_tokens=codebooks - 1,
            max_new_tokens=codebooks - 1,
        )
        frame = depth[:, 1:]
        frames.append(frame[0])
        embedded = model.backbone_model.embed_tokens(frame[:, None])
        out = model.backbone_model(inputs_embeds=embedded, use_cache=True, **cache)
        last = out.last_hidden_state[:, -1]
    return torch.stack(frames)


class Worker:
    """The generation stack on the tiny model, as the engine builds it."""

    def __init__(
        self, model: Any, processor: Any, max_batch: int = 4, sampling: Sampling = GREEDY
    ) -> None:
        self.slots = SlotState(model, max_batch)
        self.step = FrameStep(model, self.slots, sampling)
        mimi = BatchedMimiDecoder(model.codec_model, max_batch)
        self.worker = GenerationWorker(FramePipeline(self.step, mimi), chunk_frames=2)
        self.prompts = PromptBuilder(processor, self.step)
        self.worker.start()

    def reply(
        self,
        texts: list[tuple[str, int]],
        *,
        seed: int = 0,
        continuity: bool = True,
        speaker: int = 0,
        end: bool = True,
        prefix: Any = None,
        queue_timeout_s: float = float("inf"),
    ) -> tuple[Reply, Collector]:
        """Submit a reply of (text, frame cap) sentences."""
        collector = Collector()
        reply = Reply(prefix, collector, seed, continuity, queue_timeout_s=queue_timeout_s)
        for text, frames in texts:
            self.add(reply, text, frames, speaker)
        if end:
            reply.end()
        self.worker.submit(reply)
        return reply, collector

    def add(self, reply: Reply, text: str, frames: int, speaker: int = 0) -> None:
        """Queue one more sentence of a reply."""
        reply.add(Sentence(self.prompts.text_ids(text, speaker), frames))

    def stop(self) -> None:
        self.worker.stop()


class Collector:
    """Records what the worker delivers to a reply."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.done = threading.Event()

    def __call__(self, item: Any) -> None:
        self.items.append(item)
        if item is None or isinstance(item, BaseException):
            self.done.set()

    @property
    def audio(self) -> list[np.ndarray]:
        return [i for i in self.items if isinstance(i, np.ndarray)]

    @property
    def samples(self) -> int:
        return sum(item.size for item in self.audio)

    @property
    def sentence_ends(self) -> int:
        return sum(isinstance(item, SentenceEnd) for item in self.items)


def write_wav(path: Path, seconds: float, rate: int = 16000, pitch: float = 220.0) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    pcm = (0.3 * np.sin(2 * np.pi * pitch * t) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm.tobytes())
    return path
