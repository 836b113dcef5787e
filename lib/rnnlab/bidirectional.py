r"""Stacked and bidirectional recurrent networks over padded batches: the reference of chapter 06.

A *stacked* (deep) RNN feeds the output sequence of layer :math:`l` to layer :math:`l+1` as its
input sequence,

.. math::
    h^{(l)}_t = \mathrm{cell}(h^{(l-1)}_t, h^{(l)}_{t-1}), \qquad h^{(0)}_t = x_t,

and a *bidirectional* RNN runs a second RNN, with weights of its own, from the end of each
sequence to its start and concatenates the two states of every token,

.. math::
    \overrightarrow{h}_t = \mathrm{cell}(x_t, \overrightarrow{h}_{t-1}), \qquad
    \overleftarrow{h}_t = \mathrm{cell}(x_t, \overleftarrow{h}_{t+1}), \qquad
    y_t = [\overrightarrow{h}_t ; \overleftarrow{h}_t].

In a padded batch "the end" is each sequence's own last real token: the backward direction
starts there, never at the padding (reversing the whole padded tensor is the classic bug:
a short sequence's backward states would then read pad tokens first). Here that is done by
reversing every sequence *within its length* (:func:`reverse_padded`) and running an ordinary
masked recurrence (:func:`masked_recurrence`); torch.nn gets the same numbers from a
``PackedSequence``.

Everything is batch-first, ``(B, T, ...)``, with ``lengths`` (B,) int64, every length >= 1;
states past each sequence's end are zero. A ``cell(x_t, h, W_ih, W_hh, b_ih, b_hh) -> h_t`` is
any one-step function with torch.nn's weight layout, such as ``torch.rnn_tanh_cell`` or
``torch.gru_cell``; final states keep torch.nn's layout, ``(num_layers * num_directions, B, H)``
ordered layer by layer, forward before backward, even though the sequences are batch-first.

These loops are for reading; ``rnnlab.layers`` (``num_layers``, ``bidirectional``,
``lengths=``, packed sequences, ``impl="fused"``) computes the same, fast.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor

Weights = tuple  # (W_ih (G*H, I), W_hh (G*H, H), b_ih (G*H,), b_hh (G*H,)) of one layer-direction
Cell = Callable[..., Tensor]


def stacked_forward(x: Tensor, weights: Sequence[Weights], cell: Cell) -> tuple[Tensor, Tensor]:
    r"""An L-layer unidirectional RNN, each layer reading the whole output sequence of the one below:

    .. math::
        h^{(l)}_t = \mathrm{cell}(h^{(l-1)}_t, h^{(l)}_{t-1}), \quad h^{(0)}_t = x_t, \quad
        h^{(l)}_0 = 0.

    x (B, T, I); weights: L tuples (W_ih, W_hh, b_ih, b_hh), layer 0 first, W_ih of layer 0
    (G*H, I) and of every later layer (G*H, H); cell as in the module docstring.
    Returns output (B, T, H), the top layer's states :math:`h^{(L)}_1 \dots h^{(L)}_T`, and
    h_n (L, B, H), every layer's last state, bottom first: ``torch.nn.RNN(num_layers=L)``
    (or GRU) with the same weights returns the same two."""
    layer_input, finals = x, []
    for W_ih, W_hh, b_ih, b_hh in weights:
        h = x.new_zeros(x.shape[0], W_hh.shape[1])           # h^(l)_0 = 0
        states = []
        for x_t in layer_input.unbind(1):                    # x_t = h^(l-1)_t
            h = cell(x_t, h, W_ih, W_hh, b_ih, b_hh)        # h^(l)_t = cell(h^(l-1)_t, h^(l)_{t-1})
            states.append(h)
        layer_input = torch.stack(states, 1)                 # layer l's outputs: layer l+1's inputs
        finals.append(h)
    return layer_input, torch.stack(finals)


def length_mask(lengths: Tensor, T: int) -> Tensor:
    """(B, T) bool, True at the real tokens: ``mask[b, t] = t < lengths[b]``."""
    return torch.arange(T, device=lengths.device)[None, :] < lengths[:, None]


def reverse_padded(x: Tensor, lengths: Tensor) -> Tensor:
    """Every sequence of a batch-first padded ``x`` (B, T, ...) reversed within its own length,
    the padding left where it is: ``out[b, t] = x[b, lengths[b] - 1 - t]`` for t < lengths[b],
    ``x[b, t]`` after. Its own inverse. (``x.flip(1)`` would put the padding first.)"""
    B, T = x.shape[:2]
    t = torch.arange(T, device=x.device).expand(B, T)
    last = (lengths.to(x.device) - 1)[:, None]
    index = torch.where(t <= last, last - t, t)              # (B, T): where each step reads from
    return x.gather(1, index.view(B, T, *[1] * (x.dim() - 2)).expand_as(x))


def masked_recurrence(x: Tensor, lengths: Tensor, cell: Cell, weights: Weights) -> tuple[Tensor, Tensor]:
    r"""One RNN over a padded batch, left to right, each sequence stopping at its own length:

    .. math::
        h_t = \mathrm{cell}(x_t, h_{t-1}) \text{ for } t < \mathrm{len}_b, \qquad
        h_t = h_{t-1} \text{ (and output 0) after.}

    x (B, T, I); lengths (B,); weights (W_ih, W_hh, b_ih, b_hh); h_0 = 0. Returns outputs
    (B, T, H), zero past each end, and the final states (B, H), each taken after its
    sequence's last real token."""
    W_ih, W_hh, b_ih, b_hh = weights
    h = x.new_zeros(x.shape[0], W_hh.shape[1])                          # h_0 = 0
    mask = length_mask(lengths.to(x.device), x.shape[1])
    outputs = []
    for x_t, real in zip(x.unbind(1), mask.unbind(1)):
        real = real[:, None]                                              # (B, 1)
        h = torch.where(real, cell(x_t, h, W_ih, W_hh, b_ih, b_hh), h)    # past the end: keep h
        outputs.append(h * real)                                          # and output zero
    return torch.stack(outputs, 1), h


def bidirectional_forward(x: Tensor, lengths: Tensor, cell: Cell, forward_weights: Weights,
                          backward_weights: Weights) -> tuple[Tensor, Tensor]:
    r"""A one-layer bidirectional RNN over a padded batch:

    .. math::
        \overrightarrow{h}_t = \mathrm{cell}(x_t, \overrightarrow{h}_{t-1}), \quad
        \overleftarrow{h}_t = \mathrm{cell}(x_t, \overleftarrow{h}_{t+1}), \quad
        \overrightarrow{h}_0 = \overleftarrow{h}_{\mathrm{len}+1} = 0, \quad
        y_t = [\overrightarrow{h}_t ; \overleftarrow{h}_t].

    The backward RNN reads each sequence from its own last real token back to its first
    (:func:`reverse_padded`, then the ordinary left-to-right recurrence, then reversed back).

    x (B, T, I); lengths (B,); forward_weights, backward_weights: (W_ih, W_hh, b_ih, b_hh).
    Returns output (B, T, 2H), forward states then backward states, zero past each end, and
    h_n (2, B, H): the forward state after each last real token, the backward state after
    reading back to the first token. ``torch.nn.GRU(bidirectional=True)`` (or RNN) on
    ``pack_padded_sequence(x, lengths)`` returns the same."""
    forward, h_forward = masked_recurrence(x, lengths, cell, forward_weights)
    reversed_backward, h_backward = masked_recurrence(reverse_padded(x, lengths), lengths, cell,
                                                      backward_weights)
    backward = reverse_padded(reversed_backward, lengths)   # back in reading order: t has read T..t
    return torch.cat([forward, backward], -1), torch.stack([h_forward, h_backward])


def sentence_vector(h_n: Tensor, num_layers: int) -> Tensor:
    r"""The top layer's two final states, :math:`[\overrightarrow{h}_T ; \overleftarrow{h}_1]`:
    one vector per sequence from a bidirectional layer's ``h_n``.

    h_n (num_layers * 2, B, H), torch.nn's order: layer by layer, forward before backward, so
    the top layer's directions are rows -2 (forward) and -1 (backward). Returns (B, 2H)."""
    _, B, H = h_n.shape
    by_layer = h_n.view(num_layers, 2, B, H)                 # (layer, direction, B, H)
    forward, backward = by_layer[-1]                         # the top layer
    return torch.cat([forward, backward], -1)
