"""The Verba protocol: everything our extensions of Wyoming put on the wire, written once.

The Info extension (info), the verba-voice-* events (voice_events), context["verba"] options
(options, prosody), request fields (fields), the clip rule (clip) and reading clip files
(clip_file), WAV (wav), and the client (client, speech). The server, the CLI and the Home
Assistant integration all use it. It is the lowest layer: it depends on `wyoming` (1.5.4, Home
Assistant 2025.4's, and later), the standard library and numpy (PyAV only when installed), and
imports its own modules relatively, so custom_components/verba/protocol can be a byte-identical
copy made by script/vendor-protocol (HACS installs the integration from this repository alone).
"""
