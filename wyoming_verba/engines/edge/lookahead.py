"""Speaking a reply with an engine that synthesizes one sentence at a time (Edge).

Sentence N+1 is synthesized while sentence N streams, so the gap between sentences is the
network round trip at most once per reply rather than once per sentence.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from functools import partial

from wyoming_verba.core.aio import cancel_and_wait
from wyoming_verba.core.audio import Pcm
from wyoming_verba.core.voices import VoiceChoice
from wyoming_verba.engines.base import SENTENCE_END, SentenceEnd

SynthesizeOne = Callable[[str, VoiceChoice], AsyncGenerator[Pcm, None]]


class _Sentence:
    """Synthesizes one sentence in its own task into a queue of PCM blocks."""

    def __init__(self, text: str, voice: VoiceChoice, synthesize: SynthesizeOne) -> None:
        self.queue: asyncio.Queue[Pcm | BaseException | None] = asyncio.Queue()
        self._start = partial(synthesize, text, voice)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(self._start()), name="sentence")

    async def _run(self, stream: AsyncGenerator[Pcm, None]) -> None:
        try:
            async with contextlib.aclosing(stream):
                async for pcm in stream:
                    self.queue.put_nowait(pcm)
        except Exception as err:
            self.queue.put_nowait(err)
        finally:
            self.queue.put_nowait(None)

    async def cancel(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)


async def speak_each(
    synthesize: SynthesizeOne, sentences: AsyncIterator[str], voice: VoiceChoice
) -> AsyncGenerator[Pcm | SentenceEnd, None]:
    """Speak sentences one after another, each started as soon as the previous one streams."""
    started: asyncio.Queue[_Sentence | BaseException | None] = asyncio.Queue(maxsize=1)
    running: list[_Sentence] = []

    async def produce() -> None:
        try:
            async for text in sentences:
                job = _Sentence(text, voice, synthesize)
                await started.put(job)  # at most one sentence waits, already synthesizing
                running.append(job)
                job.start()
        except Exception as err:
            await started.put(err)
            return
        await started.put(None)

    producer = asyncio.create_task(produce(), name="sentence producer")
    try:
        while (job := await started.get()) is not None:
            if isinstance(job, BaseException):
                raise job
            while (block := await job.queue.get()) is not None:
                if isinstance(block, BaseException):
                    raise block
                yield block
            running.remove(job)
            yield SENTENCE_END
    finally:
        await cancel_and_wait(producer)
        for job in running:
            await job.cancel()
