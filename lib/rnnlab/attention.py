r"""Attention over an encoder's outputs, as published, and attention scored against a gold alignment
(chapter 07).

A decoder that reads the source only through the encoder's final state has a fixed-size
bottleneck. Attention lets every decoder step read a weighted average of all encoder outputs
:math:`h_1 \dots h_S` (the *keys*, which are also the values here):

.. math::
    \alpha_{j} = \frac{\exp e_{j}}{\sum_{j'} \exp e_{j'}}, \qquad c = \sum_j \alpha_{j} h_j,

with the score :math:`e_j` computed from a *query*, a decoder state. The two classic forms differ
in the score and in which decoder state is the query:

- ``BahdanauAttention`` (Bahdanau, Cho & Bengio 2015, "additive"): :math:`e_{ij} = v^\top
  \tanh(W s_{i-1} + U h_j)`. The query is the *previous* decoder state :math:`s_{i-1}`; the
  context :math:`c_i` is then an input of the step that computes :math:`s_i`.
- ``LuongAttention`` (Luong, Pham & Manning 2015, "multiplicative"): :math:`e_{ts} = h_t^\top
  \bar h_s` ("dot") or :math:`h_t^\top W_a \bar h_s` ("general"). The query is the *current*
  top decoder state :math:`h_t`, computed first; the context then makes the attentional state
  :math:`\tilde h_t = \tanh(W_c [c_t; h_t])` that the output layer reads (``rnnlab.seq2seq``).

Padded source positions must get no weight: ``masked_softmax`` gives them exactly 0 and, when a
whole row is padding, returns zeros instead of NaN.

Attention can be *scored* where the gold alignment is known (``rnnlab.data.translation``):
``gold_attention_mass`` is the mean weight on the source word each target word comes from,
``alignment_error_rate`` the AER of Och & Ney (2003) of the argmax alignment.

Shapes are batch-first: query (B, D_q), keys (B, S, D_k), mask (B, S) with True on real source
positions (``PaddedBatch.mask``), weights (B, S), context (B, D_k).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

LUONG_SCORES = ("dot", "general")


def masked_softmax(scores: Tensor, mask: Tensor) -> Tensor:
    r"""Softmax over the last dimension restricted to ``mask``:
    :math:`\alpha_j = [m_j] e^{s_j} / \sum_{j'} [m_{j'}] e^{s_{j'}}`.

    scores (..., S) float, mask (..., S) bool (True: keep) -> weights (..., S). Weights are
    exactly 0 where the mask is False; a row with no True at all gets all zeros (never NaN, in
    the forward or the backward pass)."""
    lowest = torch.finfo(scores.dtype).min
    scores = scores.masked_fill(~mask, lowest)       # a finite floor: exp(lowest - max) = 0
    weights = torch.softmax(scores, dim=-1)          # an all-masked row is uniform here ...
    return weights.masked_fill(~mask, 0.0)           # ... and zero here, like every padded position


def _additive_energies(query_part: Tensor, key_part: Tensor, v: nn.Linear) -> Tensor:
    r"""The energies :math:`e_{ij} = v^\top \tanh(W s_{i-1} + U h_j)` of every source position j:
    query_part :math:`W s_{i-1}` (B, A), key_part :math:`U h_j` (B, S, A) -> (B, S).

    Evaluated through :math:`\tanh x = 2 \sigma(2x) - 1`, that is
    :math:`e_{ij} = 2 v^\top \sigma(2 W s_{i-1} + 2 U h_j) - \sum_a v_a`: the same numbers, in
    two passes over the (B, S, A) tensor (the largest of a decoder step) instead of six, and
    without torch's CPU tanh, several times slower than its sigmoid. A beam of 5 over 64 dates
    spends most of its time here."""
    squashed = torch.add(2 * query_part[:, None, :], key_part, alpha=2).sigmoid_()   # sigma(2 (W s + U h_j))
    return 2 * v(squashed).squeeze(-1) - v.weight.sum()


class BahdanauAttention(nn.Module):
    r"""Additive attention (Bahdanau et al. 2015, eq. 6 and appendix A.1.2):

    .. math::
        e_{ij} = v^\top \tanh(W s_{i-1} + U h_j), \qquad
        \alpha_{ij} = \mathrm{softmax}_j(e_{ij}), \qquad c_i = \sum_j \alpha_{ij} h_j.

    Parameters: ``W`` (A, D_q) without bias, ``U`` (A, D_k) with bias (the score's only bias),
    ``v`` (1, A) without bias; A = ``attention_size``.

    ``project_keys(keys (B, S, D_k)) -> (B, S, A)``: :math:`U h_j` for every j, which does not
    depend on the query, so a decoder computes it once per source sentence.
    ``forward(query (B, D_q), keys (B, S, D_k), mask (B, S), projected_keys (B, S, A) or None)
    -> (context (B, D_k), weights (B, S))``. The query is the decoder's *previous* state
    :math:`s_{i-1}` (its top layer)."""

    def __init__(self, query_size: int, key_size: int, attention_size: int):
        super().__init__()
        self.W = nn.Linear(query_size, attention_size, bias=False)
        self.U = nn.Linear(key_size, attention_size)
        self.v = nn.Linear(attention_size, 1, bias=False)

    def project_keys(self, keys: Tensor) -> Tensor:
        return self.U(keys)                                                  # U h_j: (B, S, A)

    def forward(self, query: Tensor, keys: Tensor, mask: Tensor,
                projected_keys: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if projected_keys is None:
            projected_keys = self.project_keys(keys)
        energies = _additive_energies(self.W(query), projected_keys, self.v)   # e_ij: (B, S)
        weights = masked_softmax(energies, mask)                             # alpha_ij: (B, S)
        context = torch.bmm(weights[:, None, :], keys).squeeze(1)            # c_i: (B, D_k)
        return context, weights


class LuongAttention(nn.Module):
    r"""Multiplicative attention (Luong et al. 2015, eq. 8), with the current decoder state as query:

    .. math::
        \mathrm{score}(h_t, \bar h_s) = h_t^\top \bar h_s \;\; (\text{dot}), \qquad
        h_t^\top W_a \bar h_s \;\; (\text{general}), \qquad
        a_t = \mathrm{softmax}_s(\mathrm{score}), \qquad c_t = \sum_s a_{ts} \bar h_s.

    ``score="dot"`` has no parameters and needs D_q = D_k; ``"general"`` has ``W_a`` (D_q, D_k)
    without bias. The attentional state :math:`\tilde h_t = \tanh(W_c [c_t; h_t])` belongs to
    the decoder (``rnnlab.seq2seq.Decoder``), not to the attention.

    ``project_keys(keys (B, S, D_k)) -> (B, S, D_q)``: :math:`W_a \bar h_s` ("general") or the
    keys themselves ("dot"), computed once per source sentence.
    ``forward(query (B, D_q), keys (B, S, D_k), mask (B, S), projected_keys or None)
    -> (context (B, D_k), weights (B, S))``; or the queries of T steps at once, query
    (B, T, D_q) -> context (B, T, D_k), weights (B, T, S) (a decoder without input feeding
    computes all its states before attending)."""

    def __init__(self, query_size: int, key_size: int, score: str = "general"):
        super().__init__()
        if score not in LUONG_SCORES:
            raise ValueError(f"score must be one of {LUONG_SCORES}, got {score!r}")
        if score == "dot" and query_size != key_size:
            raise ValueError(f"dot attention needs query_size == key_size, got {query_size} != {key_size}")
        self.score = score
        self.W_a = nn.Linear(key_size, query_size, bias=False) if score == "general" else None

    def project_keys(self, keys: Tensor) -> Tensor:
        return keys if self.W_a is None else self.W_a(keys)                  # W_a h_s: (B, S, D_q)

    def forward(self, query: Tensor, keys: Tensor, mask: Tensor,
                projected_keys: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if projected_keys is None:
            projected_keys = self.project_keys(keys)
        steps = query if query.dim() == 3 else query[:, None, :]            # (B, T, D_q)
        scores = torch.bmm(steps, projected_keys.transpose(1, 2))            # h_t^T W_a h_s: (B, T, S)
        weights = masked_softmax(scores, mask[:, None, :])                   # a_t: (B, T, S)
        context = torch.bmm(weights, keys)                                   # c_t: (B, T, D_k)
        if query.dim() == 2:
            return context[:, 0], weights[:, 0]
        return context, weights


def _gold_rows(weights: Tensor | Sequence[Tensor], alignments: Sequence[Sequence[int]]):
    """For each sentence b: (its weight rows (T_b, S_b) of the target words with a gold source
    word, float64; their gold source positions (T_b,)), T_b = len(alignments[b])."""
    for b, alignment in enumerate(alignments):
        rows = torch.as_tensor(weights[b])[: len(alignment)].double()
        yield rows, torch.as_tensor(alignment, dtype=torch.long)


def gold_attention_mass(weights: Tensor | Sequence[Tensor], alignments: Sequence[Sequence[int]]) -> float:
    r"""Mean attention weight on the gold source word: :math:`\frac{1}{N} \sum_{b,t}
    \alpha_{b,t,a_b(t)}`, over the N target words of all sentences, :math:`a_b(t)` being the
    source position target word t of sentence b comes from. 1 for an attention that looks only
    at the right word, about 1/S for a uniform one.

    weights: (B, T, S) or a list of (T_b, S_b) matrices (row t: the decoder step that emits
    target word t); alignments: B lists, ``alignments[b][t]`` the gold source position of
    target word t (rows past ``len(alignments[b])``, e.g. ``</s>``'s, are not scored)."""
    mass = [rows.gather(1, gold[:, None]).squeeze(1) for rows, gold in _gold_rows(weights, alignments)]
    return torch.cat(mass).mean().item()


def alignment_error_rate(weights: Tensor | Sequence[Tensor], alignments: Sequence[Sequence[int]]) -> float:
    r"""Alignment error rate (Och & Ney 2003) of the hard alignment that links each target word
    to its most attended source word, :math:`A = \{(t, \arg\max_j \alpha_{tj})\}`, against the
    gold links S (all of them sure, so the possible links P = S):

    .. math::
        \mathrm{AER} = 1 - \frac{|A \cap S| + |A \cap P|}{|A| + |S|}
                     = 1 - \frac{|A \cap S|}{|S|} \quad (|A| = |S|, \; P = S).

    0 when every argmax is the gold word, 1 when none is. Arguments as ``gold_attention_mass``."""
    hits = links = 0
    for rows, gold in _gold_rows(weights, alignments):
        hits += int((rows.argmax(1) == gold).sum())      # |A n S|
        links += len(gold)                               # |S| = |A|: one link per target word
    return 1.0 - hits / links
