"""No answer of any type or shape crashes a judge: every check of every chapter, given answers of
the wrong type, rank, shape, dtype and device, NaN and infinity, empty results, generators,
objects whose methods lie and huge sizes, says what is wrong in one line, never "the grader
could not read your answer"; a tensor of the wrong shape is reported with both shapes."""

import math

import numpy as np
import pytest
import torch

from rnnlab.checks import REGISTRY
from rnnlab.checks.plain import plain_inputs


class Liar:
    """Equal to everything, of every length, true, and a number of any kind."""

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __len__(self):
        return 3

    def __bool__(self):
        return True

    def __float__(self):
        return 0.5

    def __iter__(self):
        return iter([self, self, self])

    def __getitem__(self, key):
        return self

    __hash__ = object.__hash__


class LyingFloat(float):
    def __eq__(self, other):
        return True

    __hash__ = float.__hash__


def recursive_list():
    a = []
    a.append(a)
    return a


WEIRD = {
    "None": lambda: None, "an int": lambda: 42, "a float": lambda: 3.5, "NaN": lambda: math.nan,
    "infinity": lambda: math.inf, "minus infinity": lambda: -math.inf, "a string": lambda: "text",
    "bytes": lambda: b"bytes", "True": lambda: True, "a complex number": lambda: 1 + 2j,
    "an empty list": lambda: [], "an empty tuple": lambda: (), "an empty dict": lambda: {},
    "a nested list": lambda: [1, [2, [3]]], "a recursive list": recursive_list,
    "a dict of lists": lambda: {"a": [1, 2]}, "a dict with tuple keys of lists": lambda: {(1, 2): [3]},
    "a set": lambda: {1, 2}, "a generator": lambda: (x for x in range(3)), "a function": lambda: print,
    "a lying object": Liar, "a float subclass equal to everything": lambda: LyingFloat(0.25),
    "a 0-d tensor": lambda: torch.tensor(0.5), "a NaN tensor": lambda: torch.full((2, 3), math.nan),
    "an empty tensor": lambda: torch.zeros(0), "a (3, 0) tensor": lambda: torch.zeros(3, 0),
    "a rank-4 tensor": lambda: torch.zeros(2, 3, 4, 5), "a bool tensor": lambda: torch.ones(3, dtype=torch.bool),
    "an int32 tensor": lambda: torch.zeros(2, 2, dtype=torch.int32),
    "a complex tensor": lambda: torch.zeros(2, dtype=torch.complex64),
    "a float16 tensor": lambda: torch.zeros(2, 3, dtype=torch.float16),
    "a meta tensor": lambda: torch.empty(3, 4, device="meta"),
    "a sparse tensor": lambda: torch.eye(3).to_sparse(),
    "a parameter": lambda: torch.nn.Parameter(torch.zeros(2, 3)),
    "a huge tensor": lambda: torch.zeros(3_000_000),
    "a numpy array": lambda: np.zeros((2, 3)), "a numpy string array": lambda: np.array(["a", "b"]),
    "a numpy object array": lambda: np.array([object(), object()]),
    "a numpy int32 scalar": lambda: np.int32(3), "a module": lambda: torch.nn.Linear(2, 2),
    "a huge list": lambda: list(range(300_000)),
}


def answering(value):
    def student_fn(*args, **kwargs):
        return value
    return student_fn


def cases():
    for name in sorted(REGISTRY):
        for answer in WEIRD:
            yield pytest.param(name, answer, id=f"{name}-{answer}")


@pytest.mark.parametrize("name, answer", list(cases()))
def test_a_weird_answer_gets_one_line_naming_the_problem(name, answer):
    check = REGISTRY[name]
    case = check.cases(False)[0]
    problem = check.problem(answering(WEIRD[answer]()), case)
    assert isinstance(problem, str) and problem, f"{name} accepted {answer}"
    assert "could not read" not in problem, problem
    assert "\n" not in problem and len(problem) < 800, problem


def tensor_checks():
    for name in sorted(REGISTRY):
        check = REGISTRY[name]
        if check.reference is None:
            continue
        case = check.cases(False)[0]
        try:
            expected = check.reference(*plain_inputs(case.args))
        except Exception:  # noqa: BLE001 (a reference that needs more than the case)
            continue
        if isinstance(expected, torch.Tensor) and expected.dim() >= 1:
            yield pytest.param(name, tuple(expected.shape), id=name)


@pytest.mark.parametrize("name, shape", list(tensor_checks()))
def test_a_wrong_shape_is_reported_with_both_shapes(name, shape):
    check = REGISTRY[name]
    case = check.cases(False)[0]
    for wrong in (shape + (1,), shape[:-1], tuple(reversed(shape)) if len(set(shape)) > 1 else shape + (2,)):
        problem = check.problem(answering(torch.zeros(wrong, dtype=torch.float64)), case)
        assert problem and str(tuple(wrong)) in problem, (wrong, problem)
        assert all(str(n) in problem for n in shape), (shape, problem)
