"""The verification worker: runs inside the sandbox, calls the student's functions on the
check's inputs, and writes plain answers. It decides nothing.

Input (read-only, /grader/in): ``job.json`` + ``job.npz`` (``plain.to_wire``): the cells to run
in order (the notebook's trusted setup cells, and the student's answer cells taken by grade_id
by the trusted grader), and for every part the function's name, its probe and its cases (plain
inputs, visible and hidden), plus the cells and parts to skip (those that killed an earlier
attempt). Output (/grader/out): ``progress`` (one line per step begun, so the grader knows what
killed the worker) and ``<part>.json`` + ``.npz``, the probe results of every case.

The student's code can change anything in this process; it can only make its own answers
wrong, because the answers are judged against the reference by the trusted grader, outside.
"""

import os
import sys

sys.path.insert(0, "/opt/rnnlab")
sys.dont_write_bytecode = True

import importlib  # noqa: E402
import io  # noqa: E402

from rnnlab.checks.framework import Case, Check, time_limit, _TimeLimit  # noqa: E402
from rnnlab.checks.plain import from_wire, restore, to_wire  # noqa: E402

IN, OUT = "/grader/in", "/grader/out"


class _Sink(io.TextIOBase):
    """Where the student's prints go: nowhere (the feedback shows the notebook's outputs)."""

    def write(self, text):
        return len(text)


def main():
    if len(sys.argv) == 3:  # unsandboxed runs pass the folders
        global IN, OUT
        IN, OUT = sys.argv[1], sys.argv[2]
    with open(os.path.join(IN, "job.json")) as f, open(os.path.join(IN, "job.npz"), "rb") as g:
        job = from_wire(f.read(), g.read())
    progress = open(os.path.join(OUT, "progress"), "a", buffering=1)
    # everything the worker needs is imported before the student's code runs
    probes = {}
    for part in job["parts"]:
        if part.get("probe"):
            module, function = part["probe"].split(":")
            probes[part["part"]] = getattr(importlib.import_module(module), function)
    _open = open
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    sys.stdout = sys.stderr = _Sink()
    me = os.getpid()

    def only_me():
        """A process forked by the student's code stops here: only the worker goes on."""
        if os.getpid() != me:
            os._exit(0)

    cell_errors = {}
    for i, cell in enumerate(job["cells"]):
        if i in job["skip_cells"]:
            continue
        progress.write(f"cell {i}\n")
        try:
            code = compile(cell["source"], f"<answer cell {cell['id']}>", "exec")
            with time_limit(job["cell_s"]):
                exec(code, namespace)
        except _TimeLimit:
            cell_errors[cell["id"]] = f"the cell did not finish within {job['cell_s']:g} s"
        except BaseException as error:  # noqa: BLE001 (SystemExit, KeyboardInterrupt included)
            cell_errors[cell["id"]] = f"the cell raised {type(error).__name__}: {error}"[:500]
        only_me()
    for part in job["parts"]:
        if part["part"] in job["skip_parts"]:
            continue
        progress.write(f"part {part['part']}\n")
        fn = namespace.get(part["function"])
        results = []
        if not callable(fn):
            why = cell_errors.get(part["part"])
            message = f"`{part['function']}` is not defined by your answer cell" + (
                f" ({why})" if why else "")
            results = [{"error": message} for _ in part["cases"]]
        else:
            the_check = Check(name=part["name"], points=0, visible=None, hidden=None,
                              probe=probes.get(part["part"]), time_limit=part["time_limit"])
            for case in part["cases"]:
                try:
                    inputs = tuple(restore(a) for a in case["args"])
                    results.append(the_check.run_probe(fn, Case(case["label"], inputs)))
                except _TimeLimit:
                    results.append({"error": f"your function did not return within {part['time_limit']:g} s"})
                except BaseException as error:  # noqa: BLE001
                    results.append({"error": f"your function raised {type(error).__name__}: {error}"[:500]})
                only_me()
        try:
            text, blob = to_wire(results)
        except BaseException as error:  # noqa: BLE001 (an answer that cannot be described)
            text, blob = to_wire([{"error": f"your answer could not be read: {type(error).__name__}"}
                                  for _ in part["cases"]])
        stem = os.path.join(OUT, part["part"])
        with _open(stem + ".npz", "wb") as f:
            f.write(blob)
        with _open(stem + ".json", "w") as f:
            f.write(text)
    progress.write("done\n")
    progress.close()
    os._exit(0)  # no atexit handler of the student's runs after the answers are written


if __name__ == "__main__":
    main()
