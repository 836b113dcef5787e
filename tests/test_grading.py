"""The grading pipeline end to end, through nbgrader and the sandbox, on four submissions of every
assignment: the solution gets full marks and runs without an error in any cell; the untouched
release gets 0; the first right answer of every part (autograder/answers/NN_slug.py), all in one
notebook, gets full marks; and the first wrong answer of every part, all in one notebook, loses
every part with, for each, the message the check gives in this process. Every answer is judged at
the check level in test_wrong_answers.py; here each part goes through the whole path, right and
wrong, and the sandbox must agree with the notebook."""

import json
import os
import subprocess
import sys
import zipfile

import nbformat
import pytest

from autograder import batch, course, demo
from rnnlab.checks import REGISTRY
from test_wrong_answers import failure


def points_of(stem):
    return {c.split(".", 1)[1]: REGISTRY[c].points for c in REGISTRY if c.startswith(stem + ".")}


def first_of_each_part(answers: dict) -> dict:
    """{part: source of the first answer aimed at it}."""
    first = {}
    for answer in answers.values():
        first.setdefault(answer["part"], answer["code"])
    return first


def sample(stem):
    """{student: (notebook, expected score)} of the four submissions (see the module docstring)."""
    full = sum(points_of(stem).values())
    return {"solution": (demo.make_submission(stem, "solution"), full),
            "untouched": (demo.make_submission(stem, "none"), 0),
            "right_answers": (demo.make_submission(stem, "solution", first_of_each_part(demo.right_answers(stem))), full),
            "wrong_answers": (demo.make_submission(stem, "solution", first_of_each_part(demo.wrong_answers(stem))), 0)}


def with_helpers_in_added_cells():
    """Chapter 01's solution where count_ngrams uses a helper and an import that the student put
    in cells of their own, above the answer cell (what passes in the notebook passes graded)."""
    nb = demo.make_submission("01_ngram", "solution", {"count_ngrams": '''
def count_ngrams(sentences, n):
    return Tally(tuple(g) for sentence in sentences for g in windows(pad(sentence, n), n))'''})
    index = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "count_ngrams")
    nb.cells[index:index] = [nbformat.v4.new_code_cell("from collections import Counter as Tally"),
                             nbformat.v4.new_code_cell('''
def pad(sentence, n):
    return ["<s>"] * (n - 1) + list(sentence) + ["</s>"]


def windows(tokens, n):
    return [tokens[i:i + n] for i in range(len(tokens) - n + 1)]''')]
    return nb


def with_slow_training(seconds=35):
    """Chapter 03's solution whose training takes ``seconds`` longer per case: slow, but within
    its check's time limit per case, so it keeps full marks (its test cell's two cases then take
    longer than a cell's own 60 s timeout: the check's time limits are added to it)."""
    source = nbformat.read(course.SOLUTIONS / "03_rnn" / "03_rnn.ipynb", as_version=4)
    code = next(demo.solution_code(c.source) for c in source.cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == "train_char_lm")
    code = code.replace("    torch.manual_seed(seed)",
                        f"    import time\n    time.sleep({seconds})\n    torch.manual_seed(seed)", 1)
    assert "time.sleep" in code
    return demo.make_submission("03_rnn", "solution", {"train_char_lm": code})


@pytest.fixture(scope="module")
def graded(course_copy):
    config, base = course_copy
    work = base / "pipeline"
    expected = {}
    for stem in course.assignments():
        for student, (nb, score) in sample(stem).items():
            demo.submit(student, stem, nb, work / "submitted")
            expected[(student, stem)] = score
    demo.submit("helpers_in_added_cells", "01_ngram", with_helpers_in_added_cells(), work / "submitted")
    expected[("helpers_in_added_cells", "01_ngram")] = sum(points_of("01_ngram").values())
    demo.submit("slow_training", "03_rnn", with_slow_training(), work / "submitted")
    expected[("slow_training", "03_rnn")] = sum(points_of("03_rnn").values())
    rows = batch.grade(config(work), csv_path=work / "grades.csv", workers=2)
    return {(r["student_id"], r["assignment"]): r for r in rows}, expected, work


def test_every_part_is_answered_right_and_wrong_in_the_sample():
    for stem in course.assignments():
        assert set(first_of_each_part(demo.right_answers(stem))) == set(points_of(stem))
        assert set(first_of_each_part(demo.wrong_answers(stem))) == set(points_of(stem))


def test_the_sandbox_gives_each_wrong_part_the_message_the_notebook_gives(graded):
    for stem in course.assignments():
        verdicts = json.loads((graded[2] / "autograded" / "wrong_answers" / stem / "verdicts.json").read_text())
        names = demo.namespace(stem, first_of_each_part(demo.wrong_answers(stem)))
        for part, verdict in verdicts["parts"].items():
            assert verdict["message"] == failure(stem, part, names), f"{stem}.{part}"


def test_every_submission_gets_exactly_its_expected_score(graded):
    rows, expected, _ = graded
    wrong = {k: (float(rows[k]["score"]), v, rows[k]["reason"]) for k, v in expected.items()
             if float(rows[k]["score"]) != v}
    assert not wrong, f"(score, expected, reason) differ: {wrong}"
    for key, row in rows.items():
        assert row["graded"] == ("this run" if key in expected else "not submitted"), key
        if key in expected and float(row["score"]) == float(row["max_score"]):
            assert row["reason"] == "full marks: every case verified", (key, row["reason"])


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
        # one file that works offline: MathJax written into it, no script from a CDN
        assert "window.MathJax" in html and "cdnjs" not in html and "<script src=\"http" not in html


def test_a_course_management_systems_zip_is_collected_and_graded(course_copy):
    """Submissions downloaded in bulk from a course-management system (a zip whose entries carry
    the student id and the original file name, as Moodle names them) are collected by nbgrader's
    zip_collect with the course's configuration, then graded."""
    config, base = course_copy
    work = base / "zip"
    archive = work / "downloaded" / "01_ngram" / "archive"
    archive.mkdir(parents=True)
    full = sum(points_of("01_ngram").values())
    with zipfile.ZipFile(archive / "moodle-bulk-download.zip", "w") as bundle:
        for name, student, answers in (("Ada Lovelace", "s1001", "solution"), ("Alan Turing", "s1002", "none")):
            bundle.writestr(f"{name}_{student}_assignsubmission_file_01_ngram.ipynb",
                            nbformat.writes(demo.make_submission("01_ngram", answers)))
    subprocess.run([sys.executable, "-m", "nbgrader", "zip_collect", "01_ngram",
                    # nbgrader joins this folder to the course root, even an absolute one
                    f"--ZipCollectApp.downloaded_directory={os.path.relpath(work / 'downloaded', course.ROOT)}",
                    f"--CourseDirectory.submitted_directory={work / 'submitted'}"],
                   cwd=course.ROOT, check=True, capture_output=True)
    assert sorted(p.parent.parent.name for p in (work / "submitted").glob("*/01_ngram/01_ngram.ipynb")) == ["s1001", "s1002"]
    rows = batch.grade(config(work), csv_path=work / "grades.csv", feedback=False)
    scores = {r["student_id"]: float(r["score"]) for r in rows if r["assignment"] == "01_ngram" and r["graded"] == "this run"}
    assert scores == {"s1001": full, "s1002": 0.0}
