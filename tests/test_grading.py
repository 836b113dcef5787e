"""The grading pipeline end to end, through nbgrader and the sandbox, on a sample of every
assignment: the solution gets full marks and runs without an error in any cell, the untouched
release gets 0, and one wrong answer per part (the first of autograder/answers/NN_slug.py for that
part) loses exactly that part's points. Every wrong answer is judged at the check level in
test_wrong_answers.py; here each kind of part goes through the whole path once."""

import json

import pytest

from autograder import batch, course, demo
from rnnlab.checks import REGISTRY


def points_of(stem):
    return {c.split(".", 1)[1]: REGISTRY[c].points for c in REGISTRY if c.startswith(stem + ".")}


def sample(stem):
    """{student: (notebook, expected score)}: the solution, the untouched release, one wrong
    answer per part."""
    points = points_of(stem)
    full = sum(points.values())
    corpus = {"solution": (demo.make_submission(stem, "solution"), full),
              "untouched": (demo.make_submission(stem, "none"), 0)}
    first = {}
    for name, bug in demo.wrong_answers(stem).items():
        first.setdefault(bug["part"], (name, bug))
    for part, (name, bug) in sorted(first.items()):
        corpus[f"wrong_{part}"] = (demo.make_submission(stem, "solution", {bug["part"]: bug["code"]}),
                                   full - points[part])
    return corpus


@pytest.fixture(scope="module")
def graded(course_copy):
    config, base = course_copy
    work = base / "pipeline"
    expected = {}
    for stem in course.assignments():
        for student, (nb, score) in sample(stem).items():
            demo.submit(student, stem, nb, work / "submitted")
            expected[(student, stem)] = score
    rows = batch.grade(config(work), csv_path=work / "grades.csv", workers=2)
    return {(r["student_id"], r["assignment"]): r for r in rows}, expected, work


def test_every_part_has_a_wrong_answer_in_the_sample():
    for stem in course.assignments():
        assert {k for k in sample(stem) if k.startswith("wrong_")} == {f"wrong_{p}" for p in points_of(stem)}


def test_every_submission_gets_exactly_its_expected_score(graded):
    rows, expected, _ = graded
    wrong = {k: (float(rows[k]["score"]), v, rows[k]["reason"]) for k, v in expected.items()
             if float(rows[k]["score"]) != v}
    assert not wrong, f"(score, expected, reason) differ: {wrong}"
    for key, row in rows.items():
        assert row["graded"] == ("this run" if key in expected else "not submitted"), key


def test_the_solution_runs_without_an_error_in_any_cell(graded):
    for stem in course.assignments():
        nb = json.loads((graded[2] / "autograded" / "solution" / stem / f"{stem}.ipynb").read_text())
        errors = [(i, o.get("ename"), o.get("evalue")) for i, c in enumerate(nb["cells"])
                  for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, f"{stem}: cells of the solution raised {errors}"


def test_feedback_is_written_without_hidden_tests(graded):
    for stem in course.assignments():
        html = (graded[2] / "feedback" / "solution" / stem / f"{stem}.html").read_text()
        assert "hidden=True" not in html and "passed" in html
