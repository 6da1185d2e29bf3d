"""Configuration: YAML file, then environment, then command-line flags → frozen dataclasses.

- `types`: the sections as frozen dataclasses with their defaults (what every layer above reads).
- `load`: the order of sources and building `Config` (`load_config`, `parse_config`).
- `schema`: the voluptuous schema, and messages that name the key.
- `styles`: tts.styles (speaking styles as voices): their schema and the checks across keys.
- `environment`: TTS_BACKEND, SESAME_SPEAKER_ID, VERBA_DATA_DIR, each named when wrong.
- `file`: reading a config file safely (a bounded regular UTF-8 file); `ConfigError`.
- `uris`: `tcp://HOST:PORT` for `server.uri` and the CLI's `--uri`.

Imports only `core` and `protocol` below it; never an engine or the server.
"""

from wyoming_verba.config.file import ConfigError
from wyoming_verba.config.load import Overrides, load_config, parse_config
from wyoming_verba.config.types import (
    Config,
    CsmConfig,
    CsmVoiceProfile,
    EdgeConfig,
    LogConfig,
    ServerConfig,
    TtsConfig,
    ZeroconfConfig,
)

__all__ = [
    "Config",
    "ConfigError",
    "CsmConfig",
    "CsmVoiceProfile",
    "EdgeConfig",
    "LogConfig",
    "Overrides",
    "ServerConfig",
    "TtsConfig",
    "ZeroconfConfig",
    "load_config",
    "parse_config",
]
