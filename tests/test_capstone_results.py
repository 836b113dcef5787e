"""The results files that chapter 08's page shows (``book/data/08_capstone/*.json``, written
by ``make reproduce``) against what the current code produces: the same configuration and
models, the same parameter counts, and, re-run here, the same perplexities for what is
affordable in a test (the synthetic corpus's count models and its vanilla RNN; WikiText-2's
corpus sizes and count models where the mirror has it)."""

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from rnnlab import reproduce

RESULTS = sorted((Path(__file__).resolve().parents[1] / "book" / "data" / "08_capstone")
                 .glob("reproduce-*.json"))


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def rows_by_model(results: dict) -> dict:
    return {row["model"]: row for row in results["rows"]}


def test_there_are_results_for_the_synthetic_corpus_and_wikitext2():
    assert {load(p)["corpus"] for p in RESULTS} >= {"synthetic", "wikitext2"}, RESULTS


@pytest.mark.parametrize("path", RESULTS, ids=lambda p: p.stem)
def test_the_file_is_the_current_configuration_and_models(path):
    results = load(path)
    config = results["config"]
    current = asdict(reproduce.CONFIGS[config["name"]])
    # the epochs may be overridden on the command line (--epochs), and the command says so
    assert {k: v for k, v in config.items() if k != "epochs"} == \
           {k: v for k, v in current.items() if k != "epochs"}
    if config["epochs"] != current["epochs"]:
        assert f"--epochs {config['epochs']}" in results["provenance"]["command"]
    run = reproduce.RunConfig(**config)
    expected = ["oracle (exact)"] * (results["corpus"] == "synthetic") + reproduce.model_names(run)
    assert [row["model"] for row in results["rows"]] == expected
    networks = reproduce.neural_models(run)
    for row in results["rows"]:
        if row["model"] in networks:
            model = networks[row["model"]](results["vocabulary"])
            assert row["parameters"] == sum(p.numel() for p in model.parameters()), row["model"]
            assert len(row["history"]["valid_perplexity"]) <= config["epochs"]


def _rerun(results: dict, models: list, tmp_path) -> dict:
    config = reproduce.RunConfig(**results["config"])
    return rows_by_model(reproduce.reproduce(results["corpus"], config, tmp_path / "run",
                                             models=models, progress=False, download=False))


@pytest.mark.parametrize("path", [p for p in RESULTS if load(p)["corpus"] == "synthetic"],
                         ids=lambda p: p.stem)
def test_the_synthetic_rows_are_what_the_code_produces_now(path, tmp_path):
    results = load(path)
    stored = rows_by_model(results)
    count = list(reproduce.count_models())
    rerun = _rerun(results, count + ["RNN (tanh)"], tmp_path)
    for name in ["oracle (exact)"] + count:
        assert rerun[name]["test_perplexity"] == pytest.approx(stored[name]["test_perplexity"],
                                                               rel=1e-9), name
        assert rerun[name]["agreement"] == pytest.approx(stored[name]["agreement"]), name
    # a network's numbers move with the CPU's arithmetic (vector widths, thread count), not
    # by more than a rounding error: a changed model or training loop moves them further
    network = "RNN (tanh)"
    assert rerun[network]["history"]["valid_perplexity"] == \
           pytest.approx(stored[network]["history"]["valid_perplexity"], rel=1e-3)
    assert rerun[network]["test_perplexity"] == \
           pytest.approx(stored[network]["test_perplexity"], rel=1e-3)


@pytest.mark.parametrize("path", [p for p in RESULTS if load(p)["corpus"] == "wikitext2"],
                         ids=lambda p: p.stem)
def test_the_wikitext2_corpus_and_count_rows_are_what_the_code_produces_now(path, tmp_path):
    if not (reproduce.on_disk("wikitext2/valid") and reproduce.on_disk("wikitext2/test")):
        pytest.skip("WikiText-2 is not in the RNNLAB_DATA mirror or the cache")
    results = load(path)
    config = reproduce.RunConfig(**results["config"])
    corpus = reproduce.load_corpus("wikitext2", config, download=False)
    assert corpus.note == results["note"]
    assert {split: reproduce.tokens_with_end(getattr(corpus, split)) for split in results["sizes"]} \
        == results["sizes"]
    stored = rows_by_model(results)
    count = ["trigram add-k (k=0.1)", "Kneser-Ney 3-gram"]
    rerun = _rerun(results, count, tmp_path)
    for name in count:
        assert rerun[name]["test_perplexity"] == pytest.approx(stored[name]["test_perplexity"],
                                                               rel=1e-9), name
