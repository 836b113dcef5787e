"""rnnlab.reproduce: the tiny configuration end to end on the synthetic corpus, resume after an
interruption with the same numbers, provenance, the offline WikiText-2 wording, and the CUDA
path (``gpu``: skipped without a CUDA device)."""

import json
import os
from dataclasses import asdict, replace
from pathlib import Path

import pytest
import torch

from rnnlab import reproduce
from rnnlab.data.corpora import FILES

pytestmark = pytest.mark.usefixtures("one_thread")

# two epochs, and a few models of each family: the whole table takes longer than a test should
TINY = replace(reproduce.CONFIGS["tiny"], epochs=2)
SOME = ["Kneser-Ney 3-gram", "window LM (n=3)", "LSTM", "2-layer LSTM, dropout 0.2, tied"]
# the RNNLAB_DATA mirror, else ../shared/data next to the repository (as test_data_corpora)
MIRROR = Path(os.environ.get("RNNLAB_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data")


class Interrupted(Exception):
    pass


def run(folder, **kwargs):
    return reproduce.reproduce("synthetic", TINY, folder, models=SOME, device="cpu",
                               progress=False, download=False, command="test", **kwargs)


def numbers(results):
    """What must not depend on an interruption: every number but the times."""
    return [(r["model"], r["test_perplexity"], r["parameters"], r["agreement"],
             r["history"] and (r["history"]["train_loss"], r["history"]["valid_perplexity"]))
            for r in results["rows"]]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("uninterrupted")
    return folder, run(folder)


def test_tiny_run_end_to_end(uninterrupted):
    folder, results = uninterrupted
    rows = {r["model"]: r for r in results["rows"]}
    assert list(rows) == ["oracle (exact)", *SOME]
    oracle = rows.pop("oracle (exact)")
    for name, row in rows.items():
        assert row["test_perplexity"] > oracle["test_perplexity"], name       # the floor
        assert row["parameters"] > 0 and row["tokens_per_second"] > 0
        assert 0 <= row["agreement"]["all"] <= 1 and {"0", "1", "2"} <= set(row["agreement"])
    assert oracle["agreement"]["all"] == 1.0
    assert len(rows["LSTM"]["history"]["valid_perplexity"]) == TINY.epochs
    V = results["vocabulary"]
    untied = reproduce.neural_models(TINY)["2-layer LSTM, dropout 0.2"](V)
    assert rows["2-layer LSTM, dropout 0.2, tied"]["parameters"] == (
        sum(p.numel() for p in untied.parameters()) - V * TINY.hidden_size)   # one V x H less
    for name in ("results.md", "results.json", "perplexity_vs_parameters.png",
                 "validation_vs_time.png"):
        assert (folder / name).stat().st_size > 0, name
    table = (folder / "results.md").read_text()
    assert "| LSTM |" in table and "141.2 (PTB)" in table and "65.8 (WikiText-2)" in table
    assert "Zaremba et al. 2014" in table and "Mikolov et al. 2011" in table
    written = json.loads((folder / "results.json").read_text())
    assert written["rows"] == json.loads(json.dumps(results["rows"]))


def test_resume_after_interruption_gives_the_same_numbers(uninterrupted, tmp_path):
    """Interrupted twice, in the LSTM and in the model with dropout (whose masks depend on
    the random-number state the checkpoint carries), then finished."""
    seen = []

    def stop_at(*checkpoints):
        def callback(name, epoch):
            seen.append((name, epoch))
            if len(seen) in checkpoints:
                raise Interrupted
        return callback

    with pytest.raises(Interrupted):
        run(tmp_path, on_checkpoint=stop_at(3))           # window LM's 2 epochs, LSTM's first
    assert seen == [("window LM (n=3)", 0), ("window LM (n=3)", 1), ("LSTM", 0)]
    assert (tmp_path / "checkpoints" / "lstm" / "epoch-001.pt").is_file()
    assert not (tmp_path / "results.md").exists()
    with pytest.raises(Interrupted):
        run(tmp_path, on_checkpoint=stop_at(5))
    tied = "2-layer LSTM, dropout 0.2, tied"
    assert seen[3:] == [("LSTM", 1), (tied, 0)]           # nothing done twice
    results = run(tmp_path, on_checkpoint=stop_at())
    assert seen[5:] == [(tied, 1)]
    assert numbers(results) == numbers(uninterrupted[1])
    kept = sorted(p.name for p in (tmp_path / "checkpoints" / "lstm").iterdir())
    assert kept == ["best.pt", "epoch-002.pt"]                 # the last epoch's and the best


def test_provenance(uninterrupted):
    folder, results = uninterrupted
    provenance = results["provenance"]
    assert provenance["command"] == "test" and provenance["torch"] == torch.__version__
    assert provenance["device"] == "cpu" and provenance["date"].startswith("20")
    assert provenance["commit"] is None or len(provenance["commit"].split("+")[0]) == 40
    assert "Produced by `test` at commit" in (folder / "results.md").read_text()
    assert results["config"]["name"] == "tiny" and results["sizes"]["train"] > 1000


def test_command_line_and_one_run_per_folder(uninterrupted, tmp_path, capsys):
    results = reproduce.main(["--config", "tiny", "--models", "Kneser-Ney 3-gram", "--out",
                              str(tmp_path), "--no-progress", "--device", "cpu"])
    assert results["provenance"]["command"] == (
        f"python -m rnnlab.reproduce --config tiny --models 'Kneser-Ney 3-gram' --out {tmp_path} "
        "--no-progress --device cpu")
    assert "| Kneser-Ney 3-gram |" in capsys.readouterr().out
    with pytest.raises(ValueError, match="another corpus or configuration"):
        run(uninterrupted[0], epochs=3)            # its checkpoints are of a 2-epoch run


def test_configurations_carry_zarembas_settings():
    small, medium = reproduce.CONFIGS["small"], reproduce.CONFIGS["medium"]
    assert (small.hidden_size, small.epochs, small.clip_norm, small.bptt_len) == (200, 13, 5.0, 20)
    assert (medium.hidden_size, medium.dropout, medium.epochs, medium.bptt_len) == (650, 0.5, 39, 35)
    assert [small.learning_rate(e) for e in range(6)] == [1, 1, 1, 1, 0.5, 0.25]
    # the vanilla RNN starts lower (it diverges at the LSTMs' rate) and decays alike
    assert [small.learning_rate(e, vanilla_rnn=True) for e in range(6)] == \
           [0.25, 0.25, 0.25, 0.25, 0.125, 0.0625]
    course = reproduce.CONFIGS["course"]
    assert course.learning_rate(5, vanilla_rnn=True) == course.learning_rate(5) == course.lr
    with pytest.raises(ValueError, match="unknown models"):
        reproduce.reproduce("synthetic", TINY, None, models=["LSTM", "transformer"])


def test_the_course_configuration_is_the_synthetic_corpus_default(tmp_path, capsys):
    """Zaremba's PTB schedule under-trains the course's small corpora: without --config the
    synthetic corpus gets ``course`` (Adam, early stopping), the published corpora ``small``."""
    results = reproduce.main(["--models", "Kneser-Ney 3-gram", "--out", str(tmp_path),
                              "--no-progress", "--device", "cpu"])
    assert results["config"] == asdict(reproduce.CONFIGS["course"])
    assert results["config"]["optimizer"] == "adam" and results["config"]["patience"]
    table = (tmp_path / "results.md").read_text()
    assert "Configuration `course`" in table and "Adam lr" in table and "early stopping" in table
    assert reproduce.DEFAULT_CONFIG == {"synthetic": "course", "docstrings": "course",
                                        "wikitext2": "small", "ptb": "small"}
    capsys.readouterr()
    with pytest.raises(SystemExit):
        reproduce.main(["--help"])
    assert "course for synthetic" in " ".join(capsys.readouterr().out.split())


def test_early_stopping_counts_epochs_since_the_best():
    course = reproduce.CONFIGS["course"]
    patience = course.patience
    assert not course.stops_after([])
    assert not course.stops_after([9.0] + [10.0] * (patience - 1))
    assert course.stops_after([9.0] + [10.0] * patience)
    assert not course.stops_after([9.0] + [10.0] * (patience - 1) + [8.9] + [9.5])
    assert not reproduce.CONFIGS["small"].stops_after([1.0] + [2.0] * 20)   # Zaremba: no


@pytest.mark.skipif(not (MIRROR / FILES["wikitext2/valid"].relpath).is_file(),
                    reason="the WikiText-2 mirror is not on this machine")
def test_offline_wikitext2_trains_on_valid_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLAB_DATA", str(MIRROR))
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "empty-cache"))   # no train split anywhere
    config = replace(TINY, epochs=1, max_tokens=2000)
    corpus = reproduce.load_corpus("wikitext2", config, download=False)
    assert "trained on the first 90% of its valid split" in corpus.note
    assert "tested on its test split" in corpus.note
    results = reproduce.reproduce("wikitext2", config, tmp_path / "run", models=["LSTM"],
                                  device="cpu", progress=False, download=False)
    table = (tmp_path / "run" / "results.md").read_text()
    assert "without its train split: trained on the first 90% of its valid split" in table
    assert results["rows"][0]["model"] == "LSTM" and "agreement" not in table.split("\n")[2]


gpu = pytest.mark.gpu


@gpu
def test_gpu_tiny_run_on_cuda(tmp_path):
    results = reproduce.reproduce("synthetic", TINY, tmp_path, models=SOME, device="cuda",
                                  progress=False, download=False)
    assert results["provenance"]["device"].startswith("cuda (")
    for row in results["rows"][1:]:
        assert row["test_perplexity"] > results["rows"][0]["test_perplexity"]
    checkpoint = torch.load(tmp_path / "checkpoints" / "lstm" / "best.pt", weights_only=True)
    assert all(t.device.type == "cuda" for t in checkpoint["model"].values())


@gpu
def test_gpu_resume_gives_the_same_numbers(uninterrupted, tmp_path):
    """On the GPU the embedding's backward adds with atomics (not bit-reproducible), so two
    runs agree to rounding, not exactly; bf16 autocast against the CPU's float32: to 5%."""
    def stop(name, epoch):
        if (name, epoch) == ("LSTM", 0):
            raise Interrupted

    def on_gpu(folder, **kwargs):
        return reproduce.reproduce("synthetic", TINY, folder, models=SOME, device="cuda",
                                   progress=False, download=False, **kwargs)

    straight = on_gpu(tmp_path / "straight")
    with pytest.raises(Interrupted):
        on_gpu(tmp_path / "resumed", on_checkpoint=stop)
    resumed = on_gpu(tmp_path / "resumed")
    for again, first, cpu in zip(resumed["rows"], straight["rows"], uninterrupted[1]["rows"]):
        assert again["test_perplexity"] == pytest.approx(first["test_perplexity"], rel=1e-3)
        if first["history"]:
            assert again["history"]["valid_perplexity"] == pytest.approx(
                first["history"]["valid_perplexity"], rel=1e-3)
        assert first["test_perplexity"] == pytest.approx(cpu["test_perplexity"], rel=0.05)


@gpu
def test_gpu_bf16_epoch_matches_float32():
    """One epoch of the fused LSTM LM under bf16 autocast (cuDNN) against float32, same
    weights and data: the losses agree to bf16's precision."""
    from rnnlab import models, train

    stream = train.batchify(torch.arange(4000) % 37, 8)
    losses = {}
    for amp in (False, True):
        torch.manual_seed(0)
        lm = models.RNNLM(37, 32, 32, kind="lstm", num_layers=2).cuda()
        config = train.TrainConfig(bptt_len=20, optimizer="sgd", lr=1.0, mixed_precision=amp,
                                   progress=False)
        losses[amp], speed = train.train_epoch(lm, stream, torch.optim.SGD(lm.parameters(), lr=1.0),
                                               config)
        assert speed > 0
    assert losses[True] == pytest.approx(losses[False], rel=0.02)
