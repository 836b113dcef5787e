"""rnnlab.tbptt.train_truncated: the gradients of every chunk equal an independent reference
(the carried state taken from one forward pass over the whole stream, the chunk's loss
differentiated from it), the state is carried and detached, the weights are updated after
every chunk, and a chunk longer than the stream is full BPTT."""

import copy
import math

import pytest
import torch
from torch.testing import assert_close

from rnnlab import models
from rnnlab.tbptt import train_truncated
from rnnlab.train import batchify

V = 7


def make_model(kind="rnn", seed=0):
    torch.manual_seed(seed)
    return models.RNNLM(V, 5, 6, kind=kind).double()


def stream_of(n_tokens, batch_size, seed=0):
    g = torch.Generator().manual_seed(seed)
    return batchify(torch.randint(0, V, (n_tokens,), generator=g), batch_size)


def recorded_gradients(model, stream, k, lr):
    """Run train_truncated with SGD; return the chunk losses and each chunk's gradients."""
    grads = []

    def record(m):
        grads.append([p.grad.clone() for p in m.parameters()])

    losses = train_truncated(model, stream, k, torch.optim.SGD(model.parameters(), lr=lr), record)
    return losses, grads


def reference_chunks(model, stream, k):
    """With the weights fixed, the state entering chunk i is the state after reading
    stream[:, :i k] in one forward pass; chunk i's gradient is that of its own loss from it."""
    params = list(model.parameters())
    N = stream.shape[1]
    losses, grads = [], []
    for start in range(0, N - 1, k):
        end = min(start + k, N - 1)
        with torch.no_grad():
            state = model(stream[:, :start], None)[1] if start > 0 else None
        logits, _ = model(stream[:, start:end], state)
        loss = models.language_model_loss(logits, stream[:, start + 1:end + 1])
        losses.append(loss.item())
        grads.append(list(torch.autograd.grad(loss, params)))
    return losses, grads


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
@pytest.mark.parametrize("B, n_tokens, k", [(3, 61, 5), (1, 30, 4), (2, 40, 1), (2, 40, 7), (4, 50, 100)])
def test_chunk_gradients_equal_the_reference(kind, B, n_tokens, k):
    model, stream = make_model(kind), stream_of(n_tokens, B)
    expected_losses, expected_grads = reference_chunks(copy.deepcopy(model), stream, k)
    losses, grads = recorded_gradients(model, stream, k, lr=0.0)     # weights stay put
    assert len(losses) == len(grads) == math.ceil((stream.shape[1] - 1) / k)
    assert_close(torch.tensor(losses, dtype=torch.float64), torch.tensor(expected_losses, dtype=torch.float64))
    for i, (got, want) in enumerate(zip(grads, expected_grads)):
        for (name, _), g, w in zip(model.named_parameters(), got, want):
            assert_close(g, w, rtol=1e-9, atol=1e-12, msg=f"chunk {i}, {name}")


def test_the_state_is_detached_so_a_chunk_sees_only_its_own_steps():
    """The gradient of chunk 1 through the whole history differs from the truncated one."""
    model, stream = make_model(), stream_of(42, 2)                    # (2, 21): chunks 0-9, 10-19
    _, grads = recorded_gradients(copy.deepcopy(model), stream, 10, lr=0.0)
    logits, _ = model(stream[:, :20], None)
    loss_1 = models.language_model_loss(logits[:, 10:], stream[:, 11:21])
    full = torch.autograd.grad(loss_1, model.encoder.rnn.weight_hh_l0)[0]
    truncated = grads[1][[n for n, _ in model.named_parameters()].index("encoder.rnn.weight_hh_l0")]
    assert not torch.allclose(full, truncated, rtol=1e-3, atol=1e-6)


def test_weights_are_updated_after_every_chunk():
    """With SGD the parameters after the epoch are those of a replay that steps after each chunk."""
    model, stream, k, lr = make_model(), stream_of(61, 3), 6, 0.5
    replay = copy.deepcopy(model)
    losses, grads = recorded_gradients(model, stream, k, lr)
    state = None
    for i, start in enumerate(range(0, stream.shape[1] - 1, k)):
        end = min(start + k, stream.shape[1] - 1)
        logits, new_state = replay(stream[:, start:end], None if state is None else state.detach())
        loss = models.language_model_loss(logits, stream[:, start + 1:end + 1])
        assert loss.item() == pytest.approx(losses[i], rel=1e-12)
        step = torch.autograd.grad(loss, list(replay.parameters()))
        for g, r in zip(grads[i], step):
            assert_close(g, r, rtol=1e-9, atol=1e-12)
        with torch.no_grad():
            for p, g in zip(replay.parameters(), step):
                p -= lr * g
        state = new_state
    for p, q in zip(model.parameters(), replay.parameters()):
        assert_close(p, q, rtol=1e-9, atol=1e-12)
    assert losses[-1] < losses[0]


def test_before_step_can_clip_and_is_optional():
    model, stream = make_model(), stream_of(82, 2)                    # (2, 41): 8 chunks of 5
    before, tiny = [p.detach().clone() for p in model.parameters()], 1e-4
    train_truncated(model, stream, 5, torch.optim.SGD(model.parameters(), lr=1.0),
                    lambda m: torch.nn.utils.clip_grad_norm_(m.parameters(), tiny))
    moved = torch.cat([(p.detach() - b).flatten() for p, b in zip(model.parameters(), before)])
    assert moved.norm() <= 8 * tiny * (1 + 1e-6)                       # 8 chunks, each at most tiny
    losses = train_truncated(model, stream, 5, torch.optim.SGD(model.parameters(), lr=0.1))
    assert len(losses) == 8 and all(math.isfinite(x) for x in losses)


def test_rejects_a_truncation_length_below_one():
    model = make_model()
    with pytest.raises(ValueError, match="at least 1"):
        train_truncated(model, stream_of(20, 2), 0, torch.optim.SGD(model.parameters(), lr=0.1))
