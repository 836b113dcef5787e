"""rnnlab.models.AdaptiveRNNLM and frequency_cutoffs: the adaptive softmax's perplexity is that
of its full distribution, its loss is the cross-entropy of that distribution, it trains with
rnnlab.train, and its cutoffs follow the tokens' frequencies."""

import math

import pytest
import torch

from rnnlab import models, train
from rnnlab.data import build_vocab, encode_stream, synthetic_corpus


@pytest.fixture(scope="module")
def corpus_stream():
    corpus = synthetic_corpus("tiny", seed=0)
    vocab = build_vocab(corpus.train)
    return vocab, encode_stream(corpus.train, vocab), encode_stream(corpus.valid, vocab)


def test_cutoffs_cover_the_stated_shares_of_the_text():
    ids = torch.tensor([0] * 50 + [1] * 30 + [2] * 10 + [3] * 6 + [4] * 3 + [5] * 1)
    assert models.frequency_cutoffs(ids, 6, coverage=(0.8, 0.95)) == [2, 4]   # 80% by ids 0-1
    assert models.frequency_cutoffs(ids, 6, coverage=(0.5, 0.9)) == [1, 3]
    # coinciding cutoffs, and one that would hold the whole vocabulary, are dropped
    assert models.frequency_cutoffs(ids, 6, coverage=(0.81, 0.85, 1.0)) == [3]


def test_perplexity_is_exp_of_the_mean_nll_of_the_full_distribution(one_thread, corpus_stream):
    vocab, train_ids, valid_ids = corpus_stream
    torch.manual_seed(0)
    lm = models.AdaptiveRNNLM(len(vocab), models.frequency_cutoffs(train_ids, len(vocab)),
                              embedding_dim=12, hidden_size=16).double().eval()
    stream = train.batchify(valid_ids, 3)
    nll, ppl = train.evaluate(lm, stream, bptt_len=9)
    # by hand: the whole validation stream at once, log_prob of the full distribution
    inputs, targets = stream[:, :-1], stream[:, 1:]
    with torch.no_grad():
        top, _ = lm.encoder(inputs)
        log_probs = lm.output.log_prob(top.reshape(-1, 16))                 # (B*T, V)
    assert torch.allclose(log_probs.exp().sum(1), torch.ones((), dtype=torch.double))
    by_hand = -log_probs.gather(1, targets.reshape(-1, 1)).mean().item()
    assert nll == pytest.approx(by_hand, rel=1e-9) and ppl == pytest.approx(math.exp(by_hand), rel=1e-9)
    # forward's logits are that distribution: the cross-entropy of the LM contract agrees
    logits, _ = lm(inputs)
    assert logits.shape == (*inputs.shape, len(vocab))
    assert models.language_model_loss(logits, targets).item() == pytest.approx(by_hand, rel=1e-9)


def test_the_loss_and_its_gradient_are_those_of_the_full_distribution(corpus_stream):
    vocab, train_ids, _ = corpus_stream
    torch.manual_seed(1)
    lm = models.AdaptiveRNNLM(len(vocab), [5, 12], embedding_dim=6, hidden_size=16,
                              kind="gru").double()
    tokens = train.batchify(train_ids, 2)[:, :12]
    loss, state = lm.nll(tokens[:, :-1], tokens[:, 1:])
    assert state.shape == (1, 2, 16)
    grads = torch.autograd.grad(loss, list(lm.parameters()))
    logits, _ = lm(tokens[:, :-1])
    full = models.language_model_loss(logits, tokens[:, 1:])
    assert full.item() == pytest.approx(loss.item(), rel=1e-10)
    for a, b in zip(grads, torch.autograd.grad(full, list(lm.parameters()))):
        torch.testing.assert_close(a, b)


def test_it_trains_on_the_synthetic_corpus(one_thread, corpus_stream):
    vocab, train_ids, valid_ids = corpus_stream
    torch.manual_seed(0)
    lm = models.AdaptiveRNNLM(len(vocab), models.frequency_cutoffs(train_ids, len(vocab)),
                              embedding_dim=16, hidden_size=32)
    config = train.TrainConfig(epochs=3, batch_size=8, bptt_len=20, lr=5e-3, progress=False)
    before = train.evaluate(lm, train.batchify(valid_ids, 8), 20)[1]
    history = train.train_language_model(lm, train_ids, valid_ids, config, device="cpu")
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.valid_perplexity[-1] < 0.5 * before < len(vocab)


@pytest.mark.gpu
def test_gpu_mixed_precision_training_matches_its_full_distribution(corpus_stream):
    vocab, train_ids, valid_ids = corpus_stream
    torch.manual_seed(0)
    lm = models.AdaptiveRNNLM(len(vocab), models.frequency_cutoffs(train_ids, len(vocab)),
                              embedding_dim=16, hidden_size=32)
    config = train.TrainConfig(epochs=2, batch_size=8, bptt_len=20, lr=5e-3, progress=False)
    history = train.train_language_model(lm, train_ids, valid_ids, config, device="cuda")
    assert history.train_loss[-1] < history.train_loss[0] and math.isfinite(history.train_loss[-1])
    stream = train.batchify(valid_ids, 4).cuda()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        nll, _ = train.evaluate(lm, stream, 20)
        logits, _ = lm(stream[:, :-1])
    assert logits.dtype == torch.float32
    by_hand = models.language_model_loss(logits, stream[:, 1:]).item()
    assert nll == pytest.approx(by_hand, rel=1e-2)       # windows (state carried) against one pass


def test_it_is_a_language_model_for_the_course_s_tables(corpus_stream):
    """NeuralLM reads forward's logits: the adaptive model's distributions sum to one and its
    sentence log-probabilities are those of log_prob."""
    from rnnlab.models import NeuralLM

    vocab, train_ids, _ = corpus_stream
    torch.manual_seed(2)
    lm = models.AdaptiveRNNLM(len(vocab), models.frequency_cutoffs(train_ids, len(vocab)),
                              embedding_dim=8, hidden_size=16)
    words = vocab.decode(train_ids[:6].tolist())
    neural = NeuralLM(lm, vocab)
    assert neural.next_distribution(words).sum() == pytest.approx(1.0, abs=1e-6)
    ids = torch.tensor([[vocab.eos_id, *vocab.encode(words)]])
    with torch.no_grad():
        top, _ = lm.encoder(ids)
        log_probs = lm.output.log_prob(top[0])                             # (7, V)
    targets = torch.as_tensor(vocab.encode(words + ["</s>"]))
    expected = log_probs.gather(1, targets[:, None])[:, 0].numpy()
    assert neural.token_logprobs(words) == pytest.approx(expected, abs=1e-5)
