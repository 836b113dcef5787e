"""Every assignment follows the pattern: one-line visible test cells calling a named check,
hidden tests calling the same check, points equal to the check's, and releases that are exactly
what nbgrader generates from the sources (never stale)."""

import filecmp
import json
import re

import nbformat
import pytest

import grade
from conftest import ROOT
from rnnlab.checks import REGISTRY

STEMS = grade.chapters()


def graded_cells(stem):
    nb = nbformat.read(ROOT / "solutions" / stem / f"{stem}.ipynb", as_version=4)
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


@pytest.mark.parametrize("stem", STEMS)
def test_every_graded_cell_is_one_line_calling_a_declared_check(stem):
    cells = graded_cells(stem)
    assert 4 <= len(cells) <= 7
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
def test_releases_are_not_stale(stem, tmp_path):
    grade.release(release_dir=tmp_path / "release", db_url=f"sqlite:///{tmp_path / 'gb.db'}")
    fresh = json.loads((tmp_path / "release" / stem / f"{stem}.ipynb").read_text())
    committed = json.loads((ROOT / "notebooks" / stem / f"{stem}.ipynb").read_text())
    assert fresh == committed, (f"notebooks/{stem} is stale: run `make release` and commit it")


@pytest.mark.parametrize("stem", STEMS)
def test_release_has_no_solutions_or_hidden_tests(stem):
    text = (ROOT / "notebooks" / stem / f"{stem}.ipynb").read_text()
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text and "hidden=True" not in text
    assert "raise NotImplementedError()" in text
