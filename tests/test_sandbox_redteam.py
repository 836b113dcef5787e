"""The grader against untrusted submissions: the red-team corpus (each attack at no more points
than the honest wrong answer it wraps), the fault corpus (every fault graded with a reason, the
rest of the batch unaffected), determinism, and the sandbox itself.

Everything runs in the bubblewrap sandbox, with small limits so that the bombs and loops end
quickly; without bubblewrap these tests are skipped (the grader refuses to grade there)."""

import json
import shutil
import socket
import sys
import threading
from dataclasses import asdict
from pathlib import Path

import pytest

import grade
import grading
import sandbox
from conftest import ROOT
from rnnlab.checks import REGISTRY

sys.path.insert(0, str(Path(__file__).parent / "redteam"))
import corpus  # noqa: E402

pytestmark = pytest.mark.skipif(sandbox.missing() is not None,
                                reason=f"no sandbox here: {sandbox.missing()}")

STEM = corpus.STEM
POINTS = {c.split(".", 1)[1]: REGISTRY[c].points for c in REGISTRY if c.startswith(STEM + ".")}
FULL = sum(POINTS.values())
LIMITS = grading.Options(
    limits=asdict(sandbox.Limits(memory_mb=768, wall_s=60, cell_s=10, cpu_s=60, pids=48, output_kb=256)),
    worker_limits=asdict(sandbox.Limits(memory_mb=768, wall_s=45, cell_s=4, cpu_s=40, pids=48)))


def slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name.lower()).strip("_")[:40]


class Listener:
    """A TCP server on loopback that remembers whether anything connected to it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.5)
        self.port, self.connections, self.stop = self.sock.getsockname()[1], 0, False
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
                self.connections += 1
                conn.close()
            except OSError:
                pass


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    work = tmp_path_factory.mktemp("redteam")
    submitted = work / "submitted"
    listener = Listener()
    fill = {"{ROOT}": str(ROOT), "{WORK}": str(work), "{PORT}": str(listener.port)}
    bugs = grade.buggy_variants(STEM)
    expected = {}  # student -> (lowest allowed, highest allowed)

    def put(student, notebook_bytes_or_nb, low, high):
        folder = submitted / student / STEM
        folder.mkdir(parents=True)
        path = folder / f"{STEM}.ipynb"
        if isinstance(notebook_bytes_or_nb, bytes):
            path.write_bytes(notebook_bytes_or_nb)
        else:
            grade.submit(student, STEM, notebook_bytes_or_nb, submitted)
        expected[student] = (low, high)
        return folder

    put("solution", grade.make_submission(STEM, "solution"), FULL, FULL)
    put("solution_again", grade.make_submission(STEM, "solution"), FULL, FULL)
    honest = {}
    for name, (part, bug, code) in corpus.ATTACKS.items():
        honest_score = FULL - POINTS[bugs[bug]["part"]]
        honest[bug] = honest_score
        source = code.format(BUG=bugs[bug]["code"], ROOT=str(ROOT), WORK=str(work))
        put("attack_" + slug(name), grade.make_submission(STEM, "solution", {part: source}), 0, honest_score)
    for bug, score in honest.items():
        put("honest_" + slug(bug), grade.make_submission(STEM, "solution", {bugs[bug]["part"]: bugs[bug]["code"]}),
            score, score)
    folder = put("attack_shadow_rnnlab_with_a_submitted_file",
                 grade.make_submission(STEM, "solution", {"count_ngrams": bugs["missing </s>"]["code"]}),
                 0, FULL - POINTS["count_ngrams"])
    for relative, text in corpus.SHADOW_RNNLAB.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text)
    solution = json.loads(nbformat_text(grade.make_submission(STEM, "solution")))
    for name, (make, lost) in corpus.FAULTS.items():
        raw = make(solution)
        for key, value in fill.items():
            raw = raw.replace(key.encode(), value.encode())
        low = 0 if lost == "all" else FULL - sum(POINTS[p] for p in lost)
        high = 0 if lost == "all" else FULL
        put("fault_" + slug(name), raw, low, high)
    rows = grade.grade(db_url=f"sqlite:///{work / 'gradebook.db'}", csv_path=work / "grades.csv",
                       workdir=work, workers=2, options=LIMITS)
    listener.stop = True
    return {r["student_id"]: r for r in rows}, expected, work, listener


def nbformat_text(nb) -> str:
    import nbformat
    return nbformat.writes(nb)


def test_every_submission_is_graded_within_its_bounds(batch):
    rows, expected, _, _ = batch
    assert set(rows) == set(expected)
    wrong = {s: (float(rows[s]["score"]), bounds) for s, bounds in expected.items()
             if not bounds[0] <= float(rows[s]["score"]) <= bounds[1]}
    assert not wrong, f"(score, (lowest, highest allowed)) differ: {wrong}\n" + "\n".join(
        f"{s}: {rows[s]['reason']}" for s in wrong)


def test_no_attack_gets_more_than_the_honest_wrong_answer(batch):
    rows, expected, _, _ = batch
    for student in rows:
        if student.startswith("attack_"):
            assert float(rows[student]["score"]) <= expected[student][1], rows[student]["reason"]


def test_every_fault_and_every_lost_point_has_a_reason(batch):
    rows, _, work, _ = batch
    for student, row in rows.items():
        assert row["reason"], student
        if float(row["score"]) < FULL or student.startswith("fault_"):
            assert row["reason"] != "full marks: every case verified" or float(row["score"]) == FULL, student
    reasons = {s: rows[s]["reason"] for s in rows}

    def reason(fault):
        return reasons["fault_" + slug(fault)]

    assert "not JSON" in reason("invalid JSON")
    assert "format 3" in reason("old nbformat (v3)")
    assert "not UTF-8" in reason("non-UTF-8 file")
    assert "missing" in reason("deleted answer cell")
    assert "duplicated" in reason("duplicated answer cell")
    assert "edited" in reason("edited cell metadata")
    assert "order" in reason("reordered cells")
    assert "cut at" in reason("20 MB single-line output")
    assert "segmentation fault" in reason("segfault (ctypes)")
    for fault in ("os._exit", "memory bomb", "infinite loop swallowing KeyboardInterrupt"):
        assert "notebook" in reason(fault) and "cell" in reason(fault), (fault, reason(fault))
    # the feedback carries the reasons too
    html = (work / "feedback" / ("fault_" + slug("deleted answer cell")) / STEM / f"{STEM}.html").read_text()
    assert "Notes from the grader" in html and "missing" in html


def test_torch_warnings_keep_full_marks(batch):
    assert float(batch[0]["fault_torch_warnings_on_stderr"]["score"]) == FULL


def test_the_sandbox_held(batch):
    rows, _, work, listener = batch
    assert listener.connections == 0, "a submission reached a port on the grader's loopback"
    for folder in (ROOT, work, Path("/")):
        assert not (folder / "PWNED").exists()
    # the gradebook holds the judged scores, not what the attack wrote
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{work / 'gradebook.db'}") as gb:
        submission = gb.find_submission(STEM, "attack_write_to_the_gradebook")
        assert submission.score == float(rows["attack_write_to_the_gradebook"]["score"]) < FULL


def test_disagreements_are_flagged_for_review(batch):
    rows = batch[0]
    assert rows["attack_redefine_check"]["review"]
    assert not rows["solution"]["review"] and not rows["honest_" + slug("missing </s>")]["review"]


def test_grading_is_deterministic(batch, tmp_path):
    rows = batch[0]
    assert rows["solution"]["score"] == rows["solution_again"]["score"]
    submitted = tmp_path / "submitted"
    for student in ("honest_" + slug("missing </s>"), "attack_" + slug("always-equal object"),
                    "fault_" + slug("memory bomb")):
        shutil.copytree(batch[2] / "submitted" / student / STEM, submitted / student / STEM)
    again = grade.grade(db_url=f"sqlite:///{tmp_path / 'gb.db'}", csv_path=tmp_path / "grades.csv",
                        workdir=tmp_path, workers=2, options=LIMITS)
    for row in again:
        assert row["score"] == rows[row["student_id"]]["score"], row["student_id"]


# ---------------------------------------------------------------------------------------------
# The sandbox and the guarded rnnlab, directly
# ---------------------------------------------------------------------------------------------

def sandboxed(code: str, tmp_path: Path, limits=None) -> sandbox.RunResult:
    home, run_dir = tmp_path / "home", tmp_path / "run"
    home.mkdir(exist_ok=True)
    run_dir.mkdir(exist_ok=True)
    (home / "probe.py").write_text(code)
    sandbox.own_by_nobody(home)
    return sandbox.run([sandbox.PYTHON, "probe.py"], limits or sandbox.Limits(wall_s=30),
                       sandboxed=True, stderr_path=run_dir / "stderr", home=home,
                       guarded=grading.guarded_copy(), run_dir=run_dir)


def test_sandboxed_code_is_nobody_without_network_or_course_files(tmp_path):
    result = sandboxed(f'''
import os, socket, sys
assert os.getuid() == 65534 and os.getgid() == 65534, os.getuid()
assert not os.path.exists({str(ROOT / "solutions")!r})
assert not os.path.exists({str(ROOT / "autograder")!r})
for path in ["/usr/x", "/etc/x", {str(sys.prefix + "/x")!r}]:
    try:
        open(path, "w")
        sys.exit("wrote " + path)
    except OSError:
        pass
try:
    socket.create_connection(("127.0.0.1", 22), timeout=1)
    sys.exit("network")
except OSError:
    pass
import subprocess
rc = subprocess.run(["mount", "-o", "remount,rw", "/"], capture_output=True).returncode
assert rc != 0
open("written.txt", "w").write("ok")
''', tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "home" / "written.txt").read_text() == "ok"


def test_the_wall_clock_and_memory_limits_end_a_run(tmp_path):
    result = sandboxed("while True:\n    pass\n", tmp_path, sandbox.Limits(wall_s=2))
    assert result.timed_out and "time limit" in result.fate()
    result = sandboxed("x = ' ' * (4 << 30)\n", tmp_path, sandbox.Limits(wall_s=30, memory_mb=256))
    assert result.returncode != 0 and result.fate()


def test_rnnlab_references_refuse_in_the_sandbox(tmp_path):
    result = sandboxed('''
import rnnlab.ngram
try:
    rnnlab.ngram.count_ngrams([["a"]], 2)
except Exception as error:
    assert type(error).__name__ == "ReferenceUnavailable", error
    assert "reference implementation" in str(error)
    open("refused.txt", "w").write(str(error))
from rnnlab.checks import REGISTRY
assert REGISTRY == {}
import torch  # the memory limit does not break torch
''', tmp_path)
    assert result.returncode == 0, result.stderr
    assert "not available while your notebook is graded" in (tmp_path / "home" / "refused.txt").read_text()


def test_grading_refuses_without_the_sandbox_unless_told(monkeypatch, tmp_path):
    monkeypatch.setattr(sandbox, "missing", lambda: "bubblewrap (`bwrap`) is not installed")
    monkeypatch.delenv("UNSANDBOXED", raising=False)
    with pytest.raises(SystemExit, match="UNSANDBOXED=1"):
        grade.check_sandbox()
    monkeypatch.setenv("UNSANDBOXED", "1")
    grade.check_sandbox()  # told to: a warning, no refusal
