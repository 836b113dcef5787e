r"""Gradient clipping by the global norm, written out (Pascanu, Mikolov and Bengio 2013).

When the gradient of a recurrent network explodes, one step of gradient descent throws the
weights far away. Clipping rescales the gradient of *all* parameters together, so that its
direction is kept and only its length is capped:

.. math::
    \lVert g \rVert = \sqrt{\textstyle\sum_p \lVert g_p \rVert^2}, \qquad
    g \leftarrow g \cdot \min\!\left(1, \frac{\theta}{\lVert g \rVert + 10^{-6}}\right)

``clip_grad_norm`` is ``torch.nn.utils.clip_grad_norm_`` with the default 2-norm, the same
formula and the same :math:`10^{-6}`. Clamping each entry to :math:`[-\theta, \theta]`
(``torch.nn.utils.clip_grad_value_``) is the other way; it changes the direction.
"""

from __future__ import annotations

from typing import Iterable

import torch
from torch import Tensor


@torch.no_grad()
def clip_grad_norm(parameters: Iterable[Tensor] | Tensor, max_norm: float) -> Tensor:
    r"""Rescale the gradients of ``parameters`` in place so that their total 2-norm is at most
    ``max_norm`` (:math:`\theta`); return the total norm they had before, a 0-d tensor.

    .. math::
        \lVert g \rVert &= \sqrt{\textstyle\sum_p \lVert g_p \rVert^2}
            \quad \text{(all parameters as one vector)} \\
        c &= \min\!\left(1, \frac{\theta}{\lVert g \rVert + 10^{-6}}\right) \\
        g_p &\leftarrow c \, g_p \quad \text{for every parameter } p

    parameters: tensors (e.g. ``model.parameters()``) or one tensor; those whose ``.grad`` is
    None are skipped. Gradients whose total norm is below the threshold are multiplied by
    exactly 1, so they are unchanged; a non-finite norm makes every gradient NaN, as in torch.
    With no gradient at all the norm is ``tensor(0.)``. Equal to
    ``torch.nn.utils.clip_grad_norm_(parameters, max_norm)``."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    per_parameter = torch.stack([torch.linalg.vector_norm(g) for g in grads])   # ||g_p||
    total_norm = torch.linalg.vector_norm(per_parameter)                       # ||g||
    scale = (max_norm / (total_norm + 1e-6)).clamp(max=1.0)                    # c
    for g in grads:
        g.mul_(scale)                                                          # g_p <- c g_p
    return total_norm
