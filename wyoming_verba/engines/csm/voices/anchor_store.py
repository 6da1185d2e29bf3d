"""Generated anchors kept under server.data_dir/csm-anchors/<model key>/ between starts.

An anchor (a bare speaker's generated reference, as per-layer K/V) depends on the model, its
dtype and device kind (the model key, shared with the compile cache), the speaker, the anchor text,
its frame cap, its seed and the sampling; the file name covers the rest. A file that cannot be read
or written costs one log line and a generated anchor, never a failed start.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from wyoming_verba.engines.csm.model.sampling import Sampling
from wyoming_verba.engines.csm.model.slots import VoicePrefix

_LOGGER = logging.getLogger(__name__)
ANCHORS_DIRNAME = "csm-anchors"


@dataclass(frozen=True)
class AnchorRecipe:
    """Everything an anchor's K/V follows from, besides the model."""

    speaker: int
    text: str
    max_frames: int
    seed: int
    sampling: Sampling

    def file_name(self) -> str:
        """speaker-<n>-<digest of the recipe>.pt"""
        recipe = json.dumps(asdict(self), sort_keys=True)
        return f"speaker-{self.speaker}-{hashlib.sha256(recipe.encode()).hexdigest()[:16]}.pt"


@dataclass(frozen=True)
class AnchorStore:
    """Where this model's anchors are kept (None: not kept, generated at every start)."""

    directory: Path | None

    @classmethod
    def under(cls, data_dir: Path | None, model_key: str) -> AnchorStore:
        """The store for a model key under server.data_dir (none without a data_dir)."""
        return cls(None if data_dir is None else data_dir / ANCHORS_DIRNAME / model_key)

    def load(self, recipe: AnchorRecipe, device: torch.device) -> VoicePrefix | None:
        """The kept anchor, or None (not kept yet, or unreadable: logged)."""
        if self.directory is None:
            return None
        path = self.directory / recipe.file_name()
        try:
            data = torch.load(path, map_location=device, weights_only=True)
            return VoicePrefix(
                f"speaker-{recipe.speaker}",
                recipe.speaker,
                list(data["keys"]),
                list(data["values"]),
                int(data["length"]),
            )
        except FileNotFoundError:
            return None
        except Exception as err:  # a damaged file: generate again
            _LOGGER.warning("Ignoring the kept CSM anchor %s (%s); generating it", path, err)
            return None

    def save(self, recipe: AnchorRecipe, prefix: VoicePrefix) -> None:
        """Keep an anchor (atomically); a failure is logged and ignored."""
        if self.directory is None:
            return
        path = self.directory / recipe.file_name()
        partial = path.with_suffix(f".tmp-{os.getpid()}")
        data = {
            "keys": [key.cpu() for key in prefix.keys],
            "values": [value.cpu() for value in prefix.values],
            "length": prefix.length,
        }
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            torch.save(data, partial)
            os.replace(partial, path)
        except OSError as err:
            _LOGGER.warning(
                "Cannot keep the CSM anchor in %s (%s); it is generated next start", path, err
            )
            partial.unlink(missing_ok=True)
