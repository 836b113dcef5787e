r"""Word representations (chapter 02): one-hot vectors, the embedding lookup, and tools to look
at learned embeddings.

A word with id :math:`i` in a vocabulary of :math:`V` words is the one-hot vector
:math:`x = e_i \in \{0, 1\}^V`. Multiplying it by an embedding matrix :math:`E \in
\mathbb{R}^{V \times d}` selects row :math:`i`: :math:`x^\top E = E_i`. So an embedding layer is
a linear layer without bias applied to one-hot inputs, and ``nn.Embedding`` is that product
done by indexing (same values, same gradient, no V-sized vectors built).

Learned embeddings are inspected by their nearest neighbours (cosine similarity) and by a 2-D
projection onto their first two principal components.

Not here: the models that learn embeddings (``rnnlab.models``, ``rnnlab.window_lm``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .vocab import Vocab


def one_hot(ids: Tensor, vocab_size: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """One-hot vectors of token ids: ids (B, T) int64 -> (B, T, vocab_size) of ``dtype``, with
    out[b, t, ids[b, t]] = 1 and 0 elsewhere (works for ids of any shape (...))."""
    out = torch.zeros(*ids.shape, vocab_size, dtype=dtype, device=ids.device)
    return out.scatter_(-1, ids.unsqueeze(-1), 1)


def embed(ids: Tensor, E: Tensor) -> Tensor:
    r"""Embedding lookup as a matrix product, :math:`\mathrm{onehot}(w)^\top E = E_w`:
    ids (B, T) int64, E (V, d) -> (B, T, d), in E's dtype; equal to ``nn.Embedding`` with
    weight E, values and gradient."""
    return one_hot(ids, E.shape[0], E.dtype) @ E


def cosine_similarities(E: Tensor | np.ndarray, i: int) -> np.ndarray:
    r"""Cosine similarity of row ``i`` of E (V, d) with every row, (V,):
    :math:`\cos(E_i, E_j) = E_i \cdot E_j / (\lVert E_i \rVert \lVert E_j \rVert)`."""
    E = E.detach().cpu().double().numpy() if isinstance(E, Tensor) else np.asarray(E, float)
    unit = E / np.maximum(np.linalg.norm(E, axis=1, keepdims=True), 1e-12)
    return unit @ unit[i]


def nearest_neighbours(E: Tensor | np.ndarray, vocab: Vocab, word: str, k: int = 5,
                       skip: tuple[str, ...] = ()) -> list[tuple[str, float]]:
    """The ``k`` words whose embeddings (rows of E (V, d), in ``vocab``'s order) are most
    cosine-similar to ``word``'s, as [(word, similarity)], the word itself and ``skip`` left out."""
    sims = cosine_similarities(E, vocab.stoi[word])
    out = []
    for j in np.argsort(-sims, kind="stable"):
        if vocab.itos[j] != word and vocab.itos[j] not in skip:
            out.append((vocab.itos[j], float(sims[j])))
        if len(out) == k:
            break
    return out


def pca_2d(E: Tensor | np.ndarray) -> np.ndarray:
    """Rows of E (N, d) projected onto their first two principal components: (N, 2). The signs
    are fixed (largest coordinate of each component positive), so a plot is reproducible."""
    E = E.detach().cpu().double().numpy() if isinstance(E, Tensor) else np.asarray(E, float)
    centred = E - E.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    components = vt[:2] * np.sign(vt[:2][np.arange(2), np.abs(vt[:2]).argmax(1)])[:, None]
    return centred @ components.T
