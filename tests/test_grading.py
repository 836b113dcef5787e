"""The grading pipeline, end to end with nbgrader: the solution gets full marks, the untouched
release 0, and every buggy variant loses exactly the points of the part it breaks."""

import pytest

import grade
from rnnlab.checks import REGISTRY


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade the whole corpus of submissions once, in a fresh gradebook."""
    work = tmp_path_factory.mktemp("grading")
    submitted = work / "submitted"
    expected = {}
    for stem in grade.chapters():
        parts = {c.split(".", 1)[1]: REGISTRY[c].points for c in REGISTRY if c.startswith(stem + ".")}
        full = sum(parts.values())
        grade.submit("solution", stem, grade.make_submission(stem, "solution"), submitted)
        expected[("solution", stem)] = full
        grade.submit("untouched", stem, grade.make_submission(stem, "none"), submitted)
        expected[("untouched", stem)] = 0
        for i, (name, bug) in enumerate(grade.buggy_variants(stem).items()):
            student = f"bug{i}"
            grade.submit(student, stem, grade.make_submission(stem, "solution", {bug["part"]: bug["code"]}),
                         submitted)
            expected[(student, stem)] = full - parts[bug["part"]]
    rows = grade.grade(db_url=f"sqlite:///{work / 'gradebook.db'}", csv_path=work / "grades.csv",
                       workdir=work, workers=2)
    return {(r["student_id"], r["assignment"]): float(r["score"]) for r in rows}, expected, work


def test_every_submission_gets_exactly_its_expected_score(graded):
    scores, expected, _ = graded
    assert set(expected) <= set(scores)
    wrong = {k: (scores[k], v) for k, v in expected.items() if scores[k] != v}
    assert not wrong, f"(score, expected) differ: {wrong}"
    # the export lists every student for every assignment: those who submitted nothing get 0
    assert all(scores[k] == 0 for k in set(scores) - set(expected))


def test_at_least_five_buggy_variants_per_chapter():
    for stem in grade.chapters():
        assert len(grade.buggy_variants(stem)) >= 5


def test_feedback_is_written_without_hidden_tests(graded):
    for stem in grade.chapters():
        html = (graded[2] / "feedback" / "solution" / stem / f"{stem}.html").read_text()
        assert "hidden=True" not in html and "passed" in html
