"""The CSM engine's voices: configured profiles (csm.voices), voices created at run time, and the
anchored bare speakers — listing, lookup, adding and removing, and their prefixes once loaded.

Profiles are known before the model loads (listed at once); their prefixes and the speakers'
anchors are built after each load and forgotten at each unload. A configured profile is never
removed at run time; one whose clip failed its checks stays listed nowhere and speaks nowhere.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from functools import partial

from wyoming_verba.config import CsmConfig, CsmVoiceProfile
from wyoming_verba.core.voices import VoiceChoice, VoiceInfo
from wyoming_verba.engines.base import EngineError, EngineUnavailableError
from wyoming_verba.engines.csm.generation.worker import GenerationWorker
from wyoming_verba.engines.csm.model.slots import VoicePrefix
from wyoming_verba.engines.csm.voices.anchor_store import AnchorStore
from wyoming_verba.engines.csm.voices.prefixes import (
    ProfileSet,
    build_anchors,
    build_live_prefix,
    build_profile_prefixes,
    check_clips,
    check_profile,
)
from wyoming_verba.engines.csm.voices.prompts import PromptBuilder


@dataclass(frozen=True)
class BuiltVoices:
    """What building the voices after a load gave, for the `CSM ready` line."""

    prefixes: int
    anchors: int
    anchors_kept: int  # read from server.data_dir instead of generated
    anchors_s: float


class VoiceRegistry:
    """Every voice the engine speaks with, by name (profiles) or by speaker id (anchors)."""

    def __init__(self, config: CsmConfig) -> None:
        self._config = config
        self._profiles = {profile.name: profile for profile in config.voices}
        self._configured = frozenset(self._profiles)  # csm.voices: never removed at run time
        self._profile_set = ProfileSet(config.voices)
        self._clips_checked = False
        self._prefixes: dict[str, VoicePrefix] = {}
        self._anchors: dict[int, VoicePrefix] = {}
        self._failed: dict[str, str] = {}  # created voices that failed at load: name → why

    async def check_clips(self) -> None:
        """Check each configured profile's clip once (bounded, off the loop); a bad one is
        skipped."""
        if not self._clips_checked:
            self._profile_set = await asyncio.to_thread(check_clips, self._config.voices)
            self._clips_checked = True

    def summary(self) -> str:
        """Which configured profiles and created voices were skipped and why ('' when none)."""
        failed = (
            f"created voice {name!r} failed at load: {why} (delete it and create it again)"
            for name, why in self._failed.items()
        )
        return "; ".join(filter(None, [self._profile_set.summary(), *failed]))

    async def build(
        self, worker: GenerationWorker, prompts: PromptBuilder, store: AnchorStore
    ) -> BuiltVoices:
        """After a load: build every profile's prefix (a created voice that fails is dropped)
        and the speakers' anchors (kept in `store` between starts); what it took."""
        created = [p for p in self._profiles.values() if p.name not in self._configured]
        self._prefixes, dropped = await build_profile_prefixes(
            worker, prompts, self._profile_set, created, self._config.max_audio_s
        )
        for name, why in dropped.items():
            if self._profiles.pop(name, None) is not None:
                self._failed[name] = why
        # A voice deleted while this load built it is not kept.
        self._prefixes = {n: p for n, p in self._prefixes.items() if n in self._profiles}
        started = time.monotonic()
        speakers = self.listed_speakers()
        self._anchors, kept = await build_anchors(worker, prompts, self._config, speakers, store)
        anchors_s = time.monotonic() - started
        return BuiltVoices(len(self._prefixes), len(self._anchors), kept, anchors_s)

    def forget_built(self) -> None:
        """The model is gone (unload, close): its prefixes and anchors go with it."""
        self._prefixes, self._anchors = {}, {}

    def listed_speakers(self) -> list[int]:
        """The default speaker first, then 0 and 1."""
        return [self._config.speaker] + [n for n in (0, 1) if n != self._config.speaker]

    def voices(self) -> list[VoiceInfo]:
        """csm:speaker-<n> (the listed speakers) and csm:<profile> voices (none skipped)."""
        kind = "fixed generated reference" if self._config.anchor_speakers else "no reference"
        voices = [
            VoiceInfo("csm", f"speaker-{n}", f"CSM speaker {n} ({kind})", ("en",))
            for n in self.listed_speakers()
        ]
        voices += [
            VoiceInfo("csm", p.name, f"CSM voice {p.name} (speaker {p.speaker})", ("en",))
            for p in self._profiles.values()
            if p.name not in self._profile_set.skipped
        ]
        return voices

    def add_stored(self, profiles: list[CsmVoiceProfile], failed: dict[str, str]) -> list[str]:
        """Before start: add stored profiles (built while loading) and note the stored voices
        that could not be read (`failed`: name → why); returns the names skipped because
        csm.voices already has them (or a name that differs only in case)."""
        taken = {name.casefold() for name in self._profiles}
        self._failed.update((n, why) for n, why in failed.items() if n.casefold() not in taken)
        clashes = [p.name for p in profiles if p.name.casefold() in taken]
        self._profiles.update((p.name, p) for p in profiles if p.name not in clashes)
        return clashes

    def origin(self, name: str) -> str | None:
        """'config' (csm.voices), 'created', 'failed' (created, failed at load), or None."""
        if name in self._failed:
            return "failed"
        if name not in self._profiles:
            return None
        return "config" if name in self._configured else "created"

    async def check(
        self, prompts: PromptBuilder, samples: int, transcript: str, speaker: int
    ) -> None:
        """VoiceProfileError unless a clip of `samples` + transcript make a usable voice."""
        check = partial(check_profile, prompts, samples, transcript, speaker)
        await asyncio.to_thread(check, self._config.max_audio_s)

    async def add(
        self,
        worker: GenerationWorker,
        prompts: PromptBuilder,
        profile: CsmVoiceProfile,
        wait_s: float,
    ) -> None:
        """Encode and prefill a new profile on the generation thread; it speaks at once."""
        prefix = await build_live_prefix(worker, prompts, profile, wait_s)
        self._prefixes[profile.name] = prefix
        self._profiles[profile.name] = profile
        self._failed.pop(profile.name, None)

    def remove(self, name: str) -> None:
        """Forget a created profile (replies already speaking with it finish)."""
        if name in self._configured:
            raise EngineError(f"voice {name!r} comes from csm.voices in the config file")
        self._profiles.pop(name, None)
        self._prefixes.pop(name, None)
        self._failed.pop(name, None)

    def resolve(self, voice: VoiceChoice) -> tuple[VoicePrefix | None, int]:
        """The prefix (None: a bare speaker without an anchor) and speaker id a voice speaks
        with; `voice.speaker` overrides the profile's or the name's speaker."""
        profile: CsmVoiceProfile | None = self._profiles.get(voice.voice_id)
        if profile is not None:
            skipped = self._profile_set.skipped.get(profile.name)
            if skipped is not None:
                raise EngineUnavailableError(f"CSM voice {profile.name} was skipped: {skipped}")
            speaker = voice.speaker if voice.speaker is not None else profile.speaker
            return self._prefixes.get(profile.name) or self._anchors.get(speaker), speaker
        number = voice.voice_id.removeprefix("speaker-")
        if not number.isdigit():
            raise EngineError(f"unknown CSM voice {voice.name!r}")
        speaker = voice.speaker if voice.speaker is not None else int(number)
        return self._anchors.get(speaker), speaker
