"""Loading CSM-1b: device and dtype choice, from_pretrained, and errors that say what to do."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from wyoming_verba.config import CsmConfig
from wyoming_verba.engines.base import EngineUnavailableError
from wyoming_verba.engines.csm.startup.download import looks_like_path
from wyoming_verba.engines.csm.startup.hub import cached_locally, hub_problem, unreachable_message

_LOGGER = logging.getLogger(__name__)

_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


class ModelLoadError(EngineUnavailableError):
    """The model could not be loaded; the message says how to fix it."""


@dataclass
class LoadedModel:
    """The model, its processor, and where it runs."""

    model: Any
    processor: Any
    device: torch.device
    dtype: torch.dtype


def resolve_device(setting: str) -> torch.device:
    """csm.device → a torch device ('auto' = cuda when available, else cpu with a warning)."""
    if setting == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        _LOGGER.warning(
            "No CUDA GPU found: CSM runs on the CPU, far slower than real time "
            "(check the NVIDIA runtime, or use the edge backend)"
        )
        return torch.device("cpu")
    device = torch.device(setting)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError(
            f"csm.device is {setting!r} but torch sees no CUDA GPU (torch {torch.__version__}); "
            "check the NVIDIA driver/container runtime or set csm.device: auto"
        )
    if device.type == "cpu":
        _LOGGER.warning("CSM on the CPU is far slower than real time")
    return device


def resolve_dtype(setting: str, device: torch.device) -> torch.dtype:
    """csm.dtype for the device; the CPU always uses float32."""
    if device.type == "cpu":
        return torch.float32
    return _DTYPES[setting]


def describe_model_source(model_id: str) -> str:
    """'local directory …' or 'hub id …', for messages."""
    return (
        f"local directory {model_id}"
        if Path(model_id).expanduser().is_dir()
        else f"hub id {model_id}"
    )


def _quiet_progress_bars() -> None:
    # The server log gets our own progress lines; tqdm bars would garble it.
    from huggingface_hub import utils as hub_utils
    from transformers.utils import logging as transformers_logging

    quiet: list[Any] = [
        hub_utils.disable_progress_bars,  # type: ignore[attr-defined]
        transformers_logging.disable_progress_bar,
    ]
    for disable in quiet:
        disable()


# from_pretrained builds the model under an init context that patches torch.nn.Module for the
# whole process (not per thread): two loads at once (a load abandoned at close on its daemon
# thread, and the next engine's) can leave the patch on, and later tensors land on "meta".
_FROM_PRETRAINED = threading.Lock()


def _model_source(model: str) -> str:
    """The directory (if it exists) or hub id csm.model loads from; a missing directory is an
    error that says what to do."""
    path = Path(model).expanduser()
    if looks_like_path(model) and not path.is_dir():
        raise ModelLoadError(
            f"csm.model: directory {path} not found; copy the saved model there (or fix the "
            "path), or set csm.model to a hub id such as sesame/csm-1b"
        )
    return str(path) if path.is_dir() else model


def _hub_unreachable(model: str) -> bool:
    """True when the hub cannot be reached but the model is cached (said once, loaded from the
    cache); ModelLoadError when it is not cached either; False when the hub answers."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False  # offline mode does not retry; a model missing from the cache errors below
    problem = hub_problem()
    if problem is None:
        return False
    if not cached_locally(model):
        raise ModelLoadError(unreachable_message(model, problem))
    _LOGGER.warning(
        "Cannot reach the Hugging Face hub (%s): loading %s from the cache", problem, model
    )
    return True


def load_model(config: CsmConfig) -> LoadedModel:
    """Load processor and model with from_pretrained; Mimi stays float32."""
    import transformers
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    auto_processor: Any = transformers.AutoProcessor
    csm_model: Any = transformers.CsmForConditionalGeneration

    device = resolve_device(config.device)
    dtype = resolve_dtype(config.dtype, device)
    path = Path(config.model).expanduser()
    source = _model_source(config.model)
    _quiet_progress_bars()
    _LOGGER.info(
        "Loading CSM from %s on %s as %s (transformers %s)",
        describe_model_source(source),
        device,
        dtype,
        transformers.__version__,
    )
    local_only = not path.is_dir() and _hub_unreachable(source)
    try:
        with _FROM_PRETRAINED:
            processor = auto_processor.from_pretrained(source, local_files_only=local_only)
            model = csm_model.from_pretrained(
                source, dtype=dtype, device_map=str(device), local_files_only=local_only
            )
    except GatedRepoError as err:
        raise ModelLoadError(
            f"{config.model} is gated: accept the model terms on its Hugging Face page and set "
            "HF_TOKEN, or set csm.model to a local directory with the model"
        ) from err
    except RepositoryNotFoundError as err:
        raise ModelLoadError(
            f"csm.model {config.model!r} is neither a directory nor a model on the Hugging Face "
            "hub (check the spelling; private or gated models also need HF_TOKEN)"
        ) from err
    except (LocalEntryNotFoundError, OSError) as err:
        if path.is_dir():
            raise ModelLoadError(
                f"csm.model directory {path} does not hold a saved CSM model ({err}); it needs "
                "the files `save_pretrained` writes (config.json, model weights, tokenizer)"
            ) from err
        raise ModelLoadError(
            f"cannot load csm.model {config.model!r} ({type(err).__name__}): offline or not "
            "downloaded; run `wyoming-verba download` with network access (and HF_TOKEN), or set "
            "csm.model to a local directory"
        ) from err
    model.eval()
    model.codec_model.to(torch.float32)
    return LoadedModel(model, processor, device, dtype)
