"""The named checks that grade every assignment part.

A check is declared once, here, and used everywhere: by the visible test cell of the
assignment (``check("01_ngram.perplexity", perplexity)``), by its hidden tests
(``check(..., hidden=True)``, other cases of the same check) and by the autograder. A check
knows its cases, its reference answer, its tolerance, its time limit and its points, and when
the student's answer is wrong it says what was expected, what was got and where they first
differ.

Chapters register their checks in one module each, ``chNN_slug.py`` for ``NN_slug.*``
(``ch01_ngram`` declares ``01_ngram.count_ngrams``, ...); every such module of this package is
imported here, so a new chapter only adds its file.
"""

import importlib
import pkgutil

from .framework import REGISTRY, Case, Check, CheckFailed, check, register

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("ch")):
    importlib.import_module(f"{__name__}.{_module}")

__all__ = ["check", "Check", "Case", "CheckFailed", "REGISTRY", "register"]
