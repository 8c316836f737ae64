"""Turning sentences into the integer arrays a text CNN reads: tokens, a vocabulary, padded id matrices.

The three steps of the TextCNN chapter, in the order a sentence goes through them::

    tokenize("Don't miss it!")                -> ["do", "n't", "miss", "it", "!"]
    build_vocabulary(all token lists)          -> {"<pad>": 0, "<unk>": 1, "the": 2, ",": 3, ...}
    encode(token lists, vocabulary)            -> int64 array (N, L), each row padded with 0 on the right

An embedding layer then maps each id to a learned vector, so a sentence becomes an (L, D) matrix, the "image" that
one-dimensional convolutions slide over. The tokenizer is written in the spirit of the ``clean_str`` function of Kim
(2014)'s code (lower case, punctuation and English clitics split off), not copied from it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

#: The padding token: id 0, the value :func:`encode` fills short rows with.
PAD = "<pad>"
#: The unknown token: id 1, standing for every token that is not in the vocabulary.
UNK = "<unk>"
#: The rows of :func:`encode` are at least this long by default: the widest filter of Kim (2014) spans 5 words, and
#: a convolution without padding needs an input at least as long as its kernel.
MIN_LENGTH = 5

# Typographic quotes as plain ones, so that "don’t" and "don't" give the same tokens.
_PLAIN_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u201c": '"', "\u201d": '"'})

_TOKEN = re.compile(
    r"""
      [^\W_]+?(?=n't\b)           # the word before the clitic n't: "do" of "don't", "ca" of "can't"
    | n't\b                       # the negation clitic
    | '(?:s|re|ve|d|ll|m)\b       # the clitics 's 're 've 'd 'll 'm
    | [^\W_]+                     # a word or a number: letters (any alphabet) and digits, hyphens split
    | [!?.,;:()"]                 # punctuation that can carry meaning; other symbols are dropped
    """,
    re.VERBOSE,
)


def tokenize(text: str) -> list[str]:
    """Split a sentence into lower-case tokens: words, English clitics and punctuation marks.

    Words are runs of letters and digits (hyphenated words are split at the hyphen); the clitics ``n't``, ``'s``,
    ``'re``, ``'ve``, ``'d``, ``'ll`` and ``'m`` become tokens of their own (``"don't"`` -> ``"do", "n't"``), as
    in the Penn Treebank; the marks ``! ? . , ; : ( ) "`` are kept, each as a token; every other character (other
    quotes, dashes, slashes, symbols) separates tokens and is dropped. Typographic apostrophes and quotes count as
    plain ones.

    Args:
        text: a sentence (or any string).

    Returns:
        The tokens, in order, as a list of str; empty for a string without letters, digits or kept punctuation.

    Raises:
        ValueError: if ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected a str, got {type(text).__name__}")
    return _TOKEN.findall(text.translate(_PLAIN_QUOTES).lower())


def build_vocabulary(token_lists: Iterable[Sequence[str]], min_count: int = 1) -> dict[str, int]:
    """Assign an integer id to every token seen at least ``min_count`` times.

    Ids 0 and 1 are reserved for :data:`PAD` and :data:`UNK`; the others follow in order of descending count, ties
    broken alphabetically, so the same data give the same ids on every machine (the most frequent token gets
    id 2). Occurrences of the reserved strings themselves in the data are not counted.

    Args:
        token_lists: an iterable of N token sequences (for example ``[tokenize(t) for t in texts]``).
        min_count: the fewest occurrences a token needs to get an id of its own; rarer tokens map to :data:`UNK`.

    Returns:
        A dict from token to id, with ids 0, 1, ..., V - 1 for V entries (V includes the two reserved tokens).

    Raises:
        ValueError: if ``min_count`` is not a positive int, or a token list is a bare string (a common slip: it
            would be counted character by character).
    """
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
        raise ValueError(f"expected min_count to be a positive int, got {min_count!r}")
    counts: Counter[str] = Counter()
    for tokens in token_lists:
        if isinstance(tokens, str):
            raise ValueError(f"expected a sequence of tokens, got the string {tokens[:40]!r}; tokenize it first")
        counts.update(tokens)
    counts.pop(PAD, None)
    counts.pop(UNK, None)
    kept = sorted((token for token, count in counts.items() if count >= min_count), key=lambda t: (-counts[t], t))
    vocabulary = {PAD: 0, UNK: 1}
    vocabulary.update((token, index) for index, token in enumerate(kept, start=2))
    return vocabulary


def encode(
    token_lists: Sequence[Sequence[str]],
    vocabulary: dict[str, int],
    length: int | None = None,
    min_length: int = MIN_LENGTH,
) -> np.ndarray:
    """Map token lists to a matrix of ids, one row per sentence, padded on the right with :data:`PAD` (id 0).

    Row i holds ``vocabulary.get(token, 1)`` for the first L tokens of sentence i, then zeros. The length is
    ``L = length`` when given (longer sentences are truncated: their tokens beyond L are dropped), otherwise
    ``L = max(longest sentence, min_length)``: a convolution without padding over words needs at least as many
    words as its kernel is wide, and ``min_length`` defaults to :data:`MIN_LENGTH` = 5, the widest filter of
    Kim (2014). Pass ``length`` explicitly to give the training and test sets the same shape.

    Args:
        token_lists: N token sequences.
        vocabulary: token -> id, with ``PAD`` at 0 and ``UNK`` at 1 (as :func:`build_vocabulary` returns).
        length: the row length L, or None for the longest sentence (at least ``min_length``).
        min_length: the shortest L chosen when ``length`` is None.

    Returns:
        An int64 array of shape (N, L).

    Raises:
        ValueError: if the vocabulary does not map ``PAD`` to 0 and ``UNK`` to 1, if ``length`` or ``min_length``
            is not a positive int, or if a token list is a bare string.
    """
    if vocabulary.get(PAD) != 0 or vocabulary.get(UNK) != 1:
        raise ValueError(
            f"expected a vocabulary with {PAD!r} -> 0 and {UNK!r} -> 1, got {PAD!r} -> {vocabulary.get(PAD)} and "
            f"{UNK!r} -> {vocabulary.get(UNK)}"
        )
    for name, value in (("length", length), ("min_length", min_length)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"expected {name} to be a positive int, got {value!r}")
    for tokens in token_lists:
        if isinstance(tokens, str):
            raise ValueError(f"expected a sequence of tokens, got the string {tokens[:40]!r}; tokenize it first")
    if length is None:
        length = max([min_length, *(len(tokens) for tokens in token_lists)])
    ids = np.zeros((len(token_lists), length), dtype=np.int64)
    for row, tokens in enumerate(token_lists):
        kept = tokens[:length]
        ids[row, : len(kept)] = [vocabulary.get(token, 1) for token in kept]
    return ids
