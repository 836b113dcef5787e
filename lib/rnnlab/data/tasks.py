"""Algorithmic sequence tasks: each isolates one thing a recurrent network must learn.

- ``parity``: per-step parity of a bit string, y_t = x_1 XOR ... XOR x_t. One bit of state
  suffices, so a 2-unit RNN can solve it (the lecture's hand-built parity network), but the
  output depends on *every* input so far: no fixed window solves it.
- ``adding_problem`` (Hochreiter & Schmidhuber 1997): a sequence of (value, marker) pairs with
  exactly two markers; the target is the sum of the two marked values. The first marker is in
  the first half, so the information must survive about T/2 steps.
- ``copy_task`` (Arjovsky et al. 2016): read K symbols, wait ``delay`` blank steps, see a
  delimiter, write the K symbols back. Memory at a controllable distance.

Every generator is seeded (same seed, same data) and returns numpy arrays with the shapes in
its docstring; ``torch.as_tensor`` turns them into tensors. The date normalisation task for
sequence-to-sequence models is in ``dates.py``; tagging and classification views of the
synthetic language are in ``toy_english.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SequenceTask:
    """``inputs`` and ``targets`` of a batch of N sequences (shapes in each generator)."""

    inputs: np.ndarray
    targets: np.ndarray

    def __len__(self) -> int:
        return len(self.inputs)


def parity(n: int, length: int, seed: int = 0) -> SequenceTask:
    """``n`` random bit strings and their running parity.

    inputs:  (n, length) int64 in {0, 1}
    targets: (n, length) int64, targets[:, t] = inputs[:, 0] XOR ... XOR inputs[:, t]
    """
    bits = np.random.default_rng(seed).integers(0, 2, size=(n, length))
    return SequenceTask(bits, np.cumsum(bits, axis=1) % 2)


def adding_problem(n: int, length: int, seed: int = 0) -> SequenceTask:
    """``n`` adding-problem sequences of ``length`` >= 2 steps.

    inputs:  (n, length, 2) float32; [:, :, 0] values uniform in [0, 1), [:, :, 1] markers,
             exactly two 1s per sequence: one in the first half, one in the second half
    targets: (n,) float32, the sum of the two marked values (mean about 1, so always
             predicting 1 gives a mean squared error of about 1/6: the baseline to beat)
    """
    if length < 2:
        raise ValueError("adding_problem needs length >= 2")
    rng = np.random.default_rng(seed)
    values = rng.random((n, length)).astype(np.float32)
    half = length // 2
    first = rng.integers(0, half, size=n)
    second = rng.integers(half, length, size=n)
    markers = np.zeros((n, length), dtype=np.float32)
    markers[np.arange(n), first] = 1.0
    markers[np.arange(n), second] = 1.0
    inputs = np.stack([values, markers], axis=-1)
    return SequenceTask(inputs, (values * markers).sum(axis=1))


COPY_BLANK = 0


def copy_task(n: int, num_symbols: int = 10, delay: int = 20, alphabet: int = 8, seed: int = 0) -> SequenceTask:
    """``n`` copy-after-delay sequences with token ids:
    0 = blank, 1..alphabet = symbols, alphabet + 1 = delimiter (so alphabet + 2 ids in all).

        inputs:  s_1 .. s_K  blank * (delay - 1)  DELIM  blank * K
        targets: blank * (K + delay)                     s_1 .. s_K

    with K = ``num_symbols``: both (n, 2K + delay) int64. Only the last K targets carry
    information. The memoryless baseline (blank until the delimiter, then a uniform guess
    among the symbols) has cross-entropy K ln(alphabet) / (2K + delay) nats per step.
    """
    if delay < 1:
        raise ValueError("copy_task needs delay >= 1 (the delimiter takes one step)")
    rng = np.random.default_rng(seed)
    k, total = num_symbols, 2 * num_symbols + delay
    symbols = rng.integers(1, alphabet + 1, size=(n, k))
    inputs = np.full((n, total), COPY_BLANK, dtype=np.int64)
    targets = np.full((n, total), COPY_BLANK, dtype=np.int64)
    inputs[:, :k] = symbols
    inputs[:, k + delay - 1] = alphabet + 1
    targets[:, k + delay:] = symbols
    return SequenceTask(inputs, targets)
