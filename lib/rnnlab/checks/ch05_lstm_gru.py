"""Checks of assignment 05 (LSTM and GRU): ``05_lstm_gru.<part>``.

Each check compares the student's function with chapter 05's reference (``rnnlab.gated``:
``lstm_cell``, ``gru_cell``, ``lstm_forward``, ``lstm_step_backward``; ``rnnlab.gate_order``:
``to_torch_gate_order``) on seeded float64 inputs, values and then gradients. Two rules shape
them:

- **Implement, don't call.** Parts 1-4 run the student's function with torch's recurrent
  modules and kernels switched off (``nn.LSTM``, ``nn.LSTMCell``, ``nn.GRU``, ``nn.GRUCell``,
  ``torch.lstm_cell``, ``torch.gru_cell``, ``torch.lstm``, ``torch.gru``, the kernels behind
  them in ``torch._VF``, and rnnlab's own cells), and part 4 with autograd off as well, as in
  chapter 04: calling one raises a sentence saying what the part asks for instead.
- **Name the gate.** When an answer differs, the judge recomputes the usual mistakes on the
  same inputs (the gate blocks read in any other order, one bias of two left out, sigmoid on
  g, c_t from h_{t-1}, h_t = o * c_t, the GRU's reset gate before the product, z and 1 - z
  exchanged, the final state at the padded end, the dh path to c_t left out, ...) and names
  one only where the student's answer equals it and the right answer does not
  (``framework.diagnose``). The LSTM cell is judged c_t first, so that a right c_t and a wrong
  h_t point at the output gate.

The trained model of part 6 crosses to the judge as its weights only: the judge rebuilds the
notebook's ``AddingLSTM`` and measures its mean squared error on held-out adding-problem
sequences of the training length. The grading sandbox has no rnnlab references, so probes use
only the functions of this module and the framework.
"""

from __future__ import annotations

import functools
import itertools
import math
from contextlib import ExitStack
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .. import gate_order, gated, layers
from ..data.tasks import adding_problem
from .framework import (Case, Check, answers_switched_off, as_leaves, autograd_forbidden,
                        call_student, compare_tensor, diagnose, gradient_error, module_answer,
                        never_updated, refusal, register, restored_weights, seeded_initialisation,
                        switched_off, type_problem, upstream_total)
from .plain import TENSOR_TYPES, describe, restore

RTOL, ATOL = 1e-7, 1e-9

IMPLEMENT = ("this part implements the cell's equations with tensor operations (matrix products, "
             "torch.sigmoid, torch.tanh); torch's LSTM and GRU modules and kernels may be used elsewhere "
             "in the notebook")
BY_HAND = ("this part is derived by hand: compute every gradient with the chain rule from the cache, "
           "as in chapter 04")
KERNELS = ("lstm_cell", "gru_cell", "lstm", "gru")
GATED_ANSWERS = ("lstm_cell", "gru_cell", "lstm_gates", "gru_cell_cho", "lstm_forward",
                 "lstm_step_forward", "lstm_step_backward")   # rnnlab.gated's, refused to answers
NOT_WHEN_GRADED = ("rnnlab's own answer to this part is not available when the notebook is graded; "
                   "write it with tensor operations")


def _randn(seed: int, *shape, scale: float = 1.0) -> torch.Tensor:
    return scale * torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


class _KernelsSwitchedOff:
    """The recurrent kernels of ``torch._VF`` (which nn.LSTM and nn.GRU call) refused while the
    block runs. ``torch._VF`` finds them through ``__getattr__``, so they are set on it and
    deleted afterwards rather than replaced. (A class, not a decorated generator: the grading
    sandbox keeps this module's classes and functions but drops their decorators.)"""

    def __init__(self, reason: str):
        self.reason, self.added = reason, []

    def __enter__(self):
        from torch import _VF
        self.added = [name for name in KERNELS if name not in _VF.__dict__]
        for name in self.added:
            setattr(_VF, name, refusal(f"torch._VF.{name}", self.reason))
        return self

    def __exit__(self, *exc_info):
        from torch import _VF
        for name in self.added:
            _VF.__dict__.pop(name, None)
        return False


def _answers_off():
    """rnnlab's own answers to the parts (rnnlab.layers' cells, rnnlab.gated, rnnlab.gate_order),
    which the grading sandbox does not have, refused to the student's code while the block
    runs, so that an answer calling them fails in the notebook too."""
    return answers_switched_off([(layers, "lstm_cell"), (layers, "gru_cell")]
                                + [(gated, name) for name in GATED_ANSWERS]
                                + [(gate_order, "reorder"), (gate_order, "to_torch_gate_order")],
                                NOT_WHEN_GRADED)


class _RecurrentSwitchedOff:
    """torch's LSTM and GRU modules, cells and kernels switched off while the block runs, and
    rnnlab.layers' (the same equations: its LSTM and GRU classes and ``_answers_off``'s cells)."""

    def __init__(self, reason: str = IMPLEMENT):
        self.reason, self.stack = reason, ExitStack()

    def __enter__(self):
        modules = (nn, nn.modules.rnn, layers)
        classes = ("LSTM", "LSTMCell", "GRU", "GRUCell")
        functions = [(m, c) for m in modules for c in classes] + [(torch, k) for k in KERNELS]
        self.stack.enter_context(switched_off(functions, self.reason))
        self.stack.enter_context(_answers_off())
        self.stack.enter_context(_KernelsSwitchedOff(self.reason))
        return self

    def __exit__(self, *exc_info):
        return self.stack.__exit__(*exc_info)


def _close(a, b, rtol: float = RTOL, atol: float = ATOL) -> bool:
    """Two tensors, or two (nested) sequences of tensors, of one shape and close values."""
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        return (isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b)
                and all(_close(x, y, rtol, atol) for x, y in zip(a, b)))
    return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape
            and bool(torch.allclose(a.double(), b.double(), rtol=rtol, atol=atol, equal_nan=True)))


def _sentence(text: Optional[str]) -> Optional[str]:
    return text[0].upper() + text[1:] if text else text


def _flatten(value, depth: int = 0) -> list:
    """The tensors of a tuple or list nested at most 3 deep, in order; a tensor alone as one
    (anything deeper, a recursive list say, as one item)."""
    if isinstance(value, (tuple, list)) and depth < 3:
        return [t for v in value for t in _flatten(v, depth + 1)]
    return [value]


# ---------------------------------------------------------------------------------------------
# The probe of parts 1-3 and 5: the answer and the gradients through it
# ---------------------------------------------------------------------------------------------

def _grads_of(got, upstream, leaves) -> list:
    """The gradients of sum over the answer's tensors of (tensor * its upstream weight)."""
    total = upstream_total(_flatten(got), upstream)
    return list(torch.autograd.grad(total, leaves, allow_unused=True))


def _probe_differentiable(student_fn, inputs, seconds, switch_off: bool = True):
    """The student's function on the case's inputs but the last (the upstream weights, one per
    tensor of the answer), every float input a leaf, with the recurrent modules switched off
    (``switch_off``); the answer and the gradients of sum(answer * upstream) w.r.t. every leaf."""
    args, leaves = as_leaves(list(inputs[:-1]))
    upstream = inputs[-1]
    if switch_off:
        with _RecurrentSwitchedOff():
            got, problem = call_student(student_fn, tuple(args), seconds, copy_inputs=False)
    else:
        with _answers_off():
            got, problem = call_student(student_fn, tuple(args), seconds, copy_inputs=False)
    if problem:
        return {"error": problem}
    result = {"answer": describe(got), "grads": [None] * len(leaves)}
    flat = _flatten(got)
    if len(flat) == len(upstream) and all(isinstance(t, torch.Tensor) and t.requires_grad
                                          and tuple(t.shape) == tuple(u.shape) for t, u in zip(flat, upstream)):
        try:
            result["grads"] = [None if g is None else describe(g) for g in _grads_of(got, upstream, leaves)]
        except Exception as error:  # noqa: BLE001 (the student's graph)
            result["grad_error"] = gradient_error(error)
    return result


def _probe_transform(student_fn, inputs, seconds):
    return _probe_differentiable(student_fn, inputs, seconds, switch_off=False)


def _structure_problem(answer: dict, template) -> Optional[str]:
    """What is wrong with an answer that must have the nested structure ``template`` (a name
    for a tensor, a tuple of templates for a tuple), e.g. ("h_t", "c_t")."""
    if isinstance(template, str):
        problem = type_problem(answer, TENSOR_TYPES)
        return f"your {template}: {problem}" if problem else None
    wanted = "(" + ", ".join(t if isinstance(t, str) else "(" + ", ".join(t) + ")" for t in template) + ")"
    if answer["type"] not in ("tuple", "list") or len(answer.get("items", [])) != len(template):
        problem = type_problem(answer, ("tuple",))
        found = problem or f"your function returned a {answer['type']} of {len(answer.get('items', []))} items"
        return f"{found}: expected a tuple {wanted}"
    for item, part in zip(answer["items"], template):
        problem = _structure_problem(item, part)
        if problem:
            return problem
    return None


def _restore_flat(answer: dict) -> list:
    if answer["type"] in ("tuple", "list"):
        return [t for item in answer["items"] for t in _restore_flat(item)]
    return [restore(answer)]


def _names(template) -> list:
    return [template] if isinstance(template, str) else [n for t in template for n in _names(t)]


def _judge_outputs(case: Case, result, expected: list, template, dims: list, mistakes: dict,
                   after_right: Optional[dict] = None) -> Optional[str]:
    """Structure, then every tensor of the answer against ``expected`` in order. At the first
    that differs, a mistake of ``mistakes`` ({explanation: () -> the mistake's flat list of
    tensors}) is named if the whole answer equals that mistake's, after the sentence that
    ``after_right`` ({k: sentence}) may have for tensor k (that the tensors before it are
    right)."""
    problem = _structure_problem(result["answer"], template)
    if problem:
        return problem
    got = _restore_flat(result["answer"])
    for k, (name, d) in enumerate(zip(_names(template), dims)):
        problem = compare_tensor(rtol=RTOL, atol=ATOL, dims=d, what=f"your {name}")(case, expected[k], got[k])
        if problem:
            cause = diagnose(got, expected, mistakes, _close)     # the whole answer equals the mistake's
            said = [s for s in ((after_right or {}).get(k), cause) if s]
            return ". ".join([problem] + [_sentence(s) for s in said])
    return None


def _judge_gradients(result, expected_grads: list, names: list) -> Optional[str]:
    if "grad_error" in result:
        return f"computing the gradient through your answer failed: {result['grad_error']}"
    for grad, expected, name in zip(result["grads"], expected_grads, names):
        if expected is None:
            continue
        if grad is None:
            return (f"your answer has the right values but no gradient reaches {name}: compute it from "
                    f"{name} with torch operations (no .detach(), .item(), numpy or torch.no_grad())")
        problem = compare_tensor(rtol=RTOL, atol=ATOL, what=f"the gradient of {name}")(None, expected, restore(grad))
        if problem:
            return problem
    return None


def _expected_grads(reference, args: tuple, upstream) -> list:
    leaf_args, leaves = as_leaves(list(args))
    return _grads_of(reference(*leaf_args), upstream, leaves)


# ---------------------------------------------------------------------------------------------
# lstm_cell(x, (h, c), W_ih, W_hh, b_ih, b_hh) -> (h_t, c_t)
# ---------------------------------------------------------------------------------------------

def _lstm_variant(x, state, W_ih, W_hh, b_ih, b_hh, order="ifgo", use_b_ih=True, use_b_hh=True,
                  g_act=torch.tanh, c_from_h=False, tanh_c=True, state_swapped=False):
    """The LSTM cell with one of the known mistakes (the defaults: none)."""
    h, c = state[::-1] if state_swapped else state
    a = x @ W_ih.T + h @ W_hh.T + (b_ih if use_b_ih else 0) + (b_hh if use_b_hh else 0)
    blocks = dict(zip(order, a.chunk(4, dim=-1)))
    i, f, g, o = (torch.sigmoid(blocks["i"]), torch.sigmoid(blocks["f"]), g_act(blocks["g"]),
                  torch.sigmoid(blocks["o"]))
    c = f * (h if c_from_h else c) + i * g
    return o * (torch.tanh(c) if tanh_c else c), c


def _lstm_mistakes(x, state, W_ih, W_hh, b_ih, b_hh) -> dict:
    args = (x, state, W_ih, W_hh, b_ih, b_hh)
    found = {
        "your answer equals an LSTM with the f and i blocks swapped: PyTorch's order is i, f, g, o":
            lambda: _lstm_variant(*args, order="figo"),
        "your answer equals an LSTM with the blocks in CS231n's order i, f, o, g: PyTorch's order is i, f, g, o":
            lambda: _lstm_variant(*args, order="ifog"),
        "your answer leaves out b_hh: nn.LSTMCell adds both biases, b_ih and b_hh":
            lambda: _lstm_variant(*args, use_b_hh=False),
        "your answer leaves out b_ih: nn.LSTMCell adds both biases, b_ih and b_hh":
            lambda: _lstm_variant(*args, use_b_ih=False),
        "your candidate g_t uses sigmoid: g_t = tanh(...), the gates i, f, o use sigmoid":
            lambda: _lstm_variant(*args, g_act=torch.sigmoid),
        "your c_t is computed from h_{t-1}: c_t = f_t * c_{t-1} + i_t * g_t":
            lambda: _lstm_variant(*args, c_from_h=True),
        "your h_t = o_t * c_t: it is o_t * tanh(c_t)": lambda: _lstm_variant(*args, tanh_c=False),
        "you read the state as (c, h): it is (h, c), h first": lambda: _lstm_variant(*args, state_swapped=True),
        "you returned (c_t, h_t): return (h_t, c_t)": lambda: _lstm_variant(*args)[::-1],
    }
    for order in itertools.permutations("ifgo"):
        order = "".join(order)
        if order not in ("ifgo", "figo", "ifog"):
            found[f"your answer equals an LSTM with the blocks read in the order {', '.join(order)}: "
                  "PyTorch's order is i, f, g, o"] = lambda order=order: _lstm_variant(*args, order=order)
    return {text: (lambda make=make: list(make())) for text, make in found.items()}


def _judge_lstm_cell(case: Case, result) -> Optional[str]:
    args, upstream = case.args[:-1], case.args[-1]
    problem = _judge_outputs_first_c(case, result, list(gated.lstm_cell(*args)), _lstm_mistakes(*args))
    if problem:
        return problem
    return _judge_gradients(result, _expected_grads(gated.lstm_cell, args, upstream),
                            ["x", "h", "c", "W_ih", "W_hh", "b_ih", "b_hh"])


def _judge_outputs_first_c(case, result, expected, mistakes) -> Optional[str]:
    """The LSTM cell's (h_t, c_t), judged c_t first: a right c_t and a wrong h_t point at the
    output gate or tanh(c_t)."""
    problem = _structure_problem(result["answer"], ("h_t", "c_t"))
    if problem:
        return problem
    flipped = {"answer": {"type": "tuple", "items": result["answer"]["items"][::-1]}}
    c_first = {text: (lambda m=m: m()[::-1]) for text, m in mistakes.items()}
    return _judge_outputs(case, flipped, expected[::-1], ("c_t", "h_t"), [("b", "h")] * 2, c_first,
                          after_right={1: "Your c_t is right but h_t is not: check the output gate o_t "
                                          "or tanh(c_t)"})


def _lstm_cell_case(label, seed, B, I, H, scale=1.0):
    s = scale / math.sqrt(H)
    return Case(label, (_randn(seed, B, I, scale=scale), (_randn(seed + 1, B, H), _randn(seed + 2, B, H)),
                        _randn(seed + 3, 4 * H, I, scale=s), _randn(seed + 4, 4 * H, H, scale=s),
                        _randn(seed + 5, 4 * H, scale=s), _randn(seed + 6, 4 * H, scale=s),
                        (_randn(seed + 7, B, H), _randn(seed + 8, B, H))))


register(Check(
    name="05_lstm_gru.lstm_cell", points=2,
    visible=lambda: [_lstm_cell_case("B=3, I=4, H=5", 0, 3, 4, 5),
                     _lstm_cell_case("B=2, I=H=3", 10, 2, 3, 3)],
    hidden=lambda: [_lstm_cell_case("B=1, I=2, H=1", 20, 1, 2, 1),
                    _lstm_cell_case("B=4, I=6, H=2", 30, 4, 6, 2),
                    _lstm_cell_case("large pre-activations (inputs scaled by 30): B=3, I=4, H=3", 40, 3, 4, 3,
                                    scale=30.0),
                    _lstm_cell_case("B=5, I=3, H=8", 50, 5, 3, 8)],
    probe=_probe_differentiable, judge=_judge_lstm_cell))


# ---------------------------------------------------------------------------------------------
# gru_cell(x, h, W_ih, W_hh, b_ih, b_hh) -> h_t
# ---------------------------------------------------------------------------------------------

def _gru_variant(x, h, W_ih, W_hh, b_ih, b_hh, order="rzn", reset_before=False, z_keeps_h=True,
                 b_hn_reset=True, use_b_ih=True, use_b_hh=True, n_act=torch.tanh, reset=True):
    """The GRU cell with one of the known mistakes (the defaults: none)."""
    b_ih = b_ih if use_b_ih else torch.zeros_like(b_ih)
    b_hh = b_hh if use_b_hh else torch.zeros_like(b_hh)
    xs = dict(zip(order, (x @ W_ih.T + b_ih).chunk(3, dim=-1)))
    W = dict(zip(order, W_hh.chunk(3, dim=0)))
    b = dict(zip(order, b_hh.chunk(3, dim=0)))
    r = torch.sigmoid(xs["r"] + h @ W["r"].T + b["r"]) if reset else torch.ones_like(h)
    z = torch.sigmoid(xs["z"] + h @ W["z"].T + b["z"])
    if reset_before:
        recurrent = (r * h) @ W["n"].T + b["n"]
    elif b_hn_reset:
        recurrent = r * (h @ W["n"].T + b["n"])
    else:
        recurrent = r * (h @ W["n"].T) + b["n"]
    n = n_act(xs["n"] + recurrent)
    return z * h + (1 - z) * n if z_keeps_h else (1 - z) * h + z * n


def _gru_mistakes(x, h, W_ih, W_hh, b_ih, b_hh) -> dict:
    args = (x, h, W_ih, W_hh, b_ih, b_hh)
    found = {
        "your GRU applies the reset gate before the matrix product (Cho et al.'s form); nn.GRU applies it "
        "after: r * (W_hn h + b_hn), not W_hn (r * h) + b_hn": lambda: _gru_variant(*args, reset_before=True),
        "your h_t = (1 - z) * h_{t-1} + z * n_t, z and 1 - z exchanged: nn.GRU keeps z * h_{t-1}":
            lambda: _gru_variant(*args, z_keeps_h=False),
        "your b_hn is outside the reset gate: nn.GRU computes r * (W_hn h + b_hn)":
            lambda: _gru_variant(*args, b_hn_reset=False),
        "your answer leaves out b_hh: nn.GRUCell adds both biases": lambda: _gru_variant(*args, use_b_hh=False),
        "your answer leaves out b_ih: nn.GRUCell adds both biases": lambda: _gru_variant(*args, use_b_ih=False),
        "your n_t uses sigmoid: n_t = tanh(...)": lambda: _gru_variant(*args, n_act=torch.sigmoid),
        "your answer never applies the reset gate r_t": lambda: _gru_variant(*args, reset=False),
    }
    for order in itertools.permutations("rzn"):
        order = "".join(order)
        if order != "rzn":
            found[f"your answer equals a GRU with the blocks read in the order {', '.join(order)}: "
                  "PyTorch's order is r, z, n"] = lambda order=order: _gru_variant(*args, order=order)
    return {text: (lambda make=make: [make()]) for text, make in found.items()}


def _judge_gru_cell(case: Case, result) -> Optional[str]:
    args, upstream = case.args[:-1], case.args[-1]
    problem = _judge_outputs(case, result, [gated.gru_cell(*args)], "h_t", [("b", "h")], _gru_mistakes(*args))
    if problem:
        return problem
    return _judge_gradients(result, _expected_grads(gated.gru_cell, args, upstream),
                            ["x", "h", "W_ih", "W_hh", "b_ih", "b_hh"])


def _gru_cell_case(label, seed, B, I, H, scale=1.0):
    s = scale / math.sqrt(H)
    return Case(label, (_randn(seed, B, I, scale=scale), _randn(seed + 1, B, H),
                        _randn(seed + 3, 3 * H, I, scale=s), _randn(seed + 4, 3 * H, H, scale=s),
                        _randn(seed + 5, 3 * H, scale=s), _randn(seed + 6, 3 * H, scale=s),
                        (_randn(seed + 7, B, H),)))


register(Check(
    name="05_lstm_gru.gru_cell", points=2,
    visible=lambda: [_gru_cell_case("B=3, I=4, H=5", 0, 3, 4, 5),
                     _gru_cell_case("B=2, I=H=3", 10, 2, 3, 3)],
    hidden=lambda: [_gru_cell_case("B=1, I=2, H=1", 20, 1, 2, 1),
                    _gru_cell_case("B=4, I=6, H=2", 30, 4, 6, 2),
                    _gru_cell_case("large pre-activations (inputs scaled by 30): B=3, I=4, H=3", 40, 3, 4, 3,
                                   scale=30.0),
                    _gru_cell_case("B=5, I=3, H=8", 50, 5, 3, 8)],
    probe=_probe_differentiable, judge=_judge_gru_cell))


# ---------------------------------------------------------------------------------------------
# lstm_forward(x, W_ih, W_hh, b_ih, b_hh, lengths, state) -> (output, (h_n, c_n))
# ---------------------------------------------------------------------------------------------

def _forward_variant(x, W_ih, W_hh, b_ih, b_hh, lengths, state, hold=True, zero_output=True,
                     use_state=True, state_swapped=False, final_from_output=False):
    """lstm_forward with one of the known mistakes (the defaults: none)."""
    B, T, _ = x.shape
    H = W_hh.shape[1]
    if state is None or not use_state:
        h, c = x.new_zeros(B, H), x.new_zeros(B, H)
    else:
        h, c = state[::-1] if state_swapped else state
    lengths = torch.full((B,), T) if lengths is None else lengths
    outputs = []
    for t in range(T):
        real = (t < lengths).unsqueeze(-1) if hold else torch.ones(B, 1, dtype=torch.bool)
        h_t, c_t = _lstm_variant(x[:, t], (h, c), W_ih, W_hh, b_ih, b_hh)
        h, c = torch.where(real, h_t, h), torch.where(real, c_t, c)
        mask = (t < lengths).unsqueeze(-1) if zero_output else torch.ones(B, 1, dtype=torch.bool)
        outputs.append(h * mask)
    output = torch.stack(outputs, dim=1)
    return output, ((output[:, -1], c) if final_from_output else (h, c))


def _forward_mistakes(*args) -> dict:
    found = {
        "your h_n and c_n are the states after the last padded step: past a sequence's end keep its state "
        "as it is, so that h_n and c_n are taken at its own last step t = lengths[b] - 1":
            lambda: _forward_variant(*args, hold=False),
        "your output is not zero past each sequence's end": lambda: _forward_variant(*args, zero_output=False),
        "your function ignores lengths: it runs every sequence over the padding, into its output and its "
        "final state": lambda: _forward_variant(*args, hold=False, zero_output=False),
        "your function ignores the initial state (h_0, c_0)": lambda: _forward_variant(*args, use_state=False),
        "you read the initial state as (c_0, h_0): it is (h_0, c_0)":
            lambda: _forward_variant(*args, state_swapped=True),
        "your h_n is output[:, -1], which is zero (padding) for a shorter sequence: take each sequence's "
        "state at its own last step": lambda: _forward_variant(*args, final_from_output=True),
    }
    return {text: (lambda make=make: _flatten(make())) for text, make in found.items()}


def _judge_forward(case: Case, result) -> Optional[str]:
    args, upstream = case.args[:-1], case.args[-1]
    output, (h_n, c_n) = gated.lstm_forward(*args)
    problem = _judge_outputs(case, result, [output, h_n, c_n], ("output", ("h_n", "c_n")),
                             [("b", "t", "h"), ("b", "h"), ("b", "h")], _forward_mistakes(*args))
    if problem:
        return problem
    names = ["x", "W_ih", "W_hh", "b_ih", "b_hh"] + (["h_0", "c_0"] if args[-1] is not None else [])
    return _judge_gradients(result, _expected_grads(gated.lstm_forward, args, upstream), names)


def _forward_case(label, seed, lengths, T, I, H, state=False, given_lengths=True, padding=3.0):
    B, s = len(lengths), 1 / math.sqrt(H)
    x = _randn(seed, B, T, I)
    real = (torch.arange(T)[None, :] < torch.tensor(lengths)[:, None])[..., None]
    x = torch.where(real, x, padding + _randn(seed + 9, B, T, I))      # padding: other values
    initial = (_randn(seed + 1, B, H), _randn(seed + 2, B, H)) if state else None
    return Case(label, (x, _randn(seed + 3, 4 * H, I, scale=s), _randn(seed + 4, 4 * H, H, scale=s),
                        _randn(seed + 5, 4 * H, scale=s), _randn(seed + 6, 4 * H, scale=s),
                        torch.tensor(lengths) if given_lengths else None, initial,
                        (_randn(seed + 7, B, T, H), _randn(seed + 8, B, H), _randn(seed + 10, B, H))))


register(Check(
    name="05_lstm_gru.lstm_forward", points=3,
    visible=lambda: [_forward_case("lengths 5, 2, 4, I=3, H=4, no initial state", 0, [5, 2, 4], 5, 3, 4),
                     _forward_case("lengths 3, 6, with an initial state (h_0, c_0)", 10, [3, 6], 6, 2, 3,
                                   state=True)],
    hidden=lambda: [_forward_case("lengths None (all T = 4), with an initial state", 20, [4, 4, 4], 4, 3, 2,
                                  state=True, given_lengths=False),
                    _forward_case("one step: lengths 1, 1", 30, [1, 1], 1, 2, 3),
                    _forward_case("length 1 among longer ones, initial state: lengths 1, 5, 3", 40, [1, 5, 3], 5,
                                  3, 3, state=True),
                    _forward_case("B=1, H=1, length 6", 50, [6], 6, 2, 1),
                    _forward_case("a long batch: lengths 200, 37, 150, I=2, H=3", 60, [200, 37, 150], 200, 2, 3,
                                  state=True)],
    probe=_probe_differentiable, judge=_judge_forward))


# ---------------------------------------------------------------------------------------------
# lstm_step_backward(dh, dc, cache) -> (dx, dh_prev, dc_prev, dW_ih, dW_hh, db), by hand
# ---------------------------------------------------------------------------------------------

GRADIENT_NAMES = ("dx", "dh_prev", "dc_prev", "dW_ih", "dW_hh", "db")


def _probe_by_hand(student_fn, inputs, seconds):
    """The student's backward step with autograd and the recurrent modules switched off."""
    with autograd_forbidden(BY_HAND), _RecurrentSwitchedOff(BY_HAND):
        got, problem = call_student(student_fn, inputs, seconds)
    return {"error": problem} if problem else {"answer": describe(got)}


def _backward_variant(dh, dc, cache, through_h=True, tanh_prime=True, do_uses_c=False, g_sigmoid_prime=False,
                      df_uses_c=False, order="ifgo", db_twice=False, dc_prev_from_upstream=False):
    """lstm_step_backward with one of the known mistakes (the defaults: none)."""
    x, h_prev, c_prev, i, f, g, o, c, W_ih, W_hh = cache
    tanh_c = torch.tanh(c)
    do = dh * (c if do_uses_c else tanh_c)
    dc_total = dc + (dh * o * ((1 - tanh_c ** 2) if tanh_prime else 1) if through_h else 0)
    di, df, dg = dc_total * g, dc_total * (c if df_uses_c else c_prev), dc_total * i
    dc_prev = (dc if dc_prev_from_upstream else dc_total) * f
    blocks = {"i": di * i * (1 - i), "f": df * f * (1 - f),
              "g": dg * (g * (1 - g) if g_sigmoid_prime else (1 - g ** 2)), "o": do * o * (1 - o)}
    da = torch.cat([blocks[k] for k in order], dim=-1)
    return [da @ W_ih, da @ W_hh, dc_prev, da.T @ x, da.T @ h_prev, da.sum(0) * (2 if db_twice else 1)]


def _backward_mistakes(dh, dc, cache) -> dict:
    args = (dh, dc, cache)
    found = {
        "your gradients leave out the path from h_t to c_t: c_t also receives dh * o * (1 - tanh(c_t)^2)":
            lambda: _backward_variant(*args, through_h=False),
        "your path from h_t to c_t leaves out tanh'(c_t) = 1 - tanh(c_t)^2":
            lambda: _backward_variant(*args, tanh_prime=False),
        "your do = dh * c_t: h_t = o_t * tanh(c_t), so do = dh * tanh(c_t)":
            lambda: _backward_variant(*args, do_uses_c=True),
        "your dg uses sigmoid's derivative: g_t = tanh(...), so its derivative is 1 - g_t^2":
            lambda: _backward_variant(*args, g_sigmoid_prime=True),
        "your df = dc * c_t: c_t = f_t * c_{t-1} + ..., so df = dc * c_{t-1}":
            lambda: _backward_variant(*args, df_uses_c=True),
        "your dc_prev is dc * f_t from the upstream dc alone: it is f_t times all of c_t's gradient, "
        "dc + dh * o * (1 - tanh(c_t)^2)": lambda: _backward_variant(*args, dc_prev_from_upstream=True),
        "your db counts the gradient twice (once per bias): db is the gradient of b_ih, and of b_hh alike":
            lambda: _backward_variant(*args, db_twice=True),
        "your pre-activation gradients are stacked in the order i, f, o, g: PyTorch's order is i, f, g, o":
            lambda: _backward_variant(*args, order="ifog"),
    }
    return found


def _judge_backward(case: Case, result) -> Optional[str]:
    dh, dc, cache = case.args
    expected = list(gated.lstm_step_backward(dh, dc, cache))
    dims = [("b", "i"), ("b", "h"), ("b", "h"), ("row", "i"), ("row", "h"), ("row",)]
    return _judge_outputs(case, result, expected, GRADIENT_NAMES, dims, _backward_mistakes(dh, dc, cache),
                          after_right={k: f"Your {', '.join(GRADIENT_NAMES[:k])} "
                                          f"{'is' if k == 1 else 'are'} right" for k in range(1, 6)})


def _backward_case(label, seed, B, I, H, scale=1.0):
    s = 1 / math.sqrt(H)
    _, _, cache = gated.lstm_step_forward(_randn(seed, B, I, scale=scale), _randn(seed + 1, B, H),
                                          _randn(seed + 2, B, H), _randn(seed + 3, 4 * H, I, scale=s),
                                          _randn(seed + 4, 4 * H, H, scale=s), _randn(seed + 5, 4 * H, scale=s))
    return Case(label, (_randn(seed + 6, B, H), _randn(seed + 7, B, H), cache))


register(Check(
    name="05_lstm_gru.lstm_step_backward", points=3,
    visible=lambda: [_backward_case("B=3, I=4, H=5", 0, 3, 4, 5),
                     _backward_case("B=2, I=H=3", 10, 2, 3, 3)],
    hidden=lambda: [_backward_case("B=1, I=2, H=1", 20, 1, 2, 1),
                    _backward_case("B=4, I=6, H=2", 30, 4, 6, 2),
                    _backward_case("saturated gates (inputs scaled by 20): B=3, I=3, H=4", 40, 3, 3, 4, scale=20.0),
                    _backward_case("B=5, I=3, H=8", 50, 5, 3, 8)],
    probe=_probe_by_hand, judge=_judge_backward))


# ---------------------------------------------------------------------------------------------
# to_torch_gate_order(W) -> W in (i, f, g, o) order
# ---------------------------------------------------------------------------------------------

def _order_mistakes(W) -> dict:
    blocks = dict(zip("ifog", W.chunk(4, dim=0)))
    found = {"your answer is the input unchanged: the g and o blocks must trade places": lambda: W}
    for order in itertools.permutations("ifog"):
        order = "".join(order)
        if order not in ("ifgo", "ifog"):
            found[f"your blocks come out as the input's {', '.join(order)}: PyTorch's order is i, f, g, o, so "
                  "from (i, f, o, g) the last two blocks trade places"] = \
                lambda order=order: torch.cat([blocks[k] for k in order])
    if W.dim() == 2 and W.shape[1] % 4 == 0:
        columns = dict(zip("ifog", W.chunk(4, dim=1)))
        found["you moved blocks of columns: the gate blocks are stacked along the first dimension (rows)"] = \
            lambda: torch.cat([columns[k] for k in "ifgo"], dim=1)
    H = W.shape[0] // 4
    found["your blocks are interleaved rows (a view as (H, 4, ...)): block k is rows k*H to (k+1)*H - 1"] = \
        lambda: W.reshape(H, 4, *W.shape[1:])[:, [0, 1, 3, 2]].reshape(W.shape)
    return {text: (lambda make=make: [make()]) for text, make in found.items()}


def _judge_order(case: Case, result) -> Optional[str]:
    W, upstream = case.args
    dims = ("row", "col") if W.dim() == 2 else ("row",)
    problem = _judge_outputs(case, result, [gate_order.to_torch_gate_order(W)], "weights", [dims],
                             _order_mistakes(W))
    if problem:
        return problem
    return _judge_gradients(result, _expected_grads(gate_order.to_torch_gate_order, (W,), upstream), ["W"])


def _order_case(label, seed, *shape):
    return Case(label, (_randn(seed, *shape), (_randn(seed + 1, *shape),)))


register(Check(
    name="05_lstm_gru.to_torch_gate_order", points=1,
    visible=lambda: [_order_case("W_ih (4H, I) with H=3, I=2", 0, 12, 2),
                     _order_case("a bias (4H,) with H=2", 10, 8)],
    hidden=lambda: [_order_case("H=1: W (4, 3)", 20, 4, 3),
                    _order_case("W_hh (4H, H) with H=4", 30, 16, 4),
                    _order_case("a square W (8, 8): H=2, I=8", 40, 8, 8),
                    _order_case("a bias with H=1", 50, 4),
                    _order_case("a large W_ih: H=64, I=32", 60, 256, 32)],
    probe=_probe_transform, judge=_judge_order))


# ---------------------------------------------------------------------------------------------
# train_adding(inputs, targets, seed) -> a trained AddingLSTM
# ---------------------------------------------------------------------------------------------

LENGTH = 30               # a vanilla RNN of the same size stays at the baseline here (the chapter measures it)
TRAIN_SEQUENCES = 16000
HELD_OUT = 2000
MSE_THRESHOLD = 0.01      # the baseline (always 1) is about 0.167
BASELINE_MSE = 1 / 6
MAX_WEIGHTS = 1_000_000


class AddingLSTM(nn.Module):
    """The assignment's model (the notebook imports it): an ``nn.LSTM`` of ``hidden_size`` units
    over the (value, marker) pairs, a linear layer on the state after the last step.
    forward(x (B, T, 2)) -> predictions (B,)."""

    def __init__(self, hidden_size: int = 32):
        super().__init__()
        self.lstm = nn.LSTM(2, hidden_size, batch_first=True)
        self.output = nn.Linear(hidden_size, 1)

    def forward(self, x):
        states, _ = self.lstm(x)
        return self.output(states[:, -1]).squeeze(-1)


ADDING_KEYS = ("lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0", "output.weight",
               "output.bias")


def _probe_training(student_fn, inputs, seconds):
    """Train the student's model; copy its weights out as plain data (the judge measures them)."""
    x, y, seed = inputs
    got, problem = call_student(student_fn, (x.clone(), y.clone(), seed), seconds, copy_inputs=False)
    return {"error": problem} if problem else module_answer(got)


def _model_of(weights):
    """(a float64 AddingLSTM with the student's weights, None), or (None, what is wrong)."""
    found, problem = restored_weights(weights, MAX_WEIGHTS, "AddingLSTM needs")
    if problem:
        return None, problem
    if set(found) != set(ADDING_KEYS):
        return None, (f"expected the notebook's AddingLSTM (weights {', '.join(ADDING_KEYS)}), got a model with "
                      f"the weights {', '.join(sorted(found)) or 'none'}: train the AddingLSTM of the notebook")
    H = found["lstm.weight_hh_l0"].shape[-1]
    model = AddingLSTM(H).double()
    for key, param in model.state_dict().items():
        if tuple(found[key].shape) != tuple(param.shape):
            return None, (f"your model's {key} has shape {tuple(found[key].shape)}, expected {tuple(param.shape)} "
                          f"(an AddingLSTM(hidden_size={H}))")
    model.load_state_dict({k: v.double() for k, v in found.items()})
    return model.eval(), None


@functools.lru_cache(maxsize=4)
def adding_data(seed: int):
    """(training inputs (N, LENGTH, 2), targets (N,), held-out inputs, targets) of a seed's
    case, float32, from their own random streams."""
    train = adding_problem(TRAIN_SEQUENCES, LENGTH, seed=[seed, 51])
    test = adding_problem(HELD_OUT, LENGTH, seed=[seed, 52])
    return (torch.as_tensor(train.inputs), torch.as_tensor(train.targets), torch.as_tensor(test.inputs),
            torch.as_tensor(test.targets))


def _mse(model, x, y) -> float:
    with torch.no_grad():
        return F.mse_loss(model(x.double()), y.double()).item()


def _judge_training(case: Case, result) -> Optional[str]:
    x, y, seed = case.args
    answer_type = result["answer"].get("type")
    if answer_type != "torch.nn.Module":
        return f"expected your trained model (the notebook's AddingLSTM, a torch.nn.Module), got a {answer_type}"
    model, problem = _model_of(result.get("weights"))
    if problem:
        return problem
    if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
        return "your model's weights contain NaN or infinity: training diverged (a learning rate far too large?)"
    _, _, test_x, test_y = adding_data(seed)
    held_out = _mse(model, test_x, test_y)
    if held_out < MSE_THRESHOLD:
        return None
    message = (f"on {len(test_y)} held-out sequences of length {LENGTH} your model's mean squared error is "
               f"{held_out:.4f}; it needs below {MSE_THRESHOLD} (always predicting 1 gives {BASELINE_MSE:.3f})")
    H = model.lstm.hidden_size
    untrained = seeded_initialisation(lambda: AddingLSTM(H), seed)
    if len(never_updated(model, untrained)) == len(model.state_dict()):
        return message + (". Your model's weights are exactly those of an AddingLSTM built right after "
                          "torch.manual_seed(seed): they were never updated (is optimizer.step() called?)")
    on_train = _mse(model, x, y)
    if on_train < MSE_THRESHOLD:
        return message + (f". On its own training sequences it reaches {on_train:.4f}: it memorised them "
                          "rather than learning to add; train on all of them, for fewer passes")
    if held_out > 1.3 * BASELINE_MSE:
        return message + (". That is worse than always predicting 1: the loss did not fall (is the loss the mean "
                          "squared error of model(inputs) against targets, minimised, with optimizer.step() called?)")
    if held_out > 0.7 * BASELINE_MSE:
        return message + (". That is about the baseline's error: your model has not yet found the two marked "
                          "values (the adding problem's long plateau). Train for more steps, with Adam at a "
                          "learning rate near 0.01, gradient clipping, and the forget-gate bias set to 1")
    return message + ". It beats the baseline but not by enough: train for more steps"


def _training_case(label, seed):
    x, y, _, _ = adding_data(seed)
    return Case(label, (x, y, seed))


register(Check(
    name="05_lstm_gru.train_adding", points=2,
    visible=lambda: [_training_case(f"adding problem, length {LENGTH}, seed 0", 0)],
    hidden=lambda: [_training_case(f"other sequences of length {LENGTH}, seed 1", 1)],
    probe=_probe_training, judge=_judge_training, time_limit=60.0))
