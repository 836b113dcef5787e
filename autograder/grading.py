"""Grading one submission: read it whatever state it is in, run it in the sandbox, verify every
part with the trusted judge, and record the scores in nbgrader's gradebook.

A grading job is ``grade_submission(Job)``; it returns a plain dict (scores per part, the reason
for every lost point, notes about the notebook, the executed notebook) and never raises for
anything the submission does. ``record`` writes that dict into the gradebook (SQLite or
PostgreSQL) and the autograded notebook that nbgrader's feedback is made from. Jobs are
independent, so they run serially, in a process pool, or on Dask workers alike.

The score of record of a part is the verification: the student's answer cells (by nbgrader
grade_id) are run by ``worker.py`` in a sandbox with rnnlab's guarded copy, on every case of
the part's check (visible and hidden); the plain answers it writes are judged here, by
``Check.run_judge``, against the reference. A part earns its points when every case is right.
The notebook itself is also executed, in a sandboxed kernel, as the student wrote it (the
locked cells restored, no hidden tests): its outputs make the feedback, and its test cells'
recorded answers, judged here too, must agree with the verification's visible cases, or the
submission is flagged for review.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

import nbformat

import guarded
import sandbox
from sandbox import Limits

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CHECK_CALL = re.compile(r'check\(\s*"([^"]+)"')


@dataclass
class Options:
    limits: dict = field(default_factory=lambda: asdict(Limits()))
    worker_limits: dict = field(default_factory=lambda: asdict(Limits(wall_s=120.0, cpu_s=120)))
    run_notebook: bool = True
    sandboxed: bool = True


@dataclass
class Job:
    student: str
    stem: str
    path: str             # the submitted notebook
    options: Options = field(default_factory=Options)


# ---------------------------------------------------------------------------------------------
# The assignment: parts, cells and cases, from the release and rnnlab.checks (trusted)
# ---------------------------------------------------------------------------------------------

_ASSIGNMENTS: dict = {}


def assignment(stem: str) -> dict:
    """The release notebook of ``stem`` and its graded parts, each with its check's cases."""
    if stem in _ASSIGNMENTS:
        return _ASSIGNMENTS[stem]
    from rnnlab.checks import REGISTRY
    from rnnlab.checks.plain import describe

    release = nbformat.read(ROOT / "notebooks" / stem / f"{stem}.ipynb", as_version=4)
    parts = []
    for cell in release.cells:
        meta = cell.metadata.get("nbgrader", {})
        match = CHECK_CALL.search(cell.source) if meta.get("grade") else None
        if not match:
            continue
        name = match.group(1)
        check = REGISTRY[name]
        part = name.split(".", 1)[1]
        cases = [(c, False) for c in check.cases(False)] + [(c, True) for c in check.cases(True)]
        probe = f"{check.probe.__module__}:{check.probe.__name__}" if check.probe else None
        parts.append({"part": part, "name": name, "function": part, "points": meta["points"],
                      "test_id": meta["grade_id"], "time_limit": check.time_limit, "probe": probe,
                      "cases": cases,
                      "wire_cases": [{"label": c.label, "args": [describe(a) for a in c.args],
                                      "hidden": h} for c, h in cases]})
    info = {"stem": stem, "release": release, "parts": parts,
            "cells": {c.metadata["nbgrader"]["grade_id"]: c for c in release.cells
                      if "grade_id" in c.metadata.get("nbgrader", {})}}
    _ASSIGNMENTS[stem] = info
    return info


_GUARDED: dict = {}


def guarded_copy() -> Path:
    """The guarded rnnlab of this process (built once, world-readable)."""
    if "path" not in _GUARDED:
        folder = Path(tempfile.mkdtemp(prefix="rnnlab-guarded-"))
        guarded.build(folder)
        for path in [folder, *folder.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        _GUARDED["path"] = folder
        creator = os.getpid()
        # removed at exit by the process that made it (a forked child would share the folder)
        atexit.register(lambda: os.getpid() == creator and shutil.rmtree(folder, ignore_errors=True))
    return _GUARDED["path"]


# ---------------------------------------------------------------------------------------------
# Reading a submission, whatever state it is in
# ---------------------------------------------------------------------------------------------

def read_notebook(path: Path) -> tuple[Optional[nbformat.NotebookNode], list[str]]:
    """(notebook or None, notes): decoding, JSON, nbformat upgrades, each said in words."""
    notes = []
    try:
        raw = path.read_bytes()
    except OSError as error:
        return None, [f"the notebook could not be read ({error.strerror})"]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        text = raw.decode("latin-1")
        notes.append(f"the file is not UTF-8 text (byte {error.start}); it was read as Latin-1")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        return None, notes + [f"the file is not a valid notebook: not JSON ({str(error)[:120]})"]
    if not isinstance(data, dict) or "nbformat" not in data:
        return None, notes + ["the file is JSON but not a notebook (no nbformat field)"]
    try:
        version = int(data.get("nbformat", 0))
        nb = nbformat.reads(json.dumps(data), as_version=4)
        if version < 4:
            notes.append(f"the notebook is in format {version}; it was upgraded to format 4")
    except Exception as error:  # noqa: BLE001 (any nbformat failure is the submission's)
        return None, notes + [f"the notebook could not be read: {type(error).__name__}: {str(error)[:120]}"]
    for cell in nb.cells:
        if not isinstance(cell.get("source", ""), str):
            cell.source = "".join(cell.source)
        if not isinstance(cell.get("metadata"), dict):
            cell.metadata = nbformat.NotebookNode()
    return nb, notes


def answer_cells(nb, info) -> tuple[dict, list[str]]:
    """{grade_id: source} of the student's answer cells, and notes on the notebook's structure
    (deleted, duplicated or split cells, edited metadata, reordered cells)."""
    notes = []
    solution_ids = [p["part"] for p in info["parts"]]
    found: dict[str, list[str]] = {}
    order = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader") if isinstance(cell.metadata, dict) else None
        if not isinstance(meta, dict):
            continue
        grade_id = meta.get("grade_id")
        if not isinstance(grade_id, str) or grade_id not in info["cells"]:
            if meta.get("solution") or meta.get("grade"):
                notes.append(f"a cell carries an unknown grade_id {str(grade_id)[:40]!r} (edited metadata); it was ignored")
            continue
        original = info["cells"][grade_id].metadata["nbgrader"]
        edited = [k for k in ("points", "locked", "solution", "grade", "grade_id")
                  if meta.get(k) != original.get(k)]
        if edited:
            notes.append(f"the metadata of cell {grade_id} was edited ({', '.join(edited)}); "
                         "the course's metadata was used")
        if grade_id in solution_ids and cell.cell_type == "code":
            found.setdefault(grade_id, []).append(cell.source)
            if grade_id not in order:
                order.append(grade_id)
    for grade_id, sources in found.items():
        if len(sources) > 1:
            notes.append(f"{len(sources)} cells carry grade_id {grade_id} (duplicated or split); "
                         "they were run together, in order")
    for grade_id in solution_ids:
        if grade_id not in found:
            notes.append(f"the answer cell {grade_id} is missing (deleted, or its metadata edited)")
    if order != [g for g in solution_ids if g in order]:
        notes.append("the answer cells are in another order than in the assignment; "
                     "they were run in the assignment's order")
    return {g: "\n".join(s) for g, s in found.items()}, notes


# ---------------------------------------------------------------------------------------------
# Verification: the worker in the sandbox, the judge here
# ---------------------------------------------------------------------------------------------

def worker_cells(info, answers) -> list[dict]:
    """The cells the worker runs: the release's locked setup cells and the answers, in the
    release's order."""
    cells = []
    for cell in info["release"].cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta:
            continue
        if meta.get("solution"):
            if meta["grade_id"] in answers:
                cells.append({"id": meta["grade_id"], "source": answers[meta["grade_id"]]})
        elif meta.get("locked") and not meta.get("grade"):
            cells.append({"id": meta["grade_id"], "source": cell.source})
    return cells


def copy_submission(folder: Path, home: Path, limit: int = 50 << 20) -> None:
    """The submission's folder, copied into the sandbox's home (regular files only, each at
    most ``limit`` bytes: no symlink out of the folder)."""
    if not folder.is_dir():
        return
    for path in folder.rglob("*"):
        target = home / path.relative_to(folder)
        if path.is_symlink():
            continue
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif path.is_file() and path.stat().st_size <= limit:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


def verify(info, answers, options: Options, run_dir: Path, folder: Path = None) -> tuple[dict, list[str]]:
    """{part: [probe result per case]} from the sandboxed worker, restarting it without the
    cell or part that killed it; and notes on what went wrong."""
    from rnnlab.checks.plain import from_wire, to_wire

    limits = Limits.from_json(options.worker_limits)
    cells = worker_cells(info, answers)
    results: dict[str, list] = {}
    notes = []
    skip_cells, skip_parts = [], []
    for attempt in range(len(cells) + len(info["parts"]) + 1):
        todo = [p for p in info["parts"] if p["part"] not in results and p["part"] not in skip_parts]
        if not todo:
            break
        job_dir = run_dir / f"worker{attempt}"
        in_dir, out_dir, home = job_dir / "in", job_dir / "out", job_dir / "home"
        for d in (in_dir, out_dir, home):
            d.mkdir(parents=True)
        if folder is not None:
            copy_submission(folder, home)
        text, blob = to_wire({"cells": cells, "skip_cells": skip_cells, "skip_parts": skip_parts,
                              "cell_s": limits.cell_s,
                              "parts": [{k: p[k] for k in ("part", "name", "function", "time_limit", "probe")}
                                        | {"cases": p["wire_cases"]} for p in todo]})
        (in_dir / "job.json").write_text(text)
        (in_dir / "job.npz").write_bytes(blob)
        for path in [in_dir, *in_dir.iterdir()]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        sandbox.own_by_nobody(out_dir, home)
        worker_py = HERE / "worker.py"
        if options.sandboxed:
            argv = [sandbox.PYTHON, "/grader/worker.py"]
        else:
            argv = [sandbox.PYTHON, str(worker_py), str(in_dir), str(out_dir)]
        run = sandbox.run(argv, limits, sandboxed=options.sandboxed, stderr_path=job_dir / "stderr",
                          home=home, guarded=guarded_copy(), run_dir=job_dir,
                          ro_binds=((in_dir, "/grader/in"), (worker_py, "/grader/worker.py")),
                          binds=((out_dir, "/grader/out"),))
        for part in todo:
            stem = out_dir / part["part"]
            try:
                if stem.with_suffix(".json").exists():
                    size = stem.with_suffix(".json").stat().st_size + stem.with_suffix(".npz").stat().st_size
                    if size > (limits.fsize_mb << 20):
                        raise ValueError("answers too large")
                    decoded = from_wire(stem.with_suffix(".json").read_text(),
                                        stem.with_suffix(".npz").read_bytes())
                    if isinstance(decoded, list) and len(decoded) == len(part["cases"]):
                        results[part["part"]] = decoded
            except Exception as error:  # noqa: BLE001 (a half-written or forged file)
                results[part["part"]] = [{"error": f"the grader could not read your answers ({type(error).__name__})"}] * len(part["cases"])
        try:
            steps = (out_dir / "progress").read_text().split("\n")
        except OSError:
            steps = []
        steps = [s for s in steps if s]
        if steps and steps[-1] == "done":
            continue
        fate = run.fate() or "it stopped before finishing"
        last = steps[-1] if steps else ""
        if last.startswith("cell "):
            index = int(last.split()[1])
            skip_cells.append(index)
            notes.append(f"running the answer cell {cells[index]['id']}: {fate}; "
                         "the cell was skipped")
        elif last.startswith("part "):
            name = last.split(" ", 1)[1]
            skip_parts.append(name)
            results[name] = [{"error": f"while calling your function, {fate}"}] * len(
                next(p for p in info["parts"] if p["part"] == name)["cases"])
        else:
            notes.append(f"the grader's worker could not start: {fate} {run.stderr[-300:]}")
            break
    return results, notes


def judge(info, results) -> dict:
    """{part: {"score", "message", "visible_ok"}} from the worker's plain answers."""
    verdicts = {}
    for part in info["parts"]:
        answers = results.get(part["part"])
        message, visible_ok = None, True
        if answers is None:
            message = "your answer could not be run (see the notes)"
            visible_ok = False
        else:
            for (case, hidden), answer in zip(part["cases"], answers):
                from rnnlab.checks import REGISTRY
                problem = REGISTRY[part["name"]].run_judge(case, answer)
                if problem:
                    if not hidden:
                        visible_ok = False
                    if message is None:
                        message = f"{'hidden case' if hidden else 'case'} {case.label}: {problem}"
        verdicts[part["part"]] = {"score": 0.0 if message else float(part["points"]),
                                  "points": part["points"], "message": message,
                                  "visible_ok": visible_ok}
    return verdicts


# ---------------------------------------------------------------------------------------------
# The notebook as the student wrote it, in a sandboxed kernel
# ---------------------------------------------------------------------------------------------

def notebook_to_run(nb, info):
    """The student's notebook with the locked cells (tests, setup) restored from the release,
    deleted ones put back after their answer cell, and the answer cells' metadata restored."""
    out = nbformat.v4.new_notebook(metadata=info["release"].metadata)
    seen = set()
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader") if isinstance(cell.metadata, dict) else None
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        if grade_id in info["cells"]:
            original = info["cells"][grade_id]
            if original.metadata["nbgrader"].get("locked") or original.metadata["nbgrader"].get("grade"):
                if grade_id in seen:
                    continue
                cell = nbformat.from_dict(json.loads(json.dumps(original)))
            else:
                cell = nbformat.from_dict({**cell, "metadata": json.loads(json.dumps(original.metadata))})
            seen.add(grade_id)
        elif isinstance(meta, dict):
            cell = nbformat.from_dict({**cell, "metadata": {}})
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        out.cells.append(cell)
    for grade_id, original in info["cells"].items():
        if grade_id in seen or not original.metadata["nbgrader"].get("locked"):
            continue
        copy = nbformat.from_dict(json.loads(json.dumps(original)))
        index = len(out.cells)
        match = CHECK_CALL.search(original.source)
        if match:
            part = match.group(1).split(".", 1)[1]
            for i, c in enumerate(out.cells):
                if c.metadata.get("nbgrader", {}).get("grade_id") == part:
                    index = i + 1
        out.cells.insert(index, copy)
        seen.add(grade_id)
    for i, cell in enumerate(out.cells):
        cell["id"] = f"cell-{i}"  # unique, whatever the student duplicated
        cell.pop("attachments", None) if cell.cell_type == "code" else None
    return out


def run_notebook(nb, info, options: Options, run_dir: Path, folder: Path = None) -> tuple[object, dict, list[str]]:
    """Execute ``nb`` in a sandboxed kernel: (executed notebook, {check name: last recorded
    visible answers}, notes)."""
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager
    from nbclient import NotebookClient
    from rnnlab.checks.plain import from_wire, to_wire

    limits = Limits.from_json(options.limits)
    notes = []
    home, conn, visible, records = (run_dir / n for n in ("home", "conn", "visible", "records"))
    for d in (home, conn, visible, records):
        d.mkdir(parents=True)
    if folder is not None:
        copy_submission(folder, home)
    for part in info["parts"]:
        text, blob = to_wire({"probe": part["probe"], "time_limit": part["time_limit"],
                              "cases": [c for c in part["wire_cases"] if not c["hidden"]]})
        (visible / f"{part['name']}.json").write_text(text)
        (visible / f"{part['name']}.npz").write_bytes(blob)
    for path in [visible, *visible.iterdir()]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    sandbox.own_by_nobody(home, records)
    spec = {"home": str(home), "guarded": str(guarded_copy()), "conn_dir": str(conn),
            "run_dir": str(run_dir), "limits": asdict(limits), "sandboxed": options.sandboxed,
            "binds": [[str(records), "/grader/notebook"]],
            "ro_binds": [[str(visible), "/grader/visible"]],
            "env": {"RNNLAB_GRADER_VISIBLE": str(visible), "RNNLAB_GRADER_RECORDS": str(records)}}
    cgroup = sandbox.Cgroup(limits) if options.sandboxed else None
    spec["cgroup"] = [str(p) for p in cgroup.paths] if cgroup else []
    specs = sandbox.kernel_spec_dir(run_dir, spec)
    km = KernelManager(kernel_name=sandbox.KERNEL_NAME,
                       kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(specs)]),
                       transport="ipc", ip=str(conn / "kernel"),
                       connection_file=str(conn / "kernel.json"))
    client = _CappedClient(nb, km=km, timeout=limits.cell_s, startup_timeout=60,
                           allow_errors=True, interrupt_on_timeout=True, record_timing=False,
                           output_cap=limits.output_kb << 10, wall_s=limits.wall_s)
    start = time.monotonic()
    outcome = {}

    def execute():
        try:
            client.execute()
        except BaseException as error:  # noqa: BLE001
            outcome["error"] = error

    # nbclient in a thread, so that a client stuck on a dead kernel cannot hold the batch
    thread = threading.Thread(target=execute, daemon=True)
    thread.start()
    dead_since, seen_alive = None, False
    while thread.is_alive() and time.monotonic() - start < limits.wall_s + 10:
        thread.join(0.5)
        # a kernel whose processes are all gone is dead, whatever the client still waits for
        if cgroup and cgroup.active and thread.is_alive():
            if not cgroup.empty():
                seen_alive, dead_since = True, None
            elif seen_alive:
                dead_since = dead_since or time.monotonic()
                if time.monotonic() - dead_since > 2:
                    outcome["error"] = RuntimeError("the kernel died")
                    break
    if thread.is_alive() and "error" not in outcome:
        outcome["error"] = TimeoutError("the kernel stopped answering")
        if cgroup:
            cgroup.kill_all()
        (run_dir / "wall_clock").write_text("killed")
    try:
        if "error" in outcome:
            raise outcome["error"]
    except Exception as error:  # noqa: BLE001 (a dead kernel, a timeout: the submission's)
        if cgroup and cgroup.out_of_memory():
            (run_dir / "out_of_memory").write_text("killed")
        cause = "the kernel died"
        if (run_dir / "wall_clock").exists() or time.monotonic() - start > limits.wall_s:
            cause = f"the notebook ran past its {limits.wall_s:g} s limit and was stopped"
        elif (run_dir / "out_of_memory").exists():
            cause = f"the notebook ran out of memory ({limits.memory_mb} MB) and was stopped"
        where = f" in cell {client.current_index + 1}" if client.current_index is not None else ""
        notes.append(f"running the notebook: {cause}{where} ({type(error).__name__}); "
                     "the cells after it were not run")
    finally:
        if not thread.is_alive() or "died" in str(outcome.get("error", "")):
            try:
                km.shutdown_kernel(now=True)
            except Exception:  # noqa: BLE001
                pass
        if cgroup:
            cgroup.remove()
    if client.truncated:
        notes.append(f"the output of {client.truncated} cell(s) was cut at {limits.output_kb} kB")
    recorded = {}
    for path in sorted(records.glob("*.json")):
        try:
            if path.stat().st_size > (4 << 20):
                continue
            name = path.stem.split("-", 1)[1]
            recorded[name] = from_wire(path.read_text(), path.with_suffix(".npz").read_bytes())
        except Exception:  # noqa: BLE001 (forged or half-written records are ignored)
            continue
    return nb, recorded, notes


from nbclient import NotebookClient  # noqa: E402


class _CappedClient(NotebookClient):
    """nbclient that keeps at most ``output_cap`` bytes of text per cell and stops when the
    notebook's wall-clock limit is reached."""

    def __init__(self, nb, output_cap: int, wall_s: float, **kwargs):
        super().__init__(nb, **kwargs)
        self.output_cap, self.wall_s = output_cap, wall_s
        self.current_index, self.truncated, self._sizes = None, 0, {}
        self._start = time.monotonic()

    async def _async_handle_timeout(self, timeout, cell=None):
        """A cell ran past its limit: stop at once if the kernel is dead or the notebook's
        time is up; else interrupt it (a message on the control channel, sent without
        blocking: a send to a dead ipc peer would wait forever)."""
        await self._async_check_alive()
        if time.monotonic() - self._start > self.wall_s:
            raise TimeoutError("the notebook's time limit")
        import zmq
        try:
            self.km._connect_control_socket()
            self.km._control_socket.setsockopt(zmq.SNDTIMEO, 1000)
            self.km._control_socket.setsockopt(zmq.LINGER, 0)
            return await super()._async_handle_timeout(timeout, cell)
        except zmq.ZMQError as error:
            raise TimeoutError("the kernel does not answer interrupts") from error

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        self.current_index = cell_index
        return await super().async_execute_cell(cell, cell_index, execution_count, store_history)

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        size = len(json.dumps(content))
        used = self._sizes.get(cell_index, 0)
        if used + size > self.output_cap:
            if used <= self.output_cap:
                self.truncated += 1
                self._sizes[cell_index] = self.output_cap + 1
                outs.append(nbformat.v4.new_output("stream", name="stdout",
                                                   text=f"[output cut at {self.output_cap >> 10} kB]\n"))
            return None
        self._sizes[cell_index] = used + size
        return super().output(outs, msg, display_id, cell_index)


# ---------------------------------------------------------------------------------------------
# One job
# ---------------------------------------------------------------------------------------------

def grade_submission(job: Job) -> dict:
    """Grade one submission; never raises for anything the submission does."""
    start = time.monotonic()
    info = assignment(job.stem)
    options = job.options if isinstance(job.options, Options) else Options(**job.options)
    result = {"student": job.student, "stem": job.stem, "notes": [], "review": [],
              "parts": {}, "notebook": None}
    nb, notes = read_notebook(Path(job.path))
    result["notes"] += notes
    run_dir = Path(tempfile.mkdtemp(prefix="rnnlab-grade-"))
    try:
        if nb is None:
            verdicts = {p["part"]: {"score": 0.0, "points": p["points"], "visible_ok": False,
                                    "message": "the notebook could not be read, so no answer was graded"}
                        for p in info["parts"]}
            result["notebook"] = _annotated(info["release"], verdicts, result["notes"])
        else:
            answers, notes = answer_cells(nb, info)
            result["notes"] += notes
            results, notes = verify(info, answers, options, run_dir / "verify", Path(job.path).parent)
            result["notes"] += notes
            verdicts = judge(info, results)
            executed = notebook_to_run(nb, info)
            if options.run_notebook:
                (run_dir / "notebook").mkdir()
                executed, recorded, notes = run_notebook(executed, info, options, run_dir / "notebook",
                                                          Path(job.path).parent)
                result["notes"] += notes
                completed = not notes or all("cut at" in n for n in notes)
                for part in info["parts"]:
                    v = verdicts[part["part"]]
                    mine = _judge_recorded(part, recorded.get(part["name"]))
                    if mine is None and completed:
                        result["review"].append(f"{part['part']}: the test cell recorded no answer "
                                                "(check bypassed?)")
                    elif mine is not None and mine != v["visible_ok"]:
                        result["review"].append(
                            f"{part['part']}: the notebook's visible tests {'passed' if mine else 'failed'}, "
                            f"the verification's {'passed' if v['visible_ok'] else 'failed'}")
            result["notebook"] = _annotated(executed, verdicts, result["notes"])
        result["parts"] = verdicts
    except Exception as error:  # noqa: BLE001 (a bug of the grader: still a score and a reason)
        import traceback
        result["notes"].append(f"the grader failed on this submission ({type(error).__name__}: {error}); "
                               "it was given 0 and flagged")
        result["review"].append("grader error: " + traceback.format_exc(limit=3)[-400:])
        result["parts"] = {p["part"]: {"score": 0.0, "points": p["points"], "visible_ok": False,
                                       "message": "not graded (grader error)"} for p in info["parts"]}
        result["notebook"] = _annotated(info["release"], result["parts"], result["notes"])
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    result["score"] = sum(v["score"] for v in result["parts"].values())
    result["seconds"] = round(time.monotonic() - start, 3)
    return result


def _judge_recorded(part, recorded) -> Optional[bool]:
    """Whether the notebook's own test cell got the visible cases right, judged here."""
    if recorded is None:
        return None
    from rnnlab.checks import REGISTRY
    visible = [c for c, hidden in part["cases"] if not hidden]
    if not isinstance(recorded, list) or len(recorded) != len(visible):
        return False
    return all(REGISTRY[part["name"]].run_judge(c, r) is None for c, r in zip(visible, recorded))


def _annotated(nb, verdicts, notes) -> dict:
    """The notebook for the feedback: the grader's verdict under every test cell, and the notes
    on top."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        match = CHECK_CALL.search(cell.source) if meta.get("grade") else None
        if not match:
            continue
        v = verdicts.get(match.group(1).split(".", 1)[1])
        if v is None:
            continue
        text = (f"Grader (verified outside your notebook): {v['score']:g} / {v['points']} points"
                + (f". {v['message']}" if v["message"] else ": passed, every visible and hidden case is right"))
        cell.setdefault("outputs", []).append(nbformat.v4.new_output("stream", name="stdout", text=text + "\n"))
    if notes:
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(
            "**Notes from the grader**\n\n" + "\n".join(f"- {n}" for n in notes)))
    return json.loads(nbformat.writes(nb))


# ---------------------------------------------------------------------------------------------
# The gradebook
# ---------------------------------------------------------------------------------------------

def record(result: dict, db_url: str, autograded: Path) -> None:
    """Write the scores into nbgrader's gradebook and the autograded notebook to disk."""
    from nbgrader.api import MissingEntry

    info = assignment(result["stem"])
    student, stem = result["student"], result["stem"]
    folder = autograded / student / stem
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.ipynb").write_text(json.dumps(result["notebook"], indent=1))
    for attempt in range(20):
        gb = _gradebook(db_url)
        try:
            gb.update_or_create_student(student)
            try:
                gb.find_submission(stem, student)
            except MissingEntry:
                gb.add_submission(stem, student)
            for part in info["parts"]:
                verdict = result["parts"][part["part"]]
                grade = gb.find_grade(part["test_id"], stem, stem, student)
                grade.auto_score = verdict["score"]
                grade.manual_score = None
                comment = gb.find_comment(part["part"], stem, stem, student)
                comment.auto_comment = verdict["message"] or "verified: every case is right"
            gb.db.commit()
            return
        except Exception:  # noqa: BLE001 (a locked SQLite file, a concurrent insert): retry
            try:
                gb.db.rollback()
            except Exception:  # noqa: BLE001
                pass
            _GRADEBOOKS.pop(db_url, None)
            if attempt == 19:
                raise
            time.sleep(0.1 * (attempt + 1))


_GRADEBOOKS: dict = {}


def _gradebook(db_url: str):
    """One open gradebook per database and process (opening one costs more than a write)."""
    from nbgrader.api import Gradebook
    if db_url not in _GRADEBOOKS:
        _GRADEBOOKS[db_url] = Gradebook(db_url)
    return _GRADEBOOKS[db_url]


def close_gradebooks() -> None:
    while _GRADEBOOKS:
        _, gb = _GRADEBOOKS.popitem()
        try:
            gb.close()
        except Exception:  # noqa: BLE001
            pass


def grade_and_record(job: Job, db_url: str, autograded: str) -> dict:
    """A whole job for a distributed worker: grade, then record in the shared gradebook."""
    result = grade_submission(job)
    record(result, db_url, Path(autograded))
    return result
