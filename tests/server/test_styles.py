"""Speaking styles (tts.styles): voices of their own that any client picks by name alone."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from wyoming.client import AsyncClient
from wyoming.info import Describe
from wyoming.tts import Synthesize, SynthesizeVoice

from tests.fakes.fake_edge import FakeEdgeService
from tests.support.process import fake_edge_process, run_cli
from tests.support.serving import ServerFactory, audio_of, merge, read_until, uri_of

SHORT = "Hi there. Lights off."
STYLES = [
    {"name": "guy-fast", "voice": "edge:en-US-GuyNeural", "rate": "+25%", "pitch": "-5Hz"},
    {"name": "slow", "voice": "csm:speaker-0", "rate": "+50%", "volume": "-50%"},
    {"name": "steady", "voice": "csm:speaker-0", "temperature": 0},
]


async def speak(server: Any, text: str, voice: str | None, **options: Any) -> np.ndarray:
    """Synthesize as Home Assistant's built-in integration does: a voice name, nothing else
    (plus context.verba only when options are given)."""
    context = {"verba": options} if options else None
    named = SynthesizeVoice(name=voice) if voice else None
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(Synthesize(text, voice=named, context=context).event())
        events = await read_until(client, "audio-stop")
    assert not [e.data for e in events if e.type == "error"]
    return np.frombuffer(audio_of(events), dtype="<i2")


def request_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "wyoming_verba.request"]


async def test_styles_are_listed_in_info_with_their_base_voice_languages(
    start_server: ServerFactory, csm_config: dict[str, Any]
) -> None:
    config = merge(csm_config, {"tts": {"engines": ["csm", "edge"], "styles": STYLES}})
    server = await start_server(merge(config, {"csm": {"preload": False}}))
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(Describe().event())
        (info,) = await read_until(client, "info")
    voices = {v["name"]: v for v in info.data["tts"][0]["voices"]}
    guy, slow = voices["edge:guy-fast"], voices["csm:slow"]
    assert guy["languages"] == voices["edge:en-US-GuyNeural"]["languages"] == ["en-US"]
    assert "rate=+25%" in guy["description"] and "pitch=-5Hz" in guy["description"]
    assert slow["languages"] == voices["csm:speaker-0"]["languages"]
    assert "volume=-50%" in slow["description"]
    assert "csm:steady" in voices


async def test_an_edge_style_picked_by_name_alone_speaks_with_its_options(
    start_server: ServerFactory, fake_edge: FakeEdgeService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="wyoming_verba.request")
    server = await start_server({"tts": {"styles": STYLES[:1]}})
    await speak(server, "Hi.", "edge:guy-fast")
    await speak(server, "Hi.", "guy-fast", rate="-10%")  # the request's own option wins
    styled, overridden = (r.ssml for r in fake_edge.requests)
    assert "GuyNeural" in styled and "rate='+25%'" in styled and "pitch='-5Hz'" in styled
    assert "rate='-10%'" in overridden and "pitch='-5Hz'" in overridden
    await asyncio.sleep(0.05)
    first, second = request_lines(caplog)
    assert "voice=edge:guy-fast(edge:en-US-GuyNeural)" in first
    assert "options=rate=+25%,pitch=-5Hz" in first and "options=rate=-10%" in second


async def test_csm_styles_change_rate_volume_and_sampling(
    start_server: ServerFactory, csm_config: dict[str, Any]
) -> None:
    config = merge(csm_config, {"tts": {"styles": STYLES[1:]}, "csm": {"anchor_speakers": False}})
    greedy_server = await start_server(config)
    await greedy_server.service.engines["csm"].ready()
    plain = await speak(greedy_server, SHORT, None)
    slow = await speak(greedy_server, SHORT, "csm:slow")  # rate +50%: 2/3 of the samples
    assert abs(slow.size - plain.size * 2 / 3) < 0.01 * plain.size
    assert np.abs(slow).mean() < 0.6 * np.abs(plain).mean()  # volume -50%
    sampling = await start_server(merge(config, {"csm": {"temperature": 0.9}}))
    await sampling.service.engines["csm"].ready()
    assert not np.array_equal(await speak(sampling, SHORT, None), plain)  # it samples
    steady = [await speak(sampling, SHORT, "csm:steady") for _ in range(2)]  # temperature 0
    assert np.array_equal(steady[0], plain) and np.array_equal(steady[1], plain)


@pytest.mark.parametrize(
    ("style", "key", "needle"),
    [
        ({"name": "alice", "voice": "csm:speaker-1"}, "tts.styles.0.name", "csm:alice"),
        ({"name": "calm", "voice": "csm:nobody"}, "tts.styles.0.voice", "nobody"),
        ({"name": "x", "voice": "edge:en-US-NobodyNeural"}, "tts.styles.0.voice", "Nobody"),
        ({"name": "x", "voice": "csm:alice", "rate": "+500%"}, "tts.styles.0.rate", "+100%"),
    ],
)
def test_a_bad_style_stops_the_server_in_one_line(
    tmp_path: Path, tiny_csm_dir: Path, style: dict[str, Any], key: str, needle: str
) -> None:
    with fake_edge_process() as edge_url:
        config = {
            "server": {"uri": "tcp://127.0.0.1:0", "zeroconf": False, "data_dir": str(tmp_path)},
            "tts": {"engines": ["edge", "csm"], "styles": [style]},
            "edge": {"endpoint": edge_url},
            "csm": {"model": str(tiny_csm_dir), "device": "cpu", "preload": False},
        }
        config["csm"]["voices"] = [{"name": "alice", "speaker": 1}]
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(config))
        result = run_cli("--config", str(path), env={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 2, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert key in line and needle in line and "Traceback" not in result.stderr


async def test_an_edge_style_does_not_stop_a_server_that_cannot_read_the_voice_list(
    start_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # Edge unreachable at start and no cached list: only edge.voice is known, nothing to check.
    unreachable = {"endpoint": "http://127.0.0.1:9", "voice_list_timeout_s": 1}
    server = await start_server({"edge": unreachable, "tts": {"styles": STYLES[:1]}})
    async with AsyncClient.from_uri(uri_of(server)) as client:
        await client.write_event(Describe().event())
        (info,) = await read_until(client, "info")
    assert "edge:guy-fast" in {v["name"] for v in info.data["tts"][0]["voices"]}
    assert "tts.styles.0.voice edge:en-US-GuyNeural is not in the edge voice list" in caplog.text
