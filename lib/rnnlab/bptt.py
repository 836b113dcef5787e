r"""Backpropagation through time by hand (no autograd), and a finite-difference gradient checker.

Chapter 04 derives BPTT on two models and checks the derivation numerically:

- the lecture's *scalar* RNN, one number per step (``B`` sequences in parallel, :math:`\phi =
  \tanh`):

  .. math::
      z_t = u x_t + w h_{t-1}, \quad h_t = \phi(z_t), \quad r_t = v h_t, \quad y_t = \phi(r_t)

- the vanilla tanh RNN of width H, in CS231n's and d2l's layout (row vectors times matrices,
  ``x @ W``, one bias):

  .. math::
      a_t = x_t W_{xh} + h_{t-1} W_{hh} + b, \qquad h_t = \tanh(a_t)

  with W_xh (I, H), W_hh (H, H), b (H,). torch.nn.RNN holds the same model as
  ``weight_ih_l0`` = W_xh^T (H, I), ``weight_hh_l0`` = W_hh^T and ``bias_ih_l0 + bias_hh_l0`` = b.

Forward functions return ``(output, cache)`` and backward functions take ``(upstream
gradient, cache)``, as in CS231n; the backward passes return a tuple of gradients. Every
function is batch-first: sequences are (B, T, ...). Bars are the lecture's notation for the
derivative of the loss, :math:`\bar a = \partial L / \partial a`, and always mean the *total*
derivative: for a hidden state, the loss at its own step *and* everything after it.

``gradient_norms`` measures :math:`\lVert \partial L / \partial h_t \rVert` for every step (the
plot of vanishing and exploding gradients), ``saved_tensor_bytes`` the memory an autograd graph
holds for its backward pass. ``numerical_gradient`` and ``relative_error`` are
CS231n's finite-difference check; ``check_gradients`` runs it on several named tensors and
reports the worst one and where it is.

Not here: truncated BPTT (``rnnlab.tbptt``), gradient clipping (``rnnlab.clipping``), the
recurrent layers used for training (``rnnlab.layers``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
from torch import Tensor

# ---------------------------------------------------------------------------------------------
# The scalar RNN of the lecture
# ---------------------------------------------------------------------------------------------


def scalar_rnn_forward(x: Tensor, u, w, v, h0=0.0):
    r"""The lecture's scalar RNN over B sequences of T numbers, with :math:`\phi = \tanh`:

    .. math::
        z_t &= u x_t + w h_{t-1} \\
        h_t &= \phi(z_t) \\
        r_t &= v h_t \\
        y_t &= \phi(r_t)

    x (B, T); u, w, v: numbers (floats or 0-d tensors); h0: a number or (B,), the state before
    the first step. Returns y (B, T) and the cache that ``scalar_rnn_backward`` reads, a dict
    with x (B, T), u, w, v (0-d tensors), h0 (B,), h (B, T) and y (B, T)."""
    u, w, v = (torch.as_tensor(p, dtype=x.dtype) for p in (u, w, v))
    h0 = torch.as_tensor(h0, dtype=x.dtype).expand(x.shape[0])
    h_prev, hs, ys = h0, [], []
    for x_t in x.unbind(1):
        z_t = u * x_t + w * h_prev
        h_t = torch.tanh(z_t)
        r_t = v * h_t
        y_t = torch.tanh(r_t)
        hs.append(h_t)
        ys.append(y_t)
        h_prev = h_t
    h, y = torch.stack(hs, 1), torch.stack(ys, 1)
    return y, dict(x=x, u=u, w=w, v=v, h0=h0, h=h, y=y)


def scalar_rnn_backward(dy: Tensor, cache: dict):
    r"""BPTT through the scalar RNN, in the lecture's bar notation (:math:`\bar a = \partial L /
    \partial a`, a total derivative), with :math:`\phi'` written through :math:`\phi`'s output:

    .. math::
        \bar r_t &= \bar y_t \, \phi'(r_t), \qquad \phi'(r_t) = 1 - y_t^2 \\
        \bar h_t &= \bar r_t v + \bar z_{t+1} w \qquad (\bar z_{T+1} = 0) \\
        \bar z_t &= \bar h_t \, \phi'(z_t), \qquad \phi'(z_t) = 1 - h_t^2 \\
        \bar x_t &= \bar z_t u \\
        \bar u &= \textstyle\sum_t \bar z_t x_t \\
        \bar v &= \textstyle\sum_t \bar r_t h_t \\
        \bar w &= \textstyle\sum_t \bar z_{t+1} h_t \qquad (t = 0 \dots T-1, \text{ with } h_0)

    Only :math:`\bar h_t` is a recursion (it needs :math:`\bar z_{t+1}`, so it runs backwards
    in time); everything else is computed for all steps at once. u, v and w are used at every
    step, so their gradients are *sums over time* (and over the batch).

    dy (B, T): :math:`\bar y_t = \partial L / \partial y_t`, the loss's gradient with respect to
    every output (for :math:`L = \frac12 \sum_t (y_t - y^*_t)^2` it is ``y - target``);
    cache: from ``scalar_rnn_forward``.
    Returns (u_bar, v_bar, w_bar, x_bar): three 0-d tensors and x_bar (B, T)."""
    x, u, w, v, h0, h, y = (cache[k] for k in ("x", "u", "w", "v", "h0", "h", "y"))
    dr = dy * (1 - y * y)                                     # r̄_t = ȳ_t φ'(r_t), every t
    dz = torch.zeros_like(h)                                  # z̄_t, filled backwards in time
    dz_next = torch.zeros_like(h0)                            # z̄_{T+1} = 0
    for t in reversed(range(x.shape[1])):
        dh_t = dr[:, t] * v + dz_next * w                     # h̄_t = r̄_t v + z̄_{t+1} w
        dz[:, t] = dh_t * (1 - h[:, t] * h[:, t])             # z̄_t = h̄_t φ'(z_t)
        dz_next = dz[:, t]
    h_prev = torch.cat([h0.unsqueeze(1), h[:, :-1]], 1)       # h_{t-1} for every t, (B, T)
    dx = dz * u                                               # x̄_t = z̄_t u
    du = (dz * x).sum()                                       # ū = Σ_t z̄_t x_t
    dv = (dr * h).sum()                                       # v̄ = Σ_t r̄_t h_t
    dw = (dz * h_prev).sum()                    # w̄ = Σ_t z̄_{t+1} h_t = Σ_t z̄_t h_{t-1}
    return du, dv, dw, dx


# ---------------------------------------------------------------------------------------------
# The vanilla tanh RNN
# ---------------------------------------------------------------------------------------------


def rnn_step_forward(x_t: Tensor, h_prev: Tensor, W_xh: Tensor, W_hh: Tensor, b: Tensor):
    r""":math:`h_t = \tanh(x_t W_{xh} + h_{t-1} W_{hh} + b)`.

    x_t (B, I), h_prev (B, H), W_xh (I, H), W_hh (H, H), b (H,) -> h_t (B, H) and the cache
    (x_t, h_prev, W_xh, W_hh, h_t)."""
    h_t = torch.tanh(x_t @ W_xh + h_prev @ W_hh + b)
    return h_t, (x_t, h_prev, W_xh, W_hh, h_t)


def rnn_step_backward(dh_t: Tensor, cache: tuple):
    r"""One step of the tanh RNN backwards, from :math:`\bar h_t = \partial L / \partial h_t`
    (B, H), the total gradient of the step's output, to the gradients of its inputs:

    .. math::
        \bar a_t &= \bar h_t \odot (1 - h_t^2) \\
        \bar x_t &= \bar a_t W_{xh}^T \\
        \bar h_{t-1} &= \bar a_t W_{hh}^T \\
        \bar W_{xh} &= x_t^T \bar a_t \\
        \bar W_{hh} &= h_{t-1}^T \bar a_t \\
        \bar b &= \textstyle\sum_{\text{batch}} \bar a_t

    cache: (x_t (B, I), h_prev (B, H), W_xh (I, H), W_hh (H, H), h_t (B, H)), as
    ``rnn_step_forward`` returns it.
    Returns (dx (B, I), dh_prev (B, H), dW_xh (I, H), dW_hh (H, H), db (H,)): each gradient
    has the shape of what it is the gradient of."""
    x_t, h_prev, W_xh, W_hh, h_t = cache
    da = dh_t * (1 - h_t * h_t)                               # ā_t = h̄_t ⊙ tanh'(a_t)
    dx = da @ W_xh.T                                          # x̄_t = ā_t W_xh^T
    dh_prev = da @ W_hh.T                                     # h̄_{t-1} = ā_t W_hh^T (this step's part)
    dW_xh = x_t.T @ da                                        # W̄_xh = x_t^T ā_t
    dW_hh = h_prev.T @ da                                     # W̄_hh = h_{t-1}^T ā_t
    db = da.sum(0)                                            # b̄ = Σ_batch ā_t
    return dx, dh_prev, dW_xh, dW_hh, db


def rnn_forward(x: Tensor, h0: Tensor, W_xh: Tensor, W_hh: Tensor, b: Tensor):
    r"""Run the tanh RNN over a batch of sequences, :math:`h_t = \tanh(x_t W_{xh} + b +
    h_{t-1} W_{hh})` for t = 1..T.

    x (B, T, I), h0 (B, H), W_xh (I, H), W_hh (H, H), b (H,) -> h (B, T, H), every step's
    state, and the cache (x, h0, W_xh, W_hh, h) that ``rnn_backward`` reads: everything the
    backward pass needs, which is every step's state (memory linear in T)."""
    xw = x @ W_xh + b                                         # x_t W_xh + b, all steps in one product
    h_prev, hs = h0, []
    for xw_t in xw.unbind(1):
        h_prev = torch.tanh(torch.addmm(xw_t, h_prev, W_hh))  # h_t = tanh(x_t W_xh + b + h_{t-1} W_hh)
        hs.append(h_prev)
    h = torch.stack(hs, 1)
    return h, (x, h0, W_xh, W_hh, h)


def rnn_backward(dh: Tensor, cache: tuple):
    r"""BPTT through the tanh RNN over a whole sequence.

    dh (B, T, H) is the gradient the loss sends to each :math:`h_t` *directly* (from an output
    layer at step t: the partial derivative). Going backwards, the total gradient of
    :math:`h_t` adds what flows back from step t+1, and the weights' gradients are sums over
    time:

    .. math::
        \bar h_t &= \text{dh}_t + \bar a_{t+1} W_{hh}^T \qquad (\bar a_{T+1} = 0) \\
        \bar a_t &= \bar h_t \odot (1 - h_t^2) \\
        \bar x_t &= \bar a_t W_{xh}^T \\
        \bar h_0 &= \bar a_1 W_{hh}^T \\
        \bar W_{xh} &= \textstyle\sum_t x_t^T \bar a_t \\
        \bar W_{hh} &= \textstyle\sum_t h_{t-1}^T \bar a_t \\
        \bar b &= \textstyle\sum_t \sum_{\text{batch}} \bar a_t

    Only the first two lines are a recursion; the loop runs them (one matrix product per step)
    and keeps every :math:`\bar a_t`. A sum over time of products :math:`x_t^T \bar a_t` is a
    single product over all (batch, time) rows, so the weights' gradients are one matrix
    product each, after the loop.

    cache: (x (B, T, I), h0 (B, H), W_xh (I, H), W_hh (H, H), h (B, T, H)) from ``rnn_forward``.
    Returns (dx (B, T, I), dh0 (B, H), dW_xh (I, H), dW_hh (H, H), db (H,))."""
    x, h0, W_xh, W_hh, h = cache
    dtanh = 1 - h * h                                         # tanh'(a_t) for every t, (B, T, H)
    da = torch.empty_like(h)                                  # ā_t, filled backwards in time
    dh_next = torch.zeros_like(h0)                            # ā_{t+1} W_hh^T: nothing after step T
    for t in reversed(range(x.shape[1])):
        da[:, t] = (dh[:, t] + dh_next) * dtanh[:, t]         # ā_t = (dh_t + ā_{t+1} W_hh^T) ⊙ tanh'
        dh_next = da[:, t] @ W_hh.T                           # what h_{t-1} receives through a_t
    h_prev = torch.cat([h0.unsqueeze(1), h[:, :-1]], 1)       # h_{t-1} for every t, (B, T, H)
    rows = da.flatten(0, 1)                                   # ā_t of every (batch, time) row
    dx = da @ W_xh.T                                          # x̄_t = ā_t W_xh^T
    dW_xh = x.flatten(0, 1).T @ rows                          # Σ_t x_t^T ā_t
    dW_hh = h_prev.flatten(0, 1).T @ rows                     # Σ_t h_{t-1}^T ā_t
    db = rows.sum(0)                                          # Σ_t Σ_batch ā_t
    return dx, dh_next, dW_xh, dW_hh, db


# ---------------------------------------------------------------------------------------------
# How large the gradient of each state is, and how much memory the graph holds
# ---------------------------------------------------------------------------------------------


def gradient_norms(loss: Tensor, states: Sequence[Tensor]) -> Tensor:
    r""":math:`\lVert \partial L / \partial h_t \rVert` for t = 1..T, the norm of the *total*
    derivative of the loss with respect to every hidden state (what vanishes or explodes).

    loss: a 0-d tensor; states: the T hidden states h_1..h_T (each (B, H), or any shape), the
    very tensors the recurrence read at the next step, so that the gradient of h_t collects
    the loss at step t *and* everything after it. (A tensor stacked from them afterwards,
    such as an RNN layer's output (B, T, H), only receives each step's direct gradient.)
    A state the loss does not depend on gets norm 0. The graph is kept, so the caller can
    still call ``loss.backward()``.
    Returns (T,): the 2-norm of each :math:`\partial L / \partial h_t` over all its elements
    (batch and hidden units together)."""
    grads = torch.autograd.grad(loss, list(states), retain_graph=True, allow_unused=True,
                                materialize_grads=True)
    return torch.stack([torch.linalg.vector_norm(g) for g in grads])


def saved_tensor_bytes(output: Tensor) -> int:
    """Bytes of the distinct tensors autograd keeps in order to backpropagate from ``output``:
    what every node of the graph behind ``output.grad_fn`` saved for its backward pass (the
    activations, and also the weights and inputs those nodes saved), each storage counted
    once; 0 when ``output`` has no graph. Full BPTT keeps every step's, so this grows
    linearly with the number of steps behind ``output``."""
    storages: dict[int, int] = {}
    nodes, seen = [output.grad_fn], set()
    while nodes:
        node = nodes.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        for name in dir(node):
            if not name.startswith("_saved_"):
                continue
            try:
                saved = getattr(node, name)
            except RuntimeError:                      # freed by a backward pass
                continue
            for tensor in saved if isinstance(saved, (tuple, list)) else (saved,):
                if isinstance(tensor, Tensor):
                    storage = tensor.untyped_storage()
                    storages[storage.data_ptr()] = storage.nbytes()
        nodes.extend(next_node for next_node, _ in node.next_functions)
    return sum(storages.values())


# ---------------------------------------------------------------------------------------------
# Finite-difference gradient checks
# ---------------------------------------------------------------------------------------------


def numerical_gradient(f: Callable[[Tensor], Tensor | float], x: Tensor, eps: float = 1e-6) -> Tensor:
    r"""The gradient of a scalar function f at x by centred differences, element by element:

    .. math::
        \frac{\partial f}{\partial x_i} \approx \frac{f(x + \epsilon e_i) - f(x - \epsilon e_i)}{2 \epsilon}

    f: called as ``f(x)``, returns a number (a float or a 0-d tensor); x: a float64 tensor of
    any shape, changed in place one element at a time and restored before returning (so f may
    also read x from elsewhere, e.g. a model's parameter). The error is about
    :math:`\epsilon^2` (truncation) plus :math:`10^{-16} |f| / \epsilon` (rounding): in float64
    with :math:`\epsilon = 10^{-6}` about :math:`10^{-10}`, in float32 rounding alone would be
    about :math:`10^{-1}` (hence float64 only). Returns a float64 tensor of x's shape."""
    if x.dtype != torch.float64:
        raise TypeError(f"numerical gradients need a float64 tensor, got {x.dtype}")
    grad = torch.zeros_like(x)
    with torch.no_grad():
        flat, flat_grad = x.view(-1), grad.view(-1)
        for i in range(flat.numel()):
            original = flat[i].item()
            flat[i] = original + eps
            plus = float(f(x))
            flat[i] = original - eps
            minus = float(f(x))
            flat[i] = original
            flat_grad[i] = (plus - minus) / (2 * eps)
    return grad


def _relative_errors(a: Tensor, b: Tensor) -> Tensor:
    """|a - b| / max(|a| + |b|, 1e-8) elementwise, in float64 (a's shape)."""
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    return (a - b).abs() / (a.abs() + b.abs()).clamp_min(1e-8)


def relative_error(a: Tensor, b: Tensor) -> float:
    r"""CS231n's relative error of two tensors of one shape, the largest over their elements:

    .. math::
        \max_i \frac{|a_i - b_i|}{\max(|a_i| + |b_i|,\ 10^{-8})}

    (0 for empty tensors). Read it as: below 1e-7 right, about 1e-4 suspicious unless there
    are kinks (ReLU, max), above 1e-2 wrong."""
    errors = _relative_errors(a, b)
    return float(errors.max()) if errors.numel() else 0.0


@dataclass
class GradientReport:
    """The comparison of two sets of named gradients: per name, the largest relative error,
    where it is and the two values there. ``ok`` when every error is within ``tolerance``;
    ``str(report)`` is the feedback a student reads, worst tensor first."""

    tolerance: float
    errors: dict[str, float] = field(default_factory=dict)
    where: dict[str, tuple] = field(default_factory=dict)          # name -> (index, got, want)
    missing: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing and all(e <= self.tolerance for e in self.errors.values())

    @property
    def worst(self) -> str | None:
        """The name of the tensor with the largest relative error (None if there are none)."""
        return max(self.errors, key=self.errors.get) if self.errors else None

    def __str__(self) -> str:
        lines = [f"gradient check {'passed' if self.ok else 'FAILED'} (tolerance {self.tolerance:.0e})"]
        lines += [f"  {name}: missing or wrong shape" for name in self.missing]
        for name in sorted(self.errors, key=self.errors.get, reverse=True):
            index, got, want = self.where[name]
            mark = "ok " if self.errors[name] <= self.tolerance else "BAD"
            lines.append(f"  {mark} {name}: max relative error {self.errors[name]:.2e} at index "
                         f"{index}: yours {got:.6g}, expected {want:.6g}")
        return "\n".join(lines)


def compare_gradients(got: dict[str, Tensor], want: dict[str, Tensor],
                      tolerance: float = 1e-6) -> GradientReport:
    """Compare ``got`` with ``want`` name by name (every name of ``want`` must be in ``got``,
    with the same shape)."""
    report = GradientReport(tolerance)
    for name, expected in want.items():
        actual = got.get(name)
        if actual is None or tuple(torch.as_tensor(actual).shape) != tuple(torch.as_tensor(expected).shape):
            report.missing.append(name)
            continue
        err = _relative_errors(actual, expected)
        if err.numel() == 0:
            report.errors[name], report.where[name] = 0.0, ((), 0.0, 0.0)
            continue
        flat_index = int(err.argmax())
        index = torch.unravel_index(torch.tensor(flat_index), err.shape) if err.dim() else ()
        got_there, want_there = (float(torch.as_tensor(t, dtype=torch.float64).reshape(-1)[flat_index])
                                 for t in (actual, expected))
        report.errors[name] = float(err.max())
        report.where[name] = (tuple(int(i) for i in index), got_there, want_there)
    return report


def check_gradients(loss_fn: Callable[..., Tensor | float], inputs: dict[str, Tensor],
                    analytic: dict[str, Tensor], eps: float = 1e-6,
                    tolerance: float = 1e-6) -> GradientReport:
    """Check ``analytic`` gradients of ``loss_fn(**inputs)`` against ``numerical_gradient``.

    ``inputs`` maps names to float64 tensors (perturbed in place, then restored); ``analytic``
    must hold a gradient of the same shape under each of those names.

    >>> W = torch.randn(3, 2, dtype=torch.float64)
    >>> check_gradients(lambda W: (W ** 2).sum(), {"W": W}, {"W": 2 * W}).ok
    True
    """
    numerical = {name: numerical_gradient(lambda value, name=name: loss_fn(**{**inputs, name: value}),
                                          tensor, eps)
                 for name, tensor in inputs.items()}
    return compare_gradients(analytic, numerical, tolerance)
