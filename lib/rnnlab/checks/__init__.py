"""The named checks that grade every assignment part.

A check is declared once, here, and used everywhere: by the visible test cell of the
assignment (``check("01_ngram.perplexity", perplexity)``), by its hidden tests
(``check(..., hidden=True)``, other cases of the same check) and by the autograder. A check
knows its cases, its reference answer, its tolerance, its time limit and its points, and when
the student's answer is wrong it says what was expected, what was got and where they first
differ.

Chapters register their checks in one module each (``ch01_ngram`` for ``01_ngram.*``).
"""

from .framework import REGISTRY, Case, Check, CheckFailed, check, register
from . import ch01_ngram  # noqa: F401  (registers the 01_ngram checks)

__all__ = ["check", "Check", "Case", "CheckFailed", "REGISTRY", "register"]
