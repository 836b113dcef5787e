"""The output layer's cost: full softmax, tied full softmax and adaptive softmax in the same LSTM
language model, side by side on the same text.

On a vocabulary of V words the output layer of an LM is a (V, H) matrix: the product with it,
the softmax over V and their backward pass grow with V while the recurrent layer does not.
Three output layers on the same network (embedding 200, one LSTM layer of 200, batch 20,
bptt 35, Adam and clipping as the course's configuration of ``rnnlab.reproduce``):

- ``full softmax``: ``rnnlab.models.RNNLM``, a (V, H) output matrix of its own;
- ``tied full softmax``: the same with the output matrix tied to the embedding (Press & Wolf
  2017, Inan et al. 2017): V H parameters fewer, the same arithmetic;
- ``adaptive softmax``: ``rnnlab.models.AdaptiveRNNLM`` (Grave et al. 2017), cutoffs from the
  training text's token frequencies (``rnnlab.models.frequency_cutoffs``: the head holds the
  words of 80% of the text, the next cluster those of the next 15%, the last the rest).

Every model starts from the same seed and trains once over the training text with
``rnnlab.train.train_epoch``: the epoch (or its first ``--windows`` windows) is cut into
``--rounds`` consecutive segments (``rnnlab.timing.window_segments``), and each round trains
every model on the next segment in a rotating order (``rnnlab.timing.time_interleaved``; the
first segment is the untimed warm-up), so all three read the same text in the same order.
Time per epoch is the median over rounds of the seconds per window, times the windows of an
epoch; a ratio is the median over rounds of the per-round ratio of times against the full
softmax (load drifting between rounds cancels). Then: parameters, the share of a training
step's time spent in the output layer, softmax and loss (``rnnlab.timing.output_share``), and
validation and test perplexity (``rnnlab.train.evaluate``, 10 rows, the state carried).

Corpus: WikiText-2 when in the ``RNNLAB_DATA`` mirror or the cache, read as
``rnnlab.reproduce.load_corpus`` reads it (offline: trained on 90% of its valid split), else
the standard library's docstrings; the output says which. ``--quick`` (for tests) runs the
synthetic corpus's tiny split for a few windows.
Run: ``python bench/bench_output_layer.py [--threads 1] [--device cuda --amp] [--out FILE.json]``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import shlex
import statistics
import sys
from contextlib import nullcontext
from pathlib import Path

import torch

from rnnlab.data import build_vocab, encode_stream
from rnnlab.models import AdaptiveRNNLM, RNNLM, frequency_cutoffs
from rnnlab.reproduce import CONFIGS, EVAL_ROWS, load_corpus, on_disk, provenance
from rnnlab.timing import output_share, paired_ratio, time_interleaved, window_segments
from rnnlab.train import TrainConfig, batchify, evaluate, make_optimizer, train_epoch

RESULTS = Path(__file__).resolve().parent / "results"
EMBED, HIDDEN, BATCH, BPTT = 200, 200, 20, 35
COURSE = CONFIGS["course"]                     # Adam, its learning rate, its clipping
BASELINE = "full softmax"


def corpus_at_hand(quick: bool = False):
    """The corpus with the largest vocabulary that needs no download (``rnnlab.reproduce``'s)."""
    if quick:
        return load_corpus("synthetic", CONFIGS["tiny"], download=False)
    if on_disk("wikitext2/valid") and on_disk("wikitext2/test"):
        return load_corpus("wikitext2", COURSE, download=False)
    return load_corpus("docstrings", COURSE, download=False)


def output_layers(vocab_size: int, train_ids: torch.Tensor) -> dict:
    """name -> () -> model: the three output layers on the same network."""
    cutoffs = frequency_cutoffs(train_ids, vocab_size)
    return {
        BASELINE: lambda: RNNLM(vocab_size, EMBED, HIDDEN, kind="lstm"),
        "tied full softmax": lambda: RNNLM(vocab_size, EMBED, HIDDEN, kind="lstm", tie_weights=True),
        "adaptive softmax": lambda: AdaptiveRNNLM(vocab_size, cutoffs, EMBED, HIDDEN, kind="lstm"),
    }


def parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())          # a tied matrix counts once


def compare_output_layers(corpus, device="cpu", windows: int = 10**9, rounds: int = 11,
                          share_reps: int = 5, amp: bool = False, seed: int = 0) -> dict:
    """Train the three models once over ``corpus.train`` (at most ``windows`` windows) in
    interleaved rounds; their times, parameters, output-layer shares and perplexities."""
    device = torch.device(device)
    amp = amp and device.type == "cuda"
    vocab = build_vocab(corpus.train)
    train_ids = encode_stream(corpus.train, vocab)
    train = batchify(train_ids, BATCH).to(device)                                   # (B, N)
    held_out = {split: batchify(encode_stream(getattr(corpus, split), vocab), EVAL_ROWS).to(device)
                for split in ("valid", "test")}
    parts = window_segments(train.shape[1], windows, rounds, BPTT)
    part_windows = [math.ceil((b - a) / BPTT) for a, b in parts]
    epoch_windows = math.ceil((train.shape[1] - 1) / BPTT)
    config = TrainConfig(optimizer=COURSE.optimizer, lr=COURSE.lr, clip_norm=COURSE.clip_norm,
                         batch_size=BATCH, bptt_len=BPTT, mixed_precision=amp, progress=False,
                         seed=None)
    models, optimizers = {}, {}
    for name, build in output_layers(len(vocab), train_ids).items():
        torch.manual_seed(seed)                                    # the same embedding and LSTM
        models[name] = build().to(device)
        optimizers[name] = make_optimizer(models[name], config)
    next_part = dict.fromkeys(models, 0)

    def step(name):
        a, b = parts[next_part[name]]
        next_part[name] += 1
        train_epoch(models[name], train[:, a:b + 1], optimizers[name], config)

    print(f"{corpus.note}: {train.numel():,} training tokens, vocabulary {len(vocab):,}, cutoffs "
          f"{models['adaptive softmax'].output.cutoffs[:-1]}; {sum(part_windows)} of {epoch_windows} "
          f"windows of {BATCH}x{BPTT} in {len(parts)} segments (the first the warm-up); {device}, "
          f"{torch.get_num_threads()} threads, {'bf16 autocast' if amp else 'float32'}", flush=True)
    times = time_interleaved({name: (lambda n=name: step(n)) for name in models}, len(parts) - 1,
                             device, warmup=1)
    timed_windows, timed_tokens = part_windows[1:], [BATCH * (b - a) for a, b in parts[1:]]
    sample = train[:, :BPTT + 1]
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if amp else nullcontext()
    rows = {}
    for name, model in models.items():
        per_window = statistics.median(t / n for t, n in zip(times[name], timed_windows))
        with autocast:
            share = output_share(model, sample, share_reps, device)
        rows[name] = dict(
            parameters=parameters(model),
            parameter_ratio=parameters(model) / parameters(models[BASELINE]),
            epoch_seconds=per_window * epoch_windows,
            time_ratio=paired_ratio(times, name, BASELINE),
            tokens_per_second=statistics.median(n / t for n, t in zip(timed_tokens, times[name])),
            output_share=share,
            valid_perplexity=evaluate(model, held_out["valid"], BPTT)[1],
            test_perplexity=evaluate(model, held_out["test"], BPTT)[1],
            seconds=times[name])
    return dict(corpus=corpus.note, vocabulary=len(vocab),
                cutoffs=models["adaptive softmax"].output.cutoffs[:-1],
                tokens=dict(train=train_ids.numel(), **{split: stream.numel()
                                                         for split, stream in held_out.items()}),
                network=dict(kind="lstm", layers=1, embedding=EMBED, hidden=HIDDEN, batch=BATCH,
                             bptt=BPTT, optimizer=config.optimizer, lr=config.lr,
                             clip_norm=config.clip_norm, seed=seed),
                windows_trained=sum(part_windows), windows_per_epoch=epoch_windows,
                segments=len(parts), dtype="bf16 autocast" if amp else "float32", rows=rows)


def print_table(report: dict) -> None:
    print(f"{'output layer':20s} {'parameters':>11s} {'x full':>7s} {'s/epoch':>9s} {'x full':>7s} "
          f"{'tokens/s':>9s} {'output share':>13s} {'valid ppl':>10s} {'test ppl':>9s} {'x full':>7s}")
    full = report["rows"][BASELINE]
    for name, row in report["rows"].items():
        print(f"{name:20s} {row['parameters']:11,d} {row['parameter_ratio']:7.2f} "
              f"{row['epoch_seconds']:9.1f} {row['time_ratio']:7.2f} {row['tokens_per_second']:9,.0f} "
              f"{100 * row['output_share']['fraction']:12.0f}% {row['valid_perplexity']:10.1f} "
              f"{row['test_perplexity']:9.1f} {row['test_perplexity'] / full['test_perplexity']:7.2f}")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--windows", type=int, default=10**9,
                        help="windows of training (default: the whole epoch)")
    parser.add_argument("--rounds", type=int, default=11, help="segments (the first is the warm-up)")
    parser.add_argument("--share-reps", type=int, default=5,
                        help="interleaved rounds timing the output layer's share")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--amp", action="store_true", help="CUDA: bf16 autocast for every model")
    parser.add_argument("--quick", action="store_true",
                        help="the synthetic corpus's tiny split, 6 windows in 3 segments (tests)")
    parser.add_argument("--out", type=Path, default=None,
                        help="the JSON file to write (default: bench/results/, git-ignored)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.quick:
        args.windows, args.rounds, args.share_reps = 6, 3, 2
    command = "python bench/bench_output_layer.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    source = provenance(command.strip(), args.device)            # the code as it starts
    report = compare_output_layers(corpus_at_hand(args.quick), args.device, args.windows,
                                   args.rounds, args.share_reps, args.amp)
    print_table(report)
    report["provenance"] = source
    path = args.out or RESULTS / f"bench_output_layer-{datetime.datetime.now():%Y%m%d-%H%M%S}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1))
    print(f"written: {os.path.relpath(path)}")
    return report


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
