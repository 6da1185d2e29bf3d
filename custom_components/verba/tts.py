"""The Verba text-to-speech entity: whole-message and streaming synthesis."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from typing import Any

from homeassistant.components.tts import ATTR_VOICE, TextToSpeechEntity, TtsAudioType, Voice
from homeassistant.components.tts.entity import TTSAudioRequest, TTSAudioResponse
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import VerbaConfigEntry
from .const import ATTR_SPEAKER, DOMAIN, SPEAK_OPTIONS
from .entity import VerbaEntity
from .protocol.client import CannotConnectError, SynthesisFailedError
from .protocol.wav import AudioFormat, streaming_wav_header, wav_bytes
from .settings import Settings, request_options

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: VerbaConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """One TTS entity per server."""
    async_add_entities([VerbaTtsEntity(entry)])


def _error(err: Exception) -> HomeAssistantError:
    if isinstance(err, SynthesisFailedError):
        return HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="synthesis_failed",
            translation_placeholders={"error": str(err)},
        )
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key="server_unreachable",
        translation_placeholders={"error": str(err) or type(err).__name__},
    )


class VerbaTtsEntity(VerbaEntity, TextToSpeechEntity):
    """Speech from a wyoming_verba server, with the backend/voice/speaker from the options."""

    _attr_translation_key = "speech"
    _attr_supported_options = [ATTR_VOICE, ATTR_SPEAKER, *SPEAK_OPTIONS]  # noqa: RUF012

    def __init__(self, entry: VerbaConfigEntry) -> None:
        """Languages come from the server's voices."""
        super().__init__(entry, "tts")
        self._attr_supported_languages = entry.runtime_data.info.languages

    @property
    def _settings(self) -> Settings:
        return Settings.from_options(self._entry.options, self._entry.runtime_data.info)

    @property
    def default_options(self) -> Mapping[str, Any] | None:
        """The speaking defaults from the options flow; a request's own options win."""
        return self._settings.speaking or None

    @property
    def default_language(self) -> str:
        """The language of the configured voice."""
        info = self._entry.runtime_data.info
        voice = info.voice(self._settings.request_voice(info))
        if voice is not None and voice.languages:
            return voice.languages[0]
        return self._attr_supported_languages[0] if self._attr_supported_languages else "en"

    @callback
    def async_get_supported_voices(self, language: str) -> list[Voice] | None:
        """Voices of every engine for `language`, the chosen backend's first."""
        info = self._entry.runtime_data.info
        voices = [
            Voice(voice_id=v.name, name=v.description)
            for v in info.voices_speaking(language, engine_first=self._settings.backend)
            if language in v.languages
        ]
        return voices or None

    def _voice_and_speaker(
        self, language: str, options: Mapping[str, Any]
    ) -> tuple[str | None, str | None]:
        """A voice in the request wins; else the voice for the request's language."""
        settings = self._settings
        voice = options.get(ATTR_VOICE) or settings.voice_for(
            self._entry.runtime_data.info, language
        )
        speaker = options.get(ATTR_SPEAKER)
        if speaker is None:
            speaker = settings.speaker_for(voice)
        return voice, (str(speaker) if speaker not in (None, "") else None)

    async def async_get_tts_audio(
        self, message: str, language: str, options: dict[str, Any]
    ) -> TtsAudioType:
        """Whole message in, complete WAV out."""
        voice, speaker = self._voice_and_speaker(language, options)
        audio_format = AudioFormat()
        client = self._entry.runtime_data.client
        try:
            speech = client.stream(message, voice, speaker, audio_format, request_options(options))
            pcm = b"".join([chunk async for chunk in speech])
        except (SynthesisFailedError, CannotConnectError) as err:
            raise _error(err) from err
        return "wav", wav_bytes(pcm, audio_format)

    async def async_stream_tts_audio(self, request: TTSAudioRequest) -> TTSAudioResponse:
        """Text in as it arrives (synthesize-start/chunk/stop), WAV out as audio is produced."""
        voice, speaker = self._voice_and_speaker(request.language, request.options)
        client = self._entry.runtime_data.client
        options = request_options(request.options)

        async def data_gen() -> AsyncGenerator[bytes]:
            audio_format = AudioFormat()
            header_sent = False
            try:
                speech = client.stream(request.message_gen, voice, speaker, audio_format, options)
                async for chunk in speech:
                    if not header_sent:
                        header_sent = True
                        yield streaming_wav_header(audio_format)
                    yield chunk
            except (SynthesisFailedError, CannotConnectError) as err:
                raise _error(err) from err
            if not header_sent:
                yield streaming_wav_header(audio_format)

        return TTSAudioResponse("wav", data_gen())
