"""A synthetic translation task with a known word alignment: Toy English into Toy SOV.

Toy SOV is a second toy language, derived from Toy English by a deterministic transduction of
each sentence's derivation:

- **verb-final clauses**: the verb group moves after its object and the clause's
  prepositional phrase ("likes the cat" -> "the cat likes"), in main and relative clauses;
- **postpositions**: "near the cat" -> "the cat near";
- **adjectives after the noun**: "the lazy dog" -> "the dog lazy";
- **negation after the verb, without do-support**: "does not like" -> "like not", "is not
  happy" -> "happy is not" (``does``/``do`` have no translation);
- **new words**: every other word is renamed by a fixed bijective lexicon (``LEXICON``:
  "dog" -> a made-up word), punctuation stays.

Every target word comes from exactly one source word, and the transduction records which:
``TranslationPair.alignment[j]`` is the position in the source of target word j. The alignment
is the gold standard attention can be scored against (``rnnlab.attention``).

The transduction parses the sentence's preterminal categories (recorded by Toy English with
every sampled sentence) by recursive descent over the grammar of ``toy_english``. A
prepositional phrase or relative clause is attached to the nearest constituent it can follow
(where Toy English is ambiguous, e.g. "likes the cat that sings near the bird", this picks one
reading, the same every time).

    corpus = translation_corpus()        # the splits of synthetic_corpus(), translated
    pair = corpus.train[0]
    pair.source, pair.target, pair.alignment
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from typing import Sequence

import numpy as np

from .synthetic import SPLITS, SyntheticCorpus, synthetic_corpus
from .toy_english import PUNCTUATION, Sentence, ToyEnglish, ToyEnglishConfig

CONSONANTS, VOWELS = "klmnt", "aiu"
NOUN_STARTS = ("DET", "ADJ", "N")         # the categories a noun phrase can start with


def _lexicon() -> dict[str, str]:
    """Every Toy English word (of the full lexicon) -> a distinct made-up word of three
    different syllables ("kakina"), drawn by a fixed seed; punctuation maps to itself."""
    words = sorted(w for w in ToyEnglish().words if w not in dict(PUNCTUATION))
    syllables = [c + v for c, v in product(CONSONANTS, VOWELS)]
    names = ["".join(s) for s in product(syllables, repeat=3) if len(set(s)) == 3]
    chosen = np.random.default_rng(0).choice(len(names), size=len(words), replace=False)
    lexicon = {w: names[i] for w, i in zip(words, chosen)}
    lexicon.update({p: p for p, _ in PUNCTUATION})
    return lexicon


#: The Toy English -> Toy SOV word map (bijective).
LEXICON = _lexicon()


@dataclass(frozen=True)
class TranslationPair:
    """A Toy English sentence and its Toy SOV translation: ``source`` (S words), ``target``
    (T words) and ``alignment`` (T source positions): target word j translates source word
    ``alignment[j]``."""

    source: tuple
    target: tuple
    alignment: tuple


class _Transducer:
    """Recursive descent over the categories of one sentence; every method consumes one
    constituent and returns the source positions of its translation, in target order."""

    def __init__(self, categories: Sequence[str]):
        self.categories, self.next = list(categories), 0

    def _peek(self) -> str | None:
        return self.categories[self.next] if self.next < len(self.categories) else None

    def _take(self, *allowed: str) -> int:
        if self._peek() not in allowed:
            raise ValueError(f"expected {allowed} at position {self.next}, got {self._peek()} "
                             f"in {self.categories}")
        self.next += 1
        return self.next - 1

    def sentence(self) -> list[int]:
        """S -> NP VP PUNCT."""
        order = self.noun_phrase() + self.verb_phrase() + [self._take("PUNCT")]
        if self.next != len(self.categories):
            raise ValueError(f"words left over after position {self.next} in {self.categories}")
        return order

    def noun_phrase(self) -> list[int]:
        """(DET) (ADJ) N (PP | RC) -> (DET) N (ADJ) (PP' | RC')."""
        det = [self._take("DET")] if self._peek() == "DET" else []
        adj = [self._take("ADJ")] if self._peek() == "ADJ" else []
        noun = [self._take("N")]
        if self._peek() == "ADP":
            modifier = self.prepositional_phrase()
        elif self._peek() == "REL":
            modifier = self.relative_clause()
        else:
            modifier = []
        return det + noun + adj + modifier

    def prepositional_phrase(self) -> list[int]:
        """ADP NP -> NP' ADP (a postposition)."""
        adposition = self._take("ADP")
        return self.noun_phrase() + [adposition]

    def relative_clause(self) -> list[int]:
        """REL VP -> REL VP' (subject relative); REL NP TV -> REL NP' TV' (object relative)."""
        relative = [self._take("REL")]
        if self._peek() in NOUN_STARTS:
            return relative + self.noun_phrase() + self.verb_group()[0]
        return relative + self.verb_phrase()

    def verb_group(self) -> tuple[list[int], bool]:
        """V -> V; DO NOT V_BASE -> V_BASE NOT (``do``/``does`` dropped). Also returns whether
        the verb is transitive."""
        if self._peek() == "DO":
            self._take("DO")
            negation = self._take("NOT")
            verb = self._take("V_TR_BASE", "V_IN_BASE")
            return [verb, negation], self.categories[verb] == "V_TR_BASE"
        verb = self._take("V_TR", "V_IN")
        return [verb], self.categories[verb] == "V_TR"

    def verb_phrase(self) -> list[int]:
        """TV NP (PP) -> NP' (PP') TV'; IV (PP) -> (PP') IV'; COP (NOT) ADJ -> ADJ COP (NOT)."""
        if self._peek() == "COP":
            copula = self._take("COP")
            negation = [self._take("NOT")] if self._peek() == "NOT" else []
            return [self._take("ADJ"), copula] + negation
        verb, transitive = self.verb_group()
        obj = self.noun_phrase() if transitive else []
        modifier = self.prepositional_phrase() if self._peek() == "ADP" else []
        return obj + modifier + verb


def translate(sentence: Sentence, language: ToyEnglish) -> TranslationPair:
    """The Toy SOV translation of a sampled (or parsed) Toy English ``sentence`` of
    ``language``, with its alignment."""
    categories = [language.preterminals[p].category for p in sentence.preterminals]
    order = _Transducer(categories).sentence()
    return TranslationPair(tuple(sentence.tokens), tuple(LEXICON[sentence.tokens[i]] for i in order),
                           tuple(order))


@dataclass
class TranslationCorpus:
    """The splits of a ``SyntheticCorpus``, translated: ``pairs[split]`` lists of
    ``TranslationPair``; ``.train``/``.valid``/``.test`` for short."""

    source: SyntheticCorpus
    pairs: dict

    @property
    def train(self) -> list[TranslationPair]:
        return self.pairs["train"]

    @property
    def valid(self) -> list[TranslationPair]:
        return self.pairs["valid"]

    @property
    def test(self) -> list[TranslationPair]:
        return self.pairs["test"]

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={len(v)}" for k, v in self.pairs.items())
        return f"TranslationCorpus({sizes} pairs, seed={self.source.seed})"


def translation_corpus(size: str | tuple[int, int, int] = "default", seed: int = 0,
                       config: ToyEnglishConfig | None = None) -> TranslationCorpus:
    """The splits of ``synthetic_corpus(size, seed, config)``, each sentence with its Toy SOV
    translation and alignment. Same arguments, same pairs."""
    corpus = synthetic_corpus(size, seed, config)
    return TranslationCorpus(corpus, {split: [translate(s, corpus.language) for s in corpus.sentences[split]]
                                      for split in SPLITS})
