"""cnnlib.book_seed and seed_everything: one environment variable moves every random choice of the book."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import cnnlib
import cnnlib.utils
from cnnlib import benchmark, data
from cnnlib.utils import SEED_VARIABLE


def test_book_seed_defaults_to_the_stream_number(monkeypatch):
    monkeypatch.delenv(SEED_VARIABLE, raising=False)
    assert [cnnlib.book_seed(k) for k in (0, 1, 999)] == [0, 1, 999]


def test_book_seed_moves_every_stream_apart(monkeypatch):
    monkeypatch.setenv(SEED_VARIABLE, "1")
    seeds = [cnnlib.book_seed(k) for k in range(3)]
    assert seeds == [1000, 1001, 1002]
    monkeypatch.setenv(SEED_VARIABLE, "0")
    assert not set(seeds) & {cnnlib.book_seed(k) for k in range(1000)}  # no stream of seed 0 reappears


@pytest.mark.parametrize("value", ["-1", "one", "1.5", str(2**32)])
def test_book_seed_rejects_a_bad_variable(monkeypatch, value):
    monkeypatch.setenv(SEED_VARIABLE, value)
    with pytest.raises(ValueError, match=SEED_VARIABLE):
        cnnlib.book_seed()


@pytest.mark.parametrize("stream", [-1, 1000, 1.0, True])
def test_book_seed_rejects_a_bad_stream(stream):
    with pytest.raises(ValueError, match="stream"):
        cnnlib.book_seed(stream)


def test_seed_everything_follows_the_variable(monkeypatch):
    draws = {}
    for value in ("0", "1", "0"):
        monkeypatch.setenv(SEED_VARIABLE, value)
        rng = cnnlib.seed_everything()
        draws.setdefault(value, []).append((rng.random(), np.random.rand(), torch.rand(1).item()))  # noqa: NPY002
    assert draws["0"][0] == draws["0"][1]
    assert all(a != b for a, b in zip(draws["0"][0], draws["1"][0], strict=True))


def test_data_and_benchmark_defaults_follow_the_variable(monkeypatch):
    monkeypatch.setenv(SEED_VARIABLE, "0")
    split0 = data.stratified_split(np.repeat(np.arange(3), 10), test_per_class=2)
    assert benchmark.Settings().seed == 0
    monkeypatch.setenv(SEED_VARIABLE, "2")
    split2 = data.stratified_split(np.repeat(np.arange(3), 10), test_per_class=2)
    assert benchmark.Settings().seed == 2000
    assert not np.array_equal(split0[1], split2[1])
    # An explicit seed is honoured whatever the variable says.
    np.testing.assert_array_equal(data.stratified_split(np.repeat(np.arange(3), 10), 2, seed=0)[1], split0[1])


def test_progress_prints_one_final_line_in_the_built_book(monkeypatch, capsys):
    monkeypatch.setenv(cnnlib.utils.PLAIN_PROGRESS_VARIABLE, "1")
    bar = cnnlib.progress(range(3), desc="epochs")
    for step in bar:
        bar.set_postfix(loss=step)
    bar.close()  # a second close prints nothing more
    for _ in cnnlib.progress(range(2), desc="hidden", disable=True):
        pass
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("epochs: 100%") and "3/3" in lines[0] and "loss=2" in lines[0]
