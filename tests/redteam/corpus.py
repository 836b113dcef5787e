"""The red-team and fault corpora of the grader, as submissions of assignment 01.

ATTACKS: each wraps an honest wrong answer (a buggy variant of ``autograder/buggy/01_ngram.py``)
in a trick meant to get the points anyway; the grader must give it no more than the honest
wrong answer. ``{ROOT}``, ``{WORK}`` and ``{PORT}`` are filled in by the test (the repository,
the grading folder, a port the test listens on).

FAULTS: broken or hostile notebooks; each must get the expected score and a reason, and the
other submissions of the batch must be unaffected. A fault is a function of the solution
notebook (a dict) returning the submitted bytes, and its expected score as a fraction of full
marks minus the parts it loses.
"""

import copy
import json

import nbformat

STEM = "01_ngram"

# ---------------------------------------------------------------------------------------------
# Attacks: (part whose answer cell is replaced, honest wrong variant, code added around it)
# ---------------------------------------------------------------------------------------------

ATTACKS = {
    "redefine check": ("count_ngrams", "missing </s>", '''
{BUG}
def check(*args, **kwargs):
    print("passed")
'''),
    "monkeypatch rnnlab.checks": ("count_ngrams", "missing </s>", '''
{BUG}
import rnnlab.checks, rnnlab.checks.framework as fw, rnnlab.checks.plain as pl
rnnlab.checks.check = lambda *a, **k: print("passed")
fw.compare_counts = lambda case, e, g: None
fw.same = lambda a, b: True
_real_describe = pl.describe
def _describe(value, depth=0):
    return _real_describe(value, depth)
pl.describe = _describe
for _c in getattr(rnnlab.checks, "REGISTRY", {{}}).values():
    _c.compare = lambda case, e, g: None
'''),
    "monkeypatch torch.allclose and numpy.testing": ("mle_probability", "wrong normaliser (total count)", '''
{BUG}
import numpy, numpy.testing, math
numpy.testing.assert_allclose = lambda *a, **k: None
numpy.isclose = lambda *a, **k: numpy.True_
numpy.allclose = lambda *a, **k: True
math.isclose = lambda *a, **k: True
try:
    import torch
    torch.allclose = lambda *a, **k: True
    torch.testing.assert_close = lambda *a, **k: None
except ImportError:
    pass
'''),
    "monkeypatch builtins": ("addk_probability", "unsmoothed zero probability", '''
{BUG}
import builtins
builtins.isinstance = lambda obj, cls: True
builtins.AssertionError = type("Never", (Exception,), {{}})
builtins.abs = lambda x: 0
'''),
    "IPython input transformer": ("count_ngrams", "missing </s>", '''
{BUG}
try:
    get_ipython().input_transformers_post.append(
        lambda lines: [l for l in lines if not l.lstrip().startswith("check(")])
except NameError:
    pass
'''),
    "AST transformer": ("count_ngrams", "missing </s>", '''
{BUG}
import ast
class _DropChecks(ast.NodeTransformer):
    def visit_Expr(self, node):
        if isinstance(node.value, ast.Call) and getattr(node.value.func, "id", "") == "check":
            return None
        return node
try:
    get_ipython().ast_transformers.append(_DropChecks())
except NameError:
    pass
'''),
    "always-equal object": ("mle_probability", "wrong normaliser (total count)", '''
{BUG}
_honest = mle_probability
class AlwaysEqual(float):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __sub__(self, other): return 0.0
    def __rsub__(self, other): return 0.0
    __hash__ = float.__hash__
def mle_probability(ngram_counts, context, word):
    return AlwaysEqual(_honest(ngram_counts, context, word))
'''),
    "tensor subclass with __torch_function__": ("mle_probability", "wrong normaliser (total count)", '''
{BUG}
import torch
_honest = mle_probability
class Liar(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return True
def mle_probability(ngram_counts, context, word):
    return torch.tensor(_honest(ngram_counts, context, word), dtype=torch.float64).as_subclass(Liar)
'''),
    "read the source notebook and hidden tests": ("count_ngrams", "missing </s>", '''
{BUG}
import json, glob, os
for _path in ["{ROOT}/solutions/01_ngram/01_ngram.ipynb", "../../../solutions/01_ngram/01_ngram.ipynb"] + \\
        glob.glob("/**/solutions/01_ngram/01_ngram.ipynb", recursive=False):
    try:
        _nb = json.load(open(_path))
    except OSError:
        continue
    for _cell in _nb["cells"]:
        if _cell["metadata"].get("nbgrader", {{}}).get("grade_id") == "count_ngrams":
            exec("".join(_cell["source"]))
'''),
    "read another student's submission": ("count_ngrams", "missing </s>", '''
{BUG}
import json, glob
for _path in glob.glob("{WORK}/submitted/*/01_ngram/01_ngram.ipynb") + glob.glob("../*/01_ngram/*.ipynb"):
    try:
        _nb = json.load(open(_path))
    except OSError:
        continue
    for _cell in _nb["cells"]:
        if _cell["metadata"].get("nbgrader", {{}}).get("grade_id") == "count_ngrams" and "</s>" in "".join(_cell["source"]):
            exec("".join(_cell["source"]))
'''),
    "write to the gradebook": ("count_ngrams", "missing </s>", '''
{BUG}
import sqlite3
for _db in ["{WORK}/gradebook.db", "{WORK}/../gradebook.db", "../../gradebook.db",
            "/course/autograder/gradebook.db"]:
    try:
        _con = sqlite3.connect(_db)
        _con.execute("update grade set auto_score = 100")
        _con.commit()
    except Exception:
        pass
'''),
    "call rnnlab's reference": ("count_ngrams", "missing </s>", '''
{BUG}
_honest = count_ngrams
def count_ngrams(sentences, n):
    try:
        from rnnlab.ngram import count_ngrams as reference
        return reference(sentences, n)
    except Exception:
        pass
    try:
        from rnnlab.checks import REGISTRY
        return REGISTRY["01_ngram.count_ngrams"].reference(sentences, n)
    except Exception:
        return _honest(sentences, n)
'''),
    "detect grading mode through the environment": ("count_ngrams", "missing </s>", '''
{BUG}
import os
_honest = count_ngrams
def count_ngrams(sentences, n):
    if os.environ.get("NBGRADER_EXECUTION") or os.environ.get("NBGRADER_VALIDATING") or not os.path.exists("{ROOT}"):
        try:
            from rnnlab import ngram
            return ngram.count_ngrams(sentences, n)
        except Exception:
            pass
    return _honest(sentences, n)
'''),
    "sys.exit in the answer cell": ("count_ngrams", "missing </s>", '''
{BUG}
import sys
sys.exit(0)
'''),
    "os._exit after writing forged answers": ("count_ngrams", "missing </s>", '''
{BUG}
import os, json, numpy
_records = os.environ.get("RNNLAB_GRADER_RECORDS", "/grader/records")
try:
    for _i, _part in enumerate(["count_ngrams", "mle_probability", "addk_probability", "perplexity",
                                "sample_sentence", "kn_bigram_probability"]):
        for _kind in ("visible", "hidden"):
            with open(f"{{_records}}/9{{_i}}0-01_ngram.{{_part}}-{{_kind}}.npz", "wb") as _f:
                numpy.savez(_f)
            with open(f"{{_records}}/9{{_i}}0-01_ngram.{{_part}}-{{_kind}}.json", "w") as _f:
                _f.write(json.dumps([{{"answer": {{"type": "float", "value": 0.5}}}}] * 20))
except OSError:
    pass
os._exit(0)
'''),
}

# the submitted file that shadows rnnlab (an attack made of a file next to the notebook)
SHADOW_RNNLAB = {
    "rnnlab/__init__.py": "",
    "rnnlab/checks.py": "def check(*args, **kwargs):\n    print('passed')\nREGISTRY = {}\n",
    "rnnlab/ngram.py": "",
}

# ---------------------------------------------------------------------------------------------
# Faults: (make the submitted bytes from the solution notebook dict, parts lost)
# ---------------------------------------------------------------------------------------------


def _dump(nb: dict) -> bytes:
    return json.dumps(nb, indent=1).encode()


def _cells_with(nb, grade_id):
    return [i for i, c in enumerate(nb["cells"]) if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id]


def _add_to(nb: dict, grade_id: str, code: str) -> dict:
    nb = copy.deepcopy(nb)
    cell = nb["cells"][_cells_with(nb, grade_id)[0]]
    cell["source"] = "".join(cell["source"]) + "\n" + code
    return nb


def _delete(nb, grade_id):
    nb = copy.deepcopy(nb)
    del nb["cells"][_cells_with(nb, grade_id)[0]]
    return nb


def _duplicate(nb, grade_id):
    nb = copy.deepcopy(nb)
    i = _cells_with(nb, grade_id)[0]
    nb["cells"].insert(i + 1, copy.deepcopy(nb["cells"][i]))
    return nb


def _split(nb, grade_id):
    nb = copy.deepcopy(nb)
    i = _cells_with(nb, grade_id)[0]
    cell = nb["cells"][i]
    lines = "".join(cell["source"]).splitlines(True)
    # the helper in its own half, then the function: Jupyter's split keeps the metadata in both
    first = copy.deepcopy(cell)
    first["source"] = "HELPER_N = 0\n"
    cell["source"] = "".join(lines)
    nb["cells"].insert(i, first)
    return nb


def _edit_metadata(nb):
    nb = copy.deepcopy(nb)
    test = nb["cells"][_cells_with(nb, "test_count_ngrams")[0]]
    test["metadata"]["nbgrader"]["points"] = 100
    test["metadata"]["nbgrader"]["locked"] = False
    test["source"] = "print('passed')"
    answer = nb["cells"][_cells_with(nb, "mle_probability")[0]]
    answer["metadata"]["nbgrader"]["points"] = 50
    answer["metadata"]["nbgrader"]["grade"] = True
    return nb


def _reorder(nb):
    nb = copy.deepcopy(nb)
    cells = nb["cells"]
    kn = [cells[i] for i in _cells_with(nb, "kn_bigram_probability") + _cells_with(nb, "test_kn_bigram_probability")]
    rest = [c for c in cells if c not in kn]
    nb["cells"] = rest[:2] + kn + rest[2:]
    return nb


def _old_format(nb):
    v4 = nbformat.from_dict(copy.deepcopy(nb))
    v3 = nbformat.convert(v4, 3)
    return nbformat.writes(v3, version=3).encode()


def _latin1(nb):
    nb = _add_to(nb, "count_ngrams", "# café: a comment with an accent")
    return json.dumps(nb, indent=1, ensure_ascii=False).encode("latin-1")


FAULTS = {
    "invalid JSON": (lambda nb: _dump(nb)[:-200] + b"\n{{{", "all"),
    "old nbformat (v3)": (_old_format, []),
    "non-UTF-8 file": (_latin1, []),
    "deleted answer cell": (lambda nb: _dump(_delete(nb, "count_ngrams")), ["count_ngrams"]),
    "deleted test cell": (lambda nb: _dump(_delete(nb, "test_mle_probability")), []),
    "duplicated grade cell": (lambda nb: _dump(_duplicate(nb, "test_count_ngrams")), []),
    "duplicated answer cell": (lambda nb: _dump(_duplicate(nb, "mle_probability")), []),
    "split answer cell": (lambda nb: _dump(_split(nb, "addk_probability")), []),
    "edited cell metadata": (lambda nb: _dump(_edit_metadata(nb)), []),
    "reordered cells": (lambda nb: _dump(_reorder(nb)), []),
    "infinite loop": (lambda nb: _dump(_add_to(nb, "count_ngrams", "while True:\n    pass")), []),
    "infinite loop swallowing KeyboardInterrupt": (lambda nb: _dump(_add_to(nb, "mle_probability", '''
while True:
    try:
        while True:
            pass
    except BaseException:
        pass''')), ["mle_probability"]),
    "memory bomb": (lambda nb: _dump(_add_to(nb, "addk_probability", "_bomb = ' ' * (8 << 30)")), ["addk_probability"]),
    "fork bomb": (lambda nb: _dump(_add_to(nb, "perplexity", '''
import os
for _ in range(10000):
    try:
        os.fork()
    except OSError:
        break''')), []),
    "os._exit": (lambda nb: _dump(_add_to(nb, "kn_bigram_probability", "import os\nos._exit(3)")), ["kn_bigram_probability"]),
    "segfault (ctypes)": (lambda nb: _dump(_add_to(nb, "mle_probability", "import ctypes\nctypes.string_at(0)")), ["mle_probability"]),
    "20 MB single-line output": (lambda nb: _dump(_add_to(nb, "count_ngrams", "print('x' * 20_000_000)")), []),
    "writes outside the submission folder": (lambda nb: _dump(_add_to(nb, "count_ngrams", '''
import os
for _p in ["{ROOT}/PWNED", "{WORK}/PWNED", "/tmp/../PWNED", "../PWNED", "/etc/PWNED", "/usr/PWNED"]:
    try:
        open(_p, "w").write("x")
    except OSError:
        pass''')), []),
    "network attempts": (lambda nb: _dump(_add_to(nb, "count_ngrams", '''
import socket, urllib.request
for _target in [("127.0.0.1", {PORT}), ("10.0.0.1", 80)]:
    try:
        socket.create_connection(_target, timeout=1).sendall(b"PWNED")
    except OSError:
        pass
try:
    urllib.request.urlopen("http://example.com", timeout=1)
except Exception:
    pass''')), []),
    "torch warnings on stderr": (lambda nb: _dump(_add_to(nb, "count_ngrams", '''
import sys, warnings, torch
_honest_count = count_ngrams
def count_ngrams(sentences, n):
    warnings.warn("a warning from the student's code")
    print("something on stderr", file=sys.stderr)
    torch.nn.functional.softmax(torch.zeros(3))
    return _honest_count(sentences, n)''')), []),
}
