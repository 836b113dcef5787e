"""Checks of assignment 04 (backpropagation through time): ``04_bptt.<part>``.

Each check compares the student's function with rnnlab's reference (``rnnlab.bptt``,
``rnnlab.clipping``, ``rnnlab.tbptt``) on small seeded float64 inputs. Two rules shape them:

- **By hand means by hand.** The three backward passes (``scalar_rnn_backward``,
  ``rnn_step_backward``, ``rnn_backward``) run inside ``autograd_forbidden``: autograd is
  switched off while the student's function runs, and calling ``backward`` or
  ``torch.autograd.grad`` there raises a sentence saying that the part is derived by hand.
- **Say where, in time.** A wrong backward pass is located: the probe also calls the student's
  function with upstream gradients that are zero except at one step (the last, the one
  before, the first), and the judge says at which step, counted back from where the loss
  enters, the gradients first go wrong ("right at dx[:, 4] but wrong one step earlier: the
  recurrent term ... is missing or wrong"), which output is wrong while the others are right,
  and, through ``diagnose``, which known mistake the answer matches (the recurrent term
  missing, tanh' of the pre-activation, weight gradients of the last step only, dh0 dropped,
  a transposed weight gradient, ...).

The finite-difference checker is judged on functions built in the probe (a polynomial, the
loss of a tanh RNN as a function of W_hh, one that reads x from elsewhere as a loss reads a
model's parameter), with the relative errors it would give a right and a deliberately wrong
analytic gradient. Clipping gets parameters built from plain values and gradients, passed as
a generator like ``model.parameters()``. Truncated BPTT gets a small language model in plain
torch (``TinyLM``) and an SGD optimizer, and records through ``before_step`` the gradients of
every chunk, which the judge compares with the reference's; the known mistakes (state not
carried, detached at every step, gradients not zeroed, ...) are replayed trusted-side to name
the one made. The grading sandbox has no rnnlab references, so probes build everything from
plain tensors with the functions and classes of this module.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .. import bptt, clipping, tbptt
from .framework import (Case, Check, autograd_forbidden, call_student, compare_tensor, diagnose, fmt,
                        fmt_pair, register, switched_off, type_problem)
from .plain import NUMBER_TYPES, TENSOR_TYPES, describe, restore

RTOL, ATOL = 1e-7, 1e-9         # float64 gradients: far tighter than any mistake, far looser than rounding

BY_HAND = ("this part is derived by hand: compute every gradient with the chain rule from the cache, "
           "backwards in time")


def _randn(seed: int, *shape, scale: float = 1.0) -> torch.Tensor:
    return scale * torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _close(a, b, rtol: float = RTOL, atol: float = ATOL) -> bool:
    """Two tensors, or two sequences of tensors (None allowed), of one shape and close values."""
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        return (isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b)
                and all(_close(x, y, rtol, atol) for x, y in zip(a, b)))
    if a is None or b is None:
        return a is None and b is None
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    return a.shape == b.shape and bool(torch.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True))


def _compare(what: str, expected: torch.Tensor, got: torch.Tensor, dims: tuple = (), rtol: float = RTOL,
             atol: float = ATOL) -> Optional[str]:
    """compare_tensor's message, or for 0-d tensors the two numbers."""
    if expected.dim() == 0 and got.dim() == 0:
        if _close(expected, got, rtol, atol):
            return None
        return "{} is wrong: expected {}, got {}".format(what, *fmt_pair(float(expected), float(got)))
    return compare_tensor(rtol=rtol, atol=atol, dims=dims, what=what)(None, expected, got)


def _cause(got, expected, mistakes: dict, close) -> Optional[str]:
    """The explanation of the one known mistake that ``got`` matches and the right answer does
    not (``diagnose``, mistake by mistake); None when none does, or when several do (this case
    cannot tell them apart)."""
    found = [text for text, make in mistakes.items() if diagnose(got, expected, {text: make}, close)]
    return found[0] if len(found) == 1 else None


def _sentences(first: str, *more: Optional[str]) -> str:
    """One message of several sentences: ``first`` as it is, the others (those not None)
    capitalised."""
    return ". ".join([first] + [m[0].upper() + m[1:] for m in more if m])


def _named(names: list) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


# ---------------------------------------------------------------------------------------------
# The backward passes by hand (parts 1-3): the probe, reading an answer, locating it in time
# ---------------------------------------------------------------------------------------------

def _single_steps(T: int) -> list:
    """The steps where the probe puts the whole upstream gradient: the last, the one before,
    the first (each once)."""
    return sorted({T - 1, max(T - 2, 0), 0}, reverse=True)


def _only_at(upstream: torch.Tensor, step: int) -> torch.Tensor:
    """The upstream gradient (B, T, ...) with every step but ``step`` set to zero."""
    single = torch.zeros_like(upstream)
    single[:, step] = upstream[:, step]
    return single


def _probe_by_hand(student_fn, inputs, seconds):
    """The student's backward pass on the case's (upstream gradient, cache) with autograd
    switched off, then, for a sequence, on upstream gradients that are zero but at one step."""
    upstream, cache = inputs
    with autograd_forbidden(BY_HAND):
        got, problem = call_student(student_fn, (upstream, cache), seconds)
        if problem:
            return {"error": problem}
        single = []
        if _is_sequence(cache):
            for step in _single_steps(upstream.shape[1]):
                one, problem = call_student(student_fn, (_only_at(upstream, step), cache), seconds)
                single.append([step, {"error": problem} if problem else {"answer": describe(one)}])
    return {"answer": describe(got), "single": single}


def _is_sequence(cache) -> bool:
    """True for the caches of a whole sequence (the scalar RNN's dict, rnn_forward's 5-tuple
    with x (B, T, I)); False for one step's (x_t (B, I), ...)."""
    return isinstance(cache, dict) or (isinstance(cache, tuple) and cache[0].dim() == 3)


def _read_gradients(answer: dict, expected: tuple, layout: dict):
    """(the answer as a tuple of float64-comparable tensors, None) or (None, what is wrong with
    its type, length, shapes or dtypes)."""
    names, dims = layout["names"], layout["dims"]
    listing = f"the {len(names)} gradients ({', '.join(names)})"
    if answer["type"] == "NoneType":
        return None, type_problem(answer, ("tuple",))
    if answer["type"] not in ("tuple", "list") or "items" not in answer:
        shown = answer.get("repr", f"a {answer['type']}")
        return None, f"expected a tuple of {listing}, got {shown}"
    items = answer["items"]
    if len(items) != len(names):
        return None, f"your function returned {len(items)} values, expected {listing}"
    got = []
    for name, item, want, dim in zip(names, items, expected, dims):
        if not dim and item["type"] in NUMBER_TYPES:       # a number where a 0-d tensor is expected
            got.append(torch.tensor(float(restore(item)), dtype=torch.float64))
            continue
        problem = type_problem(item, TENSOR_TYPES)
        if problem:
            return None, f"{name}: {problem}"
        value = restore(item)
        shape, wanted = tuple(value.shape), tuple(want.shape)
        if shape != wanted:
            return None, (f"{name} has shape {shape}, expected {_shape(dim, wanted)}"
                          f"{_shape_hint(name, shape, wanted, expected, layout)}")
        if value.dtype != want.dtype:
            return None, (f"{name} has dtype {value.dtype}, expected {want.dtype}, the dtype of the cache: "
                          "make buffers with torch.zeros_like(...) or .new_zeros(...), not torch.zeros(shape)")
        got.append(value)
    return tuple(got), None


def _shape(dims: tuple, shape: tuple) -> str:
    if not dims:
        return "() (a number: a 0-d tensor or a float)"
    return "(" + ", ".join(f"{d}={n}" for d, n in zip(dims, shape)) + (",)" if len(dims) == 1 else ")")


def _shape_hint(name: str, shape: tuple, wanted: tuple, expected: tuple, layout: dict) -> str:
    of = layout["of"].get(name)
    other = next((n for n, e in zip(layout["names"], expected) if n != name and tuple(e.shape) == shape), None)
    if not wanted and math.prod(shape) == 1:
        return ": .sum() returns a 0-d tensor, and .reshape(()) makes one of a single number"
    if of and len(wanted) == 2 and shape == wanted[::-1]:
        return f": that is the shape of {of}^T; a gradient has the shape of what it is the gradient of, {of}"
    if len(shape) == len(wanted) + 1 and shape[1:] == wanted:
        return f": sum over the batch as well ({name} is the sum of every row's gradient)"
    if len(shape) == len(wanted) + 2 and shape[2:] == wanted:
        return f": sum over the batch and over time ({name} is used at every step)"
    if other:
        return f": that is the shape of {other} (the gradients come in the order {', '.join(layout['names'])})"
    if sorted(shape) == sorted(wanted):
        return " (the same sizes in another order: batch-first (B, T, ...) is expected)"
    return ""


def _first_wrong(expected: tuple, got: tuple, layout: dict) -> dict:
    """Where one answer is wrong: the latest step at which its per-step output (dx, x_bar) is
    wrong ("step", None if none), and the names of the outputs that are wrong ("wrong")."""
    per_step = layout.get("per_step")
    verdict = {"step": None, "wrong": [n for n, e, g in zip(layout["names"], expected, got) if not _close(e, g)]}
    if per_step is not None:
        e, g = expected[per_step], got[per_step]
        verdict["step"] = next((t for t in reversed(range(e.shape[1])) if not _close(e[:, t], g[:, t])), None)
    return verdict


def _steps_back(n: int) -> str:
    return "one step" if n == 1 else f"{n} steps"


def _only(step: int, T: int, layout: dict) -> str:
    where = "the last step" if step == T - 1 else ("the first step" if step == 0 else f"step {step}")
    return f"only at {where} ({layout['upstream']}[:, {step}], zero elsewhere)"


def _locate(case: Case, result: dict, reference, layout: dict) -> Optional[str]:
    """Say where in time a wrong backward pass first goes wrong, from the answers to upstream
    gradients that are zero but at one step."""
    upstream, cache = case.args
    T, seq = upstream.shape[1], layout["names"][layout["per_step"]]
    verdicts = {}
    for step, record in result.get("single", []):
        if "answer" not in record:
            continue
        expected = reference(_only_at(upstream, step), cache)
        got, _ = _read_gradients(record["answer"], expected, layout)
        if got is not None:
            verdicts[step] = _first_wrong(expected, got, layout)
    last = T - 1
    for step in _single_steps(T):
        verdict = verdicts.get(step)
        if verdict is None or not verdict["wrong"]:
            continue
        intro = (f"with the upstream gradient {_only(step, T, layout)}, " if step == last else
                 f"your gradients are right with the upstream gradient {_only(last, T, layout)}, but not "
                 f"{_only(step, T, layout)}: ")
        t = verdict["step"]
        if t is not None and t > step:
            return (f"{intro}your {seq} is not zero at {seq}[:, {t}], after that step: a step's gradient "
                    "only reaches the steps before it (does your loop run forwards in time?)")
        if t == step:
            formula = layout["local"] if step == last else layout["enters"]
            return f"{intro}your {seq} is already wrong at {seq}[:, {step}], where the gradient enters: {formula}"
        if t is not None:
            lag = step - t
            right = f"{seq}[:, {step}]" + (f" to {seq}[:, {t + 1}]" if lag > 1 else "")
            why = (layout["carry"] + " is missing or wrong" if lag == 1 else
                   f"what is carried back from a step to the one before is right for {_steps_back(lag - 1)}, then "
                   f"wrong: check {layout['carry']} at every step")
            return (f"{intro}your {seq} is right at {right} but wrong {_steps_back(lag)} earlier, at "
                    f"{seq}[:, {t}]: {why}")
        name = verdict["wrong"][0]
        first = verdicts.get(0)
        if step == last and last > 0 and first is not None and name not in first["wrong"]:
            return (f"your {name} is right with the upstream gradient {_only(0, T, layout)}, one term of its sum, "
                    f"but wrong {_only(last, T, layout)}: {layout['formulas'][name]}, a sum over all the steps")
        return f"{intro}your {seq} is right at every step but {name} is wrong: {layout['formulas'][name]}"
    if verdicts and len(verdicts) == len(_single_steps(T)):
        return (f"your gradients are right with the upstream gradient at any one of the steps "
                f"{', '.join(map(str, _single_steps(T)))} alone, but not with it at every step: check the "
                "steps in between, and that the contributions of all the steps add up (+=, not =)")
    return None


def _judge_by_hand(case: Case, result: dict, reference, layout: dict, mistaken) -> Optional[str]:
    """The answer against ``reference(upstream, cache)``: type, length, shapes, dtypes, then
    the first output that differs, where in time it goes wrong, and the known mistake it is."""
    upstream, cache = case.args
    expected = reference(upstream, cache)
    got, problem = _read_gradients(result["answer"], expected, layout)
    if problem:
        return problem
    wrong = [n for n, e, g in zip(layout["names"], expected, got) if not _close(e, g)]
    if not wrong:
        return None
    i = layout["names"].index(wrong[0])
    problem = _compare(wrong[0], expected[i], got[i], layout["index"][i])
    right = [n for n in layout["names"] if n not in wrong]
    summary = f" ({_named(right)} {'is' if len(right) == 1 else 'are'} right)" if right else ""
    where = _locate(case, result, reference, layout) if layout.get("per_step") is not None else None
    mistakes = {text: (lambda key=key: mistaken(upstream, cache, key)) for key, text in layout["mistakes"].items()}
    cause = _cause(got, expected, mistakes, _close)
    return _sentences(problem + summary, where, cause and f"your answer {cause}")


# ---------------------------------------------------------------------------------------------
# scalar_rnn_backward(dy, cache) -> (u_bar, v_bar, w_bar, x_bar)
# ---------------------------------------------------------------------------------------------

def scalar_backward_with(dy, cache, mistake=None):
    """The scalar RNN's backward pass with one known mistake (None: none), trusted side."""
    x, u, w, v, h0, h, y = (cache[k] for k in ("x", "u", "w", "v", "h0", "h", "y"))
    T = x.shape[1]
    pre = mistake == "phi_of_preactivation"
    dphi_r = 1 - torch.tanh(y) ** 2 if pre else 1 - y * y
    dphi_z = 1 - torch.tanh(h) ** 2 if pre else 1 - h * h
    dr = dy if mistake == "no_output_derivative" else dy * dphi_r
    dz, dz_next = torch.zeros_like(h), torch.zeros_like(h0)
    for t in (range(T) if mistake == "forwards" else reversed(range(T))):
        dh_t = dr[:, t] * v + (0 if mistake == "no_recurrence" else dz_next * w)
        dz[:, t] = dh_t if mistake == "no_hidden_derivative" else dh_t * dphi_z[:, t]
        dz_next = dz[:, t]
    first = torch.zeros_like(h0) if mistake == "h0_ignored" else h0
    h_prev = h if mistake == "w_with_h_t" else torch.cat([first[:, None], h[:, :-1]], 1)
    dx = dz * (w if mistake == "x_bar_with_w" else u)
    steps = slice(T - 1, T) if mistake == "sums_from_last_step" else slice(None)
    return ((dz * x)[:, steps].sum(), (dr * h)[:, steps].sum(), (dz * h_prev)[:, steps].sum(), dx)


SCALAR = {
    "names": ["u_bar", "v_bar", "w_bar", "x_bar"], "dims": [(), (), (), ("B", "T")],
    "index": [(), (), (), ("b", "t")], "of": {}, "per_step": 3, "upstream": "dy",
    "local": ("r_bar_t = y_bar_t (1 - y_t^2), h_bar_t = r_bar_t v + z_bar_{t+1} w, "
              "z_bar_t = h_bar_t (1 - h_t^2), x_bar_t = z_bar_t u"),
    "enters": ("h_bar_t = r_bar_t v + z_bar_{t+1} w: the step's own r_bar_t v is added to what comes "
               "back from step t+1"),
    "carry": "the term z_bar_{t+1} w of h_bar_t = r_bar_t v + z_bar_{t+1} w",
    "formulas": {"u_bar": "u_bar = sum over t and the batch of z_bar_t x_t",
                 "v_bar": "v_bar = sum over t and the batch of r_bar_t h_t",
                 "w_bar": "w_bar = sum over t and the batch of z_bar_t h_{t-1} (h_0 at the first step)"},
    "mistakes": {
        "no_recurrence": "matches BPTT without the recurrent term: h_bar_t = r_bar_t v + z_bar_{t+1} w, "
                         "the second term being what step t+1 sends back",
        "phi_of_preactivation": "matches phi' computed as 1 - tanh(h_t)^2 and 1 - tanh(y_t)^2: the cache holds the "
                                "outputs h_t = tanh(z_t) and y_t = tanh(r_t), so phi'(z_t) = 1 - h_t^2, "
                                "phi'(r_t) = 1 - y_t^2",
        "sums_from_last_step": "matches u_bar, v_bar and w_bar taken from the last step only: u, v and w are used at "
                               "every step, so their gradients are sums over all the steps",
        "w_with_h_t": "matches w_bar = sum of z_bar_t h_t: z_t = u x_t + w h_{t-1} reads the previous state, so "
                      "w_bar = sum of z_bar_t h_{t-1} (h_0 at the first step)",
        "h0_ignored": "matches w_bar with h_0 taken as 0: use the cache's h0, the state before the first step",
        "no_output_derivative": "matches r_bar_t = y_bar_t: y_t = phi(r_t), so r_bar_t = y_bar_t (1 - y_t^2)",
        "no_hidden_derivative": "matches z_bar_t = h_bar_t: h_t = phi(z_t), so z_bar_t = h_bar_t (1 - h_t^2)",
        "x_bar_with_w": "matches x_bar_t = z_bar_t w: z_t = u x_t + w h_{t-1}, so x_bar_t = z_bar_t u",
        "forwards": "matches a loop that runs forwards in time: h_bar_t needs z_bar_{t+1}, so the loop runs from "
                    "the last step to the first",
    },
}


def _judge_scalar(case: Case, result: dict) -> Optional[str]:
    return _judge_by_hand(case, result, bptt.scalar_rnn_backward, SCALAR, scalar_backward_with)


def _scalar_case(label: str, seed: int, B: int, T: int, u=0.7, w=-1.3, v=0.9, h0=None, loss_at=None):
    """dy (B, T) and the cache of scalar_rnn_forward(x, u, w, v, h0); h0 None: 0.0 (a number),
    else (B,) drawn; loss_at: the only steps with an upstream gradient (None: every step)."""
    x = _randn(seed, B, T)
    start = 0.0 if h0 is None else _randn(seed + 1, B, scale=h0)
    _, cache = bptt.scalar_rnn_forward(x, u, w, v, start)
    dy = _randn(seed + 2, B, T)
    if loss_at is not None:
        dy = sum(_only_at(dy, t) for t in loss_at)
    return Case(label, (dy, cache))


register(Check(
    name="04_bptt.scalar_rnn_backward", points=2, probe=_probe_by_hand, judge=_judge_scalar,
    visible=lambda: [_scalar_case("B=2, T=4, h0 = 0, a loss at every step", 0, 2, 4),
                     _scalar_case("B=3, T=5, h0 given", 1, 3, 5, h0=0.5)],
    hidden=lambda: [_scalar_case("B=1, T=1", 2, 1, 1, h0=0.5),
                    _scalar_case("B=2, T=2", 3, 2, 2, u=-0.4, w=0.8, v=1.5),
                    _scalar_case("B=4, T=8, h0 given, w = 1.1", 4, 4, 8, w=1.1, h0=0.8),
                    _scalar_case("B=3, T=6, the loss at the last step only", 5, 3, 6, h0=0.3, loss_at=[5]),
                    _scalar_case("B=2, T=60, w = 0.95 (a long sequence)", 6, 2, 60, u=0.5, w=0.95, v=1.2, h0=0.5)]))


# ---------------------------------------------------------------------------------------------
# rnn_step_backward(dh_t, cache) -> (dx, dh_prev, dW_xh, dW_hh, db)
# ---------------------------------------------------------------------------------------------

def step_backward_with(dh_t, cache, mistake=None):
    """One tanh step's backward pass with one known mistake (None: none), trusted side."""
    x_t, h_prev, W_xh, W_hh, h_t = cache
    if mistake == "no_tanh":
        da = dh_t
    else:
        da = dh_t * (1 - (torch.tanh(h_t) ** 2 if mistake == "phi_of_preactivation" else h_t * h_t))
    dx = da @ (W_xh if mistake == "W_xh_untransposed" else W_xh.T)
    dh_prev = da @ (W_hh if mistake == "W_hh_untransposed" else W_hh.T)
    dW_xh, dW_hh = x_t.T @ da, (h_t if mistake == "h_t_for_h_prev" else h_prev).T @ da
    if mistake == "transposed_weights":
        dW_xh, dW_hh = dW_xh.T, dW_hh.T
    if mistake == "swapped_inputs":
        dW_xh, dW_hh = h_prev.T @ da, x_t.T @ da
    return dx, dh_prev, dW_xh, dW_hh, da.mean(0) if mistake == "db_mean" else da.sum(0)


STEP = {
    "names": ["dx", "dh_prev", "dW_xh", "dW_hh", "db"],
    "dims": [("B", "I"), ("B", "H"), ("I", "H"), ("H", "H"), ("H",)],
    "index": [("b", "i"), ("b", "h"), ("i", "h"), ("row", "col"), ("h",)],
    "of": {"dW_xh": "W_xh", "dW_hh": "W_hh"},
    "mistakes": {
        "phi_of_preactivation": "matches tanh' computed as 1 - tanh(h_t)**2: the cache holds h_t = tanh(a_t), the "
                                "output, so tanh'(a_t) = 1 - h_t**2",
        "no_tanh": "matches da = dh_t, without tanh': da = dh_t * (1 - h_t**2)",
        "transposed_weights": "matches weight gradients computed as da.T @ x_t and da.T @ h_prev, the transposes: "
                              "dW_xh = x_t.T @ da has the shape of W_xh",
        "W_hh_untransposed": "matches dh_prev = da @ W_hh: a_t = x_t @ W_xh + h_prev @ W_hh + b, so "
                             "dh_prev = da @ W_hh.T",
        "W_xh_untransposed": "matches dx = da @ W_xh: a_t = x_t @ W_xh + ..., so dx = da @ W_xh.T",
        "h_t_for_h_prev": "matches dW_hh = h_t.T @ da: a_t reads the previous state, so dW_hh = h_prev.T @ da",
        "swapped_inputs": "matches dW_xh and dW_hh computed from each other's input: dW_xh = x_t.T @ da, "
                          "dW_hh = h_prev.T @ da",
        "db_mean": "matches db averaged over the batch: the gradients of the rows add up, db = da.sum(0)",
    },
}


def _judge_step(case: Case, result: dict) -> Optional[str]:
    return _judge_by_hand(case, result, bptt.rnn_step_backward, STEP, step_backward_with)


def _weights(seed: int, I: int, H: int, scale: float = 0.5):
    """W_xh (I, H), W_hh (H, H), b (H,), seeded, of about ``scale`` per entry."""
    return _randn(seed, I, H, scale=scale), _randn(seed + 1, H, H, scale=scale), _randn(seed + 2, H, scale=0.3)


def _step_case(label: str, seed: int, B: int, I: int, H: int, scale: float = 0.5, zero_state: bool = False):
    W_xh, W_hh, b = _weights(seed, I, H, scale)
    h_prev = torch.zeros(B, H, dtype=torch.float64) if zero_state else _randn(seed + 3, B, H, scale=0.5)
    _, cache = bptt.rnn_step_forward(_randn(seed + 4, B, I), h_prev, W_xh, W_hh, b)
    return Case(label, (_randn(seed + 5, B, H), cache))


register(Check(
    name="04_bptt.rnn_step_backward", points=2, probe=_probe_by_hand, judge=_judge_step,
    visible=lambda: [_step_case("B=2, I=3, H=4", 10, 2, 3, 4), _step_case("B=3, I=4, H=4 (I = H)", 11, 3, 4, 4)],
    hidden=lambda: [_step_case("B=1, I=2, H=3", 12, 1, 2, 3),
                    _step_case("B=4, I=3, H=3 (I = H)", 13, 4, 3, 3),
                    _step_case("B=2, I=5, H=3, h_prev = 0 (the first step)", 14, 2, 5, 3, zero_state=True),
                    _step_case("B=3, I=2, H=6, large weights (tanh saturates)", 15, 3, 2, 6, scale=2.0),
                    _step_case("B=5, I=5, H=5 (B = I = H)", 16, 5, 5, 5)]))


# ---------------------------------------------------------------------------------------------
# rnn_backward(dh, cache) -> (dx, dh0, dW_xh, dW_hh, db)
# ---------------------------------------------------------------------------------------------

def rnn_backward_with(dh, cache, mistake=None):
    """BPTT through the tanh RNN with one known mistake (None: none), trusted side."""
    x, h0, W_xh, W_hh, h = cache
    T = x.shape[1]
    if mistake == "no_tanh":
        dtanh = torch.ones_like(h)
    else:
        dtanh = 1 - torch.tanh(h) ** 2 if mistake == "phi_of_preactivation" else 1 - h * h
    da, carried = torch.zeros_like(h), torch.zeros_like(h0)
    for t in (range(T) if mistake == "forwards" else reversed(range(T))):
        own = dh[:, t] if mistake != "upstream_only_last" or t == T - 1 else torch.zeros_like(h0)
        if mistake == "no_recurrence":
            carried = torch.zeros_like(h0)
        if mistake == "carry_skips_tanh":
            da[:, t] = own * dtanh[:, t] + carried
        else:
            da[:, t] = (own + carried) * dtanh[:, t]
        carried = da[:, t] @ (W_hh if mistake == "W_hh_untransposed" else W_hh.T)
    h_prev = h if mistake == "h_t_for_h_prev" else torch.cat([h0[:, None], h[:, :-1]], 1)
    steps = slice(T - 1, T) if mistake == "weights_from_last_step" else slice(None)
    rows, x_rows, h_rows = (z[:, steps].flatten(0, 1) for z in (da, x, h_prev))
    dW_xh, dW_hh = x_rows.T @ rows, h_rows.T @ rows
    if mistake == "transposed_weights":
        dW_xh, dW_hh = dW_xh.T, dW_hh.T
    dh0 = torch.zeros_like(h0) if mistake == "dh0_dropped" else carried
    return da @ W_xh.T, dh0, dW_xh, dW_hh, rows.sum(0)


RNN = {
    "names": ["dx", "dh0", "dW_xh", "dW_hh", "db"],
    "dims": [("B", "T", "I"), ("B", "H"), ("I", "H"), ("H", "H"), ("H",)],
    "index": [("b", "t", "i"), ("b", "h"), ("i", "h"), ("row", "col"), ("h",)],
    "of": {"dW_xh": "W_xh", "dW_hh": "W_hh"}, "per_step": 0, "upstream": "dh",
    "local": "da_t = dh_t * (1 - h_t**2) and dx_t = da_t @ W_xh.T",
    "enters": ("dh_t = dh[:, t] + da_{t+1} @ W_hh.T: every step's own upstream gradient dh[:, t] is added "
               "to what comes back from step t+1"),
    "carry": "the recurrent term da_{t+1} @ W_hh.T of dh_t = dh[:, t] + da_{t+1} @ W_hh.T",
    "formulas": {"dh0": "dh0 = da_1 @ W_hh.T, what the first step sends back to h0",
                 "dW_xh": "dW_xh = sum over t of x_t.T @ da_t",
                 "dW_hh": "dW_hh = sum over t of h_{t-1}.T @ da_t (h0 at the first step)",
                 "db": "db = da_t summed over the batch and over t"},
    "mistakes": {
        "no_recurrence": "matches BPTT without the recurrent term: dh_t = dh[:, t] + da_{t+1} @ W_hh.T, the "
                         "second term being what step t+1 sends back",
        "phi_of_preactivation": "matches tanh' computed as 1 - tanh(h_t)**2: the cache holds h_t = tanh(a_t), the "
                                "output, so tanh'(a_t) = 1 - h_t**2",
        "weights_from_last_step": "matches weight gradients taken from the last step only: W_xh, W_hh and b are "
                                  "used at every step, so their gradients are sums over all the steps",
        "dh0_dropped": "has dh0 = 0: return what the first step sends back to h0, da_1 @ W_hh.T",
        "transposed_weights": "matches weight gradients computed as da.T @ x and da.T @ h_prev, the transposes: "
                              "dW_xh = sum of x_t.T @ da_t has the shape of W_xh",
        "upstream_only_last": "matches BPTT from dh[:, T-1] alone: every step's upstream gradient enters at its "
                              "step, dh_t = dh[:, t] + da_{t+1} @ W_hh.T",
        "h_t_for_h_prev": "matches dW_hh computed with h_t instead of h_{t-1}: a_t reads the previous state (h0 at "
                          "the first step)",
        "carry_skips_tanh": "matches da_t = dh[:, t] * tanh' + da_{t+1} @ W_hh.T: both terms go through tanh', "
                            "da_t = (dh[:, t] + da_{t+1} @ W_hh.T) * (1 - h_t**2)",
        "W_hh_untransposed": "matches the recurrent term computed with W_hh instead of W_hh.T: a_t = ... + "
                             "h_{t-1} @ W_hh, so h_{t-1} receives da_t @ W_hh.T",
        "no_tanh": "matches a backward pass without tanh': da_t = dh_t * (1 - h_t**2)",
        "forwards": "matches a loop that runs forwards in time: dh_t needs da_{t+1}, so the loop runs from the "
                    "last step to the first",
    },
}


def _judge_rnn(case: Case, result: dict) -> Optional[str]:
    return _judge_by_hand(case, result, bptt.rnn_backward, RNN, rnn_backward_with)


def _rnn_problem(seed: int, B: int, T: int, I: int, H: int, scale: float = 0.5, zero_h0: bool = False):
    """(x, h0, W_xh, W_hh, b) of a seeded tanh RNN."""
    W_xh, W_hh, b = _weights(seed, I, H, scale)
    h0 = torch.zeros(B, H, dtype=torch.float64) if zero_h0 else _randn(seed + 3, B, H, scale=0.5)
    return _randn(seed + 4, B, T, I), h0, W_xh, W_hh, b


def _rnn_case(label: str, seed: int, B: int, T: int, I: int, H: int, scale: float = 0.5,
              zero_h0: bool = False, loss_at=None):
    _, cache = bptt.rnn_forward(*_rnn_problem(seed, B, T, I, H, scale, zero_h0))
    dh = _randn(seed + 5, B, T, H)
    if loss_at is not None:
        dh = sum(_only_at(dh, t) for t in loss_at)
    return Case(label, (dh, cache))


register(Check(
    name="04_bptt.rnn_backward", points=3, probe=_probe_by_hand, judge=_judge_rnn,
    visible=lambda: [_rnn_case("B=2, T=4, I=3, H=5", 20, 2, 4, 3, 5),
                     _rnn_case("B=3, T=5, I=4, H=4 (I = H)", 21, 3, 5, 4, 4)],
    hidden=lambda: [_rnn_case("B=1, T=1, I=2, H=3", 22, 1, 1, 2, 3),
                    _rnn_case("B=2, T=2, I=3, H=2", 23, 2, 2, 3, 2),
                    _rnn_case("B=4, T=4, I=4, H=4 (B = T = I = H)", 24, 4, 4, 4, 4),
                    _rnn_case("B=3, T=6, I=2, H=5, the loss at the last step only", 25, 3, 6, 2, 5, loss_at=[5]),
                    _rnn_case("B=2, T=5, I=3, H=4, h0 = 0", 26, 2, 5, 3, 4, zero_h0=True),
                    _rnn_case("B=2, T=40, I=3, H=4, W_hh of about 0.7 per entry (a long sequence)",
                              27, 2, 40, 3, 4, scale=0.7)]))


# ---------------------------------------------------------------------------------------------
# numerical_gradient(f, x, eps=1e-6) -> the centred-difference gradient, x's shape
# ---------------------------------------------------------------------------------------------

def tanh_rnn_states(x, h0, W_xh, W_hh, b) -> list:
    """h_t = tanh(x_t W_xh + h_{t-1} W_hh + b) for every t: the T states (B, H), each the
    tensor the next step reads (plain torch, for the probes)."""
    states, h = [], h0
    for x_t in x.unbind(1):
        h = torch.tanh(x_t @ W_xh + h @ W_hh + b)
        states.append(h)
    return states


def objective(spec: dict, value: torch.Tensor) -> torch.Tensor:
    """The scalar function of a numerical_gradient case at ``value``: sum(c x^3 + d x), or the
    loss sum_t sum(dh_t * h_t) of a tanh RNN as a function of its W_hh."""
    if spec["kind"] == "cubic":
        return (spec["c"] * value ** 3 + spec["d"] * value).sum()
    states = tanh_rnn_states(spec["x"], spec["h0"], spec["W_xh"], value, spec["b"])
    return sum((spec["dh"][:, t] * h_t).sum() for t, h_t in enumerate(states))


def _probe_numerical(student_fn, inputs, seconds):
    """Call numerical_gradient(f, x[, eps]) with an f built here (that counts its calls, and
    reads x itself or, like a loss reading a model's parameter, the tensor x from outside);
    the answer, the number of calls and x afterwards."""
    spec, x, eps, reads_argument, as_float = inputs
    calls = [0]

    def f(value):
        calls[0] += 1
        out = objective(spec, value if reads_argument else x)
        return float(out) if as_float else out

    got, problem = call_student(student_fn, (f, x) if eps is None else (f, x, eps), seconds, copy_inputs=False)
    if problem:
        return {"error": problem}
    return {"answer": describe(got), "calls": calls[0], "x_after": describe(x)}


def centred_with(spec: dict, x0: torch.Tensor, eps: float, reads_argument: bool, mistake=None):
    """The finite-difference gradient with one known mistake (None: none), trusted side."""
    x = x0.clone()
    f = (lambda value: float(objective(spec, value if reads_argument else x)))
    if mistake == "all_at_once":
        x += eps
        plus = f(x)
        x -= 2 * eps
        return torch.full_like(x, (plus - f(x)) / (2 * eps))
    grad, flat = torch.zeros_like(x), x.view(-1)
    base = f(x)
    for i in range(flat.numel()):
        original = float(flat[i])
        flat[i] = original + eps
        plus = f(x) if reads_argument or mistake != "copy_perturbed" else base
        flat[i] = original - eps
        minus = f(x) if reads_argument or mistake != "copy_perturbed" else base
        if mistake != "not_restored":
            flat[i] = original
        grad.view(-1)[i] = {"forward": (plus - base) / eps, "backward": (base - minus) / eps,
                            "eps_not_doubled": (plus - minus) / eps}.get(mistake, (plus - minus) / (2 * eps))
    return grad


NUMERICAL_MISTAKES = {
    "forward": "matches the forward difference (f(x + eps e_i) - f(x)) / eps, whose error is of order eps: the "
               "centred (f(x + eps e_i) - f(x - eps e_i)) / (2 eps) errs by eps^2",
    "backward": "matches the backward difference (f(x) - f(x - eps e_i)) / eps: use the centred difference",
    "eps_not_doubled": "is twice the gradient: the centred difference divides by 2 eps, the distance between "
                       "x + eps e_i and x - eps e_i",
    "all_at_once": "matches moving every element of x at once: perturb one element at a time, e_i",
    "copy_perturbed": "is zero where f does not read its argument: f may read x from elsewhere (as a loss reads "
                      "a model's parameter), so change x itself, in place, and put each element back",
    "not_restored": "matches differences where each element is left at x_i - eps: put x_i back before moving "
                    "the next element",
}


def _judge_numerical(case: Case, result: dict) -> Optional[str]:
    spec, x, eps, reads_argument, as_float = case.args
    answer = result["answer"]
    problem = type_problem(answer, TENSOR_TYPES)
    if problem:
        return problem
    got = restore(answer)
    if tuple(got.shape) != tuple(x.shape):
        return f"your gradient has shape {tuple(got.shape)}, expected {tuple(x.shape)}, the shape of x"
    if got.dtype != torch.float64:
        return (f"your gradient has dtype {got.dtype}, expected torch.float64 like x: a float32 difference "
                "quotient loses most of its digits (make it with torch.zeros_like(x))")
    after = restore(result["x_after"])
    if not _close(after, x, rtol=0, atol=1e-12):
        change = float((after - x).abs().max())
        return (f"your function left x changed (by up to {fmt(change)}): put every element back to its "
                "value before returning")
    step = 1e-6 if eps is None else eps
    moved = x.clone()
    expected = bptt.numerical_gradient(lambda value: objective(spec, value if reads_argument else moved), moved, step)
    problem = _compare("your gradient", expected, got, (), RTOL, 1e-8)
    if problem is None:
        return None
    parts = [problem]
    calls, n = int(result["calls"]), x.numel()
    if calls != 2 * n:
        parts.append(f"your function evaluated f {calls} times for the {n} elements of x: a centred difference "
                     "needs two evaluations per element, f(x + eps e_i) and f(x - eps e_i)")
    mistakes = {text: (lambda key=key: centred_with(spec, x, step, reads_argument, key))
                for key, text in NUMERICAL_MISTAKES.items()}
    mistakes.update({f"matches centred differences with eps = {other:g}, not the eps = {step:g} you are given":
                     (lambda other=other: centred_with(spec, x, other, reads_argument))
                     for other in (1e-3, 1e-4, 1e-5, 1e-6, 1e-7) if other != step})
    cause = _cause(got, expected, mistakes, lambda a, b: _close(a, b, RTOL, 1e-8))
    if cause:
        parts.append(f"your gradient {cause}")
    if spec["kind"] == "rnn":
        parts.append(_flags(spec, x, got))
    return _sentences(*parts)


def _flags(spec: dict, W_hh: torch.Tensor, numerical: torch.Tensor) -> str:
    """What the student's numerical gradient makes of a right and a deliberately wrong analytic
    gradient of the RNN loss with respect to W_hh."""
    _, cache = bptt.rnn_forward(spec["x"], spec["h0"], spec["W_xh"], W_hh, spec["b"])
    right = bptt.rnn_backward(spec["dh"], cache)[3]
    wrong = rnn_backward_with(spec["dh"], cache, "no_recurrence")[3]
    return (f"Checked against your numerical gradient, the right analytic dW_hh (BPTT) has relative error "
            f"{bptt.relative_error(right, numerical):.1e} (it must be below 1e-7) and a deliberately wrong one "
            f"(BPTT without the recurrent term) {bptt.relative_error(wrong, numerical):.1e} (it must be above 1e-2)")


def _cubic_case(label: str, seed: int, shape: tuple, eps=None, reads_argument=True, as_float=False):
    spec = {"kind": "cubic", "c": _randn(seed, *shape), "d": _randn(seed + 1, *shape)}
    return Case(label, (spec, _randn(seed + 2, *shape, scale=2.0), eps, reads_argument, as_float))


def _rnn_loss_case(label: str, seed: int, B: int, T: int, I: int, H: int, eps=None, reads_argument=True,
                   as_float=True):
    x, h0, W_xh, W_hh, b = _rnn_problem(seed, B, T, I, H, scale=0.8)
    spec = {"kind": "rnn", "x": x, "h0": h0, "W_xh": W_xh, "b": b, "dh": _randn(seed + 5, B, T, H)}
    return Case(label, (spec, W_hh, eps, reads_argument, as_float))


register(Check(
    name="04_bptt.numerical_gradient", points=2, probe=_probe_numerical, judge=_judge_numerical,
    visible=lambda: [_cubic_case("f(x) = sum(c x^3 + d x), x (3, 4), eps left at its default", 30, (3, 4)),
                     _rnn_loss_case("the loss of a tanh RNN (B=2, T=4, I=2, H=3) as a function of W_hh (3, 3), "
                                    "eps = 1e-6, f returns a float", 31, 2, 4, 2, 3, eps=1e-6)],
    hidden=lambda: [_cubic_case("f(x) = sum(c x^3 + d x), x (2, 3), eps = 1e-2", 32, (2, 3), eps=1e-2),
                    _rnn_loss_case("the RNN loss, f reads W_hh from outside (like a model's parameter)",
                                   33, 2, 5, 3, 4, eps=1e-6, reads_argument=False),
                    _cubic_case("x a 0-d tensor", 34, (), eps=1e-5),
                    _cubic_case("x of shape (1,), f returns a float", 35, (1,), as_float=True),
                    _cubic_case("x of shape (2, 3, 2)", 36, (2, 3, 2), eps=1e-4),
                    _rnn_loss_case("the RNN loss (B=3, T=6, I=2, H=4), f returns a 0-d tensor",
                                   37, 3, 6, 2, 4, as_float=False)]))


# ---------------------------------------------------------------------------------------------
# clip_grad_norm(parameters, max_norm) -> the total norm before clipping
# ---------------------------------------------------------------------------------------------

def _parameters(values: list, grads: list) -> list:
    params = [nn.Parameter(v.clone()) for v in values]
    for p, g in zip(params, grads):
        p.grad = None if g is None else g.clone()
    return params


CLIPPING_BY_HAND = "this part is gradient clipping written out, with tensor operations"


def _torch_clipping() -> list:
    """torch's own clipping functions, switched off while the student's clip_grad_norm runs."""
    names = ("clip_grad_norm_", "clip_grad_norm", "clip_grads_with_norm_", "get_total_norm")
    return [(module, name) for module in (torch.nn.utils, torch.nn.utils.clip_grad) for name in names]


def _probe_clip(student_fn, inputs, seconds):
    """Parameters built from plain values and gradients, passed as a generator (as
    model.parameters() is), with torch's clipping switched off; the answer, then every gradient
    and every value afterwards."""
    values, grads, max_norm = inputs
    params = _parameters(values, grads)
    with switched_off(_torch_clipping(), CLIPPING_BY_HAND):
        got, problem = call_student(student_fn, ((p for p in params), max_norm), seconds, copy_inputs=False)
    if problem:
        return {"error": problem}
    return {"answer": describe(got), "grads": [describe(p.grad) for p in params],
            "values": [describe(p.detach()) for p in params]}


def clipped_with(values: list, grads: list, max_norm: float, mistake=None):
    """(the norm returned, the gradients after) of clipping with one known mistake (None:
    none), trusted side."""
    present = [g for g in grads if g is not None]
    norms = [float(torch.linalg.vector_norm(g.double())) for g in present]
    total = sum(norms) if mistake == "sum_of_norms" else math.sqrt(sum(n * n for n in norms))
    scale = {"squared_divisor": min(1.0, max_norm / (total * total + 1e-6)),
             "always": max_norm / (total + 1e-6)}.get(mistake, min(1.0, max_norm / (total + 1e-6)))
    if mistake == "per_parameter":
        out = [g * min(1.0, max_norm / (n + 1e-6)) for g, n in zip(present, norms)]
    elif mistake == "clamp":
        out = [g.clamp(-max_norm, max_norm) for g in present]
    else:
        out = [g * scale for g in present]
    returned = {"squared": total * total, "after": min(total, max_norm)}.get(mistake, total)
    it = iter(out)
    return returned, [None if g is None else next(it) for g in grads]


CLIP_GRAD_MISTAKES = {
    "per_parameter": "matches clipping each parameter's gradient by its own norm: the threshold is on the norm "
                     "of all the gradients together, sqrt(sum_p ||g_p||^2), and every gradient is scaled by the "
                     "same factor, so that the direction is kept",
    "squared_divisor": "matches scaling by max_norm / ||g||^2: scale by max_norm / (||g|| + 1e-6)",
    "clamp": "matches clamping every entry to [-max_norm, max_norm] (clipping by value, which changes the "
             "direction): scale all the gradients by one factor instead",
    "always": "matches scaling by max_norm / ||g|| also when the norm is below max_norm, which makes small "
              "gradients larger: the factor is min(1, max_norm / (||g|| + 1e-6))",
    "sum_of_norms": "matches the sum of the parameters' norms as the total: the total norm is "
                    "sqrt(sum_p ||g_p||^2), the norm of all the gradients as one vector",
}

CLIP_NORM_MISTAKES = {
    "squared": "is the squared norm ||g||^2: return its square root, the norm",
    "after": "is the norm after clipping: return the norm the gradients had before",
    "sum_of_norms": "is the sum of the parameters' norms: the total norm is sqrt(sum_p ||g_p||^2)",
}


def _judge_clip(case: Case, result: dict) -> Optional[str]:
    values, grads, max_norm = case.args
    answer = result["answer"]
    if answer["type"] == "NoneType":
        return type_problem(answer, NUMBER_TYPES)
    if answer["type"] not in NUMBER_TYPES + TENSOR_TYPES or "repr" in answer:
        return f"expected the total norm, a 0-d tensor or a number, got {answer.get('repr', 'a ' + answer['type'])}"
    norm = restore(answer)
    if isinstance(norm, torch.Tensor):
        if norm.dim():
            return f"your norm has shape {tuple(norm.shape)}: expected a number, a 0-d tensor"
        norm = float(norm)
    params = _parameters(values, grads)
    expected = float(clipping.clip_grad_norm((p for p in params), max_norm))
    got_grads = [restore(g) for g in result["grads"]]
    for i, (got, value, before) in enumerate(zip(got_grads, values, grads)):
        if before is None and got is not None:
            return f"parameter {i} had no gradient (p.grad is None): skip it and leave it None"
        if before is not None and not isinstance(got, torch.Tensor):
            return f"the gradient of parameter {i} is gone (p.grad is {type(got).__name__}): scale it in place"
        if not _close(restore(result["values"][i]), value, rtol=0, atol=0):
            return f"your function changed parameter {i} itself: scale its gradient p.grad, not p"
    for i, (got, want) in enumerate(zip(got_grads, (p.grad for p in params))):
        if want is None:
            continue
        problem = _compare(f"the gradient of parameter {i} after clipping", want, got, (), 1e-5, 1e-7)
        if problem and all(g is None or _close(g, b, 0, 0) for g, b in zip(got_grads, grads)):
            return (f"your function left the gradients unchanged, although their total norm {fmt(expected)} is "
                    f"above max_norm = {max_norm:g}: scale them in place (p.grad.mul_(c)). parameters is an "
                    "iterator, like model.parameters(), that can be read only once: make a list of it if you loop "
                    "twice")
        if problem:
            cause = _cause(got_grads, [p.grad for p in params],
                             {text: (lambda key=key: clipped_with(values, grads, max_norm, key)[1])
                              for key, text in CLIP_GRAD_MISTAKES.items()},
                             lambda a, b: _close(a, b, 1e-5, 1e-7))
            total = f" (their total norm was {fmt(expected)}, max_norm {max_norm:g})"
            return f"{problem}{total}" + (f". Your clipping {cause}" if cause else "")
    if not math.isfinite(norm) or not math.isclose(norm, expected, rel_tol=1e-5, abs_tol=1e-8):
        message = "your gradients are right but the norm you returned is not: expected {}, got {}".format(
            *fmt_pair(expected, norm))
        cause = _cause(norm, expected, {text: (lambda key=key: clipped_with(values, grads, max_norm, key)[0])
                                          for key, text in CLIP_NORM_MISTAKES.items()},
                         lambda a, b: math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-8))
        return message + (f". It {cause}" if cause else "")
    return None


def _clip_case(label: str, seed: int, shapes: list, scale: float, max_norm: float, without=(),
               dtype=torch.float32):
    values = [_randn(seed + i, *shape).to(dtype) for i, shape in enumerate(shapes)]
    grads = [None if i in without else _randn(seed + 50 + i, *shape, scale=scale).to(dtype)
             for i, shape in enumerate(shapes)]
    return Case(label, (values, grads, float(max_norm)))


register(Check(
    name="04_bptt.clip_grad_norm", points=2, probe=_probe_clip, judge=_judge_clip,
    visible=lambda: [_clip_case("3 parameters, total norm above max_norm = 1", 40, [(4, 3), (3, 3), (3,)], 3.0, 1.0),
                     _clip_case("3 parameters, total norm below max_norm = 5", 41, [(4, 3), (3, 3), (3,)], 0.2, 5.0)],
    hidden=lambda: [_clip_case("4 parameters, one without a gradient, max_norm = 0.25", 42,
                               [(5, 2), (2, 2), (2,), (3,)], 1.0, 0.25, without=(1,)),
                    _clip_case("4 parameters, each gradient's norm below max_norm = 2, their total norm above",
                               43, [(3, 3)] * 4, 0.45, 2.0),
                    _clip_case("the total norm below max_norm = 5, its square above", 47, [(4, 3), (3,)], 0.8, 5.0),
                    _clip_case("a 0-d parameter and a vector, float64", 44, [(), (6,)], 2.0, 1.0,
                               dtype=torch.float64),
                    _clip_case("exploding gradients (about 1e4 per entry), max_norm = 5", 45, [(8, 8), (8,)], 1e4, 5.0),
                    _clip_case("no parameter has a gradient", 46, [(2, 2), (3,)], 1.0, 1.0, without=(0, 1))]))


# ---------------------------------------------------------------------------------------------
# train_truncated(model, stream, k, optimizer, before_step=None) -> the loss of every chunk
# ---------------------------------------------------------------------------------------------

class TinyLM(nn.Module):
    """Embedding, ``torch.nn.RNN`` or ``torch.nn.LSTM`` (batch-first), linear output: the
    language model of the train_truncated cases, in plain torch (the grading sandbox has no
    rnnlab models). ``forward(tokens (B, T), state=None) -> (logits (B, T, V), state)``, the
    state (1, B, H) for the RNN, a pair of them for the LSTM."""

    def __init__(self, kind: str, vocab_size: int, embedding_dim: int, hidden_size: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.rnn = (nn.LSTM if kind == "lstm" else nn.RNN)(embedding_dim, hidden_size, batch_first=True)
        self.output = nn.Linear(hidden_size, vocab_size)

    def forward(self, tokens, state=None):
        states, state = self.rnn(self.embedding(tokens), state)
        return self.output(states), state


def tiny_lm(weights: dict, sizes: tuple) -> TinyLM:
    """A float64 TinyLM of ``sizes`` (kind, V, E, H) holding ``weights``."""
    with torch.random.fork_rng(devices=[]):        # the initial values are overwritten: leave the RNG as it was
        model = TinyLM(*sizes).double()
    model.load_state_dict({k: torch.as_tensor(v) for k, v in weights.items()})
    return model


def recorder(seen: list):
    """A before_step that appends, for every call, the model's gradients and weights."""
    def before_step(model):
        seen.append(([None if p.grad is None else p.grad.detach().clone() for p in model.parameters()],
                     [p.detach().clone() for p in model.parameters()]))
    return before_step


DETACH_HINT = (". The state carried into this chunk still holds the graph of the chunks before (whose weights "
               "the optimizer has changed since): detach it before each chunk, so the backward pass stops there")


def _probe_truncated(student_fn, inputs, seconds):
    """train_truncated on a TinyLM with SGD, recording through before_step (or passing None);
    the losses, what before_step saw and the weights afterwards."""
    weights, sizes, stream, k, lr, record = inputs
    model = tiny_lm(weights, sizes)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    seen = []
    args = (model, stream.clone(), k, optimizer) + ((recorder(seen),) if record else ())
    got, problem = call_student(student_fn, args, seconds, copy_inputs=False)
    if problem:
        if "backward through the graph a second time" in problem or "modified by an inplace operation" in problem:
            problem += DETACH_HINT
        return {"error": problem}
    return {"answer": describe(got),
            "seen": [[[describe(g) for g in grads], [describe(w) for w in values]] for grads, values in seen],
            "final": [describe(p.detach()) for p in model.parameters()]}


def truncated_with(model, stream, k, optimizer, before_step, mistake=None) -> list:
    """Truncated BPTT with one known mistake (None: none), trusted side."""
    state, losses = None, []
    for start in range(0, stream.shape[1] - 1, k):
        end = min(start + k, stream.shape[1] - 1)
        inputs, targets = stream[:, start:end], stream[:, start + 1:end + 1]
        if mistake == "state_not_carried":
            state = None
        if mistake == "detach_every_step":
            pieces = []
            for t in range(inputs.shape[1]):
                piece, state = model(inputs[:, t:t + 1], _detached(state))
                pieces.append(piece)
            logits = torch.cat(pieces, 1)
        else:
            logits, state = model(inputs, _detached(state))
        loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten(),
                               reduction="sum" if mistake == "summed_loss" else "mean")
        if mistake != "no_zero_grad":
            optimizer.zero_grad()
        loss.backward()
        before_step(model)
        optimizer.step()
        losses.append(loss.item())
    return losses


def _detached(state):
    if state is None:
        return None
    return state.detach() if isinstance(state, torch.Tensor) else tuple(s.detach() for s in state)


TRUNCATED_MISTAKES = {
    "state_not_carried": "match chunks that all start from state None: carry the state from the end of one chunk "
                         "into the next (detached)",
    "detach_every_step": "match a state detached at every step: detach it once per chunk, so that the gradient "
                         "flows through the k steps of the chunk",
    "no_zero_grad": "match gradients that add up over the chunks: call optimizer.zero_grad() before each "
                    "chunk's backward pass",
    "summed_loss": "match the summed cross-entropy: the loss of a chunk is the mean over its B * k targets",
}


def _judge_truncated(case: Case, result: dict) -> Optional[str]:
    weights, sizes, stream, k, lr, record = case.args
    answer = result["answer"]
    if answer["type"] == "NoneType":
        return type_problem(answer, ("list",))
    if answer["type"] not in ("list", "tuple") or "items" not in answer:
        return f"expected the list of every chunk's loss (floats), got {answer.get('repr', 'a ' + answer['type'])}"
    losses = []
    for i, item in enumerate(answer["items"]):
        value = restore(item) if item["type"] in NUMBER_TYPES + TENSOR_TYPES else None
        if isinstance(value, torch.Tensor):
            value = float(value) if value.numel() == 1 else None
        if value is None:
            return f"loss {i} of your list is a {item['type']}: expected a number (loss.item())"
        losses.append(value)
    model = tiny_lm(weights, sizes)
    seen = []
    expected = tbptt.train_truncated(model, stream, k, torch.optim.SGD(model.parameters(), lr=lr), recorder(seen))
    names = [name for name, _ in model.named_parameters()]
    N, chunks = stream.shape[1], len(expected)

    def window(i):
        a, b = i * k, min(i * k + k, N - 1)
        return f"chunk {i} (inputs stream[:, {a}:{b}], targets stream[:, {a + 1}:{b + 1}])"

    if len(losses) != chunks:
        hint = (": the chunks start at 0, k, 2k, ... while there is a next token to predict, and the last "
                f"one may be shorter (stream (B, {N}), k={k})")
        return (f"your function returned {len(losses)} loss{'es' if len(losses) != 1 else ''}, expected one per "
                f"chunk, {chunks}{hint}")
    if record:
        got_seen = result["seen"]
        if not got_seen:
            return ("your function never called before_step(model): call it after each chunk's "
                    "loss.backward() and before optimizer.step()")
        if len(got_seen) != chunks:
            return f"your function called before_step {len(got_seen)} times, expected once per chunk, {chunks}"
        for i, ((want_grads, want_values), (got_grads, got_values)) in enumerate(zip(seen, got_seen)):
            for name, want, got in zip(names, want_values, got_values):
                if not _close(want, restore(got), rtol=1e-9, atol=1e-12):
                    when = ("before any update: call before_step(model) before optimizer.step()" if i == 0 else
                            f"after the updates of chunks 0 to {i - 1}: one optimizer.step() per chunk, after "
                            "before_step")
                    return (f"when before_step was called for {window(i)}, the weight {name} was not the one "
                            f"expected {when}")
            for name, want, got in zip(names, want_grads, got_grads):
                got = restore(got)
                if want is None or _close(want, got, rtol=RTOL, atol=1e-10):
                    continue
                if not isinstance(got, torch.Tensor):
                    return f"in {window(i)}, before_step found no gradient of {name}: call loss.backward() first"
                problem = _compare(f"the gradient of {name}", want, got, (), RTOL, 1e-10)
                earlier = "" if i == 0 else " (chunk 0 is right)" if i == 1 else f" (chunks 0 to {i - 1} are right)"
                return f"in {window(i)}{earlier}, {problem}" + _truncated_cause(case, got_grads, want_grads, i)
    for i, (want, got) in enumerate(zip(expected, losses)):
        if not math.isfinite(got) or not math.isclose(want, got, rel_tol=1e-7, abs_tol=1e-10):
            return "the loss of {}: expected {}, got {} nats per token".format(window(i), *fmt_pair(want, got))
    for name, want, got in zip(names, model.parameters(), result["final"]):
        problem = _compare(f"after the epoch, your model's {name}", want.detach(), restore(got), (), RTOL, 1e-10)
        if problem:
            return problem + ": one optimizer.step() after every chunk"
    return None


def _truncated_cause(case: Case, got_grads: list, want_grads: list, chunk: int) -> str:
    """'. Your gradients ... match <mistake>' when chunk ``chunk``'s gradients match one."""
    weights, sizes, stream, k, lr, record = case.args

    def replay(mistake):
        model, seen = tiny_lm(weights, sizes), []
        truncated_with(model, stream, k, torch.optim.SGD(model.parameters(), lr=lr), recorder(seen), mistake)
        return seen[chunk][0] if chunk < len(seen) else None

    cause = _cause([restore(g) for g in got_grads], want_grads,
                   {text: (lambda key=key: replay(key)) for key, text in TRUNCATED_MISTAKES.items()},
                   lambda a, b: _close(a, b, 1e-6, 1e-9))
    return f". Your gradients {cause}" if cause else ""


def _truncated_case(label: str, seed: int, B: int, N: int, k: int, kind: str = "rnn", record: bool = True,
                    V: int = 7, E: int = 4, H: int = 5, lr: float = 0.5):
    sizes = (kind, V, E, H)
    with torch.random.fork_rng(devices=[]):        # seeded weights, the caller's RNG left as it was
        torch.manual_seed(seed)
        weights = {name: value.double() for name, value in TinyLM(*sizes).state_dict().items()}
    stream = torch.randint(0, V, (B, N), generator=torch.Generator().manual_seed(seed + 1))
    return Case(label, (weights, sizes, stream, k, lr, record))


register(Check(
    name="04_bptt.train_truncated", points=2, probe=_probe_truncated, judge=_judge_truncated,
    visible=lambda: [_truncated_case("an RNN LM, stream (B=2, N=21), k=5: 4 chunks", 50, 2, 21, 5)],
    hidden=lambda: [_truncated_case("stream (B=3, N=30), k=4: 8 chunks, the last one of 1 step", 51, 3, 30, 4),
                    _truncated_case("stream (B=2, N=8), k=1", 52, 2, 8, 1),
                    _truncated_case("stream (B=2, N=12), k=50: one chunk, full BPTT", 53, 2, 12, 50),
                    _truncated_case("an LSTM LM (its state a pair of tensors), stream (B=2, N=17), k=5", 54,
                                    2, 17, 5, kind="lstm"),
                    _truncated_case("stream (B=1, N=16), k=3", 55, 1, 16, 3),
                    _truncated_case("stream (B=2, N=16), k=5, before_step=None", 56, 2, 16, 5, record=False)]))


# ---------------------------------------------------------------------------------------------
# gradient_norms(loss, states) -> ||dL/dh_t|| for every t, (T,)
# ---------------------------------------------------------------------------------------------

def _norms_graph(inputs: tuple):
    """(loss, states, {name: leaf}) of a tanh RNN whose loss is sum(c_t * h_t) over the steps t
    of ``loss_at`` (the other states are not used by the loss)."""
    x, h0, W_xh, W_hh, b, c, loss_at = inputs
    leaves = {name: p.clone().requires_grad_() for name, p in (("W_xh", W_xh), ("W_hh", W_hh), ("b", b))}
    states = tanh_rnn_states(x, h0, leaves["W_xh"], leaves["W_hh"], leaves["b"])
    loss = sum((c[:, t] * states[t]).sum() for t in loss_at)
    return loss, states, leaves


def _probe_norms(student_fn, inputs, seconds):
    """gradient_norms(loss, states) on a tanh RNN built here; then whether the graph is still
    there (the caller's loss.backward() must still work) and which weights got a .grad."""
    loss, states, leaves = _norms_graph(inputs)
    got, problem = call_student(student_fn, (loss, states), seconds, copy_inputs=False)
    if problem:
        return {"error": problem}
    left = [name for name, p in leaves.items() if p.grad is not None]
    try:
        torch.autograd.grad(loss, [leaves["W_hh"]])
        freed = False
    except RuntimeError:
        freed = True
    return {"answer": describe(got), "graph_freed": freed, "left_grads": left}


NORMS_MISTAKES = {
    "squared": "are the squared norms: return ||dL/dh_t||, the square root",
    "row_mean": "are the norms of every batch row's gradient, averaged: take the norm over the batch and the "
                "hidden units together",
    "reversed": "are in reverse order: entry t is the norm of dL/dh_t, the state of step t",
    "states": "are the norms of the states h_t themselves, not of the gradients dL/dh_t",
    "max_abs": "are the largest absolute entries: return the 2-norm over all the entries",
}


def norms_with(loss: torch.Tensor, states: list, mistake: str) -> torch.Tensor:
    """gradient_norms with one known mistake, trusted side."""
    if mistake == "states":
        return torch.stack([torch.linalg.vector_norm(h.detach()) for h in states])
    grads = torch.autograd.grad(loss, states, retain_graph=True, allow_unused=True, materialize_grads=True)
    norm = {"squared": lambda g: (g * g).sum(), "row_mean": lambda g: g.norm(dim=-1).mean(),
            "max_abs": lambda g: g.abs().max()}.get(mistake, torch.linalg.vector_norm)
    out = torch.stack([norm(g) for g in grads])
    return out.flip(0) if mistake == "reversed" else out


def _judge_norms(case: Case, result: dict) -> Optional[str]:
    answer = result["answer"]
    problem = type_problem(answer, TENSOR_TYPES)
    if problem:
        return problem + (": torch.stack the T norms into one tensor" if answer["type"] in ("list", "tuple") else "")
    got = restore(answer)
    loss, states, _ = _norms_graph(case.args)
    expected = bptt.gradient_norms(loss, states).detach()
    T = len(states)
    if tuple(got.shape) != (T,):
        hint = ""
        if got.dim() == 2 and got.shape[0] == T:
            hint = ": one norm per step, over the batch and the hidden units together"
        return f"your norms have shape {tuple(got.shape)}, expected (T={T},){hint}"
    if got.dtype != expected.dtype:
        return f"your norms have dtype {got.dtype}, expected {expected.dtype}, the dtype of the states"
    problem = _compare("||dL/dh_t||", expected, got, ("t",), 1e-7, 1e-12)
    if problem:
        cause = _cause(got, expected, {text: (lambda key=key: norms_with(loss, states, key))
                                         for key, text in NORMS_MISTAKES.items()},
                         lambda a, b: _close(a, b, 1e-7, 1e-12))
        return problem + (f". Your norms {cause}" if cause else "")
    if result["graph_freed"]:
        return ("your norms are right, but afterwards the caller's loss.backward() fails: your function freed the "
                "graph. Pass retain_graph=True")
    if result["left_grads"]:
        return (f"your norms are right, but your function left gradients in the .grad of "
                f"{_named(result['left_grads'])} (a backward pass accumulates them there): use "
                "torch.autograd.grad(loss, states, ...), which returns the gradients without accumulating any")
    return None


def _norms_case(label: str, seed: int, B: int, T: int, I: int, H: int, scale: float = 0.5, loss_at=None):
    x, h0, W_xh, W_hh, b = _rnn_problem(seed, B, T, I, H, scale)
    steps = list(range(T)) if loss_at is None else loss_at
    return Case(label, (x, h0, W_xh, W_hh, b, _randn(seed + 5, B, T, H), steps))


register(Check(
    name="04_bptt.gradient_norms", points=1, probe=_probe_norms, judge=_judge_norms,
    visible=lambda: [_norms_case("B=2, T=6, I=3, H=4, a loss at every step", 60, 2, 6, 3, 4),
                     _norms_case("B=2, T=8, I=3, H=4, the loss at the last step only", 61, 2, 8, 3, 4, loss_at=[7])],
    hidden=lambda: [_norms_case("B=3, T=8, the loss at step 3 only (the states after it do not matter)",
                                62, 3, 8, 2, 5, loss_at=[3]),
                    _norms_case("B=1, T=1", 63, 1, 1, 2, 3),
                    _norms_case("B=2, T=40, large W_hh (tanh saturates), the loss at the last step", 64, 2, 40, 3,
                                4, scale=1.5, loss_at=[39]),
                    _norms_case("B=4, T=30, small W_hh (vanishing), the loss at the last step", 65, 4, 30, 3, 6,
                                scale=0.2, loss_at=[29])]))
