"""Sentence splitting, whole and streamed: English, German, Chinese, Japanese, markdown."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wyoming_verba.core.text import SentenceSplitter, split_sentences

CASES = {
    "english": (
        'Hello there. Dr. Smith paid 3.50 dollars! Is it "done?" Yes.\n\nNew paragraph',
        ["Hello there.", "Dr. Smith paid 3.50 dollars!", 'Is it "done?"', "Yes.", "New paragraph"],
    ),
    "english abbreviations": (
        "Meet me at 5 p.m. yesterday. The U.S. economy grew by 2.5 percent. OK?",
        ["Meet me at 5 p.m. yesterday.", "The U.S. economy grew by 2.5 percent.", "OK?"],
    ),
    "german": (
        "Guten Tag! Das Wetter ist schön, etwa 21,5 Grad. Dr. Müller kommt morgen früh. Bis dann?",
        [
            "Guten Tag!",
            "Das Wetter ist schön, etwa 21,5 Grad.",
            "Dr. Müller kommt morgen früh.",
            "Bis dann?",
        ],
    ),
    "chinese": (
        "今天天气很好。我们去公园吧！你觉得呢？好的",
        ["今天天气很好。", "我们去公园吧！", "你觉得呢？", "好的"],
    ),
    "japanese": (
        "今日は晴れです。「公園に行きましょう！」どう思いますか？はい",
        ["今日は晴れです。", "「公園に行きましょう！」", "どう思いますか？", "はい"],
    ),
    "markdown list": (
        "Here is what I found:\n1. **Weather**: sunny. Warm too.\n2. Lights: off.\n\nAnything else?",
        [
            "Here is what I found:",
            "1. Weather: sunny.",
            "Warm too.",
            "2. Lights: off.",
            "Anything else?",
        ],
    ),
    "markdown bullets and headings": (
        "## Today\n- Rain in the morning\n* Sun later\n  + nested *note*\nThat is all. Bye",
        ["Today", "Rain in the morning", "Sun later", "nested note", "That is all.", "Bye"],
    ),
}


def streamed(text: str, sizes: list[int]) -> list[str]:
    """Feed text in chunks of the given sizes (cycled), then flush."""
    splitter = SentenceSplitter()
    sentences: list[str] = []
    position, index = 0, 0
    while position < len(text):
        size = sizes[index % len(sizes)]
        sentences.extend(splitter.feed(text[position : position + size]))
        position, index = position + size, index + 1
    return sentences + splitter.flush()


@pytest.mark.parametrize("name", CASES)
def test_whole_text(name: str) -> None:
    text, expected = CASES[name]
    assert split_sentences(text) == expected


@pytest.mark.parametrize("name", CASES)
def test_streamed_text_gives_the_same_sentences(name: str) -> None:
    text, expected = CASES[name]
    assert streamed(text, [1]) == expected
    chunkings = random.Random(name)
    for _ in range(10):
        assert streamed(text, [chunkings.randint(1, 9) for _ in range(20)]) == expected


def test_a_sentence_is_emitted_once_the_next_one_starts() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("The lights are off") == []
    assert splitter.feed(". ") == []
    assert splitter.feed("T") == ["The lights are off."]
    assert splitter.feed("he door is locked.") == []
    assert splitter.flush() == ["The door is locked."]


def test_a_list_number_waits_for_its_text() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("Steps:\n1") == []
    assert splitter.feed("2. Open the app") == ["Steps:"]
    assert splitter.feed(".\n") == ["12. Open the app."]
    assert splitter.feed("13") == []
    assert splitter.flush() == ["13"]


@pytest.mark.parametrize("sentence", [", ".join(["word " * 10] * 10), "、".join(["天气很好"] * 40)])
def test_long_sentences_are_cut_at_commas_then_spaces(sentence: str) -> None:
    pieces = split_sentences(sentence, max_chars=120)
    assert len(pieces) > 1
    assert all(len(piece) <= 120 for piece in pieces)
    assert "".join("".join(pieces).split()) == "".join(sentence.split())


@pytest.mark.parametrize("text", ["word " * 60, "长" * 160])
def test_unbounded_stream_without_punctuation_still_yields(text: str) -> None:
    splitter = SentenceSplitter(max_chars=50)
    out = splitter.feed(text)
    assert out and all(len(piece) <= 50 for piece in out)
    rest = splitter.flush()
    assert "".join("".join(out + rest).split()) == "".join(text.split())


def test_empty_and_whitespace() -> None:
    assert split_sentences("") == []
    assert split_sentences("  \n\t ") == []
    assert split_sentences("-\n\n#") == ["-", "#"]


_PIECES = st.sampled_from(
    [
        "Hello",
        "there",
        "Dr.",
        "U.S.",
        "A.",
        "5 p.m.",
        "3.50",
        "ok",
        "天气",
        "。",
        "！",
        "?",
        "!",
        ".",
        ",",
        " ",
        "  ",
        "\n",
        "\n\n",
        "- ",
        "1. ",
        "## ",
        "**",
        "»",
        '"',
        "、",
    ]
)


@settings(max_examples=150, deadline=None, database=None, derandomize=True)
@given(
    text=st.lists(_PIECES, max_size=120).map("".join),
    sizes=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=8),
)
def test_property_streamed_equals_whole(text: str, sizes: list[int]) -> None:
    assert streamed(text, sizes) == split_sentences(text)


@pytest.mark.parametrize(
    "unit", ["A. ", "The U.S. office opens at 5 p.m. today! ", "line one.\n", " ", "长句子，"]
)
def test_large_texts_keep_every_character(unit: str) -> None:
    text = unit * (60_000 // len(unit))  # quadratic inside sentence-stream: minutes, not seconds
    sentences = split_sentences(text)
    assert "".join("".join(sentences).split()) == "".join(text.split())
    assert all(len(sentence) <= 300 for sentence in sentences)
