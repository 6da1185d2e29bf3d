"""Wyoming text-to-speech server: Sesame CSM-1b on a local GPU or Microsoft Edge TTS, streamed."""

__version__ = "0.1.0"
