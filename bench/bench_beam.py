"""Batched beam search against beam search one source at a time, side by side (``make bench``).

The model: chapter 07's date normaliser (``rnnlab.seq2seq.Seq2Seq``, GRU, Bahdanau attention,
hidden size 64), seeded and trained for one short epoch so that its hypotheses end with
``</s>`` as a trained model's do. The inputs: 64 held-out dates. The same code,
``rnnlab.decoding.beam_search`` with beam 5, decodes them as one batch of 64, and one at a
time (64 calls on a batch of 1), which is what a user without a batched search would do.

Times are medians of interleaved rounds (each round runs both, in alternating order, after a
warm-up); the ratio is the median over rounds of the per-round ratio, so that load drifting
between rounds (a shared machine) cancels. The outputs of both are checked to be the same.
Run: ``python bench/bench_beam.py [--rounds 7] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from rnnlab import decoding, seq2seq
from rnnlab.data import date_pairs, pad_batch
from rnnlab.timing import paired_ratio, time_interleaved

BATCH, BEAM, MAX_LENGTH = 64, 5, 12


def trained_dates_model(train_pairs: int, seed: int = 0):
    """A seeded Bahdanau date normaliser after one epoch, its source vocabulary, and 64 held-out
    sources as id arrays."""
    pairs = [(list(s), list(t)) for s, t in date_pairs(train_pairs, seed=seed)]
    src_vocab, tgt_vocab = seq2seq.build_vocabs(pairs)
    torch.manual_seed(seed)
    model = seq2seq.Seq2Seq(len(src_vocab), len(tgt_vocab), 32, 64, attention="bahdanau")
    start = time.perf_counter()
    seq2seq.train_seq2seq(model, seq2seq.encode_pairs(pairs, src_vocab, tgt_vocab), epochs=1, lr=5e-3,
                          seed=seed, progress=False)
    print(f"trained one epoch on {train_pairs} dates in {time.perf_counter() - start:.1f} s")
    held_out = [src_vocab.encode(list(s)) for s, _ in date_pairs(BATCH, seed=seed + 1)]
    return model.eval(), held_out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (small matrices: 1)")
    parser.add_argument("--train-pairs", type=int, default=2000)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, sources = trained_dates_model(args.train_pairs)
    batch = pad_batch(sources, model.pad_id)
    singles = [(torch.as_tensor(s)[None], torch.tensor([len(s)])) for s in sources]

    def batched():
        return decoding.beam_search(model, batch.data, batch.lengths, BEAM, MAX_LENGTH).best()

    def one_at_a_time():
        return [decoding.beam_search(model, src, lengths, BEAM, MAX_LENGTH).best()[0] for src, lengths in singles]

    same = batched() == one_at_a_time()
    times = time_interleaved({"batched": batched, "one at a time": one_at_a_time}, args.rounds, "cpu")
    ratio = paired_ratio(times, "one at a time", "batched")
    print(f"beam search, beam {BEAM}, {BATCH} dates, max length {MAX_LENGTH}, {args.threads} thread(s), "
          f"{args.rounds} rounds; same outputs: {same}")
    print(f"{'':>15} {'median s':>9} {'sources/s':>10}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:>15} {median:9.3f} {BATCH / median:10.0f}")
    print(f"throughput ratio batched / one at a time: {ratio:.1f}x (target >= 10x)")
    if not same:
        raise SystemExit("the batched search and the one-at-a-time search disagree")


if __name__ == "__main__":
    main()
