"""Batching: id streams, contiguous LM batches for truncated BPTT, padded and bucketed batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnlab.data import (PAD, bucket_batches, build_vocab, encode_stream, input_target_rows,
                         lm_batches, pad_batch, padded_batches)
from rnnlab.vocab import EOS, UNK


def test_build_vocab_min_freq_unk_and_pad():
    sents = [["a", "b", "a"], ["a", "c", "b"]]
    v = build_vocab(sents, min_freq=2, pad=True)
    assert v.itos == [UNK, "<s>", EOS, PAD, "a", "b"]
    assert v.encode(["a", "c"]).tolist() == [4, 0]
    assert PAD not in build_vocab(sents)


def test_encode_stream_puts_eos_after_every_sentence():
    v = build_vocab([["x", "y"]])
    stream = encode_stream([["x", "y"], ["y"]], v)
    assert stream.dtype == torch.int64
    assert v.decode(stream.tolist()) == ["x", "y", EOS, "y", EOS]
    assert encode_stream([list("xy")], v, eos=False).tolist() == v.encode(["x", "y"]).tolist()


def test_lm_batches_are_contiguous_rows_with_shifted_targets():
    stream = torch.arange(103)
    B, T = 4, 7
    batches = list(lm_batches(stream, B, T))
    L = (103 - 1) // B  # 25
    assert len(batches) == -(-L // T)
    assert [x.shape for x, _ in batches] == [(B, T)] * 3 + [(B, L - 3 * T)]
    xs = torch.cat([x for x, _ in batches], dim=1)
    ys = torch.cat([y for _, y in batches], dim=1)
    # row b is the b-th contiguous slice of the stream, and y is x shifted by one
    assert torch.equal(xs, stream[: B * L].view(B, L))
    assert torch.equal(ys, xs + 1)
    for (x0, _), (x1, _) in zip(batches, batches[1:]):
        assert torch.equal(x1[:, 0], x0[:, -1] + 1)  # row b continues where it stopped


def test_input_target_rows_rejects_a_stream_too_short():
    with pytest.raises(ValueError, match="too short"):
        input_target_rows(torch.arange(3), 4)


def test_pad_batch_lengths_mask_and_sorting():
    seqs = [[1, 2], [3, 4, 5, 6], [7], [8, 9, 10]]
    b = pad_batch(seqs, pad_value=-1)
    assert b.data.tolist() == [[1, 2, -1, -1], [3, 4, 5, 6], [7, -1, -1, -1], [8, 9, 10, -1]]
    assert b.lengths.tolist() == [2, 4, 1, 3]
    assert torch.equal(b.mask, b.data != -1)
    s = pad_batch(seqs, sort=True)
    assert s.lengths.tolist() == [4, 3, 2, 1] and s.order.tolist() == [1, 3, 0, 2]
    for row, i in zip(s.data, s.order):
        assert row[: len(seqs[i])].tolist() == seqs[i]
    packed = torch.nn.utils.rnn.pack_padded_sequence(s.data[..., None].float(), s.lengths, batch_first=True)
    assert packed.data.shape[0] == 10


def test_pad_batch_keeps_feature_dimensions():
    b = pad_batch([np.ones((3, 2)), np.ones((1, 2))])
    assert b.data.shape == (2, 3, 2) and b.data[1, 1:].abs().sum() == 0


def test_bucket_batches_cover_everything_once_and_group_lengths():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 50, size=203)
    batches = bucket_batches(lengths, 16, seed=1)
    assert sorted(np.concatenate(batches).tolist()) == list(range(203))
    assert all(len(b) <= 16 for b in batches)
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    random_spread = np.mean([np.ptp(lengths[rng.permutation(203)[:16]]) for _ in range(20)])
    assert spread < random_spread / 4
    assert [b.tolist() for b in bucket_batches(lengths, 16, seed=1)] == [b.tolist() for b in batches]
    ordered = bucket_batches(lengths, 16, seed=None)
    assert lengths[ordered[0]].max() <= lengths[ordered[-1]].min()


def test_padded_batches_align_inputs_with_tags_and_labels():
    inputs = [np.arange(n) for n in (3, 1, 4, 2, 5)]
    tags = [np.arange(n) * 10 for n in (3, 1, 4, 2, 5)]
    seen = 0
    for x, y in padded_batches(inputs, tags, batch_size=2, seed=0):
        assert x.data.shape == y.data.shape
        assert torch.equal(torch.where(x.mask, x.data * 10, torch.full_like(x.data, -100)), y.data)
        assert (x.lengths[:-1] >= x.lengths[1:]).all()
        seen += len(x.lengths)
    assert seen == 5
    labels = [len(s) for s in inputs]
    for x, y in padded_batches(inputs, labels, batch_size=2, seed=0):
        assert torch.equal(y, x.lengths)
