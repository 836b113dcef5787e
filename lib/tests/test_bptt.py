"""rnnlab.bptt: the hand-written backward passes equal autograd (float64) and finite differences,
on shapes down to T = 1 and B = 1; gradient_norms returns total derivatives; the gradient
checker flags a wrong gradient and names the tensor that is wrong."""

import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch.testing import assert_close

from rnnlab import bptt

F64 = torch.float64
SHAPES = [(1, 1, 1, 1), (1, 1, 3, 4), (1, 6, 2, 3), (3, 1, 4, 2), (2, 5, 3, 4), (4, 7, 5, 6)]   # (B, T, I, H)


def randn(g, *shape, scale=1.0):
    return torch.randn(shape, generator=g, dtype=F64) * scale


def tanh_rnn_problem(B, T, I, H, seed):
    """Random inputs and parameters of the tanh RNN, and an upstream gradient for every h_t."""
    g = torch.Generator().manual_seed(seed)
    inputs = dict(x=randn(g, B, T, I), h0=randn(g, B, H), W_xh=randn(g, I, H, scale=0.5),
                  W_hh=randn(g, H, H, scale=0.5), b=randn(g, H))
    return inputs, randn(g, B, T, H)


def leaves(tensors: dict) -> dict:
    return {k: v.clone().requires_grad_() for k, v in tensors.items()}


# -- the scalar RNN ---------------------------------------------------------------------------


def scalar_problem(B, T, seed, h0_per_row):
    g = torch.Generator().manual_seed(seed)
    params = dict(u=torch.tensor(0.7, dtype=F64), w=torch.tensor(-1.3, dtype=F64),
                  v=torch.tensor(0.9, dtype=F64),
                  h0=randn(g, B) if h0_per_row else torch.tensor(0.2, dtype=F64))
    return randn(g, B, T), params, randn(g, B, T)


@pytest.mark.parametrize("B, T", [(1, 1), (1, 5), (3, 1), (3, 6), (2, 12)])
@pytest.mark.parametrize("h0_per_row", [False, True])
def test_scalar_rnn_backward_equals_autograd(B, T, h0_per_row):
    x, params, dy = scalar_problem(B, T, seed=B * 100 + T, h0_per_row=h0_per_row)
    y, cache = bptt.scalar_rnn_forward(x, **params)
    manual = bptt.scalar_rnn_backward(dy, cache)

    auto = leaves(dict(u=params["u"], v=params["v"], w=params["w"], x=x))
    y_auto, _ = bptt.scalar_rnn_forward(auto["x"], auto["u"], auto["w"], auto["v"], params["h0"])
    (y_auto * dy).sum().backward()
    assert_close(y, y_auto.detach())
    assert [tuple(g.shape) for g in manual] == [(), (), (), (B, T)]
    for name, got in zip(("u", "v", "w", "x"), manual):
        assert_close(got, auto[name].grad, rtol=1e-10, atol=1e-12, msg=name)


def test_scalar_rnn_backward_is_the_lecture_recursion():
    """T = 2, h0 = 0, loss on y_2 only, written out: h̄_1 = z̄_2 w, w̄ = z̄_2 h_1."""
    x = torch.tensor([[0.5, -1.0]], dtype=F64)
    u, w, v = 1.5, 0.8, -2.0
    y, cache = bptt.scalar_rnn_forward(x, u, w, v)
    du, dv, dw, dx = bptt.scalar_rnn_backward(torch.tensor([[0.0, 1.0]], dtype=F64), cache)
    h1, h2, y2 = cache["h"][0, 0], cache["h"][0, 1], y[0, 1]
    r2_bar = 1 - y2 ** 2
    z2_bar = r2_bar * v * (1 - h2 ** 2)
    z1_bar = z2_bar * w * (1 - h1 ** 2)
    assert_close(dv, r2_bar * h2)
    assert_close(dw, z2_bar * h1)
    assert_close(du, z1_bar * 0.5 + z2_bar * -1.0)
    assert_close(dx, torch.stack([z1_bar, z2_bar]).reshape(1, 2) * u)


def test_scalar_rnn_backward_passes_finite_differences():
    x, params, dy = scalar_problem(2, 6, seed=3, h0_per_row=True)
    _, cache = bptt.scalar_rnn_forward(x, **params)
    du, dv, dw, dx = bptt.scalar_rnn_backward(dy, cache)

    def loss(x, u, w, v):
        return (bptt.scalar_rnn_forward(x, u, w, v, params["h0"])[0] * dy).sum()

    inputs = dict(x=x.clone(), u=params["u"].clone(), w=params["w"].clone(), v=params["v"].clone())
    report = bptt.check_gradients(loss, inputs, dict(x=dx, u=du, w=dw, v=dv))
    assert report.ok, str(report)


# -- one step of the tanh RNN -----------------------------------------------------------------


@pytest.mark.parametrize("B, T, I, H", SHAPES)
def test_rnn_step_backward_equals_autograd(B, T, I, H):
    inputs, dh = tanh_rnn_problem(B, 1, I, H, seed=B + 10 * I + 100 * H)
    auto = leaves(dict(x_t=inputs["x"][:, 0], h_prev=inputs["h0"], W_xh=inputs["W_xh"],
                       W_hh=inputs["W_hh"], b=inputs["b"]))
    h_t, cache = bptt.rnn_step_forward(**auto)
    (h_t * dh[:, 0]).sum().backward()
    with torch.no_grad():
        _, cache = bptt.rnn_step_forward(**{k: v.detach() for k, v in auto.items()})
        manual = bptt.rnn_step_backward(dh[:, 0], cache)
    for name, got in zip(("x_t", "h_prev", "W_xh", "W_hh", "b"), manual):
        assert_close(got, auto[name].grad, rtol=1e-10, atol=1e-12, msg=name)


# -- the tanh RNN over a sequence -------------------------------------------------------------


def test_rnn_forward_is_torch_nn_rnn_with_transposed_weights():
    """The layout: torch.nn.RNN's weight_ih_l0 = W_xh^T, weight_hh_l0 = W_hh^T, biases sum to b."""
    inputs, _ = tanh_rnn_problem(3, 5, 4, 6, seed=0)
    torch.manual_seed(0)
    rnn = torch.nn.RNN(4, 6, batch_first=True, dtype=F64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(inputs["W_xh"].T)
        rnn.weight_hh_l0.copy_(inputs["W_hh"].T)
        rnn.bias_hh_l0.copy_(inputs["b"] - rnn.bias_ih_l0)
        expected, _ = rnn(inputs["x"], inputs["h0"].unsqueeze(0))
    h, cache = bptt.rnn_forward(**inputs)
    assert_close(h, expected)
    x, h0, W_xh, W_hh, h_cached = cache
    assert x is inputs["x"] and h0 is inputs["h0"] and h_cached is h


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.integers(1, 3), st.integers(1, 6), st.integers(1, 3), st.integers(1, 4), st.integers(0, 999))
def test_rnn_backward_equals_autograd(B, T, I, H, seed):
    inputs, dh = tanh_rnn_problem(B, T, I, H, seed)
    h, cache = bptt.rnn_forward(**inputs)
    manual = bptt.rnn_backward(dh, cache)

    auto = leaves(inputs)
    h_auto, _ = bptt.rnn_forward(**auto)
    (h_auto * dh).sum().backward()
    assert_close(h, h_auto.detach())
    for name, got in zip(("x", "h0", "W_xh", "W_hh", "b"), manual):
        assert got.shape == inputs[name].shape, name
        assert_close(got, auto[name].grad, rtol=1e-10, atol=1e-12, msg=name)


@pytest.mark.parametrize("B, T, I, H", SHAPES)
def test_rnn_backward_equals_its_steps_summed_over_time(B, T, I, H):
    """rnn_backward = rnn_step_backward at every step, dh_{t-1} carried back, weights summed."""
    inputs, dh = tanh_rnn_problem(B, T, I, H, seed=T)
    h, cache = bptt.rnn_forward(**inputs)
    dx, dh_next = torch.zeros_like(inputs["x"]), torch.zeros_like(inputs["h0"])
    dW_xh, dW_hh, db = (torch.zeros_like(inputs[k]) for k in ("W_xh", "W_hh", "b"))
    for t in reversed(range(T)):
        h_prev = h[:, t - 1] if t > 0 else inputs["h0"]
        step = (inputs["x"][:, t], h_prev, inputs["W_xh"], inputs["W_hh"], h[:, t])
        dx[:, t], dh_next, dW_xh_t, dW_hh_t, db_t = bptt.rnn_step_backward(dh[:, t] + dh_next, step)
        dW_xh, dW_hh, db = dW_xh + dW_xh_t, dW_hh + dW_hh_t, db + db_t
    for name, got, want in zip(("x", "h0", "W_xh", "W_hh", "b"), bptt.rnn_backward(dh, cache),
                               (dx, dh_next, dW_xh, dW_hh, db)):
        assert_close(got, want, rtol=1e-12, atol=1e-12, msg=name)


def test_rnn_backward_in_float32_matches_autograd():
    inputs, dh = tanh_rnn_problem(4, 20, 8, 16, seed=7)
    inputs, dh = {k: v.float() for k, v in inputs.items()}, dh.float()
    manual = bptt.rnn_backward(dh, bptt.rnn_forward(**inputs)[1])
    auto = leaves(inputs)
    (bptt.rnn_forward(**auto)[0] * dh).sum().backward()
    for name, got in zip(("x", "h0", "W_xh", "W_hh", "b"), manual):
        assert_close(got, auto[name].grad, msg=name)


def test_rnn_backward_passes_finite_differences():
    inputs, dh = tanh_rnn_problem(2, 4, 3, 3, seed=1)
    dx, dh0, dW_xh, dW_hh, db = bptt.rnn_backward(dh, bptt.rnn_forward(**inputs)[1])
    report = bptt.check_gradients(lambda **kw: (bptt.rnn_forward(**kw)[0] * dh).sum(), inputs,
                                  dict(x=dx, h0=dh0, W_xh=dW_xh, W_hh=dW_hh, b=db))
    assert report.ok, str(report)
    assert max(report.errors.values()) < 1e-7
    assert set(report.errors) == {"x", "h0", "W_xh", "W_hh", "b"}


# -- gradient norms ---------------------------------------------------------------------------


def unrolled_states(inputs):
    """The tanh RNN's states as the list of tensors the recurrence read, under autograd."""
    h_prev, states = inputs["h0"], []
    for x_t in inputs["x"].unbind(1):
        h_prev, _ = bptt.rnn_step_forward(x_t, h_prev, inputs["W_xh"], inputs["W_hh"], inputs["b"])
        states.append(h_prev)
    return states


@pytest.mark.parametrize("B, T, I, H", SHAPES)
def test_gradient_norms_are_the_norms_of_the_total_derivatives(B, T, I, H):
    inputs, dh = tanh_rnn_problem(B, T, I, H, seed=11)
    states = unrolled_states(leaves(inputs))
    loss = (torch.stack(states, 1) * dh).sum()
    norms = bptt.gradient_norms(loss, states)
    for s in states:
        s.retain_grad()
    loss.backward()                                   # the graph was kept
    assert norms.shape == (T,)
    assert_close(norms, torch.stack([s.grad.norm() for s in states]), rtol=1e-12, atol=1e-12)

    # the same from the hand-written BPTT: h̄_t = dh_t + ā_{t+1} W_hh^T
    h = torch.stack([s.detach() for s in states], 1)
    total, dh_next = [], torch.zeros_like(inputs["h0"])
    for t in reversed(range(T)):
        total.append(dh[:, t] + dh_next)
        dh_next = (total[-1] * (1 - h[:, t] ** 2)) @ inputs["W_hh"].T
    assert_close(norms, torch.stack([g.norm() for g in reversed(total)]), rtol=1e-10, atol=1e-12)


def test_gradient_norms_of_the_stacked_output_would_be_only_direct():
    """A loss on the last step only: every earlier state gets a gradient through the future,
    which the stacked output (the partial derivative) does not see."""
    inputs, _ = tanh_rnn_problem(2, 5, 3, 4, seed=4)
    states = unrolled_states(leaves(inputs))
    stacked = torch.stack(states, 1)
    loss = stacked[:, -1].sum()
    norms = bptt.gradient_norms(loss, states)
    partial = torch.autograd.grad(loss, stacked)[0].norm(dim=2).norm(dim=0)
    assert torch.all(norms > 0)
    assert torch.all(partial[:-1] == 0) and partial[-1] == norms[-1]


def test_gradient_norms_give_zero_for_states_the_loss_ignores():
    inputs, _ = tanh_rnn_problem(1, 4, 2, 3, seed=2)
    states = unrolled_states(leaves(inputs))
    norms = bptt.gradient_norms(states[1].sum(), states)
    assert norms[0] > 0 and norms[1] > 0 and norms[2] == 0 and norms[3] == 0


def test_gradient_norms_decay_like_w_phi_prime_in_the_scalar_rnn():
    """Loss on the last state only, x = 0, h0 = 0.1, w = 0.5: |dL/dh_t| = prod 0.5 (1 - h^2)."""
    x = torch.zeros(1, 20, dtype=F64)
    w = torch.tensor(0.5, dtype=F64)
    h_prev, states = torch.tensor([0.1], dtype=F64, requires_grad=True), []
    for x_t in x.unbind(1):
        h_prev = torch.tanh(x_t + w * h_prev)
        states.append(h_prev)
    norms = bptt.gradient_norms(states[-1].sum(), states)
    h = torch.stack(states).detach().reshape(-1)
    expected = torch.ones(20, dtype=F64)
    for t in reversed(range(19)):
        expected[t] = expected[t + 1] * w * (1 - h[t + 1] ** 2)
    assert_close(norms, expected)
    assert torch.all(norms[:-1] < norms[1:]) and norms[0] < 1e-5


# -- finite differences -----------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(), (1,), (3, 2), (2, 3, 4)])
def test_numerical_gradient_equals_the_analytic_gradient(shape):
    g = torch.Generator().manual_seed(0)
    x = randn(g, *shape)
    original = x.clone()
    numerical = bptt.numerical_gradient(lambda x: (torch.sin(x) * x ** 2).sum(), x)
    assert torch.equal(x, original)                        # restored
    assert numerical.shape == x.shape and numerical.dtype == F64
    analytic = torch.cos(x) * x ** 2 + 2 * x * torch.sin(x)
    assert bptt.relative_error(numerical, analytic) < 1e-7


def test_numerical_gradient_of_a_parameter_read_from_elsewhere():
    """f may ignore its argument and read the perturbed tensor itself (a model's weight)."""
    inputs, dh = tanh_rnn_problem(2, 3, 2, 3, seed=9)
    numerical = bptt.numerical_gradient(lambda _: (bptt.rnn_forward(**inputs)[0] * dh).sum(), inputs["W_hh"])
    dW_hh = bptt.rnn_backward(dh, bptt.rnn_forward(**inputs)[1])[3]
    assert bptt.relative_error(numerical, dW_hh) < 1e-7


def test_numerical_gradient_flags_a_wrong_analytic_gradient():
    """The checker's job: the gradient without the recurrent term differs at the 1e-1 level."""
    inputs, dh = tanh_rnn_problem(2, 4, 3, 3, seed=5)
    numerical = bptt.numerical_gradient(lambda _: (bptt.rnn_forward(**inputs)[0] * dh).sum(), inputs["W_xh"])
    h = bptt.rnn_forward(**inputs)[0]
    no_recurrence = inputs["x"].flatten(0, 1).T @ (dh * (1 - h ** 2)).flatten(0, 1)
    assert bptt.relative_error(numerical, no_recurrence) > 1e-2


def test_numerical_gradient_refuses_float32():
    with pytest.raises(TypeError, match="float64"):
        bptt.numerical_gradient(lambda W: W.sum(), torch.ones(2))


def test_relative_error_is_cs231n():
    assert bptt.relative_error(torch.tensor(1.0), torch.tensor(3.0)) == pytest.approx(0.5)
    assert bptt.relative_error(torch.tensor([0.0, 0.0]), torch.tensor([0.0, 0.0])) == 0.0
    assert bptt.relative_error(torch.tensor(1e-9), torch.tensor(0.0)) == pytest.approx(0.1)
    # the largest elementwise ratio, not the ratio of the largest differences
    a, b = torch.tensor([100.0, 1e-3]), torch.tensor([101.0, 2e-3])
    assert bptt.relative_error(a, b) == pytest.approx(1 / 3)
    assert isinstance(bptt.relative_error(a, b), float)
    assert bptt.relative_error(torch.zeros(0), torch.zeros(0)) == 0.0


def test_report_names_the_wrong_tensor_and_index():
    inputs, dh = tanh_rnn_problem(2, 3, 2, 3, seed=2)
    dx, dh0, dW_xh, dW_hh, db = bptt.rnn_backward(dh, bptt.rnn_forward(**inputs)[1])
    wrong = dict(x=dx, h0=dh0, W_xh=dW_xh, W_hh=dW_hh.clone(), b=db)
    wrong["W_hh"][1, 2] += 0.5
    report = bptt.check_gradients(lambda **kw: (bptt.rnn_forward(**kw)[0] * dh).sum(), inputs, wrong)
    assert not report.ok and report.worst == "W_hh"
    assert report.where["W_hh"][0] == (1, 2)
    assert "BAD W_hh" in str(report) and "index (1, 2)" in str(report)
    assert report.errors["x"] < 1e-7
    missing = bptt.compare_gradients({"x": dx}, {"x": dx, "b": db})
    assert not missing.ok and missing.missing == ["b"]


def test_checker_refuses_float32():
    with pytest.raises(TypeError, match="float64"):
        bptt.check_gradients(lambda W: W.sum(), {"W": torch.ones(2)}, {"W": torch.ones(2)})


# -- memory -----------------------------------------------------------------------------------


def test_saved_tensor_bytes_counts_each_saved_storage_once():
    x = torch.randn(3, 4, dtype=F64, requires_grad=True)
    w = torch.randn(4, 5, dtype=F64, requires_grad=True)
    assert bptt.saved_tensor_bytes(x) == 0
    y = x @ w                                               # saves x and w
    assert bptt.saved_tensor_bytes(y) == (12 + 20) * 8
    z = torch.tanh(y) * x.sum()       # tanh saves its output, mul both operands: that output again
    assert bptt.saved_tensor_bytes(z) == (12 + 20 + 15 + 1) * 8
    z.sum().backward()                                      # the graph's buffers are freed
    assert bptt.saved_tensor_bytes(z) == 0


def test_saved_tensor_bytes_of_full_bptt_grow_linearly_with_T():
    sizes = {}
    for T in (5, 10, 15, 30):
        inputs, _ = tanh_rnn_problem(2, T, 3, 4, seed=0)
        h, _ = bptt.rnn_forward(**leaves(inputs))
        sizes[T] = bptt.saved_tensor_bytes(h)
    per_step = (sizes[10] - sizes[5]) / 5
    assert per_step > 0
    assert sizes[15] - sizes[10] == sizes[10] - sizes[5]
    assert sizes[30] - sizes[15] == 15 * per_step
