"""Reading context.verba: accepted forms, bad values named, unknown keys kept for the log."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from wyoming_verba.protocol.fields import BadRequestError
from wyoming_verba.protocol.options import NO_OPTIONS, SpeakOptions, options_field


def read(verba: Any) -> SpeakOptions:
    return options_field({"text": "Hi.", "context": {"verba": verba}})


def test_no_context_or_no_verba_key_means_no_options() -> None:
    assert options_field({"text": "Hi."}) == NO_OPTIONS
    assert options_field({"text": "Hi.", "context": {"conversation_id": "x"}}) == NO_OPTIONS
    assert read({"rate": None, "pitch": ""}) == NO_OPTIONS


@pytest.mark.parametrize(
    ("verba", "expected"),
    [
        ({"rate": "+20%"}, SpeakOptions(rate=20)),
        ({"rate": "-50%", "volume": "100%"}, SpeakOptions(rate=-50, volume=100)),
        ({"rate": 35, "volume": -100}, SpeakOptions(rate=35, volume=-100)),
        ({"pitch": "+5Hz"}, SpeakOptions(pitch="+5Hz")),
        ({"pitch": "-500Hz"}, SpeakOptions(pitch="-500Hz")),
        ({"pitch": "10%"}, SpeakOptions(pitch="+10%")),
        ({"temperature": 0}, SpeakOptions(temperature=0.0)),
        ({"temperature": "0.7"}, SpeakOptions(temperature=0.7)),
    ],
)
def test_accepted_values(verba: dict[str, Any], expected: SpeakOptions) -> None:
    assert read(verba) == expected


@pytest.mark.parametrize(
    ("verba", "named"),
    [
        ({"rate": "+101%"}, "'context.verba.rate' must be a change from -50% to +100%"),
        ({"rate": "-51%"}, "'context.verba.rate'"),
        ({"rate": "fast"}, "like '+20%'"),
        ({"rate": "+20%%"}, "'context.verba.rate'"),
        ({"rate": True}, "'context.verba.rate'"),
        ({"rate": 2.5}, "'context.verba.rate'"),
        ({"volume": "+150%"}, "'context.verba.volume' must be a change from -100% to +100%"),
        ({"volume": ["+1%"]}, "(got a list)"),
        ({"pitch": "+5st"}, "'context.verba.pitch': expected a change in Hz or percent"),
        ({"pitch": 5}, "'context.verba.pitch'"),
        ({"pitch": "+501Hz"}, "from -500Hz to +500Hz"),
        ({"pitch": "-51%"}, "from -50% to +100%"),
        ({"temperature": -0.1}, "'context.verba.temperature' must be a number from 0"),
        ({"temperature": 5.5}, "'context.verba.temperature'"),
        ({"temperature": float("nan")}, "'context.verba.temperature'"),
        ({"temperature": "hot"}, "(got 'hot')"),
        ({"temperature": False}, "'context.verba.temperature'"),
    ],
)
def test_bad_values_name_the_option(verba: dict[str, Any], named: str) -> None:
    with pytest.raises(BadRequestError) as err:
        read(verba)
    assert named in str(err.value)


def test_context_and_verba_must_be_objects() -> None:
    with pytest.raises(BadRequestError, match="'context' must be an object"):
        options_field({"context": ["verba"]})
    with pytest.raises(BadRequestError, match="'context.verba' must be an object"):
        read("+20%")
    with pytest.raises(BadRequestError, match="at most 16"):
        read({f"key{n}": 1 for n in range(17)})


def test_unknown_keys_are_kept_escaped_for_the_log() -> None:
    options = read({"rate": "+10%", "speed\n": 2})
    assert options.rate == 10
    assert options.unknown == ("'speed\\n'",)
    assert options.ignored_by(frozenset({"rate"})) == ("'speed\\n'",)


def test_ignored_and_described() -> None:
    options = SpeakOptions(rate=20, pitch="-10%", temperature=0.5)
    assert options.given == ("rate", "pitch", "temperature")
    assert options.ignored_by(frozenset({"rate", "volume", "pitch"})) == ("temperature",)
    assert options.describe() == "rate=+20%,pitch=-10%,temperature=0.5"
    assert NO_OPTIONS.describe() == ""


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**500), 10**500) | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=5,
)


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(["rate", "volume", "pitch", "temperature"]), value=_json_values)
@example(name="temperature", value=10**400)
def test_any_value_is_an_option_or_an_error_naming_it(name: str, value: Any) -> None:
    message = f"'context.verba.{name}'"
    try:
        read({name: value})
    except BadRequestError as err:
        message = str(err)
    assert f"'context.verba.{name}'" in message
