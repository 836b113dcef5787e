"""rnnlab.timing: interleaved rounds, paired ratios, the output layer's share of an LM step."""

import pytest

from rnnlab import timing


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


def test_the_output_layer_share_grows_with_the_vocabulary():
    """A timing test on a shared machine: only an effect far larger than load noise is asserted
    (the output layer is a small part of a step at V=50 and most of it at V=20,000)."""
    small, large = (timing.output_layer_share("cpu", reps=15, vocab=v, T=8, B=4, E=16, H=16,
                                              impls=("fused",)) for v in (50, 20_000))
    for result in (small, large):
        assert result["fused"]["fraction"] > 0
        assert result["fused"]["output_ms"] > 0 and result["fused"]["full_ms"] > 0
    assert large["fused"]["fraction"] > small["fused"]["fraction"]
