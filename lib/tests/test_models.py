"""rnnlab.models: the window LM's equation and context, RNNLM state carrying and weight tying,
and heads whose results on padded batches equal those on each sequence alone."""

import math

import pytest
import torch

from rnnlab import models


def test_window_lm_is_bengio_equation():
    torch.manual_seed(0)
    lm = models.FixedWindowLM(vocab_size=11, context_size=3, embedding_dim=4, hidden_size=5).double()
    tokens = torch.randint(0, 11, (2, 6))
    logits, state = lm(tokens)
    assert logits.shape == (2, 6, 11) and torch.equal(state, tokens[:, -3:])
    padded = torch.cat([torch.full((2, 3), models.START_ID), tokens], 1)
    for t in range(6):
        context = padded[:, t + 1: t + 4]                       # w_{t-2}, w_{t-1}, w_t
        x = lm.embedding(context).flatten(1)                      # concatenated embeddings
        y = lm.output.bias + torch.tanh(lm.hidden.bias + x @ lm.hidden.weight.T) @ lm.output.weight.T
        assert torch.allclose(logits[:, t], y)


def test_window_lm_sees_only_its_window_and_carries_it():
    torch.manual_seed(1)
    lm = models.FixedWindowLM(vocab_size=9, context_size=2).eval()
    tokens = torch.randint(0, 9, (3, 8))
    whole, _ = lm(tokens)
    first, state = lm(tokens[:, :5])
    second, _ = lm(tokens[:, 5:], state)
    assert torch.allclose(torch.cat([first, second], 1), whole, atol=1e-6)
    changed = tokens.clone()
    changed[:, 0] = (changed[:, 0] + 1) % 9                      # outside the window of t >= 2
    assert torch.allclose(lm(changed)[0][:, 2:], whole[:, 2:], atol=1e-6)
    assert not torch.allclose(lm(changed)[0][:, :2], whole[:, :2])


@pytest.mark.parametrize("kind", sorted(models.RECURRENT_KINDS))
def test_rnnlm_carries_state_and_impls_agree(kind):
    torch.manual_seed(2)
    lm = models.RNNLM(13, embedding_dim=6, hidden_size=7, kind=kind, num_layers=2).double().eval()
    tokens = torch.randint(0, 13, (3, 9))
    whole, state = lm(tokens)
    first, mid = lm(tokens[:, :4])
    second, end = lm(tokens[:, 4:], models.detach_state(mid))
    assert whole.shape == (3, 9, 13)
    assert torch.allclose(torch.cat([first, second], 1), whole, atol=1e-6)
    for a, b in zip(end if isinstance(end, tuple) else (end,), state if isinstance(state, tuple) else (state,)):
        assert a.shape == (2, 3, 7) and torch.allclose(a, b)
    reference = models.RNNLM(13, embedding_dim=6, hidden_size=7, kind=kind, num_layers=2,
                             impl="reference").double().eval()
    reference.load_state_dict(lm.state_dict())
    assert torch.allclose(reference(tokens)[0], whole, atol=1e-12)


def test_rnnlm_weight_tying():
    lm = models.RNNLM(20, embedding_dim=8, hidden_size=8, tie_weights=True)
    assert lm.output.weight is lm.encoder.embedding.weight
    assert sum(p.numel() for p in lm.parameters()) == sum(p.numel() for p in models.RNNLM(20, 8, 8).parameters()) - 20 * 8
    with pytest.raises(ValueError, match="tie_weights"):
        models.RNNLM(20, embedding_dim=8, hidden_size=9, tie_weights=True)
    with pytest.raises(ValueError, match="unknown recurrent kind"):
        models.RNNLM(20, kind="transformer")


def test_rnnlm_dropout_only_in_training():
    torch.manual_seed(3)
    lm = models.RNNLM(10, 5, 5, kind="gru", num_layers=2, dropout=0.5)
    tokens = torch.randint(0, 10, (2, 4))
    lm.eval()
    assert torch.equal(lm(tokens)[0], lm(tokens)[0])
    lm.train()
    assert not torch.equal(lm(tokens)[0], lm(tokens)[0])


def sequences_and_batch(vocab=15, lengths=(5, 2, 4)):
    g = torch.Generator().manual_seed(4)
    seqs = [torch.randint(1, vocab, (n,), generator=g) for n in lengths]
    padded = torch.zeros(len(seqs), max(lengths), dtype=torch.long)
    for i, s in enumerate(seqs):
        padded[i, : len(s)] = s
    return seqs, padded, torch.tensor(lengths)


@pytest.mark.parametrize("impl", ["fused", "reference"])
def test_tagger_padding_does_not_leak(impl):
    torch.manual_seed(5)
    tagger = models.RNNTagger(15, num_tags=4, embedding_dim=6, hidden_size=5, impl=impl).eval()
    seqs, padded, lengths = sequences_and_batch()
    logits = tagger(padded, lengths)
    assert logits.shape == (3, 5, 4)
    for i, s in enumerate(seqs):
        assert torch.allclose(logits[i, : len(s)], tagger(s[None])[0], atol=1e-6)


@pytest.mark.parametrize("pooling", models.POOLINGS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_classifier_pooling_respects_lengths(pooling, bidirectional):
    torch.manual_seed(6)
    clf = models.RNNClassifier(15, num_classes=3, embedding_dim=6, hidden_size=5, kind="gru",
                               bidirectional=bidirectional, pooling=pooling).eval()
    seqs, padded, lengths = sequences_and_batch()
    logits = clf(padded, lengths)
    assert logits.shape == (3, 3)
    for i, s in enumerate(seqs):
        assert torch.allclose(logits[i], clf(s[None])[0], atol=1e-6), f"sequence {i}"


def test_pool_sequence_values():
    outputs = torch.tensor([[[1.0], [3.0], [-5.0]], [[2.0], [0.0], [0.0]]])   # B=2, T=3, F=1
    lengths = torch.tensor([3, 1])
    h_n = torch.tensor([[[7.0], [8.0]]])
    assert models.pool_sequence(outputs, h_n, "mean", lengths=lengths).flatten().tolist() == pytest.approx([-1 / 3, 2.0])
    assert models.pool_sequence(outputs, h_n, "max", lengths=lengths).flatten().tolist() == [3.0, 2.0]
    assert models.pool_sequence(outputs, h_n, "last").flatten().tolist() == [7.0, 8.0]


def test_language_model_loss_is_mean_nll():
    logits = torch.zeros(2, 3, 4)
    targets = torch.randint(0, 4, (2, 3))
    assert models.language_model_loss(logits, targets).item() == pytest.approx(math.log(4))


def test_teacher_forcing_loss_ignores_padding():
    torch.manual_seed(7)
    lm = models.RNNLM(6, 4, 4, kind="gru", impl="reference").double()
    pad = 5
    tokens = torch.tensor([[1, 2, 3, 4, 2], [3, 1, pad, pad, pad]])
    loss = models.teacher_forcing_loss(lm, tokens, pad_id=pad)
    assert loss.requires_grad and loss.shape == ()
    logits = [lm(row[None, : n - 1])[0][0] for row, n in zip(tokens, (5, 2))]
    nll = [-torch.log_softmax(z, -1)[range(len(z)), row[1:len(z) + 1]] for z, row in zip(logits, tokens)]
    assert loss.item() == pytest.approx(torch.cat(nll).mean().item(), rel=1e-12)   # 4 + 1 real targets


def test_neural_lm_is_a_language_model():
    from rnnlab.vocab import Vocab

    vocab = Vocab.build([["a", "b", "c"], ["b", "a"]])
    torch.manual_seed(8)
    lm = models.NeuralLM(models.RNNLM(len(vocab), 4, 4, kind="gru"), vocab)
    p = lm.next_distribution(["a"])
    assert p.shape == (len(vocab),) and p.sum() == pytest.approx(1.0)
    sentence = ["a", "b"]
    by_steps = sum(math.log(lm.next_distribution(sentence[:t])[vocab[w]])
                   for t, w in enumerate(sentence + ["</s>"]))
    assert lm.logprob(sentence) == pytest.approx(by_steps)
