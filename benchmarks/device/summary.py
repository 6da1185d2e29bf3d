"""The device benchmark's closing table: what was measured against the issue's GPU targets."""

from __future__ import annotations

from typing import Any


def _rtf(measured: dict[str, Any], name: str, key: str = "median") -> float | None:
    found = measured.get(name)
    return None if found is None else float(found["rtf_each"][key])


def _fmt(value: float | None, pattern: str) -> str:
    return "not measured" if value is None else pattern.format(value)


def against_targets(measured: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(figure, result, target) rows; a figure no stage measured says so."""
    one = measured.get("worker_b4_1_requests")
    first_ms = None if one is None else one["first_audio_s"]["median"] * 1000
    step = measured.get("step_b4", {}).get("ms_per_frame", {}).get("median")
    rows = [
        ("batch-1 RTF through the worker", _fmt(_rtf(measured, "worker_b4_1_requests"), "{:.3f}"),
         "<= 0.05"),
        ("first audio, one request", _fmt(first_ms, "{:.0f} ms"), "<= 80 ms"),
        ("peak VRAM at max_batch 4", _fmt(measured.get("peak_vram_gib_b4"), "{:.2f} GiB"),
         "<= 8 GB"),
        ("RTF of each of 8 concurrent requests (max)",
         _fmt(_rtf(measured, "worker_b8_8_requests", "max"), "{:.3f}"), "<= 0.25"),
    ]  # fmt: skip
    for width in (4, 8):
        cold, warm = measured.get(f"compile_b{width}_s"), measured.get(f"compile_warm_b{width}_s")
        rows += [
            (f"compile at width {width}, cold", _fmt(cold, "{:.1f} s"), "CPU tiny: <= 60 s"),
            (f"compile at width {width}, second start (kept cache)", _fmt(warm, "{:.1f} s"),
             "CPU tiny: <= 15 s"),
        ]  # fmt: skip
    for when, key in (
        ("cold", "compile_sampled_cold_s"),
        ("second start", "compile_sampled_warm_s"),
    ):
        value = _fmt(measured.get(key), "{:.1f} s")
        rows.append((f"compile of the sampled step at width 4, {when}", value, "—"))
    returned = measured.get("unload_returned_gib")
    rows.append(("memory the idle unload returns", _fmt(returned, "{:.2f} GiB"), "the model's"))
    for baseline in ("generate_static_compiled", "generate_static", "generate_dynamic"):
        base = measured.get(baseline, {}).get("ms_per_frame", {}).get("median")
        ratio = None if base is None or step is None else base / step
        rows.append((f"prepared step vs {baseline}()", _fmt(ratio, "{:.2f}x"), ">= 3x static"))
    return rows
