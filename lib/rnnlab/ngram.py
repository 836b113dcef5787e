"""n-gram language models: counting, smoothing, scoring, sampling, ARPA export (chapter 01).

An n-gram model makes the (n-1)-th order Markov assumption

    P(w_t | w_1 ... w_{t-1}) ~= P(w_t | w_{t-n+1} ... w_{t-1}),

and estimates each conditional from counts. Every sentence is padded with n-1 ``<s>`` on the
left and one ``</s>`` on the right, so that its first word has a full context and its end is
predicted like a word; ``<s>`` itself is never predicted.

This module has two faces:

- the *readable* functions the assignment asks students to write (``count_ngrams``,
  ``mle_probability``, ``addk_probability``, ``perplexity``, ``sample_sentence``,
  ``kn_bigram_probability``): plain Python on lists and dicts, the model answer;
- ``NGramLM``: the same estimators vectorised with numpy, fast enough for a million tokens
  (every order is counted with one sort of integer keys, every held-out token is
  scored with ``np.searchsorted``).

Estimators of ``NGramLM`` (``c`` is a count, ``V'`` the number of predictable types, i.e. the
vocabulary without ``<s>``):

- ``"mle"``:     P(w | h) = c(h w) / c(h)
- ``"addk"``:    P(w | h) = (c(h w) + k) / (c(h) + k V')
- ``"interp"``:  P_n(w | h) = lam_n c(h w) / c(h) + (1 - lam_n) P_{n-1}(w | h'),  h' = h without
  its first word, P_0 = 1/V', the lam tuned on held-out data (``tune``); an unseen h uses P_{n-1}
- ``"kn"``:      interpolated Kneser-Ney,
  P_k(w | h) = max(a(h w) - D_k, 0) / a(h .) + D_k N1+(h .) / a(h .) * P_{k-1}(w | h'),
  where a is the raw count at the highest order and the continuation count N1+(. h w) below it
  (the raw count for n-grams that start with ``<s>``, which cannot be extended to the left).
"""

from __future__ import annotations

import math
from collections import Counter
from itertools import count, repeat
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from .intindex import IntIndex
from .lm import LanguageModel
from .vocab import BOS, EOS, UNK, Vocab

Ngram = tuple  # a tuple of str tokens


# ---------------------------------------------------------------------------------------------
# The readable reference functions (the assignment's model answers)
# ---------------------------------------------------------------------------------------------

def pad(sentence: Sequence[str], n: int) -> list[str]:
    """``sentence`` with n-1 ``<s>`` before it and one ``</s>`` after it."""
    return [BOS] * (n - 1) + list(sentence) + [EOS]


def count_ngrams(sentences: Iterable[Sequence[str]], n: int) -> Counter:
    """Counts of the n-grams of the padded ``sentences`` (lists of tokens), as a Counter
    mapping an n-tuple of tokens to its count. Each sentence contributes len(sentence) + 1
    n-grams: one per predicted token, ``</s>`` included."""
    counts: Counter = Counter()
    for sentence in sentences:
        padded = pad(sentence, n)
        for t in range(n - 1, len(padded)):
            counts[tuple(padded[t - n + 1: t + 1])] += 1
    return counts


def context_count(ngram_counts: Mapping[Ngram, int], context: Ngram) -> int:
    """c(h .): how many times the context h was followed by any token."""
    return sum(c for g, c in ngram_counts.items() if g[:-1] == tuple(context))


def mle_probability(ngram_counts: Mapping[Ngram, int], context: Ngram, word: str) -> float:
    """Maximum-likelihood estimate P(word | context) = c(context word) / c(context .).
    Returns 0.0 for a context never seen (the MLE is undefined there)."""
    total = context_count(ngram_counts, context)
    return ngram_counts.get(tuple(context) + (word,), 0) / total if total else 0.0


def addk_probability(ngram_counts: Mapping[Ngram, int], context: Ngram, word: str,
                     k: float, vocab_size: int) -> float:
    """Add-k (k = 1: Laplace) estimate (c(context word) + k) / (c(context .) + k * vocab_size),
    where vocab_size counts every token that can be predicted."""
    total = context_count(ngram_counts, context)
    return (ngram_counts.get(tuple(context) + (word,), 0) + k) / (total + k * vocab_size)


def perplexity(prob: Callable[[Ngram, str], float], sentences: Iterable[Sequence[str]],
               n: int) -> float:
    """Perplexity of the model ``prob(context, word)`` (an (n-1)-tuple context) on
    ``sentences``: ppl = 2 ** (-(1/W) * sum_t log2 P(w_t | context_t)), where the sum runs over
    every token of every padded sentence after the ``<s>`` padding (``</s>`` included) and W is
    the number of those tokens. Infinite if any token has probability 0."""
    log2_sum, count = 0.0, 0
    for sentence in sentences:
        padded = pad(sentence, n)
        for t in range(n - 1, len(padded)):
            p = prob(tuple(padded[t - n + 1: t]), padded[t])
            if p <= 0.0:
                return math.inf
            log2_sum += math.log2(p)
            count += 1
    return 2.0 ** (-log2_sum / count)


def sample_sentence(next_word_distribution: Callable[[Ngram], Mapping[str, float]],
                    n: int, rng: np.random.Generator, max_len: int = 50) -> list[str]:
    """Draw one sentence from an n-gram model. Start from the context (<s>,) * (n-1); repeat:
    get the distribution {word: probability} for the current context, draw one word with
    ``rng.choice`` over the dict's words in their order, stop at ``</s>`` (not returned) or
    after ``max_len`` words, otherwise append the word and slide the context by one."""
    context = (BOS,) * (n - 1)
    sentence: list[str] = []
    while len(sentence) < max_len:
        dist = next_word_distribution(context)
        words = list(dist)
        word = words[rng.choice(len(words), p=np.array([dist[w] for w in words]))]
        if word == EOS:
            break
        sentence.append(word)
        context = (context + (word,))[1:] if n > 1 else ()
    return sentence


def kn_bigram_probability(bigram_counts: Mapping[Ngram, int], prev: str, word: str,
                          discount: float = 0.75) -> float:
    """Interpolated Kneser-Ney bigram probability

        P_KN(w | v) = max(c(v w) - d, 0) / c(v .) + d * N1+(v .) / c(v .) * P_cont(w),
        P_cont(w)   = N1+(. w) / N1+(. .),

    where N1+(v .) is the number of distinct words seen after v, N1+(. w) the number of
    distinct words seen before w, and N1+(. .) the number of distinct bigram types. For a
    ``prev`` never seen as a context, P_KN(w | v) = P_cont(w)."""
    followers = {g[1] for g in bigram_counts if g[0] == prev and bigram_counts[g] > 0}
    preceders = {g[0] for g in bigram_counts if g[1] == word and bigram_counts[g] > 0}
    bigram_types = sum(1 for c in bigram_counts.values() if c > 0)
    p_cont = len(preceders) / bigram_types
    total = sum(bigram_counts[(prev, w)] for w in followers)
    if total == 0:
        return p_cont
    return (max(bigram_counts.get((prev, word), 0) - discount, 0) / total
            + discount * len(followers) / total * p_cont)


# ---------------------------------------------------------------------------------------------
# The vectorised model
# ---------------------------------------------------------------------------------------------

def _stream(vocab: Vocab | None, sentences: Iterable[Sequence[str]], n: int,
            min_freq: int = 1) -> tuple[Vocab, np.ndarray]:
    """All padded sentences, encoded and concatenated: (vocab, int64 array of shape (length,)).
    Without a ``vocab``, one is built from ``sentences`` in the same single pass over the tokens:
    each token's provisional id is the position of its first occurrence (``dict.setdefault``
    with a running counter, all in C), and the types are then renumbered by frequency."""
    padding, flat = [BOS] * (n - 1), []
    extend, append = flat.extend, flat.append
    for sentence in sentences:
        extend(padding)
        extend(sentence)
        append(EOS)
    if vocab is not None:
        get, unk = vocab.stoi.get, vocab.unk_id
        return vocab, np.fromiter(map(get, flat, repeat(unk, len(flat))), dtype=np.int64, count=len(flat))
    first_seen: dict[str, int] = {}
    first = np.fromiter(map(first_seen.setdefault, flat, count()), dtype=np.int64, count=len(flat))
    counts = np.bincount(first, minlength=len(flat))
    positions = list(first_seen.values())
    count_of = dict(zip(first_seen, counts[positions].tolist()))
    kept = sorted(t for t, c in count_of.items() if c >= min_freq and t not in (UNK, BOS, EOS))
    kept.sort(key=count_of.__getitem__, reverse=True)  # stable: most frequent first, ties a-z
    vocab = Vocab(kept)
    renumber = np.zeros(len(flat), dtype=np.int64)
    renumber[positions] = [vocab[t] for t in first_seen]
    return vocab, renumber[first]


def encode_corpus(sentences: Iterable[Sequence[str]], n: int, vocab: Vocab) -> np.ndarray:
    """The padded ``sentences`` as one int64 id array of shape (length,), for ``fit_encoded``."""
    return _stream(vocab, sentences, n)[1]


class _Order:
    """The counts of one order k. A k-gram is the integer key  code(context) * V + w, where the
    code of the (k-1)-token context is its own key at order k-1 (mixed radix: sum_i w_i V^i)
    while that fits in 63 bits, and past that its rank among all (k-1)-grams of the training
    stream (``dense``: then ``all_grams`` holds the sorted keys that the ranks index).

    keys, counts:      the k-grams that end in a predicted token, sorted, with their counts
    adjusted:          the counts the estimator uses (raw or continuation counts), aligned
    ctx_ids, ctx_total, ctx_types: per context code, sum of adjusted counts and number of types
    """

    def __init__(self, keys, counts):
        self.keys, self.counts = keys, counts
        self.all_grams = None  # set when the next order codes its contexts densely

    def set_adjusted(self, adjusted: np.ndarray, V: int):
        self.adjusted = adjusted
        positive = adjusted > 0
        h = self.keys[positive] // V  # sorted, because the keys are
        self.ctx_ids, start = _runs(h)
        self.ctx_total = np.add.reduceat(adjusted[positive], start) if len(h) else np.zeros(0)
        self.ctx_types = np.diff(np.append(start, len(h)))
        self.key_slots, self.ctx_slots = _slots(self.keys), _slots(self.ctx_ids)
        self.indexes: dict[str, IntIndex] = {}  # hash indexes, built on first use

    def find_keys(self, queries: np.ndarray) -> np.ndarray:
        """Position of each k-gram key in ``keys``, -1 where unseen."""
        return self._find("keys", self.key_slots, queries)

    def find_contexts(self, queries: np.ndarray) -> np.ndarray:
        """Position of each context code in ``ctx_ids``, -1 where unseen."""
        return self._find("ctx_ids", self.ctx_slots, queries)

    def _find(self, name: str, slots, queries: np.ndarray) -> np.ndarray:
        if slots is not None:
            return _direct(slots, queries)
        if name not in self.indexes:
            self.indexes[name] = IntIndex(getattr(self, name))
        return self.indexes[name].find(queries)


def _runs(sorted_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of a sorted array and the index where each one's run starts
    (``np.unique(..., return_index=True)`` without its copy and sort)."""
    new_run = np.empty(len(sorted_values), dtype=bool)
    new_run[:1] = True
    np.not_equal(sorted_values[1:], sorted_values[:-1], out=new_run[1:])
    start = np.flatnonzero(new_run)
    return sorted_values[start], start


_DENSE_LIMIT = 1 << 22  # key spaces up to this size are looked up by direct indexing


def _slots(sorted_keys: np.ndarray):
    """A direct-index table key -> position (int32, -1 where absent), or None if too large."""
    if len(sorted_keys) == 0 or sorted_keys[-1] >= _DENSE_LIMIT:
        return None
    slots = np.full(int(sorted_keys[-1]) + 1, -1, dtype=np.int32)
    slots[sorted_keys] = np.arange(len(sorted_keys), dtype=np.int32)
    return slots


def _direct(slots: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Look-up through a direct-index table: position, or -1 where absent."""
    inside = (queries >= 0) & (queries < len(slots))
    return np.where(inside, slots[np.where(inside, queries, 0)], -1)


_MAX_KEY = 2 ** 62  # past this, contexts are coded by rank instead of mixed radix


def _lookup(sorted_keys: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Index of each query in ``sorted_keys``, or -1 where absent (vectorised)."""
    if len(sorted_keys) == 0:
        return np.full(len(queries), -1, dtype=np.int64)
    if len(queries) > 4096:  # sorted queries make the binary searches cache-friendly
        order = np.argsort(queries)
        idx = np.empty(len(queries), dtype=np.int64)
        idx[order] = np.searchsorted(sorted_keys, queries[order])
    else:
        idx = np.searchsorted(sorted_keys, queries)
    idx = np.minimum(idx, len(sorted_keys) - 1)
    return np.where((sorted_keys[idx] == queries) & (queries >= 0), idx, -1)


class NGramLM(LanguageModel):
    """An n-gram language model over a ``Vocab``.

    >>> lm = NGramLM(2, "addk", k=1.0).fit([["the", "cat"], ["the", "mat"]])
    >>> round(lm.logprob(["the", "cat"]), 4)
    -3.1987
    """

    ESTIMATORS = ("mle", "addk", "interp", "kn")

    def __init__(self, n: int, estimator: str = "kn", k: float = 1.0,
                 discount: float | None = None, lambdas: Sequence[float] | None = None):
        if estimator not in self.ESTIMATORS:
            raise ValueError(f"estimator must be one of {self.ESTIMATORS}, got {estimator!r}")
        if n < 1:
            raise ValueError("n must be at least 1")
        self.n, self.estimator, self.k = n, estimator, k
        self.fixed_discount = discount
        self.lambdas = np.full(n, 0.7) if lambdas is None else np.asarray(lambdas, float)

    # -- fitting ----------------------------------------------------------------------------

    def fit(self, sentences: Sequence[Sequence[str]], vocab: Vocab | None = None,
            min_freq: int = 1) -> "NGramLM":
        """Count every order 1..n on ``sentences`` (lists of tokens). Tokens outside ``vocab``
        (default: built from ``sentences`` with ``min_freq``) become ``<unk>``."""
        vocab, stream = _stream(vocab, sentences, self.n, min_freq)
        return self.fit_encoded(stream, vocab)

    def fit_encoded(self, stream: np.ndarray, vocab: Vocab) -> "NGramLM":
        """Count every order on an encoded corpus: ``stream`` is the int64 array of shape
        (length,) that ``encode_corpus(sentences, n, vocab)`` returns."""
        self.vocab = vocab
        self.V = V = len(self.vocab)
        self.predictable = V - 1  # every type but <s>
        self.orders = self._count(stream, V)
        self._estimate()
        return self

    def _count(self, stream: np.ndarray, V: int) -> list[_Order]:
        """One sort per order of the keys  code(context at p) * V + stream[p]."""
        target = stream != self.vocab.bos_id
        orders, codes = [], np.zeros(len(stream), dtype=np.int64)
        prev_keys = None
        for k in range(1, self.n + 1):
            keys_all = codes * V + stream
            predicted = keys_all[target]
            predicted.sort()
            keys, start = _runs(predicted)
            counts = np.diff(start, append=len(predicted))
            order = _Order(keys, counts)
            order.suffix_keys_at_target = prev_keys  # the (k-1)-gram suffix keys, for KN
            order.keys_at_target = prev_keys = keys_all[target]
            orders.append(order)
            if k < self.n:
                if (int(keys_all.max(initial=0)) + 1) * V >= _MAX_KEY:  # rank contexts densely
                    order.all_grams, keys_all = np.unique(keys_all, return_inverse=True)
                codes = np.concatenate(([0], keys_all[:-1]))
        return orders

    def _estimate(self):
        V = self.V
        for k, order in enumerate(self.orders, start=1):
            order.set_adjusted(order.counts, V)
        if self.estimator == "kn":
            self._kneser_ney_counts()
        for order in self.orders:  # the per-position arrays were only needed for KN
            del order.keys_at_target, order.suffix_keys_at_target

    def _kneser_ney_counts(self):
        """Continuation counts N1+(. g) for every order below n, and the discounts D_k."""
        V, bos = self.V, self.vocab.bos_id
        for k in range(1, self.n):
            lower, higher = self.orders[k - 1], self.orders[k]
            # each distinct (k+1)-gram type adds one to the continuation count of its k-suffix
            types, first = np.unique(higher.keys_at_target, return_index=True)
            suffix = higher.suffix_keys_at_target[first]
            cont = np.zeros(len(lower.keys), dtype=np.int64)
            np.add.at(cont, np.searchsorted(lower.keys, suffix), 1)
            starts_with_bos = self._first_token(k, lower.keys) == bos
            lower.set_adjusted(np.where(starts_with_bos, lower.counts, cont), V)
        self.discounts = np.array([self._discount(o.adjusted) for o in self.orders])

    def _first_token(self, k: int, keys: np.ndarray) -> np.ndarray:
        """First token id of order-k keys."""
        return self._tokens_of(k, keys)[:, 0]

    def _discount(self, adjusted: np.ndarray) -> float:
        """D = n1 / (n1 + 2 n2) (Ney et al.), from the counts-of-counts; or the fixed one."""
        if self.fixed_discount is not None:
            return float(self.fixed_discount)
        n1, n2 = np.sum(adjusted == 1), np.sum(adjusted == 2)
        return float(np.clip(n1 / (n1 + 2 * n2), 0.05, 0.95)) if n1 + n2 else 0.75

    # -- probabilities ----------------------------------------------------------------------

    def _context_ids(self, stream: np.ndarray) -> list[np.ndarray]:
        """For each order k, the code of the (k-1)-gram before each position; -1 where a
        densely coded context never occurred in training."""
        V, out = self.V, []
        codes = np.zeros(len(stream), dtype=np.int64)
        for k in range(1, self.n + 1):
            out.append(codes)
            keys = np.where(codes >= 0, codes * V + stream, -1)
            grams = self.orders[k - 1].all_grams
            if grams is not None:
                keys = _lookup(grams, keys)
            codes = np.concatenate(([0], keys[:-1]))
        return out

    def _probabilities(self, stream: np.ndarray) -> np.ndarray:
        """P(stream[p] | its context) for every position p (meaningful where not <s>)."""
        return self._probabilities_given(self._context_ids(stream), stream)

    def _probabilities_given(self, ctxs: list[np.ndarray], words: np.ndarray) -> np.ndarray:
        """P(words[i] | context i), the context given by its code at every order."""
        if self.estimator == "addk":
            c, total, _, _ = self._order_stats(self.orders[-1], ctxs[-1], words)
            p = (c + self.k) / (total + self.k * self.predictable)
            return np.where(words == self.vocab.bos_id, 0.0, p)
        p = np.full(len(words), 1.0 / self.predictable)  # order 0: uniform
        for k in range(1, self.n + 1):
            c, total, types, seen = self._order_stats(self.orders[k - 1], ctxs[k - 1], words)
            total = np.where(seen, total, 1)
            if self.estimator == "mle":
                if k == self.n:
                    p = np.where(seen, c / total, 0.0)
            elif self.estimator == "interp":
                lam = self.lambdas[k - 1]
                p = np.where(seen, lam * c / total + (1 - lam) * p, p)
            else:  # kn
                d = self.discounts[k - 1]
                p = np.where(seen, np.maximum(c - d, 0) / total + d * types / total * p, p)
        return np.where(words == self.vocab.bos_id, 0.0, p)

    def _order_stats(self, order: _Order, ctx: np.ndarray, words: np.ndarray):
        """For each (context, word): its adjusted count c(h w), the context's total c(h .) and
        number of types N1+(h .), and whether the context was seen (hash or direct look-ups)."""
        keys = np.where(ctx >= 0, ctx * self.V + words, -1)
        gi = order.find_keys(keys)
        ci = order.find_contexts(ctx)
        seen = ci >= 0
        ci = np.maximum(ci, 0)
        return (np.where(gi >= 0, order.adjusted[np.maximum(gi, 0)], 0),
                np.where(seen, order.ctx_total[ci], 0), np.where(seen, order.ctx_types[ci], 0), seen)

    def token_logprobs_corpus(self, sentences: Sequence[Sequence[str]]) -> np.ndarray:
        """ln P(w_t | context) of every predicted token of ``sentences`` (``</s>`` included),
        in order: float64 array of shape (sum(len(s) + 1),)."""
        _, stream = _stream(self.vocab, sentences, self.n)
        p = self._probabilities(stream)[stream != self.vocab.bos_id]
        with np.errstate(divide="ignore"):
            return np.log(p)

    def token_logprobs(self, sentence: Sequence[str]) -> np.ndarray:
        return self.token_logprobs_corpus([sentence])

    def cross_entropy(self, sentences: Iterable[Sequence[str]]) -> tuple[float, int]:
        lp = self.token_logprobs_corpus(list(sentences))
        return float(-lp.sum()), len(lp)

    def next_distribution(self, history: Sequence[str]) -> np.ndarray:
        """P(. | history) over the vocabulary: shape (V,), zero for ``<s>``."""
        context = ([BOS] * (self.n - 1) + list(history))[len(history):] if self.n > 1 else []
        stream = np.append(self.vocab.encode(context), 0)
        ctxs = [np.full(self.V, c[-1]) for c in self._context_ids(stream)]
        return self._probabilities_given(ctxs, np.arange(self.V))

    # -- held-out tuning --------------------------------------------------------------------

    def tune(self, held_out: Sequence[Sequence[str]], grid: Sequence[float] | None = None,
             sweeps: int = 3) -> "NGramLM":
        """Choose the interpolation weights (``"interp"``) or the discounts (``"kn"``) that
        minimise perplexity on ``held_out``, one order at a time (coordinate search on a grid)."""
        if self.estimator not in ("interp", "kn"):
            raise ValueError("tune() applies to the 'interp' and 'kn' estimators")
        grid = np.linspace(0.05, 0.95, 19) if grid is None else np.asarray(grid)
        params = self.lambdas if self.estimator == "interp" else self.discounts
        for _ in range(sweeps):
            for k in range(self.n):
                scores = []
                for value in grid:
                    params[k] = value
                    scores.append(self.cross_entropy(held_out)[0])
                params[k] = grid[int(np.argmin(scores))]
        return self

    # -- sizes and export -------------------------------------------------------------------

    def num_ngrams(self, k: int | None = None) -> int:
        """Number of distinct k-grams stored (default k = n)."""
        return len(self.orders[(k or self.n) - 1].keys)

    def unseen_fraction(self, sentences: Sequence[Sequence[str]], k: int | None = None) -> float:
        """Sparsity: the fraction of the k-grams of ``sentences`` (default k = n, one per
        predicted token) that never occurred in training."""
        k = k or self.n
        _, stream = _stream(self.vocab, sentences, self.n)
        ctx = self._context_ids(stream)[k - 1]
        found = _lookup(self.orders[k - 1].keys, np.where(ctx >= 0, ctx * self.V + stream, -1))
        return float(np.mean(found[stream != self.vocab.bos_id] < 0))

    def _tokens_of(self, k: int, keys: np.ndarray) -> np.ndarray:
        """The k token ids of each order-k key: shape (len(keys), k)."""
        cols = []
        for j in range(k, 0, -1):
            cols.append(keys % self.V)
            keys = keys // self.V
            if j > 1 and self.orders[j - 2].all_grams is not None:
                keys = self.orders[j - 2].all_grams[keys]
        return np.stack(cols[::-1], axis=1)

    def to_arpa(self) -> str:
        """The model in ARPA back-off format (log10 probabilities), for KenLM and SRILM.

        Interpolated models are exactly back-off models: a seen n-gram (h w) is listed with its
        interpolated probability, and the back-off weight of h is
        alpha(h) = (1 - sum_{w seen after h} P(w | h)) / (1 - sum_{w seen after h} P(w | h')).
        Only ``"interp"`` and ``"kn"`` have unseen mass proportional to the lower order; add-k
        and MLE cannot be written this way.
        """
        if self.estimator not in ("interp", "kn"):
            raise ValueError(f"ARPA export needs an interpolated estimator ('interp' or 'kn'); "
                             f"this model uses {self.estimator!r}")
        V, bos = self.V, self.vocab.bos_id
        itos = self.vocab.itos
        sections, backoffs = [], []
        for k in range(1, self.n + 1):
            if k == 1:
                grams = np.arange(V)[:, None]
            else:
                grams = self._tokens_of(k, self.orders[k - 1].keys)
                if k < self.n:  # contexts of the next order that are not themselves n-grams
                    ctx_grams = self._tokens_of(k, self._context_keys(k, self.orders[k].ctx_ids))
                    grams = np.unique(np.concatenate([grams, ctx_grams]), axis=0)
            prob = np.array([self._gram_prob(g) for g in grams])
            sections.append((grams, prob))
        for k in range(1, self.n):
            grams = sections[k - 1][0]
            backoffs.append(np.array([self._backoff(g) for g in grams]))
        lines = ["", "\\data\\"] + [f"ngram {k}={len(g)}" for k, (g, _) in enumerate(sections, 1)]
        for k, (grams, prob) in enumerate(sections, start=1):
            lines += ["", f"\\{k}-grams:"]
            for i, g in enumerate(grams):
                lp = math.log10(prob[i]) if prob[i] > 0 else -99.0
                words = " ".join(itos[t] for t in g)
                if k < self.n:
                    lines.append(f"{lp:.10f}\t{words}\t{math.log10(backoffs[k - 1][i]):.10f}")
                else:
                    lines.append(f"{lp:.10f}\t{words}")
        lines += ["", "\\end\\", ""]
        return "\n".join(lines)

    def _gram_prob(self, gram: np.ndarray) -> float:
        """P(gram[-1] | gram[:-1]) under the model restricted to order len(gram)."""
        saved = self.n
        try:
            self.n = len(gram)
            return float(self._probabilities(np.asarray(gram))[-1])
        finally:
            self.n = saved

    def _backoff(self, context: np.ndarray) -> float:
        """alpha(h) for a context h of order len(h) < n."""
        k = len(context) + 1
        V = self.V
        h = self._context_ids(np.append(context, 0))[k - 1][-1]
        if h < 0:
            return 1.0
        order = self.orders[k - 1]
        lo, hi = np.searchsorted(order.keys, [h * V, (h + 1) * V])
        words = order.keys[lo:hi] % V
        words = words[order.adjusted[lo:hi] > 0]
        if len(words) == 0:
            return 1.0
        high = sum(self._gram_prob(np.append(context, w)) for w in words)
        low = sum(self._gram_prob(np.append(context[1:], w)) for w in words)
        return max(1.0 - high, 1e-300) / max(1.0 - low, 1e-300)

    def _context_keys(self, k: int, codes: np.ndarray) -> np.ndarray:
        """The order-k keys of context codes of order k + 1."""
        grams = self.orders[k - 1].all_grams
        return codes if grams is None else grams[codes]

    def __repr__(self) -> str:
        return f"NGramLM(n={self.n}, estimator={self.estimator!r}, V={getattr(self, 'V', '?')})"
