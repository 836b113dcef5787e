"""Checks of assignment 02 (word representations and the fixed-window neural LM):
``02_window_lm.<part>``.

Each check compares the student's function with the reference in ``rnnlab.embeddings`` and
``rnnlab.window_lm`` (one-hot vectors, the embedding lookup equal to ``nn.Embedding``, context
windows equal to chapter 01's padded n-grams, the forward pass, the cross-entropy equal to
``F.cross_entropy``): shapes first, then dtypes, then values, then, for everything
differentiable, the gradient of a weighted sum of the answer (``probe_gradient``). A named
mistake (tanh missing, the context in reverse order, windows that cross sentence ends, the
sum instead of the mean, ...) is given only when the student's answer equals that mistake's
result and the mistake's result differs from the right one on this case (``diagnose``).

The training part never scores a model in the student's process: the probe copies the
returned model's weights out as plain data (its ``state_dict``) with the outputs of its own
forward on a few training contexts; the judge rebuilds the window LM from those weights and
measures it on held-out sentences that never enter the student's process, against chapter
01's add-k trigram on the same sentences. When it falls short the judge says what it measured
on the weights (training against held-out perplexity, the loss at the initial weights, how
much the predictions depend on the context, what the model predicts instead of the target).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import embeddings, ngram, window_lm
from ..data.batching import encode_stream
from ..data.synthetic import synthetic_corpus
from ..models import FixedWindowLM
from ..vocab import Vocab
from .framework import (Case, Check, call_student, compare_tensor, diagnose, fmt, fmt_pair,
                        judge_gradient, module_answer, probe_gradient, register, type_name_of,
                        type_problem)
from .plain import TENSOR_TYPES, Opaque, describe, restore

ADDK = 0.1    # chapter 01's add-k trigram ("trigram add-0.1" of the perplexity table)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _randn(seed: int, *shape, dtype=torch.float64) -> torch.Tensor:
    return torch.randn(*shape, generator=_gen(seed), dtype=torch.float64).to(dtype)


def _ids(seed: int, B: int, T: int, V: int, high: Optional[int] = None) -> torch.Tensor:
    return torch.randint(0, high or V, (B, T), generator=_gen(seed))


def _close(rtol: float, atol: float):
    """(a, b) -> True when both are tensors of one shape and equal within the tolerances."""
    def close(a, b) -> bool:
        return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)
                and tuple(a.shape) == tuple(b.shape)
                and bool(torch.allclose(a.double(), b.double(), rtol=rtol, atol=atol, equal_nan=True)))
    return close


def _tolerance(dtype) -> tuple[float, float]:
    """(rtol, atol) for comparing a float answer of ``dtype`` with the float64 reference."""
    return (1e-4, 1e-5) if dtype == torch.float32 else (1e-6, 1e-9)


def _named_shape(sizes) -> str:
    """'(B=2, T=3, V=5)' for sizes (("B", 2), ("T", 3), ("V", 5))."""
    return "(" + ", ".join(f"{name}={n}" for name, n in sizes) + (",)" if len(sizes) == 1 else ")")


def _not_a_tensor(got, what: str) -> Optional[str]:
    if isinstance(got, torch.Tensor):
        return None
    name = got.type if isinstance(got, Opaque) else type_name_of(got)
    return f"expected {what} as a torch.Tensor, got a {name}"


def _shape_and_dtype(got, sizes, dtype, what: str, hints=()) -> Optional[str]:
    """``what`` has shape ``sizes`` (names and numbers) and ``dtype``, or the first problem. A
    hint (condition, text) is added to a wrong shape's message when its condition holds."""
    shape, verb = tuple(got.shape), "have" if what.endswith("s") else "has"
    if shape != tuple(n for _, n in sizes):
        hint = next((text for condition, text in hints if condition), "")
        return f"{what} {verb} shape {shape}, expected {_named_shape(sizes)}{hint}"
    if got.dtype != dtype:
        return f"{what} {verb} dtype {got.dtype}, expected {dtype}"
    return None


# ---------------------------------------------------------------------------------------------
# one_hot(ids, vocab_size) -> (B, T, V) float32
# ---------------------------------------------------------------------------------------------

def _compare_one_hot(case: Case, expected, got) -> Optional[str]:
    ids, V = case.args
    B, T = ids.shape
    shape = tuple(got.shape)
    width = int(ids.max()) + 1
    problem = _shape_and_dtype(got, (("B", B), ("T", T), ("V", V)), torch.float32, "your one-hot", hints=[
        (shape == (T, B, V), ": time first; the batch comes first, (B, T, V)"),
        (shape == (B, T, width) and width != V,
         ": its last dimension must be vocab_size, not the largest id + 1"),
        (len(shape) == 2 and shape[-1] == V, ": one vector per token, each position (b, t) of ids gets its own"),
        (shape == (B, V, T), ": the vocabulary is the last dimension, (B, T, V)")])
    if problem:
        if shape == (B, T, V) and got.dtype == torch.int64 and torch.equal(got, expected.long()):
            problem += ": F.one_hot returns int64; convert it with .float() so that it can multiply float weights"
        return problem
    problem = compare_tensor(rtol=0, atol=0, dims=("b", "t", "v"), what="your one-hot")(case, expected, got)
    if problem is None:
        return None
    nonzero = (got != 0).sum(-1)
    bad = (nonzero != 1).nonzero()
    if len(bad):
        b, t = (int(i) for i in bad[0])
        return (f"{problem}. Position b={b}, t={t} has {int(nonzero[b, t])} nonzero entries: each position "
                f"has exactly one 1, at v = ids[b, t] = {int(ids[b, t])}")
    misplaced = (got.argmax(-1) != ids).nonzero()
    if len(misplaced):
        b, t = (int(i) for i in misplaced[0])
        return (f"{problem}. Position b={b}, t={t} has its nonzero entry at v={int(got[b, t].argmax())}; "
                f"it belongs at v = ids[b, t] = {int(ids[b, t])}")
    return problem


def _one_hot_case(label, seed, B, T, V, high=None):
    return Case(label, (_ids(seed, B, T, V, high), V))


register(Check(
    name="02_window_lm.one_hot", points=1, reference=embeddings.one_hot,
    visible=lambda: [_one_hot_case("ids (B=2, T=3), V=6", 0, 2, 3, 6),
                     _one_hot_case("ids (B=1, T=4), V=10", 1, 1, 4, 10)],
    hidden=lambda: [_one_hot_case("ids (B=3, T=5), V=12", 2, 3, 5, 12),
                    _one_hot_case("ids (B=4, T=1), V=3: T = 1", 3, 4, 1, 3),
                    _one_hot_case("ids (B=1, T=1), V=1: one token, one word", 5, 1, 1, 1),
                    _one_hot_case("ids (B=2, T=6), V=20, all ids below 5", 4, 2, 6, 20, high=5),
                    _one_hot_case("ids (B=8, T=200), V=500: a long batch", 6, 8, 200, 500),
                    Case("the ids 0 and V-1", (torch.tensor([[0, 7], [7, 0]]), 8))],
    returns=TENSOR_TYPES, compare=_compare_one_hot))


# ---------------------------------------------------------------------------------------------
# embed(ids, E) -> (B, T, d), equal to nn.Embedding: values and gradient
# ---------------------------------------------------------------------------------------------

def _probe_embed(student_fn, inputs, seconds):
    """student_fn(ids, E) with E a leaf that requires grad: the answer and the gradient of
    sum(answer * upstream) with respect to E."""
    return probe_gradient(student_fn, inputs, seconds, leaves=(1,), upstream=2)


def _judge_embed(case: Case, result) -> Optional[str]:
    ids, E, upstream = case.args
    (B, T), (V, d) = ids.shape, E.shape
    problem = type_problem(result["answer"], TENSOR_TYPES)
    if problem:
        return problem
    got = restore(result["answer"])
    leaf = E.clone().requires_grad_(True)
    lookup = nn.functional.embedding(ids, leaf)
    (expected_grad,) = torch.autograd.grad((lookup * upstream.to(E.dtype)).sum(), leaf)
    expected = lookup.detach()
    assert torch.equal(expected, embeddings.embed(ids, E))
    shape = tuple(got.shape)
    problem = _shape_and_dtype(got, (("B", B), ("T", T), ("d", d)), E.dtype, "your embeddings", hints=[
        (shape == (B * T, d), ": one row per token of ids, reshaped back to (B, T, d)"),
        (shape == (B, d), ": one vector per token, not one per sequence"),
        (shape == (B, T, V), ": that is the size of the one-hot vectors; multiply them by E"),
        (shape == (B, d, T), ": the embedding dimension is the last one, (B, T, d)")])
    if problem:
        if shape == (B, d):
            mistake = diagnose(got, expected, {
                "(you summed the embeddings over the sequence)": lambda: expected.sum(1),
                "(you averaged the embeddings over the sequence)": lambda: expected.mean(1)},
                _close(*_tolerance(E.dtype)))
            problem += f" {mistake}" if mistake else ""
        return problem
    rtol, atol = _tolerance(E.dtype)
    problem = compare_tensor(rtol=rtol, atol=atol, dims=("b", "t", "d"), what="your embedding tensor")(case, expected, got)
    if problem:
        mistake = diagnose(got, expected, {
            f"Your embeddings are scaled by sqrt(d) = {math.sqrt(d):.4g}: the lookup is the row of E itself":
                lambda: expected * math.sqrt(d)}, _close(rtol, atol))
        return f"{problem}. {mistake}" if mistake else problem
    return judge_gradient(result, [expected_grad], ["E"], dims=[("v", "d")], rtol=rtol, atol=atol)


def _embed_case(label, seed, B, T, V, d, dtype=torch.float32, high=None):
    return Case(label, (_ids(seed, B, T, V, high), _randn(seed + 1, V, d, dtype=dtype),
                        _randn(seed + 2, B, T, d)))


register(Check(
    name="02_window_lm.embed", points=2, reference=embeddings.embed,
    visible=lambda: [_embed_case("ids (B=2, T=3), E (V=7, d=4)", 10, 2, 3, 7, 4),
                     _embed_case("ids (B=1, T=5), E (V=9, d=3)", 11, 1, 5, 9, 3)],
    hidden=lambda: [_embed_case("ids (B=3, T=4), E (V=10, d=6) in float64", 12, 3, 4, 10, 6, torch.float64),
                    _embed_case("ids (B=2, T=2), E (V=3, d=8): d > V", 13, 2, 2, 3, 8),
                    _embed_case("ids (B=4, T=1), E (V=12, d=2), all ids below 4", 14, 4, 1, 12, 2, high=4),
                    _embed_case("ids (B=1, T=1), E (V=1, d=3): one token, one word", 16, 1, 1, 1, 3),
                    _embed_case("ids (B=2, T=6), E (V=5, d=5): ids repeat, their gradients add up", 15, 2, 6, 5, 5),
                    _embed_case("ids (B=16, T=100), E (V=300, d=16): a long batch", 17, 16, 100, 300, 16)],
    probe=_probe_embed, judge=_judge_embed, returns=TENSOR_TYPES))


# ---------------------------------------------------------------------------------------------
# context_windows(ids, context_size, bos_id, eos_id) -> (contexts (N, n-1), targets (N,))
# ---------------------------------------------------------------------------------------------

def _window_mistakes(ids, k, bos, eos) -> dict:
    """Contexts made with a known mistake, by a readable loop over the stream."""
    def loop(reset=True, pad=bos, end=eos, reverse=False, include_target=False, late_reset=False):
        out, history = [], []
        for w in ids.tolist():
            if include_target:
                history.append(w)
            context = ([pad] * k + history)[-k:]
            out.append(context[::-1] if reverse else context)
            if late_reset and w == end:
                history = []
            if not include_target:
                history.append(w)
            if reset and not late_reset and w == end:
                history = []
        return torch.tensor(out, dtype=torch.long).view(-1, k)

    return {
        "Your windows run across sentence ends: each sentence starts again from n-1 <s> "
        "(the token after </s> has the context <s> ... <s>)": lambda: loop(reset=False),
        "Your context includes the target itself: the context of w_t is w_{t-n+1} ... w_{t-1}, "
        "the tokens *before* it": lambda: loop(include_target=True),
        "Your context is in reverse order: oldest token first, w_{t-n+1} ... w_{t-1}": lambda: loop(reverse=True),
        "Your padding is 0: the missing tokens before a sentence start are <s> (bos_id)": lambda: loop(pad=0),
        "Your padding uses </s> (eos_id) instead of <s> (bos_id)": lambda: loop(pad=eos),
        f"Your padding uses the id 1 whatever bos_id is (here {bos}): use the bos_id you are given":
            lambda: loop(pad=1),
        f"Your sentences end at the id 2 whatever eos_id is (here {eos}): use the eos_id you are given":
            lambda: loop(end=2),
        "Your windows start a new sentence one token late: the token after </s> still has </s> in "
        "its context; reset the history after appending </s>, not before": lambda: loop(late_reset=True),
    }


def _compare_windows(case: Case, expected, got) -> Optional[str]:
    ids, k, bos, eos = case.args
    N = len(ids)
    if len(got) != 2:
        return f"expected a pair (contexts, targets), got a {type_name_of(got)} of {len(got)} items"
    contexts, targets = got
    for value, what in [(contexts, "contexts"), (targets, "targets")]:
        problem = _not_a_tensor(value, what)
        if problem:
            return problem
    exp_contexts, exp_targets = expected
    close = _close(0, 0)
    problem = _shape_and_dtype(targets, (("N", N),), torch.int64, "targets")
    if problem:
        if tuple(targets.shape) != (N,):
            mistake = diagnose(targets, exp_targets, {
                ": </s> is a target too (every token of the stream is predicted once, </s> included)":
                    lambda: ids[ids != eos],
                ": every token of the stream is a target, the first one included (its context is all <s>); "
                "targets are ids itself, not ids shifted by one": lambda: ids[1:],
            }, close)
            return problem + (mistake or "")
        return problem + " (contexts and targets are both int64, torch.long)"
    problem = compare_tensor(rtol=0, atol=0, dims=("i",), what="targets")(case, exp_targets, targets)
    if problem:
        return problem + ": targets[i] = ids[i], every token (</s> included) is predicted"
    problem = _shape_and_dtype(contexts, (("N", N), ("n-1", k)), torch.int64, "contexts", hints=[
        (contexts.dim() == 2 and contexts.shape[0] == N,
         f": one column per context token, context_size = {k} of them")])
    if problem:
        return problem if contexts.dtype == torch.int64 else problem + " (contexts and targets are both int64, torch.long)"
    rows = (contexts != exp_contexts).any(1).nonzero()
    if not len(rows):
        return None
    i = int(rows[0])
    problem = (f"contexts first differs in the window of token i={i} (id {int(ids[i])}): expected "
               f"{exp_contexts[i].tolist()}, got {contexts[i].tolist()} ({len(rows)} of {N} windows differ)")
    mistake = diagnose(contexts, exp_contexts, _window_mistakes(ids, k, bos, eos), close)
    return f"{problem}. {mistake}" if mistake else problem


def _stream(sentences) -> torch.Tensor:
    return torch.tensor([t for s in sentences for t in s], dtype=torch.long)


def _random_stream(seed: int, sentences: int, eos: int, bos: int, V: int = 12, max_len: int = 6):
    rng = np.random.default_rng(seed)
    words = [i for i in range(V) if i not in (bos, eos, 0)]
    return _stream([[int(w) for w in rng.choice(words, rng.integers(0, max_len + 1))] + [eos]
                    for _ in range(sentences)])


register(Check(
    name="02_window_lm.context_windows", points=2, reference=window_lm.context_windows,
    visible=lambda: [Case("two sentences [5 6 7 </s>] [8 </s>], n-1=2", (_stream([[5, 6, 7, 2], [8, 2]]), 2, 1, 2)),
                     Case("three sentences, n-1=3", (_stream([[4, 5, 2], [6, 7, 8, 9, 2], [5, 2]]), 3, 1, 2))],
    hidden=lambda: [Case("random sentences, n-1=2", (_random_stream(20, 8, 2, 1), 2, 1, 2)),
                    Case("random sentences, n-1=1 (bigram windows)", (_random_stream(21, 6, 2, 1), 1, 1, 2)),
                    Case("random sentences, n-1=4, longer than some sentences", (_random_stream(22, 8, 2, 1), 4, 1, 2)),
                    Case("n-1=7, longer than every sentence", (_random_stream(24, 6, 2, 1, max_len=5), 7, 1, 2)),
                    Case("an empty sentence between two others", (_stream([[4, 5, 2], [2], [6, 2]]), 2, 1, 2)),
                    Case("a single sentence of one token, </s>", (_stream([[2]]), 3, 1, 2)),
                    Case("bos_id=3, eos_id=4", (_random_stream(23, 5, 4, 3), 3, 3, 4)),
                    Case("bos_id=0, eos_id=5", (_random_stream(26, 6, 5, 0), 2, 0, 5)),
                    Case("500 random sentences, n-1=3: a long stream", (_random_stream(25, 500, 2, 1, V=40, max_len=12), 3, 1, 2))],
    returns=("tuple", "list"), compare=_compare_windows))


# ---------------------------------------------------------------------------------------------
# window_lm_logits(contexts, C, W, b1, U, b2) -> logits (B, V): values and gradients
# ---------------------------------------------------------------------------------------------

def _logit_mistakes(contexts, C, W, b1, U, b2) -> dict:
    B = contexts.shape[0]
    e = C[contexts].flatten(1)
    pre = e @ W.T + b1
    z = torch.tanh(pre) @ U.T + b2
    by_exp = (torch.exp(pre) - torch.exp(-pre)) / (torch.exp(pre) + torch.exp(-pre))
    return {
        "The tanh is missing: h = tanh(W e + b1)": lambda: pre @ U.T + b2,
        "You used the sigmoid instead of tanh": lambda: torch.sigmoid(pre) @ U.T + b2,
        "You used ReLU instead of tanh": lambda: torch.relu(pre) @ U.T + b2,
        f"Your tanh, written with exp, overflows: the pre-activations W e + b1 reach "
        f"{fmt(float(pre.abs().max()))} here, and exp of that is inf in {C.dtype}. Use torch.tanh":
            lambda: by_exp @ U.T + b2,
        "Your concatenation is in reverse order: e = [C(w_{t-n+1}); ...; C(w_{t-1})], oldest word first, "
        "as the columns of contexts": lambda: torch.tanh(C[contexts.flip(1)].flatten(1) @ W.T + b1) @ U.T + b2,
        "Your e interleaves the embeddings (C[contexts] transposed before reshaping): e is the "
        "embedding of the first word, then the whole embedding of the second, ...":
            lambda: torch.tanh(C[contexts].transpose(1, 2).reshape(B, -1) @ W.T + b1) @ U.T + b2,
        "You returned probabilities (a softmax of the logits): return z = U h + b2 itself": lambda: torch.softmax(z, -1),
        "You returned log-probabilities (log_softmax of the logits): return z = U h + b2 itself":
            lambda: torch.log_softmax(z, -1),
        "The bias b1 is missing": lambda: torch.tanh(e @ W.T) @ U.T + b2,
        "The bias b2 is missing": lambda: torch.tanh(pre) @ U.T,
    }


def _probe_logits(student_fn, inputs, seconds):
    """student_fn(contexts, C, W, b1, U, b2) with the five parameters leaves that require grad:
    the logits and the gradients of sum(logits * upstream)."""
    return probe_gradient(student_fn, inputs, seconds, leaves=(1, 2, 3, 4, 5), upstream=6)


def _judge_logits(case: Case, result) -> Optional[str]:
    contexts, C, W, b1, U, b2, upstream = case.args
    problem = type_problem(result["answer"], TENSOR_TYPES)
    if problem:
        return problem
    got = restore(result["answer"])
    leaves = [p.clone().requires_grad_(True) for p in (C, W, b1, U, b2)]
    z = window_lm.window_logits(contexts, *leaves)
    grads = torch.autograd.grad((z * upstream.to(z.dtype)).sum(), leaves)
    expected = z.detach()
    B, V = contexts.shape[0], U.shape[0]
    problem = _shape_and_dtype(got, (("B", B), ("V", V)), C.dtype, "your logits", hints=[
        (tuple(got.shape) == (V, B), ": one row per context, (B, V)"),
        (tuple(got.shape) == (B, U.shape[1]), ": that is the hidden layer h; the logits are z = U h + b2")])
    if problem:
        return problem
    rtol, atol = _tolerance(C.dtype)
    problem = compare_tensor(rtol=rtol, atol=atol, dims=("b", "v"), what="your logit tensor")(case, expected, got)
    if problem:
        mistake = diagnose(got, expected, _logit_mistakes(contexts, C, W, b1, U, b2), _close(rtol, atol))
        return f"{problem}. {mistake}" if mistake else problem
    return judge_gradient(result, grads, ["C", "W", "b1", "U", "b2"],
                          dims=[("v", "d"), ("h", "j"), ("h",), ("v", "h"), ("v",)], rtol=rtol, atol=atol)


def _params(seed, V, k, d, H, dtype=torch.float64, pre_scale=3.0):
    scale_in, scale_h = 1 / math.sqrt(k * d), 1 / math.sqrt(H)
    return (_randn(seed + 1, V, d, dtype=dtype), scale_in * _randn(seed + 2, H, k * d, dtype=dtype) * pre_scale,
            _randn(seed + 3, H, dtype=dtype) * 0.5, scale_h * _randn(seed + 4, V, H, dtype=dtype) * 2,
            _randn(seed + 5, V, dtype=dtype) * 0.5)


def _logits_case(label, seed, B, k, V, d, H, dtype=torch.float64, pre_scale=3.0):
    return Case(label, (_ids(seed, B, k, V),) + _params(seed, V, k, d, H, dtype, pre_scale)
                + (_randn(seed + 6, B, V),))


register(Check(
    name="02_window_lm.window_lm_logits", points=2, reference=window_lm.window_logits,
    visible=lambda: [_logits_case("B=2, n-1=2, V=7, d=3, H=4", 30, 2, 2, 7, 3, 4),
                     _logits_case("B=3, n-1=3, V=6, d=2, H=5", 31, 3, 3, 6, 2, 5)],
    hidden=lambda: [_logits_case("B=4, n-1=4, V=10, d=4, H=6", 32, 4, 4, 10, 4, 6),
                    _logits_case("B=1, n-1=1, V=5, d=3, H=2: one context of one word", 33, 1, 1, 5, 3, 2),
                    _logits_case("B=5, n-1=2, V=8, d=5, H=3", 34, 5, 2, 8, 5, 3),
                    _logits_case("B=2, n-1=3, V=9, d=2, H=7, float32", 35, 2, 3, 9, 2, 7, torch.float32),
                    _logits_case("B=6, n-1=3, V=12, d=4, H=8, float32, pre-activations in the hundreds",
                                 36, 6, 3, 12, 4, 8, torch.float32, pre_scale=150.0),
                    _logits_case("B=256, n-1=4, V=100, d=16, H=32: a large batch", 37, 256, 4, 100, 16, 32)],
    returns=TENSOR_TYPES, probe=_probe_logits, judge=_judge_logits))


# ---------------------------------------------------------------------------------------------
# cross_entropy(logits, targets) -> scalar tensor, equal to F.cross_entropy: value and gradient
# ---------------------------------------------------------------------------------------------

def _loss_mistakes(logits, targets) -> dict:
    B = logits.shape[0]
    rows = torch.arange(B)
    return {
        "Your loss is the sum over the batch: take the mean": lambda: F.cross_entropy(logits, targets, reduction="sum"),
        "Your loss has the wrong sign: it is the *negative* log-probability": lambda: -F.cross_entropy(logits, targets),
        "Your loss is in bits (log2): use the natural log": lambda: F.cross_entropy(logits, targets) / math.log(2),
        "Your softmax normalises over the batch (dim 0) instead of over the vocabulary (dim 1)":
            lambda: -torch.log_softmax(logits, 0)[rows, targets].mean(),
        "Your loss picks logits[:, targets] (a B x B matrix): pick one entry per row, "
        "logits[torch.arange(B), targets], or use gather": lambda: -torch.log_softmax(logits, -1)[:, targets].mean(),
        "Your loss leaves out the log: -log softmax(z)[target], not -softmax(z)[target]":
            lambda: -torch.softmax(logits, -1)[rows, targets].mean(),
        "Your loss leaves out the softmax normaliser: log softmax(z)_i = z_i - log sum_j exp(z_j)":
            lambda: -logits[rows, targets].mean(),
        "Your stabilising maximum is taken over the batch (dim 0): subtract each row's own largest logit":
            lambda: -(logits - logits.max(0).values - torch.log(torch.exp(logits - logits.max(0).values)
                                                                .sum(1, keepdim=True)))[rows, targets].mean(),
    }


def _non_finite_mistakes(logits, targets) -> tuple[str, str, dict]:
    """The two ways a loss becomes infinite at large logits, and what to say when both fit."""
    rows = torch.arange(logits.shape[0])
    top = fmt(float(logits.abs().max()))
    overflow = (f"Your exp(z) overflows: the logits reach {top} here, and exp of that is inf in {logits.dtype}")
    underflow = ("Your log(softmax(z)) is log 0 = -inf where the softmax underflows to 0 (the logits of a row "
                 f"differ by up to {fmt(float((logits.max(1).values - logits.min(1).values).max()))} here)")
    fix = (". Compute log softmax stably, z_i - m - log sum_j exp(z_j - m) with m the largest logit of the "
           "row, or with torch.logsumexp")
    return fix, overflow + " or " + underflow[0].lower() + underflow[1:], {
        overflow: lambda: -torch.log(torch.exp(logits)[rows, targets] / torch.exp(logits).sum(1)).mean(),
        underflow: lambda: -torch.log(torch.softmax(logits, -1)[rows, targets]).mean()}


def _probe_cross_entropy(student_fn, inputs, seconds):
    """student_fn(logits, targets) with the logits a leaf that requires grad: the loss and the
    gradient of the logits."""
    return probe_gradient(student_fn, inputs, seconds, leaves=(0,), upstream=2)


def _judge_cross_entropy(case: Case, result) -> Optional[str]:
    logits, targets, upstream = case.args
    leaf = logits.clone().requires_grad_(True)
    loss = F.cross_entropy(leaf, targets)
    (expected_grad,) = torch.autograd.grad(loss, leaf)
    expected = loss.detach()
    assert torch.allclose(window_lm.cross_entropy(logits, targets), expected)
    answer = result["answer"]
    if answer["type"] in ("float", "int") or answer["type"].startswith("numpy.") and "value" in answer:
        return (f"expected a torch.Tensor, got a {answer['type']} ({fmt(float(answer['value']))}): return the "
                "loss tensor itself (no .item()), so that loss.backward() can train the model")
    problem = type_problem(answer, TENSOR_TYPES)
    if problem:
        return problem
    got = restore(answer)
    if tuple(got.shape) != ():
        return (f"your loss has shape {tuple(got.shape)}, expected a scalar tensor, shape (): the mean "
                f"over the batch of B={logits.shape[0]} losses")
    if got.dtype != logits.dtype:
        return f"your loss has dtype {got.dtype}, expected {logits.dtype}, the dtype of the logits"
    rtol, atol = _tolerance(logits.dtype)
    close = _close(rtol, atol)
    mistakes = _loss_mistakes(logits, targets)
    if not close(got, expected):
        a, b = fmt_pair(float(expected), float(got))
        problem = f"your loss is {b}, expected {a}"
        fix, both, unstable = _non_finite_mistakes(logits, targets)
        fitting = [m for m, make in unstable.items() if diagnose(got, expected, {m: make}, close)]
        if fitting:
            return f"{problem}. {both if len(fitting) == 2 else fitting[0]}{fix}"
        mistake = diagnose(got, expected, mistakes, close)
        return f"{problem}. {mistake}" if mistake else problem
    problem = judge_gradient(result, [expected_grad], ["the logits"], dims=[("b", "v")], rtol=rtol, atol=atol)
    if problem and result["grads"][0] is not None:
        rows = torch.arange(len(targets))
        mistake = diagnose(restore(result["grads"][0]), expected_grad, {
            "Its gradient is that of -z_y alone: no gradient flows through your log-sum-exp (it is "
            "detached or computed outside torch); only the maximum subtracted for stability may be detached":
                lambda: -F.one_hot(targets, logits.shape[1]).to(logits.dtype) / len(rows)}, close)
        return f"{problem}. {mistake}" if mistake else problem
    return problem


def _loss_case(label, seed, B, V, scale=2.0, dtype=torch.float64):
    return Case(label, ((_randn(seed, B, V) * scale).to(dtype), torch.randint(0, V, (B,), generator=_gen(seed + 1)),
                        torch.tensor(1.0, dtype=torch.float64)))


register(Check(
    name="02_window_lm.cross_entropy", points=2, reference=window_lm.cross_entropy,
    visible=lambda: [_loss_case("logits (B=4, V=5)", 40, 4, 5),
                     _loss_case("logits (B=3, V=10)", 41, 3, 10)],
    hidden=lambda: [_loss_case("logits (B=6, V=3)", 42, 6, 3),
                    _loss_case("logits (B=1, V=7): one row", 43, 1, 7),
                    _loss_case("logits (B=3, V=1): one word, the loss is 0", 47, 3, 1),
                    _loss_case("float32 logits (B=8, V=6)", 45, 8, 6, dtype=torch.float32),
                    Case("float32 logits all near 100 (B=8, V=10)", ((100 + 3 * _randn(49, 8, 10)).float(),
                         torch.randint(0, 10, (8,), generator=_gen(50)), torch.tensor(1.0, dtype=torch.float64))),
                    _loss_case("float32 logits in the tens (B=16, V=50), as a trained model gives",
                               46, 16, 50, scale=40.0, dtype=torch.float32),
                    _loss_case("logits as large as 1000 (B=5, V=4)", 44, 5, 4, scale=1000.0),
                    _loss_case("logits (B=512, V=100): a large batch", 48, 512, 100, scale=5.0)],
    probe=_probe_cross_entropy, judge=_judge_cross_entropy, returns=TENSOR_TYPES))


# ---------------------------------------------------------------------------------------------
# train_window_lm(contexts, targets, vocab_size, seed) -> a model: contexts (B, n-1) -> logits (B, V)
# ---------------------------------------------------------------------------------------------

PARAMETERS = ("embedding.weight", "hidden.weight", "hidden.bias", "output.weight", "output.bias")
SHOWN = 256             # training contexts the probe runs the student's own forward on
SEED_WINDOWS = 1000     # training windows of the seeding case (three runs)
MAX_PARAMETERS = 10_000_000


@lru_cache(maxsize=4)
def training_data(seed: int, context_size: int) -> tuple:
    """(train contexts, train targets, held-out contexts, held-out targets, V, add-k trigram
    perplexity on the held-out sentences) from a small synthetic corpus. Only the training
    windows enter the student's process; the judge scores the weights on the held-out ones."""
    corpus = synthetic_corpus("small", seed=seed)
    vocab = Vocab.build(corpus.train)
    train = window_lm.context_windows(encode_stream(corpus.train, vocab), context_size)
    test = window_lm.context_windows(encode_stream(corpus.test, vocab), context_size)
    trigram = ngram.NGramLM(3, "addk", k=ADDK).fit(corpus.train, vocab=vocab)
    return (*train, *test, len(vocab), float(trigram.perplexity(corpus.test)))


def _copy_out(model, contexts, seconds) -> dict:
    """What the judge needs of a returned model, as plain data: its weights (state_dict), its
    mode, and its own forward's outputs on ``contexts``, twice (a model left in training mode
    with dropout answers differently each time)."""
    copied = module_answer(model)
    if "weights" not in copied:
        return copied
    copied.update(outputs=[], training=bool(getattr(model, "training", False)))
    for _ in range(2):
        with torch.no_grad():
            out, problem = call_student(model, (contexts.clone(),), seconds, copy_inputs=False)
        if problem:  # judged after the weights: a model of another layout is told that first
            called = f"your model's forward, called on contexts of shape {tuple(contexts.shape)},"
            copied["forward_error"] = problem.replace("your function", called, 1)
            break
        copied["outputs"].append(describe(out))
    return copied


def _probe_training(student_fn, inputs, seconds):
    """Train with the student's function (once; or, in the seeding case, three times: seeds
    s, s and s + 1, a third of the time limit each) and copy the model(s) out."""
    contexts, targets, vocab_size, seed, runs = inputs
    threads = torch.get_num_threads()
    torch.set_num_threads(1)          # small models: one thread is faster, and reproducible
    try:
        copies = []
        for run_seed in ([seed] if runs == 1 else [seed, seed, seed + 1]):
            got, problem = call_student(student_fn, (contexts.clone(), targets.clone(), int(vocab_size),
                                                     int(run_seed)), seconds / runs, copy_inputs=False)
            if problem:
                return {"error": problem}
            copies.append(_copy_out(got, contexts[:SHOWN], seconds / runs))
            if "answer" not in copies[-1] or copies[-1]["answer"]["type"] != "torch.nn.Module":
                return copies[-1]
    finally:
        torch.set_num_threads(threads)
    return {"answer": {"type": "torch.nn.Module"}, "runs": copies}


def _rebuild(run: dict, V: int, k: int):
    """(the window LM with the copied weights, in float64, or None; the problem, or None)."""
    weights = {name: restore(desc) for name, desc in run["weights"]}
    expected = {"embedding.weight": ("V", "d"), "hidden.weight": ("H", "(n-1) d"), "hidden.bias": ("H",),
                "output.weight": ("V", "H"), "output.bias": ("V",)}
    layout = ("the window LM's parameters are embedding.weight (V, d), hidden.weight (H, (n-1) d), "
              "hidden.bias (H,), output.weight (V, H) and output.bias (V,), the layers of the WindowLM "
              "class of the notebook")
    if sorted(weights) != sorted(PARAMETERS):
        extra, missing = sorted(set(weights) - set(PARAMETERS)), sorted(set(PARAMETERS) - set(weights))
        found = ", ".join(extra[:4]) + (" ..." if len(extra) > 4 else "")
        return None, (f"your model's weights are not those of the window LM ("
                      + (f"it has {found}" if extra else "") + ("; " if extra and missing else "")
                      + (f"it lacks {', '.join(missing)}" if missing else "")
                      + f"): {layout}; the grader rebuilds it from them")
    for name in PARAMETERS:
        if not isinstance(weights[name], torch.Tensor) or not weights[name].is_floating_point():
            return None, f"your model's {name} is not a floating-point tensor"
        if weights[name].dim() != len(expected[name]):
            return None, (f"your model's {name} has shape {tuple(weights[name].shape)}, expected "
                          f"({', '.join(expected[name])}): {layout}")
    d, H = weights["embedding.weight"].shape[1], weights["hidden.weight"].shape[0]
    sizes = {"V": V, "d": d, "H": H, "(n-1) d": k * d}
    for name, dims in expected.items():
        want = tuple(sizes[x] for x in dims)
        if tuple(weights[name].shape) != want:
            shown = "(" + ", ".join(f"{x}={sizes[x]}" for x in dims) + (",)" if len(dims) == 1 else ")")
            return None, (f"your model's {name} has shape {tuple(weights[name].shape)}, expected {shown} "
                          f"for vocab_size V={V} and contexts of n-1={k} tokens: {layout}")
    count = sum(w.numel() for w in weights.values())
    if count > MAX_PARAMETERS:
        return None, f"your model has {count:,} parameters; a window LM for this data needs far fewer (under {MAX_PARAMETERS:,})"
    for name in PARAMETERS:
        if not torch.isfinite(weights[name]).all():
            return None, f"your model's {name} contains NaN or infinite values: its training diverged"
    model = FixedWindowLM(V, k, d, H).double()
    model.load_state_dict({name: weights[name].double() for name in PARAMETERS})
    return model.eval(), None


def _judge_forward(run: dict, model, contexts) -> Optional[str]:
    """The student's own forward, on the first training contexts, against the window LM of its
    weights: the model returned must be the model scored."""
    if "forward_error" in run:
        return run["forward_error"]
    first, again = (restore(o) for o in run["outputs"])
    B, V = len(contexts), model.output.out_features
    problem = _not_a_tensor(first, "your model's output") or _shape_and_dtype(
        first, (("B", B), ("V", V)), first.dtype, f"your model's output for contexts of shape {tuple(contexts.shape)}")
    if problem:
        return problem
    if not first.is_floating_point():
        return f"your model's output has dtype {first.dtype}: expected float logits"
    if not _close(1e-5, 1e-6)(first, again):
        if run["training"]:
            return ("your model gives different outputs for the same contexts in two calls: it is in training "
                    "mode (model.training is True). Call model.eval() before returning it, so that dropout is "
                    "off when it predicts")
        return ("your model gives different outputs for the same contexts in two calls: its forward must "
                "be deterministic, the logits of its weights")
    reference = window_lm.model_logits(model, contexts)
    ours = torch.log_softmax(reference, -1)
    theirs = torch.log_softmax(first.double(), -1)
    if bool(torch.allclose(theirs, ours, rtol=1e-4, atol=1e-3)):
        return None
    if bool((first >= 0).all()) and bool(torch.allclose(first.double().sum(-1), torch.ones(B, dtype=torch.float64),
                                                        atol=1e-4)):
        return ("your model returns probabilities (every row of its output is >= 0 and sums to 1): its forward "
                "must return the logits z = U h + b2; F.cross_entropy applies the log-softmax itself")
    problem = compare_tensor(rtol=1e-4, atol=1e-3, dims=("b", "v"), what="the log-softmax of your model's output")(
        None, ours, theirs)
    return (f"your model's forward does not compute z = U tanh(W e + b1) + b2 of part 4 from its own weights "
            "(e: the embeddings of the context, oldest first), which is what the grader scores: on the first "
            f"training contexts, {problem}")


def _initial_model(V: int, k: int, d: int, H: int, seed: int):
    """The window LM as the notebook's WindowLM builds it right after torch.manual_seed(seed)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return FixedWindowLM(V, k, d, H)


def _measure(model, seed: int, V: int, k: int) -> dict:
    """Perplexities of the rebuilt model, and of what it could be confused with."""
    train_contexts, train_targets, test_contexts, test_targets, _, threshold = training_data(seed, k)

    def ppl(nll: torch.Tensor) -> float:
        mean = float(nll.mean())
        return math.exp(mean) if mean < 700 else math.inf

    with torch.no_grad():
        logits = window_lm.model_logits(model, test_contexts)
        log_probs = torch.log_softmax(logits, -1)
        average = torch.softmax(logits, -1).mean(0)
    counts = torch.bincount(train_targets, minlength=V).double() + 1
    d, H = model.embedding.embedding_dim, model.hidden.out_features
    start = _initial_model(V, k, d, H, seed)
    unchanged = [name for name, value in start.state_dict().items()
                 if torch.equal(model.state_dict()[name].float(), value)]
    return {
        "held_out": ppl(window_lm.window_nll(model, test_contexts, test_targets)),
        "train": ppl(window_lm.window_nll(model, train_contexts, train_targets)),
        "at_start": ppl(window_lm.window_nll(start.double(), train_contexts, train_targets)),
        "unigram": ppl(-torch.log(counts / counts.sum())[test_targets]),
        "context_free": ppl(-torch.log(average)[test_targets]),
        "last_word": ppl(-log_probs.gather(1, test_contexts[:, -1:])[:, 0]),
        "largest_logit": float(logits.abs().max()), "threshold": threshold, "unchanged": unchanged,
    }


def _explain_training(m: dict, V: int) -> str:
    """What the measurements on a model that misses the threshold say: the numbers, then the
    one finding they support, if any."""
    held, train, start, threshold = m["held_out"], m["train"], m["at_start"], m["threshold"]
    message = (f"your model's held-out perplexity is {fmt(held)}; it must be at most {threshold:.2f}, the add-"
               f"{ADDK:g} trigram's of chapter 01 on the same held-out sentences (word frequencies alone score "
               f"{m['unigram']:.2f}, a uniform guess V = {V}). Measured on its weights: perplexity {fmt(train)} "
               f"on its own training windows; a WindowLM of its size just after torch.manual_seed(seed) "
               f"scores {fmt(start)} there")
    if len(m["unchanged"]) == len(PARAMETERS):
        return message + (". Its weights are exactly those initial ones: training never changed them "
                          "(is optimizer.step() called, on an optimizer of model.parameters()?)")
    if m["last_word"] < min(held / math.e, m["unigram"]):
        return message + (f". It predicts the last word of each context: taken as the target, contexts[i, -1] "
                          f"scores perplexity {fmt(m['last_word'])}; the target of contexts[i] is targets[i]")
    large = f"; its logits reach {fmt(m['largest_logit'])} in size" if m["largest_logit"] > 100 else ""
    if train > 1.05 * min(V, start):
        return message + (f": training made it worse on the very windows it was trained on{large}. Its "
                          "cross-entropy went up, not down: does training minimise F.cross_entropy of the logits "
                          "(not its negative, nor nll_loss of logits that are not log-probabilities)?")
    if train > 0.9 * min(V, start):
        return message + (": on the very windows it was trained on it is barely better than where it started, "
                          "so the training loss hardly went down (too few steps, or a learning rate far too small?)")
    if held >= 0.97 * m["context_free"]:
        return message + (f". Its predictions hardly depend on the context: its average distribution alone scores "
                          f"{fmt(m['context_free'])}. It learned which words are frequent, not what follows "
                          "which context, which is what training on contexts and targets that are not "
                          "paired (contexts[i] with targets[i]) gives")
    if train <= threshold:
        return message + (f". It beats {threshold:.2f} on its training windows but not on held-out sentences: it "
                          "overfits (fewer epochs or a smaller model)")
    return message + (f". It learns, but it is above {threshold:.2f} on its training windows too: it underfits "
                      "(more epochs, a larger learning rate or a larger model)")


def _judge_training(case: Case, result) -> Optional[str]:
    contexts, targets, V, seed, runs = case.args
    k = contexts.shape[1]
    if result["answer"]["type"] != "torch.nn.Module":
        problem = type_problem(result["answer"], ("torch.nn.Module",))
        return problem or f"expected your trained model (a torch.nn.Module), got a {result['answer']['type']}"
    models = []
    for run in result["runs"]:
        if run["answer"]["type"] != "torch.nn.Module":
            return f"expected your trained model (a torch.nn.Module), got a {run['answer']['type']}"
        model, problem = _rebuild(run, int(V), k)
        if problem:
            return problem
        problem = _judge_forward(run, model, contexts[:SHOWN])
        if problem:
            return problem
        models.append(model)
    if runs != 1:
        same = [torch.equal(a, b) for a, b in zip(models[0].state_dict().values(), models[1].state_dict().values())]
        if not all(same):
            return ("two runs with the same seed gave different models: seed every random draw from `seed` "
                    "(torch.manual_seed(seed) before building the model, a torch.Generator seeded with it "
                    "for the order of the batches)")
        if all(torch.equal(a, b) for a, b in zip(models[0].state_dict().values(), models[2].state_dict().values())):
            return (f"the seeds {seed} and {seed + 1} gave exactly the same model: your function ignores its "
                    "seed argument (seed with `seed`, not a constant)")
        return None
    measured = _measure(models[0], seed, int(V), k)
    if measured["held_out"] <= measured["threshold"]:
        return None
    return _explain_training(measured, int(V))


def _training_case(label, seed, context_size, runs=1):
    contexts, targets, *_, V, _ = training_data(seed, context_size)
    if runs != 1:
        contexts, targets = contexts[:SEED_WINDOWS], targets[:SEED_WINDOWS]
    return Case(label, (contexts, targets, V, seed, runs))


register(Check(
    name="02_window_lm.train_window_lm", points=3,
    visible=lambda: [_training_case("synthetic language, 1000 sentences, n-1=2, seed 0", 0, 2)],
    hidden=lambda: [_training_case("other synthetic sentences, n-1=3, seed 1", 1, 3),
                    _training_case(f"the first {SEED_WINDOWS} windows, seeds 2, 2 and 3: the same seed gives "
                                   "the same model, another seed another", 2, 2, runs=3)],
    probe=_probe_training, judge=_judge_training, time_limit=90.0))
