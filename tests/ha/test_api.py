"""The protocol client, as the integration vendors it, against misbehaving servers on loopback:
nothing waits for 120 s."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import pytest
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.server import AsyncEventHandler, AsyncTcpServer

from custom_components.verba.protocol.client import AudioFormat, CannotConnectError, VerbaClient
from custom_components.verba.protocol.info import NotVerbaServerError

from .helpers import free_port, info_server, tts_info

pytestmark = pytest.mark.usefixtures("socket_enabled")


@contextmanager
def unanswered_port() -> Iterator[int]:
    """A port whose accept queue is full: connecting hangs (the SYN is dropped)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)):
            yield port


@asynccontextmanager
async def silent_server(close_after_s: float | None = None) -> AsyncIterator[int]:
    """Accepts and reads everything, answers nothing (and closes after close_after_s)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(close_after_s):
                while await reader.read(65536):
                    pass
        except TimeoutError:
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def drain(client: VerbaClient, text: AsyncIterator[str] | str) -> None:
    async for _chunk in client.stream(text, None, None, AudioFormat()):
        pass


async def test_connect_times_out() -> None:
    with unanswered_port() as port:
        started = time.monotonic()
        with pytest.raises(CannotConnectError):
            await drain(VerbaClient("127.0.0.1", port, connect_timeout=0.3), "Hello.")
        assert time.monotonic() - started < 2


async def test_failing_text_source_surfaces_at_once() -> None:
    async def llm_reply() -> AsyncGenerator[str]:
        yield "The first sentence. "
        await asyncio.sleep(0.05)
        raise RuntimeError("the language model failed")

    async with silent_server() as port:
        started = time.monotonic()
        with pytest.raises(RuntimeError, match="the language model failed"):
            await drain(VerbaClient("127.0.0.1", port), llm_reply())
        assert time.monotonic() - started < 2
    # The task that sent the text did not outlive the request.
    assert not [t for t in asyncio.all_tasks() if "_send_chunks" in repr(t.get_coro())]


async def test_a_silent_server_times_out_and_a_closed_one_fails_at_once() -> None:
    async def words() -> AsyncGenerator[str]:
        yield "Hello."

    async with silent_server() as port, silent_server(close_after_s=0.1) as closing:
        with pytest.raises(CannotConnectError):
            await drain(VerbaClient("127.0.0.1", port, read_timeout=0.3), words())
        started = time.monotonic()
        with pytest.raises(CannotConnectError, match="closed the connection"):
            await drain(VerbaClient("127.0.0.1", closing), "Hello.")
        assert time.monotonic() - started < 2


async def test_describe_reads_the_server_id_from_real_info_events() -> None:
    async with info_server(tts_info("verba", {"server_id": "ab" * 16, "engines": {}})) as port:
        info = await VerbaClient("127.0.0.1", port).describe()
    assert info.server_id == "ab" * 16
    assert [(v.name, v.engine, v.languages) for v in info.voices] == [
        ("edge:en-US-AriaNeural", "edge", ("en-US",))
    ]
    async with info_server(tts_info("verba")) as port:  # a server from before ids
        assert (await VerbaClient("127.0.0.1", port).describe()).server_id is None


async def test_describe_tells_other_servers_from_absent_ones() -> None:
    async with info_server(tts_info("piper")) as port:
        with pytest.raises(NotVerbaServerError):
            await VerbaClient("127.0.0.1", port).describe()
    with pytest.raises(CannotConnectError):
        await VerbaClient("127.0.0.1", free_port()).describe()


@asynccontextmanager
async def recording_server(seen: list[Event]) -> AsyncIterator[int]:
    """Records what it receives; answers a synthesize (or a stream's stop) with a short reply."""

    class Handler(AsyncEventHandler):
        async def handle_event(self, event: Event) -> bool:
            seen.append(event)
            if event.type in ("synthesize", "synthesize-stop"):
                await self.write_event(AudioStart(24000, 2, 1).event())
                await self.write_event(AudioChunk(24000, 2, 1, b"\0\0" * 10).event())
                await self.write_event(AudioStop().event())
            if event.type == "synthesize-stop":
                await self.write_event(Event(type="synthesize-stopped"))
            return True

    server = AsyncTcpServer("127.0.0.1", 0)
    await server.start(Handler)
    assert server._server is not None
    try:
        yield server._server.sockets[0].getsockname()[1]
    finally:
        await server.stop()


async def test_options_ride_in_context_verba_plain_and_streamed() -> None:
    seen: list[Event] = []

    async def pieces() -> AsyncIterator[str]:
        yield "Hi."

    async with recording_server(seen) as port:
        client = VerbaClient("127.0.0.1", port)
        async for _chunk in client.stream("Hi.", "edge:x", None, AudioFormat(), {"rate": "+20%"}):
            pass
        async for _chunk in client.stream(pieces(), None, None, AudioFormat(), {"pitch": "+1Hz"}):
            pass
        await drain(client, "No options.")
    plain, start, _chunk, _stop, bare = seen
    assert plain.type == "synthesize" and plain.data["text"] == "Hi."
    assert plain.data["voice"]["name"] == "edge:x"
    assert plain.data["context"] == {"verba": {"rate": "+20%"}}
    assert start.type == "synthesize-start" and start.data["context"] == {
        "verba": {"pitch": "+1Hz"}
    }
    assert "context" not in bare.data


async def test_a_speaker_alone_rides_without_a_voice_plain_and_streamed() -> None:
    seen: list[Event] = []

    async def pieces() -> AsyncIterator[str]:
        yield "Hi."

    async with recording_server(seen) as port:
        client = VerbaClient("127.0.0.1", port)
        async for _chunk in client.stream("Hi.", None, "1", AudioFormat()):
            pass
        async for _chunk in client.stream(pieces(), None, 2, AudioFormat()):
            pass
    plain, start = seen[0], seen[1]
    assert plain.type == "synthesize" and plain.data["voice"] == {"speaker": "1"}
    assert start.type == "synthesize-start" and start.data["voice"] == {"speaker": "2"}


async def test_a_speaker_the_server_would_refuse_is_refused_with_its_message() -> None:
    from custom_components.verba.protocol.client import SynthesisFailedError

    seen: list[Event] = []
    async with recording_server(seen) as port:
        with pytest.raises(SynthesisFailedError, match="'voice.speaker' must be a whole number"):
            await anext(VerbaClient("127.0.0.1", port).stream("Hi.", None, "two", AudioFormat()))
    assert seen == []  # nothing was sent
