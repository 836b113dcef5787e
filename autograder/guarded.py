"""The copy of rnnlab that code being graded sees: the probes without the references.

Built by the grader into a folder that the sandbox mounts read-only (``paths.GUARDED_MOUNT``):

- ``rnnlab/checks/framework.py`` and ``plain.py`` as they are (calling the student's function,
  describing its answer as plain data);
- every chapter's ``checks/chNN_slug.py`` reduced by ``rnnlab.checks.sandbox_copy`` (the rule is
  written, and tested, next to the checks): its imports, its function and class definitions and
  its constant literals stay, the module-level code that registers checks and builds cases with
  the reference implementations is gone, so no hidden case and no expected value is computed;
- every other module of rnnlab (``ngram``, ``layers``, ``data``, ...) replaced by
  ``inside/refused.py``, whose every name refuses to run with a sentence saying why;
- ``rnnlab/checks/__init__.py`` replaced by ``inside/checks.py``, whose ``check`` (the one the
  notebook's test cells call) records the probe results of the cases for the grader to judge,
  and ``inside/paths.py`` beside it as ``_paths.py``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import rnnlab
from rnnlab.checks import sandbox_copy

INSIDE = Path(__file__).resolve().parent / "inside"
LIB = Path(rnnlab.__file__).resolve().parent
KEEP = {"checks/framework.py", "checks/plain.py"}


def build(target: Path, lib: Path = LIB) -> Path:
    """Write the guarded copy into ``target``/rnnlab, world-readable; return ``target``."""
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
            shutil.copyfile(INSIDE / "checks.py", out)
        elif relative.startswith("checks/"):
            out.write_text(sandbox_copy(path.read_text()))
        elif path.name == "__init__.py":
            out.write_text("")
        else:
            shutil.copyfile(INSIDE / "refused.py", out)
    shutil.copyfile(INSIDE / "paths.py", package / "checks" / "_paths.py")
    for path in [target, *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target
