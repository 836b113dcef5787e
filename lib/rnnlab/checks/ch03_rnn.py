"""Checks of assignment 03 (vanilla RNNs and RNN language models): ``03_rnn.<part>``.

Each check compares the student's function with rnnlab's reference (``rnnlab.layers.RNNCell``
and ``RNN``, ``rnnlab.handwired``, ``rnnlab.models.teacher_forcing_loss``,
``rnnlab.sampling``) on seeded inputs, values and then gradients (a state detached at every
step has the right values and the wrong gradient), on long sequences and on logits in the tens
(where an unnormalised ``exp`` overflows). When the answers differ, the judge recomputes the
usual mistakes on the same inputs (tanh missing, W_ih and W_hh swapped, states stacked in
reverse order, targets not shifted, padding counted, the temperature applied after the
softmax, ...) and names one only where the student's answer equals it and the right answer
does not (``framework.diagnose``). Sampling is judged on the frequencies of thousands of draws
and on the seeding rules (``probe_seeded``). The trained character model crosses to the judge
as its weights only; the judge rebuilds it and measures it on held-out text.
Models and random generators cannot cross from the judge to the student as plain data, so the
probes build them from plain weights and seeds.
"""

from __future__ import annotations

import math
import re
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from .. import handwired, layers, models
from .framework import (Case, Check, SEEDS, call_student, compare_tensor, diagnose, fmt, fmt_pair,
                        gradient_error, judge_gradient, judge_seeded, module_answer, probe_gradient,
                        probe_seeded, register, restored_weights, type_problem)
from .plain import TENSOR_TYPES, describe, restore

FLOAT32_EXP_LIMIT = 88.72   # exp(z) is inf in float32 for z above ln(3.4e38)


def _randn(seed: int, *shape, dtype=torch.float64) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(dtype)


def _weights(seed: int, I: int, H: int) -> tuple:
    """(W_ih (H, I), W_hh (H, H), b_ih (H,), b_hh (H,)), seeded, scaled like torch.nn's init."""
    scale = 1 / math.sqrt(H)
    return tuple(scale * _randn(seed + k, *shape) for k, shape in
                 enumerate([(H, I), (H, H), (H,), (H,)]))


def _close(rtol: float = 1e-5, atol: float = 1e-7):
    """Two tensors (or lists of tensors) of the same shapes and values, NaN equal to NaN."""
    def close(a, b) -> bool:
        if isinstance(a, (list, tuple)):
            return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
        return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape
                and bool(torch.allclose(a.double(), b.double(), rtol=rtol, atol=atol, equal_nan=True)))
    return close


def _sentence(text: Optional[str]) -> Optional[str]:
    """``text`` as a sentence: its first letter capitalised."""
    return text[0].upper() + text[1:] if text else text


def _grads(fn, inputs: tuple, leaves, upstream: torch.Tensor) -> list:
    """Gradients of sum(fn(*inputs) * upstream) with respect to the inputs at ``leaves``
    (computed by trusted code: the reference, or a known mistake)."""
    args = [a.detach().clone().requires_grad_(True) if i in leaves else a for i, a in enumerate(inputs)]
    out = fn(*args)
    return list(torch.autograd.grad((out * upstream).sum(), [args[i] for i in leaves]))


def _leaves(inputs: tuple) -> list:
    """The positions of the float tensors among the inputs but the last (the upstream weights)."""
    return [i for i, a in enumerate(inputs[:-1]) if isinstance(a, torch.Tensor) and a.is_floating_point()]


def _probe_recurrence(student_fn, inputs, seconds):
    """The student's function on the inputs but the last, with every float input a leaf that
    requires grad; its answer and the gradients of sum(answer * upstream), upstream the last
    input."""
    return probe_gradient(student_fn, inputs, seconds, leaves=_leaves(inputs), upstream=len(inputs) - 1)


def _judge_recurrence(case: Case, result, reference, compare, names, dims, grad_mistakes) -> Optional[str]:
    """The answer's type and value (``compare``), then its gradients against the reference's;
    ``grad_mistakes``: {explanation: function with the right values and the wrong gradient}."""
    problem = type_problem(result["answer"], TENSOR_TYPES)
    if problem:
        return problem
    inputs = case.args
    expected = reference(*inputs).detach()
    problem = compare(case, expected, restore(result["answer"]))
    if problem:
        return problem
    leaves, upstream = _leaves(inputs), inputs[-1]
    expected_grads = _grads(reference, inputs, leaves, upstream)
    problem = judge_gradient(result, expected_grads, [names[i] for i in leaves], [dims[i] for i in leaves])
    if problem and "grad_error" not in result and all(g is not None for g in result["grads"]):
        got = [restore(g) for g in result["grads"]]
        found = diagnose(got, expected_grads, {k: (lambda f=f: _grads(f, inputs, leaves, upstream))
                                               for k, f in grad_mistakes.items()}, _close(1e-6, 1e-9))
        if found:
            problem = f"{problem}. {_sentence(found)}"
    return problem


# ---------------------------------------------------------------------------------------------
# rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh) -> h_t (B, H)
# ---------------------------------------------------------------------------------------------

def reference_cell(x, h, W_ih, W_hh, b_ih, b_hh, upstream=None):
    """rnnlab.layers.RNNCell with the given parameters: tanh(x W_ih^T + b_ih + h W_hh^T + b_hh);
    differentiable in every input. (``upstream``, the last input of a case, is not used.)"""
    cell = layers.RNNCell(W_ih.shape[1], W_ih.shape[0], dtype=W_ih.dtype)
    return functional_call(cell, {"weight_ih": W_ih, "weight_hh": W_hh, "bias_ih": b_ih, "bias_hh": b_hh}, (x, h))


def _cell_mistakes(x, h, W_ih, W_hh, b_ih, b_hh, upstream=None) -> dict:
    pre = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh
    return {
        "your h_t is the pre-activation: the tanh is missing": lambda: pre,
        "your h_t uses W_hh and W_ih swapped (W_ih multiplies the input x_t, W_hh the previous state h_{t-1})":
            lambda: torch.tanh(x @ W_hh.T + b_ih + h @ W_ih.T + b_hh),
        "your h_t multiplies by W_ih and W_hh without transposing them (x_t W_ih^T: W_ih is (H, I))":
            lambda: torch.tanh(x @ W_ih + b_ih + h @ W_hh + b_hh),
        "your h_t leaves out the previous state h_{t-1}": lambda: torch.tanh(x @ W_ih.T + b_ih + b_hh),
        "your h_t leaves out the bias b_hh": lambda: torch.tanh(x @ W_ih.T + b_ih + h @ W_hh.T),
        "your h_t leaves out the bias b_ih": lambda: torch.tanh(x @ W_ih.T + h @ W_hh.T + b_hh),
        "your h_t leaves out both biases": lambda: torch.tanh(x @ W_ih.T + h @ W_hh.T),
        "your h_t uses the sigmoid instead of tanh": lambda: torch.sigmoid(pre),
        "your h_t uses ReLU instead of tanh": lambda: torch.relu(pre),
    }


CELL_NAMES = ("x", "h", "W_ih", "W_hh", "b_ih", "b_hh")
CELL_DIMS = (("b", "i"), ("b", "h"), ("h", "i"), ("h", "h"), ("h",), ("h",))


def _explain_cell(case, expected, got) -> Optional[str]:
    return _sentence(diagnose(got, expected, _cell_mistakes(*case.args), _close()))


def _judge_cell(case: Case, result) -> Optional[str]:
    compare = compare_tensor(dims=("b", "h"), what="h_t", explain=_explain_cell)
    return _judge_recurrence(case, result, reference_cell, compare, CELL_NAMES, CELL_DIMS, {})


def _cell_case(label, seed, B, I, H, zero_h=False, scale=1.0):
    W = tuple(scale * w for w in _weights(seed, I, H))
    h = torch.zeros(B, H, dtype=torch.float64) if zero_h else _randn(seed + 10, B, H)
    return Case(label, (_randn(seed + 20, B, I), h) + W + (_randn(seed + 30, B, H),))


register(Check(
    name="03_rnn.rnn_cell", points=1, reference=reference_cell,
    visible=lambda: [_cell_case("B=2, I=3, H=3", 0, 2, 3, 3), _cell_case("B=2, I=3, H=4", 5, 2, 3, 4)],
    hidden=lambda: [_cell_case("B=3, I=4, H=4", 1, 3, 4, 4),
                    _cell_case("B=1, I=5, H=2", 2, 1, 5, 2),
                    _cell_case("B=4, I=2, H=6, h = 0", 3, 4, 2, 6, zero_h=True),
                    _cell_case("B=5, I=3, H=3", 4, 5, 3, 3),
                    _cell_case("B=3, I=4, H=5, large weights (tanh saturates)", 6, 3, 4, 5, scale=6.0)],
    probe=_probe_recurrence, judge=_judge_cell))


# ---------------------------------------------------------------------------------------------
# rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh) -> all hidden states (B, T, H)
# ---------------------------------------------------------------------------------------------

def reference_forward(x, h0, W_ih, W_hh, b_ih, b_hh, upstream=None):
    """rnnlab.layers.RNN (batch-first, the reference loop) with the given parameters: the output
    sequence, h_1 ... h_T, (B, T, H); differentiable in every input. h0 (B, H), or None for
    zeros. (``upstream``, the last input of a case, is not used.)"""
    rnn = layers.RNN(W_ih.shape[1], W_ih.shape[0], batch_first=True, impl="reference", dtype=W_ih.dtype)
    weights = {"weight_ih_l0": W_ih, "weight_hh_l0": W_hh, "bias_ih_l0": b_ih, "bias_hh_l0": b_hh}
    return functional_call(rnn, weights, (x, None if h0 is None else h0[None]))[0]   # h_0 as (1, B, H)


def _loop(x, h, step):
    """All states of h_t = step(x_t, h_{t-1}) over a batch-first x, stacked to (B, T, H)."""
    out = []
    for x_t in x.unbind(1):
        h = step(x_t, h)
        out.append(h)
    return torch.stack(out, 1)


def _forward_parts(x, h0, W_ih, W_hh, b_ih, b_hh):
    """(the initial state, the step) of the recurrence as the assignment writes it."""
    start = x.new_zeros(x.shape[0], W_ih.shape[0]) if h0 is None else h0

    def cell(x_t, h):
        return torch.tanh(x_t @ W_ih.T + b_ih + h @ W_hh.T + b_hh)

    return start, cell


def _forward_mistakes(x, h0, W_ih, W_hh, b_ih, b_hh, upstream=None) -> dict:
    B, T, _ = x.shape
    H = W_ih.shape[0]
    start, cell = _forward_parts(x, h0, W_ih, W_hh, b_ih, b_hh)
    right = _loop(x, start, cell)
    return {
        "your first step does not start from h_0 = 0 (when h0 is None the initial state must be zeros)":
            (lambda: _loop(x, x.new_ones(B, H), cell)) if h0 is None else (lambda: None),
        "your loop ignores the h0 it is given and starts from zeros":
            (lambda: _loop(x, x.new_zeros(B, H), cell)) if h0 is not None else (lambda: None),
        "your output is shifted by one step: it holds h_0 ... h_{T-1}; return h_1 ... h_T, the state after each input":
            lambda: torch.cat([start[:, None], right[:, :-1]], 1),
        "your states are stacked in reverse order: each state is right, but your output[:, 0] is h_T "
        "(append each new state at the end, in time order)":
            lambda: right.flip(1),
        "every step of yours starts from h_0 instead of the previous step's state (h is never updated)":
            lambda: torch.stack([cell(x_t, start) for x_t in x.unbind(1)], 1),
        "your output repeats the last state h_T at every step: keep the state of every step":
            lambda: right[:, -1:].expand(B, T, H),
        "your loop walks over the batch dimension: x is batch-first (B, T, I), so step t is x[:, t]":
            lambda: _loop(x.transpose(0, 1), x.new_zeros(T, H) if h0 is None else None, cell).transpose(0, 1),
        "your states are the pre-activations: the tanh is missing":
            lambda: _loop(x, start, lambda x_t, h: x_t @ W_ih.T + b_ih + h @ W_hh.T + b_hh),
        "your step uses W_hh and W_ih swapped (W_ih multiplies the input x_t, W_hh the previous state)":
            lambda: _loop(x, start, lambda x_t, h: torch.tanh(x_t @ W_hh.T + b_ih + h @ W_ih.T + b_hh)),
        "your recurrence reads the sequence backwards (from x_T to x_1)": lambda: _loop(x.flip(1), start, cell).flip(1),
    }


def _detached_forward(x, h0, W_ih, W_hh, b_ih, b_hh, upstream=None):
    """The right values with the state detached at every step: no gradient through time."""
    start, cell = _forward_parts(x, h0, W_ih, W_hh, b_ih, b_hh)
    return _loop(x, start, lambda x_t, h: cell(x_t, h.detach()))


FORWARD_NAMES = ("x", "h0", "W_ih", "W_hh", "b_ih", "b_hh")
FORWARD_DIMS = (("b", "t", "i"), ("b", "h"), ("h", "i"), ("h", "h"), ("h",), ("h",))
DETACHED_STATE = ("your states have the right values but the gradient does not flow back through time: "
                  "the state is detached at every step (h.detach(), h.data, torch.tensor(h) or a "
                  "numpy round trip inside the loop), so training could not learn from earlier steps")


def _explain_forward(case, expected, got) -> Optional[str]:
    return _sentence(diagnose(got, expected, _forward_mistakes(*case.args), _close()))


def _judge_forward(case: Case, result) -> Optional[str]:
    compare = compare_tensor(dims=("b", "t", "h"), what="the output", explain=_explain_forward)
    return _judge_recurrence(case, result, reference_forward, compare, FORWARD_NAMES, FORWARD_DIMS,
                             {DETACHED_STATE: _detached_forward})


def _forward_case(label, seed, B, T, I, H, h0=True):
    W = _weights(seed, I, H)
    return Case(label, (_randn(seed + 20, B, T, I), _randn(seed + 10, B, H) if h0 else None) + W
                + (_randn(seed + 30, B, T, H),))


register(Check(
    name="03_rnn.rnn_forward", points=2, reference=reference_forward,
    visible=lambda: [_forward_case("B=2, T=5, I=3, H=4, h0=None", 0, 2, 5, 3, 4, h0=False),
                     _forward_case("B=2, T=5, I=3, H=4, h0 given", 1, 2, 5, 3, 4)],
    hidden=lambda: [_forward_case("B=3, T=7, I=4, H=4, h0=None", 2, 3, 7, 4, 4, h0=False),
                    _forward_case("B=4, T=4, I=2, H=3, h0 given (B = T)", 3, 4, 4, 2, 3),
                    _forward_case("B=1, T=1, I=5, H=2, h0=None", 4, 1, 1, 5, 2, h0=False),
                    _forward_case("B=2, T=2, I=3, H=3, h0 given", 6, 2, 2, 3, 3),
                    _forward_case("B=5, T=9, I=3, H=6, h0 given", 5, 5, 9, 3, 6),
                    _forward_case("a long sequence: B=2, T=400, I=3, H=8, h0 given", 7, 2, 400, 3, 8)],
    probe=_probe_recurrence, judge=_judge_forward))


# ---------------------------------------------------------------------------------------------
# parity_weights() -> {"w_y", "w_x", "b_h", "w_out", "b_out"}
# ---------------------------------------------------------------------------------------------

_NAMED_TABLES = {
    (0, 1, 1, 1): "OR (the output is on when either input is 1): h2, the AND unit, must switch the output off when both are 1",
    (0, 0, 0, 1): "AND: the output must be on when exactly one of y_{t-1} and x_t is 1",
    (0, 1, 0, 1): "y_t = x_t: the previous output y_{t-1} has no effect; set the feedback weights w_y",
    (0, 0, 1, 1): "y_t = y_{t-1}: the input x_t has no effect; set the input weights w_x",
    (0, 0, 0, 0): "an output that is always 0",
    (1, 1, 1, 1): "an output that is always 1",
    (1, 0, 0, 1): "XNOR, the opposite of parity",
}


def _probe_no_args(student_fn, inputs, seconds):
    """Call the student's function with no arguments (the case's inputs are for the judge)."""
    got, problem = call_student(student_fn, (), seconds)
    return {"error": problem} if problem else {"answer": describe(got)}


def _parity_weights_of(answer) -> tuple[Optional[dict], Optional[str]]:
    """(weights as float64 tensors, None) or (None, what is wrong with the answer's entries)."""
    for key, value in answer.items():
        if not isinstance(value, (int, float, list, tuple, np.ndarray, torch.Tensor)):
            return None, f"{key} must be numbers (a list, an array or a tensor), got a {type(value).__name__}: {value!r}"
    try:
        return handwired.as_parity_weights(answer), None
    except (ValueError, TypeError, RuntimeError) as error:
        return None, str(error)


def _judge_parity(case: Case, result) -> Optional[str]:
    problem = type_problem(result["answer"], ("dict",))
    if problem:
        return problem
    weights, problem = _parity_weights_of(restore(result["answer"]))
    if problem:
        return problem
    if not all(bool(torch.isfinite(v).all()) for v in weights.values()):
        return "your weights contain NaN or infinity"
    (max_len,) = case.args
    for length in range(1, max_len + 1):
        bits = handwired.all_bit_strings(length)
        y, h = handwired.parity_network(bits, weights)
        wrong = (y != bits.cumsum(1) % 2).any(1).nonzero()
        if len(wrong):
            b = int(wrong[0])
            t = int((y[b] != bits[b].cumsum(0) % 2).nonzero()[0])
            string = "".join(str(int(v)) for v in bits[b])
            table = handwired.parity_truth_table(weights)
            outputs = tuple(row[4] for row in table)
            message = (f"on the bit string {string}, your output y at step t={t + 1} is {int(y[b, t])}, "
                       f"expected {int(bits[b, :t + 1].sum()) % 2} (the parity of {string[:t + 1]}). "
                       "Your truth table (y_{t-1}, x_t -> h1, h2, y_t): "
                       + "; ".join(f"{a}{c} -> {d}{e} {f}" for a, c, d, e, f in table))
            if outputs in _NAMED_TABLES:
                message += f". Your network computes {_NAMED_TABLES[outputs]}"
            inputs_of_units = [y_prev * weights["w_y"] + x * weights["w_x"] + weights["b_h"]
                               for y_prev in (0, 1) for x in (0, 1)]
            if any(bool((z == 0).any()) for z in inputs_of_units):
                message += (". Some hidden unit's input is exactly 0 for some row, and step(0) = 0: "
                            "put each threshold between the values it separates (e.g. -0.5, -1.5)")
            return message
    return None


register(Check(
    name="03_rnn.parity_weights", points=2, reference=lambda: handwired.PARITY_WEIGHTS,
    visible=lambda: [Case("every bit string of length 1 to 4", (4,))],
    hidden=lambda: [Case("every bit string of length 1 to 10", (10,))],
    probe=_probe_no_args, judge=_judge_parity))


# ---------------------------------------------------------------------------------------------
# lm_loss(model, tokens, pad_id) -> scalar tensor
# ---------------------------------------------------------------------------------------------

class TinyRNNLM(nn.Module):
    """Embedding, ``torch.nn.RNN`` (tanh, batch-first), linear output, in plain torch (the
    grading sandbox has no rnnlab models): the LM of the lm_loss cases, and the judge's copy of
    the assignment's ``CharRNN`` (its locked cell builds the same layers, in the same order,
    with ``embedding_dim`` 16), into which the weights of a student's trained model are loaded.
    ``forward(tokens (B, T), state=None) -> (logits (B, T, V), state (1, B, H))``."""

    def __init__(self, vocab_size: int, embedding_dim: int, hidden_size: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.rnn = nn.RNN(embedding_dim, hidden_size, batch_first=True)
        self.output = nn.Linear(hidden_size, vocab_size)

    def forward(self, tokens, state=None):
        states, state = self.rnn(self.embedding(tokens), state)
        return self.output(states), state


class RecordingLM(nn.Module):
    """A ``TinyRNNLM`` with the given weights (of their dtype) that records every input it reads."""

    def __init__(self, weights: dict, vocab_size: int, embedding_dim: int, hidden_size: int):
        super().__init__()
        dtype = torch.as_tensor(weights["output.weight"]).dtype
        self.lm = TinyRNNLM(vocab_size, embedding_dim, hidden_size).to(dtype)
        self.lm.load_state_dict({k: torch.as_tensor(v) for k, v in weights.items()})
        self.inputs = []

    def forward(self, tokens, state=None):
        self.inputs.append(torch.as_tensor(tokens).detach().clone())
        return self.lm(tokens, state)


LM_PARAMETERS = ("embedding.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0",
                 "rnn.bias_hh_l0", "output.weight", "output.bias")
LM_DIMS = (("v", "e"), ("h", "e"), ("h", "h"), ("h",), ("h",), ("v", "h"), ("v",))


def _loss_mistakes(model: RecordingLM, tokens, pad_id) -> dict:
    lm = model.lm

    def logits_of(x):
        return lm(x)[0]

    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    real = targets != pad_id
    masked = targets.masked_fill(~real, -100)
    z = logits_of(inputs)
    flat = lambda t: t.flatten()  # noqa: E731

    def per_sequence_mean():
        nll = F.cross_entropy(z.flatten(0, 1), flat(masked), reduction="none", ignore_index=-100).view_as(targets)
        return (nll.sum(1) / real.sum(1).clamp(min=1)).mean()

    def from_probabilities(p):
        """The mean of -ln p[target] over the real targets."""
        return -torch.log(p.gather(2, targets[..., None])[..., 0][real]).mean()

    def product_of_probabilities():
        picked = torch.softmax(z, -1).gather(2, targets[..., None])[..., 0].masked_fill(~real, 1.0)
        return -torch.log(picked.prod(1)).sum() / real.sum()

    return {
        "your loss compares the logits at step t with the token at step t itself: the logits of step t "
        "predict the NEXT token, targets = tokens[:, 1:] for inputs tokens[:, :-1]":
            lambda: F.cross_entropy(z.flatten(0, 1), flat(inputs.masked_fill(inputs == pad_id, -100))),
        "your logits are shifted by one step: the model reads tokens[:, :-1] and its logits at step t "
        "are scored against tokens[:, t+1]":
            lambda: F.cross_entropy(logits_of(tokens)[:, 1:].flatten(0, 1), flat(masked)),
        "your loss counts the padding: targets equal to pad_id must be left out (ignore_index) of the sum and of the count":
            lambda: F.cross_entropy(z.flatten(0, 1), flat(targets)),
        "your loss divides by all positions, padding included: average over the real targets only":
            lambda: F.cross_entropy(z.flatten(0, 1), flat(masked), reduction="sum") / targets.numel(),
        "your loss is the sum over tokens: return the mean per (non-padding) target token":
            lambda: F.cross_entropy(z.flatten(0, 1), flat(masked), reduction="sum"),
        "your loss averages each sequence first, then the sequences: average over all real target tokens at once":
            per_sequence_mean,
        "your loss uses the raw logits as log-probabilities (nll_loss needs log_softmax first; cross_entropy does it for you)":
            lambda: F.nll_loss(z.flatten(0, 1), flat(masked)),
        "your loss uses the model's inputs as targets (reversed direction: inputs tokens[:, 1:], targets tokens[:, :-1])":
            lambda: F.cross_entropy(logits_of(tokens[:, 1:]).flatten(0, 1),
                                    flat(tokens[:, :-1].masked_fill(tokens[:, :-1] == pad_id, -100))),
        "your softmax overflows: exp(z) is inf for the logits of this case (float32 overflows above 88.7), "
        "and inf / inf is NaN; use F.log_softmax or F.cross_entropy, which subtract the largest logit first":
            lambda: from_probabilities(torch.exp(z) / torch.exp(z).sum(-1, keepdim=True)),
        "your loss takes the log of the product of a sequence's probabilities: a product of hundreds of "
        "probabilities underflows to 0; sum the log-probabilities instead":
            product_of_probabilities,
    }


def _detached_normaliser_loss(model, tokens, pad_id):
    """The right value with the softmax normaliser detached: the gradient only raises the
    target's logit and never lowers the others."""
    logits, _ = model(tokens[:, :-1])
    targets = tokens[:, 1:]
    log_p = logits - torch.logsumexp(logits, -1, keepdim=True).detach()
    nll = -log_p.gather(2, targets[..., None])[..., 0]
    real = targets != pad_id
    return (nll * real).sum() / real.sum()


def _loss_case(label, seed, B, T, V=7, E=4, H=5, lengths=None):
    """A float64 LM of seeded weights and random tokens (B, T) padded to ``lengths`` with V - 1."""
    with torch.random.fork_rng(devices=[]):          # the caller's random state is left alone
        torch.manual_seed(seed)
        weights = {k: v.double() for k, v in TinyRNNLM(V, E, H).state_dict().items()}
    pad_id = V - 1
    tokens = torch.randint(0, V - 1, (B, T), generator=torch.Generator().manual_seed(seed + 1))
    for b, n in enumerate(lengths or []):
        tokens[b, n:] = pad_id
    return Case(label, (weights, (V, E, H), tokens, pad_id))


def _confident_case(seed, B, T, V, E, H, lengths, logit_scale):
    """A float32 LM whose output layer is scaled by ``logit_scale`` (logits in the tens, where
    exp overflows float32), on tokens it generates itself (so that it is confident and mostly
    right, as a trained model is), padded to ``lengths`` with V - 1."""
    with torch.random.fork_rng(devices=[]):          # the caller's random state is left alone
        torch.manual_seed(seed)
        lm = TinyRNNLM(V, E, H)
    with torch.no_grad():
        lm.output.weight.mul_(logit_scale)
        lm.output.bias.mul_(logit_scale)
        generator, tokens, state = torch.Generator().manual_seed(seed + 1), torch.zeros(B, 1, dtype=torch.int64), None
        for _ in range(T - 1):
            logits, state = lm(tokens[:, -1:], state)
            p = torch.softmax(logits[:, -1, :-1], -1)          # any id but the padding, V - 1
            tokens = torch.cat([tokens, torch.multinomial(p, 1, generator=generator)], 1)
        largest = float(lm(tokens[:, :-1])[0].max())
    for b, n in enumerate(lengths):
        tokens[b, n:] = V - 1
    weights = {k: v.clone() for k, v in lm.state_dict().items()}
    return Case(f"a confident float32 model (its largest logit is {largest:.0f}): B={B}, T={T}, V={V}, "
                f"lengths {', '.join(map(str, lengths))}", (weights, (V, E, H), tokens, V - 1))


def _probe_loss(student_fn, inputs, seconds):
    """The student's loss of a recording LM built from the case's weights; the model's first
    inputs, and the gradient of the loss with respect to each parameter of the LM."""
    weights, sizes, tokens, pad_id = inputs
    model = RecordingLM(weights, *sizes)
    got, problem = call_student(student_fn, (model, tokens.clone(), pad_id), seconds, copy_inputs=False)
    if problem:
        return {"error": problem}
    result = {"answer": describe(got), "inputs": [describe(x) for x in model.inputs[:4]], "grads": None}
    if isinstance(got, torch.Tensor) and got.requires_grad and got.numel() == 1:
        try:
            grads = torch.autograd.grad(got.reshape(()), list(model.lm.parameters()), allow_unused=True)
            result["grads"] = [None if g is None else describe(g) for g in grads]
        except Exception as error:  # noqa: BLE001 (the student's graph)
            result["grad_error"] = gradient_error(error)
    return result


def _judge_loss(case: Case, result) -> Optional[str]:
    weights, sizes, tokens, pad_id = case.args
    answer = result["answer"]
    problem = type_problem(answer, TENSOR_TYPES)
    if problem:
        return problem + " (return the loss tensor itself, not loss.item(): training needs its gradient)"
    got = restore(answer)
    if got.numel() != 1:
        return f"your loss has shape {tuple(got.shape)}: expected one number, the mean over all target tokens (a 0-d tensor)"
    if got.dtype.is_complex or not got.dtype.is_floating_point:
        return f"your loss has dtype {got.dtype}: expected a floating-point loss"
    if not result["inputs"]:
        return "your function never called the model"
    float32 = torch.as_tensor(weights["output.weight"]).dtype == torch.float32
    rtol = 1e-5 if float32 else 1e-6
    model = RecordingLM(weights, *sizes)
    with torch.no_grad():
        expected = float(models.teacher_forcing_loss(model.lm, tokens, pad_id))
        value = float(got.reshape(()))
        if not math.isfinite(value) or not math.isclose(value, expected, rel_tol=rtol, abs_tol=1e-9):
            message = "expected a loss of {} nats per token, got {}".format(*fmt_pair(expected, value))
            found = diagnose(got.reshape(()).double(), torch.tensor(expected, dtype=torch.float64),
                             _loss_mistakes(model, tokens, pad_id), _close(rtol, 1e-9))
            if found:
                return f"{message}: {found}"
            fed = restore(result["inputs"][0])
            if tuple(fed.shape) != tuple(tokens[:, :-1].shape) or not torch.equal(fed, tokens[:, :-1]):
                return (f"{message}. Your first call gave the model an input of shape {tuple(fed.shape)}; "
                        f"teacher forcing feeds the true tokens tokens[:, :-1], shape {tuple(tokens[:, :-1].shape)}")
            return message
    if not answer.get("requires_grad") or not isinstance(result.get("grads"), list):
        return ("your loss has the right value but no gradient (requires_grad is False): compute it from "
                "the model's logits with torch operations, without .detach(), numpy or torch.no_grad()")
    expected_grads = torch.autograd.grad(models.teacher_forcing_loss(model.lm, tokens, pad_id),
                                         list(model.lm.parameters()))
    # float32: two right ways of computing the gradient differ by ~1e-5 where it is ~1
    grad_rtol, grad_atol = (1e-3, 1e-4) if float32 else (1e-6, 1e-9)
    problem = judge_gradient(result, expected_grads, LM_PARAMETERS, LM_DIMS, rtol=grad_rtol, atol=grad_atol)
    if problem and "grad_error" not in result and all(g is not None for g in result["grads"]):
        detached = RecordingLM(weights, *sizes)
        found = diagnose([restore(g) for g in result["grads"]], list(expected_grads), {
            "your loss has the right value but the wrong gradient: the softmax's normaliser logsumexp(z) "
            "is detached (or computed from detached logits), so training would only raise the target's "
            "logit and never lower the others":
                lambda: list(torch.autograd.grad(_detached_normaliser_loss(detached.lm, tokens, pad_id),
                                                 list(detached.lm.parameters())))},
            _close(grad_rtol, grad_atol))
        if found:
            problem = f"{problem}. {_sentence(found)}"
    return problem


register(Check(
    name="03_rnn.lm_loss", points=2, reference=models.teacher_forcing_loss,
    visible=lambda: [_loss_case("B=2, T=6, no padding", 0, 2, 6),
                     _loss_case("B=3, T=6, sequences of lengths 6, 4, 3", 1, 3, 6, lengths=[6, 4, 3])],
    hidden=lambda: [_loss_case("B=4, T=8, lengths 8, 2, 5, 7", 2, 4, 8, lengths=[8, 2, 5, 7]),
                    _loss_case("B=1, T=2, no padding", 3, 1, 2),
                    _loss_case("B=5, T=10, lengths 10, 10, 3, 9, 6", 4, 5, 10, V=11, lengths=[10, 10, 3, 9, 6]),
                    _loss_case("long sequences: B=2, T=300, V=40, lengths 300, 120", 5, 2, 300, V=40, E=6, H=8,
                               lengths=[300, 120]),
                    _confident_case(6, 3, 12, V=20, E=6, H=8, lengths=[12, 12, 7], logit_scale=100.0)],
    probe=_probe_loss, judge=_judge_loss))


# ---------------------------------------------------------------------------------------------
# sample_next(logits, temperature, generator) -> ids (B,)
# ---------------------------------------------------------------------------------------------

def _probe_sampling(student_fn, inputs, seconds):
    """One call on the case's logits (B, V); then ``draws`` samples of every row at once (the
    rows repeated, (B * draws, V)) under ``probe_seeded``'s three generators. A call that
    raises is recorded under "raised" for the judge to explain."""
    logits, temperature, draws = inputs
    got, problem = call_student(student_fn, (logits.clone(), temperature, torch.Generator().manual_seed(SEEDS[0])),
                                seconds, copy_inputs=False)
    if problem:
        return {"raised": problem}
    seeded = probe_seeded(student_fn, (logits.repeat_interleave(draws, 0), temperature, None), seconds,
                          generator_at=2)
    if "error" in seeded:
        return {"raised": seeded["error"]}
    return {"first": describe(got), **seeded}


def _tv(p: np.ndarray, q: np.ndarray) -> float:
    return 0.5 * float(np.abs(p - q).sum())


def _ids_problem(desc, rows: int, V: int) -> Optional[str]:
    problem = type_problem(desc, TENSOR_TYPES)
    if problem:
        return problem
    got = restore(desc)
    if tuple(got.shape) != (rows,):
        return f"your ids have shape {tuple(got.shape)} for logits of shape ({rows}, {V}): expected ({rows},), one id per row"
    if got.dtype != torch.int64:
        if got.dtype in (torch.int32, torch.int16, torch.int8, torch.uint8):
            return (f"your ids have dtype {got.dtype}: token ids are torch.int64 (what torch.multinomial "
                    "and argmax return; embeddings and cross_entropy need it), do not convert them")
        return f"your ids have dtype {got.dtype}: expected integer token ids (torch.int64)"
    if len(got) and (int(got.min()) < 0 or int(got.max()) >= V):
        return f"your ids must be between 0 and {V - 1}, got {int(got.min())} to {int(got.max())}"
    return None


def _judge_sampling(case: Case, result) -> Optional[str]:
    logits, temperature, draws = case.args
    B, V = logits.shape
    z = logits.double() / temperature
    if "raised" in result:
        message = str(result["raised"])
        if float(z.abs().max()) > FLOAT32_EXP_LIMIT and re.search(r"\b(inf|nan)\b", message, re.IGNORECASE):
            message += (f". The logits / temperature of this case reach {float(z.abs().max()):.0f}, and exp of "
                        f"anything above {FLOAT32_EXP_LIMIT} is inf in float32: use torch.softmax, which "
                        "subtracts each row's largest logit before exp")
        return message
    for key, rows in (("first", B), ("answer", B * draws)):
        problem = _ids_problem(result[key], rows, V)
        if problem:
            return problem
    samples = restore(result["answer"]).view(B, draws).numpy()
    expected = torch.softmax(z, -1).numpy()
    zs = logits.double()
    mistakes = {
        "the temperature is ignored (softmax(z) instead of softmax(z / T))": torch.softmax(zs, -1),
        "the logits are multiplied by the temperature: divide them, softmax(z / T)": torch.softmax(zs * temperature, -1),
        "the temperature is applied after the softmax: divide the logits, before the softmax":
            torch.softmax(torch.softmax(zs, -1) / temperature, -1),
        "you always take the most likely token (greedy), you do not sample": F.one_hot(zs.argmax(-1), V).double(),
        "your tokens are uniform: the logits have no effect": torch.full_like(zs, 1 / V),
        "the softmax is taken over the batch dimension, not over the vocabulary":
            torch.softmax(z, 0) / torch.softmax(z, 0).sum(-1, keepdim=True),
    }
    for b in range(B):
        freq = np.bincount(samples[b], minlength=V) / draws
        tv = _tv(freq, expected[b])
        if tv > 0.05:
            shown = range(V) if V <= 8 else np.argsort(-expected[b])[:6]
            message = (f"row {b}: the frequencies of your {draws} samples{'' if V <= 8 else ' (of the 6 likeliest ids)'} "
                       f"are [{', '.join(f'{freq[v]:.3f}' for v in shown)}], expected softmax(logits / {temperature:g}) = "
                       f"[{', '.join(f'{expected[b][v]:.3f}' for v in shown)}] (total variation {tv:.3f}, allowed 0.05)")
            found = diagnose(freq, expected[b], {k: (lambda p=p: p[b].numpy()) for k, p in mistakes.items()},
                             lambda p, q: _tv(np.asarray(p), np.asarray(q)) < 0.05)
            return f"{message}: {found}" if found else message
    # two seeds may give the same ids only where that is likely: ln P(all draws agree) > -30
    log_same = draws * float(np.log((expected ** 2).sum(-1)).sum())
    return judge_seeded(result, seeds_differ=log_same < -30)


def _sampling_case(label, seed, B, V, temperature, spread=2.0, draws=4000):
    """Logits (B, V) float32 of standard deviation ``spread``; ``draws`` samples per row."""
    logits = _randn(seed, B, V, dtype=torch.float32) * spread
    return Case(label, (logits, float(temperature), draws))


def _large_logits_case(seed, B, V, temperature, spread):
    case = _sampling_case("", seed, B, V, temperature, spread)
    largest = float(case.args[0].abs().max())
    return Case(f"B={B}, V={V}, logits in the tens (largest |z| = {largest:.1f}), temperature {temperature:g}",
                case.args)


register(Check(
    name="03_rnn.sample_next", points=2,
    visible=lambda: [_sampling_case("B=2, V=5, temperature 0.5", 0, 2, 5, 0.5),
                     _large_logits_case(7, 2, 6, 0.5, spread=30.0)],
    hidden=lambda: [_sampling_case("B=3, V=4, temperature 2", 1, 3, 4, 2.0),
                    _sampling_case("B=1, V=6, temperature 1", 2, 1, 6, 1.0),
                    _sampling_case("B=2, V=3, temperature 0.25", 3, 2, 3, 0.25),
                    _large_logits_case(4, 3, 50, 1.0, spread=35.0),
                    _large_logits_case(5, 2, 8, 3.0, spread=30.0)],
    probe=_probe_sampling, judge=_judge_sampling))


# ---------------------------------------------------------------------------------------------
# train_char_lm(ids, vocab_size, seed) -> a CharRNN whose held-out loss is under the threshold
# ---------------------------------------------------------------------------------------------

LOSS_THRESHOLD = 1.5   # nats per character on held-out text
TRAINING_TIME_LIMIT_S = 90.0   # per case (the notebook prints both numbers from here)
MAX_WEIGHTS = 4_000_000   # elements: far more than any CharRNN of the assignment has




def char_lm_data(seed: int, train_chars: int = 6000, test_chars: int = 2000):
    """(train ids, held-out ids, alphabet) of Toy English sentences written as characters."""
    from ..data.toy_english import ToyEnglish

    rng = np.random.default_rng([seed, 30])
    language, text = ToyEnglish(), ""
    while len(text) < train_chars + test_chars:
        text += " ".join(language.sample(rng).tokens) + "\n"
    alphabet = sorted(set(text))
    ids = torch.tensor([alphabet.index(c) for c in text])
    return ids[:train_chars], ids[train_chars:train_chars + test_chars], "".join(alphabet)


def _probe_training(student_fn, inputs, seconds):
    """Train the student's model; copy its weights out as plain data (nothing of it is
    evaluated here: the judge rebuilds a CharRNN from the weights and measures it)."""
    train_ids, vocab_size, seed = inputs
    got, problem = call_student(student_fn, (train_ids.clone(), vocab_size, seed), seconds, copy_inputs=False)
    return {"error": problem} if problem else module_answer(got)


def _char_rnn_of(weights, vocab_size: int):
    """(the student's CharRNN rebuilt from its weights, float64, None), or (None, what is
    wrong with the weights)."""
    found, problem = restored_weights(weights, MAX_WEIGHTS, "a CharRNN needs")
    if problem:
        return None, problem
    if set(found) != set(LM_PARAMETERS):
        return None, (f"expected a CharRNN (weights {', '.join(LM_PARAMETERS)}), got a model with the weights "
                      f"{', '.join(sorted(found)) or 'none'}: train the CharRNN of the notebook")
    if found["embedding.weight"].dim() != 2 or found["rnn.weight_hh_l0"].dim() != 2:
        return None, (f"your model's embedding.weight and rnn.weight_hh_l0 have shapes "
                      f"{tuple(found['embedding.weight'].shape)} and {tuple(found['rnn.weight_hh_l0'].shape)}: "
                      "expected matrices, (vocab_size, 16) and (hidden_size, hidden_size)")
    E, H = found["embedding.weight"].shape[1], found["rnn.weight_hh_l0"].shape[0]
    expected = {"embedding.weight": (vocab_size, E), "rnn.weight_ih_l0": (H, E), "rnn.weight_hh_l0": (H, H),
                "rnn.bias_ih_l0": (H,), "rnn.bias_hh_l0": (H,), "output.weight": (vocab_size, H),
                "output.bias": (vocab_size,)}
    for key, shape in expected.items():
        if tuple(found[key].shape) != shape:
            return None, (f"your model's {key} has shape {tuple(found[key].shape)}, expected {shape} "
                          f"(a CharRNN({vocab_size}, hidden_size={H}))")
    model = TinyRNNLM(vocab_size, E, H).double()
    model.load_state_dict({k: v.double() for k, v in found.items()})
    return model.eval(), None


def _seeded_char_rnn(vocab_size: int, hidden_size: int, embedding_dim: int, seed: int) -> TinyRNNLM:
    """CharRNN(vocab_size, hidden_size) as built right after torch.manual_seed(seed), without
    touching the caller's random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return TinyRNNLM(vocab_size, embedding_dim, hidden_size).double().eval()


def _char_losses(model: TinyRNNLM, ids: torch.Tensor) -> dict:
    """What ``model`` does reading ``ids`` from a zero state: its loss in nats per character
    against the next character ("next", the LM's loss) and against the character it has just
    read ("same"); the probability it gives its first choice ("confidence") and how often that
    choice is the next character ("accuracy"); the share of the other characters it scores
    above the right one ("rank": 0 is best, 0.5 is chance); the lowest loss over 32 consecutive
    characters ("best_stretch")."""
    with torch.no_grad():
        logits = model(ids[None, :-1])[0][0]                        # (N - 1, V)
        targets = ids[1:]
        per_char = F.cross_entropy(logits, targets, reduction="none")
        above = (logits > logits.gather(1, targets[:, None])).double().sum(1) / max(logits.shape[1] - 1, 1)
        stretches = per_char.unfold(0, min(32, len(per_char)), 1).mean(1)
        return {"next": float(per_char.mean()), "same": float(F.cross_entropy(logits, ids[:-1])),
                "confidence": float(torch.softmax(logits, -1).max(-1).values.mean()),
                "accuracy": float((logits.argmax(-1) == targets).double().mean()),
                "rank": float(above.mean()), "best_stretch": float(stretches.min())}


def _training_measurements(model: TinyRNNLM, train_ids, held_out, vocab_size: int, seed: int) -> dict:
    """What the judge measures of a trained model, on held-out and on training text, with the
    untrained model of the same seed and character frequencies as yardsticks."""
    E, H = model.embedding.weight.shape[1], model.rnn.weight_hh_l0.shape[0]
    untrained = _seeded_char_rnn(vocab_size, H, E, seed)
    counts = np.bincount(train_ids.numpy(), minlength=vocab_size) + 1
    finite = all(bool(torch.isfinite(p).all()) for p in model.parameters())
    return {"finite": finite,
            "held_out": _char_losses(model, held_out) if finite else None,
            "train": _char_losses(model, train_ids) if finite else None,
            "untrained": _char_losses(untrained, held_out)["next"],
            "unchanged": all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                                untrained.state_dict().values())),
            "unigram": float(-np.log(counts / counts.sum())[held_out[1:].numpy()].mean())}


def _judge_training(case: Case, result) -> Optional[str]:
    """The held-out loss against the threshold; for a model that misses it, what the
    measurements show, in this order: weights never updated, the current character
    predicted, the right character ranked below chance, stretches of the training text
    memorised, overconfidence, worse than untrained, nothing learned, too little learned."""
    train_ids, vocab_size, seed = case.args
    answer_type = result["answer"].get("type")
    if answer_type != "torch.nn.Module":
        return f"expected your trained model (the CharRNN, a torch.nn.Module), got a {answer_type}"
    model, problem = _char_rnn_of(result.get("weights"), vocab_size)
    if problem:
        return problem
    held_out = char_lm_data(seed)[1]
    m = _training_measurements(model, train_ids, held_out, vocab_size, seed)
    if not m["finite"]:
        return ("your model's weights contain NaN or infinity: training diverged (a learning rate far too "
                "large, or a loss that is not bounded below)")
    held, train = m["held_out"], m["train"]
    loss = held["next"]
    if loss <= LOSS_THRESHOLD:
        return None
    message = (f"your model's held-out loss is {fmt(loss)} nats per character, it must be at most "
               f"{LOSS_THRESHOLD:g} (measured on {len(held_out)} held-out characters; the untrained CharRNN of "
               f"this seed scores {m['untrained']:.3f}, character frequencies alone {m['unigram']:.3f})")
    if m["unchanged"]:
        return message + (". Your model's weights are exactly those of a CharRNN built right after "
                          "torch.manual_seed(seed): they were never updated (is optimizer.step() called, "
                          "on an optimizer of this model's parameters?)")
    if held["same"] < loss - 0.5:
        return message + (f". It predicts the character it reads (loss {fmt(held['same'])} on those): the "
                          "targets must be the inputs shifted by one, ids[1:] for inputs ids[:-1]")
    if held["rank"] > 0.6:
        return message + (f". It scores the right next character below {100 * held['rank']:.0f}% of the others "
                          "on average (chance: 50%): it was trained to make the right character unlikely; "
                          "the loss was maximised (loss.backward(), not (-loss).backward())")
    if train["best_stretch"] < 0.25:
        return message + (f". On some 32 consecutive characters of ids it is nearly perfect (loss "
                          f"{fmt(train['best_stretch'])}), on all of ids it scores {fmt(train['next'])}: it "
                          "memorised a few windows instead of learning the language; draw new windows from "
                          "all of ids at every step")
    if held["confidence"] > held["accuracy"] + 0.3:
        return message + (f". It is far more confident than right: it gives its first choice a probability "
                          f"of {held['confidence']:.2f} on average, and that choice is the next character "
                          f"{100 * held['accuracy']:.0f}% of the time. Either the loss is wrong "
                          "(F.cross_entropy takes the logits and applies log_softmax itself: no softmax before "
                          "it) or the learning rate is so large that training jumps around")
    if loss > m["untrained"] + 0.05:
        return message + (f". Training made it worse than the untrained model ({fmt(train['next'])} on the "
                          "training text): check the sign of the loss and the learning rate")
    if loss > m["untrained"] - 0.1:
        return message + (". It scores about as well as an untrained CharRNN: it learned almost nothing. "
                          "Is the model you return the one you trained, and does its optimizer hold its "
                          "parameters with a learning rate around 0.01?")
    return message + (f". It improved from the untrained {m['untrained']:.3f} (training text: {fmt(train['next'])}), "
                      "not enough: train for more steps or with a larger learning rate")


def _training_case(label, seed):
    train_ids, _, alphabet = char_lm_data(seed)
    return Case(label, (train_ids, len(alphabet), seed))


register(Check(
    name="03_rnn.train_char_lm", points=2,
    visible=lambda: [_training_case("Toy English as characters, seed 0", 0)],
    hidden=lambda: [_training_case("other Toy English text, seed 1", 1)],
    probe=_probe_training, judge=_judge_training, time_limit=TRAINING_TIME_LIMIT_S))
