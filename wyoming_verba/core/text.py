"""Sentence splitting for whole and streamed text, and whether a piece of text has anything to say.

Sentence boundaries come from `sentence-stream` (the splitter Home Assistant and wyoming-piper use:
abbreviations, Chinese/Japanese punctuation, markdown emphasis). Around it this module adds what
speech needs and the library does not do:
- markdown list items and headings: each line that starts with a marker is its own block (the
  library would make "1." of "1. Apples" a sentence); bullets and `#` are dropped, numbers kept;
- a length cap: CSM's context holds ~2048 positions, so over-long sentences are cut at commas, then
  spaces, and a stream without any boundary still yields text;
- linear time: the library searches all the text it holds once per sentence it finds, so a whole
  text given at once costs time quadratic in its length (200k characters: 11 s here). Text goes
  to it in pieces of at most _PIECE_CHARS, and the length cap bounds what it holds, so each
  search is short.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import regex
from sentence_stream import SentenceBoundaryDetector

DEFAULT_MAX_SENTENCE_CHARS = 300
_PIECE_CHARS = 256
# A markdown list item or heading at the start of a line (matched partially while streaming).
_MARKER = regex.compile(r"[ \t]*(?:(?P<number>\d{1,3}[.)])|[-*+•]|#{1,6})[ \t]+")
_SOFT_BREAK = re.compile(r"[,;:–—]\s+|[，、；：]")


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
            cut = max_chars  # no space at all (Chinese, Japanese): cut at the cap
        pieces.append(rest[:cut].strip())
        rest = rest[cut:].lstrip()
    if rest.strip():
        pieces.append(rest.strip())
    return [piece for piece in pieces if piece]


class SentenceSplitter:
    """Incremental splitter: feed text as it arrives, get back each sentence once it is complete.

    The result does not depend on how the text was chunked: streamed text gives the same
    sentences as the whole text.
    """

    def __init__(self, max_chars: int = DEFAULT_MAX_SENTENCE_CHARS) -> None:
        self._max_chars = max_chars
        self._detector = SentenceBoundaryDetector()
        self._pending = ""  # text not yet given to the detector
        self._at_line_start = True  # pending starts a line whose marker is still undecided
        self._in_marker_line = False  # the current line is a list item or heading
        self._prefix = ""  # a list item's number, put before its first sentence

    def feed(self, text: str) -> list[str]:
        """Add text; return the sentences that are now complete."""
        out: list[str] = []
        for start in range(0, len(text), _PIECE_CHARS):
            self._feed_piece(text[start : start + _PIECE_CHARS], out)
        return out

    def _feed_piece(self, text: str, out: list[str]) -> None:
        self._pending += text
        while self._pending:
            if self._at_line_start and not self._start_line(out):
                break
            newline = self._pending.find("\n")
            if newline < 0:
                self._detect(self._pending, out)
                self._pending = ""
                break
            self._detect(self._pending[: newline + 1], out)
            self._pending = self._pending[newline + 1 :]
            if self._in_marker_line:
                self._end_block(out)
            self._at_line_start = True

    def flush(self) -> list[str]:
        """Return whatever text is left as the final sentence(s)."""
        out: list[str] = []
        if self._pending:
            self._at_line_start = False  # an undecided marker at the very end is just text
            self._detect(self._pending, out)
            self._pending = ""
        self._end_block(out)
        self._at_line_start = True
        return out

    def _start_line(self, out: list[str]) -> bool:
        """Decide whether the pending line is a list item or heading; False = need more text."""
        # Indentation says nothing more (a line break came before it): drop it, so a long run of
        # spaces is not searched again with every piece.
        self._pending = self._pending.lstrip(" \t")
        if not self._pending:
            return False
        match = _MARKER.match(self._pending, partial=True)
        if match is not None and match.partial:
            return False
        self._at_line_start = False
        if match is not None:
            self._end_block(out)
            self._in_marker_line = True
            self._prefix = match.group("number") or ""
            self._pending = self._pending[match.end() :]
        return True

    def _detect(self, text: str, out: list[str]) -> None:
        self._emit(self._detector.add_chunk(text), out)
        held = len(self._detector.current_sentence) + len(self._detector.remaining_text)
        if held > self._max_chars * 2:
            # No boundary in sight: do not hold back audio forever.
            pieces = _split_long(self._detector.finish(), self._max_chars)
            self._emit(pieces[:-1], out)
            if pieces:
                self._detect(pieces[-1], out)

    def _end_block(self, out: list[str]) -> None:
        self._emit([self._detector.finish()], out)
        self._in_marker_line = False
        self._prefix = ""

    def _emit(self, sentences: Iterable[str], out: list[str]) -> None:
        for found in sentences:
            sentence = found.strip()
            if not sentence:
                continue
            if self._prefix:
                sentence, self._prefix = f"{self._prefix} {sentence}", ""
            out.extend(_split_long(sentence, self._max_chars))


def split_sentences(text: str, max_chars: int = DEFAULT_MAX_SENTENCE_CHARS) -> list[str]:
    """Split a whole text into sentences."""
    splitter = SentenceSplitter(max_chars)
    return splitter.feed(text) + splitter.flush()


# Letters, numbers and symbols (currency, math, emoji) are read out; separators, punctuation,
# marks on their own and control/format characters (zero-width spaces, joiners, BOM) are not.
_SPOKEN_CATEGORIES = ("L", "N", "S")


def is_speakable(text: str) -> bool:
    """True when some character of `text` would be spoken."""
    return any(unicodedata.category(char)[0] in _SPOKEN_CATEGORIES for char in text)
