r"""The course's table of language models on one corpus, reproduced by one command.

    make reproduce CORPUS=synthetic
    python -m rnnlab.reproduce --corpus wikitext2 --config small

Every language model of the course is trained and evaluated on the same corpus, with the same
vocabulary (the training text's types, the rest ``<unk>``): the synthetic language's exact
oracle (the floor, synthetic corpus only), trigram add-k, Kneser-Ney 3- and 5-gram (chapter 01),
the window LM of Bengio et al. 2003 (chapter 02), a vanilla RNN, a GRU and an LSTM (chapters
03-05), and a 2-layer LSTM without dropout, with dropout, and with dropout and tied embeddings.
One row per model: test perplexity, parameters (for a count model: its stored n-grams), training
time, training tokens per second and, where the corpus has minimal pairs (the synthetic
language), subject-verb agreement accuracy by number of attractors. The published numbers of
the lecture sit below as reference rows, with their sources; they are on PTB and WikiText-2
with the full training sets and far longer training, so only the order of the rows compares.

Perplexity counts every predicted token, ``</s>`` included. Count models read each test
sentence from ``<s>``; neural models read the test text as one stream of ``EVAL_ROWS`` rows
with the state carried across windows, the convention of the published rows.

Configurations (``CONFIGS``) are named: ``tiny`` for tests (seconds), ``small`` and ``medium``
with the settings of Zaremba et al. 2014 for PTB (SGD at learning rate 1 halved, or divided by
1.25, every epoch after the 4th, or the 6th; gradients clipped to norm 5; weights uniform in
+-0.1, or +-0.05; batch 20), and ``course`` for the course's small corpora, on which Zaremba's
13 epochs are too few updates (Adam at one learning rate for every model, gradients clipped,
early stopping on validation perplexity). Without ``--config`` a corpus gets its
``DEFAULT_CONFIG``: ``course`` for synthetic and docstrings, ``small`` for the others.
Corpora: ``synthetic``, ``docstrings`` (the standard library's), ``wikitext2`` and ``ptb``
(from the ``RNNLAB_DATA`` mirror or the cache, else downloaded, sha256 checked; offline with
only WikiText-2's valid and test splits, the models train on 90% of the valid split, are
validated on the rest and tested on the test split, and the table says so).

A run writes into its folder (``runs/<corpus>-<config>`` by default): per neural model and
epoch a checkpoint (model, optimizer, history and random-number state; the last epoch's and the
best epoch's are kept), one JSON row per finished model (``run.json`` names the corpus and the
configuration: a folder holds one run), then ``results.md`` (the table and its
provenance: command, commit, torch version, device, date), ``results.json`` and two plots
(``perplexity_vs_parameters.png``, ``validation_vs_time.png``). Run the same command again after
an interruption and it resumes at the last checkpoint: finished models are read back, the
interrupted one continues from its last finished epoch, and the numbers are the same as those
of an uninterrupted run (times aside). On a CUDA GPU the fused layers run cuDNN under bfloat16
autocast (``rnnlab.train``); elsewhere the same code runs in float32.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from tqdm.auto import tqdm

from . import device as best_device
from .data import agreement_accuracy, agreement_pairs
from .data.batching import build_vocab, encode_stream
from .models import FixedWindowLM, NeuralLM, RNNLM
from .ngram import NGramLM
from .train import (TrainConfig, _autocast, batchify, evaluate, load_checkpoint,
                    save_checkpoint, seed_everything, train_epoch)

EVAL_ROWS = 10                  # rows of the validation and test streams (PyTorch's example)
CORPORA = ("synthetic", "docstrings", "wikitext2", "ptb")


@dataclass(frozen=True)
class RunConfig:
    """The settings of one named configuration, shared by every neural model of the table."""

    name: str
    synthetic_size: str          # rnnlab.data.SIZES name of the synthetic corpus
    max_tokens: int | None       # training tokens kept of a real corpus (None: all);
    #                              valid and test keep a quarter as many
    embedding_dim: int
    hidden_size: int
    window: int                  # the window LM's context, n-1 tokens
    epochs: int
    batch_size: int
    bptt_len: int
    lr: float                    # SGD
    lr_decay: float              # the learning rate is multiplied by this every epoch ...
    decay_after: int             # ... after this many epochs
    clip_norm: float
    dropout: float               # of the "dropout" rows
    init_scale: float | None     # every weight uniform in +-init_scale (None: torch's default)
    agreement_pairs: int         # minimal pairs scored on the synthetic corpus
    seed: int = 0
    optimizer: str = "sgd"       # "sgd" or "adam"
    patience: int | None = None  # stop after this many epochs without a better validation
    #                              perplexity (None: train every epoch)
    rnn_lr: float | None = None  # the vanilla RNN's learning rate, where the LSTMs' would
    #                              make it diverge (None: lr)

    def learning_rate(self, epoch: int, vanilla_rnn: bool = False) -> float:
        """Zaremba et al.'s schedule: constant for ``decay_after`` epochs, then decayed;
        from ``rnn_lr`` instead of ``lr`` for a vanilla RNN where it is set."""
        start = self.rnn_lr if vanilla_rnn and self.rnn_lr is not None else self.lr
        return start * self.lr_decay ** max(epoch + 1 - self.decay_after, 0)

    def stops_after(self, valid_perplexity: list[float]) -> bool:
        """Early stopping: whether ``patience`` epochs have passed since the best one."""
        if self.patience is None or not valid_perplexity:
            return False
        best = valid_perplexity.index(min(valid_perplexity))
        return len(valid_perplexity) - 1 - best >= self.patience


CONFIGS = {
    "tiny": RunConfig("tiny", "tiny", 3000, 16, 16, 2, epochs=3, batch_size=8, bptt_len=10,
                      lr=1.0, lr_decay=0.5, decay_after=2, clip_norm=5.0, dropout=0.2,
                      init_scale=0.1, agreement_pairs=30),
    # Zaremba et al. 2014, "small" (non-regularised: its 2-layer LSTM row has no dropout;
    # the dropout rows use PyTorch's example's 0.2). Their learning rate 1 is for LSTMs: a
    # tanh RNN diverges at it on WikiText-2 within 150 updates (valid perplexity 19,683 after
    # them, against 613 at 0.25 and 686 at 0.1), so the vanilla RNN starts at 0.25.
    "small": RunConfig("small", "default", None, 200, 200, 4, epochs=13, batch_size=20,
                       bptt_len=20, lr=1.0, lr_decay=0.5, decay_after=4, clip_norm=5.0,
                       dropout=0.2, init_scale=0.1, agreement_pairs=600, rnn_lr=0.25),
    # Zaremba et al. 2014, "medium"
    "medium": RunConfig("medium", "default", None, 650, 650, 4, epochs=39, batch_size=20,
                        bptt_len=35, lr=1.0, lr_decay=0.8, decay_after=6, clip_norm=5.0,
                        dropout=0.5, init_scale=0.05, agreement_pairs=600, rnn_lr=0.25),
    # The course's own corpora (synthetic: 30k training tokens, 75 updates an epoch at batch
    # 20) are far smaller than PTB: Zaremba's schedule stops before the models have learnt.
    # Adam at one learning rate for every model, clipped, with early stopping on validation
    # perplexity (the best epoch's weights are tested). The learning rate was chosen once,
    # of 1e-3, 2e-3 and 3e-3, by the geometric mean over the seven networks of their best
    # validation perplexities on the synthetic corpus (9.85, 9.87, 9.90).
    "course": RunConfig("course", "default", None, 200, 200, 4, epochs=20,
                        batch_size=20, bptt_len=20, lr=1e-3, lr_decay=1.0, decay_after=0,
                        clip_norm=1.0, dropout=0.3, init_scale=None,
                        agreement_pairs=600, optimizer="adam", patience=3),
}
# The configuration a corpus gets when none is named: Zaremba's PTB settings for the corpora
# they were published on (and WikiText-2, its size), the course's for the course's corpora.
DEFAULT_CONFIG = {"synthetic": "course", "docstrings": "course", "wikitext2": "small",
                  "ptb": "small"}

# The lecture's published rows: (model, corpus, test perplexity, source)
REFERENCES = [
    ("Kneser-Ney 5-gram", "PTB", 141.2, "Mikolov et al. 2011, Extensions of recurrent neural "
     "network language model"),
    ("RNN", "PTB", 124.7, "Mikolov et al. 2011, Extensions of recurrent neural network "
     "language model"),
    ("LSTM 2x200, no dropout (small)", "PTB", 114.5, "Zaremba et al. 2014, Recurrent neural "
     "network regularization"),
    ("LSTM 2x650, dropout 0.5 (medium)", "PTB", 82.7, "Zaremba et al. 2014"),
    ("LSTM 2x1500, dropout 0.65 (large)", "PTB", 78.4, "Zaremba et al. 2014"),
    ("AWD-LSTM", "PTB", 57.3, "Merity et al. 2018, Regularizing and optimizing LSTM language "
     "models"),
    ("AWD-LSTM", "WikiText-2", 65.8, "Merity et al. 2018"),
]


# -- corpora ------------------------------------------------------------------------------------


@dataclass
class Corpus:
    """Train/valid/test token lists, what they are (``note``), and the synthetic language's
    oracle and language where there is one (agreement pairs need the language)."""

    name: str
    train: list
    valid: list
    test: list
    note: str
    oracle: object = None
    language: object = None


def on_disk(name: str) -> bool:
    """Whether a corpus file is in the ``RNNLAB_DATA`` mirror or the cache (no download)."""
    from .data.corpora import FILES, cache_folder

    mirror = os.environ.get("RNNLAB_DATA")
    places = ([Path(mirror)] if mirror else []) + [cache_folder()]
    return any((place / FILES[name].relpath).is_file() for place in places)


def _first_tokens(sentences: list, limit: int | None) -> list:
    """The leading sentences of ``sentences`` holding about ``limit`` tokens (all if None)."""
    if limit is None:
        return sentences
    kept, total = [], 0
    for sentence in sentences:
        if total >= limit:
            break
        kept.append(sentence)
        total += len(sentence) + 1
    return kept


def load_corpus(name: str, config: RunConfig, download: bool = True) -> Corpus:
    """The corpus ``name`` (one of ``CORPORA``) cut to the configuration's size. With
    ``download=False`` only the mirror and the cache are looked at."""
    from .data import load_ptb, load_wikitext2, stdlib_docstring_corpus, synthetic_corpus

    cap = config.max_tokens
    small = None if cap is None else cap // 4
    if name == "synthetic":
        corpus = synthetic_corpus(config.synthetic_size, seed=config.seed)
        return Corpus(name, corpus.train, corpus.valid, corpus.test,
                      f"Toy English, {config.synthetic_size} splits (seed {config.seed}); the "
                      "oracle is the exact model of the language", corpus.oracle, corpus.language)
    if name == "docstrings":
        corpus = stdlib_docstring_corpus(config.seed, max_tokens=cap * 3 // 2 if cap else 300_000)
        return Corpus(name, corpus.train, corpus.valid, corpus.test,
                      f"docstrings of Python {corpus.python_version}'s standard library, split "
                      "by file")
    if name == "ptb":
        return Corpus(name, *(_first_tokens(load_ptb(s), c)
                              for s, c in (("train", cap), ("valid", small), ("test", small))),
                      "Penn Treebank (Mikolov's text)" + (" cut to the configuration" if cap else ""))
    if name == "wikitext2":
        if on_disk("wikitext2/train") or download and not (on_disk("wikitext2/valid")
                                                              and on_disk("wikitext2/test")):
            return Corpus(name, *(_first_tokens(load_wikitext2(s), c)
                                  for s, c in (("train", cap), ("valid", small), ("test", small))),
                          "WikiText-2" + (" cut to the configuration" if cap else ""))
        valid = _first_tokens(load_wikitext2("valid"), cap)
        held = len(valid) * 9 // 10
        return Corpus(name, valid[:held], valid[held:], _first_tokens(load_wikitext2("test"), small),
                      "offline, WikiText-2 without its train split: trained on the first 90% of "
                      "its valid split, validated on the last 10%, tested on its test split")
    raise ValueError(f"unknown corpus {name!r}; choose from {CORPORA}")


# -- the models ---------------------------------------------------------------------------------


def count_models() -> dict[str, Callable]:
    """name -> (train, valid, vocab) -> fitted NGramLM, in the order of chapter 01."""
    return {
        "trigram add-k (k=0.1)":
            lambda train, valid, vocab: NGramLM(3, "addk", k=0.1).fit(train, vocab),
        "Kneser-Ney 3-gram":
            lambda train, valid, vocab: NGramLM(3, "kn").fit(train, vocab).tune(valid),
        "Kneser-Ney 5-gram":
            lambda train, valid, vocab: NGramLM(5, "kn").fit(train, vocab).tune(valid),
    }


def neural_models(config: RunConfig) -> dict[str, Callable[[int], nn.Module]]:
    """name -> vocab_size -> network, in the order of the chapters."""
    E, H, p = config.embedding_dim, config.hidden_size, config.dropout
    return {
        f"window LM (n={config.window + 1})":
            lambda V: FixedWindowLM(V, config.window, embedding_dim=E, hidden_size=H),
        "RNN (tanh)": lambda V: RNNLM(V, E, H, kind="rnn"),
        "GRU": lambda V: RNNLM(V, E, H, kind="gru"),
        "LSTM": lambda V: RNNLM(V, E, H, kind="lstm"),
        "2-layer LSTM": lambda V: RNNLM(V, E, H, kind="lstm", num_layers=2),
        f"2-layer LSTM, dropout {p}": lambda V: RNNLM(V, E, H, kind="lstm", num_layers=2, dropout=p),
        f"2-layer LSTM, dropout {p}, tied": lambda V: RNNLM(V, E, H, kind="lstm", num_layers=2,
                                                           dropout=p, tie_weights=True),
    }


def model_names(config: RunConfig) -> list[str]:
    return list(count_models()) + list(neural_models(config))


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _agreement(lm, corpus: Corpus, config: RunConfig) -> dict | None:
    """Accuracy overall and by attractors (0, 1, 2+) on the corpus's minimal pairs, if any."""
    if corpus.language is None:
        return None
    report = agreement_accuracy(lm, agreement_pairs(config.agreement_pairs, config.seed,
                                                    corpus.language))
    return {"all": report.accuracy, **{str(k): a for k, (a, _) in report.by_attractors.items()}}


def tokens_with_end(sentences) -> int:
    """Tokens of the sentences as a stream, one `</s>` after each (what a model predicts)."""
    return sum(len(s) + 1 for s in sentences)


# -- training with checkpoints ------------------------------------------------------------------


def _rng_state() -> dict:
    state = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _save_atomically(path: Path, *args, **kwargs) -> None:
    """save_checkpoint through a temporary file: an interruption never leaves half a file."""
    partial = path.with_name(path.name + ".partial")
    save_checkpoint(partial, *args, **kwargs)
    os.replace(partial, path)


def train_neural(name: str, make_model: Callable[[int], nn.Module], corpus: Corpus, vocab,
                 config: RunConfig, folder: Path, device: torch.device, progress: bool = True,
                 on_checkpoint: Callable | None = None) -> dict:
    """Train one network for ``config.epochs`` epochs of truncated BPTT (fewer when the
    configuration stops early: ``RunConfig.stops_after``), resuming from the
    last epoch checkpoint in ``folder`` if there is one, and return its row: test perplexity
    of the best validation epoch's weights, parameters, time, tokens/s, per-epoch history.
    ``on_checkpoint(name, epoch)`` is called after each epoch's checkpoint is written."""
    folder.mkdir(parents=True, exist_ok=True)
    train_config = TrainConfig(batch_size=config.batch_size, bptt_len=config.bptt_len,
                               optimizer=config.optimizer, lr=config.lr,
                               clip_norm=config.clip_norm, progress=progress, seed=None)
    train = batchify(encode_stream(corpus.train, vocab), config.batch_size)
    valid = batchify(encode_stream(corpus.valid, vocab), EVAL_ROWS)
    test = batchify(encode_stream(corpus.test, vocab), EVAL_ROWS)
    seed_everything(config.seed)
    model = make_model(len(vocab))
    if config.init_scale is not None:
        for parameter in model.parameters():
            nn.init.uniform_(parameter, -config.init_scale, config.init_scale)
    model.to(device)
    vanilla_rnn = isinstance(model, RNNLM) and model.kind.startswith("rnn")
    optimizer = (torch.optim.Adam if config.optimizer == "adam" else torch.optim.SGD)(
        model.parameters(), lr=config.learning_rate(0, vanilla_rnn))
    _, amp_dtype = _autocast(device, train_config.mixed_precision)
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None
    history = {"train_loss": [], "valid_perplexity": [], "seconds": [], "tokens": []}
    best = math.inf
    done = sorted(folder.glob("epoch-*.pt"))
    if done:                                             # resume after the last finished epoch
        checkpoint = load_checkpoint(done[-1], model, optimizer)
        history, best = checkpoint["metadata"]["history"], checkpoint["metadata"]["best"]
        _set_rng_state(checkpoint["metadata"]["rng"])
    for epoch in range(len(history["train_loss"]), config.epochs):
        if config.stops_after(history["valid_perplexity"]):
            break
        for group in optimizer.param_groups:
            group["lr"] = config.learning_rate(epoch, vanilla_rnn)
        start = time.perf_counter()
        loss, _ = train_epoch(model, train, optimizer, train_config, scaler,
                              f"{name}, epoch {epoch + 1}/{config.epochs}")
        seconds = time.perf_counter() - start
        _, ppl = evaluate(model, valid, config.bptt_len)
        history["train_loss"].append(loss)
        history["valid_perplexity"].append(ppl)
        history["seconds"].append(seconds)
        history["tokens"].append(train[:, 1:].numel())
        if ppl < best:
            best = ppl
            _save_atomically(folder / "best.pt", model)
        path = folder / f"epoch-{epoch + 1:03d}.pt"
        _save_atomically(path, model, optimizer, history=history, best=best, rng=_rng_state())
        for old in done:
            old.unlink()
        done = [path]
        if progress:
            tqdm.write(f"{name}, epoch {epoch + 1}: train loss {loss:.3f}, valid ppl {ppl:.2f}, "
                       f"lr {config.learning_rate(epoch, vanilla_rnn):g}, {seconds:.1f} s")
        if on_checkpoint is not None:
            on_checkpoint(name, epoch)
    load_checkpoint(folder / "best.pt", model)
    _, test_ppl = evaluate(model, test, config.bptt_len)
    seconds = sum(history["seconds"])
    return dict(model=name, family="neural", test_perplexity=test_ppl,
                parameters=sum(p.numel() for p in model.parameters()),
                train_seconds=seconds, tokens_per_second=sum(history["tokens"]) / seconds,
                agreement=_agreement(NeuralLM(model, vocab), corpus, config), history=history)


def fit_count_model(name: str, fit: Callable, corpus: Corpus, vocab, config: RunConfig) -> dict:
    """Fit (and tune on the validation text) one n-gram model and return its row."""
    start = time.perf_counter()
    lm = fit(corpus.train, corpus.valid, vocab)
    seconds = time.perf_counter() - start
    return dict(model=name, family="count", test_perplexity=lm.perplexity(corpus.test),
                parameters=sum(lm.num_ngrams(k) for k in range(1, lm.n + 1)),
                train_seconds=seconds, tokens_per_second=tokens_with_end(corpus.train) / seconds,
                agreement=_agreement(lm, corpus, config), history=None)


# -- the run ------------------------------------------------------------------------------------


def _commit() -> str | None:
    """The git commit of rnnlab's checkout (with ``+changes`` if it has uncommitted ones)."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("+changes" if dirty else "")


def provenance(command: str, device: torch.device | str) -> dict:
    """Where a measured result comes from: {"command", "commit", "torch", "python", "device"
    (with the GPU's name on CUDA), "threads", "date" (UTC)}."""
    dev = torch.device(device)
    return dict(command=command, commit=_commit(), torch=torch.__version__,
                python=platform.python_version(),
                device=str(dev) + (f" ({torch.cuda.get_device_name(dev)})" if dev.type == "cuda" else ""),
                threads=torch.get_num_threads(),
                date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))


def _claim(folder: Path, corpus: str, config: RunConfig) -> None:
    """Record which corpus and configuration the run folder holds; refuse another one (its
    checkpoints and rows would be read back as if they were this run's)."""
    run = {"corpus": corpus, "config": asdict(config)}
    path = folder / "run.json"
    if path.is_file() and json.loads(path.read_text()) != run:
        raise ValueError(f"{folder} holds a run of another corpus or configuration "
                         f"({path.read_text().strip()}); choose another run folder")
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(run))


def reproduce(corpus: str = "synthetic", config: str | RunConfig | None = None,
              out: str | os.PathLike | None = None, models: list[str] | None = None,
              epochs: int | None = None, device: torch.device | str | None = None,
              progress: bool = True, download: bool = True, command: str | None = None,
              on_checkpoint: Callable | None = None) -> dict:
    """Train and evaluate the course's models (all, or the ``models`` named) on ``corpus``
    with the configuration ``config`` (a name of ``CONFIGS``, default the corpus's
    ``DEFAULT_CONFIG``; ``epochs`` overrides its epochs), in the run folder ``out`` (default
    ``runs/<corpus>-<config>``), resuming what a previous run there left; write the table,
    its JSON and its plots there and return the results: {"rows", "references",
    "provenance", "note", "config"}."""
    if config is None:
        config = DEFAULT_CONFIG.get(corpus, "small")    # an unknown corpus fails just below
    config = CONFIGS[config] if isinstance(config, str) else config
    if epochs is not None:
        config = replace(config, epochs=epochs)
    chosen = models or model_names(config)
    unknown = set(chosen) - set(model_names(config))
    if unknown:
        raise ValueError(f"unknown models {sorted(unknown)}; choose from {model_names(config)}")
    folder = Path(out or f"runs/{corpus}-{config.name}")
    _claim(folder, corpus, config)
    dev = torch.device(device) if device is not None else best_device()
    data = load_corpus(corpus, config, download)
    vocab = build_vocab(data.train)
    count, neural = count_models(), neural_models(config)
    rows = []
    if data.oracle is not None:
        rows.append(dict(model="oracle (exact)", family="oracle",
                         test_perplexity=data.oracle.perplexity(data.test), parameters=None,
                         train_seconds=None, tokens_per_second=None,
                         agreement=_agreement(data.oracle, data, config), history=None))
    for name in tqdm(chosen, desc=f"{corpus}, {config.name}", disable=not progress):
        row_file = folder / "rows" / f"{_slug(name)}.json"
        if row_file.is_file():                            # finished by an earlier run
            rows.append(json.loads(row_file.read_text()))
            continue
        if name in count:
            row = fit_count_model(name, count[name], data, vocab, config)
        else:
            row = train_neural(name, neural[name], data, vocab, config,
                               folder / "checkpoints" / _slug(name), dev, progress, on_checkpoint)
        row_file.parent.mkdir(parents=True, exist_ok=True)
        row_file.write_text(json.dumps(row))
        rows.append(row)
    results = dict(
        corpus=corpus, note=data.note, config=asdict(config), rows=rows,
        references=[dict(model=m, corpus=c, test_perplexity=p, source=s) for m, c, p, s in REFERENCES],
        sizes={split: tokens_with_end(getattr(data, split)) for split in ("train", "valid", "test")},
        vocabulary=len(vocab),
        provenance=provenance(command or f"rnnlab.reproduce.reproduce({corpus!r}, "
                                         f"{config.name!r}, epochs={config.epochs})", dev))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(results, indent=1))
    (folder / "results.md").write_text(markdown(results) + "\n")
    plot(results, folder)
    return results


# -- the table and the plots --------------------------------------------------------------------


def provenance_line(results: dict) -> str:
    p = results["provenance"]
    return (f"`{p['command']}` at commit {p['commit'] or 'unknown'}, torch {p['torch']}, "
            f"{p['device']}, {p['threads']} thread{'s' * (p['threads'] != 1)}, {p['date']}")


def markdown(results: dict) -> str:
    """The table as Markdown (cells escaped), with the corpus note and the provenance line."""
    from .report import markdown_table

    agreement = any(row["agreement"] for row in results["rows"])
    head = ["model", "test perplexity", "parameters", "training time (s)", "training tokens/s"]
    head += ["agreement", "0 attractors", "1 attractor", "2+ attractors"] if agreement else []
    head += ["source"]

    def number(x, fmt):
        return "-" if x is None else format(x, fmt)

    rows = []
    for row in results["rows"]:
        cells = [row["model"], number(row["test_perplexity"], ".2f"), number(row["parameters"], ","),
                 number(row["train_seconds"], ".1f"), number(row["tokens_per_second"], ",.0f")]
        if agreement:
            a = row["agreement"] or {}
            cells += [f"{100 * a[k]:.1f}%" if k in a else "-" for k in ("all", "0", "1", "2")]
        rows.append(cells + ["this run"])
    for ref in results["references"]:
        rows.append([f"published: {ref['model']}", f"{ref['test_perplexity']:.1f} ({ref['corpus']})",
                     "-", "-", "-", *(["-"] * 4 if agreement else []), ref["source"]])
    sizes = results["sizes"]
    config = results["config"]
    lines = [f"Corpus `{results['corpus']}`: {results['note']}. Tokens (with `</s>`): train "
             f"{sizes['train']:,}, valid {sizes['valid']:,}, test {sizes['test']:,}; vocabulary "
             f"{results['vocabulary']:,}. Configuration `{config['name']}`: {config['epochs']} "
             f"epochs, embedding {config['embedding_dim']}, hidden {config['hidden_size']}, batch "
             f"{config['batch_size']}, bptt {config['bptt_len']}, "
             f"{'Adam' if config['optimizer'] == 'adam' else 'SGD'} lr {config['lr']:g}"
             + (f" (vanilla RNN {config['rnn_lr']:g})" if config.get("rnn_lr") else "") + ", clip "
             f"{config['clip_norm']:g}"
             + (f", early stopping after {config['patience']} epochs without a better "
                "validation perplexity (the best epoch is tested)" if config["patience"] else "")
             + ". Parameters of a count model: its stored n-grams.",
             "", markdown_table(head, rows).data, "", "Produced by " + provenance_line(results) + "."]
    return "\n".join(lines)


def draw_perplexity_vs_parameters(results: dict, ax) -> None:
    """Test perplexity against parameters (log scale), one point per model of ``results``,
    the oracle as a dashed line, on the matplotlib axes ``ax``."""
    import matplotlib.ticker

    for family, marker in (("count", "s"), ("neural", "o")):
        for r in results["rows"]:
            if r["family"] == family:
                ax.plot(r["parameters"], r["test_perplexity"], marker, label=r["model"])
    for r in results["rows"]:
        if r["family"] == "oracle":
            ax.axhline(r["test_perplexity"], color="grey", ls="--", lw=0.8, label=r["model"])
    ax.set(xscale="log", xlabel="parameters (count models: stored n-grams)",
           ylabel="test perplexity", title=f"Perplexity against size, {results['corpus']}")
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())   # decades only
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=8)


def draw_validation_vs_time(results: dict, ax) -> None:
    """Validation perplexity after each epoch against cumulated training time, one curve per
    network of ``results``, on the matplotlib axes ``ax``."""
    for r in results["rows"]:
        if r["history"]:
            elapsed, total = [], 0.0
            for seconds in r["history"]["seconds"]:
                total += seconds
                elapsed.append(total)
            ax.plot(elapsed, r["history"]["valid_perplexity"], "o-", ms=3, label=r["model"])
    ax.set(yscale="log", xlabel="training time (s)", ylabel="validation perplexity",
           title=f"Validation perplexity after each epoch, {results['corpus']}\n"
                 "(values above 10x the worst final one are off the scale)")
    finals = [r["history"]["valid_perplexity"][-1] for r in results["rows"] if r["history"]]
    if finals:                          # a diverging first epoch would flatten every curve
        ax.set_ylim(top=10 * max(finals))
    if ax.lines:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=8)
    else:
        ax.text(0.5, 0.5, "no neural model in this run", ha="center", transform=ax.transAxes)


def plot(results: dict, folder: Path) -> None:
    """perplexity_vs_parameters.png and validation_vs_time.png in ``folder`` (figures of their
    own, without pyplot: the caller's matplotlib backend, a notebook's inline one, is untouched)."""
    from matplotlib.figure import Figure

    for draw, name in ((draw_perplexity_vs_parameters, "perplexity_vs_parameters"),
                       (draw_validation_vs_time, "validation_vs_time")):
        fig = Figure(figsize=(6.5, 4))
        draw(results, fig.subplots())
        fig.savefig(folder / f"{name}.png", dpi=120, bbox_inches="tight")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m rnnlab.reproduce",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default="synthetic", choices=CORPORA)
    parser.add_argument("--config", choices=sorted(CONFIGS),
                        help="named configuration (default: "
                        + ", ".join(f"{c} for {corpus}" for corpus, c in DEFAULT_CONFIG.items())
                        + "; small and medium are Zaremba et al.'s PTB settings)")
    parser.add_argument("--out", help="run folder (default runs/<corpus>-<config>)")
    parser.add_argument("--models", help="comma-separated model names (default: all)")
    parser.add_argument("--epochs", type=int, help="override the configuration's epochs")
    parser.add_argument("--device", help="torch device (default: rnnlab.device())")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm bars")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    results = reproduce(args.corpus, args.config, args.out,
                        args.models.split(",") if args.models else None, args.epochs,
                        args.device, not args.no_progress,
                        command=shlex.join(["python", "-m", "rnnlab.reproduce", *argv]))
    print(markdown(results))
    return results


if __name__ == "__main__":
    main()
