"""Speed of the hand-written BPTT of ``rnnlab.bptt`` against autograd on the same forward pass.

What is measured, on the tanh RNN of ``rnnlab.bptt`` (batch-first, float32), shape
(T, B, I, H) = (100, 32, 64, 128) by default, with ``torch.set_num_threads(2)``:

- *backward*: ``rnnlab.bptt.rnn_backward(dh, cache)`` against ``torch.autograd.grad`` of the
  states of the same ``rnn_forward`` run on inputs that require a gradient, for the same
  upstream gradient dh (B, T, H) and the same five gradients (x, h0, W_xh, W_hh, b). Both
  do one matrix product per step for the recurrence; autograd also does one for W_hh's
  gradient per step and sums the T results, where rnn_backward does one product after the
  loop. Target: ratio <= 1.0;
- *forward + backward*: the whole training step of each (the hand-written one runs the
  forward without recording a graph), for context.

Repetitions are interleaved (one round runs each once, in a rotating order) and the ratio is
the median over rounds of the per-round ratio, so that load drifting between rounds (a shared
machine) cancels. Run: ``python bench/bench_bptt.py [--reps 50] [--threads 2] [--shape T B I H]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys

import torch

from rnnlab import bptt
from rnnlab.timing import paired_ratio, time_interleaved

TARGET = 1.0


def problem(T: int, B: int, I: int, H: int):
    """Seeded inputs of rnn_forward (W_hh scaled to keep the states away from saturation) and
    an upstream gradient for every state."""
    g = torch.Generator().manual_seed(0)
    inputs = dict(x=torch.randn(B, T, I, generator=g), h0=torch.randn(B, H, generator=g),
                  W_xh=torch.randn(I, H, generator=g) / I ** 0.5,
                  W_hh=torch.randn(H, H, generator=g) / H ** 0.5, b=torch.randn(H, generator=g) * 0.1)
    return inputs, torch.randn(B, T, H, generator=g)


def main(argv=None) -> bool:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=50, help="timed rounds (the ratio is their median)")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--shape", type=int, nargs=4, default=(100, 32, 64, 128), metavar=("T", "B", "I", "H"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    T, B, I, H = args.shape
    inputs, dh = problem(T, B, I, H)
    names = ("x", "h0", "W_xh", "W_hh", "b")

    with torch.no_grad():
        _, cache = bptt.rnn_forward(**inputs)
    leaves = {k: v.clone().requires_grad_() for k, v in inputs.items()}
    h_graph, _ = bptt.rnn_forward(**leaves)

    def autograd_backward():
        return torch.autograd.grad(h_graph, [leaves[k] for k in names], dh, retain_graph=True)

    def by_hand_backward():
        return bptt.rnn_backward(dh, cache)

    def autograd_step():
        h, _ = bptt.rnn_forward(**leaves)
        return torch.autograd.grad(h, [leaves[k] for k in names], dh)

    def by_hand_step():
        with torch.no_grad():
            _, step_cache = bptt.rnn_forward(**inputs)
        return bptt.rnn_backward(dh, step_cache)

    for got, want, name in zip(by_hand_backward(), autograd_backward(), names):   # same answer first
        difference = float((got - want).norm() / want.norm())                      # float32 sums
        assert difference < 1e-5, f"{name}: rnn_backward differs from autograd by {difference:.1e}"

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32, tanh RNN "
          f"(T, B, I, H) = {(T, B, I, H)}, {args.reps} interleaved rounds: median ms, median "
          "per-round ratio rnnlab.bptt / autograd")
    ok = True
    for label, ours, theirs in (("backward", by_hand_backward, autograd_backward),
                                ("forward + backward", by_hand_step, autograd_step)):
        times = time_interleaved({"rnnlab.bptt": ours, "autograd": theirs}, args.reps, "cpu")
        ms = {k: 1e3 * statistics.median(v) for k, v in times.items()}
        ratio = paired_ratio(times, "rnnlab.bptt", "autograd")
        line = (f"  {label:18s} rnnlab.bptt {ms['rnnlab.bptt']:8.2f} ms   autograd {ms['autograd']:8.2f} ms"
                f"   ratio {ratio:.2f}x")
        if label == "backward":
            ok = ratio <= TARGET
            line += f"   {'ok' if ok else 'MISS'} (target <= {TARGET:.1f}x)"
        print(line, flush=True)
    return ok


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
