"""rnnlab.train: windows, truncated BPTT state handling, clipping, learning, early stopping,
seeding and checkpoints."""

import math

import pytest
import torch
from torch import nn

from rnnlab import models, train

QUIET = dict(progress=False)


def periodic_stream(n, period=7):
    return torch.arange(n) % period


def test_batchify_and_windows():
    stream = train.batchify(torch.arange(23), batch_size=3)
    assert stream.shape == (3, 7) and stream[1, 0] == 7          # row b = b-th slice of the text
    windows = list(train.bptt_windows(stream, bptt_len=4))
    assert [w[0].shape[1] for w in windows] == [4, 2]            # the last target is token N-1
    for inputs, targets in windows:
        assert torch.equal(targets, inputs + 1)
    assert torch.equal(torch.cat([w[0] for w in windows], 1), stream[:, :-1])
    with pytest.raises(ValueError):
        train.batchify(torch.arange(3), batch_size=2)


class StateSpy(nn.Module):
    """An RNNLM that records the state it receives at every window."""

    def __init__(self):
        super().__init__()
        self.lm = models.RNNLM(7, 4, 4, kind="lstm")
        self.received, self.returned = [], []

    def forward(self, tokens, state=None):
        self.received.append(state)
        logits, state = self.lm(tokens, state)
        self.returned.append(state)
        return logits, state


def test_truncated_bptt_carries_detached_state():
    spy = StateSpy()
    config = train.TrainConfig(bptt_len=5, **QUIET)
    train.train_epoch(spy, train.batchify(periodic_stream(64), 2), torch.optim.SGD(spy.parameters(), lr=0.1), config)
    assert spy.received[0] is None and len(spy.received) == 7
    for got, previous in zip(spy.received[1:], spy.returned[:-1]):
        for g, p in zip(got, previous):
            assert g.grad_fn is None and not g.requires_grad          # detached ...
            assert torch.equal(g, p)                                  # ... but carried over


def test_gradient_norm_clipping():
    torch.manual_seed(0)
    lm = models.RNNLM(7, 4, 4, kind="rnn")
    before = [p.detach().clone() for p in lm.parameters()]
    config = train.TrainConfig(bptt_len=10, clip_norm=1e-3, **QUIET)
    train.train_epoch(lm, train.batchify(periodic_stream(22), 2), torch.optim.SGD(lm.parameters(), lr=1.0), config)
    step = torch.sqrt(sum(((p.detach() - b) ** 2).sum() for p, b in zip(lm.parameters(), before)))
    assert 0 < step <= 1e-3 * (1 + 1e-4)                          # one SGD step of a clipped gradient


@pytest.mark.parametrize("model_factory", [
    lambda: models.RNNLM(7, 16, 16, kind="gru"),
    lambda: models.FixedWindowLM(7, context_size=2, embedding_dim=8, hidden_size=16),
], ids=["rnnlm", "window"])
def test_learns_a_periodic_language(model_factory):
    """A period-7 stream is deterministic given the previous token: perplexity goes to ~1."""
    lm = model_factory()
    config = train.TrainConfig(epochs=6, batch_size=4, bptt_len=10, lr=0.02, **QUIET)
    history = train.train_language_model(lm, periodic_stream(800), periodic_stream(200), config, device="cpu")
    assert history.valid_perplexity[0] < 7 and history.valid_perplexity[-1] < 1.3
    assert train.evaluate(lm, train.batchify(periodic_stream(200), 4), bptt_len=10)[1] == pytest.approx(
        min(history.valid_perplexity), rel=1e-4)                  # the best weights are kept
    assert history.tokens_per_second > 0


def test_evaluate_uniform_model_has_perplexity_vocab_size():
    lm = models.RNNLM(11, 4, 4)
    nn.init.zeros_(lm.output.weight), nn.init.zeros_(lm.output.bias)
    nll, ppl = train.evaluate(lm, train.batchify(torch.randint(0, 11, (100,)), 4), bptt_len=7)
    assert nll == pytest.approx(math.log(11)) and ppl == pytest.approx(11)


def test_early_stopping_and_checkpoint(tmp_path):
    lm = models.RNNLM(7, 4, 4, kind="rnn")
    path = tmp_path / "best.pt"
    config = train.TrainConfig(epochs=10, lr=0.0, optimizer="sgd", patience=2, checkpoint=str(path), **QUIET)
    history = train.train_language_model(lm, periodic_stream(300), periodic_stream(100), config, device="cpu")
    assert history.stopped_early and history.best_epoch == 0 and len(history.valid_perplexity) == 3
    fresh = models.RNNLM(7, 4, 4, kind="rnn")
    checkpoint = train.load_checkpoint(path, fresh, map_location="cpu")
    assert checkpoint["metadata"]["epoch"] == 0 and checkpoint["metadata"]["config"]["patience"] == 2
    for a, b in zip(fresh.state_dict().values(), lm.state_dict().values()):
        assert torch.equal(a, b)


def test_checkpoint_round_trip_with_optimizer(tmp_path):
    lm = models.RNNLM(7, 4, 4)
    optimizer = torch.optim.Adam(lm.parameters())
    train.train_epoch(lm, train.batchify(periodic_stream(40), 2), optimizer, train.TrainConfig(**QUIET))
    train.save_checkpoint(tmp_path / "sub" / "c.pt", lm, optimizer, note="hello")
    fresh, fresh_opt = models.RNNLM(7, 4, 4), torch.optim.Adam(models.RNNLM(7, 4, 4).parameters())
    checkpoint = train.load_checkpoint(tmp_path / "sub" / "c.pt", fresh, fresh_opt)
    assert checkpoint["metadata"] == {"note": "hello"}
    assert fresh_opt.state_dict()["state"][0]["step"] == optimizer.state_dict()["state"][0]["step"]


def test_seeding_makes_runs_identical():
    runs = []
    for _ in range(2):
        train.seed_everything(123)
        lm = models.RNNLM(7, 4, 4, kind="gru", dropout=0.3)
        config = train.TrainConfig(epochs=1, seed=5, **QUIET)
        runs.append((train.train_language_model(lm, periodic_stream(200), periodic_stream(60), config,
                                                device="cpu").train_loss, lm.output.weight.detach()))
    assert runs[0][0] == runs[1][0] and torch.equal(runs[0][1], runs[1][1])


@pytest.mark.gpu
@pytest.mark.parametrize("impl", ["fused", "reference"])
def test_gpu_mixed_precision_and_checkpoint_to_cpu(tmp_path, impl):
    lm = models.RNNLM(7, 16, 16, kind="lstm", impl=impl)
    config = train.TrainConfig(epochs=3, batch_size=4, bptt_len=10, lr=0.02, checkpoint=str(tmp_path / "gpu.pt"), **QUIET)
    history = train.train_language_model(lm, periodic_stream(800), periodic_stream(200), config, device="cuda")
    assert next(lm.parameters()).is_cuda and history.valid_perplexity[-1] < history.valid_perplexity[0]
    cpu_model = models.RNNLM(7, 16, 16, kind="lstm")
    train.load_checkpoint(tmp_path / "gpu.pt", cpu_model)
    assert not next(cpu_model.parameters()).is_cuda
