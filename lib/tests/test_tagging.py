"""rnnlab.tagging: the masked loss and accuracy, Toy English's exact left-to-right tag
posteriors (against a brute-force enumeration of the grammar's derivations), open homographs,
the baselines and ceilings, and the training loop of taggers and classifiers."""

import math
from collections import defaultdict

import pytest
import torch
import torch.nn.functional as F

from rnnlab import bidirectional, tagging
from rnnlab.data import ToyEnglish, ToyEnglishConfig
from rnnlab.models import BagOfEmbeddings, RNNClassifier, RNNTagger

from test_data_synthetic import enumerate_derivations

pytestmark = pytest.mark.usefixtures("one_thread")


def test_masked_token_loss_ignores_padding_and_its_gradient():
    torch.manual_seed(0)
    logits = torch.randn(3, 5, 4, dtype=torch.float64, requires_grad=True)
    tags = torch.randint(0, 4, (3, 5))
    lengths = torch.tensor([5, 2, 3])
    loss = tagging.masked_token_loss(logits, tags, lengths)
    ignored = tags.clone()
    ignored[~bidirectional.length_mask(lengths, 5)] = -100
    torch.testing.assert_close(loss, F.cross_entropy(logits.flatten(0, 1), ignored.flatten()))
    other = tags.clone()
    other[1, 2:] = (other[1, 2:] + 1) % 4                       # change the padding's tags
    torch.testing.assert_close(tagging.masked_token_loss(logits, other, lengths), loss)
    (grad,) = torch.autograd.grad(loss, logits)
    assert not grad[1, 2:].any() and grad[1, :2].any()


def test_masked_accuracy_counts_real_tokens_only():
    logits = torch.tensor([[[2.0, 0.0], [0.0, 1.0], [5.0, 0.0]],
                           [[0.0, 3.0], [9.0, 0.0], [9.0, 0.0]]])      # predictions 0 1 0 / 1 0 0
    tags = torch.tensor([[0, 0, 0], [1, 1, 1]])
    assert tagging.masked_accuracy(logits, tags, torch.tensor([3, 1])) == pytest.approx(3 / 4)
    assert tagging.masked_accuracy(logits, tags, torch.tensor([2, 2])) == pytest.approx(2 / 4)


@pytest.fixture(scope="module")
def tiny():
    return ToyEnglish(ToyEnglishConfig.tiny_config())


def brute_force_posteriors(lang, tokens):
    """P(tag_t | w_1..w_t) for every t, from every derivation of the grammar."""
    mass = [defaultdict(float) for _ in tokens]
    for words, pres, p in enumerate_derivations(lang, max_len=len(tokens) + 12):
        for t in range(len(tokens)):
            if words[:t + 1] == tuple(tokens[:t + 1]):
                mass[t][lang.preterminals[pres[t]].tag] += p
    return [{tag: p / sum(m.values()) for tag, p in m.items()} for m in mass]


def test_left_to_right_posteriors_are_exact(tiny):
    assert set(tagging.homographs(tiny)) == {"guard", "guards"}
    sentences = {tuple(s.tokens) for s in tiny.sample_many(300, 0) if "guards" in s.tokens}
    assert sentences
    for tokens in sorted(sentences)[:6]:
        ours = tagging.left_to_right_tag_posteriors(tiny, tokens)
        exact = brute_force_posteriors(tiny, tokens)
        for a, b in zip(ours, exact):
            assert a.keys() == b.keys()
            assert all(math.isclose(a[k], b[k], rel_tol=1e-9) for k in a)


def test_open_positions_are_homographs_the_right_context_decides():
    lang = ToyEnglish(tagging.TAGGING_CONFIG)
    noun = "the dog that guards like smiles .".split()
    verb = "the dog that guards the judge smiles .".split()
    assert tagging.open_positions(lang, noun) == [False, False, False, True] + [False] * 3
    assert tagging.open_positions(lang, verb)[3] and not any(tagging.open_positions(lang, verb)[4:])
    assert tagging.viterbi_tags(lang, noun)[3] == "NOUN" and tagging.viterbi_tags(lang, verb)[3] == "VERB"
    assert tagging.best_left_to_right_tags(lang, noun)[3] == tagging.best_left_to_right_tags(lang, verb)[3]
    with pytest.raises(ValueError):
        tagging.left_to_right_tag_posteriors(lang, ["dog", "the"])


def test_baseline_and_scores():
    lang = ToyEnglish(tagging.TAGGING_CONFIG)
    baseline = tagging.MostFrequentTag([(["a", "b", "b"], ["X", "Y", "Z"]), (["b"], ["Y"])])
    assert baseline(["b", "a", "new"]) == ["Y", "X", "Y"]
    sentences = lang.sample_many(30, 1)
    perfect = tagging.tagging_score([s.tags for s in sentences], sentences, lang)
    assert perfect.overall == perfect.homographs == 1.0 and perfect.counts[0] == sum(len(s.tokens) for s in sentences)
    viterbi = tagging.tagging_score([tagging.viterbi_tags(lang, s.tokens) for s in sentences], sentences, lang)
    assert viterbi.overall == 1.0
    nouns = tagging.tagging_score([["NOUN"] * len(s.tokens) for s in sentences], sentences, lang)
    assert 0 < nouns.overall < 0.5


def test_encode_and_tag_names_round_trip():
    lang = ToyEnglish(tagging.TAGGING_CONFIG)
    pairs = [(s.tokens, s.tags) for s in lang.sample_many(5, 2)]
    data = tagging.encode_tagged(pairs, lang.vocab)
    assert data.tokens.shape == data.labels.shape == (5, max(len(w) for w, _ in pairs))
    assert tagging.tag_names(data.labels, data.lengths) == [t for _, t in pairs]


@pytest.mark.parametrize("bidirectional", [False, True])
def test_fit_labeller_trains_a_tagger(bidirectional):
    corpus = tagging.tagging_corpus((300, 10, 100), seed=1)
    lang = corpus.language
    train = tagging.encode_tagged(corpus.tagged("train"), lang.vocab)
    test = tagging.encode_tagged(corpus.tagged("test"), lang.vocab)
    torch.manual_seed(0)
    model = RNNTagger(len(lang.vocab), len(tagging.TAG_IDS), 16, 16, bidirectional=bidirectional)
    history = tagging.fit_labeller(model, train, epochs=5, progress=False)
    assert history[-1] < history[0] / 3 and not model.training
    predicted = tagging.predict_labels(model, test)
    score = tagging.tagging_score(tagging.tag_names(predicted, test.lengths), corpus.sentences["test"], lang)
    assert score.overall > 0.9


@pytest.mark.parametrize("make", [lambda V: BagOfEmbeddings(V, 2, 16),
                                  lambda V: RNNClassifier(V, 2, 16, 16, pooling="max", bidirectional=True)])
def test_fit_labeller_trains_a_classifier(make):
    lang = ToyEnglish(tagging.TAGGING_CONFIG)
    data = tagging.encode_labelled([(s.tokens, s.label) for s in lang.sample_many(300, 3)], lang.vocab)
    torch.manual_seed(0)
    model = make(len(lang.vocab))
    history = tagging.fit_labeller(model, data, epochs=3, progress=False)
    assert history[-1] < history[0] and tagging.predict_labels(model, data).shape == (300,)


def test_bag_of_embeddings_is_blind_to_order_and_padding():
    torch.manual_seed(0)
    bag = BagOfEmbeddings(10, 3, 4).eval()
    tokens = torch.tensor([[4, 5, 6, 0], [6, 4, 5, 7]])
    logits = bag(tokens, torch.tensor([3, 3]))
    torch.testing.assert_close(logits[0], logits[1])


def test_tag_a_corpus_on_a_small_treebank():
    corpus = tagging.tagging_corpus((300, 10, 100), seed=2)
    result = tagging.tag_a_corpus(corpus.tagged("train"), corpus.tagged("test"),
                                  lambda V, C: RNNTagger(V, C, 16, 16), epochs=6, lr=1e-2,
                                  progress=False)
    assert set(result) == {"most frequent tag", "neural"}
    assert 0.7 < result["most frequent tag"] < 1 and result["neural"] > 0.9
