"""CSM voices: which voices exist, whether a clip makes one, and the prefix each speaks with.

- `registry`: `VoiceRegistry`, the engine's voices (csm.voices profiles, voices created at run
  time, anchored bare speakers): listing, lookup, adding and removing.
- `rules`: the checks every voice passes (clip length from the header, bounded decode,
  transcript, context room); `VoiceProfileError` carries the protocol code.
- `prefixes`: voice prefixes at start (each profile checked on its own, anchors for bare speakers)
  and at run time (built between frames in a free slot).
- `prompts`: token ids, reference-clip prefixes in any slot, seeded anchors.
- `tokens`: the chat template's ids around plain-text user text.
"""
