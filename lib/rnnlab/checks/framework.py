"""How a check runs a student's function and turns every way it can go wrong into one clear
sentence.

A check has two halves:

- the **probe** calls the student's function on the inputs of one case, on a fresh copy and
  under a time limit, and returns plain data (``rnnlab.checks.plain``): the described answer, or
  an ``"error"`` saying what went wrong (it raised, and on which line of the student's code; it
  mixed tensors of two devices, with what to do about it; it changed its inputs; it ran too
  long). An answer computed on a GPU is described, and compared, on the CPU;
- the **judge** reads that plain data, rebuilds the answer, checks its exact type, and compares
  it with the reference answer, naming the first place where the two differ.

The notebook's test cells run both halves in the student's kernel (``check``); the grader can run
the probe in a sandbox and the judge in its own process, with the same code and the same
messages. A problem is reported as ``CheckFailed`` (an AssertionError, so nbgrader counts the
test as failed) with a one-paragraph message and no traceback into this library.
"""

from __future__ import annotations

import copy
import functools
import importlib
import math
import os
import re
import signal
import sys
import threading
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import numpy as np

from .plain import describe, plain_inputs, restore

class Registry(dict):
    """Every check, by name. A chapter's checks live in ``chNN_slug.py`` for ``NN_slug.*`` and
    are imported on the first look-up of one of its names (all of them on iteration), so that
    grading chapter 01 does not import torch, which later chapters' checks need."""

    def load(self, stem: Optional[str] = None) -> None:
        """Import the checks module of ``stem`` (e.g. ``01_ngram``), or of every chapter."""
        package, folder = __name__.rsplit(".", 1)[0], os.path.dirname(__file__)
        files = [f"ch{stem}.py"] if stem is not None else sorted(os.listdir(folder))
        for file in files:
            if file.startswith("ch") and file.endswith(".py") and os.path.exists(os.path.join(folder, file)):
                importlib.import_module(f"{package}.{file[:-3]}")

    def __missing__(self, name: str) -> "Check":
        self.load(str(name).split(".", 1)[0])
        if not dict.__contains__(self, name):
            raise KeyError(name)
        return dict.__getitem__(self, name)

    def __contains__(self, name) -> bool:
        if not dict.__contains__(self, name):
            self.load(str(name).split(".", 1)[0])
        return dict.__contains__(self, name)

    def get(self, name, default=None):
        return self[name] if name in self else default

    def __iter__(self):
        self.load()
        return dict.__iter__(self)

    def __len__(self) -> int:
        self.load()
        return dict.__len__(self)

    def keys(self):
        self.load()
        return dict.keys(self)

    def values(self):
        self.load()
        return dict.values(self)

    def items(self):
        self.load()
        return dict.items(self)


REGISTRY = Registry()


class CheckFailed(AssertionError):
    """A check found a wrong answer. The message says what was expected and what was got."""

    def _render_traceback_(self) -> list[str]:
        """What IPython shows instead of a traceback into this library: the message alone
        (the cell still ends in an error, so nbgrader counts the test as failed)."""
        return [f"\x1b[31mCheckFailed\x1b[0m: {self}"]


class _TimeLimit(BaseException):
    """Raised inside the student's function when its time is up (a BaseException, so that a
    bare ``except Exception`` in student code does not swallow it)."""


@dataclass
class Case:
    """One input of a check. ``label`` is what the student is told ("P(cat | the fat)")."""

    label: str
    args: tuple


ProbeResult = dict  # plain data: {"answer": description} or {"error": message}, or a probe's own


@dataclass
class Check:
    """A graded part.

    name:      ``NN_slug.part``, the name the test cells use
    points:    what the part is worth (the notebook's grade cell must say the same)
    visible:   () -> cases the student's visible test runs
    hidden:    () -> further cases, run by the hidden tests only
    reference: the model answer, called like the student's function (by the judge only)
    returns:   the exact type names an answer may have (``plain.NUMBER_TYPES``, ...)
    compare:   (case, expected, got) -> None if right, else where the answers first differ
    probe:     (student_fn, inputs, time_limit) -> plain data; default: call and describe
    judge:     (case, plain data) -> None or message; default: type check, then ``compare``
               with ``reference(*inputs)``. Checks that are not a function of their inputs
               (sampling) give their own probe and judge.
    """

    name: str
    points: int
    visible: Callable[[], Sequence[Case]]
    hidden: Callable[[], Sequence[Case]]
    reference: Optional[Callable] = None
    returns: tuple = ()
    compare: Optional[Callable[[Case, Any, Any], Optional[str]]] = None
    probe: Optional[Callable[[Callable, tuple, float], ProbeResult]] = None
    judge: Optional[Callable[[Case, ProbeResult], Optional[str]]] = None
    time_limit: float = 10.0

    def cases(self, hidden: bool = False) -> Sequence[Case]:
        return self.hidden() if hidden else self.visible()

    def run_probe(self, student_fn: Callable, case: Case) -> ProbeResult:
        """The student's half: plain data only."""
        inputs = plain_inputs(case.args)
        return (self.probe or default_probe)(student_fn, inputs, self.time_limit)

    def run_judge(self, case: Case, result: ProbeResult) -> Optional[str]:
        """The trusted half: None if right, else the message for the student."""
        if not isinstance(result, dict):
            return "the grader received no readable answer for this case"
        if "error" in result:
            return str(result["error"])
        try:
            if self.judge is not None:
                return self.judge(case, result)
            return self._default_judge(case, result)
        except Exception as error:  # malformed plain data: never a crash of the check
            return f"the grader could not read your answer ({type(error).__name__}: {error})"

    def _default_judge(self, case: Case, result: ProbeResult) -> Optional[str]:
        answer = result["answer"]
        problem = type_problem(answer, self.returns)
        if problem:
            return problem
        got = restore(answer)
        if isinstance(got, float) and math.isnan(got):
            return "your function returned NaN"
        expected = self.reference(*plain_inputs(case.args))
        return self.compare(case, expected, got)

    def problem(self, student_fn: Callable, case: Case) -> Optional[str]:
        """Both halves in this process."""
        return self.run_judge(case, self.run_probe(student_fn, case))


def register(check_: Check) -> Check:
    if dict.__contains__(REGISTRY, check_.name):
        raise ValueError(f"check {check_.name} declared twice")
    REGISTRY[check_.name] = check_
    return check_


def check(name: str, student_fn: Callable, hidden: bool = False) -> None:
    """Run the named check on ``student_fn``; raise ``CheckFailed`` with a clear message at the
    first case it gets wrong, print a one-line confirmation otherwise."""
    __tracebackhide__ = True  # noqa: F841 (IPython and pytest hide this frame)
    if name not in REGISTRY:
        known = ", ".join(sorted(REGISTRY))
        raise CheckFailed(f"there is no check named {name!r}; known checks: {known}")
    the_check = REGISTRY[name]
    if not callable(student_fn):
        raise CheckFailed(f"{name}: expected your function, got {type(student_fn).__name__}")
    cases = the_check.cases(hidden)
    for case in cases:
        problem = the_check.problem(student_fn, case)
        if problem:
            kind = "hidden case" if hidden else "case"
            raise CheckFailed(f"{name}, {kind} {case.label}: {problem}").with_traceback(None) from None
    print(f"passed {name}: {len(cases)} {'hidden' if hidden else 'visible'} "
          f"case{'s' if len(cases) != 1 else ''}")


# ---------------------------------------------------------------------------------------------
# Calling the student's function
# ---------------------------------------------------------------------------------------------

@contextmanager
def time_limit(seconds: float):
    """Interrupt the block after ``seconds`` (main thread on Unix; elsewhere no limit)."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def on_alarm(signum, frame):
        raise _TimeLimit()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def call_student(fn: Callable, inputs: tuple, seconds: float,
                 copy_inputs: bool = True) -> tuple[Any, Optional[str]]:
    """Call ``fn`` on a copy of the case's inputs: (answer, None) or (None, what went wrong).
    With ``copy_inputs=False`` the inputs are passed as they are (a recording model, a random
    generator whose state must advance) and not checked for changes."""
    args = copy.deepcopy(inputs) if copy_inputs else inputs
    try:
        with time_limit(seconds):
            got = fn(*args)
    except _TimeLimit:
        return None, (f"your function did not return within {seconds:g} s "
                      "(an infinite loop, or a much slower method than needed?)")
    except NotImplementedError:
        return None, "not implemented yet: the function still raises NotImplementedError"
    except Exception as error:  # the student's bug, reported, never re-raised
        if mixes_devices(error):
            return None, (f"your function mixed tensors on different devices ({type(error).__name__}: "
                          f"{error}){_where(error)}; {DEVICE_ADVICE}")
        return None, f"your function raised {type(error).__name__}: {error}{_where(error)}"
    for i, (before, after) in enumerate(zip(inputs, args) if copy_inputs else ()):
        if not same(before, after):
            return None, (f"your function changed its input argument {i + 1}; "
                          "work on a copy instead of modifying what you are given")
    return got, None


# torch's words for an operation on tensors of two devices (CPU, CUDA, meta)
_MIXED_DEVICES = re.compile(r"same device|expected device|not at the same device|"
                            r"Expected object of device type|on different devices", re.IGNORECASE)
DEVICE_ADVICE = ("the judge passes CPU tensors: create new tensors on the inputs' device "
                 "(torch.zeros(..., device=x.device), torch.zeros_like(x), x.new_zeros(...)), not on "
                 "a fixed one such as \"cuda\"; an answer on any device is compared after moving it "
                 "to the CPU")


def mixes_devices(error: BaseException) -> bool:
    """Whether torch raised ``error`` because an operation met tensors on two devices."""
    return isinstance(error, RuntimeError) and bool(_MIXED_DEVICES.search(str(error)))


def default_probe(student_fn: Callable, inputs: tuple, seconds: float) -> ProbeResult:
    """Call the student's function on a copy of ``inputs``; describe the answer."""
    got, problem = call_student(student_fn, inputs, seconds)
    return {"error": problem} if problem else {"answer": describe(got)}


class SwitchedOff(RuntimeError):
    """Raised by a library function that a check switched off while the student's function runs."""


class AutogradForbidden(SwitchedOff):
    """Raised when a part that must be derived by hand calls autograd's backward pass."""


def refusal(what: str, reason: str, error: type = SwitchedOff) -> Callable:
    """A function that raises ``error``: "<what> is switched off here: <reason>"."""
    def refused(*args, **kwargs):
        raise error(f"{what} is switched off here: {reason}")
    return refused


@contextmanager
def replaced(replacements: Sequence[tuple]):
    """Each attribute ``owner.name`` of ``replacements`` ((owner, name, value): a module or a
    class) set to ``value`` while the block runs, and put back afterwards."""
    saved = [(owner, name, owner.__dict__[name]) for owner, name, _ in replacements]
    try:
        for owner, name, value in replacements:
            setattr(owner, name, value)
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


@contextmanager
def switched_off(functions: Sequence[tuple], reason: str):
    """The library functions ``owner.name`` of ``functions`` ((module, name) pairs, e.g.
    ``(torch.nn.utils, "clip_grad_norm_")``) raise ``SwitchedOff`` with ``reason`` while the
    block runs: for parts that implement what the library does. (A name the student bound to
    the function before the block is not reached: the notebook says not to.)"""
    with replaced([(owner, name, refusal(f"{owner.__name__}.{name}", reason))
                   for owner, name in functions if name in owner.__dict__]):
        yield


def _refused_outside_rnnlab(owner, name: str, original: Callable, reason: str) -> Callable:
    """``original`` for callers inside rnnlab (a reference calling its own helpers), a refusal
    ("<owner>.<name> is switched off here: <reason>") for any other caller: the student's code."""
    package = __name__.split(".")[0]

    @functools.wraps(original)
    def guarded(*args, **kwargs):
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller == package or caller.startswith(package + "."):
            return original(*args, **kwargs)
        raise SwitchedOff(f"{owner.__name__}.{name} is switched off here: {reason}")
    return guarded


@contextmanager
def answers_switched_off(functions: Sequence[tuple], reason: str):
    """rnnlab's own answers to a part (``(module, name)`` pairs of rnnlab modules) refused to
    the student's code while the block runs, and still working for rnnlab's callers (the
    references call one another). The grading sandbox has no references at all, so an answer
    that calls them must fail in the notebook too."""
    with replaced([(owner, name, _refused_outside_rnnlab(owner, name, owner.__dict__[name], reason))
                   for owner, name in functions if name in owner.__dict__]):
        yield


@contextmanager
def autograd_forbidden(reason: str):
    """Autograd switched off while the block runs, for parts whose gradients must be derived by
    hand: the block runs under ``torch.no_grad()``, and ``Tensor.backward``,
    ``torch.autograd.backward``, ``torch.autograd.grad`` and the engine behind them (so also a
    ``grad`` imported earlier under another name, ``torch.autograd.functional`` and
    ``torch.func``) raise ``AutogradForbidden`` with ``reason``, the sentence that tells the
    student what to do instead. Everything is restored afterwards. Wrap the call of the
    student's function, and nothing else, in it (in the notebook and in the grading sandbox
    alike: the probe runs it)."""
    import torch
    from torch.autograd.variable import Variable

    class RefusingEngine:
        """The autograd engine with its backward pass refused; everything else passed on."""

        def __init__(self, engine):
            self._engine = engine

        def __getattr__(self, name):
            return getattr(self._engine, name)

        run_backward = staticmethod(refusal("autograd's backward pass", reason, AutogradForbidden))

    with replaced([(torch.Tensor, "backward", refusal("Tensor.backward()", reason, AutogradForbidden)),
                   (torch.autograd, "backward", refusal("torch.autograd.backward", reason, AutogradForbidden)),
                   (torch.autograd, "grad", refusal("torch.autograd.grad", reason, AutogradForbidden)),
                   (Variable, "_execution_engine", RefusingEngine(Variable._execution_engine))]):
        with torch.no_grad():
            yield


def _library_folders() -> tuple:
    """Where code that is not the student's lives: the Python installation, the venv, rnnlab."""
    import sys
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return tuple({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)} | {here})


def _where(error: BaseException) -> str:
    """' (in count_ngrams, line 7: `...`)' for the deepest frame of the student's own code (not
    torch's, numpy's or rnnlab's: an error raised inside a library is shown at the student's
    line that called it), if any."""
    library = _library_folders()
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if not f.filename.startswith("<frozen")
              and not os.path.realpath(f.filename).startswith(library)]
    if not frames:
        return ""
    f = frames[-1]
    code = f" `{f.line.strip()}`" if f.line else ""
    return f" (in {f.name}, line {f.lineno}:{code})"


def same(a: Any, b: Any) -> bool:
    """Deep equality that understands numpy arrays and torch tensors (a NaN equals a NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b, equal_nan=True))
    if type(a).__module__.startswith("torch"):
        import torch
        if isinstance(a, torch.Tensor):
            return a.shape == b.shape and a.dtype == b.dtype and (
                bool(torch.equal(a, b)) or a.is_floating_point() and bool((a.isnan() & b.isnan() | (a == b)).all()))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if callable(a):
        return True
    return a == b or isinstance(a, float) and math.isnan(a) and math.isnan(b)


# ---------------------------------------------------------------------------------------------
# Judging an answer
# ---------------------------------------------------------------------------------------------

def type_problem(answer: dict, accepted: tuple) -> Optional[str]:
    """Problems of the answer's type, read from its plain description."""
    if answer["type"] == "NoneType":
        return "your function returned None: did you forget the `return` statement?"
    if "repr" in answer:  # a value the probe could only name (a meta or sparse tensor, ...)
        return f"your function returned {answer['repr']}: expected a {' or '.join(accepted) or 'plain value'}"
    if accepted and answer["type"] not in accepted:
        shown = f": {short(answer['value'])}" if "value" in answer else ""
        return f"expected a {' or '.join(accepted)}, got a {answer['type']}{shown}"
    return None


def short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def fmt(x: float, digits: int = 4) -> str:
    """A number as students read it: 4 significant digits, or inf."""
    return "inf" if math.isinf(x) else f"{x:.{digits}g}"


def fmt_pair(expected: float, got: float) -> tuple[str, str]:
    """Both numbers with the fewest significant digits (at least 4) that tell them apart."""
    for digits in range(4, 18):
        a, b = fmt(expected, digits), fmt(got, digits)
        if a != b:
            return a, b
    return a, b


def numbers_differ(expected: float, got: float, rtol: float = 1e-6, atol: float = 1e-12) -> bool:
    if math.isinf(expected) or math.isinf(got):
        return expected != got
    return not math.isclose(expected, got, rel_tol=rtol, abs_tol=atol)


def compare_number(rtol: float = 1e-6, atol: float = 1e-12, explain=None):
    """A ``compare`` for numeric answers; ``explain(case, expected, got)`` adds a diagnosis."""
    def compare(case: Case, expected: float, got: float) -> Optional[str]:
        if not numbers_differ(expected, float(got), rtol, atol):
            return None
        message = "expected {}, got {}".format(*fmt_pair(expected, float(got)))
        extra = explain(case, expected, float(got)) if explain else None
        return f"{message}. {extra}" if extra else message
    return compare


def compare_counts(case: Case, expected: dict, got: dict) -> Optional[str]:
    """A ``compare`` for {key: count} answers: the first key (in sorted order) that differs."""
    exp = {k: v for k, v in expected.items() if v}
    gt = {k: v for k, v in dict(got).items() if v}
    bad_keys = [k for k in gt if not isinstance(k, tuple)]
    if bad_keys:
        return f"keys must be tuples of tokens, got {short(bad_keys[0])}"
    for key in sorted(set(exp) | set(gt), key=repr):
        if key not in gt:
            return f"{key} is missing from your counts (expected count {exp[key]})"
        if key not in exp:
            return f"your counts contain {key} (count {gt[key]}), which should not be there"
        if exp[key] != gt[key]:
            return f"count of {key}: expected {exp[key]}, got {gt[key]}"
    return None


def compare_tensor(rtol: float = 1e-5, atol: float = 1e-6, dims: Sequence[str] = (),
                   what: str = "output", explain=None):
    """A ``compare`` for tensor and array answers: shape, dtype, NaN, then the first element
    that differs, with its index named by ``dims`` ("at b=0, t=3, h=1"), and the largest
    difference. ``explain(case, expected, got)`` may add a diagnosis of the mistake."""
    def compare(case: Case, expected, got) -> Optional[str]:
        exp, gt = _as_numpy(expected), _as_numpy(got)
        if type(expected) is not type(got):
            return f"expected a {type_name_of(expected)}, got a {type_name_of(got)}"
        shape = "(" + ", ".join(f"{d}={n}" for d, n in zip(dims, exp.shape)) + ")" if dims else str(tuple(exp.shape))
        if exp.shape != gt.shape:
            hint = ""
            if sorted(exp.shape) == sorted(gt.shape):
                hint = " (the same sizes in another order: batch-first (B, T, ...) is expected)"
            return f"{what} has shape {tuple(gt.shape)}, expected {shape}{hint}"
        if str(getattr(expected, "dtype", "")) != str(getattr(got, "dtype", "")):
            return f"{what} has dtype {got.dtype}, expected {expected.dtype}"
        if np.isnan(gt).any() and not np.isnan(exp).any():
            return f"{what} contains NaN at {_index(np.argwhere(np.isnan(gt))[0], dims)}"
        close = np.isclose(gt, exp, rtol=rtol, atol=atol, equal_nan=True)
        if close.all():
            return None
        first = np.argwhere(~close)[0]
        diff = np.abs(gt.astype(np.float64) - exp.astype(np.float64))
        worst = np.unravel_index(np.nanargmax(diff), diff.shape) if diff.size else first
        shown = fmt_pair(float(exp[tuple(first)]), float(gt[tuple(first)]))
        message = (f"{what} first differs at {_index(first, dims)}: expected {shown[0]}, "
                   f"got {shown[1]} ({int((~close).sum())} of {close.size} "
                   f"elements differ; largest difference {fmt(float(diff[worst]))} at {_index(worst, dims)})")
        extra = explain(case, expected, got) if explain else None
        return f"{message}. {extra}" if extra else message
    return compare


def _as_numpy(x) -> np.ndarray:
    if isinstance(x, np.ndarray):
        return x
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def _index(index, dims: Sequence[str]) -> str:
    index = [int(i) for i in index]
    if dims and len(dims) == len(index):
        return ", ".join(f"{d}={i}" for d, i in zip(dims, index))
    return str(index)


def type_name_of(x) -> str:
    from .plain import type_name
    return type_name(x)


def diagnose(got, expected, mistakes: dict, close: Callable[[Any, Any], bool]) -> Optional[str]:
    """The explanation of the first known mistake whose result ``got`` matches, where that
    result differs from ``expected`` (a mistake that gives the right answer on this case
    cannot be what the student did wrong). ``mistakes``: {explanation: () -> the result of
    that mistake}; one that raises or returns None does not apply to this case."""
    for explanation, make in mistakes.items():
        try:
            value = make()
        except Exception:  # noqa: BLE001 (the mistake does not apply to these inputs)
            continue
        try:
            if value is not None and close(got, value) and not close(expected, value):
                return explanation
        except Exception:  # noqa: BLE001 (shapes that cannot be compared)
            continue
    return None


# ---------------------------------------------------------------------------------------------
# Case kinds that every chapter reuses (see the rules in rnnlab/checks/__init__.py)
# ---------------------------------------------------------------------------------------------

def as_leaves(value):
    """``value`` with every floating-point tensor in it (in tuples and lists too) a fresh leaf
    that requires grad; and the list of those leaves, in order (for probes of functions whose
    inputs are nested: a state tuple, a list of weights)."""
    import torch
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        leaf = value.detach().clone().requires_grad_(True)
        return leaf, [leaf]
    if isinstance(value, (list, tuple)):
        pairs = [as_leaves(v) for v in value]
        return type(value)(p[0] for p in pairs), [leaf for p in pairs for leaf in p[1]]
    return value, []


def probe_gradient(student_fn: Callable, inputs: tuple, seconds: float, leaves: Sequence[int],
                   upstream: int) -> ProbeResult:
    """Call ``student_fn`` on ``inputs`` but the last (``upstream``: the weights of the scalar
    sum(answer * upstream)), with the inputs at positions ``leaves`` made leaves that require
    grad; the answer and the gradient of that sum with respect to each leaf. A detached
    computation (no graph, or a graph that does not reach a leaf) shows as a missing gradient."""
    import torch
    args = [a.detach().clone().requires_grad_(True) if i in leaves else copy.deepcopy(a)
            for i, a in enumerate(inputs) if i != upstream]
    got, problem = call_student(student_fn, tuple(args), seconds, copy_inputs=False)
    if problem:
        return {"error": problem}
    result = {"answer": describe(got), "grads": [None] * len(leaves)}
    weight = inputs[upstream]
    if isinstance(got, torch.Tensor) and got.requires_grad and tuple(got.shape) == tuple(weight.shape):
        try:
            grads = torch.autograd.grad(upstream_total([got], [weight]), [args[i] for i in leaves],
                                        allow_unused=True)
            result["grads"] = [None if g is None else describe(g) for g in grads]
        except Exception as error:  # noqa: BLE001 (the student's graph)
            result["grad_error"] = gradient_error(error)
    return result


def upstream_total(tensors: Sequence, upstream: Sequence):
    """sum_i sum(tensors[i] * upstream[i]): the scalar whose gradient is the backward pass of the
    answer's tensors against upstream weights, each weight moved to its tensor's device and dtype
    (an answer computed on a GPU meets the judge's CPU weights)."""
    return sum((t * u.to(t.device, t.dtype)).sum() for t, u in zip(tensors, upstream))


def gradient_error(error: BaseException) -> str:
    """What went wrong in the backward pass through a student's answer, for ``judge_gradient``."""
    advice = f"; {DEVICE_ADVICE}" if mixes_devices(error) else ""
    return f"{type(error).__name__}: {error}{advice}"


def judge_gradient(result: ProbeResult, expected_grads: Sequence, names: Sequence[str],
                   dims: Sequence[Sequence[str]] = (), rtol: float = 1e-6, atol: float = 1e-9) -> Optional[str]:
    """The gradients of ``probe_gradient`` against the reference's (``expected_grads``, one per
    leaf, named ``names``); call it once the answer's value is right."""
    if "grad_error" in result:
        return f"computing the gradient through your answer failed: {result['grad_error']}"
    for i, (grad, expected, name) in enumerate(zip(result["grads"], expected_grads, names)):
        if grad is None:
            return (f"your answer has the right values but no gradient reaches {name}: compute it "
                    f"from {name} with torch operations (no .detach(), .item(), numpy, in-place "
                    "writes into a new tensor or torch.no_grad()), so that training can update it")
        problem = compare_tensor(rtol=rtol, atol=atol, dims=dims[i] if dims else (),
                                 what=f"the gradient of {name}")(None, expected, restore(grad))
        if problem:
            return problem
    return None


def module_answer(got) -> ProbeResult:
    """A probe's plain data for a part whose answer is a trained ``torch.nn.Module``: its weights,
    [[name, description], ...] from its ``state_dict()`` (the judge rebuilds the model from them and
    never touches the student's object), or the description of an answer that is not a module."""
    from torch import nn
    if not isinstance(got, nn.Module):
        return {"answer": describe(got)}
    try:
        weights = [[str(k), describe(v)] for k, v in got.state_dict().items()]
    except Exception as error:  # noqa: BLE001 (the student's module)
        return {"error": f"reading your model's weights (model.state_dict()) failed: {type(error).__name__}: {error}"}
    return {"answer": {"type": "torch.nn.Module"}, "weights": weights}


def restored_weights(weights, max_elements: int, far_more_than: str) -> tuple[Optional[dict], Optional[str]]:
    """({name: floating-point tensor}, None) from ``module_answer``'s weights, or (None, what is
    wrong): no weights, a weight that is not a floating-point tensor, or one of more than
    ``max_elements`` elements ("far more than ``far_more_than``": "a CharRNN needs", ...)."""
    import torch
    if not isinstance(weights, list):
        return None, "the grader received no weights of your model"
    found = {}
    for key, desc in weights:
        value = restore(desc)
        if not isinstance(value, torch.Tensor) or not value.dtype.is_floating_point:
            return None, f"your model's weight {key} is not a floating-point tensor"
        if value.numel() > max_elements:
            return None, f"your model's weight {key} has {value.numel()} elements, far more than {far_more_than}"
        found[key] = value
    return found, None


def seeded_initialisation(build: Callable, seed: int):
    """The model ``build()`` makes right after ``torch.manual_seed(seed)``, in float64, with the
    caller's random state left as it was: where a trained answer started from."""
    import torch
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build().double()


def never_updated(model, initial) -> list[str]:
    """The names of ``model``'s weights still equal to ``initial``'s (``state_dict`` order)."""
    import torch
    return [name for (name, p), (_, q) in zip(model.state_dict().items(), initial.state_dict().items())
            if torch.equal(p, q)]


SEEDS = (1234, 4321)


def probe_seeded(student_fn: Callable, inputs: tuple, seconds: float, generator_at: int,
                 kind: str = "torch") -> ProbeResult:
    """The student's function called three times: with a generator seeded ``SEEDS[0]`` (twice,
    each from a fresh generator) and one seeded ``SEEDS[1]``; the generator (a torch.Generator or
    a numpy Generator, ``kind``) is passed at position ``generator_at`` of ``inputs`` (whose
    value there is ignored). Returns the three answers and whether each call drew from the
    generator it was given (its state changed)."""
    answers, used = [], []
    for seed in (SEEDS[0], SEEDS[0], SEEDS[1]):
        generator = _generator(kind, seed)
        before = _generator_state(generator)
        args = tuple(generator if i == generator_at else copy.deepcopy(a) for i, a in enumerate(inputs))
        got, problem = call_student(student_fn, args, seconds, copy_inputs=False)
        if problem:
            return {"error": problem}
        answers.append(describe(got))
        used.append(_generator_state(generator) != before)
    return {"answer": answers[0], "again": answers[1], "other_seed": answers[2], "used": used}


def judge_seeded(result: ProbeResult, seeds_differ: bool = True) -> Optional[str]:
    """The three rules of a seeded function: it draws from the generator it is given, the same
    seed repeats the answer, and another seed changes it. ``seeds_differ=False`` leaves out the
    third rule, for a case whose right answer may well be the same under two seeds (a nearly
    deterministic distribution)."""
    if not all(result["used"]):
        return ("your function did not draw from the generator it was given: pass it to every "
                "random call (generator=..., or the numpy Generator's own methods)")
    same_seed = same(restore(result["answer"]), restore(result["again"]))
    if not same_seed:
        return "two calls with generators seeded alike gave different answers: draw only from the generator you are given"
    if seeds_differ and same(restore(result["answer"]), restore(result["other_seed"])):
        return ("generators with two different seeds gave the same answer: your function ignores "
                "the generator's randomness")
    return None


def _generator(kind: str, seed: int):
    if kind == "numpy":
        return np.random.default_rng(seed)
    import torch
    return torch.Generator().manual_seed(seed)


def _generator_state(generator):
    if isinstance(generator, np.random.Generator):
        return repr(generator.bit_generator.state)
    return bytes(generator.get_state().numpy())
