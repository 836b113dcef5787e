"""What of a chapter's checks module exists in the grading sandbox, and so what a probe may use.

A student's notebook is graded in a sandbox whose rnnlab has no reference implementations and
no hidden expected values. The checks modules (``chNN_slug.py``) are copied there by
``sandbox_copy``: only their imports, their function and class definitions (without
decorators) and their constant literals are kept; every other module-level statement (the
``register(...)`` calls, cases built with the references, tables filled by a loop) is dropped.
So a probe, and everything a probe calls, must be a function or class of the module or of
``framework``/``plain``, or a literal constant: never a value computed at import time, never
a reference implementation (in the sandbox those modules refuse every call). The test
``tests/test_guarded.py`` runs every check's probe from the sandbox copy and
compares its answers with the full module's.
"""

from __future__ import annotations

import ast


def _literal(node) -> bool:
    try:
        ast.literal_eval(node)
        return True
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return False


def sandbox_copy(source: str) -> str:
    """The source of a checks module as the sandbox has it: imports, defs, classes and literal
    constants; nothing that runs code at import time."""
    tree = ast.parse(source)
    kept = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef,
                             ast.ClassDef)):
            kept.append(node)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            kept.append(node)  # docstring
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None and \
                _literal(node.value):
            kept.append(node)
    for node in kept:  # decorators may register or compute: drop them
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            node.decorator_list = []
    return ast.unparse(ast.Module(body=kept, type_ignores=[]))
