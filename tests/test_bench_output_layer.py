"""bench/bench_output_layer.py on the synthetic corpus's tiny split (``--quick``): the three output
layers train, their rows and the JSON it writes say what the page reads, and the parameter
counts are those of the three layers."""

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_output_layer.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_output_layer", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_run_writes_the_table_as_json(bench, tmp_path, capsys):
    threads = torch.get_num_threads()
    try:
        report = bench.main(["--quick", "--out", str(tmp_path / "output_layer.json")])
    finally:
        torch.set_num_threads(threads)
    assert json.loads((tmp_path / "output_layer.json").read_text()) == json.loads(json.dumps(report))
    assert "tied full softmax" in capsys.readouterr().out
    rows, V, H = report["rows"], report["vocabulary"], bench.HIDDEN
    assert list(rows) == ["full softmax", "tied full softmax", "adaptive softmax"]
    full = rows["full softmax"]
    assert full["time_ratio"] == 1.0 and full["parameter_ratio"] == 1.0
    assert rows["tied full softmax"]["parameters"] == full["parameters"] - V * H
    assert 0 < report["cutoffs"][0] < report["cutoffs"][-1] < V
    for row in rows.values():
        assert row["epoch_seconds"] > 0 and row["tokens_per_second"] > 0
        assert 0 < row["output_share"]["fraction"]
        assert 1 < row["valid_perplexity"] < 2 * V and math.isfinite(row["test_perplexity"])
        assert len(row["seconds"]) == report["segments"] - 1
    assert report["windows_trained"] == report["windows_per_epoch"]        # tiny: all of it
    assert set(report["provenance"]) >= {"command", "commit", "torch", "device", "threads", "date"}


def test_adaptive_parameters_are_the_head_and_the_clusters(bench):
    corpus = bench.corpus_at_hand(quick=True)
    from rnnlab.data import build_vocab, encode_stream
    vocab = build_vocab(corpus.train)
    ids = encode_stream(corpus.train, vocab)
    models = {name: build() for name, build in bench.output_layers(len(vocab), ids).items()}
    adaptive = models["adaptive softmax"]
    c0, c1 = adaptive.output.cutoffs[:2]
    V, H = len(vocab), bench.HIDDEN
    head = H * (c0 + len(adaptive.output.cutoffs) - 1)
    clusters = H * (H // 4) + (H // 4) * (c1 - c0) + H * (H // 16) + (H // 16) * (V - c1)
    encoder = bench.parameters(models["full softmax"]) - (H * V + V)
    assert bench.parameters(adaptive) == encoder + head + clusters
