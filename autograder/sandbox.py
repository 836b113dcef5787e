"""Running untrusted code: a bubblewrap sandbox with resource limits, and a kernel launcher
that puts nbgrader's / nbclient's Jupyter kernel inside it.

What a sandboxed process gets:

- an unprivileged identity: bwrap is started by ``setpriv`` as uid/gid 65534 (nobody), and
  told ``--uid 65534 --gid 65534 --cap-drop ALL`` as well; where setpriv cannot start an
  unprivileged bwrap, bwrap runs as root with those flags (the sandboxed code still cannot
  remount anything, but it owns root's files in the binds, so only harmless paths are bound);
- no network and its own pid, ipc, uts and cgroup namespaces (``--unshare-all``);
- the system (/usr, the Python installation, the venv) read-only, a private ``/tmp``, a fake
  ``/etc/passwd``, the grading copy of rnnlab (``guarded.py``: no reference implementations)
  at ``/opt/rnnlab``, and read-write only the one folder it is given (a copy of the
  submission); never ``solutions/``, the gradebook, other submissions, or the folder of the
  kernel's connection file (a private folder per kernel is bound instead);
- limits: memory and processes through a cgroup made for the run (cgroup v2, else the v1
  ``memory`` and ``pids`` hierarchies); where no cgroup can be made, RLIMIT_DATA and
  RLIMIT_NPROC instead (RLIMIT_AS would break ``import torch``, which maps far more address
  space than it uses). Always: RLIMIT_CPU, RLIMIT_FSIZE (output files), no core files, and a
  wall-clock cap after which every process of the run is killed.

``python sandbox.py kernel SPEC CONNECTION_FILE`` is the kernelspec's argv: it starts
``ipykernel`` in the sandbox described by SPEC (a JSON file written by ``kernel_spec_dir``).
The kernel listens on the ipc transport (a TCP port cannot be reached across the network
namespace), ``JPY_PARENT_PID`` is not passed (ipykernel would exit, its parent being invisible),
and the kernelspec says ``"interrupt_mode": "message"`` so a cell timeout interrupts through the
control channel instead of a signal to a process the client cannot see.

``UNSANDBOXED=1`` runs the same commands without bwrap (limits still apply): for a laptop
without bubblewrap, never for grading students.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

NOBODY = 65534
PYTHON = os.path.normpath(os.path.abspath(sys.executable))
GUARDED_MOUNT = "/opt/rnnlab"
HOME = "/home/student"


@dataclass
class Limits:
    """Per-run limits (a run: one notebook execution, or one verification worker)."""

    memory_mb: int = 2048      # cgroup memory limit (RLIMIT_DATA where no cgroup)
    cpu_s: int = 300           # RLIMIT_CPU of every process
    wall_s: float = 300.0      # whole run; every process is killed after it
    pids: int = 64             # processes and threads (cgroup pids.max, else RLIMIT_NPROC)
    fsize_mb: int = 64         # largest file the run may write (RLIMIT_FSIZE)
    output_kb: int = 1024      # text output of one cell kept for the feedback
    cell_s: float = 60.0       # one notebook cell (then interrupted)

    @classmethod
    def from_json(cls, data: dict) -> "Limits":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def unsandboxed() -> bool:
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
    """A cgroup for one run with memory and pids limits, or nothing where none can be made."""

    def __init__(self, limits: Optional[Limits], existing: Optional[list] = None):
        self.paths: list[Path] = []
        self.memory_file: Optional[Path] = None
        if existing is not None:  # a cgroup made by another process (the kernel's, by the grader)
            self.paths = [Path(p) for p in existing]
            for path in self.paths:
                for name in ("memory.events", "memory.oom_control"):
                    if (path / name).exists():
                        self.memory_file = path / name
            return
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

    def join(self) -> None:
        """Move the calling process into the cgroup (called in the child before exec)."""
        for path in self.paths:
            (path / "cgroup.procs").write_text(str(os.getpid()))

    def out_of_memory(self) -> bool:
        if not self.memory_file or not self.memory_file.exists():
            return False
        text = self.memory_file.read_text()
        if self.memory_file.name == "memory.events":
            return any(line.split()[0] in ("oom_kill", "max") and int(line.split()[1]) > 0
                       for line in text.splitlines() if line.strip())
        return any(line.startswith("oom_kill ") and int(line.split()[1]) > 0 for line in text.splitlines())

    def empty(self) -> bool:
        """No process left in the cgroup (only meaningful once something joined it)."""
        for path in self.paths:
            try:
                if (path / "cgroup.procs").read_text().split():
                    return False
            except OSError:
                pass
        return True

    def kill_all(self) -> None:
        for _ in range(50):
            pids = set()
            for path in self.paths:
                try:
                    pids |= {int(p) for p in (path / "cgroup.procs").read_text().split()}
                except OSError:
                    pass
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.02)

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


def _limit_self(limits: Limits, cgroup: Optional[Cgroup]) -> None:
    """In the child, before exec: rlimits, a new session, the cgroup."""
    os.setsid()
    if cgroup is not None and cgroup.active:
        cgroup.join()
    else:  # the documented fallback: RLIMIT_DATA (not AS: torch) and RLIMIT_NPROC
        memory = limits.memory_mb << 20
        resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.pids, limits.pids))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 5))
    fsize = limits.fsize_mb << 20
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


# ---------------------------------------------------------------------------------------------
# The bwrap command
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


def bwrap_args(*, home: Path, guarded: Path, run_dir: Path, binds: tuple = (),
               ro_binds: tuple = (), cwd: str = HOME) -> list:
    """The bwrap options of a sandbox whose only writable folders are ``home`` (a copy of the
    submission, at /home/student) and ``binds`` ((outside, inside) pairs)."""
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
            "--bind", str(home), HOME]
    for outside, inside in ro_binds:
        args += ["--ro-bind", str(outside), inside]
    for outside, inside in binds:
        args += ["--bind", str(outside), inside]
    args += ["--remount-ro", "/", "--chdir", cwd, "--clearenv"]
    for key, value in sandbox_env().items():
        args += ["--setenv", key, value]
    return args


def sandbox_env() -> dict:
    """The whole environment of sandboxed code (nothing from the grader's, no JPY_PARENT_PID)."""
    return {"HOME": HOME, "USER": "student", "LANG": "C.UTF-8",
            "PATH": f"{Path(PYTHON).parent}:/usr/bin:/bin",
            "PYTHONPATH": GUARDED_MOUNT, "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0", "PYTHONNOUSERSITE": "1",
            "MPLBACKEND": "Agg", "MPLCONFIGDIR": "/tmp", "IPYTHONDIR": "/tmp/ipython",
            "JUPYTER_RUNTIME_DIR": "/tmp", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "TMPDIR": "/tmp"}


def own_by_nobody(*paths: Path) -> None:
    """Give the sandboxed uid the folders it writes to (a no-op when not root)."""
    if os.geteuid() != 0 or not as_nobody():
        return
    for path in paths:
        for root, dirs, files in os.walk(path):
            os.chown(root, NOBODY, NOBODY)
            for name in files:
                os.chown(os.path.join(root, name), NOBODY, NOBODY, follow_symlinks=False)


@dataclass
class RunResult:
    returncode: Optional[int]
    timed_out: bool = False
    out_of_memory: bool = False
    wall_s: float = 0.0
    stderr: str = ""

    def fate(self) -> Optional[str]:
        """How the run ended, in words, if it did not end normally."""
        if self.timed_out:
            return "it ran past the time limit and was stopped"
        if self.out_of_memory:
            return "it ran out of memory and was killed"
        rc = self.returncode
        if rc is None or rc == 0:
            return None
        if rc in (128 + 9, 128 + 11):  # bwrap reports its child's signal as 128 + N
            rc = -(rc - 128)
        if rc < 0:
            name = signal.Signals(-rc).name if -rc in signal.Signals._value2member_map_ else str(-rc)
            extra = {"SIGSEGV": " (a segmentation fault)", "SIGXCPU": " (CPU time limit)",
                     "SIGXFSZ": " (file size limit: too much output)", "SIGKILL": ""}.get(name, "")
            return f"it was killed by {name}{extra}"
        return f"it exited with status {rc}"


def command(argv: list, *, sandboxed: bool, **bwrap_kwargs) -> list:
    if not sandboxed:
        return list(argv)
    return _bwrap_prefix() + bwrap_args(**bwrap_kwargs) + ["--"] + list(argv)


def run(argv: list, limits: Limits, *, sandboxed: bool, stderr_path: Path, **bwrap_kwargs) -> RunResult:
    """Run ``argv`` in a sandbox under ``limits``; stdout is discarded, stderr kept (capped)."""
    cgroup = Cgroup(limits) if sandboxed else None
    start = time.monotonic()
    timed_out = False
    with open(stderr_path, "wb") as err:
        cmd = command(argv, sandboxed=sandboxed, **bwrap_kwargs)
        env = None if sandboxed else {**os.environ, **_unsandboxed_env(bwrap_kwargs)}
        cwd = None if sandboxed else str(bwrap_kwargs["home"])
        process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=err, env=env, cwd=cwd,
                                   preexec_fn=lambda: _limit_self(limits, cgroup))
        try:
            process.wait(timeout=limits.wall_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(process)
            process.wait()
    oom = bool(cgroup and cgroup.out_of_memory())
    if cgroup:
        cgroup.remove()
    with open(stderr_path, "rb") as f:
        stderr = f.read(20000).decode("utf-8", errors="replace")
    return RunResult(process.returncode, timed_out, oom and process.returncode != 0,
                     time.monotonic() - start, stderr)


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        process.kill()
    except OSError:
        pass


def _unsandboxed_env(kwargs: dict) -> dict:
    env = sandbox_env()
    env.pop("HOME")
    env["PYTHONPATH"] = str(kwargs["guarded"])
    env["PATH"] = os.environ.get("PATH", "")
    return env


# ---------------------------------------------------------------------------------------------
# The kernel
# ---------------------------------------------------------------------------------------------

KERNEL_NAME = "rnnlab-sandbox"


def kernel_spec_dir(run_dir: Path, spec: dict) -> Path:
    """A kernelspec folder under ``run_dir`` whose kernel starts in the sandbox of ``spec``
    ({"home", "guarded", "conn_dir", "limits", "sandboxed"})."""
    spec_path = run_dir / "sandbox.json"
    spec_path.write_text(json.dumps(spec))
    folder = run_dir / "kernels" / KERNEL_NAME
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, str(Path(__file__).resolve()), "kernel", str(spec_path),
                 "{connection_file}"],
        "display_name": "Python 3 (grading sandbox)", "language": "python",
        "interrupt_mode": "message", "env": {}, "metadata": {"debugger": False}}))
    return run_dir / "kernels"


def launch_kernel(spec_path: str, connection_file: str) -> int:
    """The kernelspec's argv: ipykernel in the sandbox, killed with everything it started
    when the wall-clock cap is reached or the client kills this launcher."""
    spec = json.loads(Path(spec_path).read_text())
    limits = Limits.from_json(spec["limits"])
    sandboxed = spec["sandboxed"]
    conn_dir = Path(spec["conn_dir"])
    own_by_nobody(conn_dir) if sandboxed else None
    argv = [PYTHON, "-m", "ipykernel_launcher", "-f", connection_file]
    # the grader made the cgroup and removes it (this launcher may be killed without notice)
    cgroup = Cgroup(None, existing=spec["cgroup"]) if sandboxed and spec.get("cgroup") else None
    kwargs = dict(home=Path(spec["home"]), guarded=Path(spec["guarded"]),
                  run_dir=Path(spec["run_dir"]), binds=[(str(conn_dir), str(conn_dir))]
                  + [tuple(b) for b in spec.get("binds", [])],
                  ro_binds=[tuple(b) for b in spec.get("ro_binds", [])])
    cmd = command(argv, sandboxed=sandboxed, **kwargs)
    env = None if sandboxed else {**{k: v for k, v in os.environ.items() if k != "JPY_PARENT_PID"},
                                  **_unsandboxed_env(kwargs), **spec.get("env", {})}
    process = subprocess.Popen(cmd, env=env, cwd=None if sandboxed else spec["home"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=open(Path(spec["run_dir"]) / "kernel.stderr", "wb"),
                               preexec_fn=lambda: _limit_self(limits, cgroup))

    def stop(signum, frame):
        _kill_group(process)
        if cgroup:
            cgroup.kill_all()
        os._exit(1)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # interrupts go to the kernel as messages
    try:
        rc = process.wait(timeout=limits.wall_s)
    except subprocess.TimeoutExpired:
        Path(spec["run_dir"], "wall_clock").write_text("killed")
        _kill_group(process)
        rc = process.wait()
    if cgroup:
        if cgroup.out_of_memory():
            Path(spec["run_dir"], "out_of_memory").write_text("killed")
        cgroup.kill_all()
    return rc


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "kernel":
        sys.exit(launch_kernel(sys.argv[2], sys.argv[3]))
    sys.exit("usage: sandbox.py kernel SPEC.json CONNECTION_FILE")
