"""Microsoft Edge TTS: the edge-tts client, streamed.

- `engine`: `EdgeEngine` (the Engine interface): SSML-safe text, timeouts, MP3 → PCM as it arrives.
- `lookahead`: speaking a reply one sentence at a time, the next one synthesized while one streams.
- `voices`: the voice list, fetched at start and cached on disk for offline starts.
- `mp3`: incremental MP3 decoding with PyAV.
- `errors`: service failures as one line an operator can act on.
"""
