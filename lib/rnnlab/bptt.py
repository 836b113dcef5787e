r"""Backpropagation through time by hand (no autograd), and a finite-difference gradient checker.

Chapter 04 derives BPTT on two models and checks the derivation numerically:

- the lecture's *scalar* RNN, one number per step (``B`` sequences in parallel):

  .. math::
      z_t = u x_t + w h_{t-1}, \quad h_t = \phi(z_t), \quad r_t = v h_t, \quad y_t = \phi(r_t)

- the vanilla tanh RNN of width H (d2l / CS231n notation, ``x @ W``, not torch's ``W @ x``):

  .. math::
      a_t = x_t W_{xh} + h_{t-1} W_{hh} + b_h, \qquad h_t = \tanh(a_t)

  (torch.nn.RNN stores ``weight_ih_l0`` = W_xh^T and ``weight_hh_l0`` = W_hh^T.)

Forward functions return ``(output, cache)`` and backward functions take ``(upstream
gradient, cache)``, as in CS231n. Every function is batch-first: sequences are (B, T, ...).
The backward passes return a dict of gradients keyed by the names of the forward arguments,
plus ``"h"``: the *total* gradient :math:`\partial L / \partial h_t` for every t (the loss at
step t and everything after it), whose norm over t shows vanishing and exploding gradients.

``check_gradients`` compares analytic gradients with central finite differences in float64
and reports, for every named tensor, the largest relative error as CS231n defines it,
:math:`|a - n| / \max(10^{-8}, |a| + |n|)`, and where it occurs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor

# phi and its derivative written in terms of phi's *output* y = phi(z), as the lecture does.
ACTIVATIONS: dict[str, tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]] = {
    "tanh": (torch.tanh, lambda y: 1 - y * y),
    "sigmoid": (torch.sigmoid, lambda y: y * (1 - y)),
    "identity": (lambda z: z, torch.ones_like),
}


# ---------------------------------------------------------------------------------------------
# The scalar RNN of the lecture
# ---------------------------------------------------------------------------------------------


def scalar_rnn_forward(x: Tensor, u, w, v, h0=0.0, phi: str = "tanh"):
    r"""Run :math:`z_t = u x_t + w h_{t-1},\ h_t = \phi(z_t),\ r_t = v h_t,\ y_t = \phi(r_t)`.

    x: (B, T) inputs; u, w, v: scalars (floats or 0-d tensors); h0: scalar or (B,) initial
    state; phi: a name in ``ACTIVATIONS``. Returns y (B, T) and the cache for the backward."""
    act, _ = ACTIVATIONS[phi]
    u, w, v = (torch.as_tensor(p, dtype=x.dtype) for p in (u, w, v))
    h_prev = torch.as_tensor(h0, dtype=x.dtype).expand(x.shape[0])
    hs, ys = [], []
    for x_t in x.unbind(1):
        z_t = u * x_t + w * h_prev
        h_t = act(z_t)
        r_t = v * h_t
        y_t = act(r_t)
        hs.append(h_t)
        ys.append(y_t)
        h_prev = h_t
    h, y = torch.stack(hs, 1), torch.stack(ys, 1)
    cache = dict(x=x, u=u, w=w, v=v, h0=torch.as_tensor(h0, dtype=x.dtype), h=h, y=y, phi=phi)
    return y, cache


def scalar_rnn_backward(dy: Tensor, cache: dict) -> dict[str, Tensor]:
    r"""BPTT through the scalar RNN, from :math:`\partial L/\partial y_t` (dy, shape (B, T)).

    Going backwards in time, with :math:`\delta_t = \partial L / \partial h_t` (total):

    .. math::
        \begin{array}{ll}
        \bar r_t = \bar y_t \, \phi'(r_t), \quad \bar v \mathrel{+}= \bar r_t h_t \\
        \delta_t = \bar r_t v + \bar z_{t+1} w \\
        \bar z_t = \delta_t \, \phi'(z_t), \quad \bar u \mathrel{+}= \bar z_t x_t, \quad
        \bar w \mathrel{+}= \bar z_t h_{t-1}, \quad \bar x_t = \bar z_t u
        \end{array}

    Returns a dict: ``u``, ``w``, ``v`` (0-d, summed over the batch), ``h0`` (the gradient of
    the initial state, 0-d if it was a scalar, else (B,)), ``x`` (B, T) and ``h`` (B, T), the
    total gradient of every hidden state."""
    _, d_act = ACTIVATIONS[cache["phi"]]
    x, u, w, v, h, y = (cache[k] for k in ("x", "u", "w", "v", "h", "y"))
    B, T = x.shape
    h_prev = torch.cat([cache["h0"].expand(B).unsqueeze(1), h[:, :-1]], 1)   # h_{t-1}, every t
    du, dw, dv = (torch.zeros((), dtype=x.dtype) for _ in range(3))
    dx, dh = torch.zeros_like(x), torch.zeros_like(x)
    dz_next = torch.zeros(B, dtype=x.dtype)                           # dL/dz_{t+1}
    for t in reversed(range(T)):
        dr = dy[:, t] * d_act(y[:, t])                                # through y_t = phi(r_t)
        dv = dv + (dr * h[:, t]).sum()
        dh[:, t] = dr * v + dz_next * w                               # now and through the future
        dz = dh[:, t] * d_act(h[:, t])                                # through h_t = phi(z_t)
        du = du + (dz * x[:, t]).sum()
        dw = dw + (dz * h_prev[:, t]).sum()
        dx[:, t] = dz * u
        dz_next = dz
    dh0 = dz_next * w
    dh0 = dh0.sum() if cache["h0"].dim() == 0 else dh0
    return dict(u=du, w=dw, v=dv, h0=dh0, x=dx, h=dh)


# ---------------------------------------------------------------------------------------------
# The vanilla tanh RNN
# ---------------------------------------------------------------------------------------------


def rnn_step_forward(x_t: Tensor, h_prev: Tensor, W_xh: Tensor, W_hh: Tensor, b_h: Tensor):
    r""":math:`h_t = \tanh(x_t W_{xh} + h_{t-1} W_{hh} + b_h)`.

    x_t (B, D), h_prev (B, H), W_xh (D, H), W_hh (H, H), b_h (H,) -> h_t (B, H), cache."""
    h_t = torch.tanh(x_t @ W_xh + h_prev @ W_hh + b_h)
    return h_t, (x_t, h_prev, W_xh, W_hh, h_t)


def rnn_step_backward(dh_t: Tensor, cache: tuple):
    r"""One step back: from :math:`\partial L/\partial h_t` (B, H) to the step's inputs.

    .. math::
        \bar a_t = \bar h_t \odot (1 - h_t^2), \quad
        \bar x_t = \bar a_t W_{xh}^T, \quad \bar h_{t-1} = \bar a_t W_{hh}^T, \quad
        \bar W_{xh} = x_t^T \bar a_t, \quad \bar W_{hh} = h_{t-1}^T \bar a_t, \quad
        \bar b_h = \textstyle\sum_b \bar a_t

    Returns (dx_t (B, D), dh_prev (B, H), dW_xh (D, H), dW_hh (H, H), db_h (H,))."""
    x_t, h_prev, W_xh, W_hh, h_t = cache
    da = dh_t * (1 - h_t * h_t)                                        # through tanh
    return da @ W_xh.T, da @ W_hh.T, x_t.T @ da, h_prev.T @ da, da.sum(0)


def rnn_forward(x: Tensor, h0: Tensor, W_xh: Tensor, W_hh: Tensor, b_h: Tensor):
    """Run the tanh RNN over a batch of sequences.

    x (B, T, D), h0 (B, H), W_xh (D, H), W_hh (H, H), b_h (H,) -> h (B, T, H), cache."""
    h_prev, hs, caches = h0, [], []
    for x_t in x.unbind(1):
        h_prev, step_cache = rnn_step_forward(x_t, h_prev, W_xh, W_hh, b_h)
        hs.append(h_prev)
        caches.append(step_cache)
    return torch.stack(hs, 1), caches


def rnn_backward(dh_out: Tensor, cache: list) -> dict[str, Tensor]:
    r"""BPTT through the tanh RNN.

    dh_out (B, T, H) is the gradient the loss sends to each :math:`h_t` *directly* (e.g. from
    an output layer at step t). Going backwards, the total gradient of :math:`h_t` adds what
    flows back from step t+1:
    :math:`\partial L/\partial h_t = \text{dh\_out}_t + \bar a_{t+1} W_{hh}^T`.

    Returns a dict: ``x`` (B, T, D), ``h0`` (B, H), ``W_xh`` (D, H), ``W_hh`` (H, H),
    ``b_h`` (H,) and ``h`` (B, T, H), the total :math:`\partial L/\partial h_t` for every t."""
    x0, h0, W_xh, W_hh, _ = cache[0]
    dx = torch.zeros(dh_out.shape[0], len(cache), x0.shape[1], dtype=dh_out.dtype)
    dh = torch.zeros_like(dh_out)
    dW_xh, dW_hh = torch.zeros_like(W_xh), torch.zeros_like(W_hh)
    db_h = torch.zeros(W_hh.shape[0], dtype=dh_out.dtype)
    dh_from_future = torch.zeros_like(h0)
    for t in reversed(range(len(cache))):
        dh[:, t] = dh_out[:, t] + dh_from_future
        dx[:, t], dh_from_future, dW_xh_t, dW_hh_t, db_t = rnn_step_backward(dh[:, t], cache[t])
        dW_xh, dW_hh, db_h = dW_xh + dW_xh_t, dW_hh + dW_hh_t, db_h + db_t
    return dict(x=dx, h0=dh_from_future, W_xh=dW_xh, W_hh=dW_hh, b_h=db_h, h=dh)


# ---------------------------------------------------------------------------------------------
# Finite-difference gradient checks
# ---------------------------------------------------------------------------------------------


def relative_error(a: Tensor, b: Tensor) -> Tensor:
    """CS231n's elementwise relative error |a - b| / max(1e-8, |a| + |b|) (same shape as a)."""
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    return (a - b).abs() / ((a.abs() + b.abs()).clamp_min(1e-8))


def numerical_gradients(loss_fn: Callable[..., Tensor | float], inputs: dict[str, Tensor],
                        eps: float = 1e-6) -> dict[str, Tensor]:
    r"""Central differences :math:`(L(\theta + \epsilon e_i) - L(\theta - \epsilon e_i)) / 2\epsilon`
    of ``loss_fn(**inputs)`` (a scalar) for every element of every tensor in ``inputs``.
    The tensors are perturbed in place and restored; use float64 so that eps=1e-6 is exact
    enough (the error is about eps^2 plus rounding / eps)."""
    grads = {}
    with torch.no_grad():
        for name, tensor in inputs.items():
            grad = torch.zeros_like(tensor, dtype=torch.float64)
            flat, flat_grad = tensor.view(-1), grad.view(-1)
            for i in range(flat.numel()):
                original = flat[i].item()
                flat[i] = original + eps
                plus = float(loss_fn(**inputs))
                flat[i] = original - eps
                minus = float(loss_fn(**inputs))
                flat[i] = original
                flat_grad[i] = (plus - minus) / (2 * eps)
            grads[name] = grad
    return grads


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
        err = relative_error(actual, expected)
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
    """Check ``analytic`` gradients of ``loss_fn(**inputs)`` against central finite differences.

    ``inputs`` maps names to float64 tensors (perturbed in place, then restored); ``analytic``
    must hold a gradient of the same shape under each of those names.

    >>> W = torch.randn(3, 2, dtype=torch.float64)
    >>> check_gradients(lambda W: (W ** 2).sum(), {"W": W}, {"W": 2 * W}).ok
    True
    """
    for name, tensor in inputs.items():
        if tensor.dtype != torch.float64:
            raise TypeError(f"{name}: gradient checks need float64 tensors, got {tensor.dtype}")
    return compare_gradients(analytic, numerical_gradients(loss_fn, inputs, eps), tolerance)
