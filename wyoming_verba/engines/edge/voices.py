"""The Edge voice list: fetched from the service at start, cached on disk for offline starts."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import edge_tts

from wyoming_verba.core.voices import VoiceInfo
from wyoming_verba.engines.edge.errors import describe_service_error

_LOGGER = logging.getLogger(__name__)


def voice_info(entry: dict[str, Any]) -> VoiceInfo | None:
    """One VoiceInfo from a service voice-list entry; None if the entry is unusable."""
    short_name = entry.get("ShortName")
    locale = entry.get("Locale")
    if not isinstance(short_name, str) or not short_name:
        return None
    if not isinstance(locale, str) or not locale:
        locale = "-".join(short_name.split("-")[:2])
    friendly = entry.get("FriendlyName")
    gender = entry.get("Gender")
    description = friendly if isinstance(friendly, str) else short_name
    if isinstance(gender, str) and gender and not isinstance(friendly, str):
        description = f"{short_name} ({gender})"
    return VoiceInfo("edge", short_name, description, (locale,))


def configured_voice_only(short_name: str) -> list[VoiceInfo]:
    """The voice list when neither the service nor a cache is available."""
    info = voice_info({"ShortName": short_name})
    return [info] if info else []


@dataclass(frozen=True)
class VoiceList:
    """The voice list and where it came from."""

    entries: list[dict[str, Any]] | None  # None: neither the service nor a cache had one
    unreachable: str | None = None  # why the service could not be asked; None when it was


async def load_voice_list(cache_file: Path, proxy: str | None, timeout_s: float) -> VoiceList:
    """Fetch the voice list (bounded by timeout_s) and refresh the cache; else read the cache."""
    try:
        fetched = await asyncio.wait_for(edge_tts.list_voices(proxy=proxy), timeout_s)
        entries: list[dict[str, Any]] = [dict(entry) for entry in fetched]
        if not entries:
            raise ValueError("empty voice list")
    except Exception as err:  # any failure means "use the cache"
        cached = await asyncio.to_thread(_read_cache, cache_file)
        return VoiceList(cached, describe_service_error(err))
    await asyncio.to_thread(_write_cache, cache_file, entries)
    return VoiceList(entries)


def _read_cache(cache_file: Path) -> list[dict[str, Any]] | None:
    try:
        entries = json.loads(cache_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        _LOGGER.warning("Ignoring unreadable Edge voice cache %s: %s", cache_file, err)
        return None
    return entries if isinstance(entries, list) else None


def _write_cache(cache_file: Path, entries: list[dict[str, Any]]) -> None:
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = cache_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(entries), encoding="utf-8")
        temporary.replace(cache_file)
    except OSError as err:
        _LOGGER.warning("Could not write the Edge voice cache %s: %s", cache_file, err)
