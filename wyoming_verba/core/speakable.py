"""Whether a piece of text has anything to say."""

from __future__ import annotations

import unicodedata

# Letters, numbers and symbols (currency, math, emoji) are read out; separators, punctuation,
# marks on their own and control/format characters (zero-width spaces, joiners, BOM) are not.
_SPOKEN_CATEGORIES = ("L", "N", "S")


def is_speakable(text: str) -> bool:
    """True when some character of `text` would be spoken."""
    return any(unicodedata.category(char)[0] in _SPOKEN_CATEGORIES for char in text)
