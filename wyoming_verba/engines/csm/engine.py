"""The CSM engine: the Engine interface over loading (preloaded or lazy, unloaded when idle), the
voice registry, and speaking replies through the generation worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from functools import partial
from pathlib import Path

from wyoming_verba.config import CsmConfig, CsmVoiceProfile
from wyoming_verba.core.audio import Pcm
from wyoming_verba.core.voices import VoiceChoice, VoiceInfo
from wyoming_verba.engines.base import (
    EngineState,
    EngineStatus,
    EngineUnavailableError,
    SentenceEnd,
)
from wyoming_verba.engines.csm.generation.stream import ReplySettings, stream_reply
from wyoming_verba.engines.csm.model.mimi import SAMPLE_RATE
from wyoming_verba.engines.csm.model.pipeline import release_cuda_cache
from wyoming_verba.engines.csm.model.slots import VoicePrefix
from wyoming_verba.engines.csm.startup.idle import IdleWatch
from wyoming_verba.engines.csm.startup.lifecycle import log_ready, start_runtime, unload_runtime
from wyoming_verba.engines.csm.startup.runtime import CsmRuntime
from wyoming_verba.engines.csm.tempo import AudioShaper, shaped
from wyoming_verba.engines.csm.voices.anchor_store import AnchorStore
from wyoming_verba.engines.csm.voices.registry import VoiceRegistry
from wyoming_verba.protocol.options import NO_OPTIONS, SpeakOptions

_LOGGER = logging.getLogger(__name__)

SPEAK_OPTIONS = frozenset({"rate", "volume", "temperature"})  # rate/volume: tempo.AudioShaper


class CsmEngine:
    """Sesame CSM-1b on the local GPU (or CPU), streamed frame by frame."""

    name = "csm"
    sample_rate = SAMPLE_RATE

    def __init__(self, config: CsmConfig, data_dir: Path | None = None) -> None:
        self._config = config
        self._data_dir = data_dir  # compiled code is kept under data_dir/torch-compile
        self._voices = VoiceRegistry(config)
        self._loading: asyncio.Task[None] | None = None
        self._runtime: CsmRuntime | None = None
        self._compiled = False
        self._unloading: asyncio.Task[None] | None = None
        self._idle = IdleWatch(config.unload_after_s, self._worker_busy, self._unload)

    async def start(self) -> None:
        """Check each voice profile's clip (bounded; a bad one is skipped), then begin loading in
        the background when csm.preload is set (Describe keeps answering)."""
        await self._voices.check_clips()
        if self._config.preload:
            self.ensure_loading()

    def ensure_loading(self) -> None:
        """Begin loading now if it has not begun (csm.preload: false loads on first use)."""
        if self._loading is None:
            self._loading = asyncio.create_task(self._load(), name="csm load")
            self._loading.add_done_callback(_log_load_failure)

    def status(self) -> EngineStatus:
        """Idle (lazy, not loaded yet), loading, ready, unloaded (csm.unload_after_s), or failed
        with the reason."""
        task = self._loading
        if task is None:
            return EngineStatus(EngineState.UNLOADED if self._unloading else EngineState.IDLE)
        if not task.done():
            return EngineStatus(EngineState.LOADING)
        if task.cancelled():
            return EngineStatus(EngineState.FAILED, "loading was cancelled")
        err = task.exception()
        if err is not None:
            return EngineStatus(EngineState.FAILED, str(err))
        return EngineStatus(EngineState.READY, self._voices.summary())

    async def wait_ready(self) -> None:
        """Wait for the preload start() began (none when csm.preload is false)."""
        if self._loading is not None:
            await asyncio.shield(self._loading)

    async def ready(self) -> None:
        """Wait until the model is loaded (loading it now if it is lazy)."""
        await self._ready()

    async def _ready(self) -> CsmRuntime:
        self._idle.touch()
        self.ensure_loading()
        assert self._loading is not None
        try:
            await asyncio.shield(self._loading)
        except EngineUnavailableError:
            raise
        except Exception as err:
            raise EngineUnavailableError(f"CSM model failed to load: {err}") from err
        assert self._runtime is not None
        return self._runtime

    async def _load(self) -> None:
        if self._unloading is not None:
            await asyncio.shield(self._unloading)  # the old model's memory first
            self._unloading = None
        started = time.monotonic()
        await self._voices.check_clips()
        up = await start_runtime(self._config, self._data_dir)
        self._runtime, self._compiled = up.runtime, up.compiled
        store = AnchorStore.under(self._data_dir, up.model_key)
        built = await self._voices.build(up.runtime.worker, up.runtime.prompts, store)
        await self._warm_up(up.runtime)
        log_ready(up, time.monotonic() - started, built)
        self._idle.arm()

    def _worker_busy(self) -> tuple[bool, float]:
        runtime = self._runtime
        if runtime is None:
            return False, 0.0
        return runtime.worker.busy, runtime.worker.last_active

    async def _unload(self) -> None:
        """Free the model (csm.unload_after_s); the next request loads it again."""
        runtime, loading = self._runtime, self._loading
        if runtime is None or loading is None or not loading.done() or runtime.worker.busy:
            return
        # Detached in one go on the event loop: a request from now on starts a new load.
        self._runtime, self._loading = None, None
        self._voices.forget_built()
        idle_s = time.monotonic() - runtime.worker.last_active
        self._unloading = asyncio.create_task(
            unload_runtime(runtime, self._compiled, idle_s), name="csm unload"
        )
        del runtime
        try:
            await asyncio.shield(self._unloading)
        except Exception as err:  # the model is detached either way
            _LOGGER.warning("Freeing the unloaded CSM model failed: %s", err)

    async def _warm_up(self, runtime: CsmRuntime) -> None:
        async with contextlib.aclosing(self._speak(runtime, _one("Hi."), None, 0)) as stream:
            async for _ in stream:
                pass

    def voices(self) -> list[VoiceInfo]:
        """csm:speaker-<n> (the default speaker first, then 0 and 1) and csm:<profile> voices."""
        return self._voices.voices()

    # Voices created at run time (verba-voice-create): voices.registry, rules in voices.rules.
    def add_stored_voices(
        self, profiles: list[CsmVoiceProfile], failed: dict[str, str] | None = None
    ) -> list[str]:
        """Before start: add stored profiles (built while loading) and note the unreadable ones
        (name → why); returns the names skipped because csm.voices already has them."""
        return self._voices.add_stored(profiles, failed or {})

    def voice_origin(self, name: str) -> str | None:
        """'config' (csm.voices), 'created', 'failed' (created, failed at load), or None."""
        return self._voices.origin(name)

    async def check_voice(self, samples: int, transcript: str, speaker: int) -> None:
        """VoiceProfileError unless a CSM-rate clip of `samples` + transcript make a usable
        voice."""
        await self._voices.check(self._loaded().prompts, samples, transcript, speaker)

    async def add_voice(self, profile: CsmVoiceProfile, wait_s: float) -> None:
        """Encode and prefill a new profile on the generation thread; it speaks at once."""
        runtime = self._loaded()
        await self._voices.add(runtime.worker, runtime.prompts, profile, wait_s)

    def remove_voice(self, name: str) -> None:
        """Forget a created profile (replies already speaking with it finish)."""
        self._voices.remove(name)

    def _loaded(self) -> CsmRuntime:
        if self._runtime is None:
            raise EngineUnavailableError("CSM is not loaded")
        return self._runtime

    def default_voice(self) -> VoiceChoice:
        """csm:speaker-<csm.speaker>."""
        return VoiceChoice(self.name, f"speaker-{self._config.speaker}")

    def generation_stats(self) -> dict[str, int]:
        """Worker counters (frame steps run, most replies generating at once), for tests."""
        runtime = self._runtime
        if runtime is None:
            return {}
        return {"steps": runtime.worker.steps, "max_rows": runtime.worker.max_rows_seen}

    def speak_options(self) -> frozenset[str]:
        """rate and volume (on the audio), and temperature unless the frame step was built
        greedy-only (csm.temperature: 0), which cannot sample."""
        runtime = self._runtime
        if runtime is not None:
            greedy = runtime.worker.pipeline.step.sampling.greedy
        else:
            greedy = self._config.temperature == 0
        return SPEAK_OPTIONS - {"temperature"} if greedy else SPEAK_OPTIONS

    async def speak(
        self,
        sentences: AsyncIterator[str],
        voice: VoiceChoice,
        options: SpeakOptions = NO_OPTIONS,
    ) -> AsyncGenerator[Pcm | SentenceEnd, None]:
        """Speak a reply in the requested voice: one slot for all its sentences (with
        csm.continuity each hears the ones before it); SENTENCE_END after each sentence."""
        runtime = await self._ready()
        prefix, speaker = self._voices.resolve(voice)
        shaper = AudioShaper.for_options(options, SAMPLE_RATE)
        async with (
            contextlib.aclosing(
                self._speak(runtime, sentences, prefix, speaker, options.temperature)
            ) as spoken,
            contextlib.aclosing(shaped(spoken, shaper)) as stream,
        ):
            async for item in stream:
                yield item

    def _speak(
        self,
        runtime: CsmRuntime,
        sentences: AsyncIterator[str],
        prefix: VoicePrefix | None,
        speaker: int,
        temperature: float | None = None,
    ) -> AsyncGenerator[Pcm | SentenceEnd, None]:
        config = self._config
        settings = ReplySettings(
            config.continuity, config.queue_timeout_s, config.max_audio_s, temperature
        )
        text_ids = partial(runtime.prompts.text_ids, speaker=speaker)
        return stream_reply(runtime.worker, text_ids, sentences, prefix, settings)

    async def close(self) -> None:
        """Stop the worker and free the model."""
        self._idle.disarm()
        if self._unloading is not None:
            with contextlib.suppress(BaseException):
                await self._unloading
        if self._loading is not None and not self._loading.done():
            self._loading.cancel()
            with contextlib.suppress(BaseException):
                await self._loading
        if self._runtime is not None:
            await asyncio.to_thread(self._runtime.stop)
        self._runtime = None
        self._voices.forget_built()
        release_cuda_cache()


async def _one(text: str) -> AsyncIterator[str]:
    yield text


def _log_load_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        _LOGGER.error("CSM could not be loaded: %s", task.exception())
