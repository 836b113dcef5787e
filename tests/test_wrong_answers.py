"""Every answer of autograder/answers/NN_slug.py judged at the check level, in this process: each
wrong answer fails its part's check (some case, visible or hidden) and leaves every other part
passing; each right answer, written differently from the solution, passes every case of its
part. (A sample of them also goes through the sandbox in test_grading.py.) Parts whose check
allows more than 10 s per case (training) are only run for the answers aimed at them."""

import pytest

from autograder import course, demo
from rnnlab.checks import REGISTRY

SLOW_S = 10.0


def parts_of(stem):
    return sorted(n.split(".", 1)[1] for n in REGISTRY if n.startswith(stem + "."))


def failure(stem, part, names):
    """The first problem of the part's check on the function ``names[part]``, or None."""
    check = REGISTRY[f"{stem}.{part}"]
    for hidden in (False, True):
        for case in check.cases(hidden):
            problem = check.problem(names[part], case)
            if problem:
                return f"{'hidden ' if hidden else ''}case {case.label}: {problem}"
    return None


def answers(kind):
    out = []
    for stem in course.assignments():
        found = demo.wrong_answers(stem) if kind == "wrong" else demo.right_answers(stem)
        out += [pytest.param(stem, name, answer, id=f"{stem}:{name}") for name, answer in found.items()]
    return out


@pytest.mark.parametrize("stem, name, answer", answers("wrong"))
def test_a_wrong_answer_loses_exactly_its_part(stem, name, answer):
    names = demo.namespace(stem, {answer["part"]: answer["code"]})
    assert failure(stem, answer["part"], names), f"{name}: the check of {answer['part']} passed it"
    for part in parts_of(stem):
        if part != answer["part"] and REGISTRY[f"{stem}.{part}"].time_limit <= SLOW_S:
            assert failure(stem, part, names) is None, f"{name} also broke {part}"


@pytest.mark.parametrize("stem, name, answer", answers("right"))
def test_a_right_answer_passes_every_case(stem, name, answer):
    names = demo.namespace(stem, {answer["part"]: answer["code"]})
    assert failure(stem, answer["part"], names) is None


@pytest.mark.parametrize("stem", course.assignments())
def test_every_part_has_eight_wrong_and_three_right_answers(stem):
    for kind, least in (("wrong", 8), ("right", 3)):
        found = demo.wrong_answers(stem) if kind == "wrong" else demo.right_answers(stem)
        for part in parts_of(stem):
            count = sum(a["part"] == part for a in found.values())
            assert count >= least, f"{stem}.{part}: {count} {kind} answers, at least {least} needed"
