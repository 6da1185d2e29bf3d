"""`wyoming-verba doctor`: what someone debugging a slow or failing setup needs, line by line.

Each line is `[ok]` (fine), `[!!]` (fix this: the line says how) or `[--]` (not used, or not a
problem by itself, e.g. no server running yet).
"""

from __future__ import annotations

import asyncio
import os
import platform
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from wyoming_verba.config import Config
from wyoming_verba.protocol.client import describe
from wyoming_verba.protocol.info import EngineReport


class Level(StrEnum):
    """How a line reads."""

    OK = "ok"
    FIX = "!!"
    INFO = "--"


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    name: str
    level: Level
    detail: str

    def line(self) -> str:
        """The printed line."""
        return f"[{self.level}] {self.name}: {self.detail}"


def _csm_checks(config: Config) -> list[Check]:
    try:
        import torch
    except ImportError:
        return [Check("torch", Level.FIX, "not installed: pip install 'wyoming-verba[csm]'")]
    return [*_torch_checks(config, torch), _model_check(config), *_profile_checks(config)]


def _profile_checks(config: Config) -> list[Check]:
    """Each voice profile's clip and transcript, as the server checks them before loading."""
    from wyoming_verba.engines.csm.voices.rules import VoiceProfileError, check_voice

    checks = []
    for index, profile in enumerate(config.csm.voices):
        if profile.reference_audio is None or profile.reference_text is None:
            continue
        name = f"csm voice {profile.name}"
        try:
            voice = check_voice(profile.reference_audio, profile.reference_text, profile.speaker)
        except VoiceProfileError as err:
            where = f"csm.voices.{index}.{err.field}"
            checks.append(Check(name, Level.FIX, f"{err} ({where}); the server skips this voice"))
        else:
            detail = f"{voice.seconds:.1f} s clip {profile.reference_audio}"
            checks.append(Check(name, Level.OK, detail))
    return checks


def _torch_checks(config: Config, torch: Any) -> list[Check]:
    checks = [
        Check("torch", Level.OK, f"{torch.__version__}, CUDA build {torch.version.cuda or 'none'}")
    ]
    if torch.cuda.is_available():
        free, total = torch.cuda.mem_get_info()
        name = torch.cuda.get_device_name()
        low = free < 6 * 2**30
        detail = f"{name}, {free / 2**30:.1f} of {total / 2**30:.1f} GiB free"
        if low:
            detail += "; under 6 GiB (a running server uses some): lower csm.max_batch"
        checks.append(Check("gpu", Level.FIX if low else Level.OK, detail))
    elif config.csm.device == "cpu":
        checks.append(Check("gpu", Level.INFO, "not used (csm.device: cpu)"))
    else:
        checks.append(
            Check(
                "gpu",
                Level.FIX,
                "no CUDA GPU visible: CSM would run on the CPU (far slower than real time); "
                "check the NVIDIA driver and `--gpus all` / the compose GPU reservation",
            )
        )
    from wyoming_verba.engines.csm.startup.load import ModelLoadError, resolve_device, resolve_dtype

    try:
        device = resolve_device(config.csm.device)
    except ModelLoadError as err:
        return [*checks, Check("csm device", Level.FIX, str(err))]
    dtype = str(resolve_dtype(config.csm.dtype, device)).removeprefix("torch.")
    level = Level.OK if device.type == "cuda" else Level.INFO
    checks.append(Check("csm device", level, f"{device} with {dtype} (Mimi stays float32)"))
    return checks


def _model_check(config: Config) -> Check:
    model = config.csm.model
    path = Path(model).expanduser()
    if path.is_dir():
        if (path / "config.json").is_file():
            return Check("csm model", Level.OK, f"local directory {path}")
        return Check("csm model", Level.FIX, f"local directory {path} has no config.json")
    from wyoming_verba.engines.csm.startup.download import looks_like_path

    if looks_like_path(model):
        return Check("csm model", Level.FIX, f"directory {path} not found (csm.model)")
    from huggingface_hub import try_to_load_from_cache

    token = "set" if os.environ.get("HF_TOKEN") else "not set"
    if isinstance(try_to_load_from_cache(model, "config.json"), str):
        return Check("csm model", Level.OK, f"{model} is in the Hugging Face cache")
    return Check(
        "csm model",
        Level.FIX,
        f"{model} is not in the Hugging Face cache; run `wyoming-verba download` "
        f"(gated model: accept its terms and set HF_TOKEN, now {token})",
    )


async def _edge_check(config: Config) -> Check:
    from wyoming_verba.engines.edge.engine import point_edge_tts_at
    from wyoming_verba.engines.edge.errors import describe_service_error

    if config.edge.endpoint:
        point_edge_tts_at(config.edge.endpoint)
    import edge_tts

    try:
        voices = await asyncio.wait_for(
            edge_tts.list_voices(proxy=config.edge.proxy), config.edge.voice_list_timeout_s
        )
    except Exception as err:
        return Check(
            "edge service",
            Level.FIX,
            f"unreachable ({describe_service_error(err)}); check the network or edge.proxy",
        )
    if config.edge.voice not in {voice["ShortName"] for voice in voices}:
        return Check(
            "edge service",
            Level.FIX,
            f"reachable, {len(voices)} voices, but edge.voice {config.edge.voice} is not one "
            "of them: pick one from `wyoming-verba voices`",
        )
    return Check(
        "edge service", Level.OK, f"reachable, {len(voices)} voices; edge.voice {config.edge.voice}"
    )


def _writable_check(name: str, path: Path) -> Check:
    existing = next((folder for folder in (path, *path.parents) if folder.exists()), path)
    if os.access(existing, os.W_OK | os.X_OK):
        return Check(name, Level.OK, f"{path} is writable")
    user = f"{os.getuid()}:{os.getgid()}" if hasattr(os, "getuid") else "this user"
    return Check(
        name,
        Level.FIX,
        f"{existing} is not writable by uid {user}: sudo chown -R {user} {existing} "
        "(in Docker: the host directory mounted there)",
    )


def server_uri(config: Config) -> str:
    """Where a local client reaches the configured server (0.0.0.0 → 127.0.0.1)."""
    parsed = urlparse(config.server.uri)
    host = parsed.hostname or "127.0.0.1"
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"tcp://{host}:{parsed.port}"


async def _server_checks(uri: str) -> list[Check]:
    try:
        status = await describe(uri, 3)
    except ConnectionRefusedError:
        return [Check("server", Level.INFO, f"not running at {uri} (nothing listens there)")]
    except (OSError, TimeoutError) as err:
        reason = "no answer in 3 s" if isinstance(err, TimeoutError) else str(err)
        return [Check("server", Level.FIX, f"{uri}: {reason}")]
    if not status.engines:
        return [Check("server", Level.INFO, f"{uri} answers but reports no engine states")]
    checks = [Check("server", Level.OK, f"{uri} answers with {len(status.voices)} voice(s)")]
    for name, report in status.engines.items():
        checks.append(Check(f"server engine {name}", _engine_level(report), str(report)))
    return checks


def _engine_level(report: EngineReport) -> Level:
    if report.state == "failed":
        return Level.FIX
    # Ready with a remark (e.g. Edge unreachable at start) is not plainly ok; loading, idle: info.
    return Level.OK if report.state == "ready" and not report.detail else Level.INFO


async def run_doctor(config: Config, uri: str | None = None) -> int:
    """Print the report; exit code 1 when something needs fixing."""
    engines = config.tts.engines
    checks = [
        Check("python", Level.OK, platform.python_version()),
        Check(
            "engines",
            Level.OK,
            f"default {config.tts.backend}; running {', '.join(engines)}; "
            f"fallback {config.tts.fallback or 'none'}",
        ),
    ]
    checks.append(_writable_check("data dir", config.server.data_dir))
    if "csm" in engines:
        checks += _csm_checks(config)
    else:
        checks.append(Check("csm", Level.INFO, "not enabled (tts.backend / tts.engines)"))
    if "edge" in engines:
        checks.append(await _edge_check(config))
    else:
        checks.append(Check("edge", Level.INFO, "not enabled (tts.backend / tts.engines)"))
    checks += await _server_checks(uri or server_uri(config))
    for check in checks:
        print(check.line())
    return 1 if any(check.level == Level.FIX for check in checks) else 0
