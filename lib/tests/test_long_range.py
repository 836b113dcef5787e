"""rnnlab.long_range: the models' shapes, seeded training, the forget-gate bias, gradient norms by
distance, and the first failing length."""

import numpy as np
import torch

from rnnlab import long_range


def test_models_shapes():
    assert long_range.AddingModel("gru", 8)(torch.zeros(3, 7, 2)).shape == (3,)
    assert long_range.CopyModel("lstm", 6, 8)(torch.zeros(3, 7, dtype=torch.long)).shape == (3, 7, 6)


def test_set_forget_bias_sets_only_the_forget_block():
    model = long_range.AddingModel("lstm", 4)
    before = model.recurrent.bias_ih_l0.detach().clone()
    long_range.set_forget_bias(model.recurrent, 1.0)
    total = model.recurrent.bias_ih_l0 + model.recurrent.bias_hh_l0
    torch.testing.assert_close(total[4:8], torch.ones(4))
    torch.testing.assert_close(model.recurrent.bias_ih_l0[:4], before[:4])


def test_adding_error_is_seeded_and_learns_a_short_length():
    a = long_range.adding_error("gru", 5, hidden_size=16, steps=150, seed=0)
    assert a == long_range.adding_error("gru", 5, hidden_size=16, steps=150, seed=0)
    assert a < 0.5 * long_range.ADDING_BASELINE


def test_copy_error_is_a_share():
    error = long_range.copy_error("lstm", 3, num_symbols=2, alphabet=3, hidden_size=8, steps=5)
    assert 0.0 <= error <= 1.0


def test_state_gradient_norms_lstm_cell_path_is_f_times_the_next():
    """With zero weights (no path through h_{t-1}) and h_T read out, the gradient of c_t falls
    back in time by exactly the forget gate per step: dc_t/dc_{t-1} = f_t."""
    torch.manual_seed(0)
    H, I = 3, 2
    W_ih, W_hh = torch.zeros(4 * H, I, dtype=torch.float64), torch.zeros(4 * H, H, dtype=torch.float64)
    b = torch.zeros(4 * H, dtype=torch.float64)
    b[H:2 * H] = 2.0                                      # f = sigmoid(2) at every step
    x = torch.randn(1, 6, I, dtype=torch.float64)
    norms = long_range.state_gradient_norms("lstm", x, (W_ih, W_hh, b, torch.zeros_like(b)),
                                            torch.ones(1, H, dtype=torch.float64))
    ratios = norms["c"][1:] / norms["c"][:-1]
    np.testing.assert_allclose(ratios, torch.sigmoid(torch.tensor(2.0)).item())
    assert norms["h"].shape == (6,)


def test_first_failure():
    assert long_range.first_failure([10, 20, 40], [0.01, 0.1, 0.16], 0.167) == 20
    assert long_range.first_failure([10], [0.01], 0.167) is None


def test_gate_trace_reproduces_the_layer():
    torch.manual_seed(1)
    model = long_range.CopyModel("lstm", 6, 5)
    x = model.embedding(torch.randint(0, 6, (2, 7)))
    trace = long_range.gate_trace(model.recurrent, x)
    states, _ = model.recurrent(x)
    torch.testing.assert_close(trace["h"], states.detach())
    assert set(trace) == set("ifgoch") and trace["f"].shape == (2, 7, 5)
    assert bool(((trace["f"] > 0) & (trace["f"] < 1)).all())
