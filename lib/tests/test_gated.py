"""rnnlab.gated: the written-out LSTM and GRU equal torch.nn's cells and layers, the Cho-form GRU
differs from them, and the hand-written LSTM step backward equals autograd."""

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnlab import gated


def randn(*shape, **kwargs):
    return torch.randn(*shape, dtype=torch.float64, **kwargs)


def _cell_weights(cell):
    return cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh


def test_lstm_cell_equals_torch():
    torch.manual_seed(0)
    cell = nn.LSTMCell(3, 5, dtype=torch.float64)
    x, h, c = randn(4, 3), randn(4, 5), randn(4, 5)
    ours = gated.lstm_cell(x, (h, c), *_cell_weights(cell))
    theirs = cell(x, (h, c))
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b)


def test_gru_cell_equals_torch_and_cho_does_not():
    torch.manual_seed(1)
    cell = nn.GRUCell(3, 5, dtype=torch.float64)
    x, h = randn(4, 3), randn(4, 5)
    torch.testing.assert_close(gated.gru_cell(x, h, *_cell_weights(cell)), cell(x, h))
    cho = gated.gru_cell_cho(x, h, *_cell_weights(cell))
    assert (cho - cell(x, h)).abs().max() > 1e-3


def test_cho_form_equals_torch_when_the_hidden_bias_of_n_is_zero_and_reset_is_one():
    """With r = 1 (a huge reset bias) the two forms agree: they differ only in where r multiplies."""
    torch.manual_seed(2)
    cell = nn.GRUCell(2, 3, dtype=torch.float64)
    with torch.no_grad():
        cell.bias_ih[:3] = 50.0
    x, h = randn(2, 2), randn(2, 3)
    torch.testing.assert_close(gated.gru_cell_cho(x, h, *_cell_weights(cell)), cell(x, h))


def test_lstm_forward_equals_nn_lstm_on_a_packed_batch():
    torch.manual_seed(3)
    lstm = nn.LSTM(3, 4, batch_first=True, dtype=torch.float64)
    x, lengths = randn(3, 6, 3), torch.tensor([6, 1, 4])
    h0, c0 = randn(3, 4), randn(3, 4)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, (h_n, c_n) = lstm(packed, (h0[None], c0[None]))
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=6)
    weights = lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0
    ours, (h, c) = gated.lstm_forward(x, *weights, lengths=lengths, state=(h0, c0))
    torch.testing.assert_close(ours, out)
    torch.testing.assert_close(h, h_n[0])
    torch.testing.assert_close(c, c_n[0])


def test_lstm_step_backward_equals_autograd():
    torch.manual_seed(4)
    B, I, H = 3, 4, 5
    x, h_prev, c_prev = (randn(B, n, requires_grad=True) for n in (I, H, H))
    W_ih, W_hh, b = (randn(*s, requires_grad=True) for s in ((4 * H, I), (4 * H, H), (4 * H,)))
    h, c, cache = gated.lstm_step_forward(x, h_prev, c_prev, W_ih, W_hh, b)
    dh, dc = randn(B, H), randn(B, H)
    expected = torch.autograd.grad((h * dh).sum() + (c * dc).sum(), [x, h_prev, c_prev, W_ih, W_hh, b])
    with torch.no_grad():
        got = gated.lstm_step_backward(dh, dc, tuple(t.detach() for t in cache))
    for a, e in zip(got, expected):
        torch.testing.assert_close(a, e)


def test_lstm_step_forward_is_the_cell_with_one_bias():
    torch.manual_seed(5)
    x, h, c = randn(2, 3), randn(2, 4), randn(2, 4)
    W_ih, W_hh, b_ih, b_hh = randn(16, 3), randn(16, 4), randn(16), randn(16)
    h1, c1, _ = gated.lstm_step_forward(x, h, c, W_ih, W_hh, b_ih + b_hh)
    h2, c2 = gated.lstm_cell(x, (h, c), W_ih, W_hh, b_ih, b_hh)
    torch.testing.assert_close((h1, c1), (h2, c2))


@pytest.mark.parametrize("kind, module, ratio", [("rnn", nn.RNNCell, 1), ("gru", nn.GRUCell, 3),
                                                 ("lstm", nn.LSTMCell, 4)])
def test_parameter_counts_are_torch_s(kind, module, ratio):
    count = sum(p.numel() for p in module(7, 11).parameters())
    assert gated.parameter_count(kind, 7, 11) == count == ratio * gated.parameter_count("rnn", 7, 11)
