"""rnnlab.embeddings and rnnlab.window_lm (chapter 02): one-hot and the embedding lookup equal to
nn.Embedding, context windows equal to chapter 01's padded n-grams, the forward pass equal to
FixedWindowLM, the cross-entropy equal to F.cross_entropy, and the LanguageModel adapter."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnnlab import embeddings, models, ngram, window_lm
from rnnlab.data import encode_stream, synthetic_corpus
from rnnlab.train import TrainConfig
from rnnlab.vocab import Vocab


def test_one_hot_has_a_single_one_at_each_id():
    ids = torch.tensor([[3, 0, 4], [1, 1, 2]])
    x = embeddings.one_hot(ids, 6)
    assert x.shape == (2, 3, 6) and x.dtype == torch.float32
    assert torch.equal(x.sum(-1), torch.ones(2, 3)) and torch.equal(x.argmax(-1), ids)
    assert embeddings.one_hot(torch.tensor([5]), 7, torch.float64).tolist() == [[0, 0, 0, 0, 0, 1, 0]]


def test_embedding_by_matrix_product_equals_nn_embedding_values_and_gradient():
    torch.manual_seed(0)
    layer = torch.nn.Embedding(9, 4).double()
    E = layer.weight.detach().clone().requires_grad_(True)
    ids = torch.randint(0, 9, (3, 5))
    weights = torch.randn(3, 5, 4, dtype=torch.float64)
    ours, theirs = embeddings.embed(ids, E), layer(ids)
    assert torch.equal(ours, theirs)
    (ours * weights).sum().backward()
    (theirs * weights).sum().backward()
    assert torch.allclose(E.grad, layer.weight.grad, rtol=0, atol=1e-12)


def test_nearest_neighbours_and_projection():
    vocab = Vocab(["a", "b", "c"])
    E = torch.zeros(6, 2, dtype=torch.float64)
    E[3], E[4], E[5] = torch.tensor([1.0, 0.0]), torch.tensor([2.0, 0.1]), torch.tensor([0.0, 1.0])
    E[:3] = torch.tensor([-1.0, -1.0])
    assert [w for w, _ in embeddings.nearest_neighbours(E, vocab, "a", k=2)] == ["b", "c"]
    assert embeddings.nearest_neighbours(E, vocab, "a", k=1)[0][1] == pytest.approx(2 / math.hypot(2, 0.1))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 5)) * np.array([5, 2, 1, 0.1, 0.1])
    P = embeddings.pca_2d(X)
    assert P.shape == (20, 2) and np.allclose(P.mean(0), 0)
    assert np.allclose(np.abs(P[:, 0] @ P[:, 1]), 0, atol=1e-8) and P[:, 0].var() > P[:, 1].var()
    assert np.allclose(embeddings.pca_2d(X), P)                  # signs fixed: reproducible


def test_context_windows_are_the_padded_ngrams_of_chapter_01():
    sentences = [["a", "b", "c"], ["d"], [], ["b", "a", "a", "d"]]
    vocab = Vocab.build(sentences)
    ids = encode_stream(sentences, vocab)
    for context_size in (1, 2, 4):
        contexts, targets = window_lm.context_windows(ids, context_size)
        assert contexts.shape == (len(ids), context_size) and torch.equal(targets, ids)
        grams = [tuple(vocab.decode(c)) + (vocab.itos[t],) for c, t in zip(contexts, targets)]
        expected = [tuple(p[t - context_size: t + 1]) for s in sentences
                    for p in [ngram.pad(s, context_size + 1)] for t in range(context_size, len(p))]
        assert grams == expected
    contexts, _ = window_lm.context_windows(ids, 2)
    assert vocab.decode(contexts[4]) == ["<s>", "<s>"]           # "d" starts the 2nd sentence


def test_window_logits_is_the_fixed_window_lm():
    torch.manual_seed(1)
    lm = models.FixedWindowLM(vocab_size=11, context_size=3, embedding_dim=4, hidden_size=5).double()
    tokens = torch.randint(3, 11, (2, 6))
    logits, _ = lm(tokens)
    padded = torch.cat([torch.full((2, 3), models.START_ID), tokens], 1)
    for t in range(6):
        assert torch.allclose(window_lm.model_logits(lm, padded[:, t + 1: t + 4]), logits[:, t])


def test_cross_entropy_equals_torch_values_and_gradient_even_for_huge_logits():
    torch.manual_seed(2)
    for scale in (1.0, 1000.0):
        logits = (torch.randn(7, 5, dtype=torch.float64) * scale).requires_grad_(True)
        targets = torch.randint(0, 5, (7,))
        ours = window_lm.cross_entropy(logits, targets)
        (grad,) = torch.autograd.grad(ours, logits)
        theirs = F.cross_entropy(logits, targets)
        (expected,) = torch.autograd.grad(theirs, logits)
        assert ours.shape == () and torch.isfinite(ours)
        assert torch.allclose(ours, theirs, rtol=1e-12) and torch.allclose(grad, expected, atol=1e-12)


@pytest.fixture(scope="module")
def tiny_lm():
    corpus = synthetic_corpus("tiny", seed=0)
    config = TrainConfig(epochs=4, batch_size=64, lr=1e-2, patience=1, progress=False)
    return corpus, window_lm.fit_window_lm(corpus, context_size=2, embedding_dim=8, hidden_size=16,
                                            config=config)


def test_fitted_window_lm_is_a_language_model_that_beats_the_unigram(tiny_lm):
    corpus, lm = tiny_lm
    p = lm.next_distribution(["the"])
    assert p.shape == (len(lm.vocab),) and p.sum() == pytest.approx(1.0) and p.dtype == np.float64
    sentence = corpus.test[0]
    by_steps = [math.log(lm.next_distribution(sentence[:t])[lm.vocab[w]])
                for t, w in enumerate(sentence + ["</s>"])]
    assert np.allclose(lm.token_logprobs(sentence), by_steps, atol=1e-6)
    unigram = ngram.NGramLM(1, "addk").fit(corpus.train)
    assert lm.perplexity(corpus.test) < unigram.perplexity(corpus.test)
    again = window_lm.fit_window_lm(corpus, context_size=2, embedding_dim=8, hidden_size=16,
                                    config=TrainConfig(epochs=4, batch_size=64, lr=1e-2, patience=1,
                                                       progress=False))
    assert again.perplexity(corpus.test) == pytest.approx(lm.perplexity(corpus.test), rel=1e-9)


def test_rare_words_share_the_unk_probability_so_the_full_vocabulary_sums_to_one():
    train = [["a", "b", "a", "c"], ["a", "b", "d"]] * 5 + [["e", "a"]]  # c, d: 5 times; e: once
    corpus = type("C", (), {"train": train, "valid": train[:2], "test": train[:2]})
    lm = window_lm.fit_window_lm(corpus, context_size=1, embedding_dim=4, hidden_size=8, min_freq=2,
                                 config=TrainConfig(epochs=2, batch_size=8, progress=False))
    assert lm.rare_types == 1 and "e" not in lm.vocab
    full = ["a", "b", "c", "d", "e", "never-seen", "</s>"]      # every word of NGramLM's vocabulary
    total = sum(math.exp(lm.token_logprobs(["a", w])[1]) for w in full)
    total += lm.next_distribution(["a"])[lm.vocab.bos_id]       # <s>: never a target, not quite 0
    assert total == pytest.approx(1.0, abs=1e-6)


# -- the checks of assignment 02 ---------------------------------------------------------------

from torch import nn  # noqa: E402

from rnnlab.checks import REGISTRY, CheckFailed, check  # noqa: E402
from rnnlab.checks import ch02_window_lm  # noqa: E402
from references_pass import references_pass_every_case  # noqa: E402

REFERENCES = {
    "02_window_lm.one_hot": embeddings.one_hot,
    "02_window_lm.embed": embeddings.embed,
    "02_window_lm.context_windows": window_lm.context_windows,
    "02_window_lm.window_lm_logits": window_lm.window_logits,
    "02_window_lm.cross_entropy": window_lm.cross_entropy,
}


test_references_pass_every_case = references_pass_every_case(REFERENCES)


def message(name, fn, hidden=False):
    with pytest.raises(CheckFailed) as info:
        check(name, fn, hidden=hidden)
    return str(info.value)


def test_shapes_are_compared_before_values_and_named():
    text = message("02_window_lm.one_hot", lambda ids, V: embeddings.one_hot(ids, V)[:, -1])
    assert "your one-hot has shape (2, 6), expected (B=2, T=3, V=6)" in text
    text = message("02_window_lm.context_windows",
                   lambda ids, k, bos=1, eos=2: (window_lm.context_windows(ids, k, bos, eos)[0][:, -1:], ids.clone()))
    assert "contexts have shape (6, 1), expected (N=6, n-1=2)" in text and "differs" not in text


def test_int32_contexts_are_told_the_contract_and_nothing_else():
    def int32(ids, k, bos=1, eos=2):
        contexts, targets = window_lm.context_windows(ids, k, bos, eos)
        return contexts.int(), targets
    text = message("02_window_lm.context_windows", int32)
    assert "dtype torch.int32, expected torch.int64" in text and "padding" not in text


def test_unstable_and_detached_cross_entropies_are_diagnosed():
    def naive(logits, targets):
        probs = torch.exp(logits) / torch.exp(logits).sum(1, keepdim=True)
        return -torch.log(probs[torch.arange(len(targets)), targets]).mean()

    def detached(logits, targets):
        return -(logits - torch.logsumexp(logits, 1, keepdim=True).detach())[torch.arange(len(targets)), targets].mean()

    assert "exp(z) overflows" in message("02_window_lm.cross_entropy", naive, hidden=True)
    assert "no gradient flows through your log-sum-exp" in message("02_window_lm.cross_entropy", detached)


class WindowLM(nn.Module):
    def __init__(self, V, k, d=32, H=64):
        super().__init__()
        self.embedding, self.hidden, self.output = nn.Embedding(V, d), nn.Linear(k * d, H), nn.Linear(H, V)

    def forward(self, contexts):
        return self.output(torch.tanh(self.hidden(self.embedding(contexts).flatten(1))))


def trained(contexts, targets, V, seed=0, epochs=2):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)                 # a small model: one thread is faster
    try:
        torch.manual_seed(seed)
        model = WindowLM(V, contexts.shape[1])
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        order = torch.Generator().manual_seed(seed)
        for _ in range(epochs):
            for batch in torch.randperm(len(targets), generator=order).split(128):
                optimizer.zero_grad()
                F.cross_entropy(model(contexts[batch]), targets[batch]).backward()
                optimizer.step()
    finally:
        torch.set_num_threads(threads)
    return model


def test_the_training_judge_scores_the_copied_weights_on_text_the_student_never_sees():
    training = REGISTRY["02_window_lm.train_window_lm"]
    case = training.cases(False)[0]
    contexts, targets, V, seed, runs = case.args
    held_out = ch02_window_lm.training_data(seed, contexts.shape[1])[2:4]
    assert all(not (isinstance(a, torch.Tensor) and a.shape == b.shape) for a in case.args for b in held_out)
    model = trained(contexts, targets, V)
    assert training.problem(lambda *args: model, case) is None

    class Lying(WindowLM):                      # right weights' layout, other predictions
        def forward(self, contexts):
            return model(contexts)

    lying = Lying(V, contexts.shape[1])
    text = training.problem(lambda *args: lying, case)
    assert "forward does not compute z = U tanh(W e + b1) + b2 of part 4 from its own weights" in text
    torch.manual_seed(seed)
    untrained = WindowLM(V, contexts.shape[1])
    text = training.problem(lambda *args: untrained, case)
    assert "exactly those initial ones" in text and f"{training_threshold(case):.2f}" in text


def training_threshold(case):
    contexts, _, _, seed, _ = case.args
    return ch02_window_lm.training_data(seed, contexts.shape[1])[-1]
