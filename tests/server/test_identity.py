"""The server id: created once in server.data_dir, kept across restarts, sent in Describe."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from wyoming.client import AsyncClient
from wyoming.event import Event
from wyoming.info import Describe, Info

from tests.support.process import run_cli
from tests.support.serving import ServerFactory, read_until, uri_of
from wyoming_verba.config import ConfigError
from wyoming_verba.server.identity import ID_FILE, load_server_id


async def describe(uri: str) -> dict[str, Any]:
    async with AsyncClient.from_uri(uri) as client:
        await client.write_event(Describe().event())
        return (await read_until(client, "info"))[-1].data


def test_id_is_created_once_and_kept(tmp_path: Path) -> None:
    data_dir = tmp_path / "not-yet" / "data"
    first = load_server_id(data_dir)
    assert len(first) == 32 and int(first, 16) >= 0
    assert (data_dir / ID_FILE).read_text().strip() == first
    assert load_server_id(data_dir) == first
    assert load_server_id(tmp_path / "another") != first


def test_a_damaged_id_file_is_replaced_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / ID_FILE).write_text("not an id\n")
    with caplog.at_level(logging.WARNING):
        server_id = load_server_id(tmp_path)
    assert len(server_id) == 32
    assert (tmp_path / ID_FILE).read_text().strip() == server_id
    assert "does not hold a server id" in caplog.text


def test_an_unusable_data_dir_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match=r"server\.data_dir: cannot keep the server id in"):
        load_server_id(blocker / "data")


def test_serve_refuses_to_start_without_a_usable_data_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run_cli(
        "--uri", "tcp://127.0.0.1:0", "--no-zeroconf", env={"VERBA_DATA_DIR": str(blocker / "data")}
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: server.data_dir: cannot keep the server id")
    assert "Traceback" not in result.stderr


async def test_describe_carries_the_same_id_across_restarts(
    start_server: ServerFactory, base_config: dict[str, Any]
) -> None:
    server = await start_server()
    data = await describe(uri_of(server))
    stored = (Path(base_config["server"]["data_dir"]) / ID_FILE).read_text().strip()
    assert data["verba"]["server_id"] == stored == server.server_id
    assert set(data["verba"]["engines"]) == {"edge"}
    # Clients that know nothing of the extension still read the Info.
    assert Info.from_event(Event(type="info", data=data)).tts[0].name == "verba"
    await server.stop()
    again = await start_server()
    assert (await describe(uri_of(again)))["verba"]["server_id"] == stored
