"""Reading a submission whatever state it is in: the first step of ``nbgrader autograde``.

Two nbgrader extension points, both set in ``nbgrader_config.py``:

- ``SubmissionExporter`` (``Autograde.exporter_class``) reads the submitted file: bytes that
  are not UTF-8 are read as Latin-1, an old notebook format is upgraded, and a file that is not
  a notebook at all is replaced by the untouched release (so it is graded, with 0 points);
- ``DescribeStructure`` (the first of ``Autograde.sanitize_preprocessors``) compares the cells
  with the release's: edited nbgrader metadata is put back, cells with unknown grade ids become
  ordinary cells, of duplicated or split cells the last keeps the grade id and the others
  become ordinary cells (all of them run), and deleted or reordered answer cells are noted.
  nbgrader's own sanitizing steps follow (``OverwriteCells`` restores the locked cells and
  the tests, and puts deleted tests back).

Every such repair is said in words: the notes travel in the notebook's metadata
(``rnnlab.notes``) to ``verify.Verify``, which puts them into the feedback and grades.csv.
"""

from __future__ import annotations

import json
import nbformat
from nbconvert.exporters import NotebookExporter
from nbgrader.preprocessors import NbGraderPreprocessor

from . import course

NOTES = "rnnlab"


def add_notes(nb, notes: list[str]) -> None:
    """Append ``notes`` to the grader's notes carried in the notebook's metadata."""
    if notes:
        nb.metadata.setdefault(NOTES, {}).setdefault("notes", []).extend(notes)


def notes_of(nb) -> list[str]:
    return list(nb.metadata.get(NOTES, {}).get("notes", []))


def release_of(stem: str):
    """The release notebook of an assignment, as nbgrader generated it."""
    return nbformat.read(course.RELEASES / stem / f"{stem}.ipynb", as_version=4)


def read_submission(raw: bytes):
    """(notebook or None, notes): decoding, JSON and nbformat upgrades, each said in words."""
    notes = []
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        text = raw.decode("latin-1")
        notes.append(f"the file is not UTF-8 text (byte {error.start}); it was read as Latin-1")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        return None, notes + [f"the file is not a valid notebook: not JSON ({str(error)[:120]})"]
    if not isinstance(data, dict) or "nbformat" not in data:
        return None, notes + ["the file is JSON but not a notebook (no nbformat field)"]
    try:
        version = int(data.get("nbformat", 0))
        nb = nbformat.reads(json.dumps(data), as_version=4)
    except Exception as error:  # noqa: BLE001 (any nbformat failure is the submission's)
        return None, notes + [f"the notebook could not be read: {type(error).__name__}: {str(error)[:120]}"]
    if version < 4:
        notes.append(f"the notebook is in format {version}; it was upgraded to format 4")
    for cell in nb.cells:
        if not isinstance(cell.get("source", ""), str):
            cell.source = "".join(cell.source)
        if not isinstance(cell.get("metadata"), dict):
            cell.metadata = nbformat.NotebookNode()
    return nb, notes


class SubmissionExporter(NotebookExporter):
    """nbgrader's notebook exporter, reading a submitted file whatever state it is in."""

    def from_file(self, file_stream, resources=None, **kw):
        raw = file_stream.buffer.read() if hasattr(file_stream, "buffer") else file_stream.read().encode()
        nb, notes = read_submission(raw)
        if nb is None:
            nb = release_of(resources["nbgrader"]["assignment"])
            notes.append("so no answer could be graded")
        add_notes(nb, notes)
        return self.from_notebook_node(nb, resources, **kw)


def _nbgrader_meta(cell):
    meta = cell.metadata.get("nbgrader") if isinstance(cell.metadata, dict) else None
    return meta if isinstance(meta, dict) else None


class DescribeStructure(NbGraderPreprocessor):
    """Compare the submission's cells with the release's: restore edited metadata, demote cells
    with unknown grade ids, and note deleted, duplicated, split and reordered answer cells."""

    def preprocess(self, nb, resources):
        release = release_of(resources["nbgrader"]["assignment"])
        known = {m["grade_id"]: m for m in map(_nbgrader_meta, release.cells) if m and "grade_id" in m}
        answers = [g for g, m in known.items() if m.get("solution") and not m.get("grade")]
        notes, seen, order = [], {}, []
        for cell in nb.cells:
            meta = _nbgrader_meta(cell)
            if meta is None:
                continue
            grade_id = meta.get("grade_id")
            if not isinstance(grade_id, str) or grade_id not in known:
                if meta.get("solution") or meta.get("grade") or meta.get("locked"):
                    notes.append(f"a cell carries an unknown grade_id {str(grade_id)[:40]!r} (edited "
                                 "metadata); it was run as an ordinary cell")
                cell.metadata.pop("nbgrader")
                continue
            edited = [k for k in ("points", "locked", "solution", "grade", "grade_id")
                      if meta.get(k) != known[grade_id].get(k)]
            if edited:
                notes.append(f"the metadata of cell {grade_id} was edited ({', '.join(edited)}); "
                             "the course's metadata was used")
                cell.metadata["nbgrader"] = {**meta, **known[grade_id]}
            seen[grade_id] = seen.get(grade_id, 0) + 1
            if grade_id in answers and grade_id not in order:
                order.append(grade_id)
        for grade_id, count in seen.items():
            if count > 1:
                notes.append(f"{count} cells carry grade_id {grade_id} (duplicated or split); "
                             "all of them were run, in notebook order")
                # nbgrader's DeduplicateIds would leave an empty nbgrader entry that its
                # OverwriteCells cannot read: the last keeps the metadata, the others lose it
                carriers = [c for c in nb.cells if (_nbgrader_meta(c) or {}).get("grade_id") == grade_id]
                for cell in carriers[:-1]:
                    cell.metadata.pop("nbgrader")
        used = set()
        for cell in nb.cells:  # unique cell ids, whatever was copied
            if cell.get("id") in used or not cell.get("id"):
                cell["id"] = f"cell-{len(used)}"
            used.add(cell["id"])
        for grade_id in answers:
            if grade_id not in seen:
                notes.append(f"the answer cell {grade_id} is missing (deleted, or its metadata edited)")
        if order != [g for g in answers if g in order]:
            notes.append("the answer cells are in another order than in the assignment; "
                         "the notebook was run in its own order")
        add_notes(nb, notes)
        return nb, resources
