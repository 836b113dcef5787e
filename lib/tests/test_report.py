"""The running perplexity and agreement tables."""

from types import SimpleNamespace

import pytest

from rnnlab.ngram import NGramLM
from rnnlab.report import agreement_table, perplexity_table


def test_perplexity_table_has_a_row_per_model_and_a_column_per_corpus():
    a = SimpleNamespace(train=[["x", "y"]] * 5, valid=[["x"]], test=[["x", "y"]], oracle=None)
    b = SimpleNamespace(train=[["y"]] * 5, valid=[["y"]], test=[["y"]])
    table = perplexity_table({"A": a, "B": b}, {
        "unigram": lambda c: NGramLM(1, "addk").fit(c.train),
        "oracle": lambda c: getattr(c, "oracle", None)}).data.splitlines()
    assert table[0] == "| model | A | B |"
    uni_a = NGramLM(1, "addk").fit(a.train).perplexity(a.test)
    assert table[2].startswith(f"| unigram | {uni_a:.2f} |")
    assert table[3] == "| oracle | - | - |"


def test_agreement_table_formats_accuracy_by_attractors():
    report = SimpleNamespace(accuracy=0.75, by_attractors={0: (1.0, 4), 1: (0.5, 4)})
    lines = agreement_table({"m": report}).data.splitlines()
    assert lines[2] == "| m | 75.0% | 100.0% | 50.0% | - |"
