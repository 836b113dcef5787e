"""Timing code side by side, on a machine that other work shares: what ``bench/`` and the pages
that quote a time use.

Each round runs every callable once, in an order that rotates from round to round, so that the
times of one round were taken under the same load; a ratio is the median over rounds of the
per-round ratio (load that drifts between rounds cancels), not a ratio of medians.

    time_interleaved(steps, reps, device)   {name: [seconds per round]}
    paired_ratio(times, name, baseline)     median over rounds of times[name] / times[baseline]
    window_segments(length, windows, ...)   consecutive runs of bptt windows that cut a training
                                            epoch into rounds
    output_share(model, tokens, reps, dev)  the share of an LM's training step spent in its
                                            output layer, softmax and loss
    output_layer_share(device, reps, ...)   the same for an LSTM RNNLM of a given size
"""

from __future__ import annotations

import math
import statistics
import time

import torch

from . import models


def synchronize(device) -> None:
    """Wait for the device's queued work (a CUDA kernel returns before it has run)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def time_interleaved(steps: dict, reps: int, device, warmup: int = 2) -> dict[str, list[float]]:
    """Seconds of each callable in ``steps`` per round; in every round each runs once, in a
    rotating order, so that round r's times were taken under the same machine load."""
    names = list(steps)
    for _ in range(warmup):
        for name in names:
            steps[name]()
    synchronize(device)
    times = {name: [] for name in names}
    for rep in range(reps):
        for name in names[rep % len(names):] + names[: rep % len(names)]:
            start = time.perf_counter()
            steps[name]()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
    return times


def paired_ratio(times: dict[str, list[float]], name: str, baseline: str) -> float:
    """Median over rounds of time[name] / time[baseline]: robust to load that drifts between
    rounds (other processes on a shared machine), unlike a ratio of medians."""
    return statistics.median(a / b for a, b in zip(times[name], times[baseline]))


def window_segments(length: int, windows: int, rounds: int, bptt: int) -> list[tuple[int, int]]:
    """(start, end) token columns of ``rounds`` consecutive runs of whole ``bptt`` windows
    covering the first ``windows`` windows of a batchified stream of ``length`` columns (all of
    them if there are fewer): a benchmark trains every model on one run per round."""
    windows = min(windows, math.ceil((length - 1) / bptt))
    bounds = [round(r * windows / rounds) * bptt for r in range(rounds + 1)]
    return [(a, min(b, length - 1)) for a, b in zip(bounds, bounds[1:]) if a < b]


def output_share(model, tokens: torch.Tensor, reps: int, device) -> dict:
    """The time of ``model``'s output layer + softmax + loss (forward and backward:
    ``model.output_nll`` on the top layer's outputs for these tokens, held fixed as a leaf that
    requires a gradient) over that of a whole training step (``rnnlab.train.window_loss`` and
    its backward pass), on tokens (B, T+1) read as inputs and next-token targets:
    {"full_ms", "output_ms", "fraction"}. (The real outputs, not random ones: with weights
    tied to an embedding of unit variance, outputs of unit variance would give logits so large
    that the softmax's gradient is mostly subnormal floats, many times slower on a CPU.)"""
    from .train import window_loss

    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    with torch.no_grad():
        top, _ = model.encoder(inputs)                                 # (B, T, H)
    hidden = top.clone().requires_grad_(True)

    def full_step():
        window_loss(model, inputs, targets)[0].backward()

    def output_step():
        model.output_nll(hidden, targets).backward()

    times = time_interleaved({"full": full_step, "output": output_step}, reps, device)
    seconds = {name: statistics.median(t) for name, t in times.items()}
    return dict(full_ms=seconds["full"] * 1e3, output_ms=seconds["output"] * 1e3,
                fraction=paired_ratio(times, "output", "full"))


def output_layer_share(device, reps: int, vocab: int = 10_000, T: int = 35, B: int = 20,
                       E: int = 200, H: int = 200, impls=("fused", "reference")) -> dict:
    """``output_share`` of an LSTM LM (``rnnlab.models.RNNLM``: embedding, LSTM, output layer,
    softmax, loss), batch (B, T) of tokens below ``vocab``, embedding E, hidden H, for each
    recurrent ``impl``: {"vocab", "shape": [T, B, E, H], impl: {"full_ms", "output_ms", "fraction"}}."""
    result = {"vocab": vocab, "shape": [T, B, E, H]}
    tokens = torch.randint(0, vocab, (B, T + 1), device=device)
    for impl in impls:
        torch.manual_seed(0)
        lm = models.RNNLM(vocab, E, H, kind="lstm", impl=impl).to(device)
        result[impl] = output_share(lm, tokens, reps, device)
    return result
