"""The speech service: the enabled engines, their voices, and request planning."""

from __future__ import annotations

import asyncio
import logging

from wyoming.event import Event
from wyoming.info import Info

from wyoming_verba.config import Config, ConfigError
from wyoming_verba.core.cleaning import CleanRules
from wyoming_verba.core.voices import UnknownVoiceError, VoiceCatalog, VoiceChoice, VoiceInfo
from wyoming_verba.engines.base import Engine
from wyoming_verba.engines.edge.engine import EdgeEngine
from wyoming_verba.protocol.options import NO_OPTIONS, SpeakOptions
from wyoming_verba.server.info import build_info, info_event
from wyoming_verba.server.synthesis import SynthesisPlan, make_plan

_LOGGER = logging.getLogger(__name__)


def build_engines(config: Config) -> dict[str, Engine]:
    """Create (not start) the engines listed in tts.engines."""
    engines: dict[str, Engine] = {}
    for name in config.tts.engines:
        if name == "edge":
            engines[name] = EdgeEngine(config.edge, config.server.data_dir)
        elif name == "csm":
            engines[name] = _build_csm(config)
    return engines


def _build_csm(config: Config) -> Engine:
    try:
        from wyoming_verba.engines.csm import CsmEngine
    except ImportError as err:
        raise ConfigError(
            "tts.backend/tts.engines: the csm engine needs torch and transformers "
            f"({err}); install them with `pip install 'wyoming-verba[csm]'` or use the edge backend"
        ) from err
    return CsmEngine(config.csm, config.server.data_dir)


class SpeechService:
    """Starts the engines and turns requested voice names into synthesis plans."""

    def __init__(self, config: Config, engines: dict[str, Engine], server_id: str) -> None:
        self._config = config
        self.engines = engines
        self.server_id = server_id
        self._info: Info | None = None
        self._info_event: Event | None = None
        self._catalog: VoiceCatalog | None = None

    async def start(self) -> None:
        """Start every engine (concurrently); heavy loading may continue in the background."""
        await asyncio.gather(*(engine.start() for engine in self.engines.values()))
        self.refresh_voices()
        self._check_styles()

    def refresh_voices(self) -> None:
        """Re-read every engine's voices (at start, and after a voice was created or deleted)."""
        voices, defaults = self._engine_voices()
        styles = self._config.tts.styles
        self._catalog = VoiceCatalog(voices, defaults, self._config.tts.backend, styles)
        listed = [voice for items in voices.values() for voice in items]
        self._info = build_info([*listed, *self._style_voices(listed)])
        self._info_event = self._info.event()

    def _engine_voices(self) -> tuple[dict[str, list[VoiceInfo]], dict[str, VoiceChoice]]:
        # The default backend's voices come first; each engine lists its default voice first.
        order = sorted(self.engines, key=lambda name: name != self._config.tts.backend)
        voices = {name: self.engines[name].voices() for name in order}
        defaults = {name: engine.default_voice() for name, engine in self.engines.items()}
        return voices, defaults

    def _style_voices(self, listed: list[VoiceInfo]) -> list[VoiceInfo]:
        """tts.styles as Info lists them, with the base voice's languages and description."""
        by_name = {voice.name: voice for voice in listed}
        result = []
        for style in self._config.tts.styles:
            # csm:speaker-<n> need not be listed: the engine's first voice gives the languages.
            base = by_name.get(style.voice) or next(v for v in listed if v.engine == style.engine)
            described = base.description if base.name == style.voice else style.voice
            result.append(
                VoiceInfo(style.engine, style.name, style.describe(described), base.languages)
            )
        return result

    def _check_styles(self) -> None:
        """Each style's base voice exists and its name is no other voice's (ConfigError)."""
        plain = VoiceCatalog(*self._engine_voices(), self._config.tts.backend)
        for index, style in enumerate(self._config.tts.styles):
            try:
                plain.resolve(style.voice)
            except UnknownVoiceError as err:
                if len(self.engines[style.engine].voices()) > 1:
                    raise ConfigError(f"config key tts.styles.{index}.voice: {err}") from err
                # Edge unreachable at start with no cached list: nothing to check against yet.
                _LOGGER.warning(
                    "tts.styles.%d.voice %s is not in the %s voice list read at start (only the "
                    "default voice is known); the style's requests fail until a restart reads it",
                    index,
                    style.voice,
                    style.engine,
                )
            try:
                taken = plain.resolve(style.full_name)
            except UnknownVoiceError:
                continue
            raise ConfigError(
                f"config key tts.styles.{index}.name: {style.full_name!r} is already the name "
                f"of a voice ({taken.name}); pick another style name"
            )

    @property
    def clean_rules(self) -> CleanRules | None:
        """How requests' text is made speech-ready before it is split; None: tts.clean_text off."""
        tts = self._config.tts
        return CleanRules(tts.code_phrase, tts.keep_emoji) if tts.clean_text else None

    @property
    def info(self) -> Info:
        """Info for Describe."""
        if self._info is None:
            self.refresh_voices()
        assert self._info is not None
        return self._info

    def describe_event(self) -> Event:
        """The answer to Describe: Info plus the server id and each engine's current state."""
        # The default engine comes first: `health` judges the server by it.
        order = sorted(self.engines, key=lambda name: name != self._config.tts.backend)
        statuses = {name: self.engines[name].status() for name in order}
        options = {name: engine.speak_options() for name, engine in self.engines.items()}
        if self._info_event is None:
            self.refresh_voices()
        assert self._info_event is not None
        return info_event(self._info_event, statuses, self.server_id, options)

    def resolve(self, name: str | None, speaker: str | int | None) -> VoiceChoice:
        """The voice a request asked for; UnknownVoiceError names an unknown one."""
        if self._catalog is None:
            self.refresh_voices()
        assert self._catalog is not None
        return self._catalog.resolve(name, speaker)

    def plan(self, voice: VoiceChoice, options: SpeakOptions = NO_OPTIONS) -> SynthesisPlan:
        """Engine, fallback, output rate and speaking options for a resolved voice."""
        tts, server = self._config.tts, self._config.server
        return make_plan(self.engines, voice, tts.fallback, server.output_rate, options)

    async def close(self) -> None:
        """Close every engine (a failing one does not stop the others)."""
        for engine in self.engines.values():
            try:
                await engine.close()
            except Exception:
                _LOGGER.exception("Closing the %s engine failed", engine.name)
