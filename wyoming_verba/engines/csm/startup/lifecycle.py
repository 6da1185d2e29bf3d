"""Bringing CSM up (load, compile from the kept cache, capture) and taking it down again
(csm.unload_after_s), with what each part cost. Loading runs on daemon threads of its own, so a
stop mid-load does not wait for it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

from wyoming_verba.config import CsmConfig
from wyoming_verba.engines.csm.startup.compile_cache import cache_key, open_cache
from wyoming_verba.engines.csm.startup.idle import memory_in_use, release_memory
from wyoming_verba.engines.csm.startup.load import load_model
from wyoming_verba.engines.csm.startup.runtime import (
    CsmRuntime,
    PrepareCosts,
    build_runtime,
    prepare_step,
    should_compile,
)
from wyoming_verba.engines.csm.voices.registry import BuiltVoices

_LOGGER = logging.getLogger(__name__)
T = TypeVar("T")
ABANDON_WAIT_S = 1.0  # how long a cancelled start waits for the generation thread's step


@dataclass(frozen=True)
class Started:
    """A loaded, prepared runtime and what it cost."""

    runtime: CsmRuntime
    load_s: float
    costs: PrepareCosts
    compiled: bool
    model_key: str  # torch, model, dtype and device: names the kept compile cache and anchors


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
        costs = await runtime.worker.run(prepare)
    except BaseException:
        # A stop mid-compile or mid-capture does not wait for it: the thread is a daemon and
        # the process exits past it (cli.serve).
        await asyncio.to_thread(runtime.stop, ABANDON_WAIT_S)
        raise
    model_key = cache_key(loaded.model, config.model, loaded.device)
    return Started(runtime, load_s, costs, compile_step, model_key)


def log_ready(started: Started, total_s: float, built: BuiltVoices) -> None:
    """`CSM ready in X s (load A s, compile B s from cache|cold, capture C s; …, anchors D s)`."""
    costs = started.costs
    anchors = f"{built.anchors} anchored speakers"
    if built.anchors:
        source = "kept" if built.anchors_kept == built.anchors else "generated"
        if 0 < built.anchors_kept < built.anchors:
            source = f"{built.anchors_kept} kept, {built.anchors - built.anchors_kept} generated"
        anchors += f" in {built.anchors_s:.1f} s ({source})"
    _LOGGER.info(
        "CSM ready in %.1f s (load %.1f s, compile %s, capture %.1f s; %d voice profiles, %s)",
        total_s,
        started.load_s,
        f"{costs.compile_s:.1f} s {costs.compile_source}" if started.compiled else "off",
        costs.capture_s,
        built.prefixes,
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


async def in_daemon_thread(function: Callable[[], T], name: str) -> T:
    """Run `function` on a new daemon thread and await its result.

    Unlike asyncio.to_thread, a call abandoned when the server stops (say, mid model load) does
    not hold up the process's exit: asyncio.run waits for its executor's threads, not for this.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return  # the caller stopped waiting
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result, error = function(), None
        except BaseException as err:  # handed to the caller
            result, error = None, err
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name=name, daemon=True).start()
    return await future
