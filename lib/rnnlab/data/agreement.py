"""Subject-verb agreement minimal pairs: does a language model know which noun the verb agrees with?

A minimal pair is a Toy English sentence and the same sentence with its main verb in the
other number (Linzen et al. 2016, Marvin & Linzen 2018):

    good: the dog near the cats that the judges like  smiles .
    bad:  the dog near the cats that the judges like  smile  .

A model *prefers* the grammatical sentence when ln P(good) > ln P(bad); its agreement accuracy
is the fraction of pairs where it does. Since both sentences share every token but one, this is
the same as comparing P(verb | prefix) and the probability of everything after it. The pairs
are annotated with the distance between the subject's head noun and the verb and with the
number of *attractors* (nouns of the other number in between, here ``cats`` and ``judges``):
an n-gram model sees only the last n-1 words, so it fails once the distance exceeds them and
is misled by attractors; the exact oracle scores 100%.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..lm import LanguageModel
from .toy_english import ToyEnglish


@dataclass(frozen=True)
class AgreementPair:
    """``good``/``bad``: token lists differing only at ``verb_index``; ``subject_index`` is
    the subject's head noun; ``distance`` = verb_index - subject_index; ``attractors`` the
    nouns of the other number in between; ``number`` the subject's number (``sg``/``pl``)."""

    good: tuple
    bad: tuple
    verb_index: int
    subject_index: int
    distance: int
    attractors: int
    number: str


@dataclass
class AgreementReport:
    """Accuracy overall and broken down; each breakdown maps a value to (accuracy, count)."""

    accuracy: float
    n: int
    by_attractors: dict
    by_distance: dict

    def __str__(self) -> str:
        rows = [f"agreement accuracy {self.accuracy:.3f} on {self.n} pairs",
                "attractors: " + ", ".join(f"{k}: {a:.3f} (n={c})" for k, (a, c) in self.by_attractors.items()),
                "distance:   " + ", ".join(f"{k}: {a:.3f} (n={c})" for k, (a, c) in self.by_distance.items())]
        return "\n".join(rows)


def agreement_pairs(n: int = 1000, seed: int = 0, language: ToyEnglish | None = None,
                    max_attractors: int = 2, max_draws: int = 200_000) -> list[AgreementPair]:
    """``n`` minimal pairs, balanced over attractor counts 0, 1, ..., ``max_attractors`` (the
    last bucket holds that many or more) as far as the language allows within ``max_draws``
    sampled sentences; buckets that stay short are topped up with pairs of 0 attractors.

    Sentences are drawn from ``language`` (default: ``ToyEnglish()``) with their own seeded
    stream; a pair is kept only if its flipped sentence is outside the language (probability 0
    under the oracle), so every pair is a true minimal pair. Same seed, same pairs.
    """
    language = language or ToyEnglish()
    oracle = language.oracle()
    rng = np.random.default_rng([seed, 3])  # a stream of its own, apart from the corpus splits
    buckets: dict[int, list[AgreementPair]] = {k: [] for k in range(max_attractors + 1)}
    quota = {k: n // (max_attractors + 1) + (1 if k < n % (max_attractors + 1) else 0) for k in buckets}
    spare: list[AgreementPair] = []
    for _ in range(max_draws):
        if all(len(buckets[k]) >= quota[k] for k in buckets):
            break
        s = language.sample(rng)
        k = min(s.attractors, max_attractors)
        if len(buckets[k]) >= quota[k] and (k != 0 or len(spare) >= n):
            continue
        bad = language.flip_number(s)
        if np.isfinite(oracle.logprob(bad)):
            continue  # the flipped sentence is grammatical under another reading: not a minimal pair
        pair = AgreementPair(tuple(s.tokens), tuple(bad), s.verb_index, s.subject_index,
                             s.distance, s.attractors, s.number)
        (buckets[k] if len(buckets[k]) < quota[k] else spare).append(pair)
    pairs = [p for k in sorted(buckets) for p in buckets[k]]
    pairs += spare[: n - len(pairs)]
    order = np.random.default_rng([seed, 4]).permutation(len(pairs))
    return [pairs[i] for i in order]


def agreement_accuracy(lm: LanguageModel, pairs: Sequence[AgreementPair]) -> AgreementReport:
    """Fraction of ``pairs`` where ``lm.logprob(good) > lm.logprob(bad)`` (ties count as
    failures), overall, by attractor count and by distance."""
    hits: dict[str, dict[int, list[int]]] = {"a": defaultdict(list), "d": defaultdict(list)}
    correct = []
    for p in pairs:
        ok = int(lm.logprob(list(p.good)) > lm.logprob(list(p.bad)))
        correct.append(ok)
        hits["a"][p.attractors].append(ok)
        hits["d"][p.distance].append(ok)

    def table(d: dict[int, list[int]]) -> dict[int, tuple[float, int]]:
        return {k: (float(np.mean(v)), len(v)) for k, v in sorted(d.items())}

    return AgreementReport(float(np.mean(correct)) if correct else float("nan"), len(correct),
                           table(hits["a"]), table(hits["d"]))
