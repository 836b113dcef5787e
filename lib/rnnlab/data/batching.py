"""From token lists to torch tensors: id streams, contiguous LM batches, padded batches.

Two ways to batch sequences, for two kinds of model input:

1. **Contiguous batches for truncated backpropagation through time** (language models). All
   sentences become one stream of ids (``</s>`` after each sentence); the stream is cut into
   B rows of equal length L, and the rows are read in windows of T steps:

       stream  w_0 w_1 ... w_{N-1}            rows  (B, L),  L = (N - 1) // B
       batch k: x = rows[:, kT : kT+T]        y = the same window shifted by one token

   Row b of batch k+1 continues row b of batch k, so a model may carry its hidden state from
   one batch to the next (detached) and see contexts longer than T.

2. **Padded batches** (taggers, classifiers, seq2seq): sequences of different lengths are
   padded on the right to the longest of the batch, with their ``lengths`` and a boolean
   ``mask`` (True on real tokens). Grouping sequences of similar length (``bucket_batches``)
   keeps the padding small; sorting a batch by decreasing length is what
   ``torch.nn.utils.rnn.pack_padded_sequence`` wants (``enforce_sorted=True``).

Everything is batch-first, (B, T, ...), and lands on the ``device`` asked for (CPU if None).
Vocabularies are ``rnnlab.vocab.Vocab`` (``Vocab.build(sentences, min_freq=...)``: rare
tokens become ``<unk>``); ``with_pad`` adds the ``<pad>`` token padded batches need.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch

from ..vocab import EOS, SPECIALS, Vocab

PAD = "<pad>"


def _on(tensor: torch.Tensor, device: str | torch.device | None) -> torch.Tensor:
    """``tensor`` on ``device`` (unchanged if None)."""
    return tensor if device is None else tensor.to(device)


def build_vocab(sentences: Sequence[Sequence[str]], min_freq: int = 1, max_size: int | None = None,
                pad: bool = False) -> Vocab:
    """``Vocab.build`` with, if ``pad``, a ``<pad>`` token after the three usual specials
    (``<unk>`` 0, ``<s>`` 1, ``</s>`` 2, ``<pad>`` 3)."""
    return Vocab.build(sentences, min_freq=min_freq, max_size=max_size,
                       specials=SPECIALS + ((PAD,) if pad else ()))


def encode_stream(sentences: Sequence[Sequence[str]], vocab: Vocab, eos: bool = True,
                  device: str | torch.device | None = None) -> torch.Tensor:
    """All ``sentences`` as one id stream, ``</s>`` after each if ``eos``: shape (N,), int64.
    For a character corpus pass ``[list(text)]`` and ``eos=False``."""
    ids = [vocab.encode(list(s) + ([EOS] if eos else [])) for s in sentences]
    return _on(torch.as_tensor(np.concatenate(ids) if ids else np.zeros(0, np.int64)), device)


def input_target_rows(stream: torch.Tensor, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut ``stream`` (N,) into ``batch_size`` = B rows of inputs and next-token targets:
    both (B, L) with L = (N - 1) // B; targets[b, t] is the token after inputs[b, t]
    in the stream. The last N - 1 - B L tokens are dropped."""
    length = (len(stream) - 1) // batch_size
    if length < 1:
        raise ValueError(f"a stream of {len(stream)} tokens is too short for {batch_size} rows")
    used = batch_size * length
    return stream[:used].view(batch_size, length), stream[1:used + 1].view(batch_size, length)


def lm_batches(stream: torch.Tensor, batch_size: int, bptt: int,
               device: str | torch.device | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Contiguous (x, y) windows for truncated BPTT: x, y of shape (B, T) with T = ``bptt``
    (the last window may be shorter), y[b, t] the token after x[b, t]; row b of each window
    continues row b of the previous one. ``len(list(...))`` = ceil(L / T), L = (N-1) // B."""
    inputs, targets = input_target_rows(stream, batch_size)
    for start in range(0, inputs.shape[1], bptt):
        yield _on(inputs[:, start:start + bptt], device), _on(targets[:, start:start + bptt], device)


@dataclass
class PaddedBatch:
    """A batch of sequences padded on the right.

    ``data``: (B, T_max, ...) the sequences, ``pad_value`` after each one's end;
    ``lengths``: (B,) int64 true lengths (on the CPU, as ``pack_padded_sequence`` requires);
    ``mask``: (B, T_max) bool, True where t < lengths[b];
    ``order``: (B,) int64 positions of the rows in the list given to ``pad_batch`` (the
    identity unless ``sort``): ``data[i]`` is ``sequences[order[i]]``.
    """

    data: torch.Tensor
    lengths: torch.Tensor
    mask: torch.Tensor
    order: torch.Tensor

    def to(self, device: str | torch.device) -> "PaddedBatch":
        return PaddedBatch(self.data.to(device), self.lengths, self.mask.to(device), self.order)


def pad_batch(sequences: Sequence, pad_value: float | int = 0, sort: bool = False,
              device: str | torch.device | None = None) -> PaddedBatch:
    """Pad ``sequences`` (B sequences of shape (T_i,) or (T_i, D...), lists, numpy arrays or
    tensors) to (B, T_max, D...). With ``sort``, the rows are in order of decreasing length
    (stable), ``order`` says where each came from."""
    tensors = [torch.as_tensor(np.asarray(s)) if not isinstance(s, torch.Tensor) else s for s in sequences]
    lengths = torch.tensor([len(t) for t in tensors], dtype=torch.int64)
    order = torch.arange(len(tensors))
    if sort:
        order = torch.as_tensor(np.argsort(-lengths.numpy(), kind="stable"))
        tensors, lengths = [tensors[i] for i in order], lengths[order]
    data = torch.nn.utils.rnn.pad_sequence(tensors, batch_first=True, padding_value=pad_value)
    mask = torch.arange(data.shape[1])[None, :] < lengths[:, None]
    return PaddedBatch(_on(data, device), lengths, _on(mask, device), order)


def bucket_batches(lengths: Sequence[int], batch_size: int, seed: int | None = 0) -> list[np.ndarray]:
    """Indices of the sequences in each batch, grouping sequences of similar length.

    The indices are sorted by length (ties in a seeded random order), cut into batches of
    ``batch_size``, and the batches are shuffled (seeded); ``seed=None``: no randomness, the
    batches in order of increasing length. Returns a list of int arrays, each (<= batch_size,)."""
    lengths = np.asarray(lengths)
    rng = None if seed is None else np.random.default_rng(seed)
    tiebreak = np.zeros(len(lengths)) if rng is None else rng.random(len(lengths))
    by_length = np.lexsort((tiebreak, lengths))
    batches = [by_length[i:i + batch_size] for i in range(0, len(lengths), batch_size)]
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def padded_batches(inputs: Sequence, targets: Sequence | None = None, batch_size: int = 32,
                   pad_value: int = 0, target_pad_value: int = -100, seed: int | None = 0,
                   sort: bool = True, device: str | torch.device | None = None
                   ) -> Iterator[tuple[PaddedBatch, PaddedBatch | torch.Tensor | None]]:
    """Bucketed, padded (input, target) batches.

    ``inputs``: id sequences (e.g. ``vocab.encode(tokens)``); ``targets``: per-token sequences
    of the same lengths (tags: padded with ``target_pad_value``, -100 being what
    ``cross_entropy`` ignores by default), or one label per sequence (stacked to (B,)), or None.
    Yields (PaddedBatch of inputs (B, T_max), targets); rows sorted by decreasing length when
    ``sort``, targets in the same order."""
    for idx in bucket_batches([len(s) for s in inputs], batch_size, seed):
        x = pad_batch([inputs[i] for i in idx], pad_value, sort=sort, device=device)
        rows = idx[x.order.numpy()]
        if targets is None:
            y = None
        elif np.ndim(targets[rows[0]]) == 0:
            y = _on(torch.as_tensor(np.array([targets[i] for i in rows])), device)
        else:
            y = pad_batch([targets[i] for i in rows], target_pad_value, device=device)
        yield x, y
