"""The gradebook, nbgrader's system of record, and what leaves it: comments and grades.csv.

- ``SaveComments`` follows nbgrader's ``SaveAutoGrades`` in ``Autograde.autograde_preprocessors``:
  the verdict of every part becomes the automatic comment of its answer cell, so formgrader
  shows why a point was lost.
- ``export`` writes grades.csv: nbgrader's CSV export (every student and assignment of the
  gradebook), with three columns added from each submission's ``verdicts.json``: ``graded``
  (this run, an earlier run, or not submitted), ``review`` (what an instructor should look at)
  and ``reason`` (every lost point and every fault, in words; a line of the student's code
  where the message names one).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from nbgrader.api import Gradebook
from nbgrader.plugins.export import CsvExportPlugin
from nbgrader.preprocessors import NbGraderPreprocessor

from .verify import VERDICTS

FULL_MARKS = "full marks: every case verified"


class SaveComments(NbGraderPreprocessor):
    """Each part's verdict as the automatic comment of its answer cell in the gradebook."""

    def preprocess(self, nb, resources):
        info, verdicts = resources["nbgrader"], resources["rnnlab"]["verdicts"]
        with Gradebook(info["db_url"]) as gb:
            for part, verdict in verdicts["parts"].items():
                try:
                    comment = gb.find_comment(part, info["notebook"], info["assignment"], info["student"])
                except Exception:  # noqa: BLE001 (a part whose answer cell is not a solution cell)
                    continue
                comment.auto_comment = verdict["message"] or "verified: every case is right"
            gb.db.commit()
        return nb, resources


def reason_of(verdicts: dict) -> str:
    lost = [f"{part}: {v['message']}" for part, v in verdicts["parts"].items() if v["message"]]
    return " | ".join(verdicts["notes"] + lost) or FULL_MARKS


def export(db_url: str, autograded: Path, csv_path: Path, graded_now: set) -> list[dict]:
    """grades.csv (see the module docstring); ``graded_now``: the (student, assignment) pairs of
    this run. Returns the rows."""
    with Gradebook(db_url) as gb:
        CsvExportPlugin(to=str(csv_path)).export(gb)
        submitted = {(s.student.id, s.assignment.name) for a in gb.assignments for s in a.submissions}
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        key = (row["student_id"], row["assignment"])
        path = autograded / key[0] / key[1] / VERDICTS
        verdicts = json.loads(path.read_text()) if path.exists() else None
        if key in graded_now:
            row["graded"] = "this run"
        elif key in submitted:
            row["graded"] = "an earlier run"
        else:
            row["graded"] = "not submitted"
        if verdicts is None:
            row["review"] = "" if row["graded"] == "not submitted" else "no verdicts: the grader failed (see its log)"
            row["reason"] = "nothing was submitted" if row["graded"] == "not submitted" else "not verified"
        else:
            row["review"] = "; ".join(verdicts["review"])
            row["reason"] = reason_of(verdicts)
    fields = list(rows[0].keys()) if rows else ["student_id", "assignment", "score", "graded", "review", "reason"]
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return rows
