"""strings.json and translations/en.json agree, and every key the code uses is translated."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import homeassistant

INTEGRATION = Path(__file__).parents[2] / "custom_components" / "verba"
STRINGS = json.loads((INTEGRATION / "strings.json").read_text())
ENGLISH = json.loads((INTEGRATION / "translations" / "en.json").read_text())
COMMON = json.loads((Path(homeassistant.__file__).parent / "strings.json").read_text())["common"]
REFERENCE = re.compile(r"\[%key:common::(.+)%\]")


def resolve(node: Any) -> Any:
    """strings.json with Home Assistant's [%key:common::…%] references filled in."""
    if isinstance(node, dict):
        return {key: resolve(value) for key, value in node.items()}
    match = REFERENCE.fullmatch(node)
    if match is None:
        return node
    value: Any = COMMON
    for part in match.group(1).split("::"):
        value = value[part]
    assert isinstance(value, str), node
    return value


def references_blanked(strings: Any, english: Any) -> Any:
    """strings.json's own text, with en.json's text where strings.json refers to HA's common
    strings: HA rewords those between versions (2026.8: already_in_progress,
    reconfigure_successful), and en.json holds the wording of the version it was made with."""
    if isinstance(strings, dict):
        return {
            key: references_blanked(value, english.get(key, {})) for key, value in strings.items()
        }
    if REFERENCE.fullmatch(strings):
        resolve(strings)  # the reference exists in this HA version
        assert isinstance(english, str) and english, strings
        return english
    return strings


def test_english_translation_is_strings_json_resolved() -> None:
    assert references_blanked(STRINGS, ENGLISH) == ENGLISH


def test_every_key_the_code_raises_or_aborts_with_is_translated() -> None:
    code = "\n".join(path.read_text() for path in INTEGRATION.glob("*.py"))
    exceptions = set(re.findall(r'translation_key="(\w+)"', code))
    assert exceptions and exceptions <= set(STRINGS["exceptions"])
    # _describe's error keys are shown as form errors and as discovery abort reasons.
    described = {"cannot_connect", "not_verba"}
    assert described <= set(STRINGS["config"]["error"])
    reasons = set(re.findall(r'reason="(\w+)"', code)) | described
    reasons |= {"already_configured", "already_in_progress", "reconfigure_successful"}
    assert reasons <= set(STRINGS["config"]["abort"])
    steps = set(re.findall(r'step_id="(\w+)"', code))
    assert steps <= set(STRINGS["config"]["step"]) | set(STRINGS["options"]["step"])
    assert set(STRINGS["options"]["step"]["init"]["menu_options"]) == {
        "backend",
        "languages",
        "speaking",
    }
    assert set(re.findall(r'errors\[\w+\] = "(\w+)"', code)) <= set(STRINGS["options"]["error"])
