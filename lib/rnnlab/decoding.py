r"""Decoding an encoder-decoder model: batched greedy search and batched beam search (chapter 07).

Both search for a likely output :math:`\hat y = \arg\max_y \mathrm{score}(y \mid x)`, one token
at a time, for a whole batch of sources at once. They need only the model's step interface
(``rnnlab.seq2seq.Seq2Seq`` has it): ``encode(src, src_lengths) -> (source, state)``,
``step(tokens (N,), state, source) -> (logits (N, V), state, weights)``, ``source.select(rows)``
and ``state.select(rows)`` (the rows of a batch, repeated rows allowed), and the ids
``bos_id``, ``eos_id``, ``pad_id``.

**Greedy**: :math:`\hat y_t = \arg\max_v \ln P(v \mid \hat y_{<t}, x)`, each sequence stopping at
its own ``</s>`` (or after ``max_length`` tokens).

**Beam search** keeps, per source, the k = ``beam_size`` best *live* prefixes (not ended) and
the k best *finished* hypotheses:

- scores are sums of log-probabilities, :math:`s(y_{\le t}) = \sum_{i \le t} \ln P(y_i \mid
  y_{<i}, x)` (products of probabilities underflow); ``<s>`` and ``<pad>`` are never emitted
  (log-probability -inf, in greedy search too);
- a step scores every extension of every live prefix, k x |V| candidates, and takes the best
  with one top-k over the flattened (k |V|) axis: candidate j extends beam ``j // |V|``
  (integer, floor division) with token ``j % |V|``;
- the first step extends one live beam, the empty prefix ``<s>``, not k copies of it (which
  would fill the beam with k copies of the same hypothesis);
- among the k best candidates, those ending in ``</s>`` are *finished*: they join the
  finished set and are never extended; the live beam is refilled with the k best candidates
  that do not end (of the best 2k there are always k: at most one ``</s>`` per beam);
- the finished are ranked by the length-normalised score :math:`s(y) / L^\alpha`, ``alpha`` =
  :math:`\alpha \ge 0` (0: the raw log-probability, which favours short outputs), where
  **L counts the tokens of y, ``</s>`` included** (L >= 1, as fairseq counts it). After
  ``max_length`` tokens every live hypothesis is finished as it is, without ``</s>``;
- the search stops, source by source, only when no live hypothesis can still beat the worst of
  the k finished ones. Log-probabilities are <= 0, so a live prefix with score s (< 0) can only
  end with a raw score s' <= s and a length L <= ``max_length``, whence the **bound**

  .. math::
      \frac{s'}{L^\alpha} \le \frac{s}{L^\alpha} \le \frac{s}{L_{max}^\alpha}
      \qquad (\alpha \ge 0,\; s \le 0):

  dividing a negative score by a larger :math:`L^\alpha` *raises* it, so the bound is at the
  longest length :math:`L_{max}` = ``max_length``, not the current one. For alpha = 0 it is s
  itself. Stopping as soon as the best candidate ends gives the right best hypothesis for
  alpha = 0 (scores only fall), but not the k best, and with alpha > 0 a longer hypothesis
  can still overtake it.

With k = 1 and alpha = 0, beam search is greedy search exactly (with alpha > 0 it may go on
after greedy's ``</s>``, since a longer output may score better). With a beam wide enough to
keep every candidate, it returns the best sequence of all under its score (the tests
enumerate them).

Everything is batch-first; both return ``Hypotheses`` (K = 1 for greedy).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from .data.batching import bucket_batches, pad_batch


@dataclass
class Hypotheses:
    """K output sequences per source, best first.

    ``tokens`` (B, K, T) ids, ``pad_id`` after each sequence's end; ``lengths`` (B, K) the
    number of tokens of each, ``</s>`` included where it was emitted; ``log_probs`` (B, K)
    :math:`\\ln P(y \\mid x)` of those tokens; ``scores`` (B, K) what the search ranked them by,
    ``log_probs / lengths ** alpha`` (the log-probabilities for greedy search and alpha = 0).
    A slot beam search could not fill (fewer than K possible outputs) has score -inf and length 0."""

    tokens: Tensor
    lengths: Tensor
    log_probs: Tensor
    scores: Tensor
    eos_id: int

    def best(self) -> list[list[int]]:
        """The best output of each source as a list of ids, without ``</s>``."""
        out = []
        for tokens, length in zip(self.tokens[:, 0].tolist(), self.lengths[:, 0].tolist()):
            out.append(tokens[:length - 1] if length and tokens[length - 1] == self.eos_id else tokens[:length])
        return out


def _output_log_probs(model, logits: Tensor) -> Tensor:
    """ln P(v | y_<t, x) of every token v: logits (N, V) -> (N, V), with -inf for ``<s>`` and
    ``<pad>``, which the decoder reads but never emits."""
    log_probs = torch.log_softmax(logits, -1)
    log_probs[:, [model.bos_id, model.pad_id]] = float("-inf")
    return log_probs


@torch.no_grad()
def greedy_decode(model, src: Tensor, src_lengths: Tensor, max_length: int = 20) -> Hypotheses:
    """Greedy search for a batch: src (B, S), src_lengths (B,) -> Hypotheses with K = 1, at most
    ``max_length`` tokens each. A sequence that emitted ``</s>`` is padded from then on (it
    feeds ``pad_id`` to the model, whose outputs are ignored); the loop ends when all have."""
    source, state = model.encode(src, src_lengths)
    B = src.shape[0]
    token = src.new_full((B,), model.bos_id)
    finished = torch.zeros(B, dtype=torch.bool, device=src.device)
    log_prob = source.keys.new_zeros(B)
    lengths = torch.zeros(B, dtype=torch.long, device=src.device)
    tokens = []
    for _ in range(max_length):
        logits, state, _ = model.step(token, state, source)
        best, token = _output_log_probs(model, logits).max(-1)       # y_t = argmax ln P(v | y_<t, x)
        token = token.masked_fill(finished, model.pad_id)             # nothing after </s>
        log_prob += best.masked_fill(finished, 0.0)
        lengths += ~finished
        tokens.append(token)
        finished |= token == model.eos_id
        if finished.all():
            break
    tokens = torch.stack(tokens, 1)[:, None]                          # (B, 1, T)
    return Hypotheses(tokens, lengths[:, None], log_prob[:, None], log_prob[:, None].clone(),
                      model.eos_id)


def _beam_and_token(candidate: Tensor, vocab_size: int) -> tuple[Tensor, Tensor]:
    """Candidate j of the flattened (beams x V) grid extends beam j // V with token j % V
    (integer floor division: true division would give a fraction, not a beam)."""
    return candidate // vocab_size, candidate % vocab_size


def _finishes(word: Tensor, eos_id: int, length: int, max_length: int) -> Tensor:
    """Which candidates finish: those that end with ``</s>``, and all of them once they have
    ``max_length`` tokens. A finished hypothesis is never extended."""
    return (word == eos_id) | (length == max_length)


def _search_is_over(live_scores: Tensor, finished_scores: Tensor, max_length: int,
                    alpha: float) -> Tensor:
    """(B,) True where no live hypothesis can beat the worst finished one: live_scores (B, k)
    raw log-probabilities (-inf: no hypothesis), finished_scores (B, k) normalised, best first
    (-inf: an empty slot, so the search goes on until k have finished). The best normalised
    score a live prefix of raw score s <= 0 can end with is s / max_length ** alpha."""
    bound = live_scores.max(1).values / max_length ** alpha
    return bound <= finished_scores[:, -1]


@torch.no_grad()
def beam_search(model, src: Tensor, src_lengths: Tensor, beam_size: int = 5, max_length: int = 20,
                alpha: float = 0.0) -> Hypotheses:
    """Batched beam search (see the module docstring): src (B, S), src_lengths (B,) ->
    Hypotheses with K = ``beam_size`` finished hypotheses per source, best first under
    ``log_prob / length ** alpha`` (length with ``</s>``), each at most ``max_length`` tokens."""
    if beam_size < 1 or max_length < 1 or alpha < 0:
        raise ValueError(f"need beam_size >= 1, max_length >= 1, alpha >= 0; got {beam_size}, "
                         f"{max_length}, {alpha}")
    k, B, device = beam_size, src.shape[0], src.device
    source, state = model.encode(src, src_lengths)
    batch = torch.arange(B, device=device)
    # Live prefixes: one per source (the empty prefix after <s>) before the first step, k after.
    live_scores = source.keys.new_zeros(B, 1)                         # raw log-probabilities
    live_tokens = src.new_zeros(B, 1, 0)                              # (B, n, t)
    token = src.new_full((B,), model.bos_id)                          # what each live row reads next
    # Finished hypotheses, k per source, best first; score -inf marks an empty slot.
    finished_scores = source.keys.new_full((B, k), float("-inf"))     # normalised
    finished_log_probs = finished_scores.clone()                      # raw
    finished_lengths = src.new_zeros(B, k)
    finished_tokens = src.new_full((B, k, max_length), model.pad_id)
    rank = torch.arange(2 * k, device=device)
    for t in range(max_length):
        length = t + 1                                                # tokens of a candidate
        logits, state, _ = model.step(token, state, source)           # (B n, V)
        log_probs = _output_log_probs(model, logits)
        n, V = live_scores.shape[1], log_probs.shape[-1]
        candidates = live_scores[:, :, None] + log_probs.view(B, n, V)    # s(y_<t) + ln P(v | ...)
        top, flat = candidates.view(B, n * V).topk(min(2 * k, n * V), dim=1)   # best first
        if top.shape[1] < 2 * k:                                      # a first step with V < 2k
            top = torch.cat([top, top.new_full((B, 2 * k - top.shape[1]), float("-inf"))], 1)
            flat = torch.cat([flat, flat.new_zeros(B, 2 * k - flat.shape[1])], 1)
        beam, word = _beam_and_token(flat, V)                         # (B, 2k) each
        prefixes = live_tokens.gather(1, beam[:, :, None].expand(-1, -1, t))
        sequences = torch.cat([prefixes, word[:, :, None]], 2)        # (B, 2k, t + 1)
        valid = top > float("-inf")

        # The k best candidates form the beam; those that end (</s>, or max_length reached) finish.
        ends = _finishes(word, model.eos_id, length, max_length)
        finishing = valid & ends & (rank < k)
        pooled = torch.cat([finished_scores, (top / length ** alpha).masked_fill(~finishing, float("-inf"))], 1)
        finished_scores, pick = pooled.topk(k, dim=1)                 # the k best finished so far
        finished_log_probs = torch.cat([finished_log_probs, top], 1).gather(1, pick)
        finished_lengths = torch.cat([finished_lengths, finished_lengths.new_full((B, 2 * k), length)],
                                     1).gather(1, pick)
        padded = torch.cat([sequences, sequences.new_full((B, 2 * k, max_length - length), model.pad_id)], 2)
        finished_tokens = torch.cat([finished_tokens, padded], 1).gather(
            1, pick[:, :, None].expand(-1, -1, max_length))
        if length == max_length:
            break

        # The live beam: the k best candidates that do not end, best first.
        continuing = valid & ~ends
        keep = (rank + 2 * k * ~continuing).topk(k, largest=False).indices   # continuing first
        live_scores = top.gather(1, keep).masked_fill(~continuing.gather(1, keep), float("-inf"))
        live_tokens = sequences.gather(1, keep[:, :, None].expand(-1, -1, length))
        state = state.select((batch[:, None] * n + beam.gather(1, keep)).flatten())
        if t == 0:
            source = source.select(batch.repeat_interleave(k))        # one copy per beam, once
        over = _search_is_over(live_scores, finished_scores, max_length, alpha)
        live_scores = live_scores.masked_fill(over[:, None], float("-inf"))   # nothing more to do
        if over.all():
            break
        token = live_tokens[:, :, -1].masked_fill(live_scores == float("-inf"), model.pad_id).flatten()
    empty = finished_scores == float("-inf")                          # slots no hypothesis reached
    finished_lengths = finished_lengths.masked_fill(empty, 0)
    longest = max(int(finished_lengths.max()), 1)
    return Hypotheses(finished_tokens[:, :, :longest].masked_fill(empty[:, :, None], model.pad_id),
                      finished_lengths, finished_log_probs.masked_fill(empty, float("-inf")),
                      finished_scores, model.eos_id)


@torch.no_grad()
def predict(model, sources: Sequence[np.ndarray], search: Callable = greedy_decode,
            batch_size: int = 256, **options) -> list[list[int]]:
    """The best output ids (without ``</s>``) of every source (a list of id arrays), in order:
    ``search(model, src, src_lengths, **options)`` (``greedy_decode`` or ``beam_search`` with
    e.g. ``beam_size=5, alpha=0.7, max_length=20``) on batches of similar lengths."""
    model.eval()
    device = next(model.parameters()).device
    out: list[list[int]] = [[] for _ in sources]
    for rows in bucket_batches([len(s) for s in sources], batch_size, seed=None):
        batch = pad_batch([sources[i] for i in rows], model.pad_id, device=device)
        for i, ids in zip(rows, search(model, batch.data, batch.lengths, **options).best()):
            out[i] = ids
    return out
