"""Microsoft Edge TTS: the edge-tts client streamed through an incremental MP3 decoder."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from functools import partial
from pathlib import Path

import aiohttp
import edge_tts
import edge_tts.communicate
import edge_tts.exceptions
import edge_tts.voices

from wyoming_verba.config import EdgeConfig
from wyoming_verba.core.audio import Pcm
from wyoming_verba.core.voices import VoiceChoice, VoiceInfo
from wyoming_verba.engines.base import (
    EngineError,
    EngineState,
    EngineStatus,
    EngineUnavailableError,
    SentenceEnd,
)
from wyoming_verba.engines.edge.errors import describe_service_error
from wyoming_verba.engines.edge.lookahead import speak_each
from wyoming_verba.engines.edge.mp3 import Mp3StreamDecoder
from wyoming_verba.engines.edge.voices import configured_voice_only, load_voice_list, voice_info
from wyoming_verba.protocol.options import NO_OPTIONS, SpeakOptions, percent

_LOGGER = logging.getLogger(__name__)
# Characters XML 1.0 does not allow (C0 controls but tab/newline/return, surrogates,
# U+FFFE/U+FFFF), plus the other Unicode non-characters, which the service refuses too.
_NOT_XML = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
    + "".join(
        f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(1, 17)
    )
    + "]"
)

SAMPLE_RATE = 24000  # edge-tts always asks for audio-24khz-48kbitrate-mono-mp3
SPEAK_OPTIONS = frozenset({"rate", "volume", "pitch"})  # the SSML prosody
_TOKEN = "6A5AA1D4EAFF4E9FB37E23D68491D6F4"


def point_edge_tts_at(endpoint: str) -> None:
    """Send edge-tts to another service base URL (a relay, or a local test service)."""
    websocket = endpoint.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    # edge-tts reads these module attributes on every request; there is no parameter for them.
    setattr(edge_tts.communicate, "WSS_URL", f"{websocket}/edge/v1?TrustedClientToken={_TOKEN}")  # noqa: B010
    setattr(edge_tts.voices, "VOICE_LIST", f"{endpoint}/voices/list?trustedclienttoken={_TOKEN}")  # noqa: B010


class EdgeEngine:
    """Speech from Microsoft's Edge read-aloud service."""

    name = "edge"
    sample_rate = SAMPLE_RATE

    def __init__(self, config: EdgeConfig, cache_dir: Path) -> None:
        self._config = config
        self._cache_file = cache_dir / "edge-voices.json"
        self._voices: list[VoiceInfo] = configured_voice_only(config.voice)
        self._status = EngineStatus(EngineState.LOADING)

    async def start(self) -> None:
        """Fetch (or read the cached) voice list."""
        if self._config.endpoint:
            point_edge_tts_at(self._config.endpoint)
        voice_list = await load_voice_list(
            self._cache_file, self._config.proxy, self._config.voice_list_timeout_s
        )
        voices = [info for info in map(voice_info, voice_list.entries or []) if info is not None]
        if voices:
            self._voices = sorted(voices, key=lambda v: (v.languages[0], v.voice_id))
        if all(v.voice_id != self._config.voice for v in self._voices):
            _LOGGER.warning(
                "edge.voice %r is not in the service's voice list; requests without a voice "
                "will probably fail (pick one from `wyoming-verba voices`)",
                self._config.voice,
            )
            self._voices.extend(configured_voice_only(self._config.voice))
        if voice_list.unreachable is None:
            _LOGGER.info("Edge TTS ready: %d voices from the service", len(self._voices))
            self._status = EngineStatus(EngineState.READY)
            return
        source = (
            f"the cached list of {len(self._voices)} voices in {self._cache_file}"
            if voices
            else f"only edge.voice {self._config.voice} (no cached voice list yet)"
        )
        _LOGGER.warning(
            "Edge TTS service unreachable at start (%s); listing %s. Each request tries the "
            "service again; check the network or edge.proxy",
            voice_list.unreachable,
            source,
        )
        self._status = EngineStatus(
            EngineState.READY, f"service unreachable at start: {voice_list.unreachable}"
        )

    def status(self) -> EngineStatus:
        """Ready once the voice list is read (Edge itself is reached per request)."""
        return self._status

    async def wait_ready(self) -> None:
        """Nothing loads in the background."""

    def ensure_loading(self) -> None:
        """Nothing loads on first use."""

    def speak_options(self) -> frozenset[str]:
        """rate, volume and pitch: the SSML prosody, overriding edge.rate/volume/pitch."""
        return SPEAK_OPTIONS

    def speak(
        self,
        sentences: AsyncIterator[str],
        voice: VoiceChoice,
        options: SpeakOptions = NO_OPTIONS,
    ) -> AsyncGenerator[Pcm | SentenceEnd, None]:
        """Sentence by sentence; the next one is synthesized while the current one streams."""
        return speak_each(partial(self.synthesize, options=options), sentences, voice)

    def voices(self) -> list[VoiceInfo]:
        """Voices as 'edge:<ShortName>' with their locale; the default voice comes first."""
        default = [v for v in self._voices if v.voice_id == self._config.voice]
        return default + [v for v in self._voices if v.voice_id != self._config.voice]

    def default_voice(self) -> VoiceChoice:
        """The configured edge.voice."""
        return VoiceChoice(self.name, self._config.voice)

    async def synthesize(
        self, text: str, voice: VoiceChoice, options: SpeakOptions = NO_OPTIONS
    ) -> AsyncGenerator[Pcm, None]:
        """Stream one sentence; each MP3 piece is decoded as soon as it arrives."""
        communicate = self._communicate(text, voice, options)
        decoder = Mp3StreamDecoder(self.sample_rate)
        stream = communicate.stream()
        received = 0
        try:
            with self._service_errors(voice):
                while True:
                    try:
                        # asyncio.timeout, not wait_for: in 3.11 wait_for can swallow a cancel
                        async with asyncio.timeout(self._config.timeout_s):
                            message = await anext(stream)
                    except StopAsyncIteration:
                        break
                    if message["type"] != "audio":
                        continue
                    received += len(message["data"])
                    pcm = decoder.decode(message["data"])
                    if pcm.size:
                        yield pcm
        finally:
            await stream.aclose()
        tail = decoder.flush()
        if tail.size:
            yield tail
        if _connection_dropped(communicate, received):
            raise EngineUnavailableError(
                "the Edge TTS service closed the connection before the sentence was complete"
            )

    def _communicate(
        self, text: str, voice: VoiceChoice, options: SpeakOptions
    ) -> edge_tts.Communicate:
        config = self._config
        pitch = options.pitch or config.pitch
        communicate = edge_tts.Communicate(
            xml_text(text),  # edge-tts escapes <, & and > but passes U+FFFE and the like
            voice.voice_id,
            rate=config.rate if options.rate is None else percent(options.rate),
            volume=config.volume if options.volume is None else percent(options.volume),
            pitch=pitch if pitch.endswith("Hz") else "+0Hz",
            proxy=config.proxy,
            connect_timeout=max(1, round(config.timeout_s)),
            receive_timeout=max(1, round(config.timeout_s)),
        )
        if not pitch.endswith("Hz"):
            # The service takes a relative pitch in percent too, but edge-tts 7.3.1 only lets
            # Hz through its check; options.py has already checked the value (fullmatch, range).
            communicate.tts_config.pitch = pitch
        return communicate

    @contextlib.contextmanager
    def _service_errors(self, voice: VoiceChoice) -> Iterator[None]:
        """edge-tts and aiohttp failures as engine errors that say what to check."""
        try:
            yield
        except TimeoutError as err:
            raise EngineUnavailableError(
                f"Edge TTS sent nothing for {self._config.timeout_s:g} s (edge.timeout_s); "
                "the service is slow or unreachable"
            ) from err
        except edge_tts.exceptions.NoAudioReceived as err:
            raise EngineError(
                f"Edge TTS returned no audio for voice {voice.name!r}; check the voice name and "
                "edge.rate / edge.volume / edge.pitch"
            ) from err
        except (
            edge_tts.exceptions.UnknownResponse,
            edge_tts.exceptions.UnexpectedResponse,
            edge_tts.exceptions.WebSocketError,
        ) as err:
            raise EngineUnavailableError(f"Edge TTS service error: {err}") from err
        except aiohttp.ClientError as err:
            raise EngineUnavailableError(
                f"cannot reach the Edge TTS service ({describe_service_error(err)}); "
                "check the network or edge.proxy"
            ) from err

    async def close(self) -> None:
        """Nothing is held between requests."""


def _connection_dropped(communicate: edge_tts.Communicate, received: int) -> bool:
    # edge-tts adds a piece's bytes to cumulative_audio_bytes only when the service ends the turn
    # properly; a connection that just closes leaves them out, and stream() ends without an error.
    state = getattr(communicate, "state", None)
    if not isinstance(state, dict) or "cumulative_audio_bytes" not in state:
        return False
    return bool(state["cumulative_audio_bytes"] != received)


def xml_text(text: str) -> str:
    """The text with every character XML 1.0 (and the service) refuses replaced by a space."""
    return _NOT_XML.sub(" ", text)
