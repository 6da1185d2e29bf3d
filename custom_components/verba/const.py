"""Constants for the Verba TTS integration."""

from typing import Final

DOMAIN: Final = "verba"
PROGRAM_NAME: Final = "verba"

CONF_BACKEND: Final = "backend"
CONF_VOICE: Final = "voice"
CONF_SPEAKER: Final = "speaker"

ATTR_SPEAKER: Final = "speaker"

BACKENDS: Final = ("edge", "csm")
SPEAKERS: Final = tuple(str(n) for n in range(8))
DEFAULT_PORT: Final = 10200
CONNECT_TIMEOUT: Final = 5.0
READ_TIMEOUT: Final = 120.0
