"""Bringing CSM up (load, compile from the kept cache, capture, voices) and taking it down again
(csm.unload_after_s), with what each part cost."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from wyoming_verba.config.load import CsmConfig
from wyoming_verba.engines.csm.model.slots import VoicePrefix
from wyoming_verba.engines.csm.startup.background import in_daemon_thread
from wyoming_verba.engines.csm.startup.compile_cache import open_cache
from wyoming_verba.engines.csm.startup.idle import memory_in_use, release_memory
from wyoming_verba.engines.csm.startup.load import load_model
from wyoming_verba.engines.csm.startup.runtime import (
    CsmRuntime,
    PrepareCosts,
    build_runtime,
    prepare_step,
    should_compile,
)

_LOGGER = logging.getLogger(__name__)

ANCHOR_TEXT = "Hello! It's good to hear from you, and I'm happy to help with that today."
ANCHOR_MAX_FRAMES = 40  # 3.2 s of audio
ANCHOR_SEED = 20261124


@dataclass(frozen=True)
class Started:
    """A loaded, prepared runtime and what it cost."""

    runtime: CsmRuntime
    load_s: float
    costs: PrepareCosts
    compiled: bool


async def start_runtime(config: CsmConfig, data_dir: Path | None) -> Started:
    """Load the model, start its thread, compile (kept cache under data_dir) and capture."""
    started = time.monotonic()
    # Daemon threads, not asyncio.to_thread: a stop mid-load must not wait for them at exit.
    loaded = await in_daemon_thread(partial(load_model, config), "csm load")
    runtime = await in_daemon_thread(partial(build_runtime, loaded, config), "csm runtime")
    load_s = time.monotonic() - started
    try:
        compile_step = should_compile(config.compile, loaded.device)
        cache = open_cache(data_dir, loaded.model, config.model) if compile_step else None
        prepare = partial(prepare_step, runtime, compile_step, config.cuda_graphs, cache)
        costs = await runtime.on_thread(prepare)
    except BaseException:
        await asyncio.to_thread(runtime.stop)
        raise
    return Started(runtime, load_s, costs, compile_step)


async def build_anchors(
    runtime: CsmRuntime, config: CsmConfig, speakers: list[int]
) -> dict[int, VoicePrefix]:
    """The anchors of the listed speakers (csm.anchor_speakers): a generated, seeded reference."""
    anchors: dict[int, VoicePrefix] = {}
    if config.anchor_speakers:
        for speaker in speakers:
            _LOGGER.info("Generating the reference clip that anchors CSM speaker %d", speaker)
            anchor = partial(
                runtime.prompts.build_anchor,
                speaker,
                ANCHOR_TEXT,
                ANCHOR_MAX_FRAMES,
                ANCHOR_SEED + speaker,
            )
            anchors[speaker] = await runtime.on_thread(anchor)
    return anchors


def log_ready(started: Started, total_s: float, prefixes: int, anchors: int) -> None:
    """`CSM ready in X s (load A s, compile B s from cache|cold, capture C s)`."""
    costs = started.costs
    _LOGGER.info(
        "CSM ready in %.1f s (load %.1f s, compile %s, capture %.1f s; "
        "%d voice profiles, %d anchored speakers)",
        total_s,
        started.load_s,
        f"{costs.compile_s:.1f} s {costs.compile_source}" if started.compiled else "off",
        costs.capture_s,
        prefixes,
        anchors,
    )


async def unload_runtime(runtime: CsmRuntime, compiled: bool, idle_s: float) -> None:
    """Stop the generation thread, free the model, and log the memory given back."""
    device = runtime.device
    kind, before = memory_in_use(device)
    await asyncio.to_thread(runtime.stop)
    del runtime
    await asyncio.to_thread(release_memory, compiled)
    _, after = memory_in_use(device)
    _LOGGER.info(
        "CSM unloaded after %.0f s without a request (csm.unload_after_s): %s %.2f → %.2f GiB "
        "(%.2f GiB returned); the next CSM request loads it again",
        idle_s,
        kind,
        before / 2**30,
        after / 2**30,
        (before - after) / 2**30,
    )
