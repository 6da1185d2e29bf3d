"""Several requests generating together: one left-padded backbone cache, per-row positions.

A request is prefilled on its own, then joins the running batch at a frame boundary: its cache is
left-padded (or the batch's is) to a common length, and an attention mask hides the padding.
Finished or cancelled rows leave at the next frame boundary.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import torch
from torch.nn import functional as F  # noqa: N812

from .frames import FrameModel

RowT = TypeVar("RowT")


def _pad_left(tensor: torch.Tensor, length: int) -> torch.Tensor:
    """Pad dim -2 (sequence) of a (batch, heads, seq, dim) tensor on the left with zeros."""
    missing = length - tensor.shape[-2]
    return F.pad(tensor, (0, 0, missing, 0)) if missing > 0 else tensor


class Batch(Generic[RowT]):
    """The rows being generated and their shared backbone state."""

    def __init__(self, frames: FrameModel) -> None:
        self._frames = frames
        self.rows: list[RowT] = []
        self._cache: Any = None
        self._mask: torch.Tensor | None = None  # (batch, seq) 1 = real token
        self._positions: torch.Tensor | None = None  # (batch,) next position id per row
        self.hidden: torch.Tensor | None = None  # (batch, hidden)

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, row: RowT, cache: Any, hidden: torch.Tensor, length: int) -> None:
        """Join a row prefilled on its own (cache of `length` positions, last hidden state)."""
        device = hidden.device
        if not self.rows:
            self.rows = [row]
            self._cache = cache
            self._mask = torch.ones(1, length, dtype=torch.long, device=device)
            self._positions = torch.tensor([length], device=device)
            self.hidden = hidden
            return
        assert self._mask is not None and self._positions is not None and self.hidden is not None
        total = max(self._mask.shape[1], length)
        for mine, theirs in zip(self._cache.layers, cache.layers, strict=True):
            mine.keys = torch.cat([_pad_left(mine.keys, total), _pad_left(theirs.keys, total)])
            mine.values = torch.cat(
                [_pad_left(mine.values, total), _pad_left(theirs.values, total)]
            )
        row_mask = torch.ones(1, length, dtype=torch.long, device=device)
        self._mask = torch.cat(
            [
                F.pad(self._mask, (total - self._mask.shape[1], 0)),
                F.pad(row_mask, (total - length, 0)),
            ]
        )
        self._positions = torch.cat([self._positions, torch.tensor([length], device=device)])
        self.hidden = torch.cat([self.hidden, hidden])
        self.rows.append(row)

    def keep(self, indices: list[int]) -> None:
        """Keep only these rows (in this order)."""
        if len(indices) == len(self.rows):
            return
        if not indices:
            self.rows, self._cache, self._mask, self._positions, self.hidden = (
                [],
                None,
                None,
                None,
                None,
            )
            return
        assert self._mask is not None and self._positions is not None and self.hidden is not None
        index = torch.tensor(indices, device=self.hidden.device)
        self._cache.batch_select_indices(index)
        self.rows = [self.rows[i] for i in indices]
        self._mask = self._mask[index]
        self._positions = self._positions[index]
        self.hidden = self.hidden[index]
        # Drop padding columns that no remaining row needs.
        used = int(self._mask.any(dim=0).long().argmax())
        if used:
            self._mask = self._mask[:, used:]
            for layer in self._cache.layers:
                layer.keys = layer.keys[..., used:, :]
                layer.values = layer.values[..., used:, :]

    def advance(self, frames: torch.Tensor) -> None:
        """Feed each row's new frame (batch, num_codebooks) through the backbone."""
        assert self._mask is not None and self._positions is not None
        embeds = self._frames.embed_frames(frames[:, None, :])
        self._mask = F.pad(self._mask, (0, 1), value=1)
        if bool(self._mask.all()):
            # No padding: the exact call generate() makes, so single rows stay bit-identical.
            self.hidden = self._frames.backbone(embeds, self._cache)
        else:
            self.hidden = self._frames.backbone(
                embeds, self._cache, self._mask, self._positions[:, None]
            )
        self._positions = self._positions + 1

    @property
    def lengths(self) -> list[int]:
        """Positions used per row (prompt + frames so far)."""
        return [] if self._positions is None else [int(p) for p in self._positions]
