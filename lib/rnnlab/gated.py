r"""The LSTM and the GRU as chapter 05 uses them: the reference its checks compare against.

The cells are ``rnnlab.layers``' ``lstm_cell`` and ``gru_cell`` (the one place their equations
are written; re-exported here). This module adds what the chapter needs around them: the gates
of one LSTM step (``lstm_gates``), the GRU of Cho et al. (``gru_cell_cho``), the LSTM over a
padded batch (``lstm_forward``) and one LSTM step with its gradients by hand.

LSTM (``nn.LSTMCell``): the four blocks of ``W_ih`` (4H, I), ``W_hh`` (4H, H) and the biases
(4H,) are stacked in the order **i, f, g, o**:

.. math::

    i_t &= \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}) \\
    f_t &= \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}) \\
    g_t &= \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) \\
    o_t &= \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}) \\
    c_t &= f_t \odot c_{t-1} + i_t \odot g_t \\
    h_t &= o_t \odot \tanh(c_t)

GRU (``nn.GRUCell``): three blocks in the order **r, z, n**; the reset gate multiplies
:math:`W_{hn} h_{t-1} + b_{hn}` *after* the matrix product:

.. math::

    r_t &= \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \\
    z_t &= \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\
    n_t &= \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})) \\
    h_t &= z_t \odot h_{t-1} + (1 - z_t) \odot n_t

Cho et al. (2014) reset the state *before* the product, :math:`W_{hn} (r_t \odot h_{t-1})`
(``gru_cell_cho``): another function, with other numbers for the same weights.

``lstm_step_forward``/``lstm_step_backward`` are one LSTM step and its gradients by hand, in
the style of chapter 04's ``rnn_step_forward``/``rnn_step_backward``. Every function is
batch-first: x (B, I), states (B, H), sequences (B, T, ...).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .layers import gru_cell, lstm_cell

__all__ = ["lstm_cell", "gru_cell", "lstm_gates", "gru_cell_cho", "lstm_forward",
           "lstm_step_forward", "lstm_step_backward", "parameter_count"]


def lstm_gates(x: Tensor, h: Tensor, W_ih: Tensor, W_hh: Tensor, b_ih: Tensor, b_hh: Tensor):
    """The four gates of one LSTM step: (i_t, f_t, g_t, o_t), each (B, H). x (B, I), h (B, H),
    weights as ``rnnlab.layers.lstm_cell``."""
    a_i, a_f, a_g, a_o = (x @ W_ih.T + b_ih + h @ W_hh.T + b_hh).chunk(4, dim=-1)
    i = torch.sigmoid(a_i)                 # input gate
    f = torch.sigmoid(a_f)                 # forget gate
    g = torch.tanh(a_g)                    # candidate cell
    o = torch.sigmoid(a_o)                 # output gate
    return i, f, g, o


def gru_cell_cho(x: Tensor, h: Tensor, W_ih: Tensor, W_hh: Tensor, b_ih: Tensor, b_hh: Tensor) -> Tensor:
    """One GRU step in Cho et al. (2014)'s form: the reset gate multiplies h *before* the
    product, n_t = tanh(W_in x + b_in + W_hn (r_t * h) + b_hn). Same parameters and shapes as
    ``rnnlab.layers.gru_cell``; not what ``nn.GRU`` computes."""
    x_r, x_z, x_n = (x @ W_ih.T + b_ih).chunk(3, dim=-1)
    W_hr, W_hz, W_hn = W_hh.chunk(3, dim=0)
    b_hr, b_hz, b_hn = b_hh.chunk(3, dim=0)
    r = torch.sigmoid(x_r + h @ W_hr.T + b_hr)
    z = torch.sigmoid(x_z + h @ W_hz.T + b_hz)
    n = torch.tanh(x_n + (r * h) @ W_hn.T + b_hn)      # reset before the product
    return z * h + (1 - z) * n


def lstm_forward(x: Tensor, W_ih: Tensor, W_hh: Tensor, b_ih: Tensor, b_hh: Tensor,
                 lengths: Tensor | None = None, state: tuple[Tensor, Tensor] | None = None):
    """A one-layer LSTM over a padded batch, as ``nn.LSTM(batch_first=True)`` on a packed one.

    x (B, T, I); weights as ``lstm_cell``; lengths (B,) int64 (None: all T); state (h_0, c_0),
    each (B, H) (None: zeros). Sequence b is real at t < lengths[b]: past its end its state
    stays as it was, and its output is zero.
    Returns (output (B, T, H), (h_n (B, H), c_n (B, H))): h_n and c_n taken at each sequence's
    own last step."""
    B, T, _ = x.shape
    H = W_hh.shape[1]
    h, c = (x.new_zeros(B, H), x.new_zeros(B, H)) if state is None else state
    lengths = torch.full((B,), T) if lengths is None else lengths
    outputs = []
    for t in range(T):
        real = (t < lengths).unsqueeze(-1)                     # (B, 1): still inside?
        h_t, c_t = lstm_cell(x[:, t], (h, c), W_ih, W_hh, b_ih, b_hh)
        h, c = torch.where(real, h_t, h), torch.where(real, c_t, c)
        outputs.append(h * real)
    return torch.stack(outputs, dim=1), (h, c)


def lstm_step_forward(x: Tensor, h_prev: Tensor, c_prev: Tensor, W_ih: Tensor, W_hh: Tensor, b: Tensor):
    """One LSTM step with a single bias b (4H,) (= b_ih + b_hh), keeping what the backward
    pass needs. Returns (h (B, H), c (B, H), cache); cache = (x, h_prev, c_prev, i, f, g, o, c,
    W_ih, W_hh), all tensors."""
    a_i, a_f, a_g, a_o = (x @ W_ih.T + h_prev @ W_hh.T + b).chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
    c = f * c_prev + i * g
    h = o * torch.tanh(c)
    return h, c, (x, h_prev, c_prev, i, f, g, o, c, W_ih, W_hh)


def lstm_step_backward(dh: Tensor, dc: Tensor, cache: tuple):
    """The gradients of one LSTM step by hand, from the upstream dL/dh_t and dL/dc_t (each
    (B, H); dc is what c_t receives from step t+1).

    Returns (dx (B, I), dh_prev (B, H), dc_prev (B, H), dW_ih (4H, I), dW_hh (4H, H), db (4H,)):
    db is the gradient of b_ih and of b_hh alike."""
    x, h_prev, c_prev, i, f, g, o, c, W_ih, W_hh = cache
    tanh_c = torch.tanh(c)
    do = dh * tanh_c                                   # h = o * tanh(c)
    dc = dc + dh * o * (1 - tanh_c ** 2)               # c reaches the loss directly and through h
    di, df, dg = dc * g, dc * c_prev, dc * i           # c = f * c_prev + i * g
    dc_prev = dc * f                                   # the additive path: dc_t/dc_{t-1} = f_t
    da = torch.cat([di * i * (1 - i),                  # sigmoid' = s (1 - s)
                    df * f * (1 - f),
                    dg * (1 - g ** 2),                 # tanh' = 1 - tanh^2
                    do * o * (1 - o)], dim=-1)         # (B, 4H): the pre-activations, i, f, g, o
    dx = da @ W_ih
    dh_prev = da @ W_hh
    return dx, dh_prev, dc_prev, da.T @ x, da.T @ h_prev, da.sum(0)


def parameter_count(kind: str, input_size: int, hidden_size: int) -> int:
    """Weights and biases of one cell: G (H I + H H + 2 H) with G = 1 (vanilla RNN), 3 (GRU) or
    4 (LSTM) blocks, the layout of ``nn.RNNCell``, ``nn.GRUCell`` and ``nn.LSTMCell``."""
    blocks = {"rnn": 1, "gru": 3, "lstm": 4}[kind]
    return blocks * (hidden_size * input_size + hidden_size * hidden_size + 2 * hidden_size)
