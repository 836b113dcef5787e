"""Exact probabilities of a bounded-depth PCFG: compile it into a probabilistic finite
automaton (PFA), then run the forward algorithm. ``OracleLM`` is the resulting exact
language model, the floor of every perplexity table of the course.

Why a finite automaton? A leftmost derivation of a PCFG can be read left to right as a stack
machine: the *state* is the stack of symbols still to expand, top first. Expanding the
nonterminals on top (no word is emitted) until a preterminal is on top is the *closure*; then
the preterminal emits a word and is popped. With a bounded depth of embedding there are
finitely many stacks, so the machine is a PFA whose states are the stacks with a preterminal
on top, plus one final state that emits ``</s>``:

    P(w, s' | s) = E[top(s), w] * C[rest(s), s'],

E the preterminal's word distribution, C[r, s'] the probability that the closure of the stack
r reaches state s' (summed over all the ways of expanding; the empty stack is the final state).
Each derivation is one path, so summing over paths sums over derivations, ambiguity included.

The forward algorithm keeps alpha_t(s) = P(s_t = s | w_<t), normalised to sum to 1:

    P(w_t | w_<t)   = sum_s alpha_t(s) E[top(s), w_t]                    (next-token distribution)
    alpha_{t+1}(s') = sum_s alpha_t(s) E[top(s), w_t] C[rest(s), s'] / P(w_t | w_<t)
    ln P(w_1..w_m </s>) = sum_t ln P(w_t | w_<t)

alpha is stored sparsely, as a dict of the states it is non-zero on: only a few states are
possible after any prefix, so a step costs microseconds.
"""

from __future__ import annotations

import bisect
import itertools
import math
from typing import Mapping, Sequence

import numpy as np

from ..lm import LanguageModel
from ..vocab import EOS, Vocab

Stack = tuple  # of grammar symbols, top first
Belief = dict  # {state id: probability}, the live states after a prefix; sums to 1


class PFA:
    """A bounded PCFG compiled into a probabilistic finite automaton.

    ``rules``: nonterminal -> [(right-hand side tuple, probability)];
    ``preterminals``: name -> object with ``.words`` = ((word, probability), ...);
    ``vocab``: the vocabulary the emission matrix is indexed by.

    Arrays (S states, R closure "rests", P preterminals + the final one):
    ``state_top`` (S,) preterminal index on top of each state (``END`` for the final state),
    ``state_rest`` (S,) index of the stack below the top (-1 for the final state),
    ``emission`` (P+1, V) word distribution of each preterminal,
    ``closure_ptr`` (R+1,), ``closure_state``/``closure_prob``: the closure of rest r is
    ``closure_state[closure_ptr[r]:closure_ptr[r+1]]`` with those probabilities. Rest 0 is the
    start symbol, so the closure of rest 0 is the initial state distribution.
    """

    def __init__(self, rules: Mapping, preterminals: Mapping, start: str, vocab: Vocab):
        self.rules, self.vocab = rules, vocab
        self.preterminal_names = list(preterminals)
        pindex = {name: i for i, name in enumerate(self.preterminal_names)}
        self.END = len(self.preterminal_names)
        self.emission = np.zeros((self.END + 1, len(vocab)))
        for name, pre in preterminals.items():
            for w, p in pre.words:
                self.emission[pindex[name], vocab.stoi[w]] += p
        self.emission[self.END, vocab.eos_id] = 1.0

        memo: dict[Stack, dict[Stack, float]] = {}

        def closure(stack: Stack) -> dict[Stack, float]:
            """Distribution over the stacks reached by expanding nonterminals on top until a
            preterminal is on top (or the stack is empty)."""
            if stack in memo:
                return memo[stack]
            if not stack or stack[0] in pindex:
                out = {stack: 1.0}
            else:
                out = {}
                for rhs, p in rules[stack[0]]:
                    for reached, q in closure(tuple(rhs) + stack[1:]).items():
                        out[reached] = out.get(reached, 0.0) + p * q
            memo[stack] = out
            return out

        rest_ids: dict[Stack, int] = {}
        state_ids: dict[Stack, int] = {}
        state_top: list[int] = []
        state_rest: list[int] = []
        rests: list[Stack] = []

        def rest_id(rest: Stack) -> int:
            if rest not in rest_ids:
                rest_ids[rest] = len(rests)
                rests.append(rest)
            return rest_ids[rest]

        def state_id(stack: Stack) -> int:
            if stack not in state_ids:
                state_ids[stack] = len(state_top)
                state_top.append(pindex[stack[0]] if stack else self.END)
                state_rest.append(rest_id(stack[1:]) if stack else -1)
            return state_ids[stack]

        rest_id((start,))
        ptr, dst, prob = [0], [], []
        r = 0
        while r < len(rests):  # rests grows while we go: a breadth-first compilation
            for stack, p in sorted(closure(rests[r]).items(), key=lambda kv: kv[0]):
                dst.append(state_id(stack))
                prob.append(p)
            ptr.append(len(dst))
            r += 1
        self.state_top = np.array(state_top, dtype=np.int64)
        self.state_rest = np.array(state_rest, dtype=np.int64)
        self.closure_ptr = np.array(ptr, dtype=np.int64)
        self.closure_state = np.array(dst, dtype=np.int64)
        self.closure_prob = np.array(prob)
        self.states = list(state_ids)  # the stack of each state, for inspection
        # the same tables as plain Python lists and dicts, for the per-token loops
        self._top, self._rest = state_top, state_rest
        self._closure_list = [list(zip(dst[a:b], prob[a:b])) for a, b in zip(ptr[:-1], ptr[1:])]
        self._emit = [{int(w): float(row[w]) for w in np.flatnonzero(row)} for row in self.emission]
        self._emit_list = [list(d.items()) for d in self._emit]
        self._closure_cum = [list(itertools.accumulate(p for _, p in c)) for c in self._closure_list]
        self._emit_cum = [list(itertools.accumulate(p for _, p in e)) for e in self._emit_list]
        self.oracle = OracleLM(self)

    @property
    def num_states(self) -> int:
        return len(self.state_top)

    # ------------------------------------------------------------------ forward algorithm

    def initial(self) -> Belief:
        """alpha_1: the distribution over the first state, as {state: probability}."""
        return dict(self._closure_list[0])

    def distribution(self, belief: Belief) -> np.ndarray:
        """P(. | prefix) over vocab ids, shape (V,), from the belief after the prefix."""
        by_top: dict[int, float] = {}
        for s, a in belief.items():
            top = self._top[s]
            by_top[top] = by_top.get(top, 0.0) + a
        p = np.fromiter(by_top.values(), float, len(by_top)) @ self.emission[list(by_top)]
        return p / p.sum()

    def advance(self, belief: Belief, word_id: int) -> tuple[Belief | None, float]:
        """(belief after also reading ``word_id``, P(word | prefix)). The belief is None when
        the word has probability 0 or is ``</s>`` (nothing follows the end).

        Plain Python on dicts: only a handful of states are live after any prefix, and for so
        few the interpreter beats numpy's per-call overhead."""
        by_rest: dict[int, float] = {}
        p_word = 0.0
        for s, a in belief.items():
            e = self._emit[self._top[s]].get(word_id, 0.0)
            if e > 0.0:
                p_word += a * e
                r = self._rest[s]
                by_rest[r] = by_rest.get(r, 0.0) + a * e
        if p_word <= 0.0 or word_id == self.vocab.eos_id:
            return None, p_word
        nxt: dict[int, float] = {}
        for r, g in by_rest.items():
            g /= p_word
            for s2, c in self._closure_list[r]:
                nxt[s2] = nxt.get(s2, 0.0) + g * c
        return nxt, p_word

    def best_path(self, word_ids: Sequence[int]) -> tuple[list[str], float] | None:
        """Viterbi: the preterminals of the most probable path that emits ``word_ids`` then
        ``</s>``, and its ln-probability; None if the sentence has probability 0.

            delta_{t+1}(s') = max_s delta_t(s) + ln E[top(s), w_t] + ln C[rest(s), s']
        """
        delta = {s: math.log(p) for s, p in self.initial().items()}
        back: list[dict[int, int]] = []
        for w in word_ids:
            new: dict[int, float] = {}
            came_from: dict[int, int] = {}
            for s, d in delta.items():
                e, r = self.emission[self.state_top[s], w], self.state_rest[s]
                if e <= 0 or r < 0:
                    continue
                for k in range(self.closure_ptr[r], self.closure_ptr[r + 1]):
                    s2, v = int(self.closure_state[k]), d + math.log(e) + math.log(self.closure_prob[k])
                    if v > new.get(s2, -math.inf):
                        new[s2], came_from[s2] = v, s
            back.append(came_from)
            delta = new
        finals = [s for s in delta if self.state_top[s] == self.END]
        if not finals:
            return None
        state = max(finals, key=delta.get)
        logp = delta[state]
        path = []
        for came_from in reversed(back):
            state = came_from[state]
            path.append(self.preterminal_names[self.state_top[state]])
        return path[::-1], logp

    # ------------------------------------------------------------------ sampling

    def sample_path(self, rng: np.random.Generator) -> tuple[list[str], list[str], float]:
        """Walk the automaton from the start to the final state: (words, preterminal of each
        word, ln-probability of the path)."""
        words, pres, logp = [], [], 0.0
        itos = self.vocab.itos
        rest = 0
        while True:
            state, p = _draw(self._closure_list[rest], self._closure_cum[rest], rng)
            logp += math.log(p)
            top = self._top[state]
            if top == self.END:
                return words, pres, logp
            wid, p = _draw(self._emit_list[top], self._emit_cum[top], rng)
            logp += math.log(p)
            words.append(itos[wid])
            pres.append(self.preterminal_names[top])
            rest = self._rest[state]


def _draw(outcomes: list, cumulative: list, rng: np.random.Generator):
    """One (outcome, probability) of ``outcomes`` drawn by inverting the cumulative sums."""
    k = bisect.bisect_right(cumulative, rng.random() * cumulative[-1])
    return outcomes[min(k, len(outcomes) - 1)]


class OracleLM(LanguageModel):
    """The exact language model of a compiled grammar: P(w_t | w_<t) by the forward algorithm.

    Its vocabulary is the lexicon plus ``<unk> <s> </s>``; ``<unk>`` and ``<s>`` have
    probability 0, so any sentence outside the language has log-probability -inf. Perplexity
    counts the ``</s>`` of each sentence, like every model of the course (``rnnlab.lm``).
    """

    _CACHE_LIMIT = 20_000  # memoised prefixes kept (about 1 kB each) before starting afresh

    def __init__(self, pfa: PFA):
        self.pfa = pfa
        self.vocab = pfa.vocab
        self._beliefs: dict[tuple, Belief | None] = {(): pfa.initial()}

    def _belief(self, history: tuple) -> Belief | None:
        """Belief after ``history`` (None if it has probability 0); memoised per prefix so
        that sampling and scoring sentences with shared prefixes cost one step per token."""
        if history in self._beliefs:
            return self._beliefs[history]
        before = self._belief(history[:-1])
        belief = None if before is None else self.pfa.advance(before, self.vocab[history[-1]])[0]
        if len(self._beliefs) > self._CACHE_LIMIT:
            self._beliefs = {(): self.pfa.initial()}
        self._beliefs[history] = belief
        return belief

    def next_distribution(self, history: Sequence[str]) -> np.ndarray:
        """P(. | history) over vocab ids, shape (V,), sums to 1. Raises ``ValueError`` when
        the history itself has probability 0 (the conditional is then undefined)."""
        belief = self._belief(tuple(history))
        if belief is None:
            raise ValueError(f"history {' '.join(history)!r} has probability 0 in this language")
        return self.pfa.distribution(belief)

    def token_logprobs(self, sentence: Sequence[str]) -> np.ndarray:
        """ln P(w_t | w_<t) for each token and the final ``</s>``: shape (len+1,). After a token
        of probability 0 every later entry is -inf too (their conditionals are undefined)."""
        out = np.full(len(sentence) + 1, -math.inf)
        belief: Belief | None = self.pfa.initial()
        for t, w in enumerate(list(sentence) + [EOS]):
            belief, p = self.pfa.advance(belief, self.vocab[w])
            if p <= 0.0:
                break
            out[t] = math.log(p)
        return out

    def __repr__(self) -> str:
        return f"OracleLM({len(self.vocab)} tokens, {self.pfa.num_states} automaton states)"
