"""Checks of assignment 01 (n-gram language models): ``01_ngram.<part>``.

Each check compares the student's function with the readable reference in ``rnnlab.ngram`` on
small hand-made corpora (visible cases) and seeded random ones (hidden cases). The cases are
chosen so that the usual mistakes show: counts passed as a ``dict`` in some cases and as a
``Counter`` in others (the notebook documents both, and a missing key counts 0 only in a
Counter), unseen words and contexts, n = 1 (the empty context), a held-out text of thousands of
tokens (a product of probabilities underflows there), sampling that must stop at ``max_len``,
and seeded generators (two seeds differ, one seed repeats, the generator given is the one
drawn from). A named cause is given only when the student's answer equals what that mistake
computes on the case and the right answer does not (``diagnose``).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from typing import Mapping, Optional

import numpy as np

from .. import ngram
from .framework import (SEEDS, Case, Check, call_student, compare_counts, diagnose, fmt, fmt_pair,
                        judge_seeded, numbers_differ, register, type_problem)
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


def _close(a: float, b: float) -> bool:
    return not numbers_differ(float(a), float(b), rtol=1e-9, atol=1e-15)


def _rounded(expected: float) -> dict:
    """The mistake of rounding the answer, for ``diagnose``."""
    return {f"your answer is the right value rounded to {d} decimals: return it unrounded":
            (lambda d=d: round(expected, d)) for d in range(1, 9)}


def _compare_probability(explain):
    """A ``compare`` for a probability: the two numbers with the digits that tell them apart,
    what the expected value is made of (``explain(case)``: a statement, never a guess) and,
    where the answer is what a known mistake computes, that mistake (``mistakes(case, expected)``)."""
    def compare(case: Case, expected: float, got: float) -> Optional[str]:
        got = float(got)
        if _close(expected, got):
            return None
        shown = fmt_pair(expected, got)
        made_of, mistakes = explain(case, expected)
        message = f"expected {shown[0]}{made_of}, got {shown[1]}"
        cause = diagnose(got, expected, {**mistakes, **_rounded(expected)}, _close)
        return f"{message}: {cause}" if cause else message
    return compare


def _as(kind: str, counts: Mapping) -> Mapping:
    """The counts as the notebook says a case may pass them: a dict or a Counter."""
    return Counter(counts) if kind == "Counter" else dict(counts)


# ---------------------------------------------------------------------------------------------
# count_ngrams(sentences, n) -> {n-tuple: count}
# ---------------------------------------------------------------------------------------------

register(Check(
    name="01_ngram.count_ngrams", points=2, reference=ngram.count_ngrams,
    visible=lambda: [Case("n=2 on 'the cat sat on the mat'", (CAT_MAT[:1], 2)),
                     Case("n=3 on three sentences", (CAT_MAT, 3))],
    hidden=lambda: [Case(f"n={n}, random corpus {seed}", (random_corpus(seed), n))
                    for seed, n in [(1, 1), (2, 2), (3, 3), (4, 4)]]
    + [Case("n=1 on CAT_MAT (no <s> at all)", (CAT_MAT, 1)),
       Case("n=3 on an empty sentence", ([[]], 3)),
       Case("n=4 on one-word sentences", ([["a"], ["b"], ["a"]], 4)),
       Case("no sentences at all", ([], 2)),
       Case("n=3 on 300 random sentences", (random_corpus(5, sentences=300, max_len=12), 3))],
    returns=MAPPING_TYPES, compare=compare_counts))


# ---------------------------------------------------------------------------------------------
# mle_probability(ngram_counts, context, word) and addk_probability(..., k, vocab_size)
# ---------------------------------------------------------------------------------------------

def _count_cases(seed_base: int, extra: tuple = ()):
    """(counts, context, word) cases, the counts a Counter in some and a dict in others: seen,
    unseen word, unseen context, the end </s>, n = 1 and 2, random corpora."""
    cat3, stu3 = ngram.count_ngrams(CAT_MAT, 3), ngram.count_ngrams(STUDENTS, 3)

    def case(label, kind, counts, context, word):
        return Case(f"{label} (counts as a {kind})", (_as(kind, counts), context, word) + extra)

    visible = [case("P(cat | the fat), trigrams of CAT_MAT", "Counter", cat3, ("the", "fat"), "cat"),
               case("P(books | opened their), trigrams of STUDENTS", "dict", stu3, ("opened", "their"), "books"),
               case("P(pens | opened their), a word never seen there", "dict", stu3, ("opened", "their"), "pens")]
    hidden = [case("P(the | <s> <s>), the first word of a sentence", "Counter", cat3, ("<s>", "<s>"), "the"),
              case("P(sat | <s> the), a word never seen there", "Counter", cat3, ("<s>", "the"), "sat"),
              case("P(</s> | cat sat), the end of a sentence", "dict", cat3, ("cat", "sat"), "</s>"),
              case("P(sat | <s> the), a word never seen there", "dict", cat3, ("<s>", "the"), "sat"),
              case("P(books | their their), a context never seen", "Counter", stu3, ("their", "their"), "books"),
              case("P(books | their their), a context never seen", "dict", stu3, ("their", "their"), "books"),
              case("P(the), unigrams of CAT_MAT (the context is ())", "dict",
                   ngram.count_ngrams(CAT_MAT, 1), (), "the"),
              case("P(opened | students), bigrams of STUDENTS", "Counter",
                   ngram.count_ngrams(STUDENTS, 2), ("students",), "opened")]
    for i, seed in enumerate(range(seed_base, seed_base + 3)):
        counts = ngram.count_ngrams(random_corpus(seed), 3)
        (h1, h2, w) = sorted(counts)[seed % len(counts)]
        hidden.append(case(f"random corpus {seed}, P({w} | {h1} {h2})", ("dict", "Counter")[i % 2],
                           counts, (h1, h2), w))
    return visible, hidden


def _mle_parts(case: Case, expected: float):
    """What the MLE is made of on this case, and the mistakes that give other numbers."""
    counts, context, word = case.args[:3]
    context = tuple(context)
    c_hw, c_h = counts.get(context + (word,), 0), ngram.context_count(counts, context)
    made_of = f" = count({quote(context + (word,))}) {c_hw} / count({quote(context)} *) {c_h}"
    if not context:
        made_of = f" = count({quote((word,))}) {c_hw} / {c_h} tokens"
    if c_h == 0:
        made_of = f" (the context {quote(context)} was never seen)"
    types = sum(1 for g, c in counts.items() if g[:-1] == context and c > 0)
    ending = sum(c for g, c in counts.items() if g[1:] == context)
    mistakes = {
        "your denominator is the count of all n-grams; it must be c(h .), how often the context "
        "was followed by something": lambda: c_hw / sum(counts.values()),
        "your denominator is the number of different words seen after the context, not how "
        "often it was followed by something": lambda: c_hw / types,
        "your denominator counts the n-grams that end with the context; it must count those "
        "that start with it": lambda: c_hw / ending,
        "your denominator is one too large": lambda: c_hw / (c_h + 1),
    }
    return made_of, mistakes


def _addk_parts(case: Case, expected: float):
    counts, context, word, k, V = case.args
    context = tuple(context)
    c_hw, c_h = counts.get(context + (word,), 0), ngram.context_count(counts, context)
    made_of = f" = (count {c_hw} + k {k:g}) / (count({quote(context)} *) {c_h} + k {k:g} * V {V})"
    mistakes = {
        "an unseen n-gram must get probability k / (c(h .) + k |V|), not 0":
            lambda: 0.0 if c_hw == 0 else None,
        "your denominator lacks |V|: it must be c(h .) + k |V|": lambda: (c_hw + k) / (c_h + k),
        "your denominator lacks k: it must be c(h .) + k |V|": lambda: (c_hw + k) / (c_h + V),
        "you added k to the numerator only: the denominator must be c(h .) + k |V|":
            lambda: (c_hw + k) / c_h,
        "your answer is the unsmoothed MLE: add k to the count and k |V| to the denominator":
            lambda: c_hw / c_h,
        "your answer uses k = 1 instead of the k given": lambda: (c_hw + 1) / (c_h + V),
        "your denominator uses |V| + 1; vocab_size already counts every predictable token, </s> included":
            lambda: (c_hw + k) / (c_h + k * (V + 1)),
    }
    return made_of, mistakes


_mle_visible, _mle_hidden = _count_cases(20)
register(Check(
    name="01_ngram.mle_probability", points=1, reference=ngram.mle_probability,
    visible=lambda: _mle_visible, hidden=lambda: _mle_hidden, returns=NUMBER_TYPES,
    compare=_compare_probability(_mle_parts)))

_addk_visible, _addk_hidden = _count_cases(30, extra=(1.0, 12))
_addk_hidden = _addk_hidden + [
    Case(c.label + ", k=0.1, V=20", c.args[:3] + (0.1, 20)) for c in _addk_hidden[:4]] + [
    Case(c.label + ", k=2, V=11", c.args[:3] + (2.0, 11)) for c in _addk_visible[1:]] + [
    Case(c.label + ", k=0.01, V=10000", c.args[:3] + (0.01, 10_000)) for c in _addk_visible[:1]]
register(Check(
    name="01_ngram.addk_probability", points=2, reference=ngram.addk_probability,
    visible=lambda: _addk_visible, hidden=lambda: _addk_hidden, returns=NUMBER_TYPES,
    compare=_compare_probability(_addk_parts)))


# ---------------------------------------------------------------------------------------------
# perplexity(prob, sentences, n)
# ---------------------------------------------------------------------------------------------

class RecordingModel:
    """A probability function prob(context, word) from a table of n-gram probabilities (and a
    default for the rest) that remembers what it was asked, as plain (context, word) pairs."""

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


def _tokens(sentences) -> int:
    return sum(len(s) + 1 for s in sentences)


def _perplexity_cases():
    # a case's inputs: (probability table, default probability, sentences, n)
    long_text = random_corpus(200, sentences=600, max_len=10)
    visible = [Case("a uniform model over 8 tokens on CAT_MAT (answer: 8)", ({}, 1 / 8, CAT_MAT, 3)),
               Case("an add-k bigram model on STUDENTS", (*_addk_table(STUDENTS, 2), STUDENTS[:2], 2)),
               Case(f"an add-k trigram model on a held-out text of {_tokens(long_text):,} tokens",
                    (*_addk_table(random_corpus(60, 200), 3), long_text, 3))]
    hidden = [Case(f"add-k {n}-gram model, random corpus {seed}",
                   (*_addk_table(random_corpus(seed), n), random_corpus(seed + 100, 10), n))
              for seed, n in [(40, 1), (41, 2), (42, 3), (43, 4)]]
    for seed, n, size in [(44, 1, 900), (45, 2, 700), (46, 4, 800)]:
        text = random_corpus(seed + 100, size, max_len=9)
        hidden.append(Case(f"add-k {n}-gram model on a held-out text of {_tokens(text):,} tokens",
                           (*_addk_table(random_corpus(seed, 150), n), text, n)))
    hidden += [Case("a model that gives P(cat | the) = 0 (answer: inf)",
                    ({("the", "cat"): 0.0}, 0.25, CAT_MAT, 2)),
               Case("three empty sentences: only </s> is predicted", (*_addk_table(CAT_MAT, 2), [[], [], []], 2)),
               Case("one sentence of one word, trigram model", (*_addk_table(CAT_MAT, 3), [["cat"]], 3))]
    return visible, hidden


def _probe_perplexity(student_fn, inputs, seconds):
    """The student's perplexity of a recording model, and every probability it asked for."""
    table, default, sentences, n = inputs
    model = RecordingModel(table, default)
    got, problem = call_student(student_fn, (model, sentences, n), seconds, copy_inputs=False)
    if problem:
        return {"error": problem}
    return {"answer": describe(got), "calls": [describe(list(call)) for call in model.calls]}


def _ppl(log2_sum: float, W: int) -> float:
    return 2.0 ** (-log2_sum / W)


def _combination_mistakes(probs: list, sentence_lengths: list, n: int) -> dict:
    """Ways of combining the right probabilities wrongly, for ``diagnose``: {explanation:
    () -> what that way gives}."""
    W = len(probs)
    log2s = [math.log2(p) for p in probs]
    S = sum(log2s)

    def product():
        total = 1.0
        for p in probs:
            total *= p
        return math.inf if total == 0.0 else total ** (-1 / W)

    def per_sentence():
        out, start = [], 0
        for length in sentence_lengths:
            out.append(_ppl(sum(log2s[start:start + length + 1]), length + 1))
            start += length + 1
        return sum(out) / len(out)

    return {
        f"your answer is infinite although every probability is above 0: the product of these {W:,} "
        "probabilities underflows to 0.0 in floating point; add their logarithms instead": product,
        "mixing log bases? 2^(mean of -log2 p) = e^(mean of -ln p)": lambda: math.exp(-S / W),
        "mixing log bases? 2^(mean of -log2 p) = e^(mean of -ln p), not 2^(mean of -ln p)":
            lambda: 2.0 ** (-S * math.log(2) / W),
        "mixing log bases? 2^(mean of -log2 p), not 2^(mean of -log10 p)":
            lambda: 2.0 ** (-S * math.log10(2) / W),
        "your answer is the cross-entropy -(1/W) sum log2 p; the perplexity is 2 to that power":
            lambda: -S / W,
        "your answer is 1 / perplexity: the exponent is minus the mean log-probability": lambda: 2.0 ** (S / W),
        "your answer is the mean of the sentences' perplexities: average the log-probabilities over "
        "all tokens of all sentences, then exponentiate once": per_sentence,
        f"you divided by the number of words ({W - len(sentence_lengths):,}); W counts every predicted "
        f"token, </s> included ({W:,} here)": lambda: _ppl(S, W - len(sentence_lengths)),
        f"you divided by the number of tokens with the <s> padding; W counts the predicted tokens "
        f"only ({W:,} here)": lambda: _ppl(S, W + (n - 1) * len(sentence_lengths)) if n > 1 else None,
    }


def _judge_perplexity(case: Case, result) -> Optional[str]:
    table, default, sentences, n = case.args
    problem = type_problem(result["answer"], NUMBER_TYPES)
    if problem:
        return problem
    got = float(restore(result["answer"]))
    reference_model = RecordingModel(table, default)
    expected = ngram.perplexity(reference_model, sentences, n)
    if not _numbers_differ(expected, got):
        return None
    message = "expected {}, got {}".format(*fmt_pair(expected, got))
    should = reference_model.calls
    if math.isinf(expected):
        zero = next(c for c in should if reference_model.table.get(c[0] + (c[1],), default) == 0)
        return (f"{message}: the model gives prob{zero} = 0, and one token with probability 0 makes "
                "the perplexity infinite")
    asked = [tuple(restore(c)) for c in result["calls"]]
    for i, (a, b) in enumerate(zip(asked, should)):
        if a != b:
            end = " (</s> is predicted too)" if b[1] == "</s>" else ""
            return (f"{message}. Your call number {i + 1} to prob was prob{a}, expected prob{b}{end}: "
                    "each token is predicted from the n-1 tokens before it in the padded sentence")
    if len(asked) < len(should):
        missing = should[len(asked)]
        return (f"{message}. You asked for {len(asked):,} probabilities, expected {len(should):,}; "
                f"the first one missing is prob{missing}")
    if len(asked) > len(should):
        return f"{message}. You asked for {len(asked):,} probabilities, expected {len(should):,}"
    probs = [reference_model.table.get(h + (w,), default) for h, w in should]
    cause = diagnose(got, expected, _combination_mistakes(probs, [len(s) for s in sentences], n),
                     lambda a, b: not _numbers_differ(a, b))
    if cause:
        return f"{message}. You asked for the right probabilities: {cause}"
    return (f"{message}. You asked for the right probabilities but combined them differently: "
            f"ppl = 2^(-(1/W) sum log2 p), W = the number of predicted tokens, </s> included "
            f"({len(should):,} here)")


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
    """next_word_distribution(context) of a small n-gram table, recording the contexts asked."""

    def __init__(self, table: Mapping[tuple, Mapping[str, float]]):
        self.table, self.contexts = table, []

    def __call__(self, context):
        context = tuple(context)
        self.contexts.append(context)
        if context not in self.table:
            raise KeyError(f"the model has no context {context}: a context is the tuple of the last "
                           "n-1 tokens, starting from ('<s>',) * (n-1), and () when n = 1")
        return dict(self.table[context])


# A trigram model over {x, y}: the second word depends on the first, so a sampler that does not
# slide its context, or that always takes the most likely word, gets the distribution wrong.
_T = {("<s>", "<s>"): {"x": 0.6, "y": 0.4},
      ("<s>", "x"): {"x": 0.1, "y": 0.7, "</s>": 0.2},
      ("<s>", "y"): {"x": 0.5, "y": 0.1, "</s>": 0.4}}
for _a in "xy":
    for _b in "xy":
        _T[(_a, _b)] = {"x": 0.2, "y": 0.3, "</s>": 0.5} if _a == _b else {"x": 0.3, "y": 0.2, "</s>": 0.5}
# Models that never end a sentence: every sentence has exactly max_len words.
_ENDLESS_2 = {("<s>",): {"x": 1.0, "</s>": 0.0}, ("x",): {"x": 1.0, "</s>": 0.0}}
_ENDLESS_3 = {context: {"x": 0.5, "y": 0.5, "</s>": 0.0}
              for context in [("<s>", "<s>"), ("<s>", "x"), ("<s>", "y"), ("x", "x"), ("x", "y"),
                              ("y", "x"), ("y", "y")]}
_BIGRAM = {("<s>",): {"x": 0.3, "y": 0.7}, ("x",): {"x": 0.5, "</s>": 0.5},
           ("y",): {"y": 0.2, "x": 0.2, "</s>": 0.6}}
_UNIGRAM = {(): {"x": 0.5, "y": 0.2, "</s>": 0.3}}

SEEDED_RUN = 20   # sentences drawn from each seeded generator (a run): two seeds, one of them twice
LONGEST = 6       # sentences longer than this are one bucket of the distribution test


def _probe_sampling(student_fn, inputs, seconds):
    """Three runs of ``SEEDED_RUN`` sentences, from generators seeded ``SEEDS[0]``, ``SEEDS[0]``
    again and ``SEEDS[1]``, with whether each run drew from its generator and the contexts asked
    for in the first; then ``draws`` sentences from a generator seeded ``seed``. The whole case
    has ``seconds``. Stops at the first answer that is not a list or longer than ``max_len``."""
    table, n, max_len, draws, seed = inputs
    table = {tuple(k): v for k, v in table.items()}
    deadline, total = time.perf_counter() + seconds, 3 * SEEDED_RUN + draws
    result = {"runs": [], "used": [], "contexts": [], "samples": []}

    def draw(rng, contexts):
        """One sentence, described; or a message that ends the case."""
        sampler = TableSampler(table)
        got, problem = call_student(student_fn, (sampler, n, rng, max_len),
                                    max(deadline - time.perf_counter(), 1e-3), copy_inputs=False)
        if problem and time.perf_counter() >= deadline:
            drawn = len(result["samples"]) + SEEDED_RUN * len(result["runs"])
            problem = (f"this case draws {total:,} sentences within {seconds:g} s in all, and yours had "
                       f"drawn {drawn:,} when the time was up (an infinite loop, or a much slower "
                       "method than needed?)")
        if contexts is not None:
            contexts.append([describe(c) for c in sampler.contexts])
        return describe(got), problem, type(got) is not list or len(got) > max_len

    for run_seed in (SEEDS[0], SEEDS[0], SEEDS[1]):
        rng, run = np.random.default_rng(run_seed), []
        before = repr(rng.bit_generator.state)
        for _ in range(SEEDED_RUN):
            answer, problem, stop = draw(rng, result["contexts"] if not result["runs"] else None)
            if problem:
                return {"error": problem}
            run.append(answer)
            if stop:
                result["runs"].append(run)
                return result
        result["runs"].append(run)
        result["used"].append(repr(rng.bit_generator.state) != before)
    rng = np.random.default_rng(seed)
    for _ in range(draws):
        answer, problem, stop = draw(rng, None)
        if problem:
            return {"error": problem}
        result["samples"].append(answer)
        if stop:
            return result
    return result


def _sentence_problem(answer: dict, max_len: int, endless: bool) -> Optional[str]:
    """What is wrong with one sampled sentence on its own, if anything."""
    problem = type_problem(answer, ("list",))
    if problem:
        return problem
    for word in answer["items"]:
        if word["type"] != "str":
            return (f"your sentence {_short_sentence(answer)} contains a {word['type']}: return a list "
                    "of words (strings)")
    words = restore(answer)
    if "</s>" in words or "<s>" in words:
        return f"your sentence {_short_sentence(answer)} contains <s> or </s>: return the words only"
    if len(words) > max_len:
        return (f"your sentence has {len(words)} words, more than max_len = {max_len}: stop after "
                "max_len words")
    if endless and len(words) < max_len:
        return (f"this model never ends a sentence (P(</s>) = 0 in every context), so every sentence "
                f"must have max_len = {max_len} words; yours has {len(words)}")
    return None


def _short_sentence(answer: dict) -> str:
    words = [w.get("value", f"<{w['type']}>") for w in answer["items"][:12]]
    return repr(words)[:-1] + (", ...]" if len(answer["items"]) > 12 else "]")


def _contexts(n: int, sentence: list) -> list:
    """The context of every draw of ``sentence``: (<s>,) * (n-1), slid by each word."""
    out = [("<s>",) * (n - 1)]
    for w in sentence:
        out.append((out[-1] + (w,))[1:] if n > 1 else ())
    return out


def _context_problem(n: int, max_len: int, sentence: list, asked: list) -> Optional[str]:
    """Were the contexts asked for those of the sentence's draws, in order? A context may be
    asked more than once in a row, and once more after max_len words (a draw not used)."""
    expected = _contexts(n, sentence)
    runs = [i for i in range(len(expected)) if i == 0 or expected[i] != expected[i - 1]]  # run starts
    run_of = [sum(1 for r in runs if r <= i) - 1 for i in range(len(expected))]
    j = 0  # the run of expected contexts the sampler is at
    for a in asked:
        if a == expected[runs[j]]:
            continue
        if j + 1 < len(runs) and a == expected[runs[j + 1]]:
            j += 1
            continue
        if j == 0 and a == asked[0]:
            return (f"you first asked for the distribution of context {a}, expected {expected[0]}: "
                    "start from ('<s>',) * (n-1)")
        i = runs[j + 1] if j + 1 < len(runs) else len(sentence)
        shown = f"expected {expected[i]}" if i < len(expected) else "after the last word"
        return (f"after sampling {sentence[:i]}, you asked for the distribution of context {a}, "
                f"{shown}: slide the context by one word after each draw")
    if max_len == 0:
        return None
    needed = run_of[len(sentence)] if len(sentence) < max_len else run_of[len(sentence) - 1]
    if j < needed:
        i = runs[j + 1]
        return (f"after sampling {sentence[:i]}, you never asked for the distribution of context "
                f"{expected[i]}: draw every word, and the end </s>, from next_word_distribution of "
                "the last n-1 tokens")
    return None


def _sentence_distribution(table, n: int, max_len: int) -> dict:
    """Exact probability of every sentence of at most ``LONGEST`` words under the table model
    (stopping at max_len words), and of the rest under the key ``"longer"``."""
    out = Counter()
    frontier = [((), ("<s>",) * (n - 1), 1.0)]
    while frontier:
        sentence, context, p = frontier.pop()
        if len(sentence) == max_len:
            out[sentence] += p
            continue
        for w, q in table[context].items():
            if q == 0:
                continue
            if w == "</s>":
                out[sentence] += p * q
            elif len(sentence) == LONGEST:
                out["longer"] += p * q
            else:
                frontier.append((sentence + (w,), ((context + (w,))[1:] if n > 1 else ()), p * q))
    return out


def total_variation(exact: Mapping, samples: list) -> float:
    """Total variation distance between ``exact`` and the sentences' frequencies (sentences
    longer than ``LONGEST`` words in one bucket)."""
    counts = Counter(tuple(s) if len(s) <= LONGEST else "longer" for s in samples)
    return 0.5 * sum(abs(exact.get(s, 0.0) - counts[s] / len(samples)) for s in set(exact) | set(counts))


def _tv_allowed(exact: Mapping, draws: int) -> float:
    """A total variation that a right sampler exceeds in at most one case in a million: its
    mean is at most 0.5 sum sqrt(p (1 - p) / N) (Jensen), and one sentence changes it by at most
    1 / N, so it exceeds its mean by t with probability at most exp(-2 N t^2) (McDiarmid)."""
    mean_bound = 0.5 * sum(math.sqrt(p * (1 - p) / draws) for p in exact.values())
    return mean_bound + math.sqrt(math.log(1e6) / (2 * draws))


def _judge_sampling(case: Case, result) -> Optional[str]:
    table, n, max_len, draws, seed = case.args
    endless = all(dist.get("</s>", 0) == 0 for dist in table.values())
    stochastic = not endless or any(sum(1 for p in d.values() if p > 0) > 1 for d in table.values())
    everything = [s for run in result["runs"] for s in run] + result["samples"]
    for answer in everything:
        problem = _sentence_problem(answer, max_len, endless)
        if problem:
            return problem
    first = restore(result["runs"][0][0])
    asked = [tuple(restore(c)) for c in result["contexts"][0]]
    problem = _context_problem(n, max_len, first, asked)
    if problem:
        return problem
    if len(result["runs"]) < 3 or len(result["samples"]) < draws:
        return f"the grader received {len(everything)} of the {3 * SEEDED_RUN + draws} sentences of this case"
    if stochastic and max_len > 0:
        run = [{"type": "list", "kind": "sequence", "items": r} for r in result["runs"]]
        problem = judge_seeded({"answer": run[0], "again": run[1], "other_seed": run[2], "used": result["used"]})
        if problem:
            return problem
    samples = [restore(s) for s in result["samples"]]
    exact = _sentence_distribution(table, n, max_len)
    tv, allowed = total_variation(exact, samples), _tv_allowed(exact, draws)
    if tv > allowed:
        top = max(exact, key=exact.get)
        freq = sum(1 for s in samples if tuple(s) == top) / len(samples)
        shown = "the empty sentence" if top == () else quote(top)
        return (f"the sentences you sample do not follow the model: total variation distance "
                f"{tv:.3f} over {len(samples):,} samples (a right sampler stays below {allowed:.3f}); "
                f"e.g. {shown} should have frequency {exact[top]:.3f}, yours {freq:.3f}")
    return None


register(Check(
    name="01_ngram.sample_sentence", points=2, reference=ngram.sample_sentence,
    visible=lambda: [Case("trigram table over {x, y}, max_len=20, 3000 samples", (_T, 3, 20, 3000, 0)),
                     Case("a bigram model that never ends a sentence, max_len=5", (_ENDLESS_2, 2, 5, 20, 0))],
    hidden=lambda: [Case("trigram table, other seed", (_T, 3, 20, 3000, 7)),
                    Case("trigram table, max_len=2 (often reached)", (_T, 3, 2, 3000, 3)),
                    Case("trigram table, max_len=1", (_T, 3, 1, 2000, 4)),
                    Case("trigram table, max_len=0", (_T, 3, 0, 5, 5)),
                    Case("bigram table", (_BIGRAM, 2, 20, 3000, 1)),
                    Case("a unigram model (n=1: the context is ())", (_UNIGRAM, 1, 20, 3000, 2)),
                    Case("a trigram model that never ends a sentence, max_len=12", (_ENDLESS_3, 3, 12, 200, 6))],
    probe=_probe_sampling, judge=_judge_sampling))


# ---------------------------------------------------------------------------------------------
# kn_bigram_probability(bigram_counts, prev, word, discount)
# ---------------------------------------------------------------------------------------------

def _kn_parts(case: Case, expected: float):
    """What P_KN is made of on this case, and the mistakes that give other numbers."""
    counts, prev, word, d = case.args
    seen = {g: c for g, c in counts.items() if c > 0}
    followers = len({g[1] for g in seen if g[0] == prev})
    preceders = len({g[0] for g in seen if g[1] == word})
    after_word = len({g[1] for g in seen if g[0] == word})
    total = sum(c for g, c in seen.items() if g[0] == prev)
    types, tokens = len(seen), sum(seen.values())
    words = len({g[1] for g in seen})
    p_cont = preceders / types
    unigram = sum(c for g, c in seen.items() if g[1] == word) / tokens
    c_vw = counts.get((prev, word), 0)
    if total == 0:
        made_of = (f" = P_cont({word}) = N1+(. {word}) {preceders} / {types} bigram types "
                   f"({quote([prev])} is never a context)")
        return made_of, {
            "a context never seen must get P_cont(w), not 0": lambda: 0.0,
            "your answer uses the unigram frequency of the word instead of its continuation "
            "probability": lambda: unigram,
        }
    disc, lam = max(c_vw - d, 0) / total, d * followers / total
    made_of = (f" = discounted {fmt(disc)} + lambda({prev}) {fmt(lam)} * P_cont({word}) {fmt(p_cont)} "
               f"(N1+(. {word}) = {preceders} of {types} bigram types)")
    return made_of, {
        "your answer uses the unigram frequency of the word instead of its continuation probability":
            lambda: disc + lam * unigram,
        "your answer leaves out lambda, the weight of the continuation term": lambda: disc + p_cont,
        "your continuation count is the number of words seen after the word; N1+(. w) counts the "
        "different words seen before it": lambda: disc + lam * after_word / types,
        "your P_cont divides by the number of bigram tokens; N1+(. .) is the number of different bigrams":
            lambda: disc + lam * preceders / tokens,
        "your P_cont divides by the number of different words; N1+(. .) is the number of different bigrams":
            lambda: disc + lam * preceders / words,
        "your discounted count can go below 0: it is max(c(v w) - d, 0)":
            lambda: (c_vw - d) / total + lam * p_cont,
        "your lambda lacks N1+(v .): it is d N1+(v .) / c(v .)": lambda: disc + d / total * p_cont,
        "your answer uses the discount 0.75 instead of the one given":
            lambda: max(c_vw - 0.75, 0) / total + 0.75 * followers / total * p_cont,
    }


def _kn_cases():
    stu2, cat2 = ngram.count_ngrams(STUDENTS, 2), ngram.count_ngrams(CAT_MAT, 2)

    def case(label, kind, counts, prev, word, d=0.75):
        return Case(f"{label} (counts as a {kind})", (_as(kind, counts), prev, word, d))

    visible = [case("P_KN(cat | the) on CAT_MAT", "Counter", cat2, "the", "cat"),
               case("P_KN(their | opened) on STUDENTS", "dict", stu2, "opened", "their")]
    hidden = [case("an unseen bigram, P_KN(mat | sat)", "dict", cat2, "sat", "mat"),
              case("an unseen bigram, P_KN(mat | sat)", "Counter", cat2, "sat", "mat"),
              case("a context never seen, P_KN(opened | zebra)", "dict", stu2, "zebra", "opened"),
              case("a context never seen, P_KN(opened | zebra)", "Counter", stu2, "zebra", "opened"),
              case("a word never seen, P_KN(zebra | the)", "dict", cat2, "the", "zebra"),
              case("P_KN(</s> | sat), the end of a sentence", "dict", cat2, "sat", "</s>"),
              case("P_KN(the | <s>), the start of a sentence", "Counter", stu2, "<s>", "the"),
              case("discount 0.5, P_KN(mat | the)", "dict", cat2, "the", "mat", 0.5),
              case("discount 1, P_KN(students | the)", "Counter", stu2, "the", "students", 1.0)]
    for i, seed in enumerate((50, 51)):
        counts = ngram.count_ngrams(random_corpus(seed), 2)
        prev = sorted(counts)[seed % len(counts)][0]
        hidden.append(case(f"random corpus {seed}, P_KN(a | {prev})", ("dict", "Counter")[i], counts, prev, "a", 0.8))
    return visible, hidden


_kn_visible, _kn_hidden = _kn_cases()
register(Check(
    name="01_ngram.kn_bigram_probability", points=3, reference=ngram.kn_bigram_probability,
    visible=lambda: _kn_visible, hidden=lambda: _kn_hidden, returns=NUMBER_TYPES,
    compare=_compare_probability(_kn_parts)))
