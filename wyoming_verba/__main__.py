"""Command line: `wyoming-verba [serve] --config FILE`, `say`, `bench`, `download`, `doctor`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from . import __version__
from .config import ConfigError, Overrides, load_config

_COMMANDS = ("serve", "say", "bench", "download", "doctor", "health")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wyoming-verba", description=__doc__)
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the Wyoming TTS server")
    serve.add_argument("--config", type=Path, help="YAML config file")
    serve.add_argument("--uri", help="listen address, e.g. tcp://0.0.0.0:10200")
    serve.add_argument("--backend", choices=("edge", "csm"), help="default engine")
    serve.add_argument(
        "--zeroconf",
        nargs="?",
        const="",
        metavar="NAME",
        help="advertise over zeroconf (optionally with this instance name)",
    )
    serve.add_argument("--no-zeroconf", action="store_true", help="do not advertise")
    serve.add_argument("--zeroconf-host", help="address to advertise (default: this host's)")
    serve.add_argument("--debug", action="store_true", help="log at DEBUG level")
    serve.add_argument("--log-format", help="Python logging format string")

    say = commands.add_parser("say", help="synthesize text to a WAV file")
    say.add_argument("--uri", default="tcp://127.0.0.1:10200")
    say.add_argument("--voice", help="voice name, e.g. edge:en-US-AriaNeural or csm:speaker-0")
    say.add_argument("--speaker", help="CSM speaker id")
    say.add_argument("-o", "--output", type=Path, default=Path("out.wav"))
    say.add_argument("text")

    bench = commands.add_parser("bench", help="measure latency per voice against a server")
    bench.add_argument("--uri", default="tcp://127.0.0.1:10200")
    bench.add_argument("--voice", action="append", required=True, help="repeat for several")
    bench.add_argument("--runs", type=int, default=5)
    bench.add_argument("--text")
    bench.add_argument("--json", type=Path)
    bench.add_argument("--plot", type=Path)

    health = commands.add_parser("health", help="exit 0 if the server answers Describe")
    health.add_argument(
        "--uri", default=os.environ.get("VERBA_HEALTH_URI", "tcp://127.0.0.1:10200")
    )
    health.add_argument("--timeout", type=float, default=5)

    download = commands.add_parser("download", help="fetch the CSM model into the HF cache")
    download.add_argument("--config", type=Path)
    download.add_argument("--model", help="hub id or local directory (default: csm.model)")

    doctor = commands.add_parser("doctor", help="check torch, CUDA, GPU, model and Edge service")
    doctor.add_argument("--config", type=Path)
    return parser


def _serve(args: argparse.Namespace) -> int:
    zeroconf: bool | None = None
    if args.no_zeroconf:
        zeroconf = False
    elif args.zeroconf is not None:
        zeroconf = True
    overrides = Overrides(
        uri=args.uri,
        backend=args.backend,
        zeroconf=zeroconf,
        zeroconf_name=args.zeroconf or None,
        zeroconf_host=args.zeroconf_host,
        debug=args.debug,
        log_format=args.log_format,
    )
    config = load_config(args.config, overrides=overrides)
    logging.basicConfig(
        level=logging.DEBUG if config.log.debug else logging.INFO, format=config.log.format
    )
    from .server import VerbaServer

    return asyncio.run(VerbaServer(config).run_until_signal())


def _say(args: argparse.Namespace) -> int:
    from .client import synthesize

    result = asyncio.run(synthesize(args.uri, args.text, args.voice, args.speaker))
    result.write_wav(args.output)
    first = result.first_audio_s if result.first_audio_s is not None else float("nan")
    print(
        f"wrote {args.output}: {result.audio_s:.2f} s of audio at {result.rate} Hz; "
        f"first audio {first * 1000:.0f} ms, total {result.total_s * 1000:.0f} ms"
    )
    return 0


def _bench(args: argparse.Namespace) -> int:
    from .bench import DEFAULT_TEXT, bench_voice, format_table, write_json, write_plot

    async def run() -> list:  # type: ignore[type-arg]
        return [
            await bench_voice(args.uri, voice, args.text or DEFAULT_TEXT, args.runs)
            for voice in args.voice
        ]

    rows = asyncio.run(run())
    print(format_table(rows))
    if args.json:
        write_json(rows, args.json)
    if args.plot:
        write_plot(rows, args.plot)
    return 0


def _health(args: argparse.Namespace) -> int:
    from .client import describe

    try:
        info = asyncio.run(describe(args.uri, args.timeout))
    except (OSError, TimeoutError, Exception) as err:
        print(f"unhealthy: {args.uri}: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    print(f"healthy: {len(info.tts[0].voices) if info.tts else 0} voices")
    return 0


def _download(args: argparse.Namespace) -> int:
    from .engines.csm.download import download_model

    config = load_config(args.config)
    return download_model(args.model or config.csm.model)


def _doctor(args: argparse.Namespace) -> int:
    from .doctor import run_doctor

    config = load_config(args.config)
    return asyncio.run(run_doctor(config))


def main(argv: list[str] | None = None) -> int:
    """Entry point for `wyoming-verba` and `python -m wyoming_verba`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in _COMMANDS and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, "serve")
    args = _parser().parse_args(argv)
    handlers = {
        "serve": _serve,
        "say": _say,
        "bench": _bench,
        "health": _health,
        "download": _download,
        "doctor": _doctor,
    }
    from .client import SynthesisFailedError

    try:
        return handlers[args.command](args)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except SynthesisFailedError as err:
        print(f"error: the server could not synthesize: {err}", file=sys.stderr)
        return 1
    except (OSError, TimeoutError) as err:
        uri = getattr(args, "uri", "the server")
        print(f"error: cannot talk to {uri}: {err or type(err).__name__}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
