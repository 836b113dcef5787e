"""The course's facts, stated once: where everything is, which chapters exist, which gradebook.

The chapters are the entries of ``_toc.yml`` (``book/NN_slug``), in order; a chapter has an
assignment when ``solutions/NN_slug/NN_slug.ipynb`` exists. Everything else (the grader, the
tests, the site test) asks here: adding a chapter is one line of ``_toc.yml`` and its own files.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
TOC = ROOT / "_toc.yml"
BOOK = ROOT / "book"
SOLUTIONS = ROOT / "solutions"
RELEASES = ROOT / "notebooks"
GRADER = ROOT / "autograder"
DOWNLOADED = GRADER / "downloaded"
SUBMITTED = GRADER / "submitted"
AUTOGRADED = GRADER / "autograded"
FEEDBACK = GRADER / "feedback"
GRADES_CSV = GRADER / "grades.csv"
ANSWERS = GRADER / "answers"
STEM = re.compile(r"\d\d_[a-z0-9_]+")
GRADEBOOK_VARIABLE = "RNNLAB_GRADEBOOK_URL"


def chapters() -> list[str]:
    """The NN_slug stems of the book's chapters, in the order of ``_toc.yml``."""
    toc = yaml.safe_load(TOC.read_text())
    stems = []
    for entry in toc.get("chapters", []):
        stem = Path(entry["file"]).name
        if STEM.fullmatch(stem):
            stems.append(stem)
    return stems


def assignments() -> list[str]:
    """The chapters that have an assignment (a source notebook in ``solutions/``)."""
    return [stem for stem in chapters() if (SOLUTIONS / stem / f"{stem}.ipynb").exists()]


def gradebook_url() -> str:
    """The gradebook: ``$RNNLAB_GRADEBOOK_URL`` (e.g. postgresql://user@host/db), else the
    SQLite file ``autograder/gradebook.db``."""
    return os.environ.get(GRADEBOOK_VARIABLE) or f"sqlite:///{GRADER / 'gradebook.db'}"
