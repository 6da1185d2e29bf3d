"""`wyoming-verba download`: fetch the CSM model and processor into the Hugging Face cache."""

from __future__ import annotations

import sys
from pathlib import Path


def looks_like_path(model: str) -> bool:
    """csm.model names a directory, not a hub id (owner/name such as sesame/csm-1b): it starts
    with /, . or ~, or it could not be a hub id (a backslash, more than one /). The one rule for
    `serve`, `download` and `doctor`; an existing directory is used whatever its spelling."""
    return model.startswith(("/", ".", "~")) or "\\" in model or model.count("/") > 1


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def _check_directory(path: Path) -> int:
    missing = [
        name for name in ("config.json", "tokenizer_config.json") if not (path / name).is_file()
    ]
    if missing:
        return _error(f"{path} is missing {', '.join(missing)}; not a saved CSM model")
    print(f"{path} is a local model directory; nothing to download")
    return 0


def download_model(model: str) -> int:
    """Download `model` (hub id) with a progress bar; a local directory is only checked."""
    path = Path(model).expanduser()
    if path.is_dir():
        return _check_directory(path)
    if looks_like_path(model):
        return _error(
            f"model directory {path} not found; give an existing directory or a hub id "
            "such as sesame/csm-1b (--model or csm.model)"
        )
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HFValidationError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
    )

    from wyoming_verba.engines.csm.startup.hub import hub_problem, unreachable_message

    problem = None if constants.HF_HUB_OFFLINE else hub_problem()
    if problem is not None:
        return _error(unreachable_message(model, problem))
    try:
        location = snapshot_download(
            model, allow_patterns=["*.json", "*.safetensors", "*.jinja", "*.txt"]
        )
    except HFValidationError:
        return _error(
            f"{model!r} is neither an existing directory nor a hub id (owner/name, "
            "e.g. sesame/csm-1b); check --model or csm.model"
        )
    except GatedRepoError:
        return _error(
            f"{model} is gated: accept its terms on its Hugging Face page, "
            "create a read token and run again with HF_TOKEN set"
        )
    except RepositoryNotFoundError:
        return _error(f"no model {model!r} on the hub (check the id; private ones need HF_TOKEN)")
    except (OfflineModeIsEnabled, LocalEntryNotFoundError) as err:
        return _error(
            f"cannot reach the hub ({type(err).__name__}); check the network, "
            "unset HF_HUB_OFFLINE, or copy the model to a directory and set csm.model to it"
        )
    print(f"downloaded {model} to {location}")
    return 0
