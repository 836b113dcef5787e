"""The check framework: references pass every case, wrong answers fail with a message that
says where, bad answers of every kind are reported (never a crash of the check), and the plain
data between probe and judge survives the trip between processes."""

import math
import re
from collections import Counter

import numpy as np
import pytest
import torch

from rnnlab import ngram
from rnnlab.checks import REGISTRY, CheckFailed, check
from rnnlab.checks.framework import Case, compare_tensor
from rnnlab.checks.plain import describe, from_wire, restore, to_wire


def reference_of(name):
    """The function a correct student writes: the reference itself."""
    return {"01_ngram.count_ngrams": ngram.count_ngrams, "01_ngram.mle_probability": ngram.mle_probability,
            "01_ngram.addk_probability": ngram.addk_probability, "01_ngram.perplexity": ngram.perplexity,
            "01_ngram.sample_sentence": ngram.sample_sentence,
            "01_ngram.kn_bigram_probability": ngram.kn_bigram_probability}[name]


CH01 = sorted(n for n in REGISTRY if n.startswith("01_ngram."))


@pytest.mark.parametrize("name", CH01)
@pytest.mark.parametrize("hidden", [False, True])
def test_reference_passes_every_case(name, hidden, capsys):
    check(name, reference_of(name), hidden=hidden)
    assert f"passed {name}" in capsys.readouterr().out


def fails(name, fn, pattern):
    with pytest.raises(CheckFailed) as info:
        check(name, fn)
    assert re.search(pattern, str(info.value)), str(info.value)
    return str(info.value)


def test_wrong_counts_name_the_first_wrong_ngram():
    def no_end(sentences, n):
        c = Counter()
        for s in sentences:
            p = ["<s>"] * (n - 1) + s
            for t in range(n - 1, len(p)):
                c[tuple(p[t - n + 1:t + 1])] += 1
        return c
    fails("01_ngram.count_ngrams", no_end, r"\('mat', '</s>'\) is missing from your counts")


def test_wrong_normaliser_is_diagnosed():
    fails("01_ngram.mle_probability",
          lambda c, h, w: c.get(tuple(h) + (w,), 0) / sum(c.values()),
          r"expected 1, got 0\.05263.*your answer is 1 / 19: check your denominator")
    fails("01_ngram.addk_probability",
          lambda c, h, w, k, V: 0.0 if not c.get(tuple(h) + (w,)) else ngram.addk_probability(c, h, w, k, V),
          r"unseen n-gram must get probability k")


def test_perplexity_diagnoses_log_base_and_missing_end():
    def base_e(prob, sentences, n):
        return ngram.perplexity(prob, sentences, n) ** math.log2(math.e)
    fails("01_ngram.perplexity", lambda p, s, n: math.exp(math.log2(ngram.perplexity(p, s, n))),
          "mixing log bases")

    def no_end(prob, sentences, n):
        return ngram.perplexity(prob, [s[:-1] for s in sentences if s], n)
    fails("01_ngram.perplexity", no_end, r"Your call number \d+ to prob was")


def test_greedy_and_unslid_samplers_fail_with_reasons():
    def greedy(dist, n, rng, max_len=50):
        ctx, out = ("<s>",) * (n - 1), []
        while len(out) < max_len:
            d = dist(ctx)
            w = max(d, key=d.get)
            if w == "</s>":
                break
            out.append(w)
            ctx = (ctx + (w,))[1:]
        return out
    fails("01_ngram.sample_sentence", greedy, "total variation distance")

    def unseeded(dist, n, rng, max_len=50):
        return ngram.sample_sentence(dist, n, np.random.default_rng(), max_len)
    fails("01_ngram.sample_sentence", unseeded, "same seed gave different sentences|total variation")


@pytest.mark.parametrize("bad, pattern", [
    (lambda *a: None, "returned None"),
    (lambda *a: 1 / 0, r"raised ZeroDivisionError: division by zero \(in <lambda>, line"),
    (lambda *a: "0.5", "expected a float or int.*got a str"),
    (lambda *a: float("nan"), "NaN"),
    (lambda *a: np.float32(0.2), "expected 1, got 0.2"),
])
def test_bad_answers_are_explained_never_crash(bad, pattern):
    fails("01_ngram.mle_probability", bad, pattern)


def test_mutating_inputs_and_running_too_long_are_reported(monkeypatch):
    def mutates(counts, context, word):
        counts.clear()
        return 0.0
    fails("01_ngram.mle_probability", mutates, "changed its input argument 1")
    monkeypatch.setattr(REGISTRY["01_ngram.mle_probability"], "time_limit", 0.3)

    def loops(*args):
        while True:
            pass
    fails("01_ngram.mle_probability", loops, "did not return within 0.3 s")


def test_objects_that_lie_are_values_of_the_wrong_type():
    class AlwaysEqual(float):
        def __eq__(self, other):
            return True
    fails("01_ngram.mle_probability", lambda *a: AlwaysEqual(0.0), "got a .*AlwaysEqual")

    class Sneaky:
        __eq__ = lambda self, other: True
    fails("01_ngram.count_ngrams", lambda s, n: Sneaky(), "got a .*Sneaky")


def test_plain_data_round_trips_through_the_wire():
    value = {"counts": Counter({("a", "b"): 2}), "t": torch.arange(6.0).reshape(2, 3),
             "x": [1, 2.5, "s", None, np.float64(3.0)], "arr": np.eye(2, dtype=np.int32)}
    text, blob = to_wire(describe(value))
    back = restore(from_wire(text, blob))
    assert back["counts"] == {("a", "b"): 2} and type(back["counts"]) is Counter
    assert torch.equal(back["t"], value["t"]) and back["t"].dtype == torch.float32
    assert back["x"] == [1, 2.5, "s", None, 3.0]
    assert back["arr"].dtype == np.int32 and (back["arr"] == np.eye(2)).all()
    assert b"pickle" not in blob


def test_tensor_comparison_names_the_first_differing_index():
    compare = compare_tensor(dims=("b", "t", "h"), what="hidden states")
    expected = torch.zeros(2, 4, 3)
    got = expected.clone()
    got[1, 3, 2] = 0.5
    message = compare(Case("x", ()), expected, got)
    assert "first differs at b=1, t=3, h=2: expected 0, got 0.5" in message
    assert "shape (4, 2, 3)" in compare(Case("x", ()), expected, got.transpose(0, 1))
    assert "batch-first" in compare(Case("x", ()), expected, got.transpose(0, 1))
    assert "dtype torch.float64" in compare(Case("x", ()), expected, got.double())
    assert compare(Case("x", ()), expected, expected.clone()) is None


def test_jupyter_shows_the_message_not_a_traceback():
    with pytest.raises(CheckFailed) as info:
        check("01_ngram.mle_probability", lambda *a: 0.25)
    shown = info.value._render_traceback_()
    assert len(shown) == 1 and "expected 1, got 0.25" in shown[0] and "framework.py" not in shown[0]
