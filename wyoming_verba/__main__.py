"""wyoming-verba: a Wyoming text-to-speech server (Sesame CSM-1b on a GPU, or Microsoft Edge TTS).

Without a command, `serve` runs: `wyoming-verba --config config.yaml`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from wyoming_verba import __version__
from wyoming_verba.cli import commands, serve
from wyoming_verba.config import ConfigError
from wyoming_verba.protocol.client import SynthesisFailedError

DEFAULT_URI = "tcp://127.0.0.1:10200"
_HANDLERS = {
    "serve": serve.serve,
    "say": commands.say,
    "voices": commands.voices,
    "health": commands.health,
    "bench": commands.bench,
    "download": commands.download,
    "doctor": commands.doctor,
    "voice": commands.voice,
}


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's line breaks and shows each option's default, when it has one."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if default in (None, False, argparse.SUPPRESS) or "%(default)" in text or not text:
            return action.help
        return f"{text} (default: %(default)s)"


def _speaker(value: str) -> int:
    if not value.strip().isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number, 0 or more (got {value!r})")
    return int(value)


def _positive_int(value: str) -> int:
    if not value.strip().isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number, 1 or more (got {value!r})")
    return int(value)


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds <= 86_400:
        raise argparse.ArgumentTypeError(f"expected seconds, above 0 (got {value!r})")
    return seconds


def _add_uri(parser: argparse.ArgumentParser, default: str = DEFAULT_URI) -> None:
    parser.add_argument("--uri", default=default, help="the server's address")


def _add_timeout(parser: argparse.ArgumentParser, default: float, text: str) -> None:
    parser.add_argument("--timeout", type=_seconds, default=default, help=text)


def _serve_arguments(serve: argparse.ArgumentParser) -> None:
    serve.add_argument("--config", type=Path, help="YAML config file (default: built-in defaults)")
    serve.add_argument("--uri", help="listen address, e.g. tcp://0.0.0.0:10200 (server.uri)")
    serve.add_argument("--backend", choices=("edge", "csm"), help="default engine (tts.backend)")
    serve.add_argument(
        "--zeroconf",
        nargs="?",
        const="",
        metavar="NAME",
        help="advertise over zeroconf, optionally with this instance name (server.zeroconf)",
    )
    serve.add_argument("--no-zeroconf", action="store_true", help="do not advertise")
    serve.add_argument("--zeroconf-host", help="address to advertise (default: this host's)")
    serve.add_argument("--debug", action="store_true", help="log at DEBUG level")
    serve.add_argument("--log-format", help="Python logging format string")
    serve.add_argument(
        "--check-config",
        action="store_true",
        help="validate the config file, environment and flags, then exit (0 = valid)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wyoming-verba", description=__doc__, formatter_class=_HelpFormatter
    )
    parser.add_argument("--version", action="version", version=__version__)
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return subcommands.add_parser(
            name, help=text, description=text, formatter_class=_HelpFormatter
        )

    _serve_arguments(command("serve", "run the Wyoming TTS server (the default command)"))

    say = command("say", "synthesize text through a running server into a WAV file")
    _add_uri(say)
    say.add_argument("--voice", help="voice name, e.g. edge:en-US-AriaNeural or csm:speaker-0")
    say.add_argument(
        "--speaker", type=_speaker, help="CSM speaker id (without --voice: for the default voice)"
    )
    say.add_argument("-o", "--output", type=Path, default=Path("out.wav"), help="WAV file")
    _add_timeout(say, 30, "seconds to wait for the connection and for each reply from the server")
    say.add_argument("text", help="the text to speak")

    voices = command("voices", "list a running server's voices with their languages")
    _add_uri(voices)
    voices.add_argument("--language", help="only voices of this language, e.g. de or de-AT")
    _add_timeout(voices, 5, "seconds to wait")

    health = command("health", "exit 0 if the server answers Describe; show each engine's state")
    _add_uri(health, os.environ.get("VERBA_HEALTH_URI", DEFAULT_URI))
    _add_timeout(health, 5, "seconds to wait")

    bench = command("bench", "measure latency and real-time factor per voice against a server")
    _add_uri(bench)
    bench.add_argument("--voice", action="append", required=True, help="repeat for several")
    bench.add_argument("--runs", type=_positive_int, default=5, help="requests per voice")
    bench.add_argument("--text", help="text to speak (default: two short sentences)")
    bench.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    bench.add_argument("--plot", type=Path, help="also draw them into this PNG (matplotlib)")

    download = command("download", "fetch the CSM model into the Hugging Face cache ahead of time")
    download.add_argument("--config", type=Path, help="YAML config file (for csm.model)")
    download.add_argument("--model", help="hub id or local directory (default: csm.model)")

    doctor = command("doctor", "check torch, GPU, model, the Edge service and a running server")
    doctor.add_argument("--config", type=Path, help="YAML config file")
    doctor.add_argument("--uri", help="the running server to ask (default: from server.uri)")
    doctor.add_argument("--backend", choices=("edge", "csm"), help="default engine (tts.backend)")
    _voice_arguments(command("voice", "add or delete a CSM voice on a running server"))
    return parser


def _voice_arguments(voice: argparse.ArgumentParser) -> None:
    """`voice add NAME CLIP TRANSCRIPT [--speaker N]` and `voice delete NAME`."""
    actions = voice.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser(
        "add",
        help="create csm:NAME from a clip and its exact transcript (csm.voice_uploads: true)",
        formatter_class=_HelpFormatter,
    )
    _add_uri(add)
    add.add_argument("--speaker", type=_speaker, help="CSM speaker id of the voice (default 0)")
    add.add_argument("name", help="voice name: letters, digits, _ . -")
    add.add_argument("clip", type=Path, help="audio file, 1-30 s of one speaker (any format)")
    add.add_argument("transcript", help="exactly the words spoken in the clip")
    delete = actions.add_parser(
        "delete", help="delete a voice created with `voice add`", formatter_class=_HelpFormatter
    )
    _add_uri(delete)
    delete.add_argument("name", help="voice name")


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parse a command line; no command means `serve`."""
    known = (*_HANDLERS, "-h", "--help", "--version")
    if not argv or argv[0] not in known:
        argv = ["serve", *argv]
    return _parser().parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point for `wyoming-verba` and `python -m wyoming_verba`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    problem = commands.client_uri_problem(args, argv)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        return _HANDLERS[args.command](args)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except commands.CommandError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except SynthesisFailedError as err:
        print(f"error: the server could not synthesize: {err}", file=sys.stderr)
        return 1
    except (OSError, TimeoutError) as err:
        print(f"error: {commands.connection_problem(args, err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
