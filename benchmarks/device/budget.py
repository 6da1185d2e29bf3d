"""The device benchmark's clock and its output: a hard time budget, stages that run only when they
fit in what is left, and one printed line + one appended JSON record per stage as it ends (so a
command killed at its limit still returns everything measured before)."""

from __future__ import annotations

import json
import os
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RECORDS = "device_bench.jsonl"


class Recorder:
    """Prints a figure line and appends a JSON record (one per line) to `out/device_bench.jsonl`."""

    def __init__(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.path = out / RECORDS
        self.started = time.monotonic()
        self._lock = threading.Lock()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def record(self, stage: str, status: str, line: str, **data: Any) -> None:
        """status: ok | skipped | failed | budget."""
        entry = {"stage": stage, "status": status, "line": line, "at_s": round(self.elapsed(), 1)}
        with self._lock:
            print(f"[{entry['at_s']:7.1f} s] {stage}: {line}", flush=True)
            with self.path.open("a") as file:
                file.write(json.dumps({**entry, **data}, default=str) + "\n")


@dataclass(frozen=True)
class Stage:
    """One stage; `estimate()` is its expected cost in seconds, from earlier measurements."""

    name: str
    estimate: Callable[[], float]
    run: Callable[[], None]


class Budget:
    """A hard deadline for the whole process; `run_stages` skips what would not fit."""

    def __init__(self, seconds: float, recorder: Recorder) -> None:
        self.seconds = seconds
        self.recorder = recorder
        self.current = "start"
        self._timer = threading.Timer(max(0.0, seconds - recorder.elapsed()), self._expired)
        self._timer.daemon = True

    def start(self) -> None:
        self._timer.start()

    def cancel(self) -> None:
        self._timer.cancel()

    def left(self) -> float:
        return self.seconds - self.recorder.elapsed()

    def _expired(self) -> None:
        self.recorder.record(
            self.current,
            "budget",
            f"budget of {self.seconds:.0f} s spent during this stage: stopped here "
            "(every figure above is in the JSON)",
        )
        os._exit(3)  # a hard stop: a compile in progress would not see an exception

    def run_stages(self, stages: list[Stage]) -> None:
        """Run each stage that fits in what is left; a failing stage is a record, not the end."""
        for stage in stages:
            needed, left = stage.estimate(), self.left()
            if needed > left:
                self.recorder.record(
                    stage.name,
                    "skipped",
                    f"skipped: needs about {needed:.0f} s, {left:.0f} s of the budget left",
                    estimate_s=needed,
                    left_s=left,
                )
                continue
            self.current = stage.name
            try:
                stage.run()
            except Exception as err:
                self.recorder.record(
                    stage.name,
                    "failed",
                    f"failed: {type(err).__name__}: {err}",
                    traceback=traceback.format_exc(limit=8),
                )
