"""Created CSM voices on disk: `<server.data_dir>/voices/<name>/` holds clip.wav + profile.json.

Clips are kept at the protocol's CLIP_RATE (CSM's rate: no resampling when one is loaded).

A voice is written into a hidden temporary folder and renamed into place, and deleted by renaming
it away first, so a crash never leaves half a voice that the next start would load.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import logging
import shutil
import uuid
import wave
from pathlib import Path

from wyoming_verba.config import CsmVoiceProfile
from wyoming_verba.config.file import read_bounded
from wyoming_verba.core.audio import Pcm
from wyoming_verba.protocol.clip import CLIP_RATE
from wyoming_verba.protocol.echo import one_line
from wyoming_verba.protocol.voice_events import case_twin, name_problem

_LOGGER = logging.getLogger(__name__)

CLIP_FILE = "clip.wav"
PROFILE_FILE = "profile.json"
MAX_PROFILE_BYTES = 64 * 1024  # a transcript and a speaker id; a bound on what a wrong file costs
MAX_CLIP_FILE_BYTES = 4 * 1024 * 1024  # 30 s at 24 kHz 16-bit mono is 1.44 MB, plus a header


class VoiceStoreError(Exception):
    """A voice could not be written or removed; the message names the path and the cause."""


def _check_clip(path: Path) -> None:
    """A stored clip must be what save() writes: a bad one must not stop CSM from loading."""
    if not path.is_file():
        raise ValueError(f"{CLIP_FILE} is missing")
    with wave.open(io.BytesIO(read_bounded(path, MAX_CLIP_FILE_BYTES)), "rb") as wav:
        shape = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth())
        if shape != (CLIP_RATE, 1, 2) or wav.getnframes() == 0:
            raise ValueError(f"{CLIP_FILE} is not 24 kHz 16-bit mono audio")


def _read_meta(path: Path) -> tuple[str, int]:
    meta = json.loads(read_bounded(path, MAX_PROFILE_BYTES).decode("utf-8"))
    if not isinstance(meta, dict):
        raise ValueError(f"{PROFILE_FILE} must hold an object")
    transcript, speaker = meta.get("transcript"), meta.get("speaker")
    if not isinstance(transcript, str) or not transcript:
        raise ValueError("'transcript' must be a non-empty string")
    if isinstance(speaker, bool) or not isinstance(speaker, int) or not 0 <= speaker < 2**31:
        raise ValueError("'speaker' must be a whole number")
    return transcript, speaker


def _name_problem(name: str, loaded: list[str]) -> str | None:
    twin = case_twin(name, loaded)
    if twin is not None:
        return f"its name differs from the stored voice {twin!r} only in case"
    return name_problem(name)


def _skip(folder: Path, problem: str) -> None:
    _LOGGER.error(
        "Skipping the stored CSM voice in %s: %s; remove that folder and create the voice again",
        one_line(str(folder)),
        problem,
    )


def _remove(path: Path) -> None:
    """Remove a folder, or a link to one (the link only), ignoring errors."""
    if path.is_symlink() or not path.is_dir():
        with contextlib.suppress(OSError):
            path.unlink()
    else:
        shutil.rmtree(path, ignore_errors=True)


def _what_to_do(err: OSError) -> str:
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return "free some space on the disk that holds server.data_dir"
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "make server.data_dir writable"
    return "check that server.data_dir is a writable folder"


class VoiceStore:
    """The created voices under one folder."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "voices"
        self.unreadable: dict[str, str] = {}  # at the last load(): validly named voices, why

    def load(self) -> list[CsmVoiceProfile]:
        """Every stored voice, by name; unreadable ones are skipped with an error, and what a
        save or delete cut short left behind is removed."""
        if not self.root.is_dir():
            return []
        profiles: list[CsmVoiceProfile] = []
        self.unreadable = {}
        try:
            folders = sorted(self.root.iterdir())
        except OSError as err:
            _LOGGER.error(
                "Cannot read the stored CSM voices in %s (%s); make server.data_dir readable",
                self.root,
                err.strerror or err,
            )
            return []
        for folder in folders:
            if folder.name.startswith((".new-", ".old-")):
                _remove(folder)
                continue
            if not folder.is_dir():
                continue
            problem = _name_problem(folder.name, [p.name for p in profiles])
            if problem is not None:
                _skip(folder, problem)
                continue
            profile = self._read(folder)
            if profile is not None:
                profiles.append(profile)
        return profiles

    def _read(self, folder: Path) -> CsmVoiceProfile | None:
        try:
            transcript, speaker = _read_meta(folder / PROFILE_FILE)
            _check_clip(folder / CLIP_FILE)
        except Exception as err:  # any damage to one voice must not stop the start
            reason = err.strerror if isinstance(err, OSError) and err.strerror else err
            why = f"{type(err).__name__}: {one_line(str(reason))[:200]}"
            self.unreadable[folder.name] = why
            _skip(folder, why)
            return None
        return CsmVoiceProfile(folder.name, speaker, folder / CLIP_FILE, transcript)

    def count(self) -> int:
        """How many voices are stored (readable or not: each takes a place)."""
        if not self.root.is_dir():
            return 0
        return sum(1 for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def names(self) -> list[str]:
        """The names of the stored voice folders (readable or not)."""
        if not self.root.is_dir():
            return []
        return [p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")]

    def has(self, name: str) -> bool:
        """Whether a voice of that name is stored."""
        return (self.root / name).is_dir()

    def save(self, name: str, clip: Pcm, transcript: str, speaker: int) -> CsmVoiceProfile:
        """Write a voice (clip: 24 kHz mono 16-bit); VoiceStoreError when that fails."""
        assert name_problem(name) is None, name
        temporary = self.root / f".new-{name}-{uuid.uuid4().hex[:8]}"
        target = self.root / name
        try:
            temporary.mkdir(parents=True)
            with wave.open(str(temporary / CLIP_FILE), "wb") as wav:
                wav.setnchannels(1)
                wav.setsampwidth(2)
                wav.setframerate(CLIP_RATE)
                wav.writeframes(clip.astype("<i2").tobytes())
            meta = {"transcript": transcript, "speaker": speaker}
            (temporary / PROFILE_FILE).write_text(
                json.dumps(meta, ensure_ascii=False), encoding="utf-8"
            )
            temporary.rename(target)  # atomic; fails if the name was taken meanwhile
        except OSError as err:
            shutil.rmtree(temporary, ignore_errors=True)
            raise VoiceStoreError(
                f"cannot store voice {name!r} in {self.root} ({err.strerror or err}); "
                f"{_what_to_do(err)}"
            ) from err
        return CsmVoiceProfile(name, speaker, target / CLIP_FILE, transcript)

    def delete(self, name: str) -> None:
        """Remove a stored voice; VoiceStoreError when that fails."""
        doomed = self.root / f".old-{name}-{uuid.uuid4().hex[:8]}"
        try:
            (self.root / name).rename(doomed)
        except OSError as err:
            raise VoiceStoreError(
                f"cannot remove voice {name!r} from {self.root} ({err.strerror or err})"
            ) from err
        _remove(doomed)
