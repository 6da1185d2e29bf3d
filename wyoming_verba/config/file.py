"""Reading a config file safely: a bounded regular file, UTF-8, YAML; ConfigError otherwise."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

from wyoming_verba.protocol.echo import one_line

MAX_CONFIG_BYTES = 1 << 20  # a config file is a few kB; this bounds what a wrong path can cost


class ConfigError(Exception):
    """The configuration is invalid; the message names the key and what is expected."""


class NotRegularFileError(ValueError):
    """The path is a device, FIFO or directory, not a regular file."""


class FileTooLargeError(ValueError):
    """The file is larger than the bound it was read with."""


def read_bounded(path: Path, limit: int) -> bytes:
    """A regular file of at most `limit` bytes, opened without blocking, so a FIFO or a device is
    refused at once rather than read for ever. OSError (or ValueError for a NUL in the path) when
    it cannot be opened; NotRegularFileError, FileTooLargeError."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(descriptor, "rb") as file:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise NotRegularFileError(f"{path.name} is not a regular file")
        data = file.read(limit + 1)
    if len(data) > limit:
        raise FileTooLargeError(f"{path.name} is larger than {limit // 1024} KiB")
    return data


def read_yaml_file(path: Path) -> Any:
    """The file's YAML data ({} for an empty file)."""
    return _parse_yaml(path, read_config_text(path))


def read_config_text(path: Path) -> str:
    """The file's text: a regular file of at most MAX_CONFIG_BYTES in UTF-8, else ConfigError.

    Opened without blocking and checked before reading, so a FIFO, /dev/zero or a directory is
    refused at once rather than read for ever.
    """
    try:
        data = read_bounded(path, MAX_CONFIG_BYTES)
    except NotRegularFileError as err:
        raise ConfigError(
            f"config file {path}: not a regular file (a device, FIFO or directory); "
            "give the path of a YAML file"
        ) from err
    except FileTooLargeError as err:
        raise ConfigError(
            f"config file {path}: larger than {MAX_CONFIG_BYTES // 1024} KiB; is it the right file?"
        ) from err
    except (OSError, ValueError) as err:
        reason = err.strerror if isinstance(err, OSError) else str(err)
        raise ConfigError(f"config file {one_line(str(path))}: cannot read it ({reason})") from err
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ConfigError(
            f"config file {path}: not UTF-8 text (byte {err.start} on line {line}); "
            "save it as UTF-8"
        ) from err


def _parse_yaml(path: Path, text: str) -> Any:
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "syntax error"
        raise ConfigError(
            f"config file {path}: not valid YAML{where}: {one_line(problem, 120)}"
        ) from err
    except RecursionError as err:
        raise ConfigError(f"config file {path}: nested too deeply to be a config") from err
    except ValueError as err:  # e.g. an integer of thousands of digits
        raise ConfigError(
            f"config file {path}: a value cannot be read ({one_line(str(err), 120)})"
        ) from err
