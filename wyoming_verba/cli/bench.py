"""`wyoming-verba bench`: latency and real-time factor per voice against a running server."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path

from wyoming_verba.cli.progress import ticking
from wyoming_verba.protocol.client import synthesize

DEFAULT_TEXT = (
    "The kitchen lights are now off. Tomorrow will be sunny with a high of twenty one degrees."
)


@dataclass(frozen=True)
class VoiceFigures:
    """Summary of several runs with one voice."""

    voice: str
    runs: int
    first_audio_median_ms: float
    first_audio_p95_ms: float
    total_median_ms: float
    audio_s: float
    rtf: float


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def bench_voice(uri: str, voice: str, text: str, runs: int) -> VoiceFigures:
    """Run `runs` requests one after another and summarize them."""
    firsts, totals, audio = [], [], []
    async with ticking(f"bench: {voice} run 1/{runs}") as ticker:
        for run in range(runs):
            ticker.label = f"bench: {voice} run {run + 1}/{runs}"
            result = await synthesize(uri, text, voice=voice)
            firsts.append((result.first_audio_s or result.total_s) * 1000)
            totals.append(result.total_s * 1000)
            audio.append(result.audio_s)
    audio_s = statistics.median(audio)
    total = statistics.median(totals)
    return VoiceFigures(
        voice=voice,
        runs=runs,
        first_audio_median_ms=statistics.median(firsts),
        first_audio_p95_ms=_p95(firsts),
        total_median_ms=total,
        audio_s=audio_s,
        rtf=total / 1000 / audio_s if audio_s else float("nan"),
    )


def format_table(rows: list[VoiceFigures]) -> str:
    """A plain-text table of the figures."""
    header = (
        f"{'voice':40} {'runs':>4} {'first med':>10} {'first p95':>10} {'total':>9} "
        f"{'audio s':>8} {'RTF':>6}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(
            f"{row.voice:40} {row.runs:>4} {row.first_audio_median_ms:>8.0f}ms "
            f"{row.first_audio_p95_ms:>8.0f}ms {row.total_median_ms:>7.0f}ms "
            f"{row.audio_s:>8.2f} {row.rtf:>6.3f}"
        )
    return "\n".join(lines)


def write_json(rows: list[VoiceFigures], path: Path) -> None:
    """Save the figures as JSON."""
    path.write_text(json.dumps([asdict(row) for row in rows], indent=2), encoding="utf-8")


def write_plot(rows: list[VoiceFigures], path: Path) -> None:
    """Save a bar chart of first-audio and total times (needs matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [row.voice for row in rows]
    positions = range(len(rows))
    figure, axis = plt.subplots(figsize=(max(6, 1.5 * len(rows)), 4))
    axis.bar(
        [p - 0.2 for p in positions],
        [r.first_audio_median_ms for r in rows],
        0.4,
        label="first audio (median)",
    )
    axis.bar(
        [p + 0.2 for p in positions], [r.total_median_ms for r in rows], 0.4, label="total (median)"
    )
    axis.set_xticks(list(positions), names, rotation=20, ha="right")
    axis.set_ylabel("ms")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
