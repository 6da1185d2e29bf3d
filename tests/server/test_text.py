"""Sentence splitting, whole and incremental."""

from __future__ import annotations

from wyoming_verba.text import SentenceSplitter, split_sentences


def test_split_keeps_abbreviations_numbers_and_quotes() -> None:
    text = 'Hello there. Dr. Smith paid 3.50 dollars! Is it "done?" Yes.\n\nNew paragraph'
    assert split_sentences(text) == [
        "Hello there.",
        "Dr. Smith paid 3.50 dollars!",
        'Is it "done?"',
        "Yes.",
        "New paragraph",
    ]


def test_incremental_feed_matches_whole_text() -> None:
    text = "First one. Second, with a comma? Third… and the rest"
    splitter = SentenceSplitter()
    streamed = []
    for char in text:
        streamed.extend(splitter.feed(char))
    # Nothing is emitted before its end is certain.
    assert streamed == ["First one.", "Second, with a comma?", "Third…"]
    assert streamed + splitter.flush() == split_sentences(text)


def test_long_sentences_are_cut_at_commas_then_spaces() -> None:
    sentence = ", ".join(["word " * 10] * 10)
    pieces = split_sentences(sentence, max_chars=120)
    assert all(len(piece) <= 120 for piece in pieces)
    assert " ".join(pieces).split() == sentence.split()


def test_unbounded_stream_without_punctuation_still_yields() -> None:
    splitter = SentenceSplitter(max_chars=50)
    out = splitter.feed("word " * 40)
    assert out and all(len(piece) <= 50 for piece in out)


def test_empty_and_whitespace() -> None:
    assert split_sentences("") == []
    assert split_sentences("  \n\t ") == []
