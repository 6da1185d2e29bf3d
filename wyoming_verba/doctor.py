"""`wyoming-verba doctor`: what someone debugging a slow or failing setup needs, line by line."""

from __future__ import annotations

import asyncio
import os
import platform
from dataclasses import dataclass
from pathlib import Path

from .config import Config


@dataclass(frozen=True)
class Check:
    """One line of the report: ok, or what to fix."""

    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"[{'ok' if self.ok else '!!'}] {self.name}: {self.detail}"


def _torch_checks(config: Config) -> list[Check]:
    try:
        import torch
    except ImportError:
        wanted = "csm" in config.tts.engines
        return [
            Check(
                "torch",
                not wanted,
                "not installed (only needed for the csm engine: pip install 'wyoming-verba[csm]')",
            )
        ]
    checks = [
        Check("torch", True, f"{torch.__version__}, CUDA build {torch.version.cuda or 'none'}")
    ]
    if torch.cuda.is_available():
        free, total = torch.cuda.mem_get_info()
        name = torch.cuda.get_device_name()
        checks.append(
            Check("gpu", True, f"{name}, {free / 2**30:.1f} of {total / 2**30:.1f} GiB free")
        )
        if free < 6 * 2**30:
            checks.append(
                Check("vram", False, "under 6 GiB free: lower csm.max_batch or use float16")
            )
    else:
        checks.append(
            Check(
                "gpu",
                config.csm.device == "cpu" or "csm" not in config.tts.engines,
                "no CUDA GPU visible: CSM would run on the CPU (very slow); check the "
                "NVIDIA driver and `--gpus all` / the compose GPU reservation",
            )
        )
    from .engines.csm.loading import ModelLoadError, resolve_device, resolve_dtype

    try:
        device = resolve_device(config.csm.device)
    except ModelLoadError as err:
        checks.append(Check("csm device", False, str(err)))
        return checks
    checks.append(
        Check(
            "csm device",
            True,
            f"{device} with dtype {resolve_dtype(config.csm.dtype, device)} (Mimi stays float32)",
        )
    )
    return checks


def _model_check(config: Config) -> Check:
    model = config.csm.model
    path = Path(model).expanduser()
    if path.is_dir():
        ok = (path / "config.json").is_file()
        return Check(
            "csm model", ok, f"local directory {path}" + ("" if ok else " has no config.json")
        )
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return Check("csm model", False, "huggingface_hub not installed")
    cached = try_to_load_from_cache(model, "config.json")
    token = "set" if os.environ.get("HF_TOKEN") else "not set"
    if isinstance(cached, str):
        return Check("csm model", True, f"{model} is in the Hugging Face cache (HF_TOKEN {token})")
    return Check(
        "csm model",
        "csm" not in config.tts.engines,
        f"{model} is not in the Hugging Face cache; run `wyoming-verba download` "
        f"(gated model: accept its terms and set HF_TOKEN, now {token})",
    )


async def _edge_check(config: Config) -> Check:
    from .engines.edge import point_edge_tts_at

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
            "edge" not in config.tts.engines,
            f"unreachable ({type(err).__name__}: {err}); check the network or edge.proxy",
        )
    names = {voice["ShortName"] for voice in voices}
    voice_ok = config.edge.voice in names
    return Check(
        "edge service",
        voice_ok,
        f"reachable, {len(voices)} voices; edge.voice "
        f"{config.edge.voice} {'found' if voice_ok else 'NOT found: pick another'}",
    )


async def run_doctor(config: Config) -> int:
    """Print the report; exit code 1 when something needs fixing."""
    checks = [
        Check("python", True, platform.python_version()),
        Check(
            "backend",
            True,
            f"default {config.tts.backend}, engines {', '.join(config.tts.engines)}, "
            f"fallback {config.tts.fallback or 'none'}",
        ),
        *_torch_checks(config),
        _model_check(config),
        await _edge_check(config),
    ]
    for check in checks:
        print(check.line())
    return 0 if all(check.ok for check in checks) else 1
