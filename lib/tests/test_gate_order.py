"""rnnlab.gate_order: reordering the stacked blocks of an LSTM's weights."""

import torch
from torch import nn

from rnnlab import gate_order, gated


def test_to_torch_gate_order_swaps_the_last_two_blocks():
    W = torch.arange(8.0)[:, None].expand(8, 3)          # H = 2: rows 0-1 i, 2-3 f, 4-5 o, 6-7 g
    got = gate_order.to_torch_gate_order(W)
    assert got[:, 0].tolist() == [0, 1, 2, 3, 6, 7, 4, 5]
    assert gate_order.to_torch_gate_order(torch.arange(8.0)).tolist() == [0, 1, 2, 3, 6, 7, 4, 5]


def test_reorder_round_trips_and_is_differentiable():
    W = torch.randn(12, 5, requires_grad=True)
    back = gate_order.reorder(gate_order.to_torch_gate_order(W), gate_order.TORCH_ORDER, gate_order.CS231N_ORDER)
    torch.testing.assert_close(back, W)
    back.sum().backward()
    torch.testing.assert_close(W.grad, torch.ones_like(W))


def test_weights_loaded_in_the_other_order_compute_another_function_silently():
    torch.manual_seed(0)
    cell = nn.LSTMCell(3, 4)
    x, state = torch.randn(2, 3), (torch.randn(2, 4), torch.randn(2, 4))
    cs231n = [gate_order.reorder(w.detach(), gate_order.TORCH_ORDER, gate_order.CS231N_ORDER)
              for w in (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)]
    wrong = gated.lstm_cell(x, state, *cs231n)          # loaded as they are: no error, other numbers
    right = gated.lstm_cell(x, state, *map(gate_order.to_torch_gate_order, cs231n))
    torch.testing.assert_close(right, cell(x, state))
    assert (wrong[0] - right[0]).abs().max() > 1e-2
