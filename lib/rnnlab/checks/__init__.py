"""The named checks that grade every assignment part.

A check is declared once, here, and used everywhere: by the visible test cell of the
assignment (``check("01_ngram.perplexity", perplexity)``), by its hidden tests
(``check(..., hidden=True)``, other cases of the same check) and by the autograder. A check
knows its cases, its reference answer, its tolerance, its time limit and its points, and when
the student's answer is wrong it says what was expected, what was got and where they first
differ.

Chapters register their checks in one module each, ``chNN_slug.py`` for ``NN_slug.*``
(``ch01_ngram`` declares ``01_ngram.count_ngrams``, ...); ``REGISTRY`` imports such a module
the first time one of its checks is looked up, so a new chapter only adds its file.
"""

from .framework import REGISTRY, Case, Check, CheckFailed, check, register
from .sandboxed import sandbox_copy

__all__ = ["check", "Check", "Case", "CheckFailed", "REGISTRY", "register", "sandbox_copy"]
