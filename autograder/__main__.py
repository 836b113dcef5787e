"""The course's commands for instructors (``make release``, ``make grade``, ``make demo``):

    python -m autograder release    notebooks/ regenerated from solutions/, assignments in the gradebook
    python -m autograder grade      autograde autograder/submitted/<student>/<NN_slug>/ with nbgrader,
                                    then the feedback and autograder/grades.csv
    python -m autograder demo       submit the demo class (solution, untouched release, one typical
                                    bug per assignment) and grade it
"""

import argparse
import os

from . import batch, demo


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["release", "grade", "demo"])
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS") or 1),
                        help="submissions graded at once (default: $WORKERS or 1)")
    args = parser.parse_args()
    if args.command == "release":
        batch.release()
    elif args.command == "grade":
        batch.grade(workers=args.workers)
    else:
        demo.demo(workers=args.workers)


if __name__ == "__main__":
    main()
