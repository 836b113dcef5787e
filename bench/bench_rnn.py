"""Speed and memory of rnnlab's recurrent layers against torch.nn, side by side (``make bench``).

What is measured, for RNN (tanh), GRU and LSTM, one layer, float32, shapes (T, B, I, H):

- the median time of one *training step*, forward over the sequence and backward (the input
  requires a gradient, parameter gradients are accumulated), of torch.nn, rnnlab's
  ``impl="reference"`` loop and rnnlab's ``impl="fused"`` path, with repetitions interleaved
  (one round runs each once, in a rotating order); the ratio is the median over rounds of
  the per-round ratio, so that load drifting between rounds (a shared machine) cancels.
  The fused path runs torch.nn's own kernels, so its ratio, 1.00 but for noise, shows how far
  the machine's noise moves a ratio in that run;
- peak memory per step. On CPU: how far the process's peak resident set size (Linux
  ``VmHWM``) rises during one step, after ``malloc_trim`` and a reset of the peak through
  ``/proc/self/clear_refs`` (median of 3; allocator noise is about 1 MiB), and, exactly, the
  bytes of the tensors autograd saves for the backward pass (distinct storages). On GPU:
  ``torch.cuda.max_memory_allocated`` during the step minus the memory allocated before it;
- the fraction of an RNN-LM training step (embedding, LSTM, output layer, softmax and loss,
  forward and backward) spent in the output layer + softmax + loss, for a 10k vocabulary;
- on a CUDA GPU only: the same table against cuDNN, on one more shape, (35, 64, 650, 650)
  (Zaremba et al.'s medium LSTM; GPU-only: on one CPU thread a training step at that shape
  takes about 1.5 s for the LSTM, so its rows would add minutes to ``make bench``), with two
  more columns, each with its ratio to cuDNN: ``torch.compile`` of the reference (first shape
  only), and the reference's training step captured in CUDA graphs on every GPU shape
  (``torch.cuda.make_graphed_callables``: forward and backward each replayed as one graph on
  static input buffers, which takes the Python loop's launch of every kernel out of the step).

Results are printed as tables and written as JSON to ``bench/results/`` (git-ignored).
Run: ``python bench/bench_rnn.py [--reps 25] [--threads 2] [--quick]``.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import gc
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

from rnnlab import layers
from rnnlab.timing import output_layer_share, paired_ratio, synchronize, time_interleaved

SHAPES = [(35, 20, 200, 200), (35, 64, 256, 512), (100, 32, 64, 128)]
GPU_SHAPES = SHAPES + [(35, 64, 650, 650)]
KINDS = ("RNN", "GRU", "LSTM")
IMPLS = ("torch.nn", "reference", "fused")
TARGETS = {"RNN": 1.0, "GRU": 1.0, "LSTM": 2.0}      # reference / torch.nn, from issue 4
RESULTS = Path(__file__).resolve().parent / "results"


# -- the three modules, one set of weights ------------------------------------------------------


def make_modules(kind: str, input_size: int, hidden_size: int, device) -> dict[str, nn.Module]:
    reference = getattr(nn, kind)(input_size, hidden_size).to(device)
    modules = {"torch.nn": reference}
    for impl in ("reference", "fused"):
        ours = getattr(layers, kind)(input_size, hidden_size, impl=impl).to(device)
        ours.load_state_dict(reference.state_dict())
        modules[impl] = ours
    return modules


def training_step(module: nn.Module, x: torch.Tensor) -> None:
    output, _ = module(x)
    output.sum().backward()


# -- timing and memory --------------------------------------------------------------------------


def _status_bytes(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def cpu_peak_bytes(step) -> int | None:
    """Rise of the peak resident set size during ``step()`` (Linux only; None elsewhere)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        samples = []
        for _ in range(3):
            gc.collect()
            libc.malloc_trim(0)
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")                          # reset VmHWM to the current RSS
            before = _status_bytes("VmRSS:")
            step()
            samples.append(_status_bytes("VmHWM:") - before)
        return int(statistics.median(samples))
    except (OSError, KeyError):
        return None


def gpu_peak_bytes(step) -> int:
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    step()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - before


def saved_for_backward_bytes(module: nn.Module, x: torch.Tensor) -> int | None:
    """Bytes of the distinct storages autograd keeps for the backward pass of one forward
    (None where hooks cannot see them: in a compiled module)."""
    if hasattr(module, "_orig_mod") or isinstance(module, GraphedStep):   # compiled, graphed
        return None
    storages: dict[int, int] = {}

    def pack(t):
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            module(x)
    except Exception:
        return None
    params = {p.untyped_storage().data_ptr() for p in module.parameters()}
    params.add(x.untyped_storage().data_ptr())
    return sum(n for ptr, n in storages.items() if ptr not in params)


# -- the benchmarks -----------------------------------------------------------------------------


def bench_layers(device, shapes, reps: int, extra_impls=None) -> list[dict]:
    rows = []
    for T, B, I, H in shapes:
        for kind in KINDS:
            torch.manual_seed(0)
            modules = make_modules(kind, I, H, device)
            modules.update(extra_impls(kind, modules, (T, B, I, H)) if extra_impls else {})
            x = torch.randn(T, B, I, device=device, requires_grad=True)
            steps = {name: (lambda m=m: training_step(m, x)) for name, m in modules.items()}
            times = time_interleaved(steps, reps, device)
            seconds = {name: statistics.median(t) for name, t in times.items()}
            measure_peak = gpu_peak_bytes if torch.device(device).type == "cuda" else cpu_peak_bytes
            peak = {name: measure_peak(step) for name, step in steps.items()}
            saved = {name: saved_for_backward_bytes(m, x) for name, m in modules.items()}
            rows.append(dict(shape=[T, B, I, H], kind=kind,
                             ms={k: v * 1e3 for k, v in seconds.items()},
                             ratio={k: paired_ratio(times, k, "torch.nn") for k in times},
                             peak_mib={k: (v / 2**20 if v is not None else None) for k, v in peak.items()},
                             saved_mib={k: (v / 2**20 if v is not None else None) for k, v in saved.items()}))
            print_row(rows[-1], list(modules))
    return rows


def bench_softmax_fraction(device, reps: int, vocab: int = 10_000, T=35, B=20, E=200, H=200) -> dict:
    """Time of the output layer + softmax + loss (forward and backward) over the whole LM step."""
    result = output_layer_share(device, reps, vocab, T, B, E, H)
    for impl in ("fused", "reference"):
        r = result[impl]
        print(f"  LSTM LM, impl={impl:9s}: step {r['full_ms']:7.2f} ms, output layer + "
              f"softmax + loss {r['output_ms']:7.2f} ms = {100 * r['fraction']:.0f}%")
    return result


def compiled_reference(kind: str, modules: dict, shape) -> dict:
    """torch.compile of the reference loop, on the first shape only (compiling unrolls the
    time loop, which takes long for long sequences); GPU section only; empty if it fails."""
    if list(shape) != list(SHAPES[0]):
        return {}
    try:
        start = time.perf_counter()
        compiled = torch.compile(modules["reference"])
        device = next(modules["reference"].parameters()).device
        x = torch.randn(*shape[:2], shape[2], device=device, requires_grad=True)
        training_step(compiled, x)
        print(f"  torch.compile of the {kind} reference: {time.perf_counter() - start:.0f} s to compile")
        return {"reference+compile": compiled}
    except Exception as error:                                   # report, do not crash the bench
        print(f"  torch.compile of the {kind} reference failed: {type(error).__name__}: {error}")
        return {}


class _OutputOnly(nn.Module):
    """A recurrent layer's output sequence alone (CUDA graphs capture tensors, not ``None``s)."""

    def __init__(self, rnn: nn.Module):
        super().__init__()
        self.rnn = rnn

    def forward(self, x):
        return self.rnn(x)[0]


class GraphedStep(nn.Module):
    """A layer whose forward and backward are replayed CUDA graphs; called like the layer
    (``module(x) -> (output, None)``), its input copied into the graphs' static buffer."""

    def __init__(self, rnn: nn.Module, sample: torch.Tensor):
        super().__init__()
        self.graphed = torch.cuda.make_graphed_callables(_OutputOnly(rnn), (sample,))

    def forward(self, x):
        return self.graphed(x), None


def graphed_reference(kind: str, modules: dict, shape) -> dict:
    """The reference loop's training step under CUDA graphs (every GPU shape); empty if the
    capture fails (an operation that synchronises with the CPU cannot be captured)."""
    try:
        start = time.perf_counter()
        device = next(modules["reference"].parameters()).device
        sample = torch.randn(*shape[:2], shape[2], device=device, requires_grad=True)
        graphed = GraphedStep(modules["reference"], sample)
        training_step(graphed, sample)
        synchronize(device)
        print(f"  CUDA graphs of the {kind} reference at {tuple(shape)}: "
              f"{time.perf_counter() - start:.1f} s to capture")
        return {"reference+graph": graphed}
    except Exception as error:                                   # report, do not crash the bench
        print(f"  CUDA graphs of the {kind} reference failed: {type(error).__name__}: {error}")
        return {}


# -- output -------------------------------------------------------------------------------------


def print_header(names: list[str], memory: str) -> None:
    print(f"{'shape (T,B,I,H)':18s} {'kind':5s} " + " ".join(f"{n + ' ms':>17s}" for n in names)
          + "   " + " ".join(f"{'x ' + n:>13s}" for n in names[1:]) + "  target"
          + f"   {memory} MiB " + "/".join(names) + "   saved-for-backward MiB")


def print_row(row: dict, names: list[str]) -> None:
    ratio = row["ratio"]["reference"]
    verdict = "ok" if ratio <= TARGETS[row["kind"]] else "MISS"
    peaks = "/".join("-" if row["peak_mib"][n] is None else f"{row['peak_mib'][n]:.1f}" for n in names)
    print(f"{str(tuple(row['shape'])):18s} {row['kind']:5s} "
          + " ".join(f"{row['ms'][n]:17.2f}" for n in names) + "   "
          + " ".join(f"{row['ratio'][n]:13.2f}" for n in names[1:])
          + f"  {verdict:>4s}<={TARGETS[row['kind']]:.1f}   {peaks}   "
          + "/".join("-" if row["saved_mib"][n] is None else f"{row['saved_mib'][n]:.1f}" for n in names),
          flush=True)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=25,
                        help="timed rounds per shape and kind (the ratio is their median)")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--quick", action="store_true", help="first shape only, few repetitions")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the JSON results")
    parser.add_argument("--no-compile", action="store_true", help="GPU: skip torch.compile of the reference")
    parser.add_argument("--no-graphs", action="store_true", help="GPU: skip CUDA graphs of the reference")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    shapes = SHAPES[:1] if args.quick else SHAPES
    reps = 3 if args.quick else args.reps
    report = dict(torch=torch.__version__, threads=torch.get_num_threads(), python=platform.python_version(),
                  machine=platform.machine(), processor=platform.processor() or platform.platform(),
                  date=datetime.datetime.now().isoformat(timespec="seconds"), reps=reps,
                  targets=TARGETS, dtype="float32")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32, {reps} interleaved "
          "rounds of training steps (forward + backward): median ms, and median per-round ratio "
          "rnnlab / torch.nn")

    print("\n== CPU ==")
    print_header(list(IMPLS), "peak-RSS-rise")
    report["cpu"] = bench_layers("cpu", shapes, reps)
    print("\n== share of the output softmax in an RNN-LM training step (CPU) ==")
    report["cpu_softmax"] = bench_softmax_fraction("cpu", reps)

    print("\n== GPU ==")
    if torch.cuda.is_available():
        print(f"{torch.cuda.get_device_name()}; torch.nn runs cuDNN")
        report["gpu_name"] = torch.cuda.get_device_name()
        extras = [make for make, skip in ((compiled_reference, args.no_compile),
                                          (graphed_reference, args.no_graphs)) if not skip]
        print_header(list(IMPLS) + [name for name, skip in (("reference+compile", args.no_compile),
                                                           ("reference+graph", args.no_graphs))
                                    if not skip], "cuda-peak")
        report["gpu_shapes"] = GPU_SHAPES[:1] if args.quick else GPU_SHAPES
        report["gpu"] = bench_layers("cuda", report["gpu_shapes"], reps,
                                     extra_impls=lambda *a: {k: v for make in extras
                                                             for k, v in make(*a).items()})
        report["gpu_softmax"] = bench_softmax_fraction("cuda", reps)
    else:
        print("skipped: no CUDA device on this machine")

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"bench_rnn-{datetime.datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(report, indent=1))
    print(f"\nwritten: {os.path.relpath(path)}")
    return report


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
