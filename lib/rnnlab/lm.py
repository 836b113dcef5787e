"""The language-model interface shared by every model of the course.

A language model assigns a probability to a sentence through the chain rule,

    P(w_1 ... w_m) = prod_{t=1}^{m+1} P(w_t | w_1 ... w_{t-1}),   with w_{m+1} = </s>,

so every model here (n-gram, the synthetic language's exact oracle, window and recurrent
neural LMs) answers the same questions: the distribution of the next token given a history,
the log-probability of a sentence, perplexity on held-out text, and sampling. Perplexity is

    ppl = exp(-(1/W) sum_t ln P(w_t | w_<t)) = 2^(-(1/W) sum_t log2 P(w_t | w_<t)),

where W counts every predicted token, the ``</s>`` of each sentence included. Natural logs
are used throughout; ``bits`` converts.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

from .vocab import EOS, UNK, Vocab

LN2 = math.log(2.0)


def bits(nats: float) -> float:
    """Convert a log-probability or cross-entropy from nats (ln) to bits (log2)."""
    return nats / LN2


class LanguageModel:
    """Base class: subclasses define ``vocab`` and ``next_distribution``; the rest follows.

    Subclasses may override ``logprob`` with a faster exact computation.
    """

    vocab: Vocab

    def next_distribution(self, history: Sequence[str]) -> np.ndarray:
        """P(. | history) over ``self.vocab`` ids: float64 array of shape (len(vocab),), sums to 1.
        ``history`` is the list of tokens of the sentence so far (without ``<s>`` padding)."""
        raise NotImplementedError

    def token_logprobs(self, sentence: Sequence[str]) -> np.ndarray:
        """ln P(w_t | w_<t) for each token of ``sentence`` followed by ``</s>``: shape (len+1,)."""
        out = np.empty(len(sentence) + 1)
        history: list[str] = []
        for t, w in enumerate(list(sentence) + [EOS]):
            p = self.next_distribution(history)[self.vocab[w]]
            out[t] = math.log(p) if p > 0 else -math.inf
            history.append(w)
        return out

    def logprob(self, sentence: Sequence[str]) -> float:
        """ln P(sentence </s>), natural log."""
        return float(self.token_logprobs(sentence).sum())

    def cross_entropy(self, sentences: Iterable[Sequence[str]]) -> tuple[float, int]:
        """(total negative log-likelihood in nats, number of predicted tokens W)."""
        total, count = 0.0, 0
        for s in sentences:
            total -= self.logprob(s)
            count += len(s) + 1
        return total, count

    def perplexity(self, sentences: Iterable[Sequence[str]]) -> float:
        """exp(-(1/W) sum ln P): infinite if any held-out token has probability 0."""
        nll, count = self.cross_entropy(sentences)
        return math.exp(nll / count) if math.isfinite(nll) else math.inf

    def sample(self, seed: int | np.random.Generator = 0, max_len: int = 100) -> list[str]:
        """One sentence drawn token by token from ``next_distribution`` until ``</s>``
        (not included in the result) or ``max_len`` tokens. Seeded: same seed, same sentence."""
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        out: list[str] = []
        while len(out) < max_len:
            p = self.next_distribution(out)
            w = self.vocab.itos[int(rng.choice(len(p), p=p))]
            if w == EOS:
                break
            out.append(w)
        return out


def cross_entropy_and_perplexity(sentences: Sequence[Sequence[str]], log_probs, vocab,
                                 base: float = math.e) -> tuple[float, float]:
    """Cross-entropy per predicted token, in the unit of ``base`` (bits for 2, nats for e), and
    perplexity, ``base ** cross_entropy`` (the same number in either unit), of any model (count
    or neural) from the log-probabilities it gives the ``B`` sentences.

    sentences: B token lists (words, no ``<s>`` or ``</s>``); a word outside ``vocab`` is
    ``<unk>``. log_probs: (B, T, V) array or tensor, T > every length; ``log_probs[b, t]`` is
    log_base P(. | <s> w_1 ... w_t) over ``vocab``'s ids, and positions t > len(sentence b) are
    padding (any values, NaN included, never read). vocab: {token: id} with ``<unk>`` and
    ``</s>``. Each sentence predicts its words and one ``</s>``, so W = sum(len + 1); ``<s>`` is
    never predicted. Raises ``ValueError`` when there is no sentence (W = 0)."""
    if not sentences:
        raise ValueError("no sentence: the cross-entropy of nothing is undefined")
    table = np.asarray(log_probs.detach().cpu() if hasattr(log_probs, "detach") else log_probs,
                       dtype=np.float64)
    total, count = 0.0, 0
    for b, sentence in enumerate(sentences):
        ids = [vocab.get(w, vocab[UNK]) for w in sentence] + [vocab[EOS]]
        total -= float(table[b, np.arange(len(ids)), ids].sum())
        count += len(ids)
    cross_entropy = total / count
    try:
        return cross_entropy, float(base ** cross_entropy)
    except OverflowError:           # a model that gives the text a probability below 1e-308^W
        return cross_entropy, math.inf
