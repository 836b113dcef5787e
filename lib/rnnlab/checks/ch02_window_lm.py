"""Checks of assignment 02 (word representations and the fixed-window neural LM):
``02_window_lm.<part>``.

Each check compares the student's function with the reference in ``rnnlab.embeddings`` and
``rnnlab.window_lm`` (one-hot vectors, the embedding lookup equal to ``nn.Embedding``, context
windows equal to chapter 01's padded n-grams, the forward pass, the cross-entropy equal to
``F.cross_entropy``) on small seeded inputs, values and gradients; when the answers differ it
recomputes the usual mistakes (tanh missing, the context in reverse order, windows that cross
sentence ends, the sum instead of the mean, ...) to name the one the student made. The training
part is judged on held-out perplexity against chapter 01's add-k trigram on the same data.
Probes use torch only: gradients and held-out scores are computed in the student's process
and cross to the judge as plain numbers.
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
from ..vocab import Vocab
from .framework import Case, Check, call_student, compare_tensor, fmt, register, type_problem
from .plain import TENSOR_TYPES, describe, restore

ADDK = 0.1    # chapter 01's add-k trigram ("trigram add-0.1" of the perplexity table)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _randn(seed: int, *shape, dtype=torch.float64) -> torch.Tensor:
    return torch.randn(*shape, generator=_gen(seed), dtype=torch.float64).to(dtype)


def _ids(seed: int, B: int, T: int, V: int, high: Optional[int] = None) -> torch.Tensor:
    return torch.randint(0, high or V, (B, T), generator=_gen(seed))


def _first_match(got: torch.Tensor, candidates: dict, rtol=1e-6, atol=1e-9) -> Optional[str]:
    """The explanation of the first candidate (a known mistake) equal to the student's answer."""
    for explanation, make in candidates.items():
        try:
            value = make()
        except Exception:   # the mistake does not apply to these shapes
            continue
        if isinstance(value, torch.Tensor) and tuple(value.shape) == tuple(got.shape) and \
                torch.allclose(got.double(), value.double(), rtol=rtol, atol=atol, equal_nan=True):
            return explanation
    return None


def _tensor_problem(got, what: str) -> Optional[str]:
    if not isinstance(got, torch.Tensor):
        return f"expected {what} as a torch.Tensor, got a {type(got).__name__}"
    return None


# ---------------------------------------------------------------------------------------------
# one_hot(ids, vocab_size) -> (B, T, V) float32
# ---------------------------------------------------------------------------------------------

def _compare_one_hot(case: Case, expected, got) -> Optional[str]:
    ids, V = case.args
    if got.dim() == 3 and tuple(got.shape[:2]) == tuple(ids.shape) and got.shape[2] != V:
        return (f"one-hot tensor has shape {tuple(got.shape)}, expected (B={ids.shape[0]}, "
                f"T={ids.shape[1]}, V={V}): its last dimension must be vocab_size, not the largest id + 1")
    if got.dtype == torch.int64 and tuple(got.shape) == tuple(expected.shape):
        return ("one-hot tensor has dtype torch.int64, expected torch.float32: F.one_hot returns integers, "
                "convert them with .float() so that they can multiply float weights")
    problem = compare_tensor(rtol=0, atol=0, dims=("b", "t", "v"), what="one-hot tensor")(case, expected, got)
    if problem is None:
        return None
    ones = (got != 0).sum(-1)
    bad = (ones != 1).nonzero()
    if len(bad):
        b, t = (int(i) for i in bad[0])
        return (f"{problem}. Position b={b}, t={t} has {int(ones[b, t])} nonzero entries: each position "
                f"must have exactly one 1, at v = ids[b, t] = {int(ids[b, t])}")
    return problem


def _one_hot_case(label, seed, B, T, V, high=None):
    return Case(label, (_ids(seed, B, T, V, high), V))


register(Check(
    name="02_window_lm.one_hot", points=1, reference=embeddings.one_hot,
    visible=lambda: [_one_hot_case("ids (B=2, T=3), V=6", 0, 2, 3, 6),
                     _one_hot_case("ids (B=1, T=4), V=10", 1, 1, 4, 10)],
    hidden=lambda: [_one_hot_case("ids (B=3, T=5), V=12", 2, 3, 5, 12),
                    _one_hot_case("ids (B=4, T=1), V=3", 3, 4, 1, 3),
                    _one_hot_case("ids (B=2, T=6), V=20, all ids below 5", 4, 2, 6, 20, high=5),
                    Case("the ids 0 and V-1", (torch.tensor([[0, 7], [7, 0]]), 8))],
    returns=TENSOR_TYPES, compare=_compare_one_hot))


# ---------------------------------------------------------------------------------------------
# embed(ids, E) -> (B, T, d), equal to nn.Embedding: values and gradient
# ---------------------------------------------------------------------------------------------

def _gradient(got, leaf, upstream) -> dict:
    """The plain description of d sum(got * upstream) / d leaf, when got is a tensor with a graph."""
    if not (isinstance(got, torch.Tensor) and got.requires_grad):
        return {}
    try:
        weight = upstream.to(got.dtype) if tuple(upstream.shape) == tuple(got.shape) else torch.ones_like(got)
        (grad,) = torch.autograd.grad((got * weight).sum(), leaf, allow_unused=True)
        return {"grad": describe(grad) if grad is not None else None}
    except Exception as error:  # noqa: BLE001 (the student's graph)
        return {"grad_error": f"{type(error).__name__}: {error}"}


def _probe_embed(student_fn, inputs, seconds):
    """student_fn(ids, E) with E a leaf that requires grad; the answer and the gradient of E."""
    ids, E, upstream = inputs
    leaf = E.clone().requires_grad_(True)
    got, problem = call_student(student_fn, (ids.clone(), leaf), seconds, copy_inputs=False)
    if problem:
        return {"error": problem}
    return {"answer": describe(got), **_gradient(got, leaf, upstream)}


def _judge_gradient(case: Case, result, expected, expected_grad, what, grad_dims, leaf_name,
                    compare_value) -> Optional[str]:
    """Type, then the value (``compare_value``), then that a gradient reaches the leaf and
    equals the reference's."""
    problem = type_problem(result["answer"], TENSOR_TYPES)
    if problem:
        return problem
    got = restore(result["answer"])
    problem = compare_value(case, expected, got)
    if problem:
        return problem
    if "grad_error" in result:
        return f"computing the gradient through your {what} failed: {result['grad_error']}"
    if not result["answer"].get("requires_grad") or result.get("grad") is None:
        return (f"your {what} {'have' if what.endswith('s') else 'has'} the right values but no gradient reaches {leaf_name}: compute it from "
                f"{leaf_name} with torch operations (no .detach(), .item(), numpy or torch.no_grad()), "
                "so that training can update it")
    return compare_tensor(rtol=1e-6, atol=1e-9, dims=grad_dims,
                          what=f"the gradient of {leaf_name}")(case, expected_grad, restore(result["grad"]))


def _embedding_grad(ids, E, upstream):
    layer = nn.Embedding.from_pretrained(E.clone(), freeze=False)
    (layer(ids) * upstream.to(E.dtype)).sum().backward()
    return layer.weight.grad


def _judge_embed(case: Case, result) -> Optional[str]:
    ids, E, upstream = case.args
    expected = nn.Embedding.from_pretrained(E.clone())(ids).detach()
    assert torch.equal(expected, embeddings.embed(ids, E))

    def compare_value(case, expected, got):
        if got.dim() == 2 and tuple(got.shape) == (ids.shape[0], E.shape[1]):
            return (f"embeddings have shape {tuple(got.shape)}, expected (B={ids.shape[0]}, T={ids.shape[1]}, "
                    f"d={E.shape[1]}): one vector per token, not one per sequence (nothing is summed)")
        if got.dim() == 2 and tuple(got.shape) == (ids.numel(), E.shape[1]):
            return (f"embeddings have shape {tuple(got.shape)}, expected (B={ids.shape[0]}, T={ids.shape[1]}, "
                    f"d={E.shape[1]}): reshape the (B*T, d) product back to (B, T, d)")
        return compare_tensor(rtol=1e-6, atol=1e-9, dims=("b", "t", "d"), what="embeddings")(case, expected, got)

    return _judge_gradient(case, result, expected, _embedding_grad(ids, E, upstream),
                           "embeddings", ("v", "d"), "E", compare_value)


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
                    _embed_case("ids (B=2, T=6), E (V=5, d=5)", 15, 2, 6, 5, 5)],
    probe=_probe_embed, judge=_judge_embed))


# ---------------------------------------------------------------------------------------------
# context_windows(ids, context_size, bos_id, eos_id) -> (contexts (N, n-1), targets (N,))
# ---------------------------------------------------------------------------------------------

def _window_mistakes(ids, k, bos, eos) -> dict:
    """Contexts made with a known mistake, by a readable loop over the stream."""
    def loop(reset=True, pad=bos, reverse=False, include_target=False):
        out, history = [], []
        for w in ids.tolist():
            if include_target:
                history.append(w)
            context = ([pad] * k + history)[-k:]
            out.append(context[::-1] if reverse else context)
            if not include_target:
                history.append(w)
            if reset and w == eos:
                history = []
        return torch.tensor(out, dtype=torch.long).view(-1, k)

    return {
        "your windows run across sentence ends: each sentence starts again from n-1 <s> "
        "(the token after </s> must have the context <s> ... <s>)": lambda: loop(reset=False),
        "your context includes the target itself: the context of w_t is w_{t-n+1} ... w_{t-1}, "
        "the tokens *before* it": lambda: loop(include_target=True),
        "your context is in reverse order: oldest token first, w_{t-n+1} ... w_{t-1}": lambda: loop(reverse=True),
        "your padding is 0: the missing tokens before a sentence start are <s> (bos_id)": lambda: loop(pad=0),
        "your padding uses </s> (eos_id) instead of <s> (bos_id)": lambda: loop(pad=eos),
        "your padding uses the id 1 whatever bos_id is: use the bos_id you are given": lambda: loop(pad=1),
    }


def _compare_windows(case: Case, expected, got) -> Optional[str]:
    ids, k, bos, eos = case.args
    if len(got) != 2:
        return f"expected a pair (contexts, targets), got a {type(got).__name__} of {len(got)} items"
    contexts, targets = got
    for value, what in [(contexts, "contexts"), (targets, "targets")]:
        problem = _tensor_problem(value, what)
        if problem:
            return problem
    exp_contexts, exp_targets = expected
    if tuple(targets.shape) != tuple(exp_targets.shape):
        eos_count = int((ids == eos).sum())
        hint = ""
        if targets.numel() == ids.numel() - eos_count:
            hint = ": </s> must be a target too (every token of the stream is predicted, once)"
        elif targets.numel() == ids.numel() - 1:
            hint = (": every token of the stream is a target, the first one included (its context is "
                    "all <s>); targets are ids itself, not ids shifted by one")
        return f"targets has shape {tuple(targets.shape)}, expected (N={ids.numel()},){hint}"
    problem = compare_tensor(rtol=0, atol=0, dims=("i",), what="targets")(case, exp_targets, targets)
    if problem:
        return problem + ": targets[i] = ids[i], every token (</s> included) is predicted"
    if contexts.dim() == 2 and contexts.shape[0] == ids.numel() and contexts.shape[1] != k:
        return (f"contexts has shape {tuple(contexts.shape)}, expected (N={ids.numel()}, n-1={k}): "
                f"one column per context token, context_size = {k} of them")
    problem = compare_tensor(rtol=0, atol=0, dims=("i", "j"), what="contexts")(case, exp_contexts, contexts)
    if problem is None:
        return None
    rows = (contexts != exp_contexts).any(1).nonzero()
    if len(rows):
        i = int(rows[0])
        problem = (f"contexts first differs in the window of token i={i} (id {int(ids[i])}): expected "
                   f"{exp_contexts[i].tolist()}, got {contexts[i].tolist()}")
    mistake = _first_match(contexts, _window_mistakes(ids, k, bos, eos), rtol=0, atol=0)
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
                    Case("an empty sentence between two others", (_stream([[4, 5, 2], [2], [6, 2]]), 2, 1, 2)),
                    Case("bos_id=3, eos_id=4", (_random_stream(23, 5, 4, 3), 3, 3, 4))],
    returns=("tuple", "list"), compare=_compare_windows))


# ---------------------------------------------------------------------------------------------
# window_lm_logits(contexts, C, W, b1, U, b2) -> logits (B, V)
# ---------------------------------------------------------------------------------------------

def _logit_mistakes(contexts, C, W, b1, U, b2) -> dict:
    B = contexts.shape[0]
    e = C[contexts].flatten(1)
    pre = e @ W.T + b1
    z = torch.tanh(pre) @ U.T + b2
    return {
        "the tanh is missing: h = tanh(W e + b1)": lambda: pre @ U.T + b2,
        "you used the sigmoid instead of tanh": lambda: torch.sigmoid(pre) @ U.T + b2,
        "you used ReLU instead of tanh": lambda: torch.relu(pre) @ U.T + b2,
        "your concatenation is in reverse order: e = [C(w_{t-n+1}); ...; C(w_{t-1})], oldest word first, "
        "as the columns of contexts": lambda: torch.tanh(C[contexts.flip(1)].flatten(1) @ W.T + b1) @ U.T + b2,
        "your e interleaves the embeddings (C[contexts] transposed before reshaping): e must be the "
        "embedding of the first word, then the whole embedding of the second, ...":
            lambda: torch.tanh(C[contexts].transpose(1, 2).reshape(B, -1) @ W.T + b1) @ U.T + b2,
        "you returned probabilities (a softmax of the logits): return z = U h + b2 itself": lambda: torch.softmax(z, -1),
        "you returned log-probabilities (log_softmax of the logits): return z = U h + b2 itself":
            lambda: torch.log_softmax(z, -1),
        "the bias b1 is missing": lambda: torch.tanh(e @ W.T) @ U.T + b2,
        "the bias b2 is missing": lambda: torch.tanh(pre) @ U.T,
    }


def _params(seed, V, k, d, H, dtype=torch.float64):
    scale_in, scale_h = 1 / math.sqrt(k * d), 1 / math.sqrt(H)
    return (_randn(seed + 1, V, d, dtype=dtype), scale_in * _randn(seed + 2, H, k * d, dtype=dtype) * 3,
            _randn(seed + 3, H, dtype=dtype) * 0.5, scale_h * _randn(seed + 4, V, H, dtype=dtype) * 2,
            _randn(seed + 5, V, dtype=dtype) * 0.5)


def _logits_case(label, seed, B, k, V, d, H, dtype=torch.float64):
    return Case(label, (_ids(seed, B, k, V),) + _params(seed, V, k, d, H, dtype))


register(Check(
    name="02_window_lm.window_lm_logits", points=2, reference=window_lm.window_logits,
    visible=lambda: [_logits_case("B=2, n-1=2, V=7, d=3, H=4", 30, 2, 2, 7, 3, 4),
                     _logits_case("B=3, n-1=3, V=6, d=2, H=5", 31, 3, 3, 6, 2, 5)],
    hidden=lambda: [_logits_case("B=4, n-1=4, V=10, d=4, H=6", 32, 4, 4, 10, 4, 6),
                    _logits_case("B=1, n-1=1, V=5, d=3, H=2", 33, 1, 1, 5, 3, 2),
                    _logits_case("B=5, n-1=2, V=8, d=5, H=3", 34, 5, 2, 8, 5, 3),
                    _logits_case("B=2, n-1=3, V=9, d=2, H=7, float32", 35, 2, 3, 9, 2, 7, torch.float32)],
    returns=TENSOR_TYPES,
    compare=compare_tensor(rtol=1e-5, atol=1e-7, dims=("b", "v"), what="logits",
                           explain=lambda case, e, g: _first_match(g, _logit_mistakes(*case.args), rtol=1e-5, atol=1e-7))))


# ---------------------------------------------------------------------------------------------
# cross_entropy(logits, targets) -> scalar tensor, equal to F.cross_entropy: value and gradient
# ---------------------------------------------------------------------------------------------

def _loss_mistakes(logits, targets) -> dict:
    B = logits.shape[0]
    rows = torch.arange(B)
    return {
        "your loss is the sum over the batch: take the mean": lambda: F.cross_entropy(logits, targets, reduction="sum"),
        "your loss has the wrong sign: it is the *negative* log-probability": lambda: -F.cross_entropy(logits, targets),
        "your loss is in bits (log2): use the natural log": lambda: F.cross_entropy(logits, targets) / math.log(2),
        "your softmax normalises over the batch (dim 0) instead of over the vocabulary (dim -1)":
            lambda: -torch.log_softmax(logits, 0)[rows, targets].mean(),
        "your loss picks logits[:, targets] (a B x B matrix): pick one entry per row, "
        "logits[torch.arange(B), targets], or use gather": lambda: -torch.log_softmax(logits, -1)[:, targets].mean(),
        "your loss leaves out the log: -log softmax(z)[target], not -softmax(z)[target]":
            lambda: -torch.softmax(logits, -1)[rows, targets].mean(),
        "your loss leaves out the softmax normaliser: log softmax(z)_i = z_i - log sum_j exp(z_j)":
            lambda: -logits[rows, targets].mean(),
    }


def _judge_cross_entropy(case: Case, result) -> Optional[str]:
    logits, targets = case.args
    leaf = logits.clone().requires_grad_(True)
    expected = F.cross_entropy(leaf, targets)
    (expected_grad,) = torch.autograd.grad(expected, leaf)
    assert torch.allclose(window_lm.cross_entropy(logits, targets), expected.detach())
    answer = result["answer"]
    if answer["type"] in ("float", "numpy.float64", "numpy.float32"):
        return (f"expected a torch.Tensor, got a {answer['type']} ({fmt(float(answer['value']))}): return the "
                "loss tensor itself (no .item()), so that loss.backward() can train the model")

    def compare_value(case, expected, got):
        if got.numel() == 1 and got.dim() > 0:
            return (f"the loss has shape {tuple(got.shape)}, expected a scalar tensor, shape (): "
                    "the mean over the batch")
        if got.dim() != 0:
            return f"the loss has shape {tuple(got.shape)}, expected a scalar tensor, shape (): the mean over the batch"
        if not torch.isfinite(got):
            return (f"your loss is {got.item()} for logits as large as {fmt(float(logits.abs().max()))}: exp(z) "
                    "overflows. Compute log softmax stably: z_i - max(z) - log sum_j exp(z_j - max(z)), "
                    "or with torch.logsumexp")
        problem = compare_tensor(rtol=1e-6, atol=1e-9, what="the loss")(case, expected, got)
        if problem is None:
            return None
        mistake = _first_match(got, _loss_mistakes(logits, targets), rtol=1e-6, atol=1e-9)
        return f"{problem}. {mistake}" if mistake else problem

    return _judge_gradient(case, result, expected.detach(), expected_grad, "loss",
                           ("b", "v"), "the logits", compare_value)


def _loss_case(label, seed, B, V, scale=2.0, dtype=torch.float64):
    return Case(label, ((_randn(seed, B, V) * scale).to(dtype), torch.randint(0, V, (B,), generator=_gen(seed + 1))))


def _probe_cross_entropy(student_fn, inputs, seconds):
    """student_fn(logits, targets) with the logits a leaf that requires grad; the loss and the
    gradient of the logits."""
    logits, targets = inputs
    leaf = logits.clone().requires_grad_(True)
    got, problem = call_student(student_fn, (leaf, targets.clone()), seconds, copy_inputs=False)
    if problem:
        return {"error": problem}
    return {"answer": describe(got), **_gradient(got, leaf, torch.ones(()))}


register(Check(
    name="02_window_lm.cross_entropy", points=2, reference=window_lm.cross_entropy,
    visible=lambda: [_loss_case("logits (B=4, V=5)", 40, 4, 5),
                     _loss_case("logits (B=3, V=10)", 41, 3, 10)],
    hidden=lambda: [_loss_case("logits (B=6, V=3)", 42, 6, 3),
                    _loss_case("logits (B=1, V=7)", 43, 1, 7),
                    _loss_case("logits as large as 1000 (B=5, V=4)", 44, 5, 4, scale=1000.0),
                    _loss_case("float32 logits (B=8, V=6)", 45, 8, 6, dtype=torch.float32)],
    probe=_probe_cross_entropy, judge=_judge_cross_entropy))


# ---------------------------------------------------------------------------------------------
# train_window_lm(contexts, targets, vocab_size, seed) -> a model: contexts (B, n-1) -> logits (B, V)
# ---------------------------------------------------------------------------------------------

@lru_cache(maxsize=4)
def training_data(seed: int, context_size: int) -> tuple:
    """(train contexts, train targets, held-out contexts, held-out targets, V, add-k trigram
    perplexity on the held-out sentences) from a small synthetic corpus."""
    corpus = synthetic_corpus("small", seed=seed)
    vocab = Vocab.build(corpus.train)
    train = window_lm.context_windows(encode_stream(corpus.train, vocab), context_size)
    test = window_lm.context_windows(encode_stream(corpus.test, vocab), context_size)
    trigram = ngram.NGramLM(3, "addk", k=ADDK).fit(corpus.train, vocab=vocab)
    return (*train, *test, len(vocab), float(trigram.perplexity(corpus.test)))


def _probe_training(student_fn, inputs, seconds):
    """Train with the student's function, then score the model on the held-out windows: its
    perplexity, and its perplexity if the targets were the last context word (a model trained
    on shifted targets)."""
    train_contexts, train_targets, test_contexts, test_targets, vocab_size, seed, threshold = inputs
    threads = torch.get_num_threads()
    torch.set_num_threads(1)          # small models: one thread is faster, and reproducible
    try:
        got, problem = call_student(student_fn, (train_contexts.clone(), train_targets.clone(), int(vocab_size),
                                                 int(seed)), seconds, copy_inputs=False)
    finally:
        torch.set_num_threads(threads)
    if problem:
        return {"error": problem}
    if not isinstance(got, nn.Module):
        return {"answer": describe(got)}
    try:
        got.eval()
        with torch.no_grad():
            logits = got(test_contexts.clone())
        if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (len(test_targets), int(vocab_size)):
            shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
            return {"error": f"your model returned {shape} for contexts of shape {tuple(test_contexts.shape)}: "
                             f"expected logits of shape (B={len(test_targets)}, V={int(vocab_size)})"}
        log_probs = torch.log_softmax(logits.double(), -1)
        nll = float(-log_probs.gather(1, test_targets[:, None]).mean())
        nll_last = float(-log_probs.gather(1, test_contexts[:, -1:]).mean())
    except Exception as error:  # noqa: BLE001 (the student's model)
        return {"error": f"calling your model on held-out contexts failed: {type(error).__name__}: {error}"}
    return {"answer": {"type": "torch.nn.Module"}, "nll": nll, "nll_last": nll_last}


def _judge_training(case: Case, result) -> Optional[str]:
    train_contexts, train_targets, test_contexts, test_targets, V, seed, threshold = case.args
    if result["answer"]["type"] != "torch.nn.Module":
        return f"expected your trained model (a torch.nn.Module), got a {result['answer']['type']}"
    nll, nll_last = float(result["nll"]), float(result["nll_last"])
    ppl = math.exp(nll) if math.isfinite(nll) and nll < 700 else math.inf
    if ppl <= threshold:
        return None
    counts = np.bincount(train_targets.numpy(), minlength=int(V)) + 1
    unigram = math.exp(float(-np.log(counts / counts.sum())[test_targets.numpy()].mean()))
    message = (f"your model's held-out perplexity is {fmt(ppl)}; it must beat the add-{ADDK:g} trigram of "
               f"chapter 01 on the same text, {threshold:.2f} (a uniform guess scores V = {int(V)}, word "
               f"frequencies alone {unigram:.2f})")
    if nll_last < min(nll - 1.0, math.log(int(V))):
        return message + (". It predicts the last word of its context (perplexity "
                          f"{fmt(math.exp(min(nll_last, 700)))} on those): the target of contexts[i] is targets[i]")
    if not math.isfinite(nll) or ppl > 0.9 * int(V):
        return message + (": it learned nothing, or learned the opposite. Did you call optimizer.zero_grad(), "
                          "loss.backward() and optimizer.step() for every batch, and minimise the cross-entropy "
                          "of the logits (F.cross_entropy takes logits, not probabilities)?")
    if ppl > unigram * 0.9:
        return message + (": it does no better than word frequencies, as if the contexts told it nothing. "
                          "Are contexts[i] and targets[i] still paired after you shuffle them?")
    return message + ": train longer, or with a larger learning rate"


def _training_case(label, seed, context_size):
    *data, threshold = training_data(seed, context_size)
    return Case(label, (*data, seed, threshold))


register(Check(
    name="02_window_lm.train_window_lm", points=3,
    visible=lambda: [_training_case("synthetic language, 1000 sentences, n-1=2, seed 0", 0, 2)],
    hidden=lambda: [_training_case("other synthetic sentences, n-1=3, seed 1", 1, 3)],
    probe=_probe_training, judge=_judge_training, time_limit=90.0))
