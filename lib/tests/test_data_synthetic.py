"""Toy English, its exact oracle and the agreement pairs (rnnlab.data.toy_english, automaton,
synthetic, agreement).

The exactness checks compare the compiled automaton with a brute-force enumeration of the
grammar's derivations written here, independently of the automaton code."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest

from rnnlab.data import (ToyEnglish, ToyEnglishConfig, agreement_accuracy, agreement_pairs,
                         synthetic_corpus)
from rnnlab.data.toy_english import NOUNS, SG
from rnnlab.vocab import EOS


def enumerate_derivations(lang: ToyEnglish, max_len: int = 10**9):
    """Every leftmost derivation of ``lang`` with at most ``max_len`` words, by depth-first
    expansion of the rules: yields (words, preterminals, probability)."""
    todo = [((lang.START,), (), (), 1.0)]
    while todo:
        stack, words, pres, p = todo.pop()
        if len(words) > max_len:
            continue
        if not stack:
            yield words, pres, p
            continue
        head, rest = stack[0], stack[1:]
        if head in lang.preterminals:
            for w, q in lang.preterminals[head].words:
                todo.append((rest, words + (w,), pres + (head,), p * q))
        else:
            for rhs, q in lang.rules[head]:
                todo.append((tuple(rhs) + rest, words, pres, p * q))


@pytest.fixture(scope="module")
def tiny():
    return ToyEnglish(ToyEnglishConfig.tiny_config())


@pytest.fixture(scope="module")
def tiny_language(tiny):
    """string -> (total probability, set of tag sequences, list of derivation probabilities)."""
    table: dict = defaultdict(lambda: [0.0, set(), []])
    for words, pres, p in enumerate_derivations(tiny):
        entry = table[words]
        entry[0] += p
        entry[1].add(tuple(tiny.preterminals[x].tag for x in pres))
        entry[2].append(p)
    return dict(table)


@pytest.fixture(scope="module")
def corpus():
    return synthetic_corpus("tiny", seed=0)


def test_tiny_language_is_finite_and_the_enumeration_has_mass_one(tiny_language):
    assert 100 < len(tiny_language) < 100_000
    assert math.isclose(sum(e[0] for e in tiny_language.values()), 1.0, rel_tol=1e-9)


def test_oracle_probability_of_every_sentence_equals_the_sum_over_its_derivations(tiny, tiny_language):
    oracle = tiny.oracle()
    ambiguous = 0
    for words, (p, _, derivations) in tiny_language.items():
        assert math.isclose(math.exp(oracle.logprob(list(words))), p, rel_tol=1e-9), words
        ambiguous += len(derivations) > 1
    assert ambiguous > 0, "the tiny grammar should keep the PP-attachment ambiguity"


def test_oracle_mass_up_to_a_length_equals_the_enumerated_mass(tiny):
    """Walk the oracle's own prefix tree (no grammar involved) and compare the mass of the
    sentences it finds with the grammar's enumerated mass, for a bound that cuts the language
    and for one that covers it."""
    oracle = tiny.oracle()
    eos = oracle.vocab.eos_id

    def mass(max_len: int) -> float:
        total, todo = 0.0, [((), 1.0)]
        while todo:
            prefix, p = todo.pop()
            dist = oracle.next_distribution(list(prefix))
            total += p * dist[eos]
            if len(prefix) < max_len:
                for i in np.flatnonzero(dist):
                    if i != eos:
                        todo.append((prefix + (oracle.vocab.itos[i],), p * dist[i]))
        return total

    longest = max(len(w) for w, _, _ in enumerate_derivations(tiny))
    for bound in (6, 9):
        enumerated = sum(p for w, _, p in enumerate_derivations(tiny, bound))
        assert 0.0 < enumerated < 1.0
        assert math.isclose(mass(bound), enumerated, rel_tol=1e-9)
    assert math.isclose(mass(longest), 1.0, rel_tol=1e-9)


def test_tags_are_determined_by_the_string_and_homographs_need_right_context(tiny_language):
    assert all(len(e[1]) == 1 for e in tiny_language.values())
    # "guards" after "the guard that" is a VERB or a NOUN depending on the words after it
    tag_after = defaultdict(set)
    for words, (_, tags, _) in tiny_language.items():
        (tag_seq,) = tags
        if words[:4] == ("the", "guard", "that", "guards"):
            tag_after[words[4]].add(tag_seq[3])
    assert set().union(*tag_after.values()) == {"NOUN", "VERB"}


def test_next_distributions_sum_to_one_and_exclude_unk_and_bos(corpus):
    oracle = corpus.oracle
    for tokens in corpus.test[:30]:
        for t in range(len(tokens) + 1):
            p = oracle.next_distribution(tokens[:t])
            assert p.shape == (len(oracle.vocab),)
            assert math.isclose(p.sum(), 1.0, rel_tol=1e-12)
            assert p[oracle.vocab.unk_id] == 0 and p[oracle.vocab.bos_id] == 0
            assert p[oracle.vocab[(tokens + [EOS])[t]]] > 0


def test_token_logprobs_agree_with_next_distribution(corpus):
    oracle = corpus.oracle
    tokens = corpus.test[0]
    slow = [math.log(oracle.next_distribution(tokens[:t])[oracle.vocab[w]])
            for t, w in enumerate(tokens + [EOS])]
    np.testing.assert_allclose(oracle.token_logprobs(tokens), slow, rtol=1e-12)


def test_sampled_sentences_are_grammatical_and_have_the_oracle_probability(tiny, tiny_language):
    oracle = tiny.oracle()
    for s in tiny.sample_many(300, seed=1):
        words = tuple(s.tokens)
        assert words in tiny_language
        total, (tags,), derivations = tiny_language[words]
        assert math.isclose(math.exp(oracle.logprob(s.tokens)), total, rel_tol=1e-9)
        assert any(math.isclose(math.exp(s.path_logprob), d, rel_tol=1e-9) for d in derivations)
        assert tuple(s.tags) == tags


def test_default_samples_agree_in_number_and_path_probability_bounds_the_oracle(corpus):
    lang, oracle = corpus.language, corpus.oracle
    singular = {s for s, _ in NOUNS}
    for s in corpus.sentences["train"]:
        lp = oracle.logprob(s.tokens)
        assert np.isfinite(lp) and lp >= s.path_logprob - 1e-9
        assert (s.tokens[s.subject_index] in singular) == (s.number == SG)
        assert s.tags[s.subject_index] == "NOUN"
        assert s.tags[s.verb_index] in ("VERB", "AUX")
        assert not np.isfinite(oracle.logprob(lang.flip_number(s)))


def test_ungrammatical_and_unknown_sentences_have_probability_zero(corpus):
    oracle = corpus.oracle
    assert oracle.logprob(["the", "dog", "smile", "."]) == -math.inf
    assert oracle.logprob(["the", "dog", "smiles"]) == -math.inf  # no final punctuation
    assert oracle.logprob(["the", "zebra", "smiles", "."]) == -math.inf
    assert np.isfinite(oracle.logprob(["the", "dog", "smiles", "."]))
    with pytest.raises(ValueError, match="probability 0"):
        oracle.next_distribution(["dog"])


def test_polarity_label_follows_the_main_clause_not_the_bag_of_words():
    lang = ToyEnglish()
    a = "the cat that is sad is not happy .".split()
    b = "the cat that is happy is not sad .".split()
    assert sorted(a) == sorted(b)
    assert [lang.parse(a).label, lang.parse(b).label] == [0, 1]
    assert lang.parse("the cats that do not like dogs are happy .".split()).label == 1
    assert lang.parse("the cat is happy happy .".split()) is None


def test_parse_recovers_the_tags_of_homographs_from_the_right_context():
    lang = ToyEnglish()
    verb = lang.parse("the dog that guards the cat smiles .".split())
    noun = lang.parse("the dog that guards like smiles .".split())
    assert verb.tags[3] == "VERB" and noun.tags[3] == "NOUN"
    assert lang.parse("that dog likes that cat .".split()).tags == ["DET", "NOUN", "VERB", "DET", "NOUN", "PUNCT"]
    for s in synthetic_corpus("tiny", 0).sentences["valid"]:
        assert lang.parse(s.tokens).tags == s.tags


def test_an_impossible_configuration_is_refused():
    with pytest.raises(ValueError, match="MOD"):
        ToyEnglish(p_subject_pp=0.8, p_subject_rc=0.3)


def test_same_seed_same_corpus_and_other_seed_other_corpus():
    a, b, c = synthetic_corpus("tiny", 0), synthetic_corpus("tiny", 0), synthetic_corpus("tiny", 1)
    assert (a.train, a.valid, a.test) == (b.train, b.valid, b.test)
    assert a.train != c.train
    assert [s.tags for s in a.sentences["test"]] == [s.tags for s in b.sentences["test"]]
    # the test split does not depend on the size of the training split
    assert synthetic_corpus((10, 5, 50), 0).test == a.test


def test_the_corpus_is_the_same_on_every_run_and_machine(corpus):
    """Chapters quote numbers computed on these sentences: a change of the grammar, the
    lexicon or the sampler that changes them must be deliberate (update this test then)."""
    assert corpus.train[:2] == ["that happy king who complains guards the judges .".split(),
                                "the lazy teachers do not frown .".split()]
    assert corpus.sentences["train"][0].tags == ["DET", "ADJ", "NOUN", "PRON", "VERB", "VERB", "DET", "NOUN", "PUNCT"]
    assert corpus.test[0] == "these dogs behind those cats who some clever cooks like fear the sad guards !".split()
    assert corpus.oracle.perplexity(corpus.test) == pytest.approx(8.890778086, rel=1e-6)


def test_the_oracle_samples_like_any_language_model(corpus):
    oracle = corpus.oracle
    for seed in range(20):
        s = oracle.sample(seed)
        assert s == oracle.sample(seed) and np.isfinite(oracle.logprob(s))


def test_corpus_sizes_and_views(corpus):
    assert [len(corpus.train), len(corpus.valid), len(corpus.test)] == [200, 50, 50]
    for (tokens, tags), s in zip(corpus.tagged("train"), corpus.train):
        assert tokens == s and len(tags) == len(tokens)
    labels = [y for _, y in corpus.labelled("train")]
    assert set(labels) == {0, 1}
    assert all(w in corpus.vocab for s in corpus.train for w in s)


def test_agreement_pairs_are_minimal_and_the_oracle_gets_them_all(corpus):
    lang = corpus.language
    pairs = agreement_pairs(n=90, seed=0, language=lang)
    assert len(pairs) == 90
    assert {p.attractors for p in pairs} >= {0, 1, 2}
    for p in pairs:
        diff = [i for i, (g, b) in enumerate(zip(p.good, p.bad)) if g != b]
        assert diff == [p.verb_index] and len(p.good) == len(p.bad)
        assert p.distance == p.verb_index - p.subject_index > 0
    report = agreement_accuracy(corpus.oracle, pairs)
    assert report.accuracy == 1.0 and report.n == 90
    assert sum(c for _, c in report.by_attractors.values()) == 90
    assert agreement_pairs(n=90, seed=0, language=lang) == pairs


def test_agreement_accuracy_counts_a_model_that_prefers_the_wrong_verb():
    singular = {"is", "does", "likes", "smiles"}

    class CountsSomeSingularVerbs:
        """ln P(sentence) = the number of words of ``singular`` in it (not a real LM)."""
        def logprob(self, tokens):
            return float(sum(t in singular for t in tokens))

    pairs = agreement_pairs(n=60, seed=2)
    report = agreement_accuracy(CountsSomeSingularVerbs(), pairs)
    # the good sentence wins only when its verb is in the set; ties are failures
    expected = np.mean([p.good[p.verb_index] in singular for p in pairs])
    assert report.accuracy == pytest.approx(expected)
    assert 0 < report.accuracy < 1
