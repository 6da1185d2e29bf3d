"""The Info event: one TTS program, `verba`, with the voices of every enabled engine."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from wyoming.event import Event
from wyoming.info import Attribution, Info, TtsProgram, TtsVoice

from wyoming_verba import __version__
from wyoming_verba.core.voices import VoiceInfo
from wyoming_verba.engines.base import EngineStatus
from wyoming_verba.protocol.info import PROGRAM_NAME, EngineReport, Extension

_ATTRIBUTIONS = {
    "edge": Attribution(name="Microsoft Edge TTS", url="https://github.com/rany2/edge-tts"),
    "csm": Attribution(name="Sesame CSM-1b", url="https://huggingface.co/sesame/csm-1b"),
}


def build_info(voices: Iterable[VoiceInfo]) -> Info:
    """Info listing every voice as '<engine>:<voice>' with its languages."""
    tts_voices = [
        TtsVoice(
            name=voice.name,
            attribution=_ATTRIBUTIONS[voice.engine],
            installed=True,
            description=voice.description,
            version=None,
            languages=list(voice.languages),
        )
        for voice in voices
    ]
    program = TtsProgram(
        name=PROGRAM_NAME,
        attribution=Attribution(name="wyoming_verba", url=""),
        installed=True,
        description="Streaming text to speech: Sesame CSM-1b (local GPU) or Microsoft Edge TTS",
        version=__version__,
        voices=tts_voices,
        supports_synthesize_streaming=True,
    )
    return Info(tts=[program])


def info_event(
    info: Event,
    engines: Mapping[str, EngineStatus],
    server_id: str,
    options: Mapping[str, frozenset[str]] | None = None,
) -> Event:
    """The Info event (`info`, rendered once: Describe must stay cheap, Home Assistant asks
    every 30 s) plus the protocol's `verba` extension: the server's stable id, each engine's
    state and the per-request options (context.verba) it honours.

    Home Assistant's Verba integration keys its config entry on `server_id`; `health` and
    `doctor` show the engine states.
    """
    honoured = options or {}
    reports = {
        name: EngineReport(str(status.state), status.detail, tuple(sorted(honoured.get(name, ()))))
        for name, status in engines.items()
    }
    return Extension(server_id, reports).event(info)
