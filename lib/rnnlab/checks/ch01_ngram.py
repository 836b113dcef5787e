"""Checks of assignment 01 (n-gram language models): ``01_ngram.<part>``.

Each check compares the student's function with the readable reference in ``rnnlab.ngram`` on
small hand-made corpora (visible cases) and on seeded random corpora (hidden cases), and
diagnoses the usual mistakes: which n-gram is miscounted, which normaliser was used, which
probability the student's perplexity asked for first that the reference did not.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Mapping, Optional

import numpy as np

from .. import ngram
from .framework import (Case, Check, call_student, compare_counts, compare_number, fmt,
                        register, type_problem)
from .plain import MAPPING_TYPES, NUMBER_TYPES, describe, restore

CAT_MAT = [["the", "cat", "sat", "on", "the", "mat"], ["the", "dog", "sat", "on", "the", "log"],
           ["the", "fat", "cat", "sat"]]
STUDENTS = [["the", "students", "opened", "their", "books"],
            ["the", "students", "opened", "their", "laptops"],
            ["the", "students", "opened", "their", "exams"],
            ["the", "teacher", "opened", "the", "door"],
            ["students", "opened", "their", "minds"]]
WORDS = ["a", "b", "c", "d", "e", "f"]


def random_corpus(seed: int, sentences: int = 40, vocab: int = 6, max_len: int = 7):
    """Seeded random sentences over a small vocabulary (empty sentences included)."""
    rng = np.random.default_rng(seed)
    return [[WORDS[i] for i in rng.integers(0, vocab, rng.integers(0, max_len + 1))]
            for _ in range(sentences)]


def quote(tokens) -> str:
    return "'" + " ".join(tokens) + "'"


# ---------------------------------------------------------------------------------------------
# count_ngrams(sentences, n) -> {n-tuple: count}
# ---------------------------------------------------------------------------------------------

register(Check(
    name="01_ngram.count_ngrams", points=2, reference=ngram.count_ngrams,
    visible=lambda: [Case("n=2 on 'the cat sat on the mat'", (CAT_MAT[:1], 2)),
                     Case("n=3 on three sentences", (CAT_MAT, 3))],
    hidden=lambda: [Case(f"n={n}, random corpus {seed}", (random_corpus(seed), n))
                    for seed, n in [(1, 1), (2, 2), (3, 3), (4, 4)]]
    + [Case("n=3 on an empty sentence", ([[]], 3))],
    returns=MAPPING_TYPES, compare=compare_counts))


# ---------------------------------------------------------------------------------------------
# mle_probability(ngram_counts, context, word) and addk_probability(..., k, vocab_size)
# ---------------------------------------------------------------------------------------------

def _count_cases(seed_base: int, extra: tuple = ()):
    """(counts, context, word) cases: seen, unseen word, unseen context, random corpora."""
    cat3 = ngram.count_ngrams(CAT_MAT, 3)
    stu3 = ngram.count_ngrams(STUDENTS, 3)
    visible = [Case("P(cat | the fat), trigram counts of CAT_MAT", (cat3, ("the", "fat"), "cat") + extra),
               Case("P(books | opened their), trigrams of STUDENTS", (stu3, ("opened", "their"), "books") + extra)]
    hidden = [Case("P(sat | <s> the)", (cat3, ("<s>", "the"), "sat") + extra),
              Case("P(</s> | on the), the end of a sentence", (cat3, ("sat", "on"), "the") + extra),
              Case("an unseen word after a seen context", (stu3, ("opened", "their"), "pens") + extra),
              Case("an unseen context", (stu3, ("their", "their"), "books") + extra)]
    for seed in range(seed_base, seed_base + 3):
        counts = ngram.count_ngrams(random_corpus(seed), 3)
        (h1, h2, w) = sorted(counts)[seed % len(counts)]
        hidden.append(Case(f"random corpus {seed}, P({w} | {h1} {h2})", (counts, (h1, h2), w) + extra))
    return visible, hidden


def _explain_normaliser(case: Case, expected: float, got: float, smoothing=None) -> str:
    counts, context, word = case.args[:3]
    c_hw = counts.get(tuple(context) + (word,), 0)
    c_h = ngram.context_count(counts, context)
    if smoothing is None:
        text = f"count({quote(tuple(context) + (word,))}) = {c_hw}, count({quote(context)} *) = {c_h}"
        if got > 0 and c_hw > 0:
            text += f"; your answer is {c_hw} / {fmt(c_hw / got)}: check your denominator"
        return text
    k, V = smoothing
    text = (f"(count {c_hw} + k {k:g}) / (count({quote(context)} *) {c_h} + k {k:g} * V {V})")
    if got == 0:
        text += "; an unseen n-gram must get probability k / (...), not 0"
    elif c_hw + k > 0:
        text += f"; your answer is ({c_hw} + {k:g}) / {fmt((c_hw + k) / got)}: check your denominator"
    return "expected " + text


_mle_visible, _mle_hidden = _count_cases(20)
register(Check(
    name="01_ngram.mle_probability", points=1, reference=ngram.mle_probability,
    visible=lambda: _mle_visible, hidden=lambda: _mle_hidden, returns=NUMBER_TYPES,
    compare=compare_number(rtol=1e-9, explain=lambda c, e, g: _explain_normaliser(c, e, g))))

_addk_visible, _addk_hidden = _count_cases(30, extra=(1.0, 12))
_addk_visible = _addk_visible + [_addk_hidden[2]]  # an unseen n-gram: what smoothing is for
_addk_hidden = _addk_hidden + [Case(c.label + ", k=0.1, V=20", c.args[:3] + (0.1, 20))
                               for c in _addk_hidden[:4]]
register(Check(
    name="01_ngram.addk_probability", points=2, reference=ngram.addk_probability,
    visible=lambda: _addk_visible, hidden=lambda: _addk_hidden, returns=NUMBER_TYPES,
    compare=compare_number(rtol=1e-9, explain=lambda c, e, g: _explain_normaliser(
        c, e, g, smoothing=c.args[3:5]))))


# ---------------------------------------------------------------------------------------------
# perplexity(prob, sentences, n)
# ---------------------------------------------------------------------------------------------

class RecordingModel:
    """A probability function prob(context, word) from a table of n-gram probabilities (and a
    default for the rest) that remembers what it was asked."""

    def __init__(self, table: Mapping[tuple, float], default: float):
        self.table, self.default, self.calls = dict(table), default, []

    def __call__(self, context, word):
        self.calls.append((tuple(context), word))
        return self.table.get(tuple(context) + (word,), self.default)


def _addk_table(train, n, k=0.5):
    """(table, default) of an add-k model of ``train``."""
    counts = ngram.count_ngrams(train, n)
    vocab = {w for s in train for w in s} | {"</s>"}
    table = {g: ngram.addk_probability(counts, g[:-1], g[-1], k, len(vocab)) for g in counts}
    return table, k / (k * len(vocab) + 1)


def _perplexity_cases():
    # a case's inputs: (probability table, default probability, sentences, n)
    visible = [Case("a uniform model over 8 tokens on CAT_MAT (answer: 8)", ({}, 1 / 8, CAT_MAT, 3)),
               Case("an add-k bigram model on STUDENTS", (*_addk_table(STUDENTS, 2), STUDENTS[:2], 2))]
    hidden = [Case(f"add-k {n}-gram model, random corpus {seed}",
                   (*_addk_table(random_corpus(seed), n), random_corpus(seed + 100, 10), n))
              for seed, n in [(40, 1), (41, 2), (42, 3), (43, 4)]]
    hidden.append(Case("a model that gives P(cat | the) = 0 (answer: inf)",
                       ({("the", "cat"): 0.0}, 0.25, CAT_MAT, 2)))
    return visible, hidden


def _probe_perplexity(student_fn, inputs, seconds):
    """The student's perplexity of a recording model, and every probability it asked for."""
    table, default, sentences, n = inputs
    model = RecordingModel(table, default)
    got, problem = call_student(student_fn, (model, sentences, n), seconds, copy_inputs=False)
    if problem:
        return {"error": problem}
    return {"answer": describe(got), "calls": [[list(h), w] for h, w in model.calls]}


def _judge_perplexity(case: Case, result) -> Optional[str]:
    table, default, sentences, n = case.args
    problem = type_problem(result["answer"], NUMBER_TYPES)
    if problem:
        return problem
    got = restore(result["answer"])
    reference_model = RecordingModel(table, default)
    expected = ngram.perplexity(reference_model, sentences, n)
    if not _numbers_differ(expected, got):
        return None
    message = f"expected {fmt(expected)}, got {fmt(got)}"
    if math.isinf(expected):
        return message + "; a token with probability 0 makes the perplexity infinite"
    asked = [(tuple(h), w) for h, w in result["calls"]]
    should = reference_model.calls
    for i, (a, b) in enumerate(zip(asked, should)):
        if a != b:
            return (message + f". Your call number {i + 1} to prob was prob{a}, expected prob{b}: "
                    "check how you pad each sentence and build the context")
    if len(asked) < len(should):
        missing = should[len(asked)]
        return (message + f". You asked for {len(asked)} probabilities, expected {len(should)}; "
                f"the first one missing is prob{missing}"
                + (" (the end of the sentence must be predicted too)" if missing[1] == "</s>" else ""))
    if len(asked) > len(should):
        return message + f". You asked for {len(asked)} probabilities, expected {len(should)}"
    if math.isclose(got, math.exp(math.log2(expected)), rel_tol=1e-6) or \
            math.isclose(got, 2 ** math.log(expected), rel_tol=1e-6):
        return message + ". You asked for the right probabilities: mixing log bases? 2^(mean of -log2 p) = e^(mean of -ln p)"
    return message + ". You asked for the right probabilities but combined them wrongly: ppl = 2^(-(1/W) sum log2 p), W = number of predicted tokens, </s> included"


def _numbers_differ(a: float, b: float) -> bool:
    if math.isinf(a) or math.isinf(b):
        return a != b
    return not math.isclose(a, b, rel_tol=1e-9)


_ppl_visible, _ppl_hidden = _perplexity_cases()
register(Check(
    name="01_ngram.perplexity", points=2, reference=ngram.perplexity,
    visible=lambda: _ppl_visible, hidden=lambda: _ppl_hidden,
    probe=_probe_perplexity, judge=_judge_perplexity))


# ---------------------------------------------------------------------------------------------
# sample_sentence(next_word_distribution, n, rng, max_len)
# ---------------------------------------------------------------------------------------------

class TableSampler:
    """next_word_distribution(context) of a small bigram/trigram table, recording contexts."""

    def __init__(self, table: Mapping[tuple, Mapping[str, float]]):
        self.table, self.contexts = table, []

    def __call__(self, context):
        self.contexts.append(tuple(context))
        return dict(self.table[tuple(context)])


# A trigram model over {x, y}: the second word depends on the first, so a sampler that does not
# slide its context, or that always takes the most likely word, gets the distribution wrong.
_T = {("<s>", "<s>"): {"x": 0.6, "y": 0.4},
      ("<s>", "x"): {"x": 0.1, "y": 0.7, "</s>": 0.2},
      ("<s>", "y"): {"x": 0.5, "y": 0.1, "</s>": 0.4}}
for _a in "xy":
    for _b in "xy":
        _T[(_a, _b)] = {"x": 0.2, "y": 0.3, "</s>": 0.5} if _a == _b else {"x": 0.3, "y": 0.2, "</s>": 0.5}


def _exact_sentence_probs(table, n, max_len):
    """Exact probability of every sentence up to max_len words under the table model."""
    out, frontier = {}, [((), (("<s>",) * (n - 1)), 1.0)]
    while frontier:
        sent, ctx, p = frontier.pop()
        for w, q in table[ctx].items():
            if w == "</s>":
                out[sent] = out.get(sent, 0) + p * q
            elif len(sent) < max_len:
                frontier.append((sent + (w,), (ctx + (w,))[1:], p * q))
    return out


SEEDED_RUN = 20  # sentences drawn from one seeded generator, twice: an unseeded sampler differs


def _probe_sampling(student_fn, inputs, seconds):
    """``SEEDED_RUN`` sentences from a seeded generator (with the contexts asked for in the
    first), the same again from a new generator with the same seed, then ``draws`` sentences
    from one generator."""
    table, n, draws, seed = inputs
    table = {tuple(k): v for k, v in table.items()}
    runs, contexts = [], None
    for rng in (np.random.default_rng(seed), np.random.default_rng(seed)):
        sentences = []
        for _ in range(SEEDED_RUN):
            sampler = TableSampler(table)
            got, problem = call_student(student_fn, (sampler, n, rng, 20), seconds, copy_inputs=False)
            if problem:
                return {"error": problem}
            if type(got) is not list or len(got) > 20:  # judged at once: no need to draw thousands
                return {"seeded": [describe(got)], "again": [], "samples": [], "contexts": []}
            sentences.append(describe(got))
            if contexts is None:
                contexts = [list(c) for c in sampler.contexts]
        runs.append(sentences)
    rng, samples = np.random.default_rng(seed), []
    for _ in range(draws):
        got, problem = call_student(student_fn, (TableSampler(table), n, rng, 20), seconds, copy_inputs=False)
        if problem:
            return {"error": problem}
        if type(got) is not list or len(got) > 20:
            return {"seeded": [describe(got)], "again": [], "samples": [], "contexts": []}
        samples.append(describe(got))
    return {"seeded": runs[0], "contexts": contexts, "again": runs[1], "samples": samples}


def _judge_sampling(case: Case, result) -> Optional[str]:
    table, n, draws, seed = case.args
    for answer in result["seeded"] + result["again"] + result["samples"]:
        problem = type_problem(answer, ("list",))
        if problem:
            return problem
    got = restore(result["seeded"][0])
    if "</s>" in got or "<s>" in got:
        return f"your sentence {got} contains <s> or </s>: return the words only"
    # 1. the contexts it asked for: <s> padding first, then slid by each sampled word
    expected_ctx = (("<s>",) * (n - 1),)
    for w in got:
        expected_ctx += ((expected_ctx[-1] + (w,))[1:],)
    asked = [tuple(c) for c in result["contexts"]]
    for i, (a, b) in enumerate(zip(asked, expected_ctx)):
        if a != b:
            return (f"after sampling {got[:i]}, you asked for the distribution of context {a}, "
                    f"expected {b}: start from (<s>,) * (n-1) and slide the context by one word")
    if len(asked) != len(got) + 1 and len(got) < 20:
        return (f"you asked for {len(asked)} distributions to sample {len(got)} words: "
                "expected one per word plus one for </s>")
    # 2. seeded: the same generator state gives the same sentences
    seeded, again = [restore(x) for x in result["seeded"]], [restore(x) for x in result["again"]]
    if seeded != again:
        i = next(i for i, (a, b) in enumerate(zip(seeded, again)) if a != b)
        return (f"two runs with the same seed gave different sentences (sentence {i + 1}: {seeded[i]} "
                f"then {again[i]}): draw with the rng you are given")
    # 3. the distribution of sentences matches the model's (total variation distance)
    counts = Counter(tuple(restore(s)) for s in result["samples"])
    draws = len(result["samples"])
    exact = _exact_sentence_probs({tuple(k): v for k, v in table.items()}, n, 6)
    support = set(exact) | set(counts)
    tv = 0.5 * sum(abs(exact.get(s, 0.0) - counts[s] / draws) for s in support if len(s) <= 6)
    if draws < case.args[2] or tv > 0.06:
        top = max(exact, key=exact.get)
        return (f"the sentences you sample do not follow the model: total variation distance "
                f"{tv:.3f} over {draws} samples (allowed 0.06); e.g. {quote(top) if top else 'the empty sentence'} "
                f"should have frequency {exact[top]:.3f}, yours {counts[top] / max(draws, 1):.3f}")
    return None


register(Check(
    name="01_ngram.sample_sentence", points=2, reference=ngram.sample_sentence,
    visible=lambda: [Case("trigram table over {x, y}, 3000 samples", (_T, 3, 3000, 0))],
    hidden=lambda: [Case("trigram table, other seed", (_T, 3, 3000, 7)),
                    Case("bigram table", ({("<s>",): {"x": 0.3, "y": 0.7},
                                           ("x",): {"x": 0.5, "</s>": 0.5},
                                           ("y",): {"y": 0.2, "x": 0.2, "</s>": 0.6}}, 2, 3000, 1))],
    probe=_probe_sampling, judge=_judge_sampling, time_limit=30.0))


# ---------------------------------------------------------------------------------------------
# kn_bigram_probability(bigram_counts, prev, word, discount)
# ---------------------------------------------------------------------------------------------

def _explain_kn(case: Case, expected: float, got: float) -> str:
    counts, prev, word, d = case.args
    followers = len({g[1] for g in counts if g[0] == prev})
    total = sum(c for g, c in counts.items() if g[0] == prev)
    types = len(counts)
    p_cont = len({g[0] for g in counts if g[1] == word}) / types
    unigram = sum(c for g, c in counts.items() if g[1] == word) / sum(counts.values())
    if total == 0:
        return f"{quote([prev])} is never a context, so P_KN = P_cont({word}) = {fmt(p_cont)}"
    disc = max(counts.get((prev, word), 0) - d, 0) / total
    lam = d * followers / total
    text = (f"expected = discounted {fmt(disc)} + lambda({prev}) {fmt(lam)} * P_cont({word}) "
            f"{fmt(p_cont)} (N1+(. {word}) = {round(p_cont * types)} of {types} bigram types)")
    if math.isclose(got, disc + lam * unigram, rel_tol=1e-9):
        text += "; your answer uses the unigram frequency of the word instead of its continuation probability"
    elif math.isclose(got, disc + p_cont, rel_tol=1e-9):
        text += "; your answer leaves out lambda, the weight of the continuation term"
    return text


def _kn_cases():
    stu2 = ngram.count_ngrams(STUDENTS, 2)
    cat2 = ngram.count_ngrams(CAT_MAT, 2)
    visible = [Case("P_KN(cat | the) on CAT_MAT", (cat2, "the", "cat", 0.75)),
               Case("P_KN(their | opened) on STUDENTS", (stu2, "opened", "their", 0.75))]
    hidden = [Case("an unseen bigram", (cat2, "sat", "mat", 0.75)),
              Case("a context never seen", (stu2, "zebra", "opened", 0.75)),
              Case("discount 0.5", (cat2, "the", "mat", 0.5))]
    for seed in (50, 51):
        counts = ngram.count_ngrams(random_corpus(seed), 2)
        prev, word = sorted(counts)[seed % len(counts)]
        hidden.append(Case(f"random corpus {seed}, P_KN({word} | {prev})", (counts, prev, "a", 0.8)))
    return visible, hidden


_kn_visible, _kn_hidden = _kn_cases()
register(Check(
    name="01_ngram.kn_bigram_probability", points=3, reference=ngram.kn_bigram_probability,
    visible=lambda: _kn_visible, hidden=lambda: _kn_hidden, returns=NUMBER_TYPES,
    compare=compare_number(rtol=1e-9, explain=_explain_kn)))
