"""A vocabulary: the mapping between tokens and integer ids that every model of the course uses.

Three special tokens are always present, with fixed ids:

- ``<unk>`` (id 0) stands for every token not in the vocabulary,
- ``<s>``  (id 1) pads the left of a sentence so that its first words have a full context,
- ``</s>`` (id 2) ends a sentence; a language model must predict it, so it is counted
  in perplexity like any other token.

Further special tokens (``<pad>`` for padded batches) are added by the code that needs them.
Ordinary tokens follow in order of decreasing frequency, ties broken alphabetically, so the
same corpus always gives the same ids.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

import numpy as np

UNK, BOS, EOS = "<unk>", "<s>", "</s>"
SPECIALS = (UNK, BOS, EOS)


class Vocab:
    """Token <-> id mapping.

    >>> v = Vocab.build([["the", "cat"], ["the", "mat"]])
    >>> v.encode(["the", "dog"])
    array([3, 0])
    >>> len(v)   # <unk> <s> </s> the cat mat
    6
    """

    def __init__(self, tokens: Sequence[str], specials: Sequence[str] = SPECIALS):
        self.itos: list[str] = list(specials) + [t for t in tokens if t not in specials]
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("Vocab: duplicate tokens")
        self.unk_id = self.stoi.get(UNK, -1)
        self.bos_id = self.stoi.get(BOS, -1)
        self.eos_id = self.stoi.get(EOS, -1)

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], min_freq: int = 1,
              max_size: int | None = None, specials: Sequence[str] = SPECIALS) -> "Vocab":
        """Vocabulary of the tokens that occur at least ``min_freq`` times in ``sentences``
        (an iterable of token lists), most frequent first, at most ``max_size`` of them."""
        counts = Counter(t for s in sentences for t in s)
        kept = sorted((t for t, c in counts.items() if c >= min_freq and t not in specials),
                      key=lambda t: (-counts[t], t))
        if max_size is not None:
            kept = kept[:max_size]
        return cls(kept, specials)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __getitem__(self, token: str) -> int:
        return self.stoi.get(token, self.unk_id)

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """Ids of ``tokens`` (unknown tokens -> ``<unk>``), as an int64 array of shape (len(tokens),)."""
        get, unk = self.stoi.get, self.unk_id
        return np.fromiter((get(t, unk) for t in tokens), dtype=np.int64, count=len(tokens))

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens of ``ids``."""
        return [self.itos[int(i)] for i in ids]

    def __repr__(self) -> str:
        return f"Vocab({len(self)} tokens: {' '.join(self.itos[:8])}{' ...' if len(self) > 8 else ''})"
