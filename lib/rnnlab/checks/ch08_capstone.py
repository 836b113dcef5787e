"""Checks of assignment 08 (the capstone: every model on one corpus): perplexity in bits and nats
from any model's log-probabilities, weight tying, a language model trained under a parameter
budget, and the early-stopping epoch of a training curve: ``08_capstone.<part>``.

The notebook's model is ``CapstoneLM`` (defined here, torch.nn only, so that the grading sandbox
has it too): an embedding, one recurrent layer of any kind of the course and an output layer,
the shape of ``rnnlab.models.RNNLM``. A case of weight tying carries the model as its weights;
the probe rebuilds it, lets the student's function tie it, and reports what it finds: whether
the two matrices are one ``Parameter``, the parameters ``model.parameters()`` counts, the values
kept, and whether one gradient step keeps the two equal. The trained model crosses to the judge
as its weights only: the judge rebuilds a ``CapstoneLM``, counts its parameters (a tied matrix
once) and measures its perplexity on held-out text itself, counting as part 1 counts
(``rnnlab.lm.cross_entropy_and_perplexity``).

Mistakes are named only where the answer is what that mistake gives and the right answer is not
(``diagnose``): ``</s>`` left out or ``<s>`` counted, words outside the vocabulary or ``<unk>``
dropped, a mean over sentences, perplexity as e^H in bits; a copied matrix, the tie the other way
round, a lost bias, the bias counted in the saving; the whole curve's best epoch, a patience off
by one, ties to the later epoch, NaN taken as the best.
"""

from __future__ import annotations

import functools
import math
from dataclasses import replace
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import lm, models, reproduce, train
from ..data.synthetic import synthetic_corpus
from ..data.batching import build_vocab
from ..ngram import NGramLM
from .framework import (Case, Check, _where, call_student, diagnose, fmt_pair, module_answer, never_updated,
                        numbers_differ, register, restored_weights, seeded_initialisation, short,
                        switched_off)
from .plain import NUMBER_TYPES, describe, restore

UNK_ID, BOS_ID, EOS_ID = 0, 1, 2          # <unk> 0, <s> 1, </s> 2 in every vocabulary of the notebook
KINDS = {"rnn": 1, "gru": 3, "lstm": 4}    # rows of weight_ih per hidden unit


# ---------------------------------------------------------------------------------------------
# The notebook's model (torch.nn only)
# ---------------------------------------------------------------------------------------------

class CapstoneLM(nn.Module):
    r"""A recurrent language model: :math:`P(w_{t+1} \mid w_{\le t}) = \mathrm{softmax}(U h_t + b)`.

    ``embedding``, ``nn.Embedding(V, E)``; ``rnn``, an ``nn.LSTM``, ``nn.GRU`` or ``nn.RNN`` (tanh)
    ``(E, H, batch_first=True)`` by ``kind``; ``output``, ``nn.Linear(H, V)``.
    ``forward(tokens (B, T), state=None) -> (logits (B, T, V), state)``: the state as the
    recurrent layer's (h (1, B, H), or (h, c) for an LSTM; never batch-first), zeros if None."""

    def __init__(self, vocab_size: int, embedding_dim: int = 32, hidden_size: int = 32, kind: str = "lstm"):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
        self.kind = kind
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.rnn = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[kind](embedding_dim, hidden_size,
                                                                        batch_first=True)
        self.output = nn.Linear(hidden_size, vocab_size)

    def forward(self, tokens, state=None):
        outputs, state = self.rnn(self.embedding(tokens), state)
        return self.output(outputs), state


IMPLEMENT = ("this part is yours to implement: write it with torch and Python, not with the course "
             "library's reference")


def _library_off():
    """The course library's answers to the parts, switched off while a student's function runs (in
    the grading sandbox they do not exist at all; here they say so)."""
    return switched_off([(lm, "cross_entropy_and_perplexity"), (models, "tie_output_to_embedding"),
                         (models, "RNNLM"), (train, "train_language_model"), (train, "train_epoch"),
                         (train, "fit_neural_lm"), (reproduce.RunConfig, "stops_after")], IMPLEMENT)


def _raising(student_fn):
    """``student_fn`` made to return ("returned", answer) or ("raised", "TypeName: message (where)",
    "TypeName") instead of raising, so that a judge can require an error (NotImplementedError still says the
    part is not written yet)."""
    def calling(*args):
        try:
            return "returned", student_fn(*args)
        except NotImplementedError:
            raise
        except Exception as error:  # noqa: BLE001 (judged: the case may require it)
            where = "" if isinstance(error, ValueError) else _where(error)   # where only for an error no case asks for
            return "raised", f"{type(error).__name__}: {error}{where}", type(error).__name__
    return calling


def _outcome(got) -> dict:
    """Plain data of what ``_raising`` gave back."""
    if got[0] == "raised":
        return {"raised": got[1], "raised_type": got[2]}
    return {"answer": describe(got[1])}


def _probe_may_raise(student_fn, inputs, seconds) -> dict:
    with _library_off():
        got, problem = call_student(_raising(student_fn), inputs, seconds)
    return {"error": problem} if problem else _outcome(got)


def _number(desc: dict) -> Optional[float]:
    """The float an answer stands for (a Python or numpy number, or a one-element float tensor), or None."""
    if desc.get("type") in NUMBER_TYPES and "value" in desc:
        return float(restore(desc))
    if desc.get("type") == "torch.Tensor" and "array" in desc:
        value = restore(desc)
        if value.numel() == 1 and value.dtype.is_floating_point:
            return float(value)
    return None


def _shown(answer: dict) -> str:
    """An answer in a few words, on one line: its value if it is a scalar, else its type (and shape)."""
    if "value" in answer:
        return f"{short(answer['value'])} (a {answer['type']})"
    if "array" in answer:
        return f"a {answer['type']} of shape {tuple(np.shape(answer['array']))}"
    if answer.get("kind") == "sequence":
        return f"a {answer['type']} of {len(answer['items'])} items"
    return f"a {answer['type']}"


def _required_error(result: dict, why: str) -> Optional[str]:
    """The judgement of a case whose right answer is to raise a ValueError."""
    if result.get("raised_type") == "ValueError":
        return None
    if "raised" in result:
        return f"expected a ValueError ({why}); your function raised {result['raised']}"
    return f"expected a ValueError ({why}); your function returned {_shown(result['answer'])}"


# ---------------------------------------------------------------------------------------------
# perplexity(sentences, log_probs, vocab, base) -> (cross_entropy, perplexity)
# ---------------------------------------------------------------------------------------------

def reference_perplexity(sentences, log_probs, vocab, base):
    return lm.cross_entropy_and_perplexity(sentences, log_probs, vocab, base)


def _power(base, exponent) -> float:
    try:
        return float(base ** exponent)
    except OverflowError:
        return math.inf


def _picked(sentences, log_probs, vocab, keep=lambda word, id_: True, eos=True) -> list:
    """Per sentence, the log-probabilities of its predicted tokens that ``keep`` keeps (with its
    ``</s>`` if ``eos``)."""
    table = log_probs.double().numpy()
    out = []
    for b, sentence in enumerate(sentences):
        pairs = [(w, vocab.get(w, UNK_ID)) for w in sentence]
        values = [table[b, t, i] for t, (w, i) in enumerate(pairs) if keep(w, i)]
        out.append(values + ([table[b, len(pairs), EOS_ID]] if eos else []))
    return out


def _perplexity_mistakes(sentences, log_probs, vocab, base) -> dict:
    """{explanation: () -> (cross_entropy, perplexity) of that mistake}."""
    def of(total, count, power=base):
        ce = -total / count
        return ce, _power(power, ce)

    every = _picked(sentences, log_probs, vocab)
    total = sum(sum(v) for v in every)
    W = sum(len(v) for v in every)
    no_eos = _picked(sentences, log_probs, vocab, eos=False)
    known = _picked(sentences, log_probs, vocab, keep=lambda w, i: w in vocab)
    no_unk = _picked(sentences, log_probs, vocab, keep=lambda w, i: i != UNK_ID)
    per_sentence = [_power(base, -sum(v) / len(v)) for v in every]
    ce = -total / W
    return {
        "you left out the </s> of each sentence: every sentence predicts its end, once":
            lambda: of(sum(sum(v) for v in no_eos), sum(len(v) for v in no_eos)),
        "your W counts <s> as a predicted token: <s> is read, never predicted (W = sum(len + 1))":
            lambda: of(total, W + len(sentences)),
        "you dropped the words outside the vocabulary: they are <unk>, predicted and counted like any token":
            lambda: of(sum(sum(v) for v in known), sum(len(v) for v in known)),
        "you dropped the <unk> tokens: <unk> is predicted and counted like any token":
            lambda: of(sum(sum(v) for v in no_unk), sum(len(v) for v in no_unk)),
        "you divided by the number of sentences: divide by W, the number of predicted tokens":
            lambda: of(total, len(sentences)),
        "your perplexity is the mean of the sentences' perplexities: take base^H of the whole text's "
        "cross-entropy H":
            lambda: (ce, sum(per_sentence) / len(per_sentence)),
        "your perplexity is e^H though H is in the unit of the base: perplexity is base^H":
            lambda: (ce, _power(math.e, ce)) if base != math.e else None,
        "your cross-entropy is in nats though the log-probabilities are in base 2 or 10: keep H in the "
        "unit of the base (bits for base 2)":
            lambda: (ce * math.log(base), _power(base, ce)) if base != math.e else None,
    }


def _close_pair(a, b) -> bool:
    return not numbers_differ(a[0], b[0], 1e-9, 1e-12) and not numbers_differ(a[1], b[1], 1e-9, 1e-12)


def _judge_perplexity(case: Case, result) -> Optional[str]:
    sentences, log_probs, vocab, base = case.args
    if not sentences:
        return _required_error(result, "there is no sentence, so no predicted token: W = 0")
    if "raised" in result:
        return f"your function raised {result['raised']}"
    answer = result["answer"]
    items = answer.get("items") if answer.get("kind") == "sequence" else None
    if answer["type"] not in ("tuple", "list") or items is None or len(items) != 2:
        return f"expected a pair (cross_entropy, perplexity) of floats, got {_shown(answer)}"
    got = tuple(_number(item) for item in items)
    for what, value, item in zip(("cross_entropy", "perplexity"), got, items):
        if value is None:
            return f"your {what} is a {item['type']}: expected a float"
        if math.isnan(value):
            return (f"your {what} is NaN: read only the positions of real tokens (padding may hold NaN, "
                    "and 0 * NaN is NaN)")
    expected = reference_perplexity(sentences, log_probs, vocab, base)
    if _close_pair(expected, got):
        return None
    unit = {2: "bits", math.e: "nats"}.get(base, f"base-{base:g} units")
    wrong = "cross_entropy" if numbers_differ(expected[0], got[0], 1e-9, 1e-12) else "perplexity"
    index = 0 if wrong == "cross_entropy" else 1
    message = "your {} is {}, expected {}".format(wrong, *reversed(fmt_pair(expected[index], got[index])))
    if wrong == "cross_entropy":
        message += f" {unit} per token"
    if wrong == "perplexity" and math.isinf(got[1]) and math.isfinite(expected[1]):
        return (message + ": base^(-sum) or a product of probabilities overflows on a long text; take base^H of "
                "the mean, H = -(1/W) sum log P")
    why = _all_diagnoses(got, expected, _perplexity_mistakes(sentences, log_probs, vocab, base), _close_pair)
    return f"{message}. {why[0].upper() + why[1:]}" if why else message


def _vocab(words) -> dict:
    return {w: i for i, w in enumerate(["<unk>", "<s>", "</s>"] + list(words))}


COUNT_TRAIN = [["the", "cat", "sat"], ["the", "dog", "sat", "down"], ["a", "cat", "ran"], ["the", "cat", "ran", "down"],
               ["a", "dog", "sat"]]


def _count_log_probs(sentences, base, pad=float("nan")) -> tuple:
    """(log_probs (B, T, V), vocab) of a Kneser-Ney bigram model fitted on COUNT_TRAIN (chapter 01),
    read from <s>; positions past each sentence's </s> hold ``pad``."""
    from ..vocab import Vocab
    vocabulary = Vocab.build(COUNT_TRAIN)
    model = NGramLM(2, "kn").fit(COUNT_TRAIN, vocabulary)
    T = max([len(s) for s in sentences] + [0]) + 1
    out = torch.full((len(sentences), T, len(vocabulary)), pad, dtype=torch.float64)
    for b, sentence in enumerate(sentences):
        words = [w if w in vocabulary.stoi else "<unk>" for w in sentence]
        for t in range(len(words) + 1):
            with np.errstate(divide="ignore"):
                out[b, t] = torch.from_numpy(np.log(model.next_distribution(words[:t])) / math.log(base))
    return out, dict(vocabulary.stoi)


def _count_case(label, sentences, base, pad=float("nan")):
    log_probs, vocab = _count_log_probs(sentences, base, pad)
    return Case(label, (sentences, log_probs, vocab, base))


def _neural_case(label, sentences, base, seed, extra=0, pad=float("nan"), words=("a", "b", "c", "d", "e")):
    """A seeded CapstoneLM's log-probabilities of ``sentences``, read after </s> from a zero state,
    with ``extra`` more padding positions."""
    vocab = _vocab(words)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CapstoneLM(len(vocab), 4, 5, "gru").double()
        with torch.no_grad():
            model.output.weight.mul_(3.0)
    T = max([len(s) for s in sentences] + [0]) + 1 + extra
    inputs = torch.full((len(sentences), T), EOS_ID)
    for b, sentence in enumerate(sentences):
        inputs[b, 1:len(sentence) + 1] = torch.tensor([vocab.get(w, UNK_ID) for w in sentence], dtype=torch.long)
    with torch.no_grad():
        log_probs = torch.log_softmax(model(inputs)[0], -1) / math.log(base)
    for b, sentence in enumerate(sentences):
        log_probs[b, len(sentence) + 1:] = pad
    return Case(label, (sentences, log_probs, vocab, base))


def _long_case(label, tokens, base, seed):
    """One sentence of ``tokens`` words drawn from a 6-word vocabulary (and a few outside it), under
    seeded random next-token distributions."""
    g = torch.Generator().manual_seed(seed)
    words = ["a", "b", "c", "d", "e", "f"]
    vocab = _vocab(words)
    picks = torch.randint(0, len(words) + 1, (tokens,), generator=g).tolist()
    sentence = [words[i] if i < len(words) else "zzz" for i in picks]
    logits = torch.randn(1, tokens + 1, len(vocab), generator=g, dtype=torch.float64)
    logits[..., BOS_ID] = float("-inf")
    return Case(label, ([sentence], torch.log_softmax(logits, -1) / math.log(base), vocab, base))


def _corpus_case(label, sentences_count, base, seed):
    corpus = synthetic_corpus("tiny", seed=seed)
    return _neural_case(label, corpus.test[:sentences_count], base, seed,
                        words=build_vocab(corpus.train[:60]).itos[3:])


register(Check(
    name="08_capstone.perplexity", points=2,
    visible=lambda: [
        _count_case("a Kneser-Ney bigram model, 3 sentences, one word outside the vocabulary, base 2 (bits)",
                    [["the", "cat", "sat"], ["a", "dog", "ran", "down"], ["the", "bird", "sat"]], 2),
        _neural_case("a small GRU language model, 3 sentences, base e (nats)",
                     [["a", "b", "c"], ["d", "a"], ["e", "e", "b", "a"]], math.e, 1)],
    hidden=lambda: [
        _count_case("the bigram model in nats", [["the", "cat", "sat"], ["a", "dog", "ran", "down"],
                                                 ["the", "bird", "sat"]], math.e),
        _neural_case("the GRU model in bits, padding NaN", [["a", "b", "c"], ["d", "a"], ["e", "e", "b", "a"]], 2, 1),
        _neural_case("an empty sentence (it predicts </s> alone) and a sentence of one word, base 2",
                     [[], ["c"], ["a", "b", "e"]], 2, 2),
        _neural_case("a sentence of only words outside the vocabulary (all <unk>), and <unk> itself, base e",
                     [["x", "y", "z"], ["a", "<unk>", "b"]], math.e, 3),
        _neural_case("one sentence of one word, 4 more padding positions, base 10", [["b"]], 10, 4, extra=4),
        _neural_case("padding of minus infinity, base 2", [["a", "b"], ["c", "d", "e", "a", "b"]], 2, 5,
                     pad=float("-inf")),
        _count_case("the bigram model, sentences of the training text and words it never saw, padding 0, base 2",
                    [["the", "dog", "sat", "down"], ["a", "fish", "swam"], ["cat"]], 2, pad=0.0),
        _corpus_case("40 sentences of the synthetic language under a GRU model, base 2", 40, 2, 6),
        _long_case("one sentence of 100,000 tokens, base 2", 100_000, 2, 7),
        _long_case("one sentence of 100,000 tokens, base e", 100_000, math.e, 8),
        Case("no sentence at all (B = 0)", ([], torch.zeros(0, 1, 6, dtype=torch.float64), _vocab("abc"), 2))],
    probe=_probe_may_raise, judge=_judge_perplexity))


# ---------------------------------------------------------------------------------------------
# tie_weights(model) -> the parameters saved
# ---------------------------------------------------------------------------------------------

def reference_tie(model) -> int:
    return models.tie_output_to_embedding(model.embedding, model.output)


def _lm_weights(seed, V, E, H, kind) -> dict:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CapstoneLM(V, E, H, kind)
    return {k: v.clone() for k, v in model.state_dict().items()}


def _lm_of(weights) -> CapstoneLM:
    """A CapstoneLM (float32, torch's default, as a student's new layer is) with these weights (E, H, V
    and the kind read from their shapes)."""
    V, E = weights["embedding.weight"].shape
    H = weights["rnn.weight_hh_l0"].shape[1]
    kind = {n: k for k, n in KINDS.items()}[weights["rnn.weight_ih_l0"].shape[0] // H]
    model = CapstoneLM(V, E, H, kind)
    model.load_state_dict(weights)
    return model


def _probe_tie(student_fn, inputs, seconds):
    """Tie a fresh model with the student's function; what the model is afterwards: the same
    Parameter or not, the parameters counted, the values of both matrices and of the bias, and
    whether one SGD step on a loss keeps the two matrices equal."""
    (weights,) = inputs
    model = _lm_of(weights)
    with _library_off():
        got, problem = call_student(_raising(student_fn), (model,), seconds, copy_inputs=False)
    if problem:
        return {"error": problem}
    result = _outcome(got)
    try:
        embedding, output = model.embedding.weight, model.output.weight
        result["same"] = output is embedding
        result["count"] = sum(p.numel() for p in model.parameters())
        result["embedding"], result["output"] = describe(embedding.detach().clone()), describe(output.detach().clone())
        bias = getattr(model.output, "bias", None)
        result["bias"] = None if bias is None else describe(bias.detach().clone())
        tokens = torch.arange(embedding.shape[0])[None].remainder(embedding.shape[0])
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
        logits, _ = model(tokens)
        F.cross_entropy(logits[0], tokens[0].roll(1)).backward()
        optimizer.step()
        result["equal_after_step"] = bool(torch.equal(model.output.weight, model.embedding.weight))
    except Exception as error:  # noqa: BLE001 (a model the student's function broke)
        result["model_error"] = f"{type(error).__name__}: {error}"
    return result


def _judge_tie(case: Case, result) -> Optional[str]:
    (weights,) = case.args
    V, E = weights["embedding.weight"].shape
    H = weights["rnn.weight_hh_l0"].shape[1]
    if E != H:
        return _required_error(result, f"the output layer reads H={H} features and the embedding has E={E}: "
                                       "a (V, E) matrix cannot be the output's (V, H) one")
    if "raised" in result:
        return f"your function raised {result['raised']}"
    if "model_error" in result:
        return f"after your function the model no longer works: {result['model_error']}"
    saved = _number(result["answer"])
    if saved is None or result["answer"]["type"] not in ("int", "numpy.int64", "numpy.int32"):
        return f"expected the number of parameters saved (an int), got {_shown(result['answer'])}"
    before = sum(v.numel() for v in weights.values())
    embedding, output = restore(result["embedding"]), restore(result["output"])
    if not result["same"]:
        if tuple(output.shape) == tuple(embedding.shape) and torch.equal(output, embedding):
            return ("model.output.weight holds the embedding's values but is another Parameter (copied with "
                    ".data = or clone): the model still stores and trains two matrices; assign the embedding's "
                    "Parameter itself, model.output.weight = model.embedding.weight")
        return ("model.output.weight is not model.embedding.weight: the output layer must use the embedding's "
                "Parameter itself")
    if torch.equal(embedding, weights["output.weight"]) and not torch.equal(embedding, weights["embedding.weight"]):
        return ("the shared matrix holds the output layer's values: you tied the embedding to the output layer; "
                "tie the output layer to the embedding (model.output.weight = model.embedding.weight), which "
                "keeps the embedding's values")
    if not torch.equal(embedding, weights["embedding.weight"]):
        return "the shared matrix no longer holds the embedding's values: tying must not change them"
    bias = result["bias"]
    if bias is None:
        return "the output layer lost its bias: tying shares the matrix only, the output keeps its own bias b"
    if not torch.equal(restore(bias), weights["output.bias"]):
        return ("the output layer's bias changed (a new nn.Linear?): tie the weight of the model's own output "
                "layer and keep its bias")
    if result["count"] != before - V * E:
        return (f"the model has {result['count']} parameters after tying, expected {before - V * E} "
                f"({before} before, less the V*E = {V * E} of the shared matrix)")
    if not result.get("equal_after_step"):
        return "after one gradient step the two matrices differ: they are not one Parameter"
    if saved == V * E:
        return None
    message = f"the model is tied right, but you returned {saved:g} parameters saved, expected V*E = {V * E}"
    after = before - V * E
    explanations = {V * E + V: "you counted the output bias too: it is kept, not shared",
                    -V * E: "you returned after - before: the saving is before - after",
                    after: "you returned the parameters after tying: return how many fewer there are",
                    before: "you returned the parameters before tying: return how many fewer there are"}
    return f"{message}: {explanations[saved]}" if saved in explanations else message


def _tie_case(label, seed, V, E, H, kind):
    return Case(label, (_lm_weights(seed, V, E, H, kind),))


register(Check(
    name="08_capstone.tie_weights", points=2,
    visible=lambda: [_tie_case("an LSTM LM, V=12, E=H=6", 0, 12, 6, 6, "lstm"),
                     _tie_case("a GRU LM with E=6 and H=8: cannot be tied", 1, 12, 6, 8, "gru")],
    hidden=lambda: [_tie_case("a GRU LM, V=20, E=H=5", 2, 20, 5, 5, "gru"),
                    _tie_case("a tanh RNN LM, V=9, E=H=7", 3, 9, 7, 7, "rnn"),
                    _tie_case("an LSTM LM with E=8 and H=4: cannot be tied", 4, 10, 8, 4, "lstm"),
                    _tie_case("an LSTM LM, V=4, E=H=1", 5, 4, 1, 1, "lstm"),
                    _tie_case("a GRU LM, V=86, E=H=24 (the synthetic language's vocabulary)", 6, 86, 24, 24, "gru")],
    probe=_probe_tie, judge=_judge_tie))


# ---------------------------------------------------------------------------------------------
# train_lm(sentences, vocab, seed) -> a trained CapstoneLM
# ---------------------------------------------------------------------------------------------

MAX_PARAMETERS = 20_000   # a tied matrix counted once
THRESHOLD = 11.0          # test perplexity; Kneser-Ney trigram 13.45 (seed 0) and 13.27 (seed 1), oracle 8.68, 8.52
MAX_WEIGHTS = 2_000_000   # elements of one weight: far more than the budget allows


@functools.lru_cache(maxsize=4)
def lm_data(seed: int):
    """(training sentences, vocabulary {token: id} of the training text, test sentences, the oracle's
    test perplexity) of the synthetic language's default splits of a seed."""
    corpus = synthetic_corpus("default", seed=seed)
    vocab = build_vocab(corpus.train)
    return corpus.train, dict(vocab.stoi), corpus.test, corpus.oracle.perplexity(corpus.test)


def _probe_training(student_fn, inputs, seconds):
    """Train the student's model; copy its weights out as plain data (the judge rebuilds a
    CapstoneLM from them and measures it)."""
    sentences, vocab, seed = inputs
    with _library_off():
        got, problem = call_student(student_fn, (sentences, dict(vocab), seed), seconds, copy_inputs=False)
    return {"error": problem} if problem else module_answer(got)


def _trained_model(weights, vocab_size):
    """(a float64 CapstoneLM with the student's weights, None), or (None, what is wrong)."""
    found, problem = restored_weights(weights, MAX_WEIGHTS, "the budget allows")
    if problem:
        return None, problem
    keys = set(CapstoneLM(2, 1, 1, "gru").state_dict())
    if set(found) != keys:
        return None, (f"expected the notebook's CapstoneLM (weights {', '.join(sorted(keys))}), got a model with the "
                      f"weights {', '.join(sorted(found)) or 'none'}")
    if found["rnn.weight_hh_l0"].dim() != 2 or found["embedding.weight"].dim() != 2:
        return None, "your model's embedding and recurrent weights must be matrices"
    H, E = found["rnn.weight_hh_l0"].shape[1], found["embedding.weight"].shape[1]
    rows = found["rnn.weight_ih_l0"].shape[0]
    kind = {n * H: k for k, n in KINDS.items()}.get(rows)
    if kind is None:
        return None, f"your recurrent layer's weight_ih_l0 has {rows} rows: expected H, 3H or 4H with H={H}"
    model = CapstoneLM(vocab_size, E, H, kind).double()
    for key, param in model.state_dict().items():
        if tuple(found[key].shape) != tuple(param.shape):
            return None, (f"your model's {key} has shape {tuple(found[key].shape)}, expected {tuple(param.shape)} "
                          f"(a CapstoneLM({vocab_size}, embedding_dim={E}, hidden_size={H}, kind={kind!r}))")
    model.load_state_dict({k: v.double() for k, v in found.items()})
    if E == H and torch.equal(model.output.weight, model.embedding.weight):
        models.tie_output_to_embedding(model.embedding, model.output)   # tied: one matrix
    return model.eval(), None


def held_out_perplexity(model, sentences, vocab) -> float:
    """Perplexity of ``model`` on ``sentences``, each read after </s> from a zero state (as
    rnnlab.models.NeuralLM reads them), counted as part 1 counts."""
    with torch.no_grad():
        log_probs = torch.log_softmax(model(_read_after_eos(sentences, vocab))[0].double(), -1)
    return lm.cross_entropy_and_perplexity(sentences, log_probs, vocab)[1]


def _read_after_eos(sentences, vocab):
    """The inputs (B, T) </s> w_1 ... w_m of each sentence, padded with </s>."""
    inputs = torch.full((len(sentences), max(len(s) for s in sentences) + 1), EOS_ID)
    for b, sentence in enumerate(sentences):
        inputs[b, 1:len(sentence) + 1] = torch.tensor([vocab.get(w, UNK_ID) for w in sentence], dtype=torch.long)
    return inputs


def _parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


def _judge_training(case: Case, result) -> Optional[str]:
    sentences, vocab, seed = case.args
    answer_type = result["answer"].get("type")
    if answer_type != "torch.nn.Module":
        return f"expected your trained model (the notebook's CapstoneLM, a torch.nn.Module), got a {answer_type}"
    model, problem = _trained_model(result.get("weights"), len(vocab))
    if problem:
        return problem
    count = _parameters(model)
    if count > MAX_PARAMETERS:
        return (f"your model has {count:,} parameters (a tied matrix counted once): the budget is {MAX_PARAMETERS:,}; "
                "choose a smaller embedding or hidden size, or tie the output layer to the embedding")
    if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
        return "your model's weights contain NaN or infinity: training diverged (a learning rate far too large?)"
    _, _, test, oracle = lm_data(seed)
    perplexity = held_out_perplexity(model, test, vocab)
    if perplexity < THRESHOLD:
        return None
    message = (f"your model ({count:,} parameters) has a perplexity of {perplexity:.3f} on {len(test)} held-out "
               f"sentences; it needs below {THRESHOLD:g} (a Kneser-Ney trigram model has about 13.4, the language's "
               f"exact model {oracle:.2f})")
    H, E = model.rnn.hidden_size, model.embedding.embedding_dim
    untrained = seeded_initialisation(lambda: CapstoneLM(len(vocab), E, H, model.kind), seed)
    unchanged = never_updated(model, untrained)
    if len(unchanged) == len(model.state_dict()):
        return message + (". Your model's weights are exactly those of a CapstoneLM built right after "
                          "torch.manual_seed(seed): they were never updated (is optimizer.step() called?)")
    frozen = sorted({name.split(".")[0] for name in unchanged})
    if frozen:
        return message + (f". The weights of your model's {' and '.join(frozen)} are still those of the seeded "
                          "initialisation: give the optimizer all of model.parameters()")
    untrained_perplexity = held_out_perplexity(untrained, test, vocab)
    inputs = _read_after_eos(test, vocab)
    with torch.no_grad():
        predicted = model(inputs)[0].argmax(-1)
    real = torch.arange(inputs.shape[1])[None, :] <= torch.tensor([len(s) for s in test])[:, None]
    copying = float((predicted == inputs)[real].double().mean())
    if copying > 0.9:
        return message + (f". It predicts the token it reads ({100 * copying:.0f}% of the held-out positions): "
                          "it was trained with targets equal to its inputs; the target of input t is token t + 1")
    if 0.8 * untrained_perplexity < perplexity <= untrained_perplexity:
        return message + (f", hardly better than the {untrained_perplexity:.1f} of your model untrained: train for "
                          "more epochs, or with a larger learning rate")
    with torch.no_grad():
        after_eos = model(torch.tensor([[EOS_ID]]))[0][0, 0].argmax()
    first_words = {}
    for sentence in sentences:
        first_words[sentence[0]] = first_words.get(sentence[0], 0) + 1
    likeliest = max(first_words, key=first_words.get)
    if int(after_eos) != vocab[likeliest] or perplexity > untrained_perplexity:
        names = {i: w for w, i in vocab.items()}
        return message + (f". After </s> your model's likeliest next word is {names[int(after_eos)]!r}, while "
                          f"{likeliest!r} begins {100 * first_words[likeliest] / len(sentences):.0f}% of the "
                          "training sentences: encode the text with the vocabulary you are given (vocab[word]), "
                          "each sentence followed by </s>")
    on_train = held_out_perplexity(model, sentences[:len(test)], vocab)
    return message + (f". It improved from {untrained_perplexity:.1f} untrained (on training sentences it has "
                      f"{on_train:.3f}): train for more epochs, or with a larger learning rate")


def _training_case(label, seed):
    sentences, vocab, _, _ = lm_data(seed)
    return Case(label, (sentences, vocab, seed))


register(Check(
    name="08_capstone.train_lm", points=3,
    visible=lambda: [_training_case("the synthetic language, seed 0", 0)],
    hidden=lambda: [_training_case("the synthetic language, other sentences, seed 1", 1)],
    probe=_probe_training, judge=_judge_training, time_limit=60.0))


# ---------------------------------------------------------------------------------------------
# early_stopping_epoch(valid_perplexity, patience) -> the epoch whose weights are kept (0-based)
# ---------------------------------------------------------------------------------------------

def reference_early_stopping(valid_perplexity, patience) -> int:
    """Train epoch after epoch as rnnlab.reproduce does, stopping once ``RunConfig.stops_after``
    says so; the best epoch so far is the one kept. A NaN or infinite epoch is never the best."""
    config = replace(reproduce.CONFIGS["course"], patience=patience)
    finite = [v if math.isfinite(v) else math.inf for v in valid_perplexity]
    seen = []
    for value in finite:
        seen.append(value)
        if config.stops_after(seen):
            break
    if not seen or min(seen) == math.inf:
        raise ValueError("no epoch with a finite validation perplexity before training stops")
    return seen.index(min(seen))


def _stopped(curve, patience, better=lambda value, best: value < best, stops=lambda gap, patience: gap >= patience,
             nan_is_best=False, last=False) -> Optional[int]:
    """The epoch a training loop with these rules keeps (``last``: the one it stopped after), or None
    when the epoch it keeps is not finite: the reference's loop with a mistake put in."""
    values = [v if math.isfinite(v) or nan_is_best and math.isnan(v) else math.inf for v in curve]
    best = 0
    for epoch, value in enumerate(values):
        if nan_is_best and math.isnan(value):
            if not math.isnan(values[best]):
                best = epoch
        elif not math.isnan(values[best]) and better(value, values[best]):
            best = epoch
        if stops(epoch - best, patience):
            break
    if not values or values[best] == math.inf:
        return None
    return epoch if last else best


def _stopping_mistakes(curve, patience) -> dict:
    """{explanation: () -> the epoch that mistake keeps}."""
    finite = [v if math.isfinite(v) else math.inf for v in curve]
    return {
        "you took the best epoch of the whole curve: training stops at the first epoch where the patience runs "
        "out, and the epochs after it are never trained":
            lambda: finite.index(min(finite)) if finite and min(finite) < math.inf else None,
        "your patience is off by one: training stops once `patience` epochs in a row bring no new best, not "
        "patience + 1": lambda: _stopped(curve, patience, stops=lambda gap, p: gap > p),
        "your training stops one epoch too early: it stops after `patience` epochs without a new best, not "
        "patience - 1": lambda: _stopped(curve, patience, stops=lambda gap, p: gap >= p - 1),
        "you returned the last epoch trained: keep the weights of the best epoch":
            lambda: _stopped(curve, patience, last=True),
        "on a tie you took the later epoch as the new best: it must be strictly better":
            lambda: _stopped(curve, patience, better=lambda value, best: value <= best < math.inf),
        "you took a NaN epoch as the best: NaN and infinite perplexities are never the best":
            lambda: _stopped(curve, patience, nan_is_best=True),
        "your epoch is 1-based: count epochs from 0": lambda: reference_early_stopping(curve, patience) + 1,
    }


def _all_diagnoses(got, expected, mistakes: dict, close) -> Optional[str]:
    """The explanation of the mistake ``got`` is, or of each where several give it here."""
    found = [why for why in mistakes if diagnose(got, expected, {why: mistakes[why]}, close)]
    if len(found) > 1:
        return "that is what each of these mistakes gives here: " + "; or ".join(found)
    return found[0] if found else None


def _judge_stopping(case: Case, result) -> Optional[str]:
    curve, patience = case.args
    try:
        expected = reference_early_stopping(curve, patience)
    except ValueError:
        return _required_error(result, "no epoch trained before the stop has a finite perplexity, so there are no "
                                       "weights to keep")
    if "raised" in result:
        return f"your function raised {result['raised']}"
    answer = result["answer"]
    if answer["type"] not in ("int", "numpy.int64", "numpy.int32"):
        return f"expected an epoch (an int), got {_shown(answer)}"
    got = int(restore(answer))
    if got == expected:
        return None
    message = f"expected epoch {expected} (0-based), got {got}"
    why = _all_diagnoses(got, expected, _stopping_mistakes(curve, patience), lambda a, b: a == b)
    return f"{message}: {why}" if why else message


def _noisy_curve(seed, epochs) -> list:
    g = np.random.default_rng(seed)
    return [float(20 * math.exp(-e / 40) + 8 + v) for e, v in enumerate(g.normal(0, 0.4, epochs))]


NAN, INF = float("nan"), float("inf")

register(Check(
    name="08_capstone.early_stopping_epoch", points=2,
    visible=lambda: [Case("falls then rises, patience 2", ([30.0, 20.0, 15.0, 16.0, 17.0, 14.0], 2)),
                     Case("a curve that never stops improving, patience 3", ([40.0, 25.0, 19.0, 16.0], 3))],
    hidden=lambda: [
        Case("a later, better epoch after the patience ran out, patience 1", ([12.0, 11.0, 11.5, 9.0], 1)),
        Case("a gap of exactly the patience stops training, patience 3",
             ([20.0, 15.0, 16.0, 17.0, 18.0, 10.0], 3)),
        Case("a gap of one less than the patience does not, patience 3",
             ([20.0, 15.0, 16.0, 17.0, 14.0, 18.0, 19.0, 20.0], 3)),
        Case("a tie with the best is no improvement, patience 2", ([20.0, 12.0, 13.0, 12.0, 14.0, 11.0], 2)),
        Case("a tie the patience reaches", ([20.0, 12.0, 12.0, 14.0, 15.0], 5)),
        Case("NaN at the first epoch, patience 2", ([NAN, 30.0, 25.0, 26.0, 27.0, 20.0], 2)),
        Case("an epoch that diverged to infinity then NaN, patience 3", ([30.0, 24.0, INF, NAN, 23.0, 25.0], 3)),
        Case("NaN after the best, patience 2", ([30.0, 22.0, NAN, NAN, 10.0], 2)),
        Case("one epoch", ([42.0], 1)),
        Case("patience longer than the curve", ([30.0, 26.0, 27.0, 25.5, 28.0], 10)),
        Case("patience 1, rising from the start", ([10.0, 11.0, 9.0], 1)),
        Case("a noisy curve of 400 epochs, patience 5", (_noisy_curve(0, 400), 5)),
        Case("a noisy curve of 400 epochs, patience 30", (_noisy_curve(1, 400), 30)),
        Case("only NaN before the patience runs out: no weights to keep", ([NAN, NAN, NAN, 12.0], 2)),
        Case("no epoch at all", ([], 3))],
    probe=_probe_may_raise, judge=_judge_stopping))
