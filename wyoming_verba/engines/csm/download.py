"""`wyoming-verba download`: fetch the CSM model and processor into the Hugging Face cache."""

from __future__ import annotations

import sys
from pathlib import Path


def download_model(model: str) -> int:
    """Download `model` (hub id) with a progress bar; a local directory is only checked."""
    path = Path(model).expanduser()
    if path.is_dir():
        missing = [
            name for name in ("config.json", "tokenizer_config.json") if not (path / name).is_file()
        ]
        if missing:
            print(
                f"error: {path} is missing {', '.join(missing)}; not a saved CSM model",
                file=sys.stderr,
            )
            return 1
        print(f"{path} is a local model directory; nothing to download")
        return 0
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
    )

    try:
        location = snapshot_download(
            model, allow_patterns=["*.json", "*.safetensors", "*.jinja", "*.txt"]
        )
    except GatedRepoError:
        print(
            f"error: {model} is gated: accept its terms on its Hugging Face page, "
            "create a read token and run again with HF_TOKEN set",
            file=sys.stderr,
        )
        return 1
    except RepositoryNotFoundError:
        print(
            f"error: no model {model!r} on the hub (check the id; private ones need HF_TOKEN)",
            file=sys.stderr,
        )
        return 1
    except (OfflineModeIsEnabled, LocalEntryNotFoundError) as err:
        print(
            f"error: cannot reach the hub ({type(err).__name__}); check the network, "
            "unset HF_HUB_OFFLINE, or copy the model to a directory and set csm.model to it",
            file=sys.stderr,
        )
        return 1
    print(f"downloaded {model} to {location}")
    return 0
