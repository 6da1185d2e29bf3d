"""Token ids of chat-template turns in which the user's text is always plain text.

The processor renders the chat template to a string and tokenizes it with special tokens parsed,
so `<|AUDIO|>` or `<|end_of_text|><|begin_of_text|>[7]` inside a request would become control
tokens (a crash, or a second turn with another speaker). Here the template is rendered around a
marker instead of the text; its own pieces keep their special tokens and the text is tokenized
with special tokens not parsed. The tokenizer splits a string at special tokens and tokenizes
each plain stretch on its own, so tokenizing the stretch around the text (the template's plain
text just before and after it included) gives the same ids as today for ordinary text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import torch
from tokenizers import Tokenizer

_MARKER = "\ue000verba-text\ue001"  # private-use characters: never part of a template


@dataclass(frozen=True)
class _Layout:
    """A turn's template around its text: ids before, plain text touching it, ids/text after."""

    before: list[int]
    plain_before: str
    plain_after: str
    after: str  # the rest of the template after the text, as a string with special tokens


class TurnTokenizer:
    """Turns for one speaker: text-only turns as ids, reference turns through the processor."""

    def __init__(self, processor: Any) -> None:
        self._processor = processor
        tokenizer = processor.tokenizer
        # An own copy of the Rust tokenizer with special tokens not parsed: the shared one's
        # flag is switched per call, which would race between threads.
        self._plain = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
        self._plain.encode_special_tokens = True
        added = sorted(tokenizer.get_added_vocab(), key=len, reverse=True)
        self._ids = {token: tokenizer.convert_tokens_to_ids(token) for token in added}
        self._split = re.compile("(" + "|".join(map(re.escape, added)) + ")") if added else None

    def text_turn(self, text: str, speaker: int) -> torch.Tensor:
        """Ids (1, n) of a text turn for `speaker`; `text` never yields a special token."""
        layout = self._layout(speaker, audio=False)
        ids = layout.before + self._plain_ids(layout.plain_before + text + layout.plain_after)
        ids += self._template_ids(layout.after)
        return torch.tensor([ids], dtype=torch.long)

    def reference_turn(self, text: str, speaker: int, audio: Any) -> dict[str, torch.Tensor]:
        """input_ids, input_values and input_values_cutoffs of a reference turn (text + audio),
        the audio placeholder expanded by the processor; `text` stays plain text."""
        layout = self._layout(speaker, audio=True)
        head = layout.before + self._plain_ids(layout.plain_before + text + layout.plain_after)
        encoded = self._processor(text=layout.after, audio=audio, add_special_tokens=False)
        ids = torch.cat([torch.tensor([head], dtype=torch.long), encoded["input_ids"]], dim=1)
        return {
            "input_ids": ids,
            "input_values": encoded["input_values"],
            "input_values_cutoffs": encoded["input_values_cutoffs"],
        }

    def _layout(self, speaker: int, audio: bool) -> _Layout:
        content: list[dict[str, Any]] = [{"type": "text", "text": _MARKER}]
        if audio:
            content.append({"type": "audio", "path": "marker"})  # rendered, never loaded
        turn = [{"role": str(speaker), "content": content}]
        rendered = self._processor.apply_chat_template(turn, tokenize=False)
        head, tail = str(rendered).split(_MARKER)
        before = self._pieces(head)
        after = self._pieces(tail)
        plain_before = before.pop() if before and before[-1] not in self._ids else ""
        plain_after = after.pop(0) if after and after[0] not in self._ids else ""
        return _Layout(
            self._template_ids("".join(before)), plain_before, plain_after, "".join(after)
        )

    def _pieces(self, text: str) -> list[str]:
        if self._split is None:
            return [text] if text else []
        return [piece for piece in self._split.split(text) if piece]

    def _template_ids(self, text: str) -> list[int]:
        ids: list[int] = []
        for piece in self._pieces(text):
            ids += [self._ids[piece]] if piece in self._ids else self._plain_ids(piece)
        return ids

    def _plain_ids(self, text: str) -> list[int]:
        return list(self._plain.encode(text, add_special_tokens=False).ids) if text else []
