"""The guarded rnnlab copy that graded code sees (autograder/guarded.py), without the sandbox:
every chapter's checks module, reduced by ``rnnlab.checks.sandbox_copy``, imports there and
does nothing at import time; and every check's probe, run there by the recording ``check`` on
the solution, records exactly what the full module's probe gives in this process, which the
trusted judge accepts. (The sandbox itself is tested in test_sandbox_redteam.py.)"""

import os
import subprocess
import sys

import nbformat
import pytest

from autograder import course, demo, guarded, kernel, verify
from autograder.inside.paths import CASES_VARIABLE, RECORDS_VARIABLE
from rnnlab.checks import REGISTRY

SLOW_S = 10.0


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    return guarded.build(tmp_path_factory.mktemp("guarded"))


def run_there(copy, code: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"PATH": os.environ["PATH"], "PYTHONPATH": str(copy), **env}, timeout=300)


def test_every_checks_module_imports_in_the_copy_and_registers_nothing(copy):
    modules = sorted(p.stem for p in (copy / "rnnlab" / "checks").glob("ch*.py"))
    assert len(modules) == len(course.assignments())
    code = "import importlib, rnnlab.checks as c\n" + "".join(
        f"importlib.import_module('rnnlab.checks.{m}')\n" for m in modules) + "assert c.REGISTRY == {}\nprint('ok')"
    result = run_there(copy, code, {})
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr


def test_references_refuse_in_the_copy(copy):
    result = run_there(copy, "import rnnlab.ngram\nrnnlab.ngram.count_ngrams([['a']], 2)", {})
    assert "ReferenceUnavailable" in result.stderr and "not available while your notebook is graded" in result.stderr


@pytest.mark.parametrize("stem", course.assignments())
def test_probes_in_the_copy_record_what_the_full_probes_give(stem, copy, tmp_path):
    names = [n for n in REGISTRY if n.startswith(stem + ".") and REGISTRY[n].time_limit <= SLOW_S]
    run = kernel.RunFolder(tmp_path, copy)
    try:
        run.write_cases(names)
        cells = [demo.solution_code(c.source) for c in nbformat.read(
            course.SOLUTIONS / stem / f"{stem}.ipynb", as_version=4).cells
            if c.cell_type == "code" and not c.metadata.get("nbgrader", {}).get("grade")
            and (c.metadata.get("nbgrader", {}).get("solution") or c.metadata.get("nbgrader", {}).get("locked"))]
        calls = "".join(f"check({n!r}, {n.split('.', 1)[1]})\ncheck({n!r}, {n.split('.', 1)[1]}, hidden=True)\n"
                        for n in names)
        result = run_there(copy, "\n".join(cells) + "\n" + calls,
                           {CASES_VARIABLE: str(run.cases), RECORDS_VARIABLE: str(run.records)})
        assert result.returncode == 0, result.stderr[-2000:]
        records = run.read_records()
        here = demo.namespace(stem)
        for name in names:
            check, fn = REGISTRY[name], here[name.split(".", 1)[1]]
            for kind, hidden in (("visible", False), ("hidden", True)):
                mine = [check.run_probe(fn, case) for case in check.cases(hidden)]
                assert str(describe_all(mine)) == str(describe_all(records[(name, kind)])), f"{name} {kind}"
            cell = nbformat.v4.new_code_cell("")
            assert verify.judge_part(name, records, cell, None)["passed"], name
    finally:
        run.remove()


def describe_all(results):
    """Probe results with arrays as lists, comparable as text."""
    import numpy as np

    def plain(x):
        if isinstance(x, np.ndarray):
            return x.tolist()
        if isinstance(x, dict):
            return {k: plain(v) for k, v in sorted(x.items())}
        if isinstance(x, (list, tuple)):
            return [plain(v) for v in x]
        return x
    return plain(results)
