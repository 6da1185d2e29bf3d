"""Voice names (edge:<ShortName>, csm:<profile>, csm:speaker-<n>) and how a request picks one."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from wyoming_verba.protocol.echo import echo
from wyoming_verba.protocol.fields import BadRequestError, speaker_digits, speaker_field
from wyoming_verba.protocol.options import NO_OPTIONS, SpeakOptions

# ShortName as the voice list gives it: en-US-AriaNeural, fil-PH-AngeloNeural,
# en-US-AndrewMultilingualNeural, zh-CN-liaoning-XiaobeiNeural (a regional variant).
_SHORT_NAME = re.compile(r"[a-z]{2,3}-[A-Z]{2,3}-(?:[a-z]+-)?[A-Za-z0-9]+Neural")
# The long form edge-tts also takes:
# "Microsoft Server Speech Text to Speech Voice (en-US, AriaNeural)".
_LONG_NAME = re.compile(
    r"Microsoft Server Speech Text to Speech Voice \([a-z]{2,3}(?:-[A-Za-z0-9]+){1,3}, "
    r"[A-Za-z0-9]+Neural\)"
)
VOICE_EXAMPLE = "a voice name such as en-US-AriaNeural or en-US-AndrewMultilingualNeural"


def check_edge_voice(name: str) -> str:
    """The name, if it has the form of an Edge voice; ValueError otherwise.

    edge-tts accepts any voice name ending in `Neural` (a quote in it reaches the SSML); this is
    stricter, so a bad name is refused where it is configured, not by the service.
    """
    if _SHORT_NAME.fullmatch(name) or _LONG_NAME.fullmatch(name):
        return name
    raise ValueError(f"expected {VOICE_EXAMPLE} (see `wyoming-verba voices`)")


class UnknownVoiceError(BadRequestError):
    """A request named a voice that no enabled engine has."""

    code = "unknown-voice"


@dataclass(frozen=True)
class VoiceInfo:
    """One voice an engine offers, as listed in Info."""

    engine: str
    voice_id: str
    description: str
    languages: tuple[str, ...]

    @property
    def name(self) -> str:
        """The name clients send: '<engine>:<voice id>'."""
        return f"{self.engine}:{self.voice_id}"


@dataclass(frozen=True)
class Style:
    """A speaking style (tts.styles): a voice name of its own for a base voice plus options."""

    name: str
    voice: str  # the base voice, engine prefix included: csm:alice, edge:en-US-GuyNeural
    options: SpeakOptions = NO_OPTIONS

    @property
    def engine(self) -> str:
        """The base voice's engine, which the style's name is listed under."""
        return self.voice.partition(":")[0]

    @property
    def full_name(self) -> str:
        """The name clients send: '<base engine>:<style name>'."""
        return f"{self.engine}:{self.name}"

    def apply(self, options: SpeakOptions) -> SpeakOptions:
        """The style's options with a request's own (context.verba) over them."""
        given = {name: getattr(options, name) for name in options.given}
        return replace(self.options, **given, unknown=options.unknown)

    def describe(self, base: str) -> str:
        """Info's description: the base voice's plus the options, e.g. 'Alice, rate=+20%'."""
        options = self.options.describe().replace(",", ", ")
        return f"{base} (style: {options or 'no options'})"


@dataclass(frozen=True)
class VoiceChoice:
    """What a request resolved to: an engine, its voice id, and an optional speaker override."""

    engine: str
    voice_id: str
    speaker: int | None = None
    style: Style | None = field(default=None, compare=False)  # the style the request named

    @property
    def name(self) -> str:
        """The full voice name, for errors."""
        return f"{self.engine}:{self.voice_id}"

    @property
    def label(self) -> str:
        """The name for the request's log line: a style's with its base voice."""
        return self.name if self.style is None else f"{self.style.full_name}({self.name})"


def split_voice_name(name: str) -> tuple[str | None, str]:
    """Split 'engine:voice' into its parts; a name without a known prefix has no engine."""
    engine, sep, rest = name.partition(":")
    if sep and engine in ("edge", "csm") and rest:
        return engine, rest
    return None, name


def parse_speaker(value: str | int | None) -> int | None:
    """A speaker id from a request (the protocol sends strings); None when absent or blank.

    Raises BadRequestError for anything but a whole number ≥ 0 (1.5, true, "abc", -1).
    """
    return speaker_field(value)


class VoiceCatalog:
    """Resolves requested voice names against the voices of the enabled engines."""

    def __init__(
        self,
        voices: Mapping[str, Sequence[VoiceInfo]],
        defaults: Mapping[str, VoiceChoice],
        default_engine: str,
        styles: Sequence[Style] = (),
    ) -> None:
        self._voices = {engine: {v.voice_id: v for v in items} for engine, items in voices.items()}
        self._defaults = dict(defaults)
        self._default_engine = default_engine
        self._styles = {style.name: style for style in styles if style.engine in self._voices}

    def style(self, name: str) -> Style | None:
        """The style a voice name names (with or without its engine prefix), if any."""
        engine, voice_id = split_voice_name(name)
        style = self._styles.get(voice_id)
        return style if style is not None and engine in (None, style.engine) else None

    def resolve(self, name: str | None, speaker: str | int | None = None) -> VoiceChoice:
        """Pick engine and voice for a request; raise UnknownVoiceError naming the voice.

        A bad speaker raises BadRequestError.
        """
        speaker_id = parse_speaker(speaker)
        if not name:
            default = self._defaults[self._default_engine]
            return VoiceChoice(default.engine, default.voice_id, speaker_id)
        style = self.style(name)
        if style is not None:
            return replace(self._resolve_named(style.voice, speaker_id), style=style)
        return self._resolve_named(name, speaker_id)

    def _resolve_named(self, name: str, speaker_id: int | None) -> VoiceChoice:
        engine, voice_id = split_voice_name(name)
        candidates = [engine] if engine else list(self._voices)
        for candidate in candidates:
            if candidate in self._voices and voice_id in self._voices[candidate]:
                return VoiceChoice(candidate, voice_id, speaker_id)
        if engine == "csm" and voice_id.startswith("speaker-") and "csm" in self._voices:
            # Any bare speaker id is allowed, not only the ones listed in Info.
            number = speaker_digits(voice_id.removeprefix("speaker-"))
            if number is not None:
                return VoiceChoice("csm", f"speaker-{number}", speaker_id)
        if engine is not None and engine not in self._voices:
            enabled = ", ".join(sorted(self._voices))
            raise UnknownVoiceError(
                f"voice {echo(name)}: the {engine} engine is not enabled on this server "
                f"(enabled: {enabled}; add it to tts.engines)"
            )
        raise UnknownVoiceError(
            f"unknown voice {echo(name)}: use one of the voices this server lists in its info, "
            f"for example {self._defaults[self._default_engine].name!r}"
        )
