"""Fixtures: a local fake Edge service and real wyoming_verba servers on loopback."""

from __future__ import annotations

import os

# Tests never reach a model hub: set before anything imports huggingface_hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.fakes.fake_edge import FakeEdgeService
from tests.support.serving import ServerFactory, merge
from wyoming_verba.config import Config, parse_config
from wyoming_verba.server.server import VerbaServer

torch.set_num_threads(1)


@pytest.fixture
async def fake_edge() -> AsyncIterator[FakeEdgeService]:
    service = FakeEdgeService()
    await service.start()
    yield service
    await service.stop()


@pytest.fixture
def base_config(tmp_path: Path, fake_edge: FakeEdgeService) -> dict[str, Any]:
    return {
        "server": {
            "uri": "tcp://127.0.0.1:0",
            "zeroconf": {"enabled": False},
            "data_dir": str(tmp_path / "data"),
        },
        "edge": {"endpoint": fake_edge.url, "timeout_s": 5.0, "voice_list_timeout_s": 2},
    }


@pytest.fixture
async def start_server(base_config: dict[str, Any]) -> AsyncIterator[ServerFactory]:
    servers: list[VerbaServer] = []

    async def start(extra: dict[str, Any] | None = None, **kwargs: Any) -> VerbaServer:
        config: Config = parse_config(merge(base_config, extra or {}), environ={})
        server = VerbaServer(config, **kwargs)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


@pytest.fixture(scope="session")
def tiny_csm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random CSM model saved to disk (loaded through from_pretrained by the tests)."""
    from tests.fakes.tiny_csm import build_tiny_csm

    return build_tiny_csm(tmp_path_factory.mktemp("tiny-csm"))


@pytest.fixture(scope="session")
def tiny_csm(tiny_csm_dir: Path) -> Any:
    """(model, processor) loaded from the tiny model directory."""
    from transformers import AutoProcessor, CsmForConditionalGeneration

    model = CsmForConditionalGeneration.from_pretrained(tiny_csm_dir).eval()
    return model, AutoProcessor.from_pretrained(tiny_csm_dir)


@pytest.fixture
def csm_config(tiny_csm_dir: Path) -> dict[str, Any]:
    """Config sections for a server with CSM (tiny model, CPU, greedy) and Edge fallback."""
    return {
        "tts": {"backend": "csm", "fallback": "edge"},
        "csm": {"model": str(tiny_csm_dir), "device": "cpu", "temperature": 0, "max_audio_s": 8},
    }


@pytest.fixture(scope="session")
def tiny_csm_4(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """(model, processor) of a tiny CSM with 4 codebooks: small enough to compile in a test."""
    from transformers import AutoProcessor, CsmForConditionalGeneration

    from tests.fakes.tiny_csm import build_tiny_csm

    path = build_tiny_csm(tmp_path_factory.mktemp("tiny-csm-4"), num_codebooks=4)
    model = CsmForConditionalGeneration.from_pretrained(path).eval()
    return model, AutoProcessor.from_pretrained(path)


@pytest.fixture(scope="session")
def wide_csm(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """(model, processor) with csm-1b's real widths and vocabulary, fewer layers."""
    from transformers import AutoProcessor, CsmForConditionalGeneration

    from tests.fakes.tiny_csm import build_wide_csm

    path = build_wide_csm(tmp_path_factory.mktemp("wide-csm"))
    model = CsmForConditionalGeneration.from_pretrained(path).eval()
    return model, AutoProcessor.from_pretrained(path)


@pytest.fixture
def no_tracebacks(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Fails the test when the server logged a traceback or an ERROR."""
    caplog.set_level("INFO")
    yield caplog
    bad = [r for r in caplog.records if r.exc_info or r.levelname in ("ERROR", "CRITICAL")]
    assert not bad, [r.getMessage() for r in bad]
