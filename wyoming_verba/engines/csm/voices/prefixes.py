"""Voice prefixes: the configured profiles' at start, and those of voices created at run time.

At start (before the model loads) every configured clip is checked; once the tokenizer is there,
each transcript's context budget; then each prefix is built. A profile failing any step is skipped
with one ERROR line naming it, the config key and the fix; the other profiles and the bare
speakers keep working.

Bare speaker ids (csm.anchor_speakers) get an anchor: a generated, seeded reference clip as their
prefix. At load time prefixes are built in slot 0 before any request exists. At run time
(`verba-voice-create`) a reply may hold any slot (with continuity its K/V is its context), so a
live prefix is built on the generation thread, between frames, in a slot no reply holds, and
copied out in the same call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial

from wyoming_verba.config import CsmConfig, CsmVoiceProfile
from wyoming_verba.engines.base import VoiceRefusedError
from wyoming_verba.engines.csm.generation.worker import GenerationWorker
from wyoming_verba.engines.csm.model.slots import VoicePrefix
from wyoming_verba.engines.csm.voices.anchor_store import AnchorRecipe, AnchorStore
from wyoming_verba.engines.csm.voices.prompts import PromptBuilder
from wyoming_verba.engines.csm.voices.rules import (
    CheckedVoice,
    TextPositions,
    VoiceProfileError,
    check_room,
    check_seconds,
    check_transcript,
    check_voice,
)
from wyoming_verba.protocol.echo import echo

_LOGGER = logging.getLogger(__name__)
_FREE_SLOT_POLL_S = 0.05
ANCHOR_TEXT = "Hello! It's good to hear from you, and I'm happy to help with that today."
ANCHOR_MAX_FRAMES = 40  # 3.2 s of audio
ANCHOR_SEED = 20261124

BuildPrefix = Callable[[str, CheckedVoice], Awaitable[VoicePrefix]]


@dataclass
class ProfileSet:
    """Profiles with a reference that passed the checks so far, and the skipped ones (why)."""

    profiles: tuple[CsmVoiceProfile, ...]
    checked: dict[str, CheckedVoice] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def skip(self, profile: CsmVoiceProfile, key: str, reason: str) -> None:
        """Leave a profile out, with its one ERROR line."""
        self.checked.pop(profile.name, None)
        index = self.profiles.index(profile)
        line = f"{reason} (csm.voices.{index}.{key})"
        self.skipped[profile.name] = line
        _LOGGER.error(
            "CSM voice profile %s skipped: %s; the other voices keep working",
            echo(profile.name),
            line,
        )

    def summary(self) -> str:
        """One line for status/doctor: which profiles were skipped and why ('' when none)."""
        return "; ".join(
            f"voice profile {name!r} skipped: {why}" for name, why in self.skipped.items()
        )


def check_clips(profiles: tuple[CsmVoiceProfile, ...]) -> ProfileSet:
    """Check every profile's clip and transcript (no model needed); blocking, bounded."""
    result = ProfileSet(profiles)
    for profile in profiles:
        if profile.reference_audio is None or profile.reference_text is None:
            continue
        try:
            result.checked[profile.name] = check_voice(
                profile.reference_audio, profile.reference_text, profile.speaker
            )
        except VoiceProfileError as err:
            result.skip(profile, err.field, str(err))
    return result


async def build_prefixes(
    result: ProfileSet, text_positions: TextPositions, build: BuildPrefix, max_audio_s: float
) -> dict[str, VoicePrefix]:
    """Check each transcript's budget (a reply of max_audio_s must fit after it) and build its
    prefix; a failure skips that profile."""
    prefixes: dict[str, VoicePrefix] = {}
    for profile in result.profiles:
        voice = result.checked.get(profile.name)
        if voice is None:
            continue
        try:
            voice = check_voice(
                voice.audio, voice.transcript, voice.speaker, text_positions, max_audio_s
            )
            _LOGGER.info("Building CSM voice %s from %s", profile.name, profile.reference_audio)
            prefixes[profile.name] = await build(profile.name, voice)
        except VoiceProfileError as err:
            result.skip(profile, err.field, str(err))
        except Exception as err:  # one profile's failure must not take CSM down
            reason = f"building its prefix failed ({type(err).__name__}: {err})"
            result.skip(profile, "reference_audio", reason + "; try another clip")
    return prefixes


async def build_profile_prefixes(
    worker: GenerationWorker,
    prompts: PromptBuilder,
    result: ProfileSet,
    created: list[CsmVoiceProfile],
    max_audio_s: float,
) -> tuple[dict[str, VoicePrefix], dict[str, str]]:
    """Prefixes of the configured profiles that pass their checks and of the voices created at
    run time (kept in server.data_dir/voices, checked the same way); also the created voices
    that failed and are dropped, with why."""

    async def build(name: str, voice: CheckedVoice) -> VoicePrefix:
        call = partial(prompts.build_prefix, name, voice.speaker, voice.audio, voice.transcript)
        return await worker.run(call)

    text_positions = prompts.text_positions
    prefixes = await build_prefixes(result, text_positions, build, max_audio_s)
    dropped: dict[str, str] = {}
    for profile in created:
        assert profile.reference_audio is not None and profile.reference_text is not None
        check = partial(check_voice, profile.reference_audio, profile.reference_text)
        try:
            voice = await asyncio.to_thread(check, profile.speaker, text_positions, max_audio_s)
            prefixes[profile.name] = await build(profile.name, voice)
        except Exception as err:  # one stored voice's failure must not take CSM down
            dropped[profile.name] = f"{type(err).__name__}: {err}"
            _LOGGER.error(
                "Created CSM voice %s skipped: %s; delete it (`wyoming-verba voice delete %s` "
                "or Home Assistant's verba.delete_voice) and create it again",
                echo(profile.name),
                err,
                profile.name,
            )
    return prefixes, dropped


async def build_anchors(
    worker: GenerationWorker,
    prompts: PromptBuilder,
    config: CsmConfig,
    speakers: list[int],
    store: AnchorStore,
) -> tuple[dict[int, VoicePrefix], int]:
    """The anchors of the listed speakers (csm.anchor_speakers): a generated, seeded reference,
    read from `store` when kept there (else generated and kept); also how many were read."""
    anchors: dict[int, VoicePrefix] = {}
    kept = 0
    if not config.anchor_speakers:
        return anchors, kept
    for speaker in speakers:
        recipe = AnchorRecipe(
            speaker, ANCHOR_TEXT, ANCHOR_MAX_FRAMES, ANCHOR_SEED + speaker, prompts.sampling
        )
        prefix = await asyncio.to_thread(store.load, recipe, prompts.device)
        if prefix is not None:
            anchors[speaker], kept = prefix, kept + 1
            continue
        _LOGGER.info("Generating the reference clip that anchors CSM speaker %d", speaker)
        anchor = partial(prompts.build_anchor, speaker, recipe.text, recipe.max_frames, recipe.seed)
        anchors[speaker] = await worker.run(anchor)
        await asyncio.to_thread(store.save, recipe, anchors[speaker])
    return anchors, kept


class ProfileError(VoiceRefusedError):
    """A voice cannot be added now; `code` says why (the voice's own rules raise
    rules.VoiceProfileError, which has a code too)."""


def check_profile(
    prompts: PromptBuilder, samples: int, transcript: str, speaker: int, max_audio_s: float
) -> int:
    """Raise VoiceProfileError unless a clip of `samples` (24 kHz) and its transcript make a
    usable voice, by the rules configured and stored voices are checked by at start-up; return
    the context positions the prefix will take."""
    check_transcript(transcript)
    check_seconds(samples)
    return check_room(samples, transcript, speaker, prompts.text_positions, max_audio_s)


async def build_live_prefix(
    worker: GenerationWorker, prompts: PromptBuilder, profile: CsmVoiceProfile, wait_s: float
) -> VoicePrefix:
    """Encode and prefill a profile's clip in a free slot; waits up to `wait_s` for one."""
    assert profile.reference_audio is not None and profile.reference_text is not None
    build = partial(
        prompts.build_prefix,
        profile.name,
        profile.speaker,
        profile.reference_audio,
        profile.reference_text,
    )

    def in_free_slot() -> VoicePrefix | None:
        slot = worker.free_slot()
        return None if slot is None else build(slot=slot)

    deadline = time.monotonic() + wait_s
    while (prefix := await worker.run(in_free_slot)) is None:
        if time.monotonic() > deadline:
            raise ProfileError(
                "busy",
                f"every CSM slot stayed busy for {wait_s:g} s; try again when fewer replies "
                "are being spoken",
            )
        await asyncio.sleep(_FREE_SLOT_POLL_S)
    return prefix
