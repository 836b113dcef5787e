"""rnnlab.bptt: the hand-written backward passes equal autograd and finite differences, and the
gradient checker names the tensor that is wrong."""

import pytest
import torch
from hypothesis import given, settings, strategies as st

from rnnlab import bptt

F64 = torch.float64


def tanh_rnn_problem(B, T, D, H, seed):
    """Random inputs and parameters of the tanh RNN, and an upstream gradient for every h_t."""
    g = torch.Generator().manual_seed(seed)
    inputs = dict(x=torch.randn(B, T, D, generator=g, dtype=F64),
                  h0=torch.randn(B, H, generator=g, dtype=F64),
                  W_xh=torch.randn(D, H, generator=g, dtype=F64) * 0.5,
                  W_hh=torch.randn(H, H, generator=g, dtype=F64) * 0.5,
                  b_h=torch.randn(H, generator=g, dtype=F64))
    return inputs, torch.randn(B, T, H, generator=g, dtype=F64)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.integers(1, 3), st.integers(1, 5), st.integers(1, 3), st.integers(1, 4), st.integers(0, 999))
def test_tanh_rnn_backward_equals_autograd(B, T, D, H, seed):
    inputs, dh_out = tanh_rnn_problem(B, T, D, H, seed)
    h, cache = bptt.rnn_forward(**inputs)
    manual = bptt.rnn_backward(dh_out, cache)

    leaves = {k: v.clone().requires_grad_() for k, v in inputs.items()}
    h_auto, _ = bptt.rnn_forward(**leaves)
    (h_auto * dh_out).sum().backward()
    assert torch.allclose(h, h_auto)
    for name, leaf in leaves.items():
        assert torch.allclose(manual[name], leaf.grad, rtol=1e-10, atol=1e-12), name


def test_tanh_rnn_total_hidden_gradient_equals_autograd():
    """dL/dh_t returned for every t is the total gradient (direct + through the future)."""
    inputs, dh_out = tanh_rnn_problem(2, 6, 3, 4, seed=5)
    manual = bptt.rnn_backward(dh_out, bptt.rnn_forward(**inputs)[1])
    inputs_g = {k: v.clone().requires_grad_() for k, v in inputs.items()}
    h_prev, hs = inputs_g["h0"], []
    for x_t in inputs_g["x"].unbind(1):
        h_prev = torch.tanh(x_t @ inputs_g["W_xh"] + h_prev @ inputs_g["W_hh"] + inputs_g["b_h"])
        h_prev.retain_grad()
        hs.append(h_prev)
    (torch.stack(hs, 1) * dh_out).sum().backward()
    want = torch.stack([h_t.grad for h_t in hs], 1)
    assert torch.allclose(manual["h"], want, rtol=1e-10, atol=1e-12)


def test_tanh_rnn_backward_passes_finite_differences():
    inputs, dh_out = tanh_rnn_problem(2, 4, 3, 3, seed=1)
    manual = bptt.rnn_backward(dh_out, bptt.rnn_forward(**inputs)[1])
    report = bptt.check_gradients(lambda **kw: (bptt.rnn_forward(**kw)[0] * dh_out).sum(), inputs,
                                  {k: v for k, v in manual.items() if k != "h"})
    assert report.ok, str(report)
    assert max(report.errors.values()) < 1e-7
    assert set(report.errors) == {"x", "h0", "W_xh", "W_hh", "b_h"}


@pytest.mark.parametrize("phi", sorted(bptt.ACTIVATIONS))
@pytest.mark.parametrize("h0_shape", ["scalar", "batch"])
def test_scalar_rnn_backward_equals_autograd_and_finite_differences(phi, h0_shape):
    g = torch.Generator().manual_seed(3)
    x = torch.randn(3, 6, generator=g, dtype=F64)
    dy = torch.randn(3, 6, generator=g, dtype=F64)
    params = dict(u=torch.tensor(0.7, dtype=F64), w=torch.tensor(-1.3, dtype=F64),
                  v=torch.tensor(0.9, dtype=F64),
                  h0=torch.tensor(0.2, dtype=F64) if h0_shape == "scalar" else torch.randn(3, generator=g, dtype=F64))
    y, cache = bptt.scalar_rnn_forward(x, **params, phi=phi)
    manual = bptt.scalar_rnn_backward(dy, cache)

    leaves = {k: v.clone().requires_grad_() for k, v in dict(params, x=x).items()}
    y_auto, auto_cache = bptt.scalar_rnn_forward(leaves["x"], leaves["u"], leaves["w"], leaves["v"],
                                                 leaves["h0"], phi=phi)
    (y_auto * dy).sum().backward()
    assert torch.allclose(y, y_auto)
    for name, leaf in leaves.items():
        assert torch.allclose(manual[name], leaf.grad, rtol=1e-10, atol=1e-12), name

    def loss(x, u, w, v, h0):
        return (bptt.scalar_rnn_forward(x, u, w, v, h0, phi=phi)[0] * dy).sum()

    report = bptt.check_gradients(loss, dict(params, x=x.clone()), manual)
    assert report.ok, str(report)


def test_scalar_rnn_hidden_gradient_vanishes_with_small_w():
    """|dL/dh_t| for a loss on the last output only decays like |w phi'|^(T-t)."""
    x = torch.zeros(1, 20, dtype=F64)
    dy = torch.zeros(1, 20, dtype=F64)
    dy[0, -1] = 1.0
    _, cache = bptt.scalar_rnn_forward(x, 1.0, 0.5, 1.0, h0=0.1, phi="tanh")
    dh = bptt.scalar_rnn_backward(dy, cache)["h"][0].abs()
    assert torch.all(dh[:-1] < dh[1:]) and dh[0] < 1e-5 * dh[-1]


def test_report_names_the_wrong_tensor_and_index():
    inputs, dh_out = tanh_rnn_problem(2, 3, 2, 3, seed=2)
    manual = bptt.rnn_backward(dh_out, bptt.rnn_forward(**inputs)[1])
    wrong = {k: v.clone() for k, v in manual.items() if k != "h"}
    wrong["W_hh"][1, 2] += 0.5
    report = bptt.check_gradients(lambda **kw: (bptt.rnn_forward(**kw)[0] * dh_out).sum(), inputs, wrong)
    assert not report.ok and report.worst == "W_hh"
    assert report.where["W_hh"][0] == (1, 2)
    assert "BAD W_hh" in str(report) and "index (1, 2)" in str(report)
    assert report.errors["x"] < 1e-7
    missing = bptt.compare_gradients({"x": manual["x"]}, {"x": manual["x"], "b_h": manual["b_h"]})
    assert not missing.ok and missing.missing == ["b_h"]


def test_relative_error_is_cs231n():
    assert bptt.relative_error(torch.tensor(1.0), torch.tensor(3.0)).item() == pytest.approx(0.5)
    assert bptt.relative_error(torch.tensor(0.0), torch.tensor(0.0)).item() == 0.0
    assert bptt.relative_error(torch.tensor(1e-9), torch.tensor(0.0)).item() == pytest.approx(0.1)


def test_checker_refuses_float32():
    with pytest.raises(TypeError, match="float64"):
        bptt.check_gradients(lambda W: W.sum(), {"W": torch.ones(2)}, {"W": torch.ones(2)})
