"""The prepared GPU-machine command and the device benchmark's budget logic (fast: no model)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from benchmarks.device import carry as device_carry
from benchmarks.device.budget import Budget, Recorder, Stage

ROOT = Path(__file__).resolve().parents[2]


def records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_prepared_command_fits_the_device_tool() -> None:
    call = device_carry.run_call()
    command = call["command"]
    assert len(command) <= 2000
    assert call["carry"] == [device_carry.CARRY]
    assert device_carry.BUDGET_S < call["timeout_s"] <= 600
    assert command.count("python3 -m ") == 2  # the machine's own python, pip and benchmark
    assert "pip install -q --no-index --no-deps" in command
    assert "PYTHONUNBUFFERED=1" in command and "tee -a $OUT/log" in command
    assert f"--budget-s {device_carry.BUDGET_S}" in command and "--out $OUT" in command


def test_carried_size_is_checked(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text(f"/{device_carry.CARRY}/\n")
    (tmp_path / "tracked.txt").write_bytes(b"x" * 1000)
    wheels = tmp_path / device_carry.WHEELS
    wheels.mkdir(parents=True)
    (wheels / "a.whl").write_bytes(b"y" * 2**20)
    measured = device_carry.sizes(tmp_path)
    assert measured["carried_mib"] == 1.0
    assert measured["tree_mib"] == pytest.approx((1000 + len(f"/{device_carry.CARRY}/\n")) / 2**20)
    call = device_carry.run_call()
    device_carry.check(measured, call)
    with pytest.raises(SystemExit, match="MiB"):
        device_carry.check({**measured, "total_mib": 64.5}, call)
    with pytest.raises(SystemExit, match="characters"):
        device_carry.check(measured, {**call, "command": "x" * 2001})


def test_this_tree_leaves_room_for_the_wheels() -> None:
    # av's wheel is 34.1 MiB, voluptuous's 0.03 MiB: the tree must stay small beside them.
    measured = device_carry.sizes(ROOT)
    carried = measured["carried_mib"] or 34.2
    assert measured["tree_mib"] + carried <= device_carry.LIMIT_MIB


def test_stages_that_do_not_fit_are_skipped_and_failures_recorded(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path)
    budget = Budget(100.0, recorder)
    ran: list[str] = []

    def fail() -> None:
        raise RuntimeError("compile failed: boom")

    budget.run_stages(
        [
            Stage("cheap", lambda: 1.0, lambda: ran.append("cheap")),
            Stage("too_big", lambda: 1000.0, lambda: ran.append("too_big")),
            Stage("broken", lambda: 1.0, fail),
            Stage("after", lambda: 1.0, lambda: ran.append("after")),
        ]
    )
    assert ran == ["cheap", "after"]
    found = {r["stage"]: r for r in records(recorder.path)}
    assert found["too_big"]["status"] == "skipped"
    assert "needs about 1000 s" in str(found["too_big"]["line"])
    assert found["broken"]["status"] == "failed"
    assert "compile failed: boom" in str(found["broken"]["line"])


def test_budget_is_a_hard_stop_that_keeps_earlier_records(tmp_path: Path) -> None:
    script = (
        "import time, pathlib\n"
        "from benchmarks.device.budget import Budget, Recorder, Stage\n"
        f"rec = Recorder(pathlib.Path({str(tmp_path)!r}))\n"
        "budget = Budget(1.5, rec)\n"
        "budget.start()\n"
        "budget.run_stages([Stage('first', lambda: 0, lambda: rec.record('first', 'ok', 'x')),\n"
        "                   Stage('stuck', lambda: 0, lambda: time.sleep(30))])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 3
    found = records(tmp_path / "device_bench.jsonl")
    assert [r["stage"] for r in found] == ["first", "stuck"]
    assert found[1]["status"] == "budget"
    assert "budget of 2 s spent" in done.stdout


def test_summary_says_what_was_not_measured() -> None:
    from benchmarks.device.summary import against_targets

    assert all(result == "not measured" for _, result, _ in against_targets({}))
    measured = {
        "step_b4": {"ms_per_frame": {"median": 4.0}},
        "generate_static": {"ms_per_frame": {"median": 20.0}},
        "worker_b4_1_requests": {"rtf_each": {"median": 0.04}, "first_audio_s": {"median": 0.05}},
    }
    rows = {figure: result for figure, result, _ in against_targets(measured)}
    assert rows["prepared step vs generate_static()"] == "5.00x"
    assert rows["batch-1 RTF through the worker"] == "0.040"
    assert rows["first audio, one request"] == "50 ms"
    assert rows["peak VRAM at max_batch 4"] == "not measured"


def test_the_benchmarks_import_path_needs_only_what_is_carried() -> None:
    """What device_bench imports (and device_checks.load pulls in) must not need a package the
    lent machine lacks beyond the carried wheels (av, voluptuous)."""
    lacking = ("wyoming", "edge_tts", "sentence_stream", "zeroconf", "lameenc")
    code = (
        "import sys, benchmarks.device.bench, benchmarks.device.checks, benchmarks.csm.bench;"
        f"print([m for m in {lacking!r} if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert result.stdout.strip() == "[]"


def test_a_second_start_opens_the_cache_the_benchmarks_own_compile_filled(
    tmp_path: Path,
) -> None:
    """The second-start process loads the model anew (another directory for the tiny model) and
    must still look in the directory the benchmark process compiled into."""
    from benchmarks.device.args import parse
    from benchmarks.device.checks import load
    from benchmarks.device.compile import model_ref, second_start
    from wyoming_verba.engines.csm.startup.compile_cache import open_cache

    args = parse(["--size", "tiny", "--device", "cpu", "--compile-cache", str(tmp_path)])
    model, _, _ = load(None, "tiny", torch.device("cpu"))
    expected = open_cache(tmp_path, model, model_ref(None, "tiny")).directory
    found = second_start(args, "float32", [], timeout_s=300)
    assert found.get("cache_dir") == str(expected), found
    assert found["widths"] == [] and found["load_s"] > 0

    args.model = str(tmp_path / "no-such-model")
    failed = second_start(args, "float32", [], timeout_s=300)
    assert "no-such-model" in failed["error"]
