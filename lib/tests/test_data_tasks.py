"""Fixtures, algorithmic sequence tasks, date normalisation and tokenisers (rnnlab.data)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from rnnlab.data import (CAT_SENTENCE, DATE_FORMATS, STUDENTS_PREFIX, adding_problem, char_example,
                         char_tokenize, copy_task, date_pairs, format_date, hello, parity,
                         parse_date, split_sentences, word_tokenize)
from rnnlab.data.dates import ordinal, random_dates


def test_hello_fixture_matches_the_lecture():
    ex = hello()
    assert ex.chars == ("h", "e", "l", "o")
    assert ex.inputs.tolist() == [0, 1, 2, 2] and ex.targets.tolist() == [1, 2, 2, 3]
    assert ex.one_hot.shape == (4, 4) and ex.one_hot[3].tolist() == [0, 0, 1, 0]
    assert "".join(ex.chars[i] for i in ex.targets) == "ello"
    assert char_example("abca").chars == ("a", "b", "c")


def test_sentence_fixtures():
    assert " ".join(CAT_SENTENCE) == "the cat sat on the mat"
    assert " ".join(STUDENTS_PREFIX) == "the students opened their"


def test_parity_targets_are_the_running_xor():
    task = parity(50, 12, seed=3)
    assert task.inputs.shape == task.targets.shape == (50, 12)
    for x, y in zip(task.inputs, task.targets):
        acc = 0
        for t in range(12):
            acc ^= int(x[t])
            assert y[t] == acc
    assert np.array_equal(parity(50, 12, seed=3).inputs, task.inputs)
    assert not np.array_equal(parity(50, 12, seed=4).inputs, task.inputs)


def test_adding_problem_has_one_marker_per_half_and_the_sum_as_target():
    length = 30
    task = adding_problem(200, length, seed=0)
    assert task.inputs.shape == (200, length, 2) and task.targets.shape == (200,)
    markers = task.inputs[:, :, 1]
    assert (markers.sum(axis=1) == 2).all()
    assert (markers[:, : length // 2].sum(axis=1) == 1).all()
    for x, y in zip(task.inputs, task.targets):
        assert y == pytest.approx(x[x[:, 1] == 1, 0].sum())
    assert 0.9 < task.targets.mean() < 1.1


def test_copy_task_layout():
    k, delay, alphabet = 5, 7, 4
    task = copy_task(30, num_symbols=k, delay=delay, alphabet=alphabet, seed=1)
    assert task.inputs.shape == task.targets.shape == (30, 2 * k + delay)
    assert np.array_equal(task.targets[:, k + delay:], task.inputs[:, :k])
    assert (task.targets[:, : k + delay] == 0).all()
    assert (task.inputs[:, k + delay - 1] == alphabet + 1).all()
    assert (task.inputs[:, k:k + delay - 1] == 0).all() and (task.inputs[:, k + delay:] == 0).all()
    assert task.inputs[:, :k].min() >= 1 and task.inputs[:, :k].max() <= alphabet


def test_every_date_format_parses_back_to_the_iso_date():
    dates = random_dates(300, seed=0) + [dt.date(2021, 3, 3), dt.date(1950, 1, 1), dt.date(2049, 12, 31),
                                         dt.date(2000, 2, 29), dt.date(2011, 11, 11), dt.date(1999, 5, 22)]
    for fmt in DATE_FORMATS:
        for d in dates:
            assert parse_date(format_date(d, fmt)) == d.isoformat(), (fmt, d)


def test_date_formats_render_the_examples_in_their_names():
    march_third = dt.date(2021, 3, 3)
    for fmt in DATE_FORMATS:
        assert format_date(march_third, fmt) == fmt
    assert [ordinal(d) for d in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 31)] == \
        ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "31st"]


def test_date_pairs_are_seeded_and_correct():
    pairs = date_pairs(500, seed=5)
    assert pairs == date_pairs(500, seed=5) and pairs != date_pairs(500, seed=6)
    assert all(parse_date(src) == tgt for src, tgt in pairs)
    assert len({src for src, _ in pairs}) > 450
    assert all(len(tgt) == 10 and tgt[4] == tgt[7] == "-" for _, tgt in pairs)


@pytest.mark.parametrize("text", ["31/02/2021", "March 2021", "yesterday", "2021-13-01", "3 Smarch 2021"])
def test_parse_date_rejects_non_dates(text):
    with pytest.raises(ValueError):
        parse_date(text)


def test_tokenizers():
    assert word_tokenize("Don't split e.g. 3.14, OK?") == ["don't", "split", "e.g.", "3.14", ",", "ok", "?"]
    assert word_tokenize("See os.path.join. Then stop.") == ["see", "os.path.join", ".", "then", "stop", "."]
    assert word_tokenize("Hello World", lowercase=False) == ["Hello", "World"]
    assert char_tokenize("hi!") == ["h", "i", "!"]
    assert split_sentences(["a", ".", "b", "?", "c"]) == [["a", "."], ["b", "?"], ["c"]]
