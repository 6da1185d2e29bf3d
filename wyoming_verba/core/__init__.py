"""Helpers every layer uses, with no I/O of their own.

- `audio`: PCM conversion, resampling (PyAV), fixed-size chunking.
- `text`: sentence splitting for whole and streamed text; whether text has anything to say.
- `cleaning`: LLM text made speech-ready (links, URLs, code, HTML, emoji, tables), streaming-safe.
- `voices`: voice names (`edge:<ShortName>`, `csm:<profile>`, `csm:speaker-<n>`, speaking styles)
  and choosing one.
- `aio`: asyncio helpers.

Imports only `protocol` below it.
"""
