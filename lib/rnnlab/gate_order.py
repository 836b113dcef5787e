"""The order of an LSTM's four gate blocks in its stacked weights, and converting between them.

An LSTM stores its four gates' weights as one matrix (4H, I), one block of H rows per gate,
and every library picks its own order:

- PyTorch (``nn.LSTM``, ``nn.LSTMCell``, ``rnnlab.layers``): **i, f, g, o**;
- CS231n's assignment: **i, f, o, g**;
- Keras (``kernel`` (I, 4H), transposed): **i, f, c, o**, c being the candidate PyTorch calls g:
  the same order as PyTorch's.

The blocks have the same shapes, so weights loaded across a difference of order raise nothing:
the network silently computes another function (its "output gate" is the candidate cell, ...).
``reorder`` moves the blocks along the first dimension; ``to_torch_gate_order`` is the
conversion the assignment asks for.
"""

from __future__ import annotations

import torch
from torch import Tensor

TORCH_ORDER = ("i", "f", "g", "o")
CS231N_ORDER = ("i", "f", "o", "g")
KERAS_ORDER = ("i", "f", "g", "o")    # Keras names the candidate c


def reorder(W: Tensor, source: tuple[str, ...], target: tuple[str, ...]) -> Tensor:
    """``W`` (4H, ...) or (4H,), its blocks stacked in the order ``source``, restacked in the
    order ``target`` (a new tensor, differentiable)."""
    blocks = dict(zip(source, W.chunk(len(source), dim=0)))
    return torch.cat([blocks[name] for name in target], dim=0)


def to_torch_gate_order(W: Tensor) -> Tensor:
    """Stacked LSTM weights (4H, ...) or biases (4H,) from the (i, f, o, g) layout to
    PyTorch's (i, f, g, o)."""
    return reorder(W, CS231N_ORDER, TORCH_ORDER)
