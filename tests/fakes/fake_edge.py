"""A local stand-in for Microsoft's Edge read-aloud service, for tests and benchmarks.

Speaks the service's websocket framing and sends real 24 kHz 48 kbit/s MP3 (a tone whose pitch
depends on the voice and whose length depends on the text). Text markers choose failure modes:
STALL (some audio, then silence forever), DROP (some audio, then the connection closes),
ERROR (an unknown message), NOAUDIO (a turn with no audio). Run standalone with
`python -m tests.fakes.fake_edge --port 0`; it prints `READY <port>`.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from xml.sax.saxutils import unescape

import av
import lameenc
import numpy as np
from aiohttp import WSMsgType, web

SAMPLE_RATE = 24000
FRAME_BYTES = 144  # MPEG-2 layer III, 48 kbit/s, 24 kHz
FRAME_SAMPLES = 576
VOICES = [
    {
        "ShortName": "en-US-AriaNeural",
        "Locale": "en-US",
        "Gender": "Female",
        "FriendlyName": "Microsoft Aria Online (Natural) - English (United States)",
    },
    {
        "ShortName": "en-US-GuyNeural",
        "Locale": "en-US",
        "Gender": "Male",
        "FriendlyName": "Microsoft Guy Online (Natural) - English (United States)",
    },
    {
        "ShortName": "en-GB-SoniaNeural",
        "Locale": "en-GB",
        "Gender": "Female",
        "FriendlyName": "Microsoft Sonia Online (Natural) - English (United Kingdom)",
    },
    {
        "ShortName": "de-DE-KatjaNeural",
        "Locale": "de-DE",
        "Gender": "Female",
        "FriendlyName": "Microsoft Katja Online (Natural) - German (Germany)",
    },
]
_PITCH = {
    "en-US-AriaNeural": 440.0,
    "en-US-GuyNeural": 220.0,
    "en-GB-SoniaNeural": 330.0,
    "de-DE-KatjaNeural": 550.0,
}


def voice_pitch(voice: str) -> float:
    """The tone frequency the fake uses for a voice."""
    return _PITCH.get(voice, 600.0)


def encode_mp3(text: str, voice: str, seconds_per_char: float = 0.05) -> bytes:
    """Deterministic MP3 for a text: a tone at the voice's pitch, length from the text."""
    seconds = max(0.3, len(text) * seconds_per_char)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    pcm = (0.3 * np.sin(2 * np.pi * voice_pitch(voice) * t) * 32767).astype(np.int16)
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(48)
    encoder.set_in_sample_rate(SAMPLE_RATE)
    encoder.set_channels(1)
    encoder.set_quality(7)
    return bytes(encoder.encode(pcm.tobytes()) + encoder.flush())


def decoded_samples(mp3: bytes) -> int:
    """How many 24 kHz samples a whole-file decode of `mp3` gives."""
    with av.open(io.BytesIO(mp3)) as container:
        return sum(frame.samples for frame in container.decode(audio=0))


def short_name(voice: str) -> str:
    """'Microsoft Server Speech Text to Speech Voice (en-US, GuyNeural)' → 'en-US-GuyNeural'."""
    match = re.fullmatch(
        r"Microsoft Server Speech Text to Speech Voice \(([^,]+), ([^)]+)\)", voice
    )
    return f"{match.group(1)}-{match.group(2)}" if match else voice


@dataclass
class Request:
    """One synthesis request the fake received."""

    voice: str
    text: str
    ssml: str
    mp3: bytes = b""
    first_frame_sent: float | None = None
    messages_sent: int = 0
    finished: bool = False
    finished_at: float | None = None


@dataclass
class FakeEdgeService:
    """The fake service; `realtime` paces audio one MP3 frame at a time at real-time speed."""

    realtime: bool = False
    frames_per_message: int = 8
    seconds_per_char: float = 0.05
    requests: list[Request] = field(default_factory=list)
    voice_list_available: bool = True
    port: int = 0
    _runner: web.AppRunner | None = None
    _mp3_cache: dict[tuple[str, str], bytes] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> None:
        app = web.Application()
        app.router.add_get("/voices/list", self._voices)
        app.router.add_get("/edge/v1", self._websocket)
        app.router.add_get("/requests", self._requests_json)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def mp3_for(self, text: str, voice: str) -> bytes:
        key = (text, voice)
        if key not in self._mp3_cache:
            self._mp3_cache[key] = encode_mp3(text, voice, self.seconds_per_char)
        return self._mp3_cache[key]

    async def _voices(self, request: web.Request) -> web.Response:
        if not self.voice_list_available:
            return web.Response(status=503)
        return web.json_response(VOICES)

    async def _requests_json(self, request: web.Request) -> web.Response:
        return web.json_response(
            [
                {
                    "voice": r.voice,
                    "text": r.text,
                    "mp3_bytes": len(r.mp3),
                    "finished": r.finished,
                    "samples": decoded_samples(r.mp3) if r.mp3 else 0,
                    "ssml": r.ssml,
                }
                for r in self.requests
            ]
        )

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        answers: list[asyncio.Task[None]] = []
        # Keep reading while answering, like the real service: a client's close frame is
        # answered at once and ends the turn.
        async for message in ws:
            if message.type != WSMsgType.TEXT or "Path:ssml" not in message.data:
                continue
            ssml = message.data.split("\r\n\r\n", 1)[1]
            voice = re.search(r"<voice name='([^']*)'>", ssml)
            body = re.search(r"<prosody[^>]*>(.*)</prosody>", ssml, re.S)
            entry = Request(
                voice=short_name(voice.group(1)) if voice else "",
                text=unescape(body.group(1)) if body else "",
                ssml=ssml,
            )
            self.requests.append(entry)
            answers.append(asyncio.create_task(self._answer(ws, entry, request)))
        for task in answers:
            task.cancel()
        await asyncio.gather(*answers, return_exceptions=True)
        return ws

    async def _answer(self, ws: web.WebSocketResponse, entry: Request, http: web.Request) -> None:
        request_id = uuid.uuid4().hex
        await ws.send_str(_text_message(request_id, "turn.start", '{"context":{}}'))
        await ws.send_str(_text_message(request_id, "response", '{"context":{}}'))
        if "ERROR" in entry.text:
            await ws.send_str(_text_message(request_id, "mystery.path", "{}"))
            return
        if "NOAUDIO" in entry.text:
            await ws.send_str(_text_message(request_id, "turn.end", "{}"))
            return
        mp3 = self.mp3_for(entry.text, entry.voice)
        entry.mp3 = mp3
        step = FRAME_BYTES if self.realtime else FRAME_BYTES * self.frames_per_message
        started = time.perf_counter()
        for index, offset in enumerate(range(0, len(mp3), step)):
            if self.realtime:
                due = started + index * FRAME_SAMPLES / SAMPLE_RATE
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
            if ws.closed or http.transport is None or http.transport.is_closing():
                return  # the client went away
            if entry.first_frame_sent is None:
                entry.first_frame_sent = time.perf_counter()
            await ws.send_bytes(_audio_message(request_id, mp3[offset : offset + step]))
            entry.messages_sent += 1
            if offset > 0 and "STALL" in entry.text:
                await asyncio.sleep(3600)
            if offset > 0 and "DROP" in entry.text:
                await ws.close()
                return
        await ws.send_bytes(_audio_message(request_id, b"", content_type=None))
        boundary = {
            "Type": "SentenceBoundary",
            "Data": {
                "Offset": 1_000_000,
                "Duration": len(mp3) * 8 * 10_000_000 // 48_000,
                "text": {"Text": entry.text, "Length": len(entry.text)},
            },
        }
        await ws.send_str(
            _text_message(request_id, "audio.metadata", json.dumps({"Metadata": [boundary]}))
        )
        await ws.send_str(_text_message(request_id, "turn.end", "{}"))
        entry.finished = True
        entry.finished_at = time.perf_counter()


def _text_message(request_id: str, path: str, body: str) -> str:
    return (
        f"X-RequestId:{request_id}\r\nContent-Type:application/json; charset=utf-8\r\n"
        f"Path:{path}\r\n\r\n{body}"
    )


def _audio_message(request_id: str, data: bytes, content_type: str | None = "audio/mpeg") -> bytes:
    header = f"X-RequestId:{request_id}\r\n"
    if content_type:
        header += f"Content-Type:{content_type}\r\n"
    header += "Path:audio\r\n"
    encoded = header.encode()
    return len(encoded).to_bytes(2, "big") + encoded + data


async def _main(port: int, realtime: bool) -> None:
    service = FakeEdgeService(realtime=realtime)
    await service.start(port)
    print(f"READY {service.port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--realtime", action="store_true")
    args = parser.parse_args()
    asyncio.run(_main(args.port, args.realtime))
