"""What each command of `wyoming-verba` does; __main__ only parses the command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import sys
from pathlib import Path

from wyoming_verba.config import Overrides, load_config
from wyoming_verba.config.uris import parse_tcp_uri

VOICE_ADD_TIMEOUT_S = 300.0  # a creation encodes and prefills the clip on a busy server
VOICE_DELETE_TIMEOUT_S = 30.0


class CommandError(Exception):
    """A command cannot go on; the message says what was wrong and what to do."""


def client_uri_problem(args: argparse.Namespace, argv: list[str]) -> str | None:
    """What is wrong with a client command's --uri (None when it is fine or not a client one)."""
    uri = getattr(args, "uri", None)
    if args.command == "serve" or uri is None:
        return None
    try:
        parse_tcp_uri(uri, min_port=1)
    except ValueError as err:
        flag = "VERBA_HEALTH_URI" if args.command == "health" and "--uri" not in argv else "--uri"
        return f"{flag} {uri!r}: {err}"
    return None


def connection_problem(args: argparse.Namespace, err: OSError | TimeoutError) -> str:
    """A client command could not talk to the server: which server, and why."""
    uri = getattr(args, "uri", None)
    if isinstance(err, ConnectionRefusedError):
        reason = "nothing listens there; is the server running? (check --uri)"
    elif isinstance(err, TimeoutError):
        waited = getattr(args, "timeout", None)
        within = f" within {waited:g} s (--timeout)" if waited else " in time"
        reason = f"no answer{within}; is it a Wyoming server, and is it overloaded?"
    elif isinstance(err, socket.gaierror):
        reason = f"unknown host ({err.strerror})"
    else:
        reason = os.strerror(err.errno) if err.errno else (str(err) or type(err).__name__)
    return f"cannot talk to {uri}: {reason}" if uri else str(reason)


def _check_output(path: Path) -> None:
    if path.is_dir():
        raise CommandError(f"cannot write {path}: it is a directory; give a file name (-o)")
    folder = path.parent
    if not folder.is_dir():
        raise CommandError(f"cannot write {path}: the directory {folder} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise CommandError(f"cannot write {path}: permission denied")


def say(args: argparse.Namespace) -> int:
    """Synthesize text through a server into a WAV file."""
    from wyoming_verba.cli.say import run_say

    try:
        args.text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise CommandError(
            f"the text is not valid UTF-8 (byte {err.start}); check the terminal's encoding "
            "(LANG / LC_ALL)"
        ) from err
    _check_output(args.output)
    result, note = asyncio.run(run_say(args))
    try:
        result.write_wav(args.output)
    except OSError as err:
        raise CommandError(f"cannot write {args.output}: {err.strerror or err}") from err
    if result.first_audio_s is None:
        timing = "no audio (nothing in the text to speak)"
    else:
        timing = f"first audio {result.first_audio_s * 1000:.0f} ms"
    print(
        f"wrote {args.output}: {result.audio_s:.2f} s of audio at {result.rate} Hz; "
        f"{timing}, total {result.total_s * 1000:.0f} ms"
    )
    if note:
        print(note)
    return 0


def voices(args: argparse.Namespace) -> int:
    """List a server's voices with their languages."""
    from wyoming_verba.protocol.client import describe

    status = asyncio.run(describe(args.uri, args.timeout))
    wanted = (args.language or "").lower()
    rows = [
        (voice.name, ", ".join(voice.languages), voice.description or "")
        for voice in status.voices
        if not wanted
        or any(
            lang.lower() == wanted or lang.lower().startswith(f"{wanted}-")
            for lang in voice.languages
        )
    ]
    width = max((len(name) for name, _, _ in rows), default=4)
    lang_width = max([len("LANGUAGES"), *(len(langs) for _, langs, _ in rows)])
    print(f"{'VOICE':<{width}}  {'LANGUAGES':<{lang_width}}  DESCRIPTION")
    for name, langs, description in rows:
        print(f"{name:<{width}}  {langs:<{lang_width}}  {description}")
    total = len(status.voices)
    shown = f"{len(rows)} of {total}" if wanted else str(total)
    print(f"{shown} {_voices_word(total)}; engines: {status.engines_line()}")
    return 0


def _voices_word(count: int) -> str:
    return "voice" if count == 1 else "voices"


def health(args: argparse.Namespace) -> int:
    """Exit 0 when the server answers Describe and its default engine has not failed (loading,
    idle and deliberately unloaded are healthy: they load on the next request)."""
    from wyoming_verba.protocol.client import describe

    try:
        status = asyncio.run(describe(args.uri, args.timeout))
    except Exception as err:
        problem = connection_problem(args, err) if isinstance(err, OSError | TimeoutError) else err
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    count = len(status.voices)
    line = f"{count} {_voices_word(count)}; engines: {status.engines_line()}"
    default = status.default_engine
    if default is not None and default[1].state == "failed":
        print(
            f"unhealthy: {args.uri}: the default engine {default[0]} failed; {line}",
            file=sys.stderr,
        )
        return 1
    print(f"healthy: {args.uri}: {line}")
    return 0


def bench(args: argparse.Namespace) -> int:
    """Latency and real-time factor per voice; optional JSON and plot."""
    from wyoming_verba.cli.bench import (
        DEFAULT_TEXT,
        VoiceFigures,
        bench_voice,
        format_table,
        write_json,
        write_plot,
    )

    async def run() -> list[VoiceFigures]:
        text = args.text or DEFAULT_TEXT
        return [await bench_voice(args.uri, voice, text, args.runs) for voice in args.voice]

    outputs = [path for path in (args.json, args.plot) if path is not None]
    for path in outputs:
        _check_output(path)  # before the runs: a typo must not cost them, nor blame the server
    if args.plot:
        _check_matplotlib()
    rows = asyncio.run(run())
    print(format_table(rows))
    try:
        if args.json:
            write_json(rows, args.json)
        if args.plot:
            write_plot(rows, args.plot)
    except OSError as err:
        raise CommandError(
            f"cannot write {err.filename or outputs[0]}: {err.strerror or err}"
        ) from err
    return 0


def _check_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError as err:
        raise CommandError(
            f"bench --plot needs matplotlib ({err}): install it into the same environment "
            f"({sys.executable} -m pip install matplotlib), or leave out --plot"
        ) from err


def voice(args: argparse.Namespace) -> int:
    """`voice add NAME CLIP TRANSCRIPT` / `voice delete NAME`: manage created CSM voices.

    The clip is read and checked with the server's clip rule before anything is uploaded.
    """
    from wyoming_verba.protocol.client import CannotConnectError, VerbaClient, VoiceRefusedError
    from wyoming_verba.protocol.clip import ClipError
    from wyoming_verba.protocol.clip_file import read_clip

    async def run() -> str:
        if args.action == "add":
            clip = await asyncio.to_thread(read_clip, args.clip)
            client = VerbaClient.from_uri(args.uri, VOICE_ADD_TIMEOUT_S)
            return await client.create_voice(args.name, args.transcript, clip, args.speaker)
        return await VerbaClient.from_uri(args.uri, VOICE_DELETE_TIMEOUT_S).delete_voice(args.name)

    try:
        name = asyncio.run(run())
    except (ClipError, VoiceRefusedError) as err:
        raise CommandError(f"voice {args.action} {args.name}: {err}") from err
    except CannotConnectError as err:
        if isinstance(err.__cause__, OSError | TimeoutError):
            raise err.__cause__ from None  # main names the server and the cause
        raise CommandError(f"voice {args.action} {args.name}: {err}") from err
    print(f"{'created' if args.action == 'add' else 'deleted'} voice csm:{name}")
    return 0


def download(args: argparse.Namespace) -> int:
    """Fetch the CSM model (or check a local model directory)."""
    try:
        from wyoming_verba.engines.csm.startup.download import download_model
    except ImportError as err:
        raise CommandError(
            f"download needs the csm extra ({err}): pip install 'wyoming-verba[csm]'"
        ) from err
    return download_model(args.model or load_config(args.config).csm.model)


def doctor(args: argparse.Namespace) -> int:
    """Print the setup report; 1 when something needs fixing."""
    # Every finding is a line of the report: library warnings would only repeat them, raw.
    logging.basicConfig(handlers=[logging.NullHandler()], force=True)
    from wyoming_verba.cli.doctor import run_doctor

    config = load_config(args.config, overrides=Overrides(backend=args.backend))
    return asyncio.run(run_doctor(config, args.uri))
