r"""Truncated backpropagation through time, written out (Williams and Peng 1990).

Full BPTT over a long stream keeps every step's activations and takes one step of gradient
descent per pass over the whole stream. Truncated BPTT reads the stream in chunks of k steps:

- the forward pass *carries* the state from the end of one chunk to the start of the next, so
  the model sees contexts longer than k;
- the state is *detached* before each chunk: the backward pass stops at the chunk's start, so
  its cost and memory are those of k steps, and a dependency longer than k never receives a
  gradient;
- the weights are updated after every chunk.

``train_truncated`` is this loop and nothing else, the reference of chapter 04's assignment.
``rnnlab.train.train_epoch`` is the same loop with gradient clipping, mixed precision and a
progress bar, the one the course trains its models with.
"""

from __future__ import annotations

from typing import Callable

from torch import Tensor, nn, optim

from .models import detach_state, language_model_loss
from .train import bptt_windows


def train_truncated(model: nn.Module, stream: Tensor, k: int, optimizer: optim.Optimizer,
                    before_step: Callable[[nn.Module], None] | None = None) -> list[float]:
    r"""One epoch of truncated BPTT with truncation length k over a batchified token stream.

    Chunk i reads the inputs ``stream[:, i k : (i+1) k]`` and predicts the targets one token
    further, ``stream[:, i k + 1 : (i+1) k + 1]`` (the last chunk may be shorter; the last
    token is only a target). For every chunk, in order:

    .. math::
        s &\leftarrow \mathrm{detach}(s) \quad \text{(the carried state, None at the start)} \\
        \text{logits}, s &= \text{model}(\text{inputs}, s) \\
        L &= \text{mean cross-entropy of logits against the targets} \\
        \nabla L &\text{ by backpropagation, into the gradients zeroed before} \\
        &\texttt{before\_step(model)}, \text{ then one optimizer step}

    model: ``model(tokens (B, k), state) -> (logits (B, k, V), state)``, the language-model
    signature of ``rnnlab.models`` (the state a tensor, a tuple of tensors, or None); put in
    training mode. stream (B, N): int64 token ids, row b one contiguous piece of text (as
    ``rnnlab.train.batchify`` cuts it). k: the truncation length, >= 1. optimizer: over the
    model's parameters. before_step: called with the model after each chunk's backward pass
    and before the optimizer step, when the gradients are those of this chunk's loss alone
    (to record them, or to clip them), or None.
    Returns the loss of every chunk, in nats per token (a list of ceil((N-1)/k) floats)."""
    if k < 1:
        raise ValueError(f"the truncation length k must be at least 1, got {k}")
    model.train()
    state, losses = None, []
    for inputs, targets in bptt_windows(stream, k):
        state = detach_state(state)                     # carry the value, cut the gradient
        logits, state = model(inputs, state)
        loss = language_model_loss(logits, targets)
        optimizer.zero_grad()
        loss.backward()
        if before_step is not None:
            before_step(model)
        optimizer.step()
        losses.append(loss.item())
    return losses
