"""`wyoming-verba say`: the asked engine and its state, then the synthesis with progress."""

from __future__ import annotations

import argparse

from wyoming_verba.cli.progress import ticking
from wyoming_verba.protocol.client import (
    ServerError,
    Synthesis,
    SynthesisFailedError,
    describe,
    synthesize,
)
from wyoming_verba.protocol.info import EngineReport, ServerStatus

DESCRIBE_TIMEOUT_S = 5.0


def asked_engine(status: ServerStatus, voice: str | None) -> tuple[str, EngineReport] | None:
    """The engine a request for `voice` goes to (its prefix, or the default engine), if reported."""
    if voice and ":" in voice:
        name = voice.split(":", 1)[0]
        report = status.engines.get(name)
        return (name, report) if report is not None else None
    return status.default_engine


def served_note(asked: tuple[str, EngineReport] | None, status: ServerStatus) -> str | None:
    """A note when the asked engine was not ready, so another one likely answered."""
    if asked is None or asked[1].state == "ready":
        return None
    others = [name for name, report in status.engines.items() if report.state == "ready"]
    if not others:
        return None
    return (
        f"note: you asked for {asked[0]}, which was {asked[1]}: the {' or '.join(others)} engine "
        "(tts.fallback) answered unless the server has none (its log names the engine)"
    )


async def run_say(args: argparse.Namespace) -> tuple[Synthesis, str | None]:
    """Ask the engines' states, synthesize (ticking on a terminal); the result and any note."""
    try:
        status: ServerStatus | None = await describe(
            args.uri, min(args.timeout, DESCRIBE_TIMEOUT_S)
        )
    except (TimeoutError, ServerError):
        status = None  # a Wyoming server that does not describe itself: no engine states to tell
    asked = asked_engine(status, args.voice) if status else None
    label = f"say: {asked[0] if asked else 'the server'} speaking…"
    async with ticking(label):
        try:
            result = await synthesize(args.uri, args.text, args.voice, args.speaker, args.timeout)
        except SynthesisFailedError as err:
            if asked is None or asked[1].state == "ready":
                raise
            raise SynthesisFailedError(
                f"{err} (you asked for {asked[0]}, which is {asked[1]})", err.code
            ) from err
    return result, served_note(asked, status) if status else None
