"""The grading entry point: release assignments, grade submissions, grade the demo class.

    python autograder/grade.py release            notebooks/ regenerated from solutions/
    python autograder/grade.py grade              autograde autograder/submitted/<student>/<NN_slug>/,
                                                   then feedback HTML and autograder/grades.csv
    python autograder/grade.py demo               submit the demo class (solution, untouched
                                                   release, one typical bug per chapter), grade it

Every nbgrader command runs with this folder as its working directory, so nbgrader reads
``nbgrader_config.py`` from here.
"""

from __future__ import annotations

import argparse
import csv
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SOLUTIONS, RELEASES = ROOT / "solutions", ROOT / "notebooks"
SUBMITTED, FEEDBACK = HERE / "submitted", HERE / "feedback"
GRADES_CSV = HERE / "grades.csv"


def chapters() -> list[str]:
    """The NN_slug stems that have an assignment."""
    return sorted(p.name for p in SOLUTIONS.iterdir() if (p / f"{p.name}.ipynb").exists())


def nbgrader(*args: str, db_url: str | None = None, workdir: Path | None = None,
             quiet: bool = True) -> None:
    """Run an nbgrader command; ``workdir`` moves submitted/, autograded/ and feedback/ there."""
    command = [sys.executable, "-m", "nbgrader", *args]
    if workdir:
        command += [f"--CourseDirectory.{kind}_directory={workdir / kind}"
                    for kind in ("submitted", "autograded", "feedback")]
    if db_url:
        command.append(f"--CourseDirectory.db_url={db_url}")
    if quiet:
        command.append("--log-level=WARN")
    env = dict(os.environ)  # nbgrader runs the `alembic` of its own environment
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    subprocess.run(command, cwd=HERE, check=True, env=env)


# ---------------------------------------------------------------------------------------------
# Releases
# ---------------------------------------------------------------------------------------------

def release(release_dir: Path = RELEASES, db_url: str | None = None) -> None:
    """Generate the student notebooks of every chapter into ``release_dir``."""
    for stem in chapters():
        nbgrader("generate_assignment", stem, "--force",
                 f"--CourseDirectory.release_directory={release_dir}", db_url=db_url)


# ---------------------------------------------------------------------------------------------
# Submissions made from the sources (demo class, pipeline tests)
# ---------------------------------------------------------------------------------------------

def solution_code(cell_source: str) -> str:
    """A source solution cell without its ``### BEGIN/END SOLUTION`` markers."""
    return "\n".join(line for line in cell_source.splitlines()
                     if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))


def buggy_variants(stem: str) -> dict:
    """The plausible wrong answers of a chapter: {name: {"part": grade_id, "code": source}}."""
    path = HERE / "buggy" / f"{stem}.py"
    return runpy.run_path(str(path))["VARIANTS"] if path.exists() else {}


def make_submission(stem: str, answers: str = "solution", replace: dict | None = None):
    """The release notebook of ``stem`` as a student would hand it in: with the instructor's
    answers (``answers="solution"``) or untouched (``"none"``), then the cells named in
    ``replace`` ({grade_id: source}) overwritten."""
    release_nb = nbformat.read(RELEASES / stem / f"{stem}.ipynb", as_version=4)
    if answers == "solution":
        source_nb = nbformat.read(SOLUTIONS / stem / f"{stem}.ipynb", as_version=4)
        solutions = {c.metadata["nbgrader"]["grade_id"]: solution_code(c.source)
                     for c in source_nb.cells if c.metadata.get("nbgrader", {}).get("solution")}
    else:
        solutions = {}
    solutions.update(replace or {})
    for cell in release_nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in solutions:
            cell.source = solutions[grade_id]
    return release_nb


def submit(student: str, stem: str, notebook, submitted: Path = SUBMITTED) -> Path:
    folder = submitted / student / stem
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    path = folder / f"{stem}.ipynb"
    nbformat.write(notebook, path)
    return path


# ---------------------------------------------------------------------------------------------
# Grading
# ---------------------------------------------------------------------------------------------

def grade(db_url: str | None = None, csv_path: Path = GRADES_CSV,
          workdir: Path | None = None) -> list[dict]:
    """Autograde every submission, write feedback and the grades CSV; return the CSV rows.
    Submissions are read from autograder/submitted/, or from ``workdir``/submitted/ (tests)."""
    submitted = workdir / "submitted" if workdir else SUBMITTED
    if not submitted.exists() or not any(submitted.iterdir()):
        sys.exit(f"nothing to grade: put submissions in {submitted}/<student>/<NN_slug>/")
    release_dir = (workdir or HERE / ".work") / "release"
    for stem in chapters():
        if not list(submitted.glob(f"*/{stem}")):
            continue
        nbgrader("generate_assignment", stem, "--force",
                 f"--CourseDirectory.release_directory={release_dir}", db_url=db_url)
        nbgrader("autograde", stem, "--force", "--create", db_url=db_url, workdir=workdir)
        nbgrader("generate_feedback", stem, "--force", db_url=db_url, workdir=workdir)
    nbgrader("export", f"--to={csv_path}", db_url=db_url)
    with open(csv_path, newline="") as f:
        return list(csv.DictReader(f))


DEMO = {"demo_solution": "the instructor's solution (full marks)",
        "demo_untouched": "the release notebook as downloaded (0 points)"}


def demo(db_url: str | None = None) -> list[dict]:
    """Submit and grade the demo class: for every chapter, the solution, the untouched release
    and its first buggy variant (a typical mistake that loses one part's points)."""
    for stem in chapters():
        submit("demo_solution", stem, make_submission(stem, "solution"))
        submit("demo_untouched", stem, make_submission(stem, "none"))
        variants = buggy_variants(stem)
        if variants:
            name, bug = next(iter(variants.items()))
            DEMO["demo_typical_bug"] = f"one typical mistake per chapter ({stem}: {name})"
            submit("demo_typical_bug", stem, make_submission(stem, "solution", {bug["part"]: bug["code"]}))
    rows = grade(db_url)
    print("\nDemo class grades:")
    for row in rows:
        print(f"  {row['student_id']:<18} {row['assignment']:<12} {float(row['score']):5.1f} / "
              f"{float(row['max_score']):.0f}   {DEMO.get(row['student_id'], '')}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["release", "grade", "demo"])
    args = parser.parse_args()
    {"release": release, "grade": grade, "demo": demo}[args.command]()


if __name__ == "__main__":
    main()
