"""Speech-ready text (tts.clean_text): what an LLM writes for eyes, rewritten for ears.

- a markdown link `[the forecast](https://…)` (or image) is read as its text;
- a bare URL as its host name (`https://www.example.com/a?b` → `example.com`);
- fenced code blocks (``` or ~~~) are skipped (or tts.code_phrase said instead); inline code is
  kept as words (`light_on` → `light on`);
- HTML tags are dropped (a block tag such as <br> leaves a space);
- emoji are dropped (with their joiners, skin tones and variation selectors) unless
  tts.keep_emoji;
- a table row is read cell by cell (`| Mon | 21 °C |` → `Mon, 21 °C.`), a separator row not at
  all.

Everything else passes unchanged: numbers, abbreviations and the punctuation the sentence splitter
needs. Streaming-safe: `feed` holds back only a construct still undecided (each is bounded, so
the held text is too, and the work stays linear); the output does not depend on the chunking.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import regex

_MAX_HELD = 2000  # the longest construct held back (a URL, a table row): bounds every match
# A run of emoji: pictographs (not ©, ®, ™ and arrows below U+2300, which prose uses), regional
# indicator flags, and what joins or modifies them.
_PICTO = r"[[\p{Extended_Pictographic}--[\x00-\u22ff]]\U0001F1E6-\U0001F1FF]"
_JOIN = r"[\u200d\ufe0e\ufe0f\u20e3\U0001F3FB-\U0001F3FF\U000E0020-\U000E007F]"
_EMOJI = regex.compile(rf"{_PICTO}(?:{_JOIN}|{_PICTO})*|\ufe0f?\u20e3|\ufe0f", regex.V1)
_EMOJI_AT_END = regex.compile(rf"{_PICTO}(?:{_JOIN}|{_PICTO})*\Z", regex.V1)
_CONTINUATION = regex.compile(rf"(?:{_JOIN}|{_PICTO})*", regex.V1)

_SPECIAL = regex.compile(r"\n|!?\[|`|<|https?://")
_LINK = regex.compile(r"!?\[([^\[\]\n]{0,300})\]\(([^()\s]{0,2000})\)")
_CODE = regex.compile(r"(`{1,2})([^`\n]{1,300}?)\1(?!`)")
_BACKTICKS = re.compile(r"`+")
_TAG = regex.compile(
    r"</?(a|abbr|b|blockquote|br|code|del|details|div|em|h[1-6]|hr|i|img|ins|kbd|li|mark|ol|p|"
    r"pre|s|small|span|strong|sub|summary|sup|table|tbody|td|th|thead|tr|u|ul)"
    r"(?:\s+[A-Za-z_:][-\w:.]{0,40}"  # attributes: name, then ="…", ='…' or a bare value
    r"(?:\s*=\s*(?:\"[^\"<>\n]{0,300}\"|'[^'<>\n]{0,300}'|[^\s<>\"']{1,300}))?){0,20}"
    r"\s*/?>",
    regex.IGNORECASE,
)
_BLOCK_TAGS = {"br", "p", "div", "li", "tr", "td", "th", "hr", "ul", "ol", "table", "blockquote"}
_URL = regex.compile(r"https?://([^\s/?#<>()\[\]\"'`|]{1,253})[^\s<>()\[\]\"'`|]{0,2000}")
_TRAILING = re.compile(r"[.,;:!?]+\Z")
_FENCE = regex.compile(r"[ \t]{0,16}(?:```|~~~)")
_ROW = regex.compile(rf"[ \t]{{0,16}}\|[^\n]{{0,{_MAX_HELD}}}\n")
_ANY_ROW = regex.compile(rf"[ \t]{{0,16}}\|[^\n]{{0,{_MAX_HELD}}}(?:\n|\Z)")
_SEPARATOR_CELL = re.compile(r"[ \t:-]*\Z")
_SENTENCE_END = re.compile(r"[.!?…:;]\Z")


@dataclass(frozen=True)
class CleanRules:
    """What the configuration changes: a phrase said for a code block, emoji kept."""

    code_phrase: str = ""  # tts.code_phrase: said (as a sentence) instead of a code block
    keep_emoji: bool = False  # tts.keep_emoji


DEFAULT_RULES = CleanRules()


def clean_text(text: str, rules: CleanRules = DEFAULT_RULES) -> str:
    """The whole text made speech-ready (as streaming it through SpeechCleaner gives)."""
    cleaner = SpeechCleaner(rules)
    return cleaner.feed(text) + cleaner.flush()


class SpeechCleaner:
    """Incremental cleaner: feed text as it arrives, get back what is decided so far."""

    def __init__(self, rules: CleanRules = DEFAULT_RULES) -> None:
        self._rules = rules
        self._pending = ""
        self._line_start = True
        self._in_fence = False
        self._skip_line = False  # dropping text up to the next line break (a fence line)
        self._after_emoji = False  # the output so far ended in an emoji run (being dropped)

    def feed(self, text: str) -> str:
        """Add text; return the cleaned text that no later text can change."""
        self._pending += text
        return self._run(final=False)

    def flush(self) -> str:
        """The end of the text: everything still held, cleaned."""
        out = self._run(final=True)
        self._pending, self._line_start, self._in_fence = "", True, False
        self._skip_line = self._after_emoji = False
        return out

    def _run(self, final: bool) -> str:
        buf, pos = self._pending, 0
        out: list[str] = []
        while pos < len(buf):
            if self._skip_line:
                newline = buf.find("\n", pos)
                if newline < 0:
                    pos = len(buf)  # dropped: the rest of a fence line or fenced code
                    break
                pos, self._skip_line, self._line_start = newline + 1, False, True
                continue
            if self._line_start:
                step = self._line(buf, pos, final, out)
            else:
                step = self._inline(buf, pos, final, out)
            if step is None:
                break
            pos = step
        self._pending = buf[pos:]
        text = "".join(out)
        return text if self._rules.keep_emoji else self._drop_emoji(text)

    def _line(self, buf: str, pos: int, final: bool, out: list[str]) -> int | None:
        """At a line start: a code fence, a table row, or an ordinary line."""
        fence, hold = _match(_FENCE, buf, pos, final)
        if hold:
            return None
        if fence is not None or self._in_fence:
            if fence is not None and not self._in_fence and self._rules.code_phrase:
                out.append(f"\n\n{self._rules.code_phrase}\n\n")  # a sentence of its own
            self._in_fence = not self._in_fence if fence is not None else True
            self._skip_line, self._line_start = True, False
            return pos
        row, hold = _match(_ANY_ROW if final else _ROW, buf, pos, final)
        if hold:
            return None
        if row is not None:
            out.append(_read_row(row[0], self._rules))
            return row.end()
        self._line_start = False
        return pos

    def _inline(self, buf: str, pos: int, final: bool, out: list[str]) -> int | None:
        """Plain text up to the next construct, then that construct."""
        special = _SPECIAL.search(buf, pos, partial=not final)
        end = len(buf) if special is None else special.start()
        out.append(buf[pos:end])
        if special is None:
            return end
        if special.partial:  # the text ends in what may start a construct: wait for more
            return end if end > pos else None
        char = buf[end]
        if char == "\n":
            out.append("\n")
            self._line_start = True
            return end + 1
        construct = {"[": _LINK, "!": _LINK, "`": _CODE, "<": _TAG, "h": _URL}[char]
        found, hold = _match(construct, buf, end, final)
        if hold:
            return None if end == pos else end
        if found is None:
            backticks = _BACKTICKS.match(buf, end)
            if backticks is not None:
                return backticks.end()  # an unpaired backtick is not read
            out.append(char)
            return end + 1
        return _render(found, char, out, self._rules)

    def _drop_emoji(self, text: str) -> str:
        if self._after_emoji:
            text = text[_CONTINUATION.match(text).end() :]  # type: ignore[union-attr]
        if text:
            self._after_emoji = _EMOJI_AT_END.search(text) is not None
        return _EMOJI.sub("", text)


def _match(
    pattern: regex.Pattern[str], buf: str, pos: int, final: bool
) -> tuple[regex.Match[str] | None, bool]:
    """(the match at pos, whether to wait for more text to decide)."""
    if final:
        return pattern.match(buf, pos), False
    found = pattern.match(buf, pos, partial=True)
    if found is not None and (found.partial or found.end() == len(buf)):
        return None, True  # more text may extend it (a URL) or undo it (a closing backtick)
    return found, False


def _render(found: regex.Match[str], char: str, out: list[str], rules: CleanRules) -> int:
    """Write what a construct is read as; return where the text goes on."""
    if char in "[!":
        out.append(clean_text(found[1], rules))
    elif char == "`":
        out.append(found[2].replace("_", " ").replace("()", ""))
    elif char == "<":
        out.append(" " if found[1].lower() in _BLOCK_TAGS else "")
    else:
        host = found[1].rpartition("@")[2].partition(":")[0].rstrip(".")
        out.append(host.removeprefix("www."))
        trailing = _TRAILING.search(found[0])
        if trailing is not None:  # the sentence's own punctuation, not the URL's
            return found.end() - len(trailing[0])
    return found.end()


def _read_row(row: str, rules: CleanRules) -> str:
    """A table row as words: its cells joined by commas, ended like a sentence, a paragraph of
    its own (so the splitter ends it even after an abbreviation such as °C.)."""
    newline = "\n\n" if row.endswith("\n") else ""
    cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
    if all(_SEPARATOR_CELL.match(cell) for cell in cells):
        return ""
    spoken = [text for text in (clean_text(cell, rules).strip() for cell in cells) if text]
    line = ", ".join(spoken)
    if line and not _SENTENCE_END.search(line):
        line += "."
    return line + newline
