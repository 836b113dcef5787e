"""The grading entry point: release assignments, grade submissions, grade the demo class.

    python autograder/grade.py release            notebooks/ regenerated from solutions/
    python autograder/grade.py grade              autograde autograder/submitted/<student>/<NN_slug>/,
                                                   then feedback HTML and autograder/grades.csv
    python autograder/grade.py demo               submit the demo class (solution, untouched
                                                   release, one typical bug per chapter), grade it

Every nbgrader command runs with this folder as its working directory, so nbgrader reads
``nbgrader_config.py`` from here. nbgrader makes the releases, keeps the gradebook (the system
of record), writes the feedback and exports the CSV; the grading itself is ``grading.py``: each
submission runs in the bubblewrap sandbox (``sandbox.py``) and is verified by the trusted
judge, ``--workers N`` (``make grade WORKERS=N``) at a time. Without bubblewrap, grading is
refused unless ``UNSANDBOXED=1``.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
import grading  # noqa: E402
import sandbox  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SOLUTIONS, RELEASES = ROOT / "solutions", ROOT / "notebooks"
SUBMITTED, FEEDBACK = HERE / "submitted", HERE / "feedback"
GRADES_CSV = HERE / "grades.csv"


def chapters() -> list[str]:
    """The NN_slug stems that have an assignment."""
    return sorted(p.name for p in SOLUTIONS.iterdir() if (p / f"{p.name}.ipynb").exists())


def nbgrader(*args: str, db_url: str | None = None, workdir: Path | None = None,
             quiet: bool = True, check: bool = True) -> None:
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
    subprocess.run(command, cwd=HERE, check=check, env=env)


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

def check_sandbox() -> None:
    """Refuse to grade without bubblewrap unless told to (UNSANDBOXED=1)."""
    if sandbox.unsandboxed():
        print("warning: UNSANDBOXED=1: submissions run WITHOUT the sandbox (never for real students)",
              file=sys.stderr)
        return
    why = sandbox.missing()
    if why:
        sys.exit(f"refusing to grade: the sandbox is not available ({why}).\n"
                 "Install bubblewrap, or run `make grade UNSANDBOXED=1` to grade without it "
                 "(only for your own notebooks).")


def jobs_of(submitted: Path, options: grading.Options | None = None) -> list:
    """One job per autograder/submitted/<student>/<NN_slug>/ folder of a known chapter."""
    options = options or grading.Options(sandboxed=not sandbox.unsandboxed())
    jobs = []
    for stem in chapters():
        for folder in sorted(submitted.glob(f"*/{stem}")):
            if folder.is_dir():
                jobs.append(grading.Job(folder.parent.name, stem, str(folder / f"{stem}.ipynb"), options))
    return jobs


def run_jobs(jobs: list, db_url: str, autograded: Path, workers: int = 1, client=None) -> list[dict]:
    """Grade the jobs and record every result in the gradebook: serially, in a pool of
    ``workers`` processes (the results recorded here, one writer), or on a Dask ``client``
    (each task records its own result: the gradebook is a shared PostgreSQL then)."""
    if client is not None:
        futures = client.map(grading.grade_and_record, jobs, db_url=db_url,
                             autograded=str(autograded), pure=False)
        return client.gather(futures)
    results = []
    if workers <= 1:
        for job in jobs:
            result = grading.grade_submission(job)
            grading.record(result, db_url, autograded)
            results.append(result)
        return results
    import concurrent.futures
    import multiprocessing
    # spawn, not fork: a forked child of a process that has run torch's thread pool can hang
    # in its first parallel torch operation
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for result in pool.map(grading.grade_submission, jobs):
            grading.record(result, db_url, autograded)
            results.append(result)
    return results


def grade(db_url: str | None = None, csv_path: Path = GRADES_CSV, workdir: Path | None = None,
          workers: int = 1, options: grading.Options | None = None, client=None,
          feedback: bool = True) -> list[dict]:
    """Grade every submission, write feedback and the grades CSV; return the CSV rows.
    Submissions are read from autograder/submitted/, or from ``workdir``/submitted/ (tests)."""
    if options is None or options.sandboxed:
        check_sandbox()
    submitted = workdir / "submitted" if workdir else SUBMITTED
    if not submitted.exists() or not any(submitted.iterdir()):
        sys.exit(f"nothing to grade: put submissions in {submitted}/<student>/<NN_slug>/")
    db_url = db_url or os.environ.get("RNNLAB_GRADEBOOK_URL") or f"sqlite:///{HERE / 'gradebook.db'}"
    autograded = (workdir or HERE) / "autograded"
    release_dir = (workdir or HERE / ".work") / "release"
    jobs = jobs_of(submitted, options)
    stems = sorted({job.stem for job in jobs})
    for stem in stems:  # the assignment in the gradebook
        nbgrader("generate_assignment", stem, "--force",
                 f"--CourseDirectory.release_directory={release_dir}", db_url=db_url)
    try:
        results = run_jobs(jobs, db_url, autograded, workers, client)
    finally:
        grading.close_gradebooks()
    for stem in stems if feedback else []:
        nbgrader("generate_feedback", stem, "--force", db_url=db_url, workdir=workdir, check=False)
    return export(db_url, csv_path, results)


def export(db_url: str, csv_path: Path, results: list[dict]) -> list[dict]:
    """nbgrader's CSV export, with two columns added: ``review`` (the notebook's own tests and
    the verification disagree, or the grader failed) and ``reason`` (every lost point and
    every fault, in words)."""
    nbgrader("export", f"--to={csv_path}", db_url=db_url)
    by_key = {(r["student"], r["stem"]): r for r in results}
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        result = by_key.get((row["student_id"], row["assignment"]))
        row["review"] = "; ".join(result["review"]) if result else ""
        row["reason"] = reason_of(result) if result else ""
    fields = list(rows[0].keys()) if rows else ["student_id", "assignment", "score", "review", "reason"]
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return rows


def reason_of(result: dict) -> str:
    lost = [f"{part}: {v['message']}" for part, v in result["parts"].items() if v["message"]]
    return " | ".join(result["notes"] + lost) or "full marks: every case verified"


DEMO = {"demo_solution": "the instructor's solution (full marks)",
        "demo_untouched": "the release notebook as downloaded (0 points)",
        "demo_typical_bug": "a typical mistake: {bug} (loses that part's points only)"}


def demo(db_url: str | None = None, workers: int = 1) -> list[dict]:
    """Submit and grade the demo class: for every chapter, the solution, the untouched release
    and its first buggy variant (a typical mistake that loses one part's points)."""
    typical_bug = {}  # chapter stem -> the name of its demo bug
    for stem in chapters():
        submit("demo_solution", stem, make_submission(stem, "solution"))
        submit("demo_untouched", stem, make_submission(stem, "none"))
        variants = buggy_variants(stem)
        if variants:
            typical_bug[stem], bug = next(iter(variants.items()))
            submit("demo_typical_bug", stem, make_submission(stem, "solution", {bug["part"]: bug["code"]}))
    options = None
    if sandbox.missing() and not sandbox.unsandboxed():
        # the demo class is the instructor's own notebooks: grading it without the sandbox is safe
        print(f"note: no sandbox here ({sandbox.missing()}); the demo class is graded without it")
        options = grading.Options(sandboxed=False)
    rows = grade(db_url, workers=workers, options=options)
    print("\nDemo class grades:")
    for row in rows:
        print(f"  {row['student_id']:<18} {row['assignment']:<12} {float(row['score']):5.1f} / "
              f"{float(row['max_score']):.0f}   "
              f"{DEMO.get(row['student_id'], '').format(bug=typical_bug.get(row['assignment']))}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["release", "grade", "demo"])
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS") or 1),
                        help="submissions graded at once (default: $WORKERS or 1)")
    args = parser.parse_args()
    if args.command == "grade":
        grade(workers=args.workers)
    elif args.command == "demo":
        demo(workers=args.workers)
    else:
        release()


if __name__ == "__main__":
    main()
