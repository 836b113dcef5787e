"""Grading throughput: the same batch of chapter-01 submissions graded by 1 and by 2 workers,
in the sandbox, with the notebook run and the verification, into a fresh SQLite gradebook.

Prints the median time to grade one submission (the solution, the full pipeline) and the
throughput ratio of 2 workers over 1 (ideally 2.0 on a machine with 2 free cores). The 2-worker
time includes starting the worker processes (a few seconds), so small batches understate the
steady-state ratio: the default batch of 48 is a small class.

    python bench/bench_grading.py [--submissions 48]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "autograder"))

import grade  # noqa: E402
import grading  # noqa: E402
import sandbox  # noqa: E402

STEM = "01_ngram"


def batch(folder: Path, n: int) -> None:
    """n submissions: the solution and the buggy variants, in turn."""
    bugs = list(grade.buggy_variants(STEM).values())
    for i in range(n):
        replace = {} if i % 2 == 0 else {bugs[i % len(bugs)]["part"]: bugs[i % len(bugs)]["code"]}
        grade.submit(f"s{i:03d}", STEM, grade.make_submission(STEM, "solution", replace), folder / "submitted")


def timed(n: int, workers: int) -> tuple[float, list[dict]]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        batch(work, n)
        jobs = grade.jobs_of(work / "submitted", grading.Options(sandboxed=not sandbox.unsandboxed()))
        db_url = f"sqlite:///{work / 'gb.db'}"
        grade.nbgrader("generate_assignment", STEM, "--force",  # the assignment in the gradebook
                       f"--CourseDirectory.release_directory={work}/release", db_url=db_url)
        grading.assignment(STEM)
        grading.guarded_copy()
        start = time.perf_counter()  # the grading jobs only, the same work as `make grade`'s
        results = grade.run_jobs(jobs, db_url, work / "autograded", workers)
        return time.perf_counter() - start, results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--submissions", type=int, default=48)
    args = parser.parse_args()
    why = sandbox.missing()
    if why and not sandbox.unsandboxed():
        print(f"skipped: no sandbox here ({why})")
        return
    one, results = timed(args.submissions, 1)
    two, _ = timed(args.submissions, 2)
    solution = [r["seconds"] for r in results if r["score"] == max(x["score"] for x in results)]
    print(f"{args.submissions} submissions of {STEM}, notebook run + verification, sandboxed")
    print(f"  median time per submission (the solution, 1 worker): {statistics.median(solution):.2f} s")
    print(f"  1 worker:  {one:6.1f} s   ({args.submissions / one:.2f} submissions/s)")
    print(f"  2 workers: {two:6.1f} s   ({args.submissions / two:.2f} submissions/s)")
    print(f"  throughput ratio, 2 workers over 1: {one / two:.2f}x")


if __name__ == "__main__":
    main()
