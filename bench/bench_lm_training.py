"""LM training throughput of ``rnnlab.train`` with ``rnnlab.models.RNNLM`` against PyTorch's own
``word_language_model`` example, side by side on the same token ids (``make bench``).

The baseline is a plain training loop written the way that example writes it (``nn.LSTM``,
``CrossEntropyLoss``, ``clip_grad_norm_``, a manual SGD step ``p.data.add_(p.grad, alpha=-lr)``,
``repackage_hidden``), at its default configuration: a 2x200 LSTM, embedding 200, dropout 0.2,
SGD lr 20, clip 0.25, batch 20, bptt 35. Against it: ``rnnlab.train.train_epoch`` training an
``RNNLM`` with the same architecture and the same initial weights (copied from the baseline:
``rnnlab.layers`` has torch.nn's parameter layout), with the fused layers (torch's kernels:
oneDNN on CPU, cuDNN on GPU) and with the reference loop.

The epoch (or its first ``--batches`` windows) is cut into ``--rounds`` consecutive segments;
each round trains every model on the next segment, in an order that rotates from round to
round (``rnnlab.timing.time_interleaved``; the first segment is the untimed warm-up), so all
three read the same text in the same order, each carrying its state within a segment and
starting from zeros at the next (the example restarts from zeros once an epoch). The ratio
is the median over rounds of the per-round ratio of times (load drifting between rounds, on a
shared machine, cancels). Then each model's validation perplexity, read as the example does
(10 rows, state carried). Targets: tokens/s >= 1.0x for the fused path, perplexity within 1%.

Data: WikiText-2's valid split (trained on) and test split (validated on) from the
``RNNLAB_DATA`` mirror or the cache when there, else the standard library's docstrings.
Results are printed as a table and written as JSON to ``bench/results/`` (git-ignored).
Run: ``python bench/bench_lm_training.py [--batches 60] [--threads 2] [--device cuda --amp]``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import sys
from pathlib import Path

import torch
from torch import nn

from rnnlab.data import build_vocab, encode_stream, load_wikitext2, stdlib_docstring_corpus
from rnnlab.models import RNNLM
from rnnlab.reproduce import on_disk
from rnnlab.timing import paired_ratio, time_interleaved, window_segments
from rnnlab.train import TrainConfig, batchify, evaluate, train_epoch

RESULTS = Path(__file__).resolve().parent / "results"
# word_language_model's defaults
EMSIZE, NHID, NLAYERS, DROPOUT = 200, 200, 2, 0.2
LR, CLIP, BATCH, BPTT, EVAL_BATCH = 20.0, 0.25, 20, 35, 10


# -- PyTorch's word_language_model, as it writes it ------------------------------------------------


class RNNModel(nn.Module):
    """The example's model (LSTM, untied): encoder, recurrent module, decoder."""

    def __init__(self, ntoken, ninp, nhid, nlayers, dropout=0.5):
        super().__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        self.init_weights()
        self.nhid = nhid
        self.nlayers = nlayers

    def init_weights(self):
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output)
        decoded = decoded.view(-1, self.ntoken)
        return decoded, hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        return (weight.new_zeros(self.nlayers, bsz, self.nhid),
                weight.new_zeros(self.nlayers, bsz, self.nhid))


def repackage_hidden(h):
    """Wraps hidden states in new Tensors, to detach them from their history."""
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


def get_batch(source, i):
    seq_len = min(BPTT, len(source) - 1 - i)
    data = source[i:i + seq_len]
    target = source[i + 1:i + 1 + seq_len].view(-1)
    return data, target


def example_train(model, train_data, criterion, autocast):
    """The example's train(): one pass over ``train_data`` (seq-first, (N, B))."""
    model.train()
    total_loss = 0.
    hidden = model.init_hidden(BATCH)
    for batch, i in enumerate(range(0, train_data.size(0) - 1, BPTT)):
        data, targets = get_batch(train_data, i)
        # Starting each batch, we detach the hidden state from how it was previously produced.
        model.zero_grad()
        hidden = repackage_hidden(hidden)
        with autocast():
            output, hidden = model(data, hidden)
            loss = criterion(output.float(), targets)
        loss.backward()
        # `clip_grad_norm` helps prevent the exploding gradient problem in RNNs / LSTMs.
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-LR)
        total_loss += loss.item()
    return total_loss


def example_evaluate(model, data_source, criterion):
    """The example's evaluate(): mean loss over ``data_source`` (seq-first, (N, 10))."""
    model.eval()
    total_loss = 0.
    hidden = model.init_hidden(EVAL_BATCH)
    with torch.no_grad():
        for i in range(0, data_source.size(0) - 1, BPTT):
            data, targets = get_batch(data_source, i)
            output, hidden = model(data, hidden)
            hidden = repackage_hidden(hidden)
            total_loss += len(data) * criterion(output, targets).item()
    return total_loss / (len(data_source) - 1)


# -- the benchmark ---------------------------------------------------------------------------------


def token_streams():
    """(name, train sentences, validation sentences): WikiText-2 valid/test if on disk."""
    if on_disk("wikitext2/valid") and on_disk("wikitext2/test"):
        return ("WikiText-2 (trained on valid, validated on test)", load_wikitext2("valid"),
                load_wikitext2("test"))
    corpus = stdlib_docstring_corpus()
    return f"stdlib docstrings (Python {corpus.python_version})", corpus.train, corpus.valid


class OwnRandomState:
    """A random state per model, all starting from the same: each model's training draws its
    dropout masks from its own stream, as if it were trained alone, so the interleaved rounds
    give the models the masks they would get one after the other; where two models consume the
    stream alike (nn.LSTM and the fused path, one kernel with the same dropout), the same masks."""

    def __init__(self, device: torch.device, names):
        self.cuda = device.type == "cuda"
        self.states = {name: self._get() for name in names}

    def _get(self):
        return (torch.get_rng_state(), torch.cuda.get_rng_state() if self.cuda else None)

    def around(self, name: str, step):
        def run():
            cpu, cuda = self.states[name]
            torch.set_rng_state(cpu)
            if self.cuda:
                torch.cuda.set_rng_state(cuda)
            step()
            self.states[name] = self._get()
        return run


def rnnlab_copy(example: RNNModel, impl: str) -> RNNLM:
    """An RNNLM with the example's architecture and its very weights."""
    ours = RNNLM(example.ntoken, EMSIZE, NHID, kind="lstm", num_layers=NLAYERS, dropout=DROPOUT,
                 impl=impl)
    renamed = {"encoder.weight": "encoder.embedding.weight", "decoder.weight": "output.weight",
               "decoder.bias": "output.bias"}
    state = {renamed.get(k, k.replace("rnn.", "encoder.rnn.", 1)): v
             for k, v in example.state_dict().items()}
    ours.load_state_dict(state)
    return ours.to(next(example.parameters()).device)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=10**9,
                        help="windows of training (default: the whole epoch)")
    parser.add_argument("--rounds", type=int, default=11, help="segments (the first is the warm-up)")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--amp", action="store_true", help="CUDA: bf16 autocast for every model")
    parser.add_argument("--no-reference", action="store_true", help="skip rnnlab's reference loop")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the JSON results")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    amp = args.amp and device.type == "cuda"

    name, train_sentences, valid_sentences = token_streams()
    vocab = build_vocab(train_sentences)
    train = batchify(encode_stream(train_sentences, vocab), BATCH).to(device)     # (B, N)
    valid = batchify(encode_stream(valid_sentences, vocab), EVAL_BATCH).to(device)
    train_seq_first, valid_seq_first = train.t().contiguous(), valid.t().contiguous()
    parts = window_segments(train.shape[1], args.batches, args.rounds, BPTT)
    windows = sum(math.ceil((b - a) / BPTT) for a, b in parts)
    tokens = [BATCH * (b - a) for a, b in parts]

    torch.manual_seed(0)
    example = RNNModel(len(vocab), EMSIZE, NHID, NLAYERS, DROPOUT).to(device)
    criterion = nn.CrossEntropyLoss()
    impls = ["fused"] + ([] if args.no_reference else ["reference"])
    ours = {impl: rnnlab_copy(example, impl) for impl in impls}
    config = TrainConfig(optimizer="sgd", lr=LR, clip_norm=CLIP, batch_size=BATCH, bptt_len=BPTT,
                         mixed_precision=amp, progress=False, seed=None)
    optimizers = {impl: torch.optim.SGD(m.parameters(), lr=LR) for impl, m in ours.items()}

    def autocast():
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp)

    def example_step():
        a, b = parts[next_part["example"]]
        next_part["example"] += 1
        example_train(example, train_seq_first[a:b + 1], criterion, autocast)

    def rnnlab_step(impl):
        a, b = parts[next_part[impl]]
        next_part[impl] += 1
        train_epoch(ours[impl], train[:, a:b + 1], optimizers[impl], config)

    next_part = {"example": 0, **{impl: 0 for impl in impls}}
    own_rng = OwnRandomState(device, ["example", *impls])
    steps = {"example": own_rng.around("example", example_step),
             **{impl: own_rng.around(impl, lambda i=impl: rnnlab_step(i)) for impl in impls}}
    print(f"{name}: {train.numel():,} training tokens, vocabulary {len(vocab):,}; {windows} windows "
          f"of {BATCH}x{BPTT} in {len(parts)} segments (the first the warm-up); {device}, "
          f"{torch.get_num_threads()} threads, {'bf16 autocast' if amp else 'float32'}", flush=True)
    times = time_interleaved(steps, len(parts) - 1, device, warmup=1)
    timed_tokens = tokens[1:]
    speed = {k: statistics.median(n / t for n, t in zip(timed_tokens, v)) for k, v in times.items()}
    ratio = {k: paired_ratio(times, "example", k) for k in times}        # speed-up over the example
    ppl = {"example": math.exp(example_evaluate(example, valid_seq_first, criterion))}
    ppl.update({impl: evaluate(m, valid, BPTT)[1] for impl, m in ours.items()})

    labels = {"example": "word_language_model (nn.LSTM)", "fused": "rnnlab.train + RNNLM fused",
              "reference": "rnnlab.train + RNNLM reference"}
    print(f"{'training loop':32s} {'tokens/s':>10s} {'x example':>10s} {'valid ppl':>10s} "
          f"{'ppl vs example':>15s}")
    for k in steps:
        print(f"{labels[k]:32s} {speed[k]:10,.0f} {ratio[k]:10.2f} {ppl[k]:10.2f} "
              f"{100 * (ppl[k] / ppl['example'] - 1):+14.2f}%")
    fused_ok = ratio["fused"] >= 1.0 and abs(ppl["fused"] / ppl["example"] - 1) <= 0.01
    print(f"target (fused >= 1.0x, perplexity within 1%): {'met' if fused_ok else 'MISSED'}")
    report = dict(corpus=name, windows=windows, segments=len(parts), device=str(device),
                  dtype="bf16 autocast" if amp else "float32", threads=torch.get_num_threads(),
                  torch=torch.__version__, python=platform.python_version(),
                  gpu=torch.cuda.get_device_name() if device.type == "cuda" else None,
                  date=datetime.datetime.now().isoformat(timespec="seconds"),
                  tokens_per_second=speed, ratio_over_example=ratio, valid_perplexity=ppl,
                  seconds=times, target_met=fused_ok)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"bench_lm_training-{datetime.datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(report, indent=1))
    print(f"written: {os.path.relpath(path)}")
    return report


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
