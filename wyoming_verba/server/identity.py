"""The server's stable id: generated once, kept in server.data_dir.

Home Assistant uses it as the config entry's unique id, so a server added by host name and later
discovered by address stays one entry. It travels in Info (`verba.server_id`) and in the zeroconf
TXT record (`server_id`).
"""

from __future__ import annotations

import logging
import re
import uuid
from pathlib import Path

from wyoming_verba.config import ConfigError

_LOGGER = logging.getLogger(__name__)

ID_FILE = "server_id"
_VALID = re.compile(r"[0-9a-f]{32}")


def load_server_id(data_dir: Path) -> str:
    """The id stored in `data_dir`, created (32 hex digits) on first start."""
    path = data_dir / ID_FILE
    try:
        stored = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        stored = None
    except (OSError, UnicodeDecodeError) as err:
        raise _unusable(path, err) from err
    if stored is not None:
        if _VALID.fullmatch(stored):
            return stored
        _LOGGER.warning(
            "%s does not hold a server id (32 hex digits); writing a new one (Home Assistant "
            "will see a new server: remove the old entry)",
            path,
        )
    server_id = uuid.uuid4().hex
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(server_id + "\n", encoding="ascii")
        temporary.replace(path)
    except OSError as err:
        raise _unusable(path, err) from err
    _LOGGER.info("Created server id %s in %s", server_id, path)
    return server_id


def _unusable(path: Path, err: Exception) -> ConfigError:
    return ConfigError(
        f"server.data_dir: cannot keep the server id in {path} ({err}); the id lets Home "
        "Assistant recognise this server across restarts. Make the directory writable or point "
        "server.data_dir (or VERBA_DATA_DIR) at one that is"
    )
