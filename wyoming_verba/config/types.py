"""The configuration's shape: one frozen dataclass per section, with the defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from wyoming_verba.core.voices import Style


@dataclass(frozen=True)
class ZeroconfConfig:
    """mDNS advertisement of the server."""

    enabled: bool = True
    name: str = "verba"
    host: str | None = None


@dataclass(frozen=True)
class ServerConfig:
    """The Wyoming TCP server."""

    uri: str = "tcp://0.0.0.0:10200"
    zeroconf: ZeroconfConfig = field(default_factory=ZeroconfConfig)
    samples_per_chunk: int = 1024
    output_rate: int | None = None  # None = each engine's native rate
    max_text_chars: int = 5000
    max_connections: int = 32
    max_event_bytes: int = 1_048_576
    max_pending_requests: int = 4
    read_timeout_s: float = 10.0
    idle_timeout_s: float = 30.0
    write_timeout_s: float = 30.0
    shutdown_grace_s: float = 10.0
    max_stream_s: float = 300.0  # synthesize-start to synthesize-stop
    # Longest pause in an open stream (an LLM calling a slow tool mid-reply), instead of
    # idle_timeout_s: room for a web search or camera snapshot, well under max_stream_s.
    stream_pause_s: float = 120.0
    data_dir: Path = field(default_factory=lambda: Path("~/.cache/wyoming-verba").expanduser())


@dataclass(frozen=True)
class TtsConfig:
    """Which engines run and which one answers requests that name no voice."""

    backend: str = "edge"
    fallback: str | None = "edge"
    engines: tuple[str, ...] = ("edge",)
    styles: tuple[Style, ...] = ()  # speaking styles, each listed as a voice of its own
    clean_text: bool = True  # links, URLs, code, HTML, emoji and tables made speech-ready
    code_phrase: str = ""  # said instead of a fenced code block ("": nothing)
    keep_emoji: bool = False


@dataclass(frozen=True)
class EdgeConfig:
    """Microsoft Edge TTS through edge-tts."""

    voice: str = "en-US-AriaNeural"
    rate: str = "+0%"
    volume: str = "+0%"
    pitch: str = "+0Hz"
    proxy: str | None = None
    timeout_s: float = 10.0
    voice_list_timeout_s: float = 5.0
    endpoint: str | None = None


@dataclass(frozen=True)
class CsmVoiceProfile:
    """A CSM voice: a speaker id plus a reference clip and its transcript as context."""

    name: str
    speaker: int
    reference_audio: Path | None = None
    reference_text: str | None = None


@dataclass(frozen=True)
class CsmConfig:
    """Sesame CSM-1b through transformers."""

    model: str = "sesame/csm-1b"
    device: str = "auto"
    dtype: str = "bfloat16"
    speaker: int = 0
    max_audio_s: float = 20.0
    temperature: float | None = None  # None: the model's generation_config
    top_k: int | None = None
    top_p: float | None = None
    chunk_frames: int = 2
    preload: bool = True
    compile: str | bool = "auto"  # auto: on CUDA only
    cuda_graphs: bool = True
    continuity: bool = True
    max_batch: int = 4
    anchor_speakers: bool = True
    queue_timeout_s: float = 5.0  # longest wait for a generation slot, then tts.fallback
    unload_after_s: float | None = None  # free the model after this long unused
    voices: tuple[CsmVoiceProfile, ...] = ()
    voice_uploads: bool = False  # verba-voice-create/delete over the (unauthenticated) port
    max_voices: int = 20  # voices created that way, at most


@dataclass(frozen=True)
class LogConfig:
    """Logging."""

    debug: bool = False
    format: str = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@dataclass(frozen=True)
class Config:
    """The whole validated configuration."""

    server: ServerConfig = field(default_factory=ServerConfig)
    tts: TtsConfig = field(default_factory=TtsConfig)
    edge: EdgeConfig = field(default_factory=EdgeConfig)
    csm: CsmConfig = field(default_factory=CsmConfig)
    log: LogConfig = field(default_factory=LogConfig)
