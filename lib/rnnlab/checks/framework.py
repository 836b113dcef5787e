"""How a check runs a student's function and turns every way it can go wrong into one clear
sentence.

For each case the student's function is called on a fresh copy of the inputs, under a time
limit; then, in order: did it raise (and on which line of the student's code), did it change
its inputs, did it return None, the wrong type, NaN or infinity; and finally the check's own
comparison with the reference, which names the first place the answers differ. The first
problem found is reported as ``CheckFailed`` (an AssertionError, so nbgrader counts the test
as failed) with a one-paragraph message and no traceback into this library.
"""

from __future__ import annotations

import copy
import math
import signal
import threading
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np

REGISTRY: dict[str, "Check"] = {}


class CheckFailed(AssertionError):
    """A check found a wrong answer. The message says what was expected and what was got."""


class _TimeLimit(BaseException):
    """Raised inside the student's function when its time is up (a BaseException, so that a
    bare ``except Exception`` in student code does not swallow it)."""


@dataclass
class Case:
    """One input of a check. ``label`` is what the student is told ("P(cat | the fat)")."""

    label: str
    args: tuple
    kwargs: dict = field(default_factory=dict)


@dataclass
class Check:
    """A graded part.

    name:      ``NN_slug.part``, the name the test cells use
    points:    what the part is worth (the notebook's grade cell must say the same)
    reference: the model answer, called like the student's function
    visible:   () -> cases the student's visible test runs
    hidden:    () -> further cases, run by the hidden tests only
    returns:   the accepted type(s) of an answer
    compare:   (case, expected, got) -> None if right, else where the answers first differ
    verify:    optional (student_fn, case) -> None or message, replacing call-and-compare for
               checks that are not a function of their inputs (sampling)
    """

    name: str
    points: int
    reference: Callable
    visible: Callable[[], Sequence[Case]]
    hidden: Callable[[], Sequence[Case]]
    returns: type | tuple = object
    compare: Callable[[Case, Any, Any], Optional[str]] = None
    verify: Optional[Callable[[Callable, Case], Optional[str]]] = None
    time_limit: float = 10.0
    description: str = ""

    def problem(self, student_fn: Callable, case: Case) -> Optional[str]:
        """None if ``student_fn`` answers ``case`` right, else a message saying why not."""
        if self.verify is not None:
            return self.verify(student_fn, case)
        got, problem = call_student(student_fn, case, self.time_limit)
        if problem:
            return problem
        problem = answer_problem(got, self.returns)
        if problem:
            return problem
        expected = self.reference(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))
        return self.compare(case, expected, got)


def register(check_: Check) -> Check:
    if check_.name in REGISTRY:
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
    cases = the_check.hidden() if hidden else the_check.visible()
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


def call_student(fn: Callable, case: Case, seconds: float,
                 copy_inputs: bool = True) -> tuple[Any, Optional[str]]:
    """Call ``fn`` on a copy of the case's inputs: (answer, None) or (None, what went wrong).
    With ``copy_inputs=False`` the inputs are passed as they are (a recording model, a random
    generator whose state must advance) and not checked for changes."""
    if copy_inputs:
        args, kwargs = copy.deepcopy(case.args), copy.deepcopy(case.kwargs)
    else:
        args, kwargs = case.args, case.kwargs
    try:
        with time_limit(seconds):
            got = fn(*args, **kwargs)
    except _TimeLimit:
        return None, (f"your function did not return within {seconds:g} s "
                      "(an infinite loop, or a much slower method than needed?)")
    except NotImplementedError:
        return None, "not implemented yet: the function still raises NotImplementedError"
    except Exception as error:  # the student's bug, reported, never re-raised
        return None, f"your function raised {type(error).__name__}: {error}{_where(error)}"
    for i, (before, after) in enumerate(zip(case.args, args) if copy_inputs else ()):
        if not same(before, after):
            return None, (f"your function changed its input argument {i + 1}; "
                          "work on a copy instead of modifying what you are given")
    return got, None


def _where(error: BaseException) -> str:
    """' (line 7 of count_ngrams: `...`)' for the deepest frame outside rnnlab, if any."""
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if "rnnlab" not in f.filename.replace("\\", "/").split("/")[-3:-1]]
    if not frames:
        return ""
    f = frames[-1]
    code = f" `{f.line.strip()}`" if f.line else ""
    return f" (in {f.name}, line {f.lineno}:{code})"


def same(a: Any, b: Any) -> bool:
    """Deep equality that understands numpy arrays and torch tensors."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b, equal_nan=True))
    if type(a).__module__.startswith("torch"):
        import torch
        if isinstance(a, torch.Tensor):
            return a.shape == b.shape and a.dtype == b.dtype and bool(torch.equal(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if callable(a):
        return True
    return a == b


# ---------------------------------------------------------------------------------------------
# Judging an answer
# ---------------------------------------------------------------------------------------------

def type_name(t: type | tuple) -> str:
    names = [x.__name__ for x in (t if isinstance(t, tuple) else (t,))]
    return " or ".join(names)


def answer_problem(got: Any, returns: type | tuple) -> Optional[str]:
    """Problems every answer is checked for: None, wrong type, NaN or infinity."""
    if got is None:
        return "your function returned None: did you forget the `return` statement?"
    if not isinstance(got, returns):
        return f"expected a {type_name(returns)}, got a {type(got).__name__}: {short(got)}"
    if isinstance(got, float) and math.isnan(got):
        return "your function returned NaN"
    return None


def short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def fmt(x: float) -> str:
    """A number as students read it: 4 significant digits, or inf."""
    return "inf" if math.isinf(x) else f"{x:.4g}"


def numbers_differ(expected: float, got: float, rtol: float = 1e-6, atol: float = 1e-12) -> bool:
    if math.isinf(expected) or math.isinf(got):
        return expected != got
    return not math.isclose(expected, got, rel_tol=rtol, abs_tol=atol)


def compare_number(rtol: float = 1e-6, atol: float = 1e-12, explain=None):
    """A ``compare`` for numeric answers; ``explain(case, expected, got)`` adds a diagnosis."""
    def compare(case: Case, expected: float, got: float) -> Optional[str]:
        if not numbers_differ(expected, float(got), rtol, atol):
            return None
        message = f"expected {fmt(expected)}, got {fmt(float(got))}"
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
