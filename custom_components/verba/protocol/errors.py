"""The one base for failures a client is told about: an Error event's `code` and text."""

from __future__ import annotations


class VerbaError(Exception):
    """A failure a client is told about: `code` goes into the Error event, str() is its text."""

    code = "error"

    def __init__(self, message: str = "", code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
