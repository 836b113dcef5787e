"""A grading run: every ``submitted/<student>/<NN_slug>/`` graded by nbgrader's own autograde,
then the feedback and grades.csv.

    release()   nbgrader generate_assignment for every assignment: the releases in notebooks/
                and the assignments (their cells and points) in the gradebook
    grade()     one job per submission: NbGraderAPI.autograde, with the course's
                nbgrader_config.py (so exactly what `nbgrader autograde` does); jobs run one
                after the other, in a pool of processes, or on a Dask cluster (every job writes
                its grades into the gradebook, which is a shared PostgreSQL database then);
                then nbgrader's feedback and ``gradebook.export`` (grades.csv)

Whatever runs the jobs, a submission's score is the same: each job is a whole nbgrader
autograde of that one submission.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm
from traitlets.config import Config, PyFileConfigLoader

from . import course, sandbox
from .gradebook import export

# nbgrader's gradebook code predates SQLAlchemy 2 and warns on every submission
warnings.filterwarnings("ignore", message=".*not in session.*")
# nbgrader runs the `alembic` command of its environment when it opens a gradebook
os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])


@dataclass(frozen=True)
class Job:
    student: str
    stem: str


def nbgrader_config(db_url: str | None = None, workdir: Path | None = None,
                    release_dir: Path | None = None, **execute) -> Config:
    """The course's nbgrader_config.py, with the gradebook, the grading folders (submitted/,
    autograded/, feedback/ under ``workdir``), the release folder and ``SandboxedExecute``
    settings replaced where given (tests and benchmarks grade in folders of their own)."""
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course.ROOT)).load_config()
    if db_url:
        config.CourseDirectory.db_url = db_url
    if workdir:
        for kind in ("submitted", "autograded", "feedback"):
            config.CourseDirectory[f"{kind}_directory"] = str(Path(workdir) / kind)
    if release_dir:
        config.CourseDirectory.release_directory = str(release_dir)
    for key, value in execute.items():
        config.SandboxedExecute[key] = value
    return config


def folder(config: Config, kind: str) -> Path:
    """The course directory ``kind`` (submitted, autograded, feedback) of ``config``."""
    path = Path(config.CourseDirectory[f"{kind}_directory"])
    return path if path.is_absolute() else course.ROOT / path


def api(config: Config):
    from nbgrader.apps import NbGraderAPI
    return NbGraderAPI(config=config)


def release(config: Config | None = None) -> None:
    """The release of every assignment, and the assignments in the gradebook."""
    config = config or nbgrader_config()
    for stem in course.assignments():
        result = api(config).generate_assignment(stem, force=True, create=True)
        if not result["success"]:
            log = f"{result.get('log', '')}{result.get('error', '')}"
            hint = ("\nThe gradebook holds submissions of an earlier version of this notebook, whose "
                    "cells changed since: nbgrader refuses to change them. Restore the cells, or grade "
                    "this version into a new gradebook (remove autograder/gradebook.db if it holds only "
                    "the demo class), then `make release` again." if "submissions associated" in log else "")
            sys.exit(f"nbgrader generate_assignment {stem} failed:\n{log}{hint}")


def jobs_in(submitted: Path) -> list[Job]:
    """One job per ``submitted/<student>/<NN_slug>/`` folder of a known assignment."""
    return [Job(path.parent.name, stem) for stem in course.assignments()
            for path in sorted(submitted.glob(f"*/{stem}")) if path.is_dir()]


def autograde(job: Job, config: Config) -> dict:
    """nbgrader autograde of one submission; its grades go into the gradebook of ``config``."""
    result = api(config).autograde(job.stem, job.student, force=True, create=True)
    return {"student": job.student, "stem": job.stem, "success": bool(result["success"]),
            "log": (result.get("log") or "")[-4000:] + (result.get("error") or "")[-4000:]}


def run_jobs(jobs: list[Job], config: Config, workers: int = 1, client=None) -> list[dict]:
    """Grade the jobs: one after the other, in ``workers`` processes, or on a Dask ``client``."""
    results = []
    with tqdm(total=len(jobs), desc="grading", unit="submission", file=sys.stdout) as progress:
        if client is not None:
            from dask.distributed import as_completed
            futures = client.map(autograde, jobs, config=config, pure=False)
            for future in as_completed(futures):
                results.append(future.result())
                progress.update()
        elif workers <= 1:
            for job in jobs:
                results.append(autograde(job, config))
                progress.update()
        else:
            # spawn, not fork: a forked child of a process that has run torch's thread pool can
            # hang in its first parallel torch operation
            context = multiprocessing.get_context("spawn")
            with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
                futures = [pool.submit(autograde, job, config) for job in jobs]
                for future in concurrent.futures.as_completed(futures):
                    results.append(future.result())
                    progress.update()
    return results


def grade(config: Config | None = None, csv_path: Path = course.GRADES_CSV, workers: int = 1,
          client=None, feedback: bool = True) -> list[dict]:
    """Grade every submission, write the feedback and grades.csv; return grades.csv's rows."""
    config = config or nbgrader_config()
    why = sandbox.refusal()
    if why:
        sys.exit(why)
    if sandbox.unsandboxed():
        print("warning: UNSANDBOXED=1: submissions run WITHOUT the sandbox (never for real students)",
              file=sys.stderr)
    submitted = folder(config, "submitted")
    jobs = jobs_in(submitted)
    if not jobs:
        sys.exit(f"nothing to grade: put submissions in {submitted}/<student>/<NN_slug>/")
    results = run_jobs(jobs, config, workers, client)
    for result in results:
        if not result["success"]:
            print(f"nbgrader could not grade {result['student']}/{result['stem']}:\n{result['log']}",
                  file=sys.stderr)
    for stem in sorted({job.stem for job in jobs}) if feedback else []:
        api(config).generate_feedback(stem, force=True)
    return export(config.CourseDirectory.db_url, folder(config, "autograded"), Path(csv_path),
                  {(job.student, job.stem) for job in jobs})
