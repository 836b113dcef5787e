"""rnnlab.data.translation: the Toy SOV transduction, its alignment and its seeded splits."""

from collections import Counter

import pytest

from rnnlab.data import LEXICON, ToyEnglish, translate, translation_corpus
from rnnlab.data.toy_english import PUNCTUATION


@pytest.fixture(scope="module")
def corpus():
    return translation_corpus("small", seed=0)


def source_order(tokens):
    """The translation of ``tokens`` written with the source words it comes from."""
    language = ToyEnglish()
    pair = translate(language.parse(tokens.split()), language)
    return " ".join(pair.source[i] for i in pair.alignment)


@pytest.mark.parametrize("english,reordered", [
    ("the lazy dog smiles .", "the dog lazy smiles ."),                        # adjective after noun
    ("the dog likes the cat .", "the dog the cat likes ."),                    # verb-final
    ("the dog smiles near the cat .", "the dog the cat near smiles ."),        # postposition
    ("the dog does not like the cat .", "the dog the cat like not ."),        # no do-support
    ("the cats are not happy !", "the cats happy are not !"),                 # copula last
    ("the dog that likes the bird smiles .", "the dog that the bird likes smiles ."),
    ("the dog that the birds like sings .", "the dog that the birds like sings ."),
    ("the dog near the cats that the judges like smiles .",
     "the dog the cats that the judges like near smiles ."),
    ("dogs like the cat that sings near the bird .",                           # nearest attachment
     "dogs the cat that the bird near sings like ."),
])
def test_the_transduction_by_hand(english, reordered):
    assert source_order(english) == reordered


def test_lexicon_is_a_bijection_that_keeps_punctuation():
    words = set(ToyEnglish().words)
    assert set(LEXICON) == words
    assert len(set(LEXICON.values())) == len(LEXICON)
    assert all(LEXICON[p] == p for p, _ in PUNCTUATION)
    assert not words & {v for k, v in LEXICON.items() if k not in dict(PUNCTUATION)}


def test_alignment_maps_every_target_word_to_its_source(corpus):
    for pair in corpus.train + corpus.test:
        assert len(pair.target) == len(pair.alignment)
        assert len(set(pair.alignment)) == len(pair.alignment)          # each source word once at most
        assert all(pair.target[j] == LEXICON[pair.source[i]] for j, i in enumerate(pair.alignment))
        dropped = [pair.source[i] for i in set(range(len(pair.source))) - set(pair.alignment)]
        assert all(w in ("do", "does") for w in dropped)                # only do-support has no translation
        assert pair.alignment[-1] == len(pair.source) - 1               # punctuation stays last


def test_reordering_really_happens(corpus):
    pairs = corpus.train
    monotone = sum(list(p.alignment) == sorted(p.alignment) for p in pairs)
    assert monotone / len(pairs) < 0.15
    jumps = Counter(b - a for p in pairs for a, b in zip(p.alignment, p.alignment[1:]))
    assert sum(n for d, n in jumps.items() if d < 0) > 0.2 * sum(jumps.values())   # many backward moves


def test_splits_are_seeded_and_deterministic(corpus):
    again = translation_corpus("small", seed=0)
    assert again.train == corpus.train and again.test == corpus.test
    other = translation_corpus("small", seed=1)
    assert other.train != corpus.train
    assert [p.source for p in corpus.train] == [tuple(t) for t in corpus.source.train]
    assert (len(corpus.train), len(corpus.valid), len(corpus.test)) == (1000, 200, 200)


def test_sentences_outside_the_language_are_refused():
    language = ToyEnglish()
    sentence = language.parse("the dog likes the cat .".split())
    sentence.preterminals = sentence.preterminals[:-1] + sentence.preterminals[-2:]   # a noun too many
    sentence.tokens = sentence.tokens[:-1] + ["cat", "."]
    with pytest.raises(ValueError, match="expected"):
        translate(sentence, language)
