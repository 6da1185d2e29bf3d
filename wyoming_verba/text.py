"""Sentence splitting for whole and streamed text."""

from __future__ import annotations

import re

# A sentence ends at . ! ? … (possibly repeated, possibly followed by closing quotes or brackets)
# when whitespace follows, or at a blank line.
_BOUNDARY = re.compile(r"(?<=[.!?…])([\"'”’)\]]*)\s+|\n\s*\n")
_ABBREVIATIONS = frozenset(
    (
        *("mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e"),
        *("approx", "no", "fig", "inc", "ltd", "co", "dept"),
    )
)
_SOFT_BREAK = re.compile(r"[,;:–—]\s+")
DEFAULT_MAX_SENTENCE_CHARS = 300


def _ends_with_abbreviation(text: str) -> bool:
    if not text.endswith("."):
        return False
    words = text.rstrip(".").rsplit(maxsplit=1)
    if not words:
        return False
    word = words[-1].lower().lstrip("(\"'")
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def _split_long(sentence: str, max_chars: int) -> list[str]:
    """Split an over-long sentence at commas, then at spaces, into pieces of at most max_chars."""
    pieces: list[str] = []
    rest = sentence
    while len(rest) > max_chars:
        window = rest[:max_chars]
        cut = -1
        for match in _SOFT_BREAK.finditer(window):
            cut = match.end()
        if cut <= max_chars // 4:
            cut = window.rfind(" ") + 1
        if cut <= 0:
            cut = max_chars
        pieces.append(rest[:cut].strip())
        rest = rest[cut:].lstrip()
    if rest.strip():
        pieces.append(rest.strip())
    return [piece for piece in pieces if piece]


class SentenceSplitter:
    """Incremental splitter: feed text as it arrives, get back each sentence once it is complete."""

    def __init__(self, max_chars: int = DEFAULT_MAX_SENTENCE_CHARS) -> None:
        self._buffer = ""
        self._max_chars = max_chars

    def feed(self, text: str) -> list[str]:
        """Add text; return the sentences that are now complete."""
        self._buffer += text
        sentences: list[str] = []
        start = 0
        for match in _BOUNDARY.finditer(self._buffer):
            candidate = self._buffer[start : match.start() + len(match.group(1) or "")]
            if "\n\n" not in match.group() and _ends_with_abbreviation(candidate):
                continue
            if candidate.strip():
                sentences.extend(_split_long(candidate.strip(), self._max_chars))
            start = match.end()
        self._buffer = self._buffer[start:]
        if len(self._buffer) > self._max_chars * 2:
            # No boundary in sight: do not hold back audio forever.
            pieces = _split_long(self._buffer, self._max_chars)
            sentences.extend(pieces[:-1])
            self._buffer = pieces[-1] if pieces else ""
        return sentences

    def flush(self) -> list[str]:
        """Return whatever text is left as the final sentence(s)."""
        rest, self._buffer = self._buffer.strip(), ""
        return _split_long(rest, self._max_chars) if rest else []


def split_sentences(text: str, max_chars: int = DEFAULT_MAX_SENTENCE_CHARS) -> list[str]:
    """Split a whole text into sentences."""
    splitter = SentenceSplitter(max_chars)
    return splitter.feed(text) + splitter.flush()
