"""The CSM engine: voices, loading (preloaded or lazy), and streaming sentences from the worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass

import torch

from ...audio import Pcm, TrailingSilenceTrimmer
from ...config import CsmConfig, CsmVoiceProfile
from ...voices import VoiceChoice, VoiceInfo
from ..base import EngineError, EngineState, EngineStatus, EngineUnavailableError
from .frames import FrameModel, Sampling
from .loading import load_model
from .prompts import PromptBuilder, VoicePrefix
from .worker import END, Delivery, GenerationWorker, Job

_LOGGER = logging.getLogger(__name__)

SAMPLE_RATE = 24000
FRAMES_PER_SECOND = 12.5
CONTEXT_LIMIT = 2048  # backbone positions: prompt + generated frames
SECONDS_PER_CHAR = 0.09  # generous: conversational speech is ~0.06-0.07 s per character
MIN_SECONDS = 1.0
ANCHOR_TEXT = "Hello! It's good to hear from you, and I'm happy to help with that today."
ANCHOR_MAX_FRAMES = 40  # 3.2 s of audio
ANCHOR_SEED = 20261124


def frame_budget(text: str, max_audio_s: float) -> int:
    """How many frames a sentence may take: from its length, never above csm.max_audio_s."""
    seconds = min(max_audio_s, natural_seconds(text))
    return max(1, int(seconds * FRAMES_PER_SECOND))


def natural_seconds(text: str) -> float:
    """A generous estimate of how long the text takes to say."""
    return MIN_SECONDS + SECONDS_PER_CHAR * len(text)


@dataclass(frozen=True)
class Piece:
    """A stretch of text that fits one generation, with its token ids."""

    text: str
    ids: torch.Tensor


class CsmEngine:
    """Sesame CSM-1b on the local GPU (or CPU), streamed frame by frame."""

    name = "csm"
    sample_rate = SAMPLE_RATE

    def __init__(self, config: CsmConfig) -> None:
        self._config = config
        self._profiles = {profile.name: profile for profile in config.voices}
        self._prefixes: dict[str, VoicePrefix] = {}
        self._anchors: dict[int, VoicePrefix] = {}
        self._loading: asyncio.Task[None] | None = None
        self._prompts: PromptBuilder | None = None
        self._worker: GenerationWorker | None = None

    async def start(self) -> None:
        """Begin loading in the background when csm.preload is set (Describe keeps answering)."""
        if self._config.preload:
            self._loading = asyncio.create_task(self._load(), name="csm load")
            self._loading.add_done_callback(_log_load_failure)

    def status(self) -> EngineStatus:
        """Idle (lazy, not loaded yet), loading, ready, or failed with the reason."""
        task = self._loading
        if task is None:
            return EngineStatus(EngineState.IDLE)
        if not task.done():
            return EngineStatus(EngineState.LOADING)
        if task.cancelled():
            return EngineStatus(EngineState.FAILED, "loading was cancelled")
        err = task.exception()
        if err is not None:
            return EngineStatus(EngineState.FAILED, str(err))
        return EngineStatus(EngineState.READY)

    async def wait_ready(self) -> None:
        """Wait for the preload start() began (none when csm.preload is false)."""
        if self._loading is not None:
            await asyncio.shield(self._loading)

    async def ready(self) -> None:
        """Wait until the model is loaded (loading it now if it is lazy)."""
        if self._loading is None:
            self._loading = asyncio.create_task(self._load(), name="csm load")
        await asyncio.shield(self._loading)

    async def _load(self) -> None:
        loaded = await asyncio.to_thread(load_model, self._config)
        frames = FrameModel(loaded.model)
        prompts = PromptBuilder(loaded.processor, frames)
        for profile in self._config.voices:
            if profile.reference_audio is not None and profile.reference_text is not None:
                self._prefixes[profile.name] = await asyncio.to_thread(
                    prompts.build_prefix,
                    profile.name,
                    profile.speaker,
                    profile.reference_audio,
                    profile.reference_text,
                )
        sampling = Sampling(self._config.temperature, self._config.top_k)
        if self._config.anchor_speakers:
            for speaker in self._listed_speakers():
                self._anchors[speaker] = await asyncio.to_thread(
                    prompts.build_anchor,
                    speaker,
                    ANCHOR_TEXT,
                    ANCHOR_MAX_FRAMES,
                    sampling,
                    ANCHOR_SEED + speaker,
                )
        if self._config.compile and loaded.device.type == "cuda":
            await asyncio.to_thread(frames.enable_compile)
        elif self._config.compile:
            _LOGGER.warning(
                "csm.compile applies to CUDA devices only; ignored on %s", loaded.device
            )
        worker = GenerationWorker(
            frames, prompts, sampling, self._config.chunk_frames, self._config.max_batch
        )
        worker.start()
        self._prompts, self._worker = prompts, worker
        await self._warm_up()
        _LOGGER.info(
            "CSM ready (%d voice profiles, %d anchored speakers)",
            len(self._prefixes),
            len(self._anchors),
        )

    async def _warm_up(self) -> None:
        assert self._prompts is not None
        ids = self._prompts.text_ids("Hi.", self._config.speaker)
        async for _ in self._generate(ids, None, 2):
            pass

    def _listed_speakers(self) -> list[int]:
        return [self._config.speaker] + [n for n in (0, 1) if n != self._config.speaker]

    def voices(self) -> list[VoiceInfo]:
        """csm:speaker-<n> (the default speaker first, then 0 and 1) and csm:<profile> voices."""
        kind = "fixed generated reference" if self._config.anchor_speakers else "no reference"
        voices = [
            VoiceInfo("csm", f"speaker-{n}", f"CSM speaker {n} ({kind})", ("en",))
            for n in self._listed_speakers()
        ]
        voices += [
            VoiceInfo("csm", p.name, f"CSM voice {p.name} (speaker {p.speaker})", ("en",))
            for p in self._config.voices
        ]
        return voices

    def default_voice(self) -> VoiceChoice:
        """csm:speaker-<csm.speaker>."""
        return VoiceChoice(self.name, f"speaker-{self._config.speaker}")

    def generation_stats(self) -> dict[str, int]:
        """Worker counters (steps run, largest batch seen), for tests and diagnostics."""
        worker = self._worker
        return {} if worker is None else {"steps": worker.steps, "max_rows": worker.max_rows_seen}

    async def synthesize(self, text: str, voice: VoiceChoice) -> AsyncGenerator[Pcm, None]:
        """Stream one sentence in the requested voice (split further if it would not fit)."""
        try:
            await self.ready()
        except EngineUnavailableError:
            raise
        except Exception as err:
            raise EngineUnavailableError(f"CSM model failed to load: {err}") from err
        prefix, speaker = self._resolve(voice)
        for piece in self._fit_to_context(text, prefix, speaker):
            budget = frame_budget(piece.text, self._config.max_audio_s)
            async for pcm in self._generate(piece.ids, prefix, budget):
                yield pcm

    def _resolve(self, voice: VoiceChoice) -> tuple[VoicePrefix | None, int]:
        profile: CsmVoiceProfile | None = self._profiles.get(voice.voice_id)
        if profile is not None:
            speaker = voice.speaker if voice.speaker is not None else profile.speaker
            return self._prefixes.get(profile.name) or self._anchors.get(speaker), speaker
        number = voice.voice_id.removeprefix("speaker-")
        if not number.isdigit():
            raise EngineError(f"unknown CSM voice {voice.name!r}")
        speaker = voice.speaker if voice.speaker is not None else int(number)
        return self._anchors.get(speaker), speaker

    def _fit_to_context(self, text: str, prefix: VoicePrefix | None, speaker: int) -> list[Piece]:
        """Split text until it fits csm.max_audio_s and prompt + frames fit 2048 positions."""
        assert self._prompts is not None
        used = prefix.length if prefix is not None else 0
        ids = self._prompts.text_ids(text, speaker)
        needed = used + int(ids.shape[1]) + frame_budget(text, self._config.max_audio_s)
        fits_cap = natural_seconds(text) <= self._config.max_audio_s
        words = text.split()
        if (needed <= CONTEXT_LIMIT and fits_cap) or len(words) < 2:
            if used + int(ids.shape[1]) >= CONTEXT_LIMIT:
                raise EngineError(
                    "the voice reference clip and text do not fit CSM's 2048-position context; "
                    "use a shorter reference_audio"
                )
            return [Piece(text, ids)]
        half = len(words) // 2
        return self._fit_to_context(" ".join(words[:half]), prefix, speaker) + self._fit_to_context(
            " ".join(words[half:]), prefix, speaker
        )

    async def _generate(
        self, ids: torch.Tensor, prefix: VoicePrefix | None, max_frames: int
    ) -> AsyncGenerator[Pcm, None]:
        assert self._worker is not None
        used = (prefix.length if prefix is not None else 0) + int(ids.shape[1])
        budget = max(1, min(max_frames, CONTEXT_LIMIT - used))
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Delivery] = asyncio.Queue()

        def deliver(item: Delivery) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        job = Job(ids, prefix, budget, deliver)
        self._worker.submit(job)
        trimmer = TrailingSilenceTrimmer(SAMPLE_RATE)
        try:
            while (item := await queue.get()) is not END:
                if isinstance(item, BaseException):
                    raise item
                audible = trimmer.push(item)
                if audible.size:
                    yield audible
        finally:
            job.cancelled.set()
        tail = trimmer.flush()
        if tail.size:
            yield tail

    async def close(self) -> None:
        """Stop the worker and free the model."""
        if self._loading is not None and not self._loading.done():
            self._loading.cancel()
            with contextlib.suppress(BaseException):
                await self._loading
        if self._worker is not None:
            await asyncio.to_thread(self._worker.stop)
        self._worker = None
        self._prompts = None
        self._prefixes.clear()
        self._anchors.clear()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _log_load_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        _LOGGER.error("CSM could not be loaded: %s", task.exception())
