"""cnnlib.text: the tokenizer's rules, a deterministic vocabulary, and padded id matrices a TextCNN accepts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from cnnlib import models, text


@pytest.mark.parametrize(
    ("sentence", "tokens"),
    [
        ("Don't miss it!", ["do", "n't", "miss", "it", "!"]),
        ("It\u2019s GREAT, isn\u2019t it?", ["it", "'s", "great", ",", "is", "n't", "it", "?"]),
        ("Writer-director Gaghan's 'too clever by half.'", ["writer", "director", "gaghan", "'s", "too", "clever",
                                                             "by", "half", "."]),
        ("we'll I'm they're you've he'd", ["we", "'ll", "i", "'m", "they", "'re", "you", "'ve", "he", "'d"]),
        ("(yes) \u201cno\u201d -- 1990s caf\u00e9 & more...", ["(", "yes", ")", '"', "no", '"', "1990s", "caf\u00e9",
                                                                 "more", ".", ".", "."]),
        ("", []),
        ("*** -- ***", []),
    ],
)
def test_tokenize_splits_words_clitics_and_punctuation(sentence, tokens):
    assert text.tokenize(sentence) == tokens


def test_tokenize_rejects_non_strings():
    with pytest.raises(ValueError, match="expected a str, got list"):
        text.tokenize(["already", "tokens"])


@given(st.text(max_size=60))
def test_tokens_are_lower_case_pieces_without_spaces(sentence):
    tokens = text.tokenize(sentence)
    assert all(token and not any(character.isspace() for character in token) for token in tokens)
    assert all(token == token.lower() for token in tokens)
    # Tokenizing is idempotent on its own output: a token re-tokenized is itself.
    assert all(text.tokenize(token) == [token] for token in tokens if token not in ("n't",))


def test_vocabulary_orders_by_count_then_alphabetically():
    vocabulary = text.build_vocabulary([["b", "a", "c", "a"], ["c", "d", "a"], ["b"]])
    # a: 3; b, c: 2 (b before c); d: 1.
    assert vocabulary == {"<pad>": 0, "<unk>": 1, "a": 2, "b": 3, "c": 4, "d": 5}
    # The order of the sentences does not change the ids.
    assert text.build_vocabulary([["b"], ["c", "d", "a"], ["b", "a", "c", "a"]]) == vocabulary


def test_vocabulary_min_count_and_reserved_tokens():
    vocabulary = text.build_vocabulary([["a", "a", "b", "<pad>", "<unk>", "<unk>"]], min_count=2)
    assert vocabulary == {"<pad>": 0, "<unk>": 1, "a": 2}
    with pytest.raises(ValueError, match="min_count to be a positive int, got 0"):
        text.build_vocabulary([["a"]], min_count=0)
    with pytest.raises(ValueError, match="tokenize it first"):
        text.build_vocabulary(["a sentence"])


def test_encode_pads_truncates_and_maps_unknown_tokens():
    vocabulary = {"<pad>": 0, "<unk>": 1, "good": 2, "film": 3}
    ids = text.encode([["good", "film"], ["bad", "film", "good", "good", "film", "good"]], vocabulary)
    assert ids.dtype == np.int64
    np.testing.assert_array_equal(ids, [[2, 3, 0, 0, 0, 0], [1, 3, 2, 2, 3, 2]])
    np.testing.assert_array_equal(text.encode([["good", "film", "film"]], vocabulary, length=2), [[2, 3]])


def test_encode_rows_are_at_least_as_long_as_the_widest_filter():
    vocabulary = text.build_vocabulary([["ok"]])
    ids = text.encode([["ok"], []], vocabulary)
    assert ids.shape == (2, text.MIN_LENGTH)
    model = models.textcnn(len(vocabulary), embedding_dim=4, num_filters=2, padding_idx=0)
    assert model(torch.from_numpy(ids)).shape == (2, 2)
    assert text.encode([["ok"]], vocabulary, min_length=2).shape == (1, 2)


def test_encode_rejects_bad_input():
    with pytest.raises(ValueError, match="'<pad>' -> 0 and '<unk>' -> 1, got '<pad>' -> None"):
        text.encode([["a"]], {"a": 0})
    with pytest.raises(ValueError, match="length to be a positive int, got 0"):
        text.encode([["a"]], text.build_vocabulary([["a"]]), length=0)
    with pytest.raises(ValueError, match="tokenize it first"):
        text.encode(["a"], text.build_vocabulary([["a"]]))


def test_round_trip_through_the_vocabulary():
    sentences = ["A good film.", "Not a good film, not at all!", "Good."]
    token_lists = [text.tokenize(sentence) for sentence in sentences]
    vocabulary = text.build_vocabulary(token_lists)
    word_of = {index: token for token, index in vocabulary.items()}
    ids = text.encode(token_lists, vocabulary)
    for row, tokens in zip(ids, token_lists, strict=True):
        assert [word_of[index] for index in row if index != 0] == tokens
