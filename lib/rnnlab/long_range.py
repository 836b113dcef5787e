"""Long-range experiments: train an RNN, an LSTM or a GRU on a task whose answer depends on an
input many steps back, measure its error on held-out sequences, and how the gradient of the
loss reaches the states far from it.

- ``AddingModel``: a recurrent layer read at its last state by a linear layer, for the adding
  problem (``rnnlab.data.tasks.adding_problem``); its error is the held-out mean squared error,
  against the baseline of always predicting 1 (about 0.167, Le et al. 2015).
- ``CopyModel``: an embedding, a recurrent layer and a linear layer at every step, for the copy
  task (``copy_task``); its error is the share of copied symbols it gets wrong, against the
  memoryless guess's 1 - 1/alphabet.
- ``fit``: a short seeded Adam loop over fresh batches of a task; ``adding_error`` and
  ``copy_error`` train and measure one model.
- ``state_gradient_norms``: the norm of dL/dh_t (and dL/dc_t for the LSTM) against the
  distance from the loss, on the cells of ``rnnlab.gated`` and a vanilla tanh step.
- ``gate_trace``: the gates and the cell of a trained LSTM layer at every step of a batch.
- ``first_failure``: the first length whose error is no better than the baseline.

Everything is batch-first and small enough for a laptop's CPU; ``steps`` and ``hidden_size``
scale it up.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import gated
from .data.tasks import adding_problem, copy_task
from .models import recurrent_layer

ADDING_BASELINE = 1 / 6     # E[(s - 1)^2] for s the sum of two uniforms: predicting 1 always
HELD_OUT_SEED = 2**31 - 1  # minus the seed: far from every training batch (seed * 100_000 + step)


class AddingModel(nn.Module):
    """``kind`` ("rnn", "lstm", "gru") layer of ``hidden_size`` units over (B, T, 2) inputs, a
    linear layer on the state after the last step. forward(x (B, T, 2)) -> predictions (B,)."""

    def __init__(self, kind: str, hidden_size: int = 32):
        super().__init__()
        self.recurrent = recurrent_layer(kind, 2, hidden_size)
        self.output = nn.Linear(hidden_size, 1)

    def forward(self, x: Tensor) -> Tensor:
        states, _ = self.recurrent(x)
        return self.output(states[:, -1]).squeeze(-1)


class CopyModel(nn.Module):
    """Embedding of the ``vocab_size`` copy-task ids, a ``kind`` layer, a linear layer at every
    step. forward(tokens (B, T)) -> logits (B, T, vocab_size)."""

    def __init__(self, kind: str, vocab_size: int, hidden_size: int = 32):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, hidden_size)
        self.recurrent = recurrent_layer(kind, hidden_size, hidden_size)
        self.output = nn.Linear(hidden_size, vocab_size)

    def forward(self, tokens: Tensor) -> Tensor:
        states, _ = self.recurrent(self.embedding(tokens))
        return self.output(states)


def set_forget_bias(lstm: nn.Module, value: float) -> None:
    """Every forget-gate bias of the LSTM layer ``lstm`` (block 1 of 4 of each bias_ih_l* and
    bias_hh_l*) set so that the two sum to ``value``: f_t starts near sigmoid(value), and the
    cell keeps its state from the first update on (char-rnn; Jozefowicz et al. 2015 use 1)."""
    H = lstm.hidden_size
    with torch.no_grad():
        for name, param in lstm.named_parameters():
            if name.startswith("bias_"):
                param[H:2 * H] = value / 2


def fit(model: nn.Module, batch: Callable[[int, int], tuple[Tensor, Tensor]],
        loss_fn: Callable[[Tensor, Tensor], Tensor], steps: int, batch_size: int = 64,
        lr: float = 1e-2, clip: float = 1.0, seed: int = 0) -> list[float]:
    """Train ``model`` with Adam on ``steps`` fresh batches ``batch(batch_size, seed * 100_000 + step)``,
    clipping the gradient norm at ``clip``. Returns the training loss of every step."""
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for step in range(steps):
        inputs, targets = batch(batch_size, seed * 100_000 + step)
        loss = loss_fn(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        losses.append(loss.item())
    return losses


def adding_batch(length: int) -> Callable[[int, int], tuple[Tensor, Tensor]]:
    """``batch(n, seed)`` of adding-problem tensors: inputs (n, length, 2), targets (n,)."""
    def batch(n: int, seed: int):
        task = adding_problem(n, length, seed=seed)
        return torch.as_tensor(task.inputs), torch.as_tensor(task.targets)
    return batch


def adding_error(kind: str, length: int, hidden_size: int = 32, steps: int = 300,
                 forget_bias: float | None = None, seed: int = 0, test_size: int = 1000) -> float:
    """Train an ``AddingModel`` at ``length`` and return its mean squared error on
    ``test_size`` held-out sequences (seeded apart from every training batch)."""
    torch.manual_seed(seed)
    model = AddingModel(kind, hidden_size)
    if forget_bias is not None:
        set_forget_bias(model.recurrent, forget_bias)
    fit(model, adding_batch(length), F.mse_loss, steps, seed=seed)
    inputs, targets = adding_batch(length)(test_size, HELD_OUT_SEED - seed)
    with torch.no_grad():
        return F.mse_loss(model.eval()(inputs), targets).item()


def copy_batch(delay: int, num_symbols: int, alphabet: int) -> Callable[[int, int], tuple[Tensor, Tensor]]:
    """``batch(n, seed)`` of copy-task ids: inputs and targets (n, 2K + delay)."""
    def batch(n: int, seed: int):
        task = copy_task(n, num_symbols, delay, alphabet, seed=seed)
        return torch.as_tensor(task.inputs), torch.as_tensor(task.targets)
    return batch


def copy_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Cross-entropy at every step (the blanks too: the model must also learn to wait)."""
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def copy_error(kind: str, delay: int, num_symbols: int = 5, alphabet: int = 4, hidden_size: int = 32,
               steps: int = 300, seed: int = 0, test_size: int = 500) -> float:
    """Train a ``CopyModel`` with ``delay`` blank steps and return the share of the
    ``num_symbols`` copied symbols it gets wrong on held-out sequences."""
    torch.manual_seed(seed)
    model = CopyModel(kind, alphabet + 2, hidden_size)
    batch = copy_batch(delay, num_symbols, alphabet)
    fit(model, batch, copy_loss, steps, seed=seed)
    inputs, targets = batch(test_size, HELD_OUT_SEED - seed)
    with torch.no_grad():
        predicted = model.eval()(inputs).argmax(-1)
    return (predicted[:, -num_symbols:] != targets[:, -num_symbols:]).double().mean().item()


def first_failure(lengths: Sequence[int], errors: Sequence[float], baseline: float,
                  margin: float = 0.5) -> int | None:
    """The first length whose error is above ``margin`` times the baseline (the model no longer
    beats it clearly), or None if every length is below."""
    for length, error in zip(lengths, errors):
        if error > margin * baseline:
            return length
    return None


def state_gradient_norms(kind: str, x: Tensor, weights: tuple, readout: Tensor) -> dict[str, np.ndarray]:
    r"""Run one ``kind`` ("rnn", "lstm", "gru") layer with ``weights`` (W_ih, W_hh, b_ih, b_hh,
    ``torch.nn``'s layout) over x (B, T, I), take the loss L = sum(h_T * readout) (readout
    (B, H)) and return, by distance T - t = 0..T-1, the norm of :math:`\partial L/\partial h_t`
    ("h") and for the LSTM of :math:`\partial L/\partial c_t` ("c"): arrays (T,)."""
    B, T, _ = x.shape
    H = weights[1].shape[1]
    h, c = x.new_zeros(B, H).requires_grad_(), x.new_zeros(B, H).requires_grad_()   # a graph always
    hs, cs = [], []
    for x_t in x.unbind(1):
        if kind == "lstm":
            h, c = gated.lstm_cell(x_t, (h, c), *weights)
            cs.append(c)
        elif kind == "gru":
            h = gated.gru_cell(x_t, h, *weights)
        else:
            W_ih, W_hh, b_ih, b_hh = weights
            h = torch.tanh(x_t @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
        hs.append(h)
    loss = (h * readout).sum()
    grads = torch.autograd.grad(loss, hs + cs, allow_unused=True, materialize_grads=True)
    norms = torch.stack([torch.linalg.vector_norm(g) for g in grads]).detach()
    result = {"h": norms[:T].flip(0).numpy()}          # index: distance T - t
    if cs:
        result["c"] = norms[T:].flip(0).numpy()
    return result


@torch.no_grad()
def gate_trace(lstm: nn.Module, x: Tensor) -> dict[str, Tensor]:
    """Run the one-layer, batch-first LSTM layer ``lstm`` (``torch.nn``'s parameter names) over
    x (B, T, I) step by step and return its gates and cell at every step: {"i", "f", "g", "o",
    "c", "h"}, each (B, T, H)."""
    weights = lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0
    B, H = x.shape[0], lstm.hidden_size
    h, c = x.new_zeros(B, H), x.new_zeros(B, H)
    trace = {k: [] for k in "ifgoch"}
    for x_t in x.unbind(1):
        i, f, g, o = gated.lstm_gates(x_t, h, *weights)
        h, c = gated.lstm_cell(x_t, (h, c), *weights)
        for k, v in zip("ifgoch", (i, f, g, o, c, h)):
            trace[k].append(v)
    return {k: torch.stack(v, dim=1) for k, v in trace.items()}
