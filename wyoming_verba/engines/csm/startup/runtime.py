"""The loaded model on its generation thread: slots, frame step, Mimi, worker — and getting them
ready (compile, CUDA graphs, voice prefixes, anchors) before the first request."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

import torch

from wyoming_verba.config import CsmConfig
from wyoming_verba.engines.csm.generation.worker import GenerationWorker
from wyoming_verba.engines.csm.model.mimi import BatchedMimiDecoder
from wyoming_verba.engines.csm.model.pipeline import FramePipeline
from wyoming_verba.engines.csm.model.sampling import sampling_from_model
from wyoming_verba.engines.csm.model.slots import SlotState
from wyoming_verba.engines.csm.model.step import FrameStep
from wyoming_verba.engines.csm.startup.compile_cache import CacheUse, CompileCache
from wyoming_verba.engines.csm.startup.load import LoadedModel
from wyoming_verba.engines.csm.voices.prompts import PromptBuilder

_LOGGER = logging.getLogger(__name__)


@dataclass
class CsmRuntime:
    """Everything that generates: the worker owns the model; prompts build token ids/prefixes."""

    worker: GenerationWorker
    prompts: PromptBuilder

    @property
    def device(self) -> torch.device:
        """Where the model runs."""
        return self.worker.pipeline.step.slots.device

    def stop(self, wait_s: float = 30.0) -> None:
        """Stop the generation thread (waiting up to `wait_s` for its current step)."""
        self.worker.stop(wait_s)


def build_runtime(loaded: LoadedModel, config: CsmConfig) -> CsmRuntime:
    """Allocate the slots and start the generation thread (no compiling yet)."""
    model = loaded.model
    sampling = sampling_from_model(model, config.temperature, config.top_k, config.top_p)
    _LOGGER.debug("CSM sampling: %s", sampling)
    slots = SlotState(model, config.max_batch)
    step = FrameStep(model, slots, sampling)
    mimi = BatchedMimiDecoder(model.codec_model, config.max_batch)
    worker = GenerationWorker(FramePipeline(step, mimi), config.chunk_frames)
    worker.start()
    return CsmRuntime(worker, PromptBuilder(loaded.processor, step))


def should_compile(setting: str | bool, device: torch.device) -> bool:
    """csm.compile: auto compiles on CUDA only (a CPU compile of csm-1b takes many minutes)."""
    if setting == "auto":
        return device.type == "cuda"
    return bool(setting)


@dataclass(frozen=True)
class PrepareCosts:
    """What getting the step ready cost, for the `CSM ready` line."""

    compile_s: float = 0.0
    compile_source: str = "off"  # off | cold | from cache | partly from cache | failed
    capture_s: float = 0.0


def prepare_step(
    runtime: CsmRuntime,
    compile_step: bool,
    cuda_graphs: bool,
    cache: CompileCache | None = None,
) -> PrepareCosts:
    """On the generation thread: compile the frame step's regions (with the kept compile cache)
    and capture CUDA graphs, logging as it goes. Mimi's streaming state is allocated by one
    decode that updates nothing."""
    pipeline = runtime.worker.pipeline
    step = pipeline.step
    costs = PrepareCosts()
    if compile_step:
        costs = _compile(step, cache or CompileCache(None))
    if cuda_graphs and runtime.device.type == "cuda":
        started = time.monotonic()
        try:
            step.capture()
            _LOGGER.info(
                "Captured CUDA graphs of the CSM frame step for batch sizes %s", _sizes(step)
            )
        except Exception as err:
            _LOGGER.warning(
                "Capturing CUDA graphs of the CSM frame step failed (%s: %s); frames run "
                "without them (csm.cuda_graphs: false skips the attempt)",
                type(err).__name__,
                err,
            )
        costs = replace(costs, capture_s=time.monotonic() - started)
    rows = step.buckets[-1]
    codes = torch.zeros_like(step.slots.codes)[:rows, :, None]
    pipeline.mimi.decode(codes, torch.zeros(rows, dtype=torch.bool, device=codes.device))
    return costs


def _compile(step: FrameStep, cache: CompileCache) -> PrepareCosts:
    from torch import _dynamo

    # dynamo's config is thread-local: this is the thread that runs the compiled step.
    _dynamo.config.cache_size_limit = max(_dynamo.config.cache_size_limit, 8)
    if cache.existing:
        _LOGGER.info(
            "Compiling the CSM frame step's regions at batch size %d from the kept cache",
            step.buckets[-1],
        )
    else:
        _LOGGER.info(
            "Compiling the CSM frame step's regions at batch size %d (serving every batch size): "
            "this cold compile runs once per model, torch version and device (%s); it is kept "
            "in %s, so later starts take seconds",
            step.buckets[-1],
            compile_estimate(step.slots.device, step.slots.hidden.shape[-1]),
            cache.directory or "torch's temporary cache (no server.data_dir)",
        )
    cache.activate()
    use = CacheUse()
    try:
        try:
            step.compile(_log_region)
        except Exception as err:
            if not cache.existing:
                raise
            cache.discard(err)  # a corrupt cache must not cost the compiled step
            use = CacheUse()
            step.compile(_log_region)
    except Exception as err:  # a compiler problem must not take CSM down
        _LOGGER.warning(
            "Compiling the CSM frame step failed (%s: %s); it runs uncompiled "
            "(csm.compile: false skips the attempt)",
            type(err).__name__,
            err,
        )
        return PrepareCosts(time.monotonic() - use.started, "failed")
    costs = PrepareCosts(time.monotonic() - use.started, use.source())
    _LOGGER.info(
        "Compiled the CSM frame step in %.1f s (%s%s)",
        costs.compile_s,
        costs.compile_source,
        "" if cache.directory is None else f", cache {cache.directory}",
    )
    return costs


def _log_region(index: int, total: int, name: str) -> None:
    _LOGGER.info("Compiling CSM region %d of %d (%s)", index, total, name)


def _sizes(step: FrameStep) -> str:
    return ", ".join(map(str, step.buckets))


def compile_estimate(device: torch.device, hidden_size: int) -> str:
    """How long a cold compile took where it was measured (docs/benchmarks.md), for the log."""
    if device.type != "cpu":
        return "no GPU figure measured yet: expect minutes"
    size = "csm-1b's widths" if hidden_size >= 2048 else "a small model"
    minutes = "3-4" if hidden_size >= 2048 else "1-5"
    return f"measured on a 2-core CPU: about {minutes} minutes for {size}"
