"""The score of record: the answers recorded in the sandbox, judged here against rnnlab's
references, turned into the outcome of each test cell that nbgrader scores.

``Verify`` follows ``kernel.SandboxedExecute`` in ``Autograde.autograde_preprocessors``. For
every test cell it takes the answers that the cell's ``check`` calls recorded (visible and
hidden cases, plain data) and judges them with the check's trusted half
(``Check.run_judge``). Then it rewrites the cell's outputs so that nbgrader's own
``SaveAutoGrades`` gives the part its points exactly when every case is right: a wrong part
ends in a ``CheckFailed`` error output with the message, a right one has no error (text the
student's code printed on stderr, a warning, is shown as ordinary output: nbgrader would count
it as a failure). Nothing the student's code printed or raised decides a score.

It also writes ``verdicts.json`` beside the autograded notebook (every part's score and
message, the notes on the submission, what an instructor should review), which
``gradebook.export`` turns into the ``reason`` and ``review`` columns of grades.csv, and puts
the notes at the top of the notebook for the feedback.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade, is_solution

from .kernel import check_names
from .submission import notes_of

VERDICTS = "verdicts.json"


def judge_part(name: str, records: dict, cell, skipped: str | None) -> dict:
    """{"passed", "message", "review"} of the part whose test cell is ``cell``."""
    from rnnlab.checks import REGISTRY
    if name not in REGISTRY:
        return {"passed": False, "message": f"the test cell calls an unknown check {name!r}", "review": None}
    check = REGISTRY[name]
    got = {kind: records.get((name, kind)) for kind in ("visible", "hidden")}
    if got["visible"] is None or got["hidden"] is None:
        errors = [o for o in cell.outputs if o.get("output_type") == "error"]
        if skipped:
            return {"passed": False, "message": f"the test cell was not run ({skipped})", "review": None}
        if errors:
            return {"passed": False, "review": None,
                    "message": f"the test cell raised {errors[0].ename}: {str(errors[0].evalue)[:300]}"}
        return {"passed": False, "message": "the test cell recorded no answer for the grader",
                "review": "the test cell ran without an error but recorded no answer (check bypassed?)"}
    for kind, hidden in (("visible", False), ("hidden", True)):
        cases, answers = check.cases(hidden), got[kind]
        if not isinstance(answers, list) or len(answers) != len(cases):
            return {"passed": False, "review": None,
                    "message": f"the grader received {len(answers) if isinstance(answers, list) else 'no'} "
                               f"answers for the {len(cases)} {kind} cases"}
        for case, answer in zip(cases, answers):
            problem = check.run_judge(case, answer)
            if problem:
                return {"passed": False, "review": None,
                        "message": f"{'hidden case' if hidden else 'case'} {case.label}: {problem}"}
    return {"passed": True, "message": None, "review": None}


def _outcome(cell, verdict: dict, points: float) -> None:
    """The test cell's outputs as nbgrader should score them, the grader's verdict last."""
    kept = []
    for output in cell.outputs:
        if output.get("output_type") == "error" and verdict["passed"]:
            continue
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            output = nbformat.v4.new_output("stream", name="stdout", text="".join(
                "[warning] " + line for line in output.text.splitlines(True)))
        kept.append(output)
    if verdict["passed"]:
        text = (f"Grader (verified outside your notebook): {points:g} / {points:g} points: passed, "
                "every visible and hidden case is right")
        kept.append(nbformat.v4.new_output("stream", name="stdout", text=text + "\n"))
    else:
        text = f"Grader (verified outside your notebook): 0 / {points:g} points. {verdict['message']}"
        kept.append(nbformat.v4.new_output("error", ename="CheckFailed", evalue=verdict["message"],
                                           traceback=[text]))
    cell.outputs = kept


class Verify(NbGraderPreprocessor):
    """Judge the recorded answers; make every test cell's outcome the verdict (module docstring)."""

    def preprocess(self, nb, resources):
        run = resources["rnnlab"]   # what SandboxedExecute, the step before, found
        notes = notes_of(nb) + run["notes"]
        parts, review = {}, []
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or not is_grade(cell) or is_solution(cell):
                continue
            names = check_names(cell)
            name = names[0] if names else "(none)"
            part = name.split(".", 1)[-1]
            points = float(cell.metadata["nbgrader"]["points"])
            verdict = judge_part(name, run["records"], cell, run["skipped"].get(index))
            _outcome(cell, verdict, points)
            parts[part] = {"score": points if verdict["passed"] else 0.0, "points": points,
                           "message": verdict["message"]}
            if verdict["review"]:
                review.append(f"{part}: {verdict['review']}")
        if notes:
            nb.cells.insert(0, nbformat.v4.new_markdown_cell(
                "**Notes from the grader**\n\n" + "\n".join(f"- {n}" for n in notes)))
        info = resources["nbgrader"]
        verdicts = {"student": info["student"], "assignment": info["assignment"], "parts": parts,
                    "notes": notes, "review": review}
        Path(resources["metadata"]["path"], VERDICTS).write_text(json.dumps(verdicts, indent=1))
        resources["rnnlab"] = {**run, "verdicts": verdicts}
        return nb, resources
