"""The copy of rnnlab that sandboxed code sees: the probes without the references.

Built by the trusted grader into a folder that the sandbox mounts read-only at /opt/rnnlab:

- ``rnnlab/checks/framework.py`` and ``plain.py`` as they are (calling the student's function,
  describing its answer as plain data);
- every chapter's ``checks/chNN_slug.py`` reduced to its imports, its function and class
  definitions and its constant literals: the probes and the helpers they call (a recording
  model, a sampler) stay; the module-level code that registers checks and builds cases with
  the reference implementations is gone, so no hidden case and no expected value is computed;
- every other module of rnnlab (``ngram``, ``layers``, ``data``, ...) replaced by a stub whose
  every name refuses to run: ``rnnlab.ngram.count_ngrams(...)`` raises
  ``ReferenceUnavailable`` with a sentence saying why;
- ``rnnlab/checks/__init__.py`` whose ``check`` (the one the notebook's test cells call) runs
  the probes of the visible cases, written by the grader to /grader/visible, and records their
  plain results in /grader/notebook for the trusted process to judge.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

LIB = Path(__file__).resolve().parent.parent / "lib" / "rnnlab"
KEEP = {"checks/framework.py", "checks/plain.py"}

STUB = '''"""rnnlab.{name}: not available while grading.

The grading sandbox runs a copy of rnnlab without its reference implementations."""


class ReferenceUnavailable(RuntimeError):
    pass


_MESSAGE = ("rnnlab.{name}.{{attr}} is one of rnnlab's reference implementations: it is not "
            "available while your notebook is graded. Your answer must use your own code.")


class _Refused:
    """Stands for every name of the module; calling or instantiating it raises."""

    def __init_subclass__(cls, **kwargs):
        pass

    def __new__(cls, *args, **kwargs):
        raise ReferenceUnavailable(_MESSAGE.format(attr=getattr(cls, "_attr", cls.__name__)))


def __getattr__(attr):
    if attr.startswith("__"):
        raise AttributeError(attr)
    return type(attr, (_Refused,), {{"_attr": attr}})
'''

CHECKS_INIT = '''"""rnnlab.checks in the grading sandbox: ``check`` records the answers of the visible cases
for the trusted grader, which judges them; no reference and no hidden case exists here."""

import importlib
import os
from pathlib import Path

from .framework import Case, Check, CheckFailed
from .plain import from_wire, restore, to_wire

REGISTRY = {}
VISIBLE = Path(os.environ.get("RNNLAB_GRADER_VISIBLE", "/grader/visible"))
RECORDS = Path(os.environ.get("RNNLAB_GRADER_RECORDS", "/grader/notebook"))
_count = [0]


def _spec(name):
    path = VISIBLE / (name + ".json")
    if not path.exists():
        return None
    return from_wire(path.read_text(), (VISIBLE / (name + ".npz")).read_bytes())


def probe_of(spec):
    """The probe function a part's spec names (None: the default probe)."""
    if not spec.get("probe"):
        return None
    module, function = spec["probe"].split(":")
    return getattr(importlib.import_module(module), function)


def check(name, student_fn, hidden=False):
    __tracebackhide__ = True
    if hidden:
        raise CheckFailed("hidden tests run in the grader only")
    spec = _spec(name)
    if spec is None:
        raise CheckFailed(f"there is no check named {name!r}")
    if not callable(student_fn):
        raise CheckFailed(f"{name}: expected your function, got {type(student_fn).__name__}")
    the_check = Check(name=name, points=0, visible=None, hidden=None, probe=probe_of(spec),
                      time_limit=spec["time_limit"])
    results = [the_check.run_probe(student_fn, Case(c["label"], tuple(restore(a) for a in c["args"])))
               for c in spec["cases"]]
    _count[0] += 1
    text, blob = to_wire(results)
    stem = f"{_count[0]:03d}-{name}"
    (RECORDS / (stem + ".npz")).write_bytes(blob)
    (RECORDS / (stem + ".json")).write_text(text)
    print(f"recorded {name}: {len(results)} visible case{'s' if len(results) != 1 else ''}, "
          "judged by the grader")


__all__ = ["check", "Check", "Case", "CheckFailed", "REGISTRY"]
'''


def _literal(node) -> bool:
    try:
        ast.literal_eval(node)
        return True
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return False


def strip_module(source: str) -> str:
    """Imports, defs, classes and literal constants of a module; nothing that runs code."""
    tree = ast.parse(source)
    kept = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef,
                             ast.ClassDef)):
            kept.append(node)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            kept.append(node)  # docstring
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None and \
                _literal(node.value):
            kept.append(node)
    for node in kept:  # decorators may register or compute: drop them
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            node.decorator_list = []
    return ast.unparse(ast.Module(body=kept, type_ignores=[]))


def build(target: Path, lib: Path = LIB) -> Path:
    """Write the guarded copy into ``target``/rnnlab; return ``target``."""
    package = target / "rnnlab"
    if package.exists():
        shutil.rmtree(package)
    (package / "checks").mkdir(parents=True)
    for path in sorted(lib.rglob("*.py")):
        relative = path.relative_to(lib).as_posix()
        out = package / relative
        out.parent.mkdir(parents=True, exist_ok=True)
        if relative in KEEP:
            shutil.copyfile(path, out)
        elif relative == "__init__.py":
            out.write_text('"""rnnlab, as seen by code being graded: no reference implementations."""\n')
        elif relative == "checks/__init__.py":
            out.write_text(CHECKS_INIT)
        elif relative.startswith("checks/ch"):
            out.write_text(strip_module(path.read_text()))
        elif path.name == "__init__.py":
            out.write_text("")
        else:
            name = relative[:-3].replace("/", ".")
            out.write_text(STUB.format(name=name))
    return target
