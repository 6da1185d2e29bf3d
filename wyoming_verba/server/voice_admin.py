"""Creating and deleting CSM voices over Wyoming (`verba-voice-*`), off unless csm.voice_uploads.

The Wyoming port has no authentication: whoever can reach it can add and remove voices once
uploads are on. Every limit is checked before the model is touched; one creation runs at a time
and its encoding and prefill run on CSM's generation thread, so the event loop (and every other
connection) keeps going meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from typing import Protocol, cast

import numpy as np
from wyoming.error import Error
from wyoming.event import Event

from wyoming_verba.config import Config, CsmVoiceProfile
from wyoming_verba.core.audio import Pcm, Resampler
from wyoming_verba.core.voices import VoiceInfo
from wyoming_verba.engines.base import EngineError, VoiceRefusedError
from wyoming_verba.protocol.clip import CLIP_RATE, MAX_CLIP_BYTES, check_payload
from wyoming_verba.protocol.echo import echo
from wyoming_verba.protocol.errors import VerbaError
from wyoming_verba.protocol.fields import BadRequestError
from wyoming_verba.protocol.voice_events import (
    VOICE_CREATE,
    VOICE_DELETE,
    VoiceCreate,
    VoiceCreated,
    VoiceDelete,
    VoiceDeleted,
    case_twin,
)
from wyoming_verba.server.service import SpeechService
from wyoming_verba.server.voice_store import VoiceStore, VoiceStoreError

_LOGGER = logging.getLogger(__name__)
FREE_SLOT_WAIT_S = 60.0  # how long a creation waits for CSM to have a slot free


class VoiceAdminError(VerbaError):
    """A voice request is refused; `code` and the message go into the Error event."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code)


class LiveVoices(Protocol):
    """What the CSM engine offers for voices created at run time."""

    def status(self) -> object: ...
    async def ready(self) -> None: ...
    def voices(self) -> list[VoiceInfo]: ...
    def add_stored_voices(
        self, profiles: list[CsmVoiceProfile], failed: dict[str, str] | None = None
    ) -> list[str]: ...
    def voice_origin(self, name: str) -> str | None: ...
    async def check_voice(self, samples: int, transcript: str, speaker: int) -> None: ...
    async def add_voice(self, profile: CsmVoiceProfile, wait_s: float) -> None: ...
    def remove_voice(self, name: str) -> None: ...


class VoiceAdmin:
    """Answers verba-voice-create / verba-voice-delete; keeps created voices in server.data_dir."""

    def __init__(self, config: Config, service: SpeechService) -> None:
        self._uploads = config.csm.voice_uploads
        self._max_voices = config.csm.max_voices
        self._styles = config.tts.styles  # their names are voices too
        self._store = VoiceStore(config.server.data_dir)
        self._service = service
        self._lock = asyncio.Lock()

    @property
    def payload_limits(self) -> dict[str, int]:
        """Payload bounds of their own, by event type (none while uploads are off)."""
        return {VOICE_CREATE: MAX_CLIP_BYTES} if self._uploads else {}

    @property
    def creating(self) -> bool:
        """Whether a voice is being created (or deleted) right now."""
        return self._lock.locked()

    @staticmethod
    def handles(event_type: str) -> bool:
        """Whether an event is one of ours."""
        return event_type in (VOICE_CREATE, VOICE_DELETE)

    def _engine(self) -> LiveVoices | None:
        engine = self._service.engines.get("csm")
        return cast(LiveVoices, engine) if engine is not None else None

    def load_stored(self) -> None:
        """Before the engines start: hand the stored voices to CSM (it builds them as it loads)."""
        engine = self._engine()
        stored = self._store.load()
        if engine is None:
            if stored:
                _LOGGER.info("%d created CSM voices are kept but CSM is not enabled", len(stored))
            return
        for name in engine.add_stored_voices(stored, self._store.unreadable):
            _LOGGER.warning(
                "Created voice %s is shadowed by csm.voices in the config file (the same name, "
                "or one that differs only in case); rename the one in the config file",
                name,
            )

    async def answer(self, event: Event) -> Event:
        """The reply to a voice event: its success event, or an Error saying what was wrong."""
        started = time.monotonic()
        action = "create" if event.type == VOICE_CREATE else "delete"
        name = echo((event.data or {}).get("name"))
        try:
            reply, detail = await (
                self._create(event) if action == "create" else self._delete(event)
            )
        except (VoiceAdminError, BadRequestError) as err:
            code = err.code
            _LOGGER.info("Voice %s %s refused (%s): %s", action, name, code, err)
            return Error(text=str(err), code=code).event()
        except Exception as err:  # a model failure must not end the connection
            _LOGGER.error("Voice %s %s failed: %s: %s", action, name, type(err).__name__, err)
            _LOGGER.debug("Voice %s failure", action, exc_info=err)
            text = f"the voice could not be {action}d ({type(err).__name__}: {err}); see the log"
            return Error(text=text, code="csm-failed").event()
        _LOGGER.info(
            "Voice %s %s done in %.2f s%s", action, name, time.monotonic() - started, detail
        )
        return reply

    def _engine_for_uploads(self) -> LiveVoices:
        if not self._uploads:
            raise VoiceAdminError(
                "uploads-off",
                "voice uploads are off on this server; set csm.voice_uploads: true in its "
                "config (the Wyoming port has no authentication: only on a trusted network)",
            )
        engine = self._engine()
        if engine is None:
            raise VoiceAdminError(
                "csm-not-running", "CSM is not enabled on this server; add csm to tts.engines"
            )
        return engine

    @staticmethod
    async def _loaded(engine: LiveVoices) -> None:
        """An idle or unloaded CSM is loaded now (as a synthesize does), a loading one waited
        for."""
        try:
            await engine.ready()
        except EngineError as err:
            raise VoiceAdminError(
                "csm-not-running",
                f"CSM cannot load ({err}); see the server log, and try again once "
                "`wyoming-verba health` shows csm ready",
            ) from err

    async def _create(self, event: Event) -> tuple[Event, str]:
        engine = self._engine_for_uploads()
        request = VoiceCreate.from_event(event)
        if self._lock.locked():
            raise VoiceAdminError("busy", "another voice is being created; try again in a moment")
        async with self._lock:
            replacing = self._check_room(engine, request.name)
            await self._loaded(engine)
            clip = await asyncio.to_thread(to_clip, request)
            speaker = request.speaker if request.speaker is not None else 0
            await _engine_call(engine.check_voice(clip.size, request.transcript, speaker))
            if replacing:
                await _removed(self._store, request.name)
                engine.remove_voice(request.name)
            profile = await _stored(self._store, request.name, clip, request.transcript, speaker)
            try:
                await _engine_call(engine.add_voice(profile, FREE_SLOT_WAIT_S))
            except BaseException:
                with contextlib.suppress(VoiceStoreError):
                    await asyncio.to_thread(self._store.delete, request.name)
                raise
        self._service.refresh_voices()
        detail = f" (clip {clip.size / CLIP_RATE:.1f} s, {len(request.transcript)} chars)"
        return VoiceCreated(request.name).event(), detail

    def _check_room(self, engine: LiveVoices, name: str) -> bool:
        """Refuse a taken name, a case twin or a full store; True when `name` is a stored voice
        that failed at load, which the new one replaces ("create it again" is the fix)."""
        origin = engine.voice_origin(name)
        replacing = origin == "failed" or (origin is None and self._store.has(name))
        styles = [style.name for style in self._styles]
        if (origin is not None and not replacing) or name in styles:
            raise VoiceAdminError(
                "name-taken", f"a voice named {name!r} exists; choose another name"
            )
        known = [v.voice_id for v in engine.voices()] + self._store.names() + styles
        twin = case_twin(name, known)
        if twin is not None:
            raise VoiceAdminError(
                "invalid-name",
                f"voice name {name!r} differs from the voice {twin!r} only in case; "
                "choose another name",
            )
        count = sum(engine.voice_origin(n) == "created" for n in self._store.names())
        if count >= self._max_voices:
            raise VoiceAdminError(
                "too-many-voices",
                f"this server already has {count} created voices (csm.max_voices); "
                "delete one first",
            )
        return replacing

    async def _delete(self, event: Event) -> tuple[Event, str]:
        engine = self._engine_for_uploads()  # deleting touches the disk only: no model needed
        name = VoiceDelete.from_event(event).name
        async with self._lock:
            origin = engine.voice_origin(name)
            if origin == "config":
                raise VoiceAdminError(
                    "not-deletable",
                    f"voice {name!r} comes from csm.voices in the config file; remove it there",
                )
            if not self._store.has(name):  # a created voice, loaded or failed at load
                raise VoiceAdminError("unknown-voice", f"there is no created voice {name!r}")
            await _removed(self._store, name)
            engine.remove_voice(name)
        self._service.refresh_voices()
        return VoiceDeleted(name).event(), ""


def to_clip(request: VoiceCreate) -> Pcm:
    """The payload as CLIP_RATE mono 16-bit PCM (stereo is averaged); ClipError (bad-audio) if
    it is not whole 16-bit frames."""
    check_payload(request.audio, request.channels)
    samples = np.frombuffer(request.audio, dtype="<i2").reshape(-1, request.channels)
    mono = samples.mean(axis=1).round().astype(np.int16) if request.channels > 1 else samples[:, 0]
    resampler = Resampler(request.rate, CLIP_RATE)
    return np.concatenate([resampler.process(mono), resampler.flush()]).astype(np.int16)


async def _stored(
    store: VoiceStore, name: str, clip: Pcm, transcript: str, speaker: int
) -> CsmVoiceProfile:
    try:
        return await asyncio.to_thread(store.save, name, clip, transcript, speaker)
    except VoiceStoreError as err:
        raise VoiceAdminError("storage", str(err)) from err


async def _removed(store: VoiceStore, name: str) -> None:
    try:
        await asyncio.to_thread(store.delete, name)
    except VoiceStoreError as err:
        raise VoiceAdminError("storage", str(err)) from err


async def _engine_call(call: Awaitable[None]) -> None:
    """Await an engine call, turning its refusals (a voice error has a code) into ours."""
    try:
        await call
    except VoiceRefusedError as err:
        raise VoiceAdminError(err.code, str(err)) from err
    except EngineError as err:
        raise VoiceAdminError("csm-failed", str(err)) from err
