"""The notebook in the sandbox: nbgrader's ``Execute`` step with the kernel inside bubblewrap.

``SandboxedExecute`` replaces nbgrader's ``Execute`` in ``Autograde.autograde_preprocessors``.
For one submission it makes a run folder:

- ``home``: a copy of the submission's folder (regular files only), the kernel's working
  directory and the only place it may write besides ``records``;
- ``guarded``: rnnlab without its references (``guarded.py``);
- ``cases``: the cases of every check the notebook's test cells call, visible and hidden, as
  plain data (computed here, with the references, by trusted code);
- ``records``: where the guarded ``check`` writes the student's answers for ``verify.Verify``.

Then it runs the notebook as nbgrader does, every cell in notebook order (the student's own
cells included), in a kernel started by ``SandboxKernelManager``. Each test cell calls
``check`` twice (the visible cases, then the hidden ones): the answers recorded are what the
student's functions return at that point of the notebook, the same functions the notebook's
own visible test saw. Time limits: an ordinary cell has ``Execute.timeout``; a test cell has
that plus its check's time limit for every case it runs.

A cell that kills the kernel (a segmentation fault, ``os._exit``, running out of memory) or
that does not stop when interrupted is skipped and the notebook is run again from the start
without it, at most ``max_restarts`` times; the notes say which cell and why. The text output
of a cell is capped at ``output_kb`` while it runs, and the processes a cell leaves running
(a fork bomb's copies of the kernel spin on, taking the CPU that the next checks' time limits
measure) are stopped when it ends; the notes say so.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbgrader.preprocessors import Execute
from traitlets import Bool, Float, Integer, default

from . import guarded, sandbox

CHECK_CALL = re.compile(r'check\(\s*"([^"]+)"')


def check_names(cell) -> list[str]:
    """The checks a test cell calls, in order."""
    return CHECK_CALL.findall(cell.source) if cell.cell_type == "code" else []


class KernelLost(Exception):
    """The kernel died in, or would not stop after, the cell at ``index``."""

    def __init__(self, index: int, cause: str):
        super().__init__(cause)
        self.index, self.cause = index, cause


class RunFolder:
    """The folders of one sandboxed notebook run (see the module docstring)."""

    def __init__(self, submission: Path, guarded_copy: Path):
        self.root = Path(tempfile.mkdtemp(prefix="rnnlab-run-"))
        self.submission, self.guarded = submission, guarded_copy
        self.home, self.cases, self.records, self.conn = (self.root / n for n in ("home", "cases", "records", "conn"))
        for folder in (self.home, self.cases, self.records, self.conn):
            folder.mkdir()

    def write_cases(self, names) -> None:
        """The plain inputs of every case of the named checks, visible and hidden."""
        from rnnlab.checks import REGISTRY
        from rnnlab.checks.plain import describe, to_wire
        for name in sorted(set(names)):
            if name not in REGISTRY:
                continue
            check = REGISTRY[name]
            probe = f"{check.probe.__module__}:{check.probe.__name__}" if check.probe else None
            spec = {"probe": probe, "time_limit": check.time_limit}
            for kind, hidden in (("visible", False), ("hidden", True)):
                spec[kind] = [{"label": c.label, "args": [describe(a) for a in c.args]}
                              for c in check.cases(hidden)]
            text, blob = to_wire(spec)
            (self.cases / f"{name}.json").write_text(text)
            (self.cases / f"{name}.npz").write_bytes(blob)
        for path in [self.cases, *self.cases.iterdir()]:
            path.chmod(0o755 if path.is_dir() else 0o644)

    def prepare_attempt(self) -> None:
        """A fresh copy of the submission and empty records and connection folders, owned by
        the sandbox's user (an attempt never sees what an earlier one wrote)."""
        for folder in (self.home, self.records, self.conn):
            shutil.rmtree(folder)
            folder.mkdir()
        copy_regular_files(self.submission, self.home)
        sandbox.own_by_nobody(self.home, self.records, self.conn)

    def read_records(self, limit: int = 16 << 20) -> dict:
        """{(check name, "visible" or "hidden"): probe results}, the last record of each; forged
        or half-written files are ignored (the part then has no answer)."""
        from rnnlab.checks.plain import from_wire
        records = {}
        for path in sorted(self.records.glob("*.json")):
            try:
                blob = path.parent / (path.name[:-len(".json")] + ".npz")
                if path.stat().st_size + blob.stat().st_size > limit:
                    continue
                name, kind = path.name[:-len(".json")].split("-", 1)[1].rsplit("-", 1)  # NNN-name-kind
                records[(name, kind)] = from_wire(path.read_text(), blob.read_bytes())
            except Exception:  # noqa: BLE001 (anything the student's code left there)
                continue
        return records

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def copy_regular_files(folder: Path, home: Path, limit: int = 50 << 20) -> None:
    """The submission's folder copied into ``home``: regular files of at most ``limit`` bytes,
    no symbolic link (nothing that points out of the folder)."""
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() or any(p.is_symlink() for p in path.relative_to(folder).parents if p != Path(".")):
            continue
        target = home / path.relative_to(folder)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif path.is_file() and path.stat().st_size <= limit:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


class SandboxKernelManager(AsyncKernelManager):
    """A Jupyter kernel (ipykernel, over the ipc transport: no TCP port can be reached across
    the network namespace) started inside the sandbox, in a cgroup of its own, with its
    limits. Interrupts are messages on the control channel (a signal would reach only bwrap)."""

    def __init__(self, run: RunFolder, limits: sandbox.Limits, sandboxed: bool, **kwargs):
        super().__init__(transport="ipc", ip=str(run.conn / "kernel"),
                         connection_file=str(run.conn / "kernel.json"), **kwargs)
        self.run, self.limits, self.sandboxed = run, limits, sandboxed
        self.cgroup = sandbox.Cgroup(limits) if sandboxed else None
        self.own = frozenset()   # the kernel's own processes, once it answers
        self._kernel_spec = KernelSpec(
            argv=[sandbox.PYTHON, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            display_name="Python 3 (grading sandbox)", language="python", interrupt_mode="message",
            metadata={"debugger": False})

    def format_kernel_cmd(self, extra_arguments=None):
        argv = super().format_kernel_cmd(extra_arguments)
        if not self.sandboxed:
            return argv
        run = self.run
        return sandbox.command(argv, home=run.home, guarded=run.guarded, cases=run.cases,
                               records=run.records, conn=run.conn, run_dir=run.root)

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        limits = sandbox.ChildLimits(self.limits, self.cgroup)
        if self.sandboxed:
            kw["env"] = {}   # bwrap --clearenv sets the whole environment
        else:
            kw["env"] = sandbox.environment(str(self.run.guarded), str(self.run.cases),
                                            str(self.run.records), str(self.run.home))
            kw["cwd"] = str(self.run.home)
        kw["preexec_fn"] = limits
        kw["stdout"] = subprocess.DEVNULL   # ipykernel's banner; the student's output goes to the client
        kw["stderr"] = open(self.run.root / "kernel.stderr", "ab")
        try:
            return await super()._async_launch_kernel(kernel_cmd, **kw)
        finally:
            limits.close()
            kw["stderr"].close()

    def out_of_memory(self) -> bool:
        return bool(self.cgroup and self.cgroup.out_of_memory())

    def returncode(self):
        process = getattr(self.provisioner, "process", None)
        return process.poll() if process is not None else None

    def remember_own_processes(self) -> None:
        """bwrap's and the kernel's processes, taken once the kernel answers: every other
        process of its cgroup was started by a cell."""
        self.own = frozenset(self.cgroup.processes()) if self.cgroup else frozenset()

    def stop_leftovers(self) -> int:
        """Kill the processes a cell left running; how many (none without a cgroup)."""
        return self.cgroup.kill_all(keep=self.own) if self.own else 0

    def remove(self) -> None:
        if self.cgroup:
            self.cgroup.remove()


class SandboxedExecute(Execute):
    """nbgrader's Execute, with the kernel in the sandbox (see the module docstring)."""

    sandboxed = Bool(help="Run the kernel in bubblewrap; False only with UNSANDBOXED=1, for an "
                          "instructor's own notebooks.").tag(config=True)
    memory_mb = Integer(2048, help="Memory of the kernel and everything it starts (MB).").tag(config=True)
    pids = Integer(64, help="Processes and threads the kernel may have at once.").tag(config=True)
    fsize_mb = Integer(64, help="The largest file the notebook may write (MB).").tag(config=True)
    output_kb = Integer(1024, help="Text output of one cell kept, while it runs (kB).").tag(config=True)
    wall_s = Float(300.0, help="Seconds the whole notebook may take, on top of its checks' own "
                               "time limits; its CPU time is capped at twice as much.").tag(config=True)
    max_restarts = Integer(3, help="Cells that kill the kernel that are skipped before the "
                                   "notebook is given up.").tag(config=True)
    stuck_s = Float(10.0, help="Seconds an interrupted cell has to stop before the kernel is "
                               "restarted without it.").tag(config=True)

    @default("sandboxed")
    def _sandboxed_default(self):
        return not sandbox.unsandboxed()

    def preprocess(self, nb, resources):
        if self.sandboxed and sandbox.refusal():
            raise RuntimeError(sandbox.refusal())
        names = [n for cell in nb.cells for n in check_names(cell)]
        run = RunFolder(Path(resources["metadata"]["path"]), guarded_copy())
        notes, skipped = [], {}
        self._truncated, self._leftovers = 0, {}
        try:
            run.write_cases(names)
            budget = self.wall_s + sum(self._check_seconds(n) for n in names)
            deadline = time.monotonic() + budget
            limits = sandbox.Limits(memory_mb=self.memory_mb, cpu_s=int(2 * budget), pids=self.pids,
                                    fsize_mb=self.fsize_mb)
            for attempt in range(self.max_restarts + 1):
                run.prepare_attempt()
                todo = nbformat.from_dict(json.loads(json.dumps(nb)))
                km = SandboxKernelManager(run, limits, self.sandboxed)
                try:
                    executed = self._execute(todo, resources, km, skipped, deadline)
                    break
                except KernelLost as lost:
                    skipped[lost.index] = lost.cause
                    notes.append(f"running the notebook: cell {lost.index + 1} "
                                 f"{self._describe(todo.cells[lost.index])} {lost.cause}; "
                                 + ("the notebook was run again without it" if attempt < self.max_restarts
                                    else "the cells after it were not run"))
                    executed = todo
                finally:
                    self._shutdown(km)
            for index, count in sorted(self._leftovers.items()):
                notes.append(f"running the notebook: cell {index + 1} {self._describe(nb.cells[index])} "
                             f"left {count} process(es) running; they were stopped when it ended")
            if self._truncated:
                notes.append(f"the output of {self._truncated} cell(s) was cut at {self.output_kb} kB")
            resources["rnnlab"] = {"records": run.read_records(), "notes": notes, "skipped": skipped}
        finally:
            run.remove()
        return executed, resources

    # -----------------------------------------------------------------------------------------

    def _check_seconds(self, name: str) -> float:
        from rnnlab.checks import REGISTRY
        if name not in REGISTRY:
            return 0.0
        check = REGISTRY[name]
        return check.time_limit * (len(check.cases(False)) + len(check.cases(True)))

    def _cell_timeout(self, cell) -> int:
        return int(self.timeout + sum(self._check_seconds(n) for n in check_names(cell)))

    @staticmethod
    def _describe(cell) -> str:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        return f"({grade_id})" if grade_id else "(a cell of yours)"

    def _execute(self, nb, resources, km, skipped: dict, deadline: float):
        """nbconvert's ExecutePreprocessor.preprocess, cell by cell, skipping ``skipped``, with
        the kernel's death or deafness turned into ``KernelLost``."""
        self.__init_client(nb, km, resources)
        with self.setup_kernel():
            info = self.wait_for_reply(self.kc.kernel_info())
            self.nb.metadata["language_info"] = info["content"]["language_info"]
            km.remember_own_processes()
            for index, cell in enumerate(self.nb.cells):
                if index in skipped:
                    cell.outputs = [nbformat.v4.new_output(
                        "stream", name="stdout", text=f"[not run by the grader: {skipped[index]}]\n")]
                    continue
                if time.monotonic() > deadline:
                    raise KernelLost(index, "was not run: the notebook ran past its time limit")
                self._interrupted = False
                try:
                    self.preprocess_cell(cell, resources, index)
                except DeadKernelError:
                    raise KernelLost(index, self._death(km)) from None
                except CellTimeoutError:  # no output, no reply: the kernel is deaf
                    raise KernelLost(index, self._deafness(cell)) from None
                if self._interrupted and not self._responsive():
                    raise KernelLost(index, self._deafness(cell))
                stopped = km.stop_leftovers()
                if stopped:
                    self._leftovers[index] = max(stopped, self._leftovers.get(index, 0))
        self.set_widgets_metadata()
        return self.nb

    def __init_client(self, nb, km, resources):
        from nbclient import NotebookClient
        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        self.timeout_func = self._cell_timeout
        self._sizes = {}

    async def _async_handle_timeout(self, timeout, cell=None):
        self._interrupted = True
        return await super()._async_handle_timeout(timeout, cell)

    def _deafness(self, cell) -> str:
        if self._interrupted:
            return (f"did not stop when interrupted at its time limit ({self._cell_timeout(cell)} s) "
                    "and the kernel was restarted")
        return "stopped the kernel from answering and the kernel was restarted"

    def _responsive(self) -> bool:
        """Whether the kernel answers again after an interrupt (a cell that catches
        KeyboardInterrupt and loops on would leave it busy)."""
        try:
            self.wait_for_reply(self.kc.kernel_info(), timeout=self.stuck_s)
            return True
        except Exception:  # noqa: BLE001 (a timeout, or a dead kernel)
            return False

    def wait_for_reply(self, msg_id, cell=None, timeout=None):
        if timeout is None:
            return super().wait_for_reply(msg_id, cell)
        saved, self.timeout_func, self.timeout = (self.timeout_func, self.timeout), None, timeout
        try:
            return super().wait_for_reply(msg_id, cell)
        finally:
            self.timeout_func, self.timeout = saved

    def _death(self, km: SandboxKernelManager) -> str:
        for _ in range(20):  # the exit status arrives a moment after the kernel's sockets close
            if km.returncode() is not None:
                break
            time.sleep(0.05)
        if km.out_of_memory():
            return f"ran out of memory ({self.memory_mb} MB) and the kernel was killed"
        return f"ended the kernel ({sandbox.ended(km.returncode())})"

    @staticmethod
    def _shutdown(km: SandboxKernelManager) -> None:
        try:
            if km.has_kernel:
                run_sync(km.shutdown_kernel)(now=True)
        except Exception:  # noqa: BLE001 (a kernel already gone)
            pass
        km.remove()

    def output(self, outs, msg, display_id, cell_index):
        """Keep at most ``output_kb`` of text per cell, said once where it was cut."""
        size = len(json.dumps(msg.get("content", {})))
        used = self._sizes.get(cell_index, 0)
        cap = self.output_kb << 10
        if used + size > cap:
            if used <= cap:
                self._truncated += 1
                self._sizes[cell_index] = cap + 1
                outs.append(nbformat.v4.new_output("stream", name="stdout",
                                                   text=f"[output cut at {self.output_kb} kB]\n"))
            return None
        self._sizes[cell_index] = used + size
        return super().output(outs, msg, display_id, cell_index)


_GUARDED: dict = {}


def guarded_copy() -> Path:
    """The guarded rnnlab of this process, built once, removed at exit by the process that
    built it."""
    import atexit
    import os
    if "path" not in _GUARDED:
        folder = guarded.build(Path(tempfile.mkdtemp(prefix="rnnlab-guarded-")))
        _GUARDED["path"] = folder
        creator = os.getpid()
        atexit.register(lambda: os.getpid() == creator and shutil.rmtree(folder, ignore_errors=True))
    return _GUARDED["path"]
