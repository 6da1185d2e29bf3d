"""Voice profiles added while CSM runs: checking a clip + transcript, and prefilling it safely.

At load time prefixes are built in slot 0 before any request exists. At run time a reply may hold
any slot (with continuity its K/V is its context), so a live prefix is built on the generation
thread, between frames, in a slot no reply holds, and copied out in the same call.
"""

from __future__ import annotations

import asyncio
import time
from functools import partial

from wyoming_verba.config.load import CsmVoiceProfile
from wyoming_verba.engines.base import VoiceRefusedError
from wyoming_verba.engines.csm.model.slots import VoicePrefix
from wyoming_verba.engines.csm.startup.runtime import CsmRuntime
from wyoming_verba.engines.csm.voices.prompts import PromptBuilder
from wyoming_verba.engines.csm.voices.rules import check_room, check_seconds, check_transcript

_FREE_SLOT_POLL_S = 0.05


class ProfileError(VoiceRefusedError):
    """A voice cannot be added now; `code` says why (the voice's own rules raise
    profiles.VoiceProfileError, which has a code too)."""


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
    runtime: CsmRuntime, profile: CsmVoiceProfile, wait_s: float
) -> VoicePrefix:
    """Encode and prefill a profile's clip in a free slot; waits up to `wait_s` for one."""
    assert profile.reference_audio is not None and profile.reference_text is not None
    build = partial(
        runtime.prompts.build_prefix,
        profile.name,
        profile.speaker,
        profile.reference_audio,
        profile.reference_text,
    )

    def in_free_slot() -> VoicePrefix | None:
        slot = runtime.worker.free_slot()
        return None if slot is None else build(slot=slot)

    deadline = time.monotonic() + wait_s
    while (prefix := await runtime.on_thread(in_free_slot)) is None:
        if time.monotonic() > deadline:
            raise ProfileError(
                "busy",
                f"every CSM slot stayed busy for {wait_s:g} s; try again when fewer replies "
                "are being spoken",
            )
        await asyncio.sleep(_FREE_SLOT_POLL_S)
    return prefix
