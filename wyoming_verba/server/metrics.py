"""Per-request timings and the one INFO line each request logs."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from wyoming_verba.protocol.echo import one_line

_LOGGER = logging.getLogger("wyoming_verba.request")


@dataclass
class RequestMetrics:
    """Timings of one synthesis request, measured on the monotonic clock.

    `started` is when the request arrived (before its text was split or it waited in the
    connection's queue), so first_audio_ms is what the client waited.
    """

    backend: str
    voice: str
    sample_rate: int
    chars: int = 0
    started: float = field(default_factory=time.perf_counter)
    first_audio: float | None = None
    finished: float | None = None
    samples: int = 0
    options: str = ""  # the request's speaking options (context.verba), for the log
    ignored: tuple[str, ...] = ()  # options the engine that spoke could not honour

    def add_audio(self, samples: int) -> None:
        """Count audio that was sent to the client."""
        if samples and self.first_audio is None:
            self.first_audio = time.perf_counter()
        self.samples += samples

    def finish(self) -> None:
        """Mark the request as done."""
        if self.finished is None:
            self.finished = time.perf_counter()

    @property
    def first_audio_ms(self) -> float | None:
        """Milliseconds from the request to its first audio, or None without audio."""
        return None if self.first_audio is None else (self.first_audio - self.started) * 1000

    @property
    def total_ms(self) -> float:
        """Milliseconds from the request to its end (or to now)."""
        end = self.finished if self.finished is not None else time.perf_counter()
        return (end - self.started) * 1000

    @property
    def audio_s(self) -> float:
        """Seconds of audio sent."""
        return self.samples / self.sample_rate if self.sample_rate else 0.0

    @property
    def rtf(self) -> float | None:
        """Real-time factor: processing time / audio time (below 1 is faster than real time)."""
        return self.total_ms / 1000 / self.audio_s if self.audio_s else None

    def log_request(
        self, chars: int, outcome: str = "ok", code: str | None = None, message: str | None = None
    ) -> None:
        """The INFO line, counting `chars` characters received (not those spoken)."""
        self.chars = chars
        self.log(outcome, code, message)

    def log(self, outcome: str = "ok", code: str | None = None, message: str | None = None) -> None:
        """Emit the request's INFO line; a refused or failed one also says why (code and text)."""
        self.finish()
        first = "-" if self.first_audio_ms is None else f"{self.first_audio_ms:.0f}"
        rtf = "-" if self.rtf is None else f"{self.rtf:.3f}"
        why = f" options={self.options}" if self.options else ""
        if self.ignored:
            why += f" ignored={','.join(self.ignored)}"
        if code is not None:
            why += f" error={code}: {one_line(message or '')}"
        _LOGGER.info(
            "synthesize %s backend=%s voice=%s chars=%d first_audio_ms=%s total_ms=%.0f "
            "audio_s=%.2f rtf=%s%s",
            outcome,
            self.backend,
            self.voice,
            self.chars,
            first,
            self.total_ms,
            self.audio_s,
            rtf,
            why,
        )
