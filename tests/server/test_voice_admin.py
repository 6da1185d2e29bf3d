"""Creating and deleting CSM voices over Wyoming, through the real server with the tiny CSM."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from wyoming.client import AsyncClient
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeVoice

from tests.support.process import run_cli, server_process
from tests.support.raw import RawClient
from tests.support.serving import ServerFactory, audio_of, merge, read_until, uri_of
from wyoming_verba.protocol.clip import MAX_CLIP_BYTES
from wyoming_verba.protocol.voice_events import VoiceCreate, VoiceDelete
from wyoming_verba.server.voice_store import VoiceStore

TRANSCRIPT = "I read stories."


def clip_pcm(seconds: float, rate: int = 24000, pitch: float = 220.0) -> bytes:
    """A 16-bit mono sine clip, as raw PCM."""
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * pitch * t) * 32767).astype("<i2").tobytes()


def write_clip(path: Path, pcm: bytes, rate: int = 24000) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return path


def uploads(csm_config: dict[str, Any], **csm: Any) -> dict[str, Any]:
    extra = {"csm": {"voice_uploads": True, "anchor_speakers": False, **csm}}
    return merge(csm_config, extra)


def styles(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"tts": {"styles": list(entries)}}


async def ready(server: Any) -> Any:
    engine = server.service.engines["csm"]
    await engine.ready()
    return engine


async def ask(uri: str, event: Event, timeout: float = 60) -> Event:
    """Send one event, return the first answer."""
    async with AsyncClient.from_uri(uri) as client:
        await client.write_event(event)
        answer = await asyncio.wait_for(client.read_event(), timeout)
    assert answer is not None
    return answer


def create(name: str, seconds: float = 2.0, **fields: Any) -> Event:
    values: dict[str, Any] = {"transcript": TRANSCRIPT, "rate": 24000, "speaker": 1}
    values.update(fields)
    audio = values.pop("audio", None) or clip_pcm(seconds, values["rate"])
    return VoiceCreate(name=name, audio=audio, **values).event()


async def state_becomes(engine: Any, state: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while engine.status().state != state:
        assert time.monotonic() < deadline, f"still {engine.status()} after {timeout} s"
        await asyncio.sleep(0.05)


async def voice_names(uri: str) -> list[str]:
    info = Info.from_event(await ask(uri, Describe().event()))
    return [voice.name for voice in info.tts[0].voices]


async def speak(uri: str, voice: str) -> bytes:
    async with AsyncClient.from_uri(uri) as client:
        await client.write_event(Synthesize("Good night.", voice=SynthesizeVoice(voice)).event())
        return audio_of(await read_until(client, "audio-stop"))


async def test_a_created_voice_is_listed_speaks_like_a_config_voice_and_survives_a_restart(
    start_server: ServerFactory, csm_config: dict[str, Any], tmp_path: Path, no_tracebacks: Any
) -> None:
    pcm = clip_pcm(2.0)
    same = {
        "name": "configured",
        "speaker": 1,
        "reference_audio": str(write_clip(tmp_path / "same.wav", pcm)),
        "reference_text": TRANSCRIPT,
    }
    config = uploads(csm_config, voices=[same])
    server = await start_server(config)
    await ready(server)
    uri = uri_of(server)
    answer = await ask(uri, create("created", audio=pcm))
    assert (answer.type, answer.data) == ("verba-voice-created", {"name": "created"})
    assert {"csm:created", "csm:configured"} <= set(await voice_names(uri))
    # Greedy decoding: the same clip, transcript and speaker give the very same audio.
    spoken = await speak(uri, "csm:created")
    assert spoken == await speak(uri, "csm:configured")
    assert spoken != await speak(uri, "csm:speaker-0")
    stored = tmp_path / "data" / "voices"
    meta = json.loads((stored / "created" / "profile.json").read_text())
    assert meta == {"transcript": TRANSCRIPT, "speaker": 1}

    again = await start_server(config)  # same server.data_dir: a restart
    await ready(again)
    assert "csm:created" in await voice_names(uri_of(again))
    assert await speak(uri_of(again), "csm:created") == spoken

    deleted = await ask(uri, VoiceDelete("created").event())
    assert (deleted.type, deleted.data) == ("verba-voice-deleted", {"name": "created"})
    assert "csm:created" not in await voice_names(uri)
    assert not (stored / "created").exists() and not list(stored.iterdir())
    later = await start_server(config)
    assert "csm:created" not in await voice_names(uri_of(later))


async def test_a_clip_at_another_rate_in_stereo_is_resampled(
    start_server: ServerFactory, csm_config: dict[str, Any], tmp_path: Path
) -> None:
    server = await start_server(uploads(csm_config))
    await ready(server)
    mono = np.frombuffer(clip_pcm(1.5, 16000), dtype="<i2")
    stereo = np.repeat(mono, 2).astype("<i2").tobytes()
    answer = await ask(uri_of(server), create("stereo", audio=stereo, rate=16000, channels=2))
    assert answer.type == "verba-voice-created", answer.data
    with wave.open(str(tmp_path / "data" / "voices" / "stereo" / "clip.wav")) as wav:
        assert (wav.getframerate(), wav.getnchannels()) == (24000, 1)
        assert abs(wav.getnframes() - 36000) <= 32
    assert len(await speak(uri_of(server), "csm:stereo")) > 0


@pytest.mark.parametrize(
    ("event", "code", "words"),
    [
        (create("short", seconds=0.5), "bad-duration", "0.5 s long; it must be 1-30 s"),
        (create("long", seconds=30.5), "bad-duration", "30.5 s long"),
        (create("quiet", transcript="   "), "empty-transcript", "transcript has no words"),
        # Refused now, as a stored voice would be at the next start (one set of rules).
        (create("dots", transcript=" ... "), "empty-transcript", "transcript has no words"),
        (create("wordy", transcript="word " * 250), "transcript-too-long", "at most 1000"),
        (create("bad/name"), "invalid-name", "is not allowed"),
        (create("speaker-3"), "invalid-name", "speaker-<n>"),
        (create("spk", speaker="loud"), "bad-request", "'speaker' must be a whole number"),
        (create(".x"), "invalid-name", "not starting with '.'"),
        (create(".."), "invalid-name", "not starting with '.'"),
        (create("new\nline"), "invalid-name", "is not allowed"),
        (create("csm:Configured"), "invalid-name", "differs from the voice 'configured' only"),
        (create("configured"), "name-taken", "exists; choose another name"),
        (create("calm"), "name-taken", "exists; choose another name"),  # a tts.styles name
        (create("odd", audio=b"\x00" * 48001), "bad-audio", "whole 1-channel 16-bit frames"),
        (create("wide", width=4), "bad-audio", "16-bit"),
        (create("fast", rate=96000), "bad-audio", "8000-48000 Hz"),
        (VoiceDelete("configured").event(), "not-deletable", "config file"),
        (VoiceDelete("nobody").event(), "unknown-voice", "no created voice 'nobody'"),
    ],
)
async def test_refusals_name_what_is_wrong(
    start_server: ServerFactory,
    csm_config: dict[str, Any],
    tmp_path: Path,
    event: Event,
    code: str,
    words: str,
) -> None:
    clip = write_clip(tmp_path / "c.wav", clip_pcm(1.0))
    voice = {"name": "configured", "reference_audio": str(clip), "reference_text": "Hi."}
    style = {"name": "calm", "voice": "csm:speaker-0", "rate": "-10%"}
    server = await start_server(merge(uploads(csm_config, voices=[voice]), styles(style)))
    await ready(server)
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(event)
        answer = await asyncio.wait_for(client.read_event(), 60)
        assert answer is not None and answer.type == "error"
        assert answer.data["code"] == code and words in answer.data["text"], answer.data
        # The connection stays usable.
        await client.write_event(Describe().event())
        assert (await read_until(client, "info"))[-1].type == "info"
    assert not (tmp_path / "data" / "voices").exists() or not any(
        p for p in (tmp_path / "data" / "voices").iterdir() if not p.name.startswith(".")
    )


async def test_a_clip_too_long_for_the_context_is_refused(
    start_server: ServerFactory, csm_config: dict[str, Any]
) -> None:
    server = await start_server(uploads(csm_config, max_audio_s=150))
    await ready(server)
    answer = await ask(uri_of(server), create("roomy", seconds=10))
    assert answer.data["code"] == "too-long-for-context", answer.data
    assert "csm.max_audio_s = 150" in answer.data["text"]


async def test_uploads_are_off_by_default_and_need_csm(
    start_server: ServerFactory, csm_config: dict[str, Any], base_config: dict[str, Any]
) -> None:
    server = await start_server(csm_config)
    await ready(server)
    answer = await ask(uri_of(server), create("nope"))
    assert answer.data["code"] == "uploads-off"
    assert "csm.voice_uploads: true" in answer.data["text"]
    edge_only = await start_server({"csm": {"voice_uploads": True}})
    answer = await ask(uri_of(edge_only), create("nope"))
    assert answer.data["code"] == "csm-not-running" and "tts.engines" in answer.data["text"]


async def test_max_voices_and_one_creation_at_a_time_while_others_stream_on(
    start_server: ServerFactory, csm_config: dict[str, Any]
) -> None:
    server = await start_server(uploads(csm_config, max_voices=2))
    await ready(server)
    uri = uri_of(server)
    async with AsyncClient.from_uri(uri) as listener, AsyncClient.from_uri(uri) as maker:
        await listener.write_event(
            Synthesize("A longer sentence that keeps the model busy for a while.").event()
        )
        await maker.write_event(create("first", seconds=30))
        while not server.voice_admin.creating:  # noqa: ASYNC110 (the server exposes no event)
            await asyncio.sleep(0.001)
        busy = await ask(uri, create("second"))
        assert busy.data["code"] == "busy", busy.data
        assert (await maker.read_event()).type == "verba-voice-created"  # type: ignore[union-attr]
        # Many creations in a row from one client: the ones over csm.max_voices are refused.
        answers = []
        for index in range(2, 5):
            await maker.write_event(create(f"more{index}"))
            answers.append(await asyncio.wait_for(maker.read_event(), 60))
        codes = [a.data.get("code", a.type) for a in answers if a is not None]
        assert codes == ["verba-voice-created", "too-many-voices", "too-many-voices"]
        events = await read_until(listener, "audio-stop")
    assert len(audio_of(events)) > 24000 * 2  # the other client's audio streamed on, whole


async def test_a_huge_upload_is_refused_and_other_clients_stream_on(
    start_server: ServerFactory, csm_config: dict[str, Any]
) -> None:
    server = await start_server(uploads(csm_config))
    await ready(server)
    uri = uri_of(server)
    raw = await RawClient.connect(server.port)
    header = {"type": "verba-voice-create", "payload_length": MAX_CLIP_BYTES + 1}
    async with AsyncClient.from_uri(uri) as listener:
        await listener.write_event(Synthesize("Still speaking.").event())
        await raw.send(json.dumps(header).encode() + b"\n")
        refusal = await raw.read_event()
        assert refusal is not None and refusal.type == "error"
        assert f"larger than this server accepts ({MAX_CLIP_BYTES} bytes)" in refusal.data["text"]
        assert await raw.read_event() is None  # then the connection is closed
        events = await read_until(listener, "audio-stop")
    assert len(audio_of(events)) > 0
    # The upload bound is for voice clips only: any other event keeps server.max_event_bytes.
    raw = await RawClient.connect(server.port)
    await raw.send(json.dumps({"type": "synthesize", "payload_length": 2_000_000}).encode() + b"\n")
    refusal = await raw.read_event()
    assert refusal is not None and "(1048576 bytes)" in refusal.data["text"]


def test_cli_voice_add_and_delete(tiny_csm_dir: Path, tmp_path: Path) -> None:
    config = {
        "server": {"uri": "tcp://127.0.0.1:0", "zeroconf": False, "data_dir": str(tmp_path)},
        "tts": {"backend": "csm", "engines": ["csm"], "fallback": "none"},
        "csm": {
            "model": str(tiny_csm_dir),
            "device": "cpu",
            "voice_uploads": True,
            "anchor_speakers": False,
        },
    }
    clip = write_clip(tmp_path / "phone.wav", clip_pcm(2.0, 16000), rate=16000)
    with server_process(tmp_path, config, ["--no-zeroconf"]) as (_process, port, _log):
        uri = ["--uri", f"tcp://127.0.0.1:{port}"]
        for _ in range(120):  # the model loads in the background
            if "csm ready" in run_cli("health", *uri).stdout:
                break
        added = run_cli("voice", "add", *uri, "--speaker", "1", "grandpa", str(clip), TRANSCRIPT)
        assert (added.returncode, added.stdout) == (0, "created voice csm:grandpa\n"), added
        assert "csm:grandpa" in run_cli("voices", *uri).stdout
        again = run_cli("voice", "add", *uri, "grandpa", str(clip), TRANSCRIPT)
        assert again.returncode == 1
        assert "error: voice add grandpa: a voice named 'grandpa' exists" in again.stderr
        missing = run_cli("voice", "add", *uri, "x", str(tmp_path / "none.mp3"), "Hi.")
        assert missing.returncode == 1 and "cannot read the clip" in missing.stderr
        deleted = run_cli("voice", "delete", *uri, "grandpa")
        assert (deleted.returncode, deleted.stdout) == (0, "deleted voice csm:grandpa\n")
        assert "csm:grandpa" not in run_cli("voices", *uri).stdout


async def test_creating_while_a_reply_speaks_leaves_that_reply_untouched(
    start_server: ServerFactory, csm_config: dict[str, Any]
) -> None:
    server = await start_server(uploads(csm_config))
    engine = await ready(server)
    uri = uri_of(server)
    text = "A longer sentence that keeps the model busy. And then a second one follows it."
    async with AsyncClient.from_uri(uri) as alone:
        await alone.write_event(Synthesize(text).event())
        undisturbed = audio_of(await read_until(alone, "audio-stop"))
    async with AsyncClient.from_uri(uri) as listener, AsyncClient.from_uri(uri) as maker:
        await listener.write_event(Synthesize(text).event())
        events = await read_until(listener, "audio-chunk")
        await maker.write_event(create("meanwhile", seconds=30))
        assert (await asyncio.wait_for(maker.read_event(), 60)).type == "verba-voice-created"  # type: ignore[union-attr]
        steps_at_created = engine.generation_stats()["steps"]
        events += await read_until(listener, "audio-stop")
    # The voice was built while the reply was generating (continuity keeps its context in its
    # slot), and greedy decoding gives that reply the very same audio as when it ran alone.
    assert steps_at_created < engine.generation_stats()["steps"]
    assert audio_of(events) == undisturbed


@pytest.mark.parametrize(
    ("csm", "message"),
    [
        ({"voice_uploads": "yes"}, "config key csm.voice_uploads: expected bool"),
        ({"max_voices": 0}, "config key csm.max_voices: value must be at least 1"),
    ],
)
def test_voice_upload_keys_are_validated(csm: dict[str, Any], message: str) -> None:
    from wyoming_verba.config import ConfigError, parse_config

    with pytest.raises(ConfigError) as err:
        parse_config({"csm": csm}, environ={})
    assert str(err.value).startswith(message), err.value
    defaults = parse_config({}, environ={}).csm
    assert (defaults.voice_uploads, defaults.max_voices) == (False, 20)


async def test_stored_folder_names_follow_the_creation_rule(
    start_server: ServerFactory, csm_config: dict[str, Any], tmp_path: Path, caplog: Any
) -> None:
    voices = tmp_path / "data" / "voices"
    store = VoiceStore(tmp_path / "data")
    for name in ["Narrator", "narrator", "hidden", "escape", "newline", "builtin", "real"]:
        store.save(name, np.frombuffer(clip_pcm(1.5), "<i2"), TRANSCRIPT, 1)
    renames = [("hidden", ".hidden"), ("escape", "a\x1bb"), ("newline", "a\nb")]
    for old, new in [*renames, ("builtin", "speaker-0")]:
        (voices / old).rename(voices / new)
    (voices / "linked").symlink_to(voices / "real")
    server = await start_server(uploads(csm_config))
    await ready(server)
    names = await voice_names(uri_of(server))
    assert names.count("csm:speaker-0") == 1
    assert {"csm:Narrator", "csm:real", "csm:linked"} <= set(names)
    assert not {"csm:narrator", "csm:.hidden", "csm:a\x1bb", "csm:a\nb"} & set(names)
    skipped = [r.getMessage() for r in caplog.records if "Skipping the stored" in r.getMessage()]
    assert len(skipped) == 5, skipped
    assert not any("\x1b" in line or "\n" in line for line in skipped)
    deleted = await ask(uri_of(server), VoiceDelete("linked").event())
    assert deleted.type == "verba-voice-deleted", deleted.data
    assert sorted(p.name for p in voices.iterdir() if p.name.startswith(".")) == [".hidden"]
    assert (voices / "real" / "clip.wav").is_file()


async def test_create_loads_an_idle_or_unloaded_csm_and_delete_needs_no_model(
    start_server: ServerFactory, csm_config: dict[str, Any], tmp_path: Path
) -> None:
    lazy = uploads(csm_config, preload=False, unload_after_s=0.5)
    server = await start_server(lazy)
    engine = server.service.engines["csm"]
    uri = uri_of(server)
    assert engine.status().state == "idle"
    answer = await ask(uri, create("first"))
    assert answer.type == "verba-voice-created", answer.data
    await state_becomes(engine, "unloaded")
    deleted = await ask(uri, VoiceDelete("first").event())
    assert deleted.type == "verba-voice-deleted", deleted.data
    assert engine.status().state == "unloaded"  # deleting touched the disk only
    assert not (tmp_path / "data" / "voices" / "first").exists()
    again = await ask(uri, create("second"))
    assert again.type == "verba-voice-created", again.data
    assert "csm:second" in await voice_names(uri) and "csm:first" not in await voice_names(uri)
    assert len(await speak(uri, "csm:second")) > 0


async def test_a_stored_voice_that_failed_at_load_is_reported_deletable_and_not_counted(
    start_server: ServerFactory, csm_config: dict[str, Any], tmp_path: Path
) -> None:
    store = VoiceStore(tmp_path / "data")
    store.save("short", np.frombuffer(clip_pcm(0.5), "<i2"), TRANSCRIPT, 1)  # fails CSM's rule
    store.save("broken", np.frombuffer(clip_pcm(1.5), "<i2"), TRANSCRIPT, 1)
    (tmp_path / "data" / "voices" / "broken" / "profile.json").write_text("[" * 5000)
    server = await start_server(uploads(csm_config, max_voices=2))
    engine = await ready(server)
    uri = uri_of(server)
    detail = engine.status().detail
    assert "created voice 'short' failed at load" in detail
    assert "created voice 'broken' failed at load" in detail
    assert "delete it and create it again" in detail
    # Neither counts toward csm.max_voices: two new voices fit.
    assert (await ask(uri, create("fresh"))).type == "verba-voice-created"
    replaced = await ask(uri, create("short", seconds=1.5))  # "create it again" works
    assert replaced.type == "verba-voice-created", replaced.data
    deleted = await ask(uri, VoiceDelete("broken").event())
    assert deleted.type == "verba-voice-deleted", deleted.data
    assert engine.status().detail == ""
    assert {"csm:fresh", "csm:short"} <= set(await voice_names(uri))
    assert sorted(p.name for p in (tmp_path / "data" / "voices").iterdir()) == ["fresh", "short"]


BUSY_TEXT = "A longer sentence that keeps the model busy. And then a second one follows it."


async def test_a_creating_connection_is_not_evicted_as_idle(
    start_server: ServerFactory, csm_config: dict[str, Any]
) -> None:
    config = merge(uploads(csm_config, max_batch=1), {"server": {"max_connections": 2}})
    server = await start_server(config)
    await ready(server)
    uri = uri_of(server)
    async with AsyncClient.from_uri(uri) as listener, AsyncClient.from_uri(uri) as maker:
        await listener.write_event(Synthesize(BUSY_TEXT).event())
        await read_until(listener, "audio-chunk")
        await maker.write_event(create("patient", seconds=30))  # waits for the one slot
        while not server.voice_admin.creating:  # noqa: ASYNC110 (the server exposes no event)
            await asyncio.sleep(0.001)
        refused = await (await RawClient.connect(server.port)).read_to_close()
        assert [(e.type, e.data["code"]) for e in refused] == [("error", "busy")]
        made = await asyncio.wait_for(maker.read_event(), 60)
        assert made is not None and made.type == "verba-voice-created", made
        await read_until(listener, "audio-stop")


def test_a_shutdown_ends_a_creation_in_progress_with_an_error(
    tmp_path: Path, tiny_csm_dir: Path
) -> None:
    config = {
        "server": {
            "uri": "tcp://127.0.0.1:0",
            "zeroconf": {"enabled": False},
            "data_dir": str(tmp_path / "data"),
            "shutdown_grace_s": 0,
        },
        "tts": {"backend": "csm", "fallback": "none", "engines": ["csm"]},
        "csm": {
            "model": str(tiny_csm_dir),
            "device": "cpu",
            "temperature": 0,
            "max_audio_s": 8,
            "max_batch": 1,
            "voice_uploads": True,
            "anchor_speakers": False,
        },
    }
    with server_process(tmp_path, config, env={"HF_HUB_OFFLINE": "1"}) as (process, port, _):

        async def run() -> list[Event | None]:
            uri = f"tcp://127.0.0.1:{port}"
            await wait_ready(uri)
            async with AsyncClient.from_uri(uri) as listener, AsyncClient.from_uri(uri) as maker:
                await listener.write_event(Synthesize(BUSY_TEXT).event())
                await read_until(listener, "audio-chunk")
                await maker.write_event(create("cut", seconds=30))
                await asyncio.sleep(0.3)  # the creation waits for the listener's slot
                process.send_signal(signal.SIGTERM)
                return [await asyncio.wait_for(maker.read_event(), 15) for _ in range(2)]

        answers = asyncio.run(run())
        assert process.wait(15) == 0
    error = answers[0]
    assert error is not None and error.type == "error", answers
    assert error.data["code"] == "shutting-down" and answers[1] is None
    assert not (tmp_path / "data" / "voices" / "cut").exists()


async def wait_ready(uri: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        info = await ask(uri, Describe().event())
        if info.data["verba"]["engines"]["csm"]["state"] == "ready":
            return
        assert time.monotonic() < deadline, info.data["verba"]["engines"]
        await asyncio.sleep(0.1)
