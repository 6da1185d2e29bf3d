"""Helpers every layer uses, with no I/O of their own.

- `audio`: PCM conversion, resampling (PyAV), fixed-size chunking.
- `text`: sentence splitting for whole and streamed text; whether text has anything to say.
- `voices`: voice names (`edge:<ShortName>`, `csm:<profile>`, `csm:speaker-<n>`) and choosing one.
- `aio`: asyncio helpers.

Imports only `protocol` below it.
"""
