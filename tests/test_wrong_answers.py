"""Every answer of autograder/answers/NN_slug.py judged at the check level, in this process: each
wrong answer fails its part's check (some case, visible or hidden) and leaves every other part
passing; each right answer, written differently from the solution, passes every case of its
part. (A sample of them also goes through the sandbox in test_grading.py.) Another part is judged
again only when the wrong answer's cell binds a name that part's function reads (directly or
through the functions it calls); otherwise that part runs exactly the solution's code, which
test_grading.py grades in full."""

import dis
import symtable
import types

import pytest

from autograder import course, demo
from rnnlab.checks import REGISTRY


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


GLOBAL_OPS = {"LOAD_GLOBAL", "LOAD_NAME", "STORE_GLOBAL", "DELETE_GLOBAL"}


def globals_read(fn, namespace: dict) -> set:
    """The global names ``fn`` reads (not its attributes: ``F.cross_entropy`` reads ``F``), and
    those of the functions of ``namespace`` it calls."""
    seen, todo = set(), [fn]
    while todo:
        code = getattr(todo.pop(), "__code__", None)
        stack = [code] if code else []
        while stack:
            code = stack.pop()
            for instruction in dis.get_instructions(code):
                name = instruction.argval
                if instruction.opname in GLOBAL_OPS and name not in seen:
                    seen.add(name)
                    if isinstance(namespace.get(name), types.FunctionType):
                        todo.append(namespace[name])
            stack += [c for c in code.co_consts if isinstance(c, types.CodeType)]
    return seen


def bound_names(source: str) -> set:
    """The global names a cell binds: at its top level (defs, classes, assignments, imports), or
    inside a function under a ``global`` statement; not the local names of its functions."""
    top = symtable.symtable(source, "<cell>", "exec")
    names, tables = set(), [top]
    while tables:
        table = tables.pop()
        names |= {s.get_name() for s in table.get_symbols()
                  if (table is top or s.is_declared_global())
                  and (s.is_assigned() or s.is_imported() or s.is_namespace())}
        tables += table.get_children()
    return names


@pytest.mark.parametrize("stem, name, answer", answers("wrong"))
def test_a_wrong_answer_loses_exactly_its_part(stem, name, answer):
    names = demo.namespace(stem, {answer["part"]: answer["code"]})
    assert failure(stem, answer["part"], names), f"{name}: the check of {answer['part']} passed it"
    rebound = bound_names(answer["code"])
    for part in parts_of(stem):
        if part != answer["part"] and globals_read(names[part], names) & rebound:
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
