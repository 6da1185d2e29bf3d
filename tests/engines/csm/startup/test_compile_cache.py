"""The kept compile cache: keyed so nothing stale is loaded, and never a reason to fail a start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from tests.support.csm import GREEDY
from wyoming_verba.engines.csm.model.slots import SlotState
from wyoming_verba.engines.csm.model.step import FrameStep
from wyoming_verba.engines.csm.startup import compile_cache
from wyoming_verba.engines.csm.startup.compile_cache import CompileCache, cache_key, open_cache
from wyoming_verba.engines.csm.startup.runtime import _compile

CPU = torch.device("cpu")


def test_the_key_changes_with_torch_transformers_model_config_dtype_and_device(
    tiny_csm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, _ = tiny_csm
    key = cache_key(model, "/models/csm", CPU)
    assert key == cache_key(model, "/models/csm", CPU)
    assert key.startswith(f"torch-{torch.__version__.split('+')[0]}-cpu-")
    assert key != cache_key(model, "sesame/csm-1b", CPU)
    with monkeypatch.context() as patch:
        patch.setattr(compile_cache, "device_kind", lambda _device: "cuda:NVIDIA H200:sm90")
        assert key != cache_key(model, "/models/csm", CPU)
    with monkeypatch.context() as patch:
        patch.setattr(torch, "__version__", "2.99.0")
        assert key != cache_key(model, "/models/csm", CPU)
    import transformers

    with monkeypatch.context() as patch:
        patch.setattr(transformers, "__version__", "9.0.0")
        assert key != cache_key(model, "/models/csm", CPU)
    with monkeypatch.context() as patch:
        patch.setattr(model.config, "num_codebooks", model.config.num_codebooks + 1)
        assert key != cache_key(model, "/models/csm", CPU)
    with monkeypatch.context() as patch:
        patch.setattr(type(model), "dtype", property(lambda _self: torch.bfloat16))
        assert key != cache_key(model, "/models/csm", CPU)
    with monkeypatch.context() as patch:
        # The same model read from another directory (a second process, a moved volume).
        patch.setattr(model.config, "_name_or_path", "/elsewhere/csm")
        assert key == cache_key(model, "/models/csm", CPU)


def test_the_cache_lives_under_data_dir_and_knows_whether_it_holds_code(
    tiny_csm: Any, tmp_path: Path
) -> None:
    model, _ = tiny_csm
    cache = open_cache(tmp_path, model, "/models/csm")
    assert cache.directory == tmp_path / "torch-compile" / cache_key(model, "/models/csm", CPU)
    assert cache.directory.is_dir() and not cache.existing
    (cache.directory / "fxgraph").mkdir()
    assert open_cache(tmp_path, model, "/models/csm").existing
    assert open_cache(None, model, "/models/csm") == CompileCache(None)


def test_an_unwritable_cache_is_one_log_line_and_no_kept_cache(
    tiny_csm: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model, _ = tiny_csm
    blocked = tmp_path / "data"
    blocked.write_text("a file where the data dir should be")
    assert open_cache(blocked, model, "/models/csm") == CompileCache(None)
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "Cannot keep the CSM compile cache" in warnings[0].getMessage()
    assert "server.data_dir" in warnings[0].getMessage()


def test_a_cache_that_breaks_the_compile_is_discarded_and_the_compile_runs_cold(
    tiny_csm: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    model, _ = tiny_csm
    cache = open_cache(tmp_path, model, "/models/csm")
    assert cache.directory is not None
    (cache.directory / "fxgraph").mkdir()
    (cache.directory / "fxgraph" / "entry").write_bytes(b"\x80not a pickle")
    cache = open_cache(tmp_path, model, "/models/csm")
    step = FrameStep(model, SlotState(model, 1), GREEDY)
    seen: list[list[Path]] = []

    def compile_once_the_cache_is_gone(_progress: object = None) -> None:
        assert cache.directory is not None
        seen.append(sorted(cache.directory.rglob("*")))
        if len(seen) == 1:
            raise EOFError("Ran out of input")

    monkeypatch.setattr(step, "compile", compile_once_the_cache_is_gone)
    costs = _compile(step, cache)
    assert len(seen) == 2 and seen[0] and seen[1] == []  # retried on an emptied cache
    assert costs.compile_source == "cold"
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [
        f"Ignoring the CSM compile cache in {cache.directory} (EOFError: Ran out of input); "
        "compiling cold"
    ]


def test_a_compile_failure_without_a_kept_cache_leaves_the_step_eager(
    tiny_csm: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    model, _ = tiny_csm
    cache = open_cache(tmp_path, model, "/models/csm")  # empty: nothing to blame
    step = FrameStep(model, SlotState(model, 1), GREEDY)
    calls = []

    def broken(_progress: object = None) -> None:
        calls.append(1)
        raise RuntimeError("inductor exploded")

    monkeypatch.setattr(step, "compile", broken)
    assert _compile(step, cache).compile_source == "failed"
    assert calls == [1]
    assert "Compiling the CSM frame step failed (RuntimeError: inductor exploded)" in caplog.text
    assert "Ignoring the CSM compile cache" not in caplog.text
