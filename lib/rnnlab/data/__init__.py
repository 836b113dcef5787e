"""Offline course data: everything a chapter trains or evaluates on, with no network needed.

    from rnnlab.data import synthetic_corpus
    corpus = synthetic_corpus()              # Toy English: train/valid/test + exact oracle

One module per concept:

- ``toy_english``  the synthetic language: a lexicon with UPOS tags and homographs, a bounded
                   probabilistic grammar with subject-verb agreement across PPs and relative
                   clauses, and a polarity label that needs word order (``ToyEnglish``)
- ``automaton``    its exact probabilities: the grammar compiled into a probabilistic finite
                   automaton, the forward and Viterbi algorithms, the oracle LM (``OracleLM``)
- ``synthetic``    seeded train/valid/test splits of Toy English (``synthetic_corpus``)
- ``agreement``    subject-verb agreement minimal pairs and a model's accuracy on them
- ``tokenizers``   the word and character tokenisers used everywhere
- ``stdlib``       real text with no download: Python's standard-library docstrings (words)
                   and source code (characters)
- ``fixtures``     the hand examples of the lecture notes ("hello", "the cat sat on the mat")
- ``tasks``        algorithmic sequence tasks: parity, adding problem, copy after a delay
- ``dates``        date normalisation, the sequence-to-sequence task
- ``translation``  Toy English translated into a verb-final toy language (Toy SOV), with the
                   gold word alignment
- ``corpora``      loaders for Tiny Shakespeare, WikiText-2, PTB and UD English-EWT, with an
                   offline mirror (``RNNLAB_DATA``), a cache and sha256 checks
- ``batching``     id streams, contiguous LM batches for truncated BPTT, padded batches

Only ``batching`` uses torch; the other modules need numpy and the standard library alone.
"""

from .agreement import AgreementPair, AgreementReport, agreement_accuracy, agreement_pairs
from .automaton import PFA, OracleLM
from .batching import (PAD, PaddedBatch, bucket_batches, build_vocab, encode_stream,
                       input_target_rows, lm_batches, pad_batch, padded_batches)
from .corpora import (FILES, ChecksumError, DataUnavailableError, cache_folder, fetch,
                      load_ptb, load_tiny_shakespeare, load_ud_ewt, load_wikitext2, read_conllu)
from .dates import DATE_FORMATS, date_pairs, format_date, parse_date
from .fixtures import (CAT_SENTENCE, STUDENTS_CONTINUATIONS, STUDENTS_PREFIX, CharExample,
                       char_example, hello)
from .stdlib import TextCorpus, stdlib_docstring_corpus, stdlib_source_text
from .synthetic import SIZES, SyntheticCorpus, synthetic_corpus
from .tasks import SequenceTask, adding_problem, copy_task, parity
from .tokenizers import char_tokenize, split_sentences, word_tokenize
from .translation import LEXICON, TranslationCorpus, TranslationPair, translate, translation_corpus
from .toy_english import (UPOS_TAGS, Sentence, ToyEnglish, ToyEnglishConfig, classification_view,
                          tagging_view)

