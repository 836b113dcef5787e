"""The feedback page a student receives (nbgrader's generate_feedback): one HTML file that works
offline, with the formulas typeset and long lines wrapped.

``templates/feedback/mathjax.html.j2``, found before nbconvert's own macro of that name, writes
MathJax 3's SVG build into nbgrader's feedback page (the template filter ``mathjax_source``,
``HTMLExporter.filters``: the same offline copy the course site uses, from the
sphinx-mathjax-offline package) and makes long lines wrap.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path


TEMPLATES = Path(__file__).resolve().parent / "templates"


def mathjax_source(_=None) -> str:
    """MathJax 3 with TeX input and SVG output (no font files needed), as one script (a template
    filter: its input is ignored)."""
    package = Path(importlib.util.find_spec("sphinx-mathjax-offline").origin).parent
    return (package / "static" / "mathjax" / "tex-svg.js").read_text(encoding="utf-8")


def nbgrader_templates() -> str:
    """nbgrader's own template folder (its feedback page, which ours extends)."""
    import nbgrader
    return str(Path(nbgrader.__file__).resolve().parent / "server_extensions" / "formgrader" / "templates")
