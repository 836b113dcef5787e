"""Timing code side by side, on a machine that other work shares: what ``bench/`` and the pages
that quote a time use.

Each round runs every callable once, in an order that rotates from round to round, so that the
times of one round were taken under the same load; a ratio is the median over rounds of the
per-round ratio (load that drifts between rounds cancels), not a ratio of medians.

    time_interleaved(steps, reps, device)   {name: [seconds per round]}
    paired_ratio(times, name, baseline)     median over rounds of times[name] / times[baseline]
    output_layer_share(device, reps, ...)   the share of an LSTM LM's training step spent in the
                                            output layer, softmax and loss
"""

from __future__ import annotations

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


def output_layer_share(device, reps: int, vocab: int = 10_000, T: int = 35, B: int = 20,
                       E: int = 200, H: int = 200, impls=("fused", "reference")) -> dict:
    """The time of the output layer + softmax + loss (forward and backward) over that of a whole
    training step of an LSTM LM (embedding, LSTM, output layer, softmax, loss), batch (B, T)
    of tokens below ``vocab``, embedding E, hidden H, for each recurrent ``impl``:
    {"vocab", "shape": [T, B, E, H], impl: {"full_ms", "output_ms", "fraction"}}."""
    result = {"vocab": vocab, "shape": [T, B, E, H]}
    tokens = torch.randint(0, vocab, (B, T + 1), device=device)
    for impl in impls:
        torch.manual_seed(0)
        lm = models.RNNLM(vocab, E, H, kind="lstm", impl=impl).to(device)
        hidden = torch.randn(B, T, H, device=device, requires_grad=True)

        def full_step():
            logits, _ = lm(tokens[:, :-1])
            models.language_model_loss(logits, tokens[:, 1:]).backward()

        def output_step():
            models.language_model_loss(lm.output(hidden), tokens[:, 1:]).backward()

        times = time_interleaved({"full": full_step, "output": output_step}, reps, device)
        seconds = {name: statistics.median(t) for name, t in times.items()}
        result[impl] = dict(full_ms=seconds["full"] * 1e3, output_ms=seconds["output"] * 1e3,
                            fraction=paired_ratio(times, "output", "full"))
    return result
