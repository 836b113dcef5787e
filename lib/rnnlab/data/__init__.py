"""Offline course data: everything a chapter trains or evaluates on, with no network needed.

One module per concept:

- ``toy_english``  the synthetic language: lexicon with UPOS tags, a bounded probabilistic
                   grammar with agreement, homographs and a polarity label (``ToyEnglish``)
- ``automaton``    its exact probabilities: the grammar compiled into a probabilistic finite
                   automaton, the forward algorithm, and the oracle language model (``OracleLM``)
- ``synthetic``    seeded train/valid/test splits of Toy English (``synthetic_corpus``)
- ``agreement``    subject-verb agreement minimal pairs and their accuracy
"""

from .agreement import AgreementPair, AgreementReport, agreement_accuracy, agreement_pairs
from .automaton import PFA, OracleLM
from .synthetic import SIZES, SyntheticCorpus, synthetic_corpus
from .toy_english import (UPOS_TAGS, Sentence, ToyEnglish, ToyEnglishConfig, classification_view,
                          tagging_view)
