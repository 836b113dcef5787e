"""The grader against untrusted submissions: the red-team corpus (each attack at no more points
than the honest wrong answer it wraps), the fault corpus (every fault graded with a reason, the
rest of the batch unaffected), determinism, and the sandbox itself.

Everything runs in the bubblewrap sandbox, with small limits so that the bombs and loops end
quickly; without bubblewrap these tests are skipped (the grader refuses to grade there)."""

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest

from autograder import batch, course, demo, kernel, sandbox
from rnnlab.checks import REGISTRY
from redteam import corpus


pytestmark = pytest.mark.skipif(sandbox.missing() is not None,
                                reason=f"no sandbox here: {sandbox.missing()}")

STEM = corpus.STEM
POINTS = {c.split(".", 1)[1]: REGISTRY[c].points for c in REGISTRY if c.startswith(STEM + ".")}
FULL = sum(POINTS.values())
# small limits, so that the bombs and loops end quickly
LIMITS = {"memory_mb": 768, "wall_s": 60, "timeout": 10, "pids": 48, "output_kb": 256}


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
def graded(course_copy):
    config, base = course_copy
    work = base / "redteam"
    submitted = work / "submitted"
    listener = Listener()
    fill = {"{ROOT}": str(course.ROOT), "{WORK}": str(work), "{PORT}": str(listener.port)}
    bugs = demo.wrong_answers(STEM)
    expected = {}  # student -> (lowest allowed, highest allowed)

    def put(student, notebook_bytes_or_nb, low, high):
        folder = submitted / student / STEM
        folder.mkdir(parents=True)
        path = folder / f"{STEM}.ipynb"
        if isinstance(notebook_bytes_or_nb, bytes):
            path.write_bytes(notebook_bytes_or_nb)
        else:
            demo.submit(student, STEM, notebook_bytes_or_nb, submitted)
        expected[student] = (low, high)
        return folder

    put("solution", demo.make_submission(STEM, "solution"), FULL, FULL)
    put("solution_again", demo.make_submission(STEM, "solution"), FULL, FULL)
    honest = {}
    for name, (part, bug, code) in corpus.ATTACKS.items():
        honest_score = FULL - POINTS[bugs[bug]["part"]]
        honest[bug] = honest_score
        source = code.format(BUG=bugs[bug]["code"], ROOT=str(course.ROOT), WORK=str(work))
        put("attack_" + slug(name), demo.make_submission(STEM, "solution", {part: source}), 0, honest_score)
    for bug, score in honest.items():
        put("honest_" + slug(bug), demo.make_submission(STEM, "solution", {bugs[bug]["part"]: bugs[bug]["code"]}),
            score, score)
    folder = put("attack_shadow_rnnlab_with_a_submitted_file",
                 demo.make_submission(STEM, "solution", {"count_ngrams": bugs["missing </s>"]["code"]}),
                 0, FULL - POINTS["count_ngrams"])
    for relative, text in corpus.SHADOW_RNNLAB.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text)
    solution = json.loads(nbformat.writes(demo.make_submission(STEM, "solution")))
    for name, (make, lost) in corpus.FAULTS.items():
        raw = make(solution)
        for key, value in fill.items():
            raw = raw.replace(key.encode(), value.encode())
        low = 0 if lost == "all" else FULL - sum(POINTS[p] for p in lost)
        high = 0 if lost == "all" else FULL
        put("fault_" + slug(name), raw, low, high)
    rows = batch.grade(config(work, **LIMITS), csv_path=work / "grades.csv", workers=2)
    listener.stop = True
    return {r["student_id"]: r for r in rows if r["assignment"] == STEM}, expected, work, listener


def test_every_submission_is_graded_within_its_bounds(graded):
    rows, expected, _, _ = graded
    assert set(rows) == set(expected)
    wrong = {s: (float(rows[s]["score"]), bounds) for s, bounds in expected.items()
             if not bounds[0] <= float(rows[s]["score"]) <= bounds[1]}
    assert not wrong, f"(score, (lowest, highest allowed)) differ: {wrong}\n" + "\n".join(
        f"{s}: {rows[s]['reason']}" for s in wrong)


def test_no_attack_gets_more_than_the_honest_wrong_answer(graded):
    rows, expected, _, _ = graded
    for student in rows:
        if student.startswith("attack_"):
            assert float(rows[student]["score"]) <= expected[student][1], rows[student]["reason"]


def test_every_fault_and_every_lost_point_has_a_reason(graded):
    rows, _, work, _ = graded
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
    assert "left" in reason("fork bomb") and "stopped" in reason("fork bomb")
    for fault in ("os._exit", "memory bomb", "infinite loop swallowing KeyboardInterrupt"):
        assert "notebook" in reason(fault) and "cell" in reason(fault), (fault, reason(fault))
    # the feedback carries the reasons too
    html = (work / "feedback" / ("fault_" + slug("deleted answer cell")) / STEM / f"{STEM}.html").read_text()
    assert "Notes from the grader" in html and "missing" in html


def test_torch_warnings_keep_full_marks(graded):
    assert float(graded[0]["fault_torch_warnings_on_stderr"]["score"]) == FULL


def test_the_sandbox_held(graded):
    rows, _, work, listener = graded
    assert listener.connections == 0, "a submission reached a port on the grader's loopback"
    for folder in (course.ROOT, work, Path("/")):
        assert not (folder / "PWNED").exists()
    # the gradebook holds the judged scores, not what the attack wrote
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{work / 'gradebook.db'}") as gb:  # this corpus's own
        submission = gb.find_submission(STEM, "attack_write_to_the_gradebook")
        assert submission.score == float(rows["attack_write_to_the_gradebook"]["score"]) < FULL


def test_disagreements_are_flagged_for_review(graded):
    rows = graded[0]
    assert rows["attack_redefine_check"]["review"]
    assert not rows["solution"]["review"] and not rows["honest_" + slug("missing </s>")]["review"]


def test_nbgrader_autograde_from_the_course_root_gives_the_same_scores(graded, course_copy):
    """The corpus again, as an instructor types it: `nbgrader autograde 01_ngram` in the course
    root, into a gradebook of its own (two such commands at once, each for every other student
    of the sorted list, the rest left out with `--CourseDirectory.student_id_exclude`, to halve
    the wait): every score is identical, so every attack scores no higher through this path
    either, and grading is deterministic."""
    rows, expected, work, _ = graded
    assert rows["solution"]["score"] == rows["solution_again"]["score"]
    config, base = course_copy
    limits = [f"--SandboxedExecute.{k}={v}" for k, v in LIMITS.items()]
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}
    commands = {}
    students = sorted(expected)
    for half, excluded in (("even", students[1::2]), ("odd", students[0::2])):
        db = base / f"cli_{half}.db"
        subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", STEM, "--force",
                        f"--CourseDirectory.db_url=sqlite:///{db}",
                        f"--CourseDirectory.release_directory={base / ('cli_release_' + half)}"],
                       cwd=course.ROOT, check=True, capture_output=True)
        commands[db] = subprocess.Popen(
            [sys.executable, "-m", "nbgrader", "autograde", STEM, "--force",
             f"--CourseDirectory.student_id_exclude={','.join(excluded)}",
             f"--CourseDirectory.db_url=sqlite:///{db}",
             f"--CourseDirectory.submitted_directory={work / 'submitted'}",
             f"--CourseDirectory.autograded_directory={base / ('cli_autograded_' + half)}", *limits],
            cwd=course.ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    from nbgrader.api import Gradebook
    scores = {}
    for db, command in commands.items():
        command.wait()  # exits 1: nbgrader's own error for the bad files
        with Gradebook(f"sqlite:///{db}") as gb:
            scores.update({s.student.id: s.score for s in gb.find_assignment(STEM).submissions})
    assert not set(scores) - set(expected)
    differ = {s: (scores.get(s), float(rows[s]["score"])) for s in expected if scores.get(s) != float(rows[s]["score"])}
    assert not differ, f"(nbgrader autograde, make grade) differ: {differ}"


# ---------------------------------------------------------------------------------------------
# The sandboxed kernel and the guarded rnnlab, directly
# ---------------------------------------------------------------------------------------------

def sandboxed(code: str, tmp_path: Path, **settings) -> tuple:
    """Run ``code`` as the one cell of a notebook through SandboxedExecute: (its outputs as
    text, the notes)."""
    folder = tmp_path / "submission"
    folder.mkdir(exist_ok=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    step = kernel.SandboxedExecute(**{"timeout": 30, **settings})
    resources = {"metadata": {"path": str(folder)}, "nbgrader": {"assignment": STEM}}
    executed, resources = step.preprocess(nb, resources)
    text = "".join(o.get("text", "") + o.get("evalue", "") for o in executed.cells[0].outputs)
    return text, resources["rnnlab"]["notes"]


def test_sandboxed_code_is_nobody_without_network_or_course_files(tmp_path):
    text, notes = sandboxed(f'''
import os, socket, sys, subprocess
assert os.getuid() == 65534 and os.getgid() == 65534, os.getuid()
assert not os.path.exists({str(course.SOLUTIONS)!r})
assert not os.path.exists({str(course.GRADER)!r})
for path in ["/usr/x", "/etc/x", {str(sys.prefix + "/x")!r}]:
    try:
        open(path, "w")
        raise SystemError("wrote " + path)
    except OSError:
        pass
try:
    socket.create_connection(("127.0.0.1", 22), timeout=1)
    raise SystemError("network")
except OSError:
    pass
assert subprocess.run(["mount", "-o", "remount,rw", "/"], capture_output=True).returncode != 0
open("written.txt", "w").write("ok")
print("all held")
''', tmp_path)
    assert "all held" in text and not notes, (text, notes)


def test_the_time_and_memory_limits_end_a_cell(tmp_path):
    text, notes = sandboxed("while True:\n    try:\n        while True:\n            pass\n"
                            "    except BaseException:\n        pass\n", tmp_path, timeout=2, stuck_s=2)
    assert "did not stop" in notes[0] and "interrupted" in notes[0], notes
    text, notes = sandboxed("x = ' ' * (4 << 30)\n", tmp_path, memory_mb=256)
    assert "memory" in text + "".join(notes), (text, notes)


def test_rnnlab_references_refuse_in_the_sandbox(tmp_path):
    text, notes = sandboxed('''
import rnnlab.ngram
try:
    rnnlab.ngram.count_ngrams([["a"]], 2)
except Exception as error:
    assert type(error).__name__ == "ReferenceUnavailable", error
    print(error)
from rnnlab.checks import REGISTRY
assert REGISTRY == {}
import torch  # the memory limit does not break torch
print("torch imported")
''', tmp_path)
    assert "not available while your notebook is graded" in text and "torch imported" in text, text


def test_grading_refuses_without_the_sandbox_unless_told(monkeypatch, tmp_path):
    monkeypatch.setattr(sandbox, "missing", lambda: "bubblewrap (`bwrap`) is not installed")
    monkeypatch.delenv("UNSANDBOXED", raising=False)
    with pytest.raises(SystemExit, match="UNSANDBOXED=1"):
        batch.grade(batch.nbgrader_config(workdir=tmp_path))
    with pytest.raises(RuntimeError, match="refusing to grade.*UNSANDBOXED=1"):
        sandboxed("print(1)", tmp_path)
    monkeypatch.setenv("UNSANDBOXED", "1")
    text, _ = sandboxed("print(1)", tmp_path)  # told to: no refusal
    assert text.strip() == "1"
