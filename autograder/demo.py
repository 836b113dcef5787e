"""Submissions made from the course's own sources: the demo class of ``make demo`` and the
submissions the tests grade.

    make_submission(stem, "solution")   the release notebook with the instructor's answers
    make_submission(stem, "none")       the release as downloaded (every answer unimplemented)
    wrong_answers(stem), right_answers(stem)
                                        the answers of autograder/answers/NN_slug.py, written the
                                        way students write them: WRONG ones (each must lose
                                        exactly its part's points) and RIGHT ones written
                                        differently from the solution (each must pass):
                                        {name: {"part": grade_id, "code": source of the answer cell}}
    namespace(stem, replace)            the solution's setup and answer cells run in this process,
                                        as IPython runs a cell (same line numbers, same source
                                        lines in tracebacks)
"""

from __future__ import annotations

import linecache
import os
import runpy
import shutil
from pathlib import Path

import nbformat

from . import batch, course, sandbox

SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def solution_code(cell_source: str) -> str:
    """A source solution cell without its ``### BEGIN/END SOLUTION`` markers."""
    return "\n".join(line for line in cell_source.splitlines() if line.strip() not in SOLUTION_MARKERS)


def _answers(stem: str) -> dict:
    path = course.ANSWERS / f"{stem}.py"
    return runpy.run_path(str(path)) if path.exists() else {}


def wrong_answers(stem: str) -> dict:
    """The plausible wrong answers of a chapter (see the module docstring)."""
    return _answers(stem).get("WRONG", {})


def right_answers(stem: str) -> dict:
    """Right answers written differently from the solution (see the module docstring)."""
    return _answers(stem).get("RIGHT", {})


def namespace(stem: str, replace: dict | None = None) -> dict:
    """The names the solution notebook's setup cells and answer cells define, run here in
    order, with the answer cells named in ``replace`` ({grade_id: source}) replaced (test cells
    and ungraded cells are not run)."""
    source = nbformat.read(course.SOLUTIONS / stem / f"{stem}.ipynb", as_version=4)
    names = {"__name__": f"answers_{stem}"}
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("grade") or not (meta.get("solution") or meta.get("locked")):
            continue
        code = (replace or {}).get(meta["grade_id"], solution_code(cell.source))
        exec(_as_ipython_compiles(code, f"<{stem}: {meta['grade_id']}>"), names)
    return names


def _as_ipython_compiles(cell_source: str, filename: str):
    """The cell's code object as the kernel would run it: IPython's cell transforms first
    (leading blank lines dropped, so the line numbers are the notebook's), the source in
    linecache (so a traceback shows the line, as it does in the notebook)."""
    from IPython.core.inputtransformer2 import TransformerManager
    code = TransformerManager().transform_cell(cell_source)
    linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
    return compile(code, filename, "exec")


def make_submission(stem: str, answers: str = "solution", replace: dict | None = None):
    """The release notebook of ``stem`` as a student would hand it in: with the instructor's
    answers (``answers="solution"``) or untouched (``"none"``), then the cells named in
    ``replace`` ({grade_id: source}) overwritten."""
    release = nbformat.read(course.RELEASES / stem / f"{stem}.ipynb", as_version=4)
    solutions = {}
    if answers == "solution":
        source = nbformat.read(course.SOLUTIONS / stem / f"{stem}.ipynb", as_version=4)
        solutions = {c.metadata["nbgrader"]["grade_id"]: solution_code(c.source)
                     for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")}
    solutions.update(replace or {})
    for cell in release.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in solutions:
            cell.source = solutions[grade_id]
    return release


def submit(student: str, stem: str, notebook, submitted: Path = course.SUBMITTED) -> Path:
    """Put ``notebook`` where nbgrader looks for ``student``'s submission of ``stem``."""
    folder = submitted / student / stem
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    path = folder / f"{stem}.ipynb"
    nbformat.write(notebook, path)
    return path


DEMO = {"demo_solution": "the instructor's solution (full marks)",
        "demo_untouched": "the release notebook as downloaded (0 points)",
        "demo_typical_bug": "a typical mistake: {bug} (loses that part's points only)"}


def demo(workers: int = 1) -> list[dict]:
    """Submit and grade the demo class: for every assignment, the solution, the untouched
    release and its first wrong answer (a typical mistake that loses one part's points). The
    demo class is the instructor's own notebooks: where there is no sandbox it is graded
    without one, and says so."""
    typical_bug = {}
    for stem in course.assignments():
        submit("demo_solution", stem, make_submission(stem, "solution"))
        submit("demo_untouched", stem, make_submission(stem, "none"))
        variants = wrong_answers(stem)
        if variants:
            typical_bug[stem], bug = next(iter(variants.items()))
            submit("demo_typical_bug", stem, make_submission(stem, "solution", {bug["part"]: bug["code"]}))
    if sandbox.refusal():
        print(f"note: no sandbox here ({sandbox.missing()}); the demo class is graded without it")
        os.environ["UNSANDBOXED"] = "1"
    rows = batch.grade(workers=workers)
    print("\nDemo class grades:")
    for row in rows:
        if row["student_id"] in DEMO:
            print(f"  {row['student_id']:<18} {row['assignment']:<22} {float(row['score']):5.1f} / "
                  f"{float(row['max_score']):.0f}   "
                  + DEMO[row["student_id"]].format(bug=typical_bug.get(row["assignment"])))
    return rows
