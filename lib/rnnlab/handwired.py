r"""Recurrent networks wired by hand: the lecture's summation, comparison and parity networks.

Before any training, an RNN is just a rule applied at every step to the previous state and the
current input. Setting the weights by hand shows what the state can hold:

- **summation**: one linear unit, :math:`h_t = 1 \cdot h_{t-1} + 1 \cdot x_t` (no bias), so
  :math:`h_t = x_1 + \dots + x_t`;
- **comparison**: inputs are pairs :math:`(a_t, b_t)`; one linear unit keeps the difference of
  the two running sums, :math:`h_t = h_{t-1} + a_t - b_t`, and a threshold output says which
  sum is larger so far, :math:`y_t = \mathrm{step}(h_t)`;
- **parity**: the output of the previous step is fed back. Two binary threshold units look at
  :math:`y_{t-1}` and :math:`x_t`,

  .. math::
      h_t = \mathrm{step}(w_y\, y_{t-1} + w_x\, x_t + b_h), \qquad
      y_t = \mathrm{step}(w_{\text{out}} \cdot h_t + b_{\text{out}}), \qquad y_0 = 0,

  with :math:`h_t \in \{0, 1\}^2`; with ``PARITY_WEIGHTS``, :math:`h_1` is OR (at least one
  1), :math:`h_2` is AND (both), and :math:`y_t = h_1 \wedge \neg h_2` is XOR, so
  :math:`y_t = x_1 \oplus \dots \oplus x_t`.

``step(z)`` is 1 when ``z > 0`` and 0 otherwise (strictly: a unit whose input is exactly 0 is
off, so a threshold must be set *between* the values it separates, e.g. -0.5, not on them).
Inputs are batch-first: bits (B, T). Not here: learning these weights (chapter 03's
assignment and ``rnnlab.layers`` learn the smooth version, with tanh for step).
"""

from __future__ import annotations

import torch
from torch import Tensor

PARITY_WEIGHTS = {
    "w_y": [1.0, 1.0],      # y_{t-1} -> (h1, h2)
    "w_x": [1.0, 1.0],      # x_t     -> (h1, h2)
    "b_h": [-0.5, -1.5],    # h1 = OR: on if at least one input is 1; h2 = AND: on if both are
    "w_out": [1.0, -1.0],   # y = h1 and not h2
    "b_out": -0.5,
}


def step(z: Tensor) -> Tensor:
    """The binary threshold unit: 1.0 where z > 0, else 0.0 (same shape and dtype as z)."""
    return (z > 0).to(z.dtype)


def summation_network(x: Tensor) -> Tensor:
    """Running sums with one linear recurrent unit, h_t = h_{t-1} + x_t, h_0 = 0.
    x (B, T) -> h (B, T), h[:, t] = x[:, 0] + ... + x[:, t]."""
    x = torch.as_tensor(x, dtype=torch.float64)
    h, out = x.new_zeros(x.shape[0]), []
    for x_t in x.unbind(1):
        h = 1.0 * h + 1.0 * x_t                  # W_hh = 1, W_xh = 1, b = 0, linear unit
        out.append(h)
    return torch.stack(out, 1)


def comparison_network(pairs: Tensor) -> tuple[Tensor, Tensor]:
    """Is the running sum of the first numbers larger than that of the second?
    pairs (B, T, 2) -> (h (B, T) the difference of the sums, y (B, T) in {0, 1}),
    h_t = h_{t-1} + a_t - b_t (W_xh = [1, -1], W_hh = 1), y_t = step(h_t)."""
    pairs = torch.as_tensor(pairs, dtype=torch.float64)
    w_xh = pairs.new_tensor([1.0, -1.0])
    h, hs = pairs.new_zeros(pairs.shape[0]), []
    for x_t in pairs.unbind(1):                  # x_t (B, 2)
        h = 1.0 * h + x_t @ w_xh
        hs.append(h)
    h = torch.stack(hs, 1)
    return h, step(h)


def as_parity_weights(weights: dict) -> dict[str, Tensor]:
    """A parity-network weight dict (lists, numbers, arrays or tensors) as float64 tensors of
    shapes w_y (2,), w_x (2,), b_h (2,), w_out (2,), b_out (); raises ValueError naming the
    first missing key or wrong shape."""
    shapes = {"w_y": (2,), "w_x": (2,), "b_h": (2,), "w_out": (2,), "b_out": ()}
    out = {}
    for key, shape in shapes.items():
        if key not in weights:
            raise ValueError(f"the weights have no {key!r}; expected the keys {', '.join(shapes)}")
        value = torch.as_tensor(weights[key], dtype=torch.float64).detach()
        if key == "b_out" and value.numel() == 1:
            value = value.reshape(())
        if tuple(value.shape) != shape:
            raise ValueError(f"{key} has shape {tuple(value.shape)}, expected {shape}")
        out[key] = value
    return out


def parity_network(bits: Tensor, weights: dict = PARITY_WEIGHTS) -> tuple[Tensor, Tensor]:
    """Run the threshold parity network on bit strings.
    bits (B, T) of 0/1 -> (y (B, T) outputs, h (B, T, 2) hidden units), y_0 = 0."""
    w = as_parity_weights(weights)
    bits = torch.as_tensor(bits, dtype=torch.float64)
    y, ys, hs = bits.new_zeros(bits.shape[0]), [], []
    for x_t in bits.unbind(1):
        h = step(y[:, None] * w["w_y"] + x_t[:, None] * w["w_x"] + w["b_h"])   # (B, 2)
        y = step(h @ w["w_out"] + w["b_out"])                                  # (B,)
        hs.append(h)
        ys.append(y)
    return torch.stack(ys, 1), torch.stack(hs, 1)


def parity_truth_table(weights: dict = PARITY_WEIGHTS) -> list[tuple[int, int, int, int, int]]:
    """The four rows (y_{t-1}, x_t, h1, h2, y_t) of one step of the parity network."""
    w = as_parity_weights(weights)
    rows = []
    for y_prev in (0, 1):
        for x in (0, 1):
            h = step(y_prev * w["w_y"] + x * w["w_x"] + w["b_h"])
            y = step(h @ w["w_out"] + w["b_out"])
            rows.append((y_prev, x, int(h[0]), int(h[1]), int(y)))
    return rows


def all_bit_strings(length: int) -> Tensor:
    """Every bit string of ``length`` bits, (2**length, length) int64, in binary counting order."""
    codes = torch.arange(2 ** length)
    return (codes[:, None] >> torch.arange(length - 1, -1, -1)) & 1
