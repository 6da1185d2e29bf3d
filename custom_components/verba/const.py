"""Constants for the Verba TTS integration (the wire's own are in .protocol)."""

from typing import Final

from .protocol.options import ALL_OPTIONS

DOMAIN: Final = "verba"

CONF_BACKEND: Final = "backend"
CONF_VOICE: Final = "voice"
CONF_SPEAKER: Final = "speaker"
CONF_LANGUAGE: Final = "language"
CONF_LANGUAGE_VOICES: Final = "language_voices"  # {"de": "edge:de-DE-KatjaNeural", ...}

ATTR_SPEAKER: Final = "speaker"

SPEAKERS: Final = tuple(str(n) for n in range(8))
SPEAKER_DEFAULT: Final = "default"
DEFAULT_PORT: Final = 10200
TXT_SERVER_ID: Final = "server_id"  # the zeroconf TXT record key the server sets

# Speaking options: TTS options and entry options named as the protocol names them; they are
# sent in synthesize's context["verba"] (our client only).
SPEAK_OPTIONS: Final = ALL_OPTIONS
ATTR_RATE, ATTR_VOLUME, ATTR_PITCH, ATTR_TEMPERATURE = ALL_OPTIONS


def refresh_signal(entry_id: str) -> str:
    """Dispatcher signal: the entry's options or its server's voices changed (selects redraw)."""
    return f"{DOMAIN}_{entry_id}_refresh"
