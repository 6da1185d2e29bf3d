"""`wyoming-verba voice add`: clips that are not regular audio files are refused at once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.process import run_cli


@pytest.mark.parametrize(
    ("make", "words"),
    [
        ("fifo", "is a FIFO (named pipe); give the path of an audio file"),
        ("folder", "is a folder; give the path of an audio file in it"),
        ("device", "/dev/zero is not a regular file; give the path of an audio file"),
    ],
)
def test_voice_add_refuses_what_is_not_an_audio_file_without_reading_it(
    tmp_path: Path, make: str, words: str
) -> None:
    clip = {"fifo": tmp_path / "clip.wav", "folder": tmp_path, "device": Path("/dev/zero")}[make]
    if make == "fifo":
        os.mkfifo(clip)  # nothing writes to it: reading it used to hang the command
    # Nothing listens on port 9: any attempt to upload would be "cannot talk to".
    result = run_cli("voice", "add", "--uri", "tcp://127.0.0.1:9", "x", str(clip), "Hi.")
    assert result.returncode == 1
    assert result.stderr.startswith("error: voice add x: "), result.stderr
    assert words in result.stderr, result.stderr
