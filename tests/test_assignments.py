"""Every assignment follows the pattern: one-line visible test cells calling a named check,
hidden tests calling the same check, points equal to the check's, and releases that are exactly
what nbgrader generates from the sources (never stale)."""

import json
import re

import nbformat
import pytest

from autograder import course
from rnnlab.checks import REGISTRY

STEMS = course.assignments()


def graded_cells(stem):
    nb = nbformat.read(course.SOLUTIONS / stem / f"{stem}.ipynb", as_version=4)
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


def test_every_chapter_in_the_book_has_its_assignment():
    assert STEMS == course.chapters()


@pytest.mark.parametrize("stem", STEMS)
def test_every_graded_cell_is_one_line_calling_a_declared_check(stem):
    cells = graded_cells(stem)
    assert 3 <= len(cells) <= 7
    for cell in cells:
        visible, _, hidden = cell.source.partition("### BEGIN HIDDEN TESTS")
        match = re.fullmatch(r'check\("([^"]+)", (\w+)\)', visible.strip())
        assert match, f"{stem}: a visible test must be one line check(\"{stem}.part\", fn): {visible!r}"
        name, fn = match.groups()
        assert name == f"{stem}.{fn}" and name in REGISTRY
        assert f'check("{name}", {fn}, hidden=True)' in hidden
        assert cell.metadata.nbgrader["points"] == REGISTRY[name].points, \
            f"{name}: the notebook's points differ from rnnlab.checks"


@pytest.mark.parametrize("stem", STEMS)
def test_releases_are_not_stale(stem, course_copy):
    _, work = course_copy
    fresh = json.loads((work / "release" / stem / f"{stem}.ipynb").read_text())
    committed = json.loads((course.RELEASES / stem / f"{stem}.ipynb").read_text())
    assert fresh == committed, f"notebooks/{stem} is stale: run `make release` and commit it"


@pytest.mark.parametrize("stem", STEMS)
def test_release_has_no_solutions_or_hidden_tests(stem):
    text = (course.RELEASES / stem / f"{stem}.ipynb").read_text()
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text and "hidden=True" not in text
    assert "raise NotImplementedError()" in text
