"""Speech-ready text: LLM markdown read as a listener expects, the same however it is chunked."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wyoming_verba.core.cleaning import DEFAULT_RULES, CleanRules, SpeechCleaner, clean_text
from wyoming_verba.core.text import split_sentences

# (what an LLM wrote, what is spoken)
CASES = {
    "link": (
        "Here is [the forecast](https://weather.example.com/berlin?day=2) for tomorrow.",
        "Here is the forecast for tomorrow.",
    ),
    "bare url": (
        "Details are on https://www.dwd.de/DE/wetter/vorhersage.html. Stay dry!",
        "Details are on dwd.de. Stay dry!",
    ),
    "url with port and user": (
        "Open http://admin@homeassistant.local:8123/config/areas, then Areas.",
        "Open homeassistant.local, then Areas.",
    ),
    "fenced code": (
        "Add this to configuration.yaml:\n\n```yaml\nlight:\n  - platform: hue\n```\n\nThen restart.",
        "Add this to configuration.yaml:\n\n\nThen restart.",
    ),
    "inline code": (
        "Call `light.turn_on` or run `ha_restart()` now.",
        "Call light.turn on or run ha restart now.",
    ),
    "html": (
        "The lights are <b>off</b>.<br>The door is <em>locked</em>.",
        "The lights are off. The door is locked.",
    ),
    "emoji": (
        "Sunny all day ☀️! Enjoy 👍🏽 the family 👨‍👩‍👧 trip to 🇩🇪 at 1️⃣ pm.",
        "Sunny all day ! Enjoy  the family  trip to  at 1 pm.",
    ),
    "table": (
        "| Day | High | Low |\n|-----|:----:|----:|\n| Mon | 21 °C | 12 °C |\n| Tue | 23 °C | 14 °C |\n",
        "Day, High, Low.\n\nMon, 21 °C, 12 °C.\n\nTue, 23 °C, 14 °C.\n\n",
    ),
    "table with links and emoji": (
        "| Sensor | State |\n|---|---|\n| [Kitchen](https://x.y/k) 🌡️ | `21.5` °C |",
        "Sensor, State.\n\nKitchen, 21.5 °C.",
    ),
    "prose with numbers": (
        "Dr. Smith paid $3.50 at 5 p.m. on 2024-05-01, i.e. 10% less (x < 3, y > 2) — 1/2 off!",
        "Dr. Smith paid $3.50 at 5 p.m. on 2024-05-01, i.e. 10% less (x < 3, y > 2) — 1/2 off!",
    ),
    "markdown the splitter handles": (
        "# Today\n1. **Weather**: sunny.\n- Lights: [off](http://x.y).\n[citation needed] © 2024™",
        "# Today\n1. **Weather**: sunny.\n- Lights: off.\n[citation needed] © 2024™",
    ),
}
LLM_REPLY = "\n".join(text for text, _ in CASES.values())


def streamed(
    text: str, rng: random.Random, longest: int = 12, rules: CleanRules = DEFAULT_RULES
) -> str:
    cleaner = SpeechCleaner(rules)
    out, start = [], 0
    while start < len(text):
        size = rng.randint(1, longest)
        out.append(cleaner.feed(text[start : start + size]))
        start += size
    return "".join(out) + cleaner.flush()


@pytest.mark.parametrize(("text", "spoken"), CASES.values(), ids=CASES.keys())
def test_llm_text_is_read_as_a_listener_expects(text: str, spoken: str) -> None:
    assert clean_text(text) == spoken


@pytest.mark.parametrize("seed", range(40))
def test_random_chunkings_of_a_whole_llm_reply_give_the_whole_text_result(seed: int) -> None:
    rng = random.Random(seed)
    assert streamed(LLM_REPLY, rng, longest=rng.choice([1, 3, 12, 80])) == clean_text(LLM_REPLY)


def test_a_code_phrase_and_kept_emoji_when_configured() -> None:
    rules = CleanRules(code_phrase="Code omitted.", keep_emoji=True)
    text = CASES["fenced code"][0] + " Done 👍🏽!"
    spoken = "Add this to configuration.yaml:\n\n\n\nCode omitted.\n\n\nThen restart. Done 👍🏽!"
    assert clean_text(text, rules) == spoken
    for seed in range(20):
        assert streamed(text, random.Random(seed), 5, rules) == spoken


def test_sentences_of_a_cleaned_reply() -> None:
    sentences = split_sentences(clean_text(CASES["link"][0] + " " + CASES["bare url"][0]))
    assert sentences == [
        "Here is the forecast for tomorrow.",
        "Details are on dwd.de.",
        "Stay dry!",
    ]


def test_undecided_text_is_held_only_as_long_as_needed() -> None:
    cleaner = SpeechCleaner()
    assert cleaner.feed("See https://example.com/a") == "See "  # the URL may go on
    assert cleaner.feed("/b and more") == "example.com and more"
    assert cleaner.feed(" [the docs") == " "
    assert cleaner.feed("](x) end") == "the docs end"
    assert cleaner.flush() == ""


_PIECES = st.sampled_from(
    ["[", "](", ")", "`", "``", "```", "~~~", "<", "<b>", "</p>", ">", "|", " | ", "\n", "http",
     "s://", "www.", "ex.com", "/p", ".", " ", "a", "_", "👍", "\u200d", "\ufe0f", "🏽", "1",
     "\u20e3", "!", "# ", "x"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=40), st.randoms(use_true_random=False))
def test_any_text_gives_the_same_result_however_chunked(
    pieces: list[str], rng: random.Random
) -> None:
    text = "".join(pieces)
    assert streamed(text, rng, longest=rng.choice([1, 2, 5])) == clean_text(text)
