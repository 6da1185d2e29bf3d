"""Client-sent values made safe to echo in errors and logs: shortened and escaped."""

from __future__ import annotations

from typing import Any

DEFAULT_LIMIT = 60

_TYPE_NAMES = {dict: "an object", list: "a list", str: "a string", bool: "true/false"}


def echo(value: Any, limit: int = DEFAULT_LIMIT) -> str:
    """A quoted, escaped, at most ~`limit`-character rendering of a value a client sent.

    Strings are quoted with control characters, newlines and lone surrogates escaped (so a value
    can neither forge a log line nor break UTF-8 output); objects and lists are named, never
    rendered (they may be nested deeply enough to exhaust the stack when rendered).
    """
    if isinstance(value, str):
        text = repr(value[:limit])
        return text if len(value) <= limit else f"{text}… ({len(value)} characters)"
    if value is None or isinstance(value, bool | int | float):
        text = repr(value)
        return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} digits)"
    return kind_of(value)


def kind_of(value: Any) -> str:
    """The JSON kind of a value, for messages such as 'voice must be an object (got a list)'."""
    for kind, name in _TYPE_NAMES.items():
        if isinstance(value, kind):
            return name
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__


def one_line(text: str, limit: int = 300) -> str:
    """A message as one log line: control characters, line breaks and surrogates escaped."""
    escaped = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[:limit])
    return escaped if len(text) <= limit else f"{escaped}…"
