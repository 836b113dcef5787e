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
          r"expected 1 = count\('the fat cat'\) 1 / count\('the fat' \*\) 1, got 0\.05263: "
          r"your denominator is the count of all n-grams")
    fails("01_ngram.addk_probability",
          lambda c, h, w, k, V: 0.0 if not c.get(tuple(h) + (w,)) else ngram.addk_probability(c, h, w, k, V),
          r"unseen n-gram must get probability k")


def first_problem(name, fn):
    """The first message of the check on ``fn``, visible cases first, or None."""
    the_check = REGISTRY[name]
    for hidden in (False, True):
        for case in the_check.cases(hidden):
            problem = the_check.problem(fn, case)
            if problem:
                return problem
    return None


def test_a_rounded_probability_is_shown_with_the_digits_that_differ_and_no_other_cause():
    def rounded(c, h, w):
        return round(ngram.mle_probability(c, h, w), 4)
    message = first_problem("01_ngram.mle_probability", rounded)
    assert re.search(r"expected 0\.26316 .*got 0\.2632: your answer is the right value rounded to 4 "
                     r"decimals", message), message
    assert "denominator" not in message
    message = first_problem("01_ngram.kn_bigram_probability",
                            lambda c, v, w, d=0.75: round(ngram.kn_bigram_probability(c, v, w, d), 3))
    assert "expected 0.1571" in message and "got 0.157:" in message and "rounded to 3 decimals" in message


def test_a_cause_is_named_only_where_the_answer_matches_it():
    def off(c, h, w):
        return ngram.mle_probability(c, h, w) * 1.01
    message = first_problem("01_ngram.mle_probability", off)
    assert message.startswith("expected 1 = count('the fat cat') 1 / count('the fat' *) 1, got 1.01"), message
    assert ":" not in message.split("got 1.01")[1]


def test_counts_come_as_a_dict_in_some_cases_and_a_counter_in_others():
    for name in ("01_ngram.mle_probability", "01_ngram.addk_probability", "01_ngram.kn_bigram_probability"):
        for hidden in (False, True):
            kinds = {type(case.args[0]) for case in REGISTRY[name].cases(hidden)}
            assert kinds == {dict, Counter}, (name, hidden, kinds)

    def square_brackets(c, h, w):
        total = sum(v for g, v in c.items() if g[:-1] == tuple(h))
        return c[tuple(h) + (w,)] / total if total else 0.0
    fails("01_ngram.mle_probability", square_brackets,
          r"case P\(pens \| opened their\), a word never seen there \(counts as a dict\): your function "
          r"raised KeyError: \('opened', 'their', 'pens'\) \(in square_brackets, line")
    the_check = REGISTRY["01_ngram.mle_probability"]
    counter_case = next(c for c in the_check.cases(True) if "never seen there (counts as a Counter)" in c.label)
    assert the_check.problem(square_brackets, counter_case) is None  # a Counter counts a missing key 0


def product_perplexity(prob, sentences, n):
    product, W = 1.0, 0
    for sentence in sentences:
        padded = ["<s>"] * (n - 1) + list(sentence) + ["</s>"]
        for t in range(n - 1, len(padded)):
            product *= prob(tuple(padded[t - n + 1:t]), padded[t])
            W += 1
    return math.inf if product == 0 else product ** (-1 / W)


def test_perplexity_diagnoses_underflow_log_base_and_missing_end():
    fails("01_ngram.perplexity", product_perplexity,
          r"held-out text of 3,621 tokens: expected 7\.111, got inf\. .*the product of these 3,621 "
          r"probabilities underflows to 0\.0")
    fails("01_ngram.perplexity", lambda p, s, n: math.exp(math.log2(ngram.perplexity(p, s, n))),
          "mixing log bases")

    def no_end(prob, sentences, n):
        return ngram.perplexity(prob, [s[:-1] for s in sentences if s], n)
    fails("01_ngram.perplexity", no_end, r"Your call number \d+ to prob was")


def sampler(draw_word, stop_at=lambda sentence, max_len: len(sentence) >= max_len):
    """A sampler written around ``draw_word(dist, rng)`` and a stopping rule."""
    def sample(next_word_distribution, n, rng, max_len=50):
        context, sentence = ("<s>",) * (n - 1), []
        while not stop_at(sentence, max_len):
            word = draw_word(next_word_distribution(context), rng)
            if word == "</s>":
                break
            sentence.append(word)
            context = (context + (word,))[1:] if n > 1 else ()
        return sentence
    return sample


def by_index(dist, rng):
    words = list(dist)
    return words[rng.choice(len(words), p=[dist[w] for w in words])]


def test_a_sampler_drawing_numpy_strings_passes_every_case():
    numpy_str = sampler(lambda dist, rng: rng.choice(list(dist), p=list(dist.values())))
    assert type(numpy_str(lambda h: {"x": 1.0}, 2, np.random.default_rng(0), 1)[0]) is np.str_
    for hidden in (False, True):
        check("01_ngram.sample_sentence", numpy_str, hidden=hidden)


def test_samplers_that_miss_max_len_fail_with_its_name():
    fails("01_ngram.sample_sentence", sampler(by_index, lambda s, m: len(s) > m),
          r"never ends a sentence, max_len=5: your sentence has 6 words, more than max_len = 5")
    fails("01_ngram.sample_sentence", sampler(by_index, lambda s, m: len(s) >= m - 1),
          r"never ends a sentence .*so every sentence must have max_len = 5 words; yours has 4")


def test_samplers_that_ignore_their_generator_fail():
    fails("01_ngram.sample_sentence", sampler(lambda d, rng: by_index(d, np.random.default_rng())),
          "did not draw from the generator it was given")
    fails("01_ngram.sample_sentence", sampler(lambda d, rng: (rng.random(), by_index(d, np.random))[1]),
          "two calls with generators seeded alike gave different answers")

    def seeded_once(dist, rng, fixed=np.random.default_rng(0)):
        rng.random()
        return by_index(dist, np.random.default_rng(7))
    fails("01_ngram.sample_sentence", sampler(seeded_once), "different seeds gave the same answer")


def test_greedy_and_unslid_samplers_fail_with_reasons():
    fails("01_ngram.sample_sentence", sampler(lambda d, rng: max(d, key=d.get)), "did not draw from the generator")
    fails("01_ngram.sample_sentence", sampler(lambda d, rng: rng.choice(list(d))),
          r"do not follow the model: total variation distance 0\.\d+ over 3,000 samples")

    def unslid(next_word_distribution, n, rng, max_len=50):
        return sampler(by_index)(lambda h: next_word_distribution(("<s>",) * (n - 1)), n, rng, max_len)
    fails("01_ngram.sample_sentence", unslid, r"after sampling \['\w'\], you never asked for the distribution "
          r"of context \('<s>', '\w'\)")


@pytest.mark.parametrize("bad, pattern", [
    (lambda *a: None, "returned None"),
    (lambda *a: 1 / 0, r"raised ZeroDivisionError: division by zero \(in <lambda>, line"),
    (lambda *a: "0.5", "expected a float or int.*got a str"),
    (lambda *a: float("nan"), "NaN"),
    (lambda *a: np.float32(0.2), r"expected 1 = .*, got 0\.2"),
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
    fails("01_ngram.mle_probability", lambda *a: AlwaysEqual(0.0), "returned an object of type .*AlwaysEqual")

    class Sneaky:
        __eq__ = lambda self, other: True
    fails("01_ngram.count_ngrams", lambda s, n: Sneaky(), "returned an object of type .*Sneaky")


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
    assert len(shown) == 1 and "got 0.25" in shown[0] and "framework.py" not in shown[0]
