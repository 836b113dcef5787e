"""rnnlab.timing: interleaved rounds, paired ratios, window segments, the output layer's share
of an LM step."""

import pytest
import torch

from rnnlab import models, timing


def test_every_callable_runs_once_per_round_in_a_rotating_order():
    calls = []
    steps = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    times = timing.time_interleaved(steps, reps=4, device="cpu", warmup=1)
    assert {name: len(t) for name, t in times.items()} == {"a": 4, "b": 4, "c": 4}
    rounds = [calls[i:i + 3] for i in range(3, len(calls), 3)]   # after the warm-up round
    assert rounds == [list("abc"), list("bca"), list("cab"), list("abc")]


def test_the_paired_ratio_is_the_median_of_per_round_ratios_not_a_ratio_of_medians():
    times = {"x": [1.0, 2.0, 9.0], "base": [1.0, 4.0, 3.0]}
    assert timing.paired_ratio(times, "x", "base") == pytest.approx(1.0)   # ratios 1, 0.5, 3
    assert timing.paired_ratio(times, "x", "base") != pytest.approx(2.0 / 3.0)


def test_the_output_layer_share_is_the_paired_ratio_of_the_two_steps(monkeypatch):
    """Each step runs (a forward and a backward pass of the LM), and the share is the median
    of the per-round ratios output / full (timings replaced by known ones: a real timing on
    a shared machine is noise at test sizes)."""
    ran = []

    def known_times(steps, reps, device):
        for name, step in steps.items():
            step()
            ran.append(name)
        return {"full": [2.0, 4.0, 6.0], "output": [1.0, 1.0, 3.0]}

    monkeypatch.setattr(timing, "time_interleaved", known_times)
    result = timing.output_layer_share("cpu", reps=3, vocab=30, T=4, B=2, E=8, H=8, impls=("fused", "reference"))
    assert sorted(ran) == ["full", "full", "output", "output"]
    for impl in ("fused", "reference"):
        assert result[impl] == {"full_ms": 4000.0, "output_ms": 1000.0, "fraction": 0.5}
    assert result["vocab"] == 30 and result["shape"] == [4, 2, 8, 8]


def test_a_real_measurement_gives_positive_times():
    result = timing.output_layer_share("cpu", reps=3, vocab=100, T=4, B=2, E=8, H=8, impls=("fused",))
    assert result["fused"]["full_ms"] > 0 and result["fused"]["output_ms"] > 0 and result["fused"]["fraction"] > 0


def test_window_segments_cut_the_first_windows_into_consecutive_runs_of_whole_windows():
    # a stream of 100 columns has ceil(99 / 10) = 10 windows of bptt 10, the last of 9 tokens
    assert timing.window_segments(100, 10**9, 3, 10) == [(0, 30), (30, 70), (70, 99)]
    assert timing.window_segments(100, 4, 2, 10) == [(0, 20), (20, 40)]
    assert timing.window_segments(100, 2, 5, 10) == [(0, 10), (10, 20)]       # no empty runs


def test_the_share_of_any_lm_with_an_output_nll_is_measured():
    torch.manual_seed(0)
    tokens = torch.randint(0, 50, (2, 6))
    for lm in (models.RNNLM(50, 8, 8, tie_weights=True), models.AdaptiveRNNLM(50, [10, 30], 8, 16)):
        result = timing.output_share(lm, tokens, reps=2, device="cpu")
        assert result["full_ms"] > 0 and result["output_ms"] > 0 and result["fraction"] > 0
