"""Constants for the Verba TTS integration."""

from typing import Final

DOMAIN: Final = "verba"
PROGRAM_NAME: Final = "verba"
EXTENSION_KEY: Final = "verba"  # the server's extra object in Info data (server_id, engines)

CONF_BACKEND: Final = "backend"
CONF_VOICE: Final = "voice"
CONF_SPEAKER: Final = "speaker"
CONF_LANGUAGE: Final = "language"
CONF_LANGUAGE_VOICES: Final = "language_voices"  # {"de": "edge:de-DE-KatjaNeural", ...}

ATTR_SPEAKER: Final = "speaker"

SPEAKERS: Final = tuple(str(n) for n in range(8))
SPEAKER_DEFAULT: Final = "default"
DEFAULT_PORT: Final = 10200
CONNECT_TIMEOUT: Final = 5.0
READ_TIMEOUT: Final = 120.0
TXT_SERVER_ID: Final = "server_id"  # the zeroconf TXT record key the server sets

# Speaking options: sent to the server in synthesize's context["verba"] (our client only).
ATTR_RATE: Final = "rate"
ATTR_VOLUME: Final = "volume"
ATTR_PITCH: Final = "pitch"
ATTR_TEMPERATURE: Final = "temperature"
SPEAK_OPTIONS: Final = (ATTR_RATE, ATTR_VOLUME, ATTR_PITCH, ATTR_TEMPERATURE)
CONTEXT_KEY: Final = "verba"
