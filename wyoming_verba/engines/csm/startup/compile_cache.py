"""torch.compile's on-disk caches for the CSM step, kept under server.data_dir between starts.

Inductor already caches compiled graphs (FX graph, AOT autograd, C++/Triton kernels) in the
directory named by TORCHINDUCTOR_CACHE_DIR; we point it at data_dir/torch-compile/<key>, where the
key covers everything that changes the compiled code (torch and transformers versions, the model
and its config, dtype, device kind), so a cache from another setup is never even looked at.
Inductor also checks its own keys on every lookup. A cache that cannot be used (unwritable,
unreadable, corrupt) costs one log line and a cold compile, never a failed start.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

_LOGGER = logging.getLogger(__name__)

CACHE_DIRNAME = "torch-compile"


@dataclass(frozen=True)
class CompileCache:
    """Where this model's compiled code lives (None: inductor's default, not kept)."""

    directory: Path | None
    existing: bool = False  # it held compiled code when opened

    def activate(self) -> None:
        """Point inductor (and Triton) at this cache; call before compiling."""
        if self.directory is None:
            return
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(self.directory)
        os.environ["TRITON_CACHE_DIR"] = str(self.directory / "triton")

    def discard(self, reason: BaseException) -> None:
        """Move an unusable cache out of the way (the next compile starts cold)."""
        if self.directory is None:
            return
        _LOGGER.warning(
            "Ignoring the CSM compile cache in %s (%s: %s); compiling cold",
            self.directory,
            type(reason).__name__,
            reason,
        )
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory.mkdir(parents=True, exist_ok=True)


def cache_key(model: Any, model_ref: str, device: torch.device) -> str:
    """A readable, collision-safe name for what the compiled code depends on."""
    import transformers

    # The directory the weights were read from is not part of the compiled code: model_ref names
    # the model, and a second process loading the same model from elsewhere must find the cache.
    settings = json.loads(model.config.to_json_string(use_diff=False))
    settings.pop("_name_or_path", None)
    config = json.dumps(settings, sort_keys=True)
    parts = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "model": model_ref,
        "config": hashlib.sha256(config.encode()).hexdigest(),
        "dtype": str(model.dtype),
        "device": device_kind(device),
    }
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]
    return f"torch-{torch.__version__.split('+')[0]}-{device.type}-{digest}"


def device_kind(device: torch.device) -> str:
    """cpu, or the CUDA device's name and compute capability."""
    if device.type != "cuda":
        return device.type
    major, minor = torch.cuda.get_device_capability(device)
    return f"cuda:{torch.cuda.get_device_name(device)}:sm{major}{minor}"


def open_cache(data_dir: Path | None, model: Any, model_ref: str) -> CompileCache:
    """The cache directory for this model, created if needed; inductor's default when there is
    no data_dir or it cannot be written (one log line)."""
    if data_dir is None:
        return CompileCache(None)
    directory = data_dir / CACHE_DIRNAME / cache_key(model, model_ref, model.device)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
        existing = any(directory.iterdir())
    except OSError as err:
        _LOGGER.warning(
            "Cannot keep the CSM compile cache in %s (%s); compiling without a kept cache "
            "(check server.data_dir permissions)",
            directory,
            err,
        )
        return CompileCache(None)
    return CompileCache(directory, existing)


class CacheUse:
    """Counts inductor's FX graph cache hits and misses over a compile."""

    def __init__(self) -> None:
        self._before = _fx_counts()
        self.started = time.monotonic()

    def source(self) -> str:
        """`from cache` when every graph was found, `cold` when none was, else `partly cached`."""
        hits, misses = (
            now - before for now, before in zip(_fx_counts(), self._before, strict=True)
        )
        if hits and not misses:
            return "from cache"
        return "partly from cache" if hits else "cold"


def _fx_counts() -> tuple[int, int]:
    from torch._dynamo.utils import counters

    inductor = counters["inductor"]
    return inductor["fxgraph_cache_hit"], inductor["fxgraph_cache_miss"]
