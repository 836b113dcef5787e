r"""Sampling from a neural language model: temperature, and generation by feeding samples back.

A language model gives scores (logits) :math:`z \in \mathbb{R}^V` for the next token. Sampling
with temperature :math:`\tau > 0` draws from

.. math::
    p_i = \mathrm{softmax}(z / \tau)_i = \frac{e^{z_i / \tau}}{\sum_j e^{z_j / \tau}}:

:math:`\tau = 1` is the model's own distribution, :math:`\tau \to 0` approaches greedy decoding
(always the most likely token), large :math:`\tau` approaches the uniform distribution. The
temperature divides the *logits*, before the softmax (dividing probabilities after it would
change nothing once they are renormalised).

Generation feeds each sampled token back as the next input, carrying the recurrent state
(the model has the signature of ``rnnlab.models``: ``model(tokens (B, T), state) -> (logits
(B, T, V), state)``). Everything is seeded through a ``torch.Generator``. Not here: beam search
(``rnnlab.decoding``, chapter 07), the ``LanguageModel.sample`` of word-level models (``rnnlab.lm``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def sample_with_temperature(logits: Tensor, temperature: float = 1.0,
                            generator: torch.Generator | None = None) -> Tensor:
    """One token id per row drawn from softmax(logits / temperature).
    logits (B, V) float -> ids (B,) int64; the same generator state gives the same ids."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    probs = torch.softmax(logits.detach().double() / temperature, dim=-1)     # p = softmax(z / tau)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


@torch.no_grad()
def generate(model: nn.Module, prompt: Tensor, length: int, temperature: float = 1.0,
             generator: torch.Generator | None = None) -> Tensor:
    """Continue ``prompt`` (T0,) ids with ``length`` sampled ids: returns (length,) int64.
    The prompt is read in one call, then each sample is fed back, one step at a time."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    logits, state = model(prompt.to(device)[None, :])             # read the prompt: (1, T0, V)
    out = []
    for _ in range(length):
        token = sample_with_temperature(logits[:, -1].float().cpu(), temperature, generator)   # (1,)
        out.append(token)
        logits, state = model(token[:, None].to(device), state)   # feed the sample back
    model.train(was_training)
    return torch.cat(out)
