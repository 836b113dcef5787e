"""rnnlab.checks as code being graded sees it (installed as ``rnnlab/checks/__init__.py`` of the
guarded copy): ``check`` calls the student's function on the inputs of every case of the named
check and records the plain answers for the trusted grader, which judges them. Nothing is
judged here: no reference implementation and no expected value exists in the sandbox.

The grader writes each check's cases to the read-only folder named by the variable ``CASES_VARIABLE``
(``<name>.json`` + ``.npz``, ``plain.to_wire``: the probe as ``module:function`` or null, the
time limit per case, the visible and the hidden cases' labels and plain inputs). Each call of
``check`` writes ``<NNN>-<name>-<visible|hidden>.json`` + ``.npz`` to the folder named by
``RECORDS_VARIABLE``: the probe results, one per case. Whatever the student's code writes
there instead can only be answers of its own, which the grader judges like any other.
"""

import importlib
import os
from pathlib import Path

from ._paths import CASES_VARIABLE, RECORDS_VARIABLE
from .framework import Case, Check, CheckFailed
from .plain import from_wire, restore, to_wire

REGISTRY = {}  # the checks themselves exist only in the grader
_calls = [0]


def _spec(name):
    folder = Path(os.environ[CASES_VARIABLE])
    path = folder / (name + ".json")
    if not path.is_file():
        return None
    return from_wire(path.read_text(), (folder / (name + ".npz")).read_bytes())


def _probe(spec):
    """The probe function named by the spec (None: the default probe)."""
    if not spec["probe"]:
        return None
    module, function = spec["probe"].split(":")
    return getattr(importlib.import_module(module), function)


def check(name, student_fn, hidden=False):
    __tracebackhide__ = True  # noqa: F841
    spec = _spec(name)
    if spec is None:
        raise CheckFailed(f"there is no check named {name!r}")
    if not callable(student_fn):
        raise CheckFailed(f"{name}: expected your function, got {type(student_fn).__name__}")
    kind = "hidden" if hidden else "visible"
    the_check = Check(name=name, points=0, visible=None, hidden=None, probe=_probe(spec),
                      time_limit=spec["time_limit"])
    results = [the_check.run_probe(student_fn, Case(c["label"], tuple(restore(a) for a in c["args"])))
               for c in spec[kind]]
    _calls[0] += 1
    text, blob = to_wire(results)
    folder, stem = Path(os.environ[RECORDS_VARIABLE]), f"{_calls[0]:03d}-{name}-{kind}"
    (folder / (stem + ".npz")).write_bytes(blob)
    (folder / (stem + ".json")).write_text(text)   # last: the grader reads the .json's
    print(f"recorded {name}: {len(results)} {kind} case{'s' if len(results) != 1 else ''}, "
          "judged by the grader")


__all__ = ["check", "Check", "Case", "CheckFailed", "REGISTRY"]
