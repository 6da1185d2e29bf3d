"""One reply's audio, as the event loop sees it: sentences in (tokenized off the loop), the
worker's frames out as PCM, trailing silence trimmed, SENTENCE_END after each input sentence."""

from __future__ import annotations

import asyncio
import secrets
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass

import torch

from wyoming_verba.core.aio import cancel_and_wait
from wyoming_verba.core.audio import Pcm, TrailingSilenceTrimmer
from wyoming_verba.engines.base import SENTENCE_END, SentenceEnd
from wyoming_verba.engines.csm.generation.reply import END, Delivery, Reply, SentenceFitter
from wyoming_verba.engines.csm.generation.worker import GenerationWorker
from wyoming_verba.engines.csm.model.mimi import SAMPLE_RATE
from wyoming_verba.engines.csm.model.slots import VoicePrefix


@dataclass(frozen=True)
class ReplySettings:
    """What a reply takes from csm.* and from the request."""

    continuity: bool
    queue_timeout_s: float
    max_audio_s: float
    temperature: float | None = None  # the request's own (context.verba), else csm.temperature


async def stream_reply(
    worker: GenerationWorker,
    text_ids: Callable[[str], torch.Tensor],
    sentences: AsyncIterator[str],
    prefix: VoicePrefix | None,
    settings: ReplySettings,
) -> AsyncGenerator[Pcm | SentenceEnd, None]:
    """Speak `sentences` as one reply in one slot (see Reply), yielding audio as it is made."""
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[Delivery] = asyncio.Queue()

    def deliver(item: Delivery) -> None:
        loop.call_soon_threadsafe(inbox.put_nowait, item)

    reply = Reply(
        prefix,
        deliver,
        seed=secrets.randbits(31),
        continuity=settings.continuity,
        temperature=settings.temperature,
        queue_timeout_s=settings.queue_timeout_s,
    )
    fitter = SentenceFitter(
        text_ids,
        prefix.length if prefix is not None else 0,
        settings.max_audio_s,
    )
    pieces: deque[int] = deque()  # how many slot sentences each input sentence became
    worker.submit(reply)
    feeder = asyncio.create_task(_feed(sentences, fitter, reply, pieces, inbox))
    trimmer = TrailingSilenceTrimmer(SAMPLE_RATE)
    try:
        while (item := await inbox.get()) is not END:
            if isinstance(item, BaseException):
                raise item
            if isinstance(item, SentenceEnd):
                tail = trimmer.flush()
                if tail.size:
                    yield tail
                pieces[0] -= 1
                if not pieces[0]:
                    pieces.popleft()
                    yield SENTENCE_END
                continue
            audible = trimmer.push(item)
            if audible.size:
                yield audible
    finally:
        reply.cancel()
        await cancel_and_wait(feeder)


async def _feed(
    sentences: AsyncIterator[str],
    fitter: SentenceFitter,
    reply: Reply,
    pieces: deque[int],
    inbox: asyncio.Queue[Delivery],
) -> None:
    """Tokenize each sentence (off the event loop) and queue it in the reply's slot."""
    try:
        async for text in sentences:
            fitted = await asyncio.to_thread(fitter.fit, text)
            pieces.append(len(fitted))
            for sentence in fitted:
                reply.add(sentence)
    except Exception as err:
        inbox.put_nowait(err)
    finally:
        reply.end()
