"""Grading throughput: the same batch of chapter-01 submissions graded by 1 and by 2 workers, as
`make grade` grades them (one nbgrader autograde per submission, in the sandbox), into a fresh
SQLite gradebook.

Prints the median time to grade one submission (the solution, the whole nbgrader autograde) and
the throughput ratio of 2 workers over 1 (ideally 2.0 on a machine with 2 free cores). The
2-worker time includes starting the worker processes (a few seconds), so small batches
understate the steady-state ratio: the default batch of 48 is a small class.

    python bench/bench_grading.py [--submissions 48]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from autograder import batch, demo, sandbox

STEM = "01_ngram"


def submissions(folder: Path, n: int) -> None:
    """n submissions: the solution and the wrong answers, in turn."""
    wrong = list(demo.wrong_answers(STEM).values())
    for i in range(n):
        replace = {} if i % 2 == 0 else {wrong[i % len(wrong)]["part"]: wrong[i % len(wrong)]["code"]}
        demo.submit(f"s{i:03d}", STEM, demo.make_submission(STEM, "solution", replace), folder / "submitted")


def timed(n: int, workers: int) -> tuple[float, list[float]]:
    """Seconds to grade the batch (the jobs only), and the seconds of each solution job."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        submissions(work, n)
        db_url = f"sqlite:///{work / 'gb.db'}"
        batch.release(batch.nbgrader_config(db_url=db_url, release_dir=work / "release"))
        config = batch.nbgrader_config(db_url=db_url, workdir=work)
        jobs = batch.jobs_in(work / "submitted")
        start = time.perf_counter()
        if workers == 1:
            each = []
            for job in jobs:
                started = time.perf_counter()
                batch.autograde(job, config)
                if int(job.student[1:]) % 2 == 0:
                    each.append(time.perf_counter() - started)
        else:
            batch.run_jobs(jobs, config, workers)
            each = []
        return time.perf_counter() - start, each


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--submissions", type=int, default=48)
    args = parser.parse_args()
    if sandbox.refusal():
        print(f"skipped: {sandbox.refusal()}")
        return
    one, each = timed(args.submissions, 1)
    two, _ = timed(args.submissions, 2)
    print(f"{args.submissions} submissions of {STEM}, nbgrader autograde in the sandbox")
    print(f"  median time per submission (the solution, 1 worker): {statistics.median(each):.2f} s")
    print(f"  1 worker:  {one:6.1f} s   ({args.submissions / one:.2f} submissions/s)")
    print(f"  2 workers: {two:6.1f} s   ({args.submissions / two:.2f} submissions/s)")
    print(f"  throughput ratio, 2 workers over 1: {one / two:.2f}x")


if __name__ == "__main__":
    main()
