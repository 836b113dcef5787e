"""The synthetic corpus every chapter trains on: seeded train/valid/test splits of Toy English.

One call gives the data, the language and its exact oracle:

    corpus = synthetic_corpus()               # size="default", seed=0
    corpus.train[1]                           # ['the', 'lazy', 'teachers', 'do', 'not', 'frown', '.']
    corpus.oracle.perplexity(corpus.test)     # the floor of every perplexity table

Each split is drawn from its own random stream (seeded by ``[seed, split]``), so the test set
does not change when the training set grows. Toy English is a finite language, so short
sentences recur and some test sentences also occur in the training set, exactly as they
would in any large sample of it.

Sizes (sentences; about 10 tokens per sentence with ``</s>``):

- ``"tiny"``:    200 / 50 / 50        for unit tests and quick demos
- ``"small"``:   1000 / 200 / 200     for exercises that train many models
- ``"default"``: 3000 / 400 / 400     about 30k training tokens: every chapter's model
  trains in under a minute on 2 CPU cores
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..vocab import Vocab
from .automaton import OracleLM
from .toy_english import Sentence, ToyEnglish, ToyEnglishConfig, classification_view, tagging_view

SIZES = {"tiny": (200, 50, 50), "small": (1000, 200, 200), "default": (3000, 400, 400)}
SPLITS = ("train", "valid", "test")


@dataclass
class SyntheticCorpus:
    """Annotated splits of Toy English (``sentences[split]``: list of ``Sentence``) with
    convenient views: ``.train``/``.valid``/``.test`` are lists of token lists."""

    language: ToyEnglish
    sentences: dict
    seed: int

    @property
    def train(self) -> list[list[str]]:
        return [s.tokens for s in self.sentences["train"]]

    @property
    def valid(self) -> list[list[str]]:
        return [s.tokens for s in self.sentences["valid"]]

    @property
    def test(self) -> list[list[str]]:
        return [s.tokens for s in self.sentences["test"]]

    @property
    def oracle(self) -> OracleLM:
        """The exact language model of the language the splits were drawn from."""
        return self.language.oracle()

    @cached_property
    def vocab(self) -> Vocab:
        """The whole lexicon (plus ``<unk> <s> </s>``), whether or not the splits use it all."""
        return self.language.vocab

    def tagged(self, split: str) -> list[tuple[list[str], list[str]]]:
        """Tagging view of a split: (tokens, UPOS tags) per sentence."""
        return tagging_view(self.sentences[split])

    def labelled(self, split: str) -> list[tuple[list[str], int]]:
        """Classification view of a split: (tokens, polarity label 1/0) per sentence."""
        return classification_view(self.sentences[split])

    def num_tokens(self, split: str) -> int:
        """Tokens of a split, one ``</s>`` per sentence included (the W of perplexity)."""
        return sum(len(s.tokens) + 1 for s in self.sentences[split])

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={len(v)} sentences/{self.num_tokens(k)} tokens" for k, v in self.sentences.items())
        return f"SyntheticCorpus({sizes}, seed={self.seed})"


def synthetic_corpus(size: str | tuple[int, int, int] = "default", seed: int = 0,
                     config: ToyEnglishConfig | None = None) -> SyntheticCorpus:
    """Train/valid/test samples of Toy English. ``size`` is a name of ``SIZES`` or a tuple of
    sentence counts (train, valid, test); ``config`` changes the grammar (default grammar if
    None). Same arguments, same corpus, on every run."""
    counts = SIZES[size] if isinstance(size, str) else tuple(size)
    language = ToyEnglish(config)
    sentences: dict[str, list[Sentence]] = {
        split: language.sample_many(n, np.random.default_rng([seed, i]))
        for i, (split, n) in enumerate(zip(SPLITS, counts))}
    return SyntheticCorpus(language, sentences, seed)
