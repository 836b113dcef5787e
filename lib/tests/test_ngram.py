"""Tests of rnnlab.ngram: hand-computed examples, normalisation, the vectorised model against
the readable functions, NLTK's nltk.lm (MLE, Laplace) and KenLM reading our ARPA export."""

import math

import numpy as np
import pytest

from rnnlab import ngram
from rnnlab.ngram import (NGramLM, addk_probability, count_ngrams, kn_bigram_probability,
                          mle_probability, perplexity, sample_sentence)

CAT = [["the", "cat", "sat", "on", "the", "mat"], ["the", "dog", "sat"]]


def random_corpus(seed, n_sent=150, vocab=12):
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(vocab)]
    return [[words[i] for i in rng.integers(0, vocab, rng.integers(1, 9))] for _ in range(n_sent)]


def test_count_ngrams_by_hand():
    c = count_ngrams(CAT, 2)
    assert c[("<s>", "the")] == 2
    assert c[("the", "cat")] == 1 and c[("sat", "on")] == 1
    assert c[("mat", "</s>")] == 1 and c[("sat", "</s>")] == 1
    assert sum(c.values()) == 6 + 1 + 3 + 1  # one n-gram per predicted token
    assert count_ngrams([["a"]], 3) == {("<s>", "<s>", "a"): 1, ("<s>", "a", "</s>"): 1}


def test_readable_probabilities_by_hand():
    c = count_ngrams(CAT, 2)
    assert mle_probability(c, ("the",), "cat") == pytest.approx(1 / 3)
    assert mle_probability(c, ("zebra",), "cat") == 0.0
    assert addk_probability(c, ("the",), "cat", 1.0, 8) == pytest.approx(2 / 11)
    # KN bigram: c(the .) = 3, N1+(the .) = 3, P_cont(cat) = 1/10 bigram types
    types = len(c)
    expected = (1 - 0.75) / 3 + 0.75 * 3 / 3 * (1 / types)
    assert kn_bigram_probability(c, "the", "cat") == pytest.approx(expected)
    # perplexity of a uniform model over V tokens is V
    assert perplexity(lambda h, w: 1 / 7, CAT, 3) == pytest.approx(7.0)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize("estimator", ["addk", "interp", "kn"])
def test_smoothed_distributions_sum_to_one(n, estimator):
    train = random_corpus(0)
    lm = NGramLM(n, estimator).fit(train)
    histories = [[], ["w1"], ["w1", "w2"], ["w3", "w3", "w3"], ["never", "seen"]] + train[:5]
    for h in histories:
        p = lm.next_distribution(h)
        assert p.shape == (len(lm.vocab),)
        assert p.sum() == pytest.approx(1.0, abs=1e-12)
        assert p[lm.vocab.bos_id] == 0.0 and (p > 0).sum() == len(lm.vocab) - 1


def test_mle_distributions_sum_to_one_on_seen_contexts():
    train = random_corpus(1)
    lm = NGramLM(3, "mle").fit(train)
    for s in train[:20]:
        for t in range(len(s) + 1):
            assert lm.next_distribution(s[:t]).sum() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("estimator", ["mle", "addk", "interp", "kn"])
def test_vectorised_scores_equal_the_chain_rule(estimator):
    train, test = random_corpus(2), random_corpus(3, 20) + [["unknown", "w1"]]
    lm = NGramLM(3, estimator).fit(train)
    for s in test:
        fast = lm.token_logprobs(s)
        slow = [math.log(lm.next_distribution(s[:t])[lm.vocab[w]]) if
                lm.next_distribution(s[:t])[lm.vocab[w]] > 0 else -math.inf
                for t, w in enumerate(s + ["</s>"])]
        np.testing.assert_allclose(fast, slow, rtol=1e-12)


def test_vectorised_model_equals_readable_functions():
    train, test = random_corpus(4), random_corpus(5, 30)
    c3 = count_ngrams(train, 3)
    mle = NGramLM(3, "mle").fit(train)
    addk = NGramLM(3, "addk", k=0.3).fit(train)
    V = len(addk.vocab) - 1
    assert mle.num_ngrams() == len(c3)
    for s in test:
        padded = ngram.pad(s, 3)
        for t in range(2, len(padded)):
            h, w = tuple(padded[t - 2:t]), padded[t]
            assert math.exp(mle.token_logprobs(s)[t - 2]) == pytest.approx(
                mle_probability(c3, h, w), abs=1e-12)
            assert math.exp(addk.token_logprobs(s)[t - 2]) == pytest.approx(
                addk_probability(c3, h, w, 0.3, V), rel=1e-12)
    ppl = perplexity(lambda h, w: addk_probability(c3, h, w, 0.3, V), test, 3)
    assert addk.perplexity(test) == pytest.approx(ppl, rel=1e-10)


def test_dense_context_codes_give_the_same_model(monkeypatch):
    train, test = random_corpus(6), random_corpus(7, 30)
    wide = NGramLM(4, "kn").fit(train)
    monkeypatch.setattr(ngram, "_MAX_KEY", 50)  # forces dense ranks from order 2 on
    dense = NGramLM(4, "kn").fit(train)
    assert any(o.all_grams is not None for o in dense.orders)
    np.testing.assert_allclose(dense.token_logprobs_corpus(test), wide.token_logprobs_corpus(test))
    assert dense.to_arpa() == wide.to_arpa()


def test_tuning_lowers_held_out_perplexity():
    train, valid = random_corpus(8, 300), random_corpus(9, 50)
    for est in ("interp", "kn"):
        lm = NGramLM(3, est).fit(train)
        before = lm.perplexity(valid)
        assert lm.tune(valid).perplexity(valid) <= before + 1e-9


def test_sampling_is_seeded_and_follows_the_model():
    train = random_corpus(10)
    lm = NGramLM(2, "kn").fit(train)
    assert lm.sample(3) == lm.sample(3)
    assert [lm.sample(s) for s in range(5)] != [lm.sample(3)] * 5
    dist = lambda h: dict(zip(lm.vocab.itos, lm.next_distribution(list(h[-1:]) if h != ("<s>",) else [])))
    rng = np.random.default_rng(0)
    firsts = [sample_sentence(dist, 2, rng)[:1] for _ in range(2000)]
    p = lm.next_distribution([])
    freq = np.mean([f == ["w1"] for f in firsts])
    assert freq == pytest.approx(p[lm.vocab["w1"]], abs=0.03)


nltk_lm = pytest.importorskip("nltk.lm")


@pytest.mark.parametrize("n", [2, 3])
def test_agrees_with_nltk_mle_and_laplace(n):
    from nltk.lm.preprocessing import padded_everygram_pipeline
    train, test = random_corpus(11), random_corpus(12, 20)
    ours_mle = NGramLM(n, "mle").fit(train)
    ours_lap = NGramLM(n, "addk", k=1.0).fit(train)
    ref_mle, ref_lap = nltk_lm.MLE(n), nltk_lm.Laplace(n)
    for ref in (ref_mle, ref_lap):
        grams, vocab = padded_everygram_pipeline(n, train)
        ref.fit(grams, vocab)
    # NLTK's Laplace normaliser counts every vocabulary entry, <s> included; ours counts the
    # predictable ones. Both numerators are c(h w) + 1, so compare those.
    V_ours, V_nltk = len(ours_lap.vocab) - 1, len(ref_lap.vocab)
    for s in test:
        padded = ngram.pad(s, n)
        for t in range(n - 1, len(padded)):
            h, w = padded[t - n + 1:t], padded[t]
            p_mle = math.exp(ours_mle.token_logprobs(s)[t - n + 1]) if ours_mle.token_logprobs(s)[t - n + 1] > -math.inf else 0.0
            assert p_mle == pytest.approx(ref_mle.score(w, h), abs=1e-9)
            total = ref_lap.counts[tuple(h)].N()
            ours = math.exp(ours_lap.token_logprobs(s)[t - n + 1]) * (total + V_ours)
            theirs = ref_lap.score(w, h) * (total + V_nltk)
            assert ours == pytest.approx(theirs, abs=1e-9)


kenlm = pytest.importorskip("kenlm")


@pytest.mark.parametrize("estimator", ["kn", "interp"])
@pytest.mark.parametrize("n", [2, 3])
def test_arpa_read_back_by_kenlm(tmp_path, estimator, n):
    train, test = random_corpus(13), random_corpus(14, 30)
    lm = NGramLM(n, estimator).fit(train)
    path = tmp_path / "model.arpa"
    path.write_text(lm.to_arpa())
    model = kenlm.Model(str(path))
    for s in test:
        # our contexts at the start are n-1 <s>: feed KenLM the extra <s> explicitly
        state, out = kenlm.State(), kenlm.State()
        model.BeginSentenceWrite(state)
        for _ in range(n - 2):
            model.BaseScore(state, "<s>", out)
            state, out = out, state
        total = 0.0
        for w in s + ["</s>"]:
            total += model.BaseScore(state, w, out)
            state, out = out, state
        assert total == pytest.approx(lm.logprob(s) / math.log(10), abs=1e-4)


def test_arpa_refuses_estimators_it_cannot_represent():
    with pytest.raises(ValueError, match="interpolated"):
        NGramLM(2, "addk").fit(CAT).to_arpa()


def test_unseen_fraction_counts_held_out_ngrams_missing_from_training():
    train, test = [["a", "b", "c"]], [["a", "b", "d"], ["a"]]
    lm = NGramLM(2, "mle").fit(train)
    # test bigrams: <s> a, a b, b d(<unk>), d </s>, <s> a, a </s>  -> unseen: b <unk>, <unk> </s>, a </s>
    assert lm.unseen_fraction(test) == pytest.approx(3 / 6)
    assert lm.unseen_fraction(test, 1) == pytest.approx(1 / 6)  # only <unk>


def test_direct_index_tables_give_the_same_scores(monkeypatch):
    train, test = random_corpus(15), random_corpus(16, 30)
    dense = NGramLM(3, "kn").fit(train)
    assert dense.orders[0].key_slots is not None
    monkeypatch.setattr(ngram, "_DENSE_LIMIT", 0)  # hash indexes everywhere
    searched = NGramLM(3, "kn").fit(train)
    assert searched.orders[0].key_slots is None
    np.testing.assert_array_equal(dense.token_logprobs_corpus(test), searched.token_logprobs_corpus(test))
