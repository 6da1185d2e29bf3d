"""Voice profiles added while CSM runs: checking a clip + transcript, and prefilling it safely.

At load time prefixes are built in slot 0 before any request exists. At run time a reply may hold
any slot (with continuity its K/V is its context), so a live prefix is built on the generation
thread, between frames, in a slot no reply holds, and copied out in the same call.
"""

from __future__ import annotations

import asyncio
import math
import time
from functools import partial

from ...config import CsmVoiceProfile
from ..base import EngineError
from .fitting import FRAMES_PER_SECOND
from .profiles import FRAME_SAMPLES, MAX_CLIP_S, MIN_CLIP_S, SAMPLE_RATE
from .prompts import PromptBuilder
from .runtime import CsmRuntime
from .slots import CONTEXT_LIMIT, VoicePrefix

MAX_TRANSCRIPT_CHARS = 1000
REPLY_TEXT_TOKENS = 64  # room kept for a reply sentence's own text, besides its frames
_FREE_SLOT_POLL_S = 0.05


class ProfileError(EngineError):
    """A clip/transcript cannot become a voice; `code` says which rule it broke."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_profile(
    prompts: PromptBuilder, samples: int, transcript: str, speaker: int, max_audio_s: float
) -> int:
    """Raise ProfileError unless a clip of `samples` (24 kHz) and its transcript make a usable
    voice; return the context positions the prefix will take.

    The prefix must leave room for a whole reply sentence: csm.max_audio_s of frames plus its text.
    """
    seconds = samples / SAMPLE_RATE
    if not MIN_CLIP_S <= seconds <= MAX_CLIP_S:
        raise ProfileError(
            "bad-duration",
            f"the clip is {seconds:.1f} s long; it must be {MIN_CLIP_S:g}-{MAX_CLIP_S:g} s "
            "(5-15 s of clear speech works best)",
        )
    if not transcript.strip():
        raise ProfileError("empty-transcript", "the transcript is empty; give the clip's words")
    if len(transcript) > MAX_TRANSCRIPT_CHARS:
        raise ProfileError(
            "transcript-too-long",
            f"the transcript has {len(transcript)} characters; at most {MAX_TRANSCRIPT_CHARS}",
        )
    frames = math.ceil(samples / FRAME_SAMPLES) + 1  # the clip's frames + end of audio
    positions = int(prompts.text_ids(transcript, speaker).shape[1]) + frames
    reserve = int(max_audio_s * FRAMES_PER_SECOND) + REPLY_TEXT_TOKENS
    if positions + reserve > CONTEXT_LIMIT:
        raise ProfileError(
            "too-long-for-context",
            f"clip and transcript take {positions} of CSM's {CONTEXT_LIMIT} context positions "
            f"and a reply needs {reserve} more (csm.max_audio_s = {max_audio_s:g}); use a "
            "shorter clip and transcript",
        )
    return positions


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
