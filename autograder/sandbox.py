"""The sandbox that untrusted code runs in: bubblewrap with resource limits.

Its one user is the notebook kernel (``kernel.py``): the grading kernel is started by the
command that ``command`` builds, with ``ChildLimits`` run in the child before it starts.

What a sandboxed process gets:

- an unprivileged identity: bwrap is started by ``setpriv`` as uid/gid 65534 (nobody), and
  told ``--uid 65534 --gid 65534 --cap-drop ALL`` as well; where setpriv cannot start an
  unprivileged bwrap, bwrap runs as root with those flags (the sandboxed code still cannot
  remount anything, but it owns root's files in the binds, so only harmless paths are bound);
- no network and its own pid, ipc, uts and cgroup namespaces (``--unshare-all``);
- the system (/usr, the Python installation, the venv) read-only, a private ``/tmp``, a fake
  ``/etc/passwd``, the grading copy of rnnlab (``guarded.py``: no reference implementations)
  at ``GUARDED_MOUNT``, the cases of the checks read-only at ``CASES_MOUNT``, and read-write
  only a copy of the submission (``HOME``), the folder the checks record answers in
  (``RECORDS_MOUNT``) and the kernel's connection folder; never ``solutions/``, the gradebook
  or other submissions;
- limits: memory and processes through a cgroup made for the run (cgroup v2, else the v1
  ``memory`` and ``pids`` hierarchies); where no cgroup can be made, RLIMIT_DATA and
  RLIMIT_NPROC instead (RLIMIT_AS would break ``import torch``, which maps far more address
  space than it uses). Always: RLIMIT_CPU, RLIMIT_FSIZE (output files) and no core files.

``UNSANDBOXED=1`` runs the same command without bwrap (the limits still apply): for an
instructor's own notebooks on a machine without bubblewrap, never for students' submissions.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .inside.paths import (CASES_MOUNT, CASES_VARIABLE, GUARDED_MOUNT, HOME, RECORDS_MOUNT,
                           RECORDS_VARIABLE)

NOBODY = 65534
PYTHON = os.path.normpath(os.path.abspath(sys.executable))



@dataclass
class Limits:
    """The limits of one sandboxed process tree (a notebook kernel and what it starts)."""

    memory_mb: int = 2048      # cgroup memory limit (RLIMIT_DATA where no cgroup)
    cpu_s: int = 600           # RLIMIT_CPU of every process
    pids: int = 64             # processes and threads (cgroup pids.max, else RLIMIT_NPROC)
    fsize_mb: int = 64         # largest file it may write (RLIMIT_FSIZE)


def unsandboxed() -> bool:
    """Whether the instructor asked to run without the sandbox (``UNSANDBOXED=1``)."""
    return os.environ.get("UNSANDBOXED", "") not in ("", "0")


def missing() -> Optional[str]:
    """Why the sandbox cannot be used here, or None."""
    if sys.platform != "linux":
        return f"bubblewrap needs Linux (this is {sys.platform})"
    if not shutil.which("bwrap"):
        return "bubblewrap (`bwrap`) is not installed (Debian: apt-get install bubblewrap)"
    probe = subprocess.run(_bwrap_prefix() + ["--ro-bind", "/", "/", "true"], capture_output=True)
    if probe.returncode != 0:
        return f"bwrap cannot start a sandbox here: {probe.stderr.decode(errors='replace').strip()}"
    return None


def refusal() -> Optional[str]:
    """Why grading must not start here (no sandbox, and UNSANDBOXED=1 not set), or None."""
    why = None if unsandboxed() else missing()
    if why:
        return (f"refusing to grade: the sandbox is not available ({why}). Install bubblewrap, or "
                "set UNSANDBOXED=1 (`make grade UNSANDBOXED=1`) to grade your own notebooks "
                "without it, never students'.")
    return None


_PRIVILEGE: Optional[list] = None


def _bwrap_prefix() -> list:
    """setpriv to nobody when an unprivileged bwrap can bind what it needs here (the sandboxed
    code is then nobody to the kernel, not root in a user namespace); else bwrap as it is (as
    root: uid 65534 in a user namespace, all capabilities dropped; only harmless paths bound).
    A Python installed under /root, unreadable to nobody, forces the second."""
    global _PRIVILEGE
    if _PRIVILEGE is None:
        _PRIVILEGE = []
        if os.geteuid() == 0 and shutil.which("setpriv"):
            command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
            binds = [a for prefix in {sys.base_prefix, sys.prefix} for a in ("--ro-bind", prefix, prefix)]
            test = subprocess.run(command + ["bwrap", "--unshare-all", "--ro-bind", "/", "/", *binds,
                                             sys.executable, "-c", ""], capture_output=True)
            if test.returncode == 0:
                _PRIVILEGE = command
    return _PRIVILEGE + ["bwrap"]


def as_nobody() -> bool:
    _bwrap_prefix()
    return bool(_PRIVILEGE)


# ---------------------------------------------------------------------------------------------
# cgroups
# ---------------------------------------------------------------------------------------------

class Cgroup:
    """A cgroup for one process tree with memory and pids limits, or nothing where none can be
    made (``active`` is then False and the rlimit fallback applies)."""

    def __init__(self, limits: Limits):
        self.paths: list[Path] = []
        self.memory_file: Optional[Path] = None
        name = f"rnnlab-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        root = Path("/sys/fs/cgroup")
        try:
            if (root / "cgroup.controllers").exists():  # v2
                available = (root / "cgroup.controllers").read_text().split()
                if "memory" in available and "pids" in available:
                    path = root / name
                    path.mkdir()
                    self.paths = [path]
                    (path / "memory.max").write_text(str(limits.memory_mb << 20))
                    if (path / "memory.swap.max").exists():
                        (path / "memory.swap.max").write_text("0")
                    (path / "pids.max").write_text(str(limits.pids))
                    self.memory_file = path / "memory.events"
            elif (root / "memory").is_dir() and (root / "pids").is_dir():  # v1
                memory, pids = root / "memory" / name, root / "pids" / name
                memory.mkdir()
                self.paths.append(memory)
                pids.mkdir()
                self.paths.append(pids)
                (memory / "memory.limit_in_bytes").write_text(str(limits.memory_mb << 20))
                swap = memory / "memory.memsw.limit_in_bytes"
                if swap.exists():
                    try:
                        swap.write_text(str(limits.memory_mb << 20))
                    except OSError:
                        pass
                (pids / "pids.max").write_text(str(limits.pids))
                self.memory_file = memory / "memory.oom_control"
        except OSError:
            self.remove()
            self.paths = []

    @property
    def active(self) -> bool:
        return bool(self.paths)

    def out_of_memory(self) -> bool:
        """Whether the kernel's out-of-memory killer ended a process of this cgroup."""
        if not self.memory_file or not self.memory_file.exists():
            return False
        for line in self.memory_file.read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and int(value or 0) > 0:
                return True
        return False

    def processes(self) -> set[int]:
        """The processes in this cgroup now (none where there is no cgroup)."""
        pids = set()
        for path in self.paths:
            try:
                pids |= {int(p) for p in (path / "cgroup.procs").read_text().split()}
            except OSError:
                pass
        return pids

    def kill_all(self, keep: frozenset = frozenset()) -> int:
        """SIGKILL every process of the cgroup but those in ``keep``, again until none is left
        (a fork bomb forks on while it is killed); how many were killed."""
        killed = set()
        for _ in range(50):
            pids = self.processes() - keep
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.add(pid)
                except OSError:
                    pass
            time.sleep(0.02)
        return len(killed)

    def remove(self) -> None:
        self.kill_all()
        for path in self.paths:
            for _ in range(50):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)


class ChildLimits:
    """What runs in the child between fork and exec (``preexec_fn``): join the cgroup (or set
    the rlimit fallback), then the CPU, file size and core limits. The cgroup files are opened
    before the fork, so the child only writes to a descriptor."""

    def __init__(self, limits: Limits, cgroup: Optional[Cgroup]):
        self.limits = limits
        self.joins = [os.open(path / "cgroup.procs", os.O_WRONLY) for path in (cgroup.paths if cgroup else [])]

    def __call__(self) -> None:
        for fd in self.joins:
            os.write(fd, b"0")
        memory, fsize = self.limits.memory_mb << 20, self.limits.fsize_mb << 20
        if not self.joins:  # the documented fallback: RLIMIT_DATA (not AS: torch) and RLIMIT_NPROC
            resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
            resource.setrlimit(resource.RLIMIT_NPROC, (self.limits.pids, self.limits.pids))
        resource.setrlimit(resource.RLIMIT_CPU, (self.limits.cpu_s, self.limits.cpu_s + 5))
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    def close(self) -> None:
        for fd in self.joins:
            os.close(fd)
        self.joins = []


# ---------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------

def _system_binds() -> list:
    args = []
    for path in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        p = Path(path)
        if p.is_symlink():
            args += ["--symlink", os.readlink(p), path]
        elif p.is_dir():
            args += ["--ro-bind", path, path]
    for path in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
                 "/etc/alternatives", "/etc/nsswitch.conf"):
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    return args


def _python_binds() -> list:
    """The Python installation and the venv, read-only, at their own paths; mounted after the
    private /tmp, so that a venv under /tmp (a fresh clone there) stays visible."""
    args = []
    for prefix in sorted({sys.base_prefix, sys.prefix, os.path.realpath(sys.base_prefix)}):
        if not prefix.startswith("/usr"):
            args += ["--ro-bind", prefix, prefix]
    return args


def environment(guarded: str, cases: str, records: str, home: str) -> dict:
    """The whole environment of sandboxed code (nothing from the grader's)."""
    return {"HOME": home, "USER": "student", "LANG": "C.UTF-8",
            "PATH": f"{Path(PYTHON).parent}:/usr/bin:/bin",
            "PYTHONPATH": guarded, "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0", "PYTHONNOUSERSITE": "1",
            CASES_VARIABLE: cases, RECORDS_VARIABLE: records,
            "MPLBACKEND": "Agg", "MPLCONFIGDIR": "/tmp", "IPYTHONDIR": "/tmp/ipython",
            "JUPYTER_RUNTIME_DIR": "/tmp", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "TMPDIR": "/tmp"}


def command(argv: list, *, home: Path, guarded: Path, cases: Path, records: Path, conn: Path,
            run_dir: Path) -> list:
    """``argv`` run in the sandbox: the bwrap command line (bound read-write: ``home`` at HOME,
    ``records`` and ``conn``; read-only: ``guarded`` and ``cases``)."""
    passwd = run_dir / "passwd"
    passwd.write_text(f"student:x:{NOBODY}:{NOBODY}:student:{HOME}:/bin/sh\n")
    group = run_dir / "group"
    group.write_text(f"student:x:{NOBODY}:\n")
    args = ["--unshare-all", "--die-with-parent", "--new-session",
            "--uid", str(NOBODY), "--gid", str(NOBODY), "--cap-drop", "ALL",
            *_system_binds(),
            "--ro-bind", str(passwd), "/etc/passwd", "--ro-bind", str(group), "/etc/group",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", *_python_binds(),
            "--ro-bind", str(guarded), GUARDED_MOUNT,
            "--ro-bind", str(cases), CASES_MOUNT,
            "--bind", str(records), RECORDS_MOUNT,
            "--bind", str(conn), str(conn),
            "--bind", str(home), HOME,
            "--remount-ro", "/", "--chdir", HOME, "--clearenv"]
    for key, value in environment(GUARDED_MOUNT, CASES_MOUNT, RECORDS_MOUNT, HOME).items():
        args += ["--setenv", key, value]
    return _bwrap_prefix() + args + ["--"] + list(argv)


def own_by_nobody(*paths: Path) -> None:
    """Give the sandboxed uid the folders it writes to (a no-op when not root)."""
    if os.geteuid() != 0 or not as_nobody():
        return
    for path in paths:
        for root, dirs, files in os.walk(path):
            os.chown(root, NOBODY, NOBODY)
            for name in files:
                os.chown(os.path.join(root, name), NOBODY, NOBODY, follow_symlinks=False)


def ended(returncode: Optional[int]) -> str:
    """How a sandboxed process ended, in words, from its exit status."""
    if returncode is None:
        return "it stopped answering"
    rc = returncode
    if rc > 128:  # bwrap reports its child's death by a signal as 128 + N
        rc = -(rc - 128)
    if rc < 0:
        name = signal.Signals(-rc).name if -rc in signal.Signals._value2member_map_ else str(-rc)
        extra = {"SIGSEGV": " (a segmentation fault)", "SIGXCPU": " (CPU time limit)",
                 "SIGXFSZ": " (file size limit: too much output)"}.get(name, "")
        return f"it was killed by {name}{extra}"
    return f"it exited with status {rc}"
