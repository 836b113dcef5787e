"""Checks of assignment 06 (deep and bidirectional RNNs, tagging and classification):
``06_deep_bidirectional.<part>``.

Each check compares the student's function with chapter 06's reference (``rnnlab.bidirectional``:
``stacked_forward``, ``bidirectional_forward``, ``sentence_vector``; ``rnnlab.tagging``:
``masked_token_loss``, ``masked_accuracy``; ``rnnlab.models.pool_sequence``) on seeded float64
inputs, values and then gradients. The padded batches hold random values past each sequence's
end (as pad embeddings do), so that a function that reads the padding gives other numbers;
lengths come unsorted, with length 1 and full-length sequences among them. When the answers
differ the judge recomputes the usual mistakes on the same inputs (the padded tensor flipped for
the backward direction, ``h_n[-1]`` taken as a sentence vector, ``output[:, -1]`` as the backward
final state, padding counted in the loss or the accuracy, padding winning a max, layers reading
the input instead of the layer below, ...) and names one only where the student's answer equals
it and the right answer does not (``framework.diagnose``).

The recurrent parts are given the cell as a function (``torch.rnn_tanh_cell`` or
``torch.gru_cell``): a case names it, and the probe passes the function itself. The trained
tagger crosses to the judge as its weights only: the judge rebuilds the notebook's ``Tagger``
and measures it on held-out sentences of the chapter's Toy English variant, on the homographs
whose tag only the words to the right decide.
"""

from __future__ import annotations

import functools
import math
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .. import bidirectional, models, tagging
from ..data.toy_english import UPOS_TAGS, ToyEnglish
from .framework import (Case, Check, as_leaves, call_student, compare_tensor, diagnose, fmt_pair,
                        gradient_error, judge_gradient, module_answer, probe_gradient, register,
                        restored_weights, type_problem, upstream_total)
from .plain import NUMBER_TYPES, TENSOR_TYPES, describe, restore

def _randn(seed: int, *shape) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _layer_weights(seed: int, cell: str, I: int, H: int) -> tuple:
    """(W_ih (G*H, I), W_hh (G*H, H), b_ih, b_hh (G*H,)), G = 3 for the GRU, seeded, scaled like
    torch.nn's initialisation."""
    G = 3 if cell == "gru" else 1
    return tuple(_randn(seed + k, *shape) / math.sqrt(H)
                 for k, shape in enumerate([(G * H, I), (G * H, H), (G * H,), (G * H,)]))


def _close(rtol: float = 1e-6, atol: float = 1e-9):
    """Two tensors (or sequences of tensors) of the same shapes and values."""
    def close(a, b) -> bool:
        if isinstance(a, (list, tuple)):
            return isinstance(b, (list, tuple)) and len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
        return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape
                and bool(torch.allclose(a.double(), b.double(), rtol=rtol, atol=atol, equal_nan=True)))
    return close


def _sentence(text: Optional[str]) -> Optional[str]:
    """``text`` as a sentence: its first letter capitalised."""
    return text[0].upper() + text[1:] if text else text


def _cell_function(name: str):
    """The one-step function a case names: "gru" is torch.gru_cell, "tanh" torch.rnn_tanh_cell."""
    return torch.gru_cell if name == "gru" else torch.rnn_tanh_cell


# ---------------------------------------------------------------------------------------------
# The recurrent parts: the cell passed as a function, (output, h_n) returned, gradients checked
# ---------------------------------------------------------------------------------------------

def _two_tensors(got) -> bool:
    return isinstance(got, (tuple, list)) and len(got) == 2 and all(isinstance(t, torch.Tensor) for t in got)


def _grads_of(pair, upstream, leaves) -> list:
    """The gradients of sum(output * upstream_output) + sum(h_n * upstream_h) w.r.t. ``leaves``."""
    total = upstream_total(pair, upstream)
    return list(torch.autograd.grad(total, leaves, allow_unused=True))


def _probe_recurrent(student_fn, inputs, seconds):
    """The student's function on the case's inputs but the last two (the upstream weights of
    the output and of h_n), the cell's name replaced by the cell itself and every float input a
    leaf; the answer and the gradients of sum(output * upstream_output) + sum(h_n * upstream_h)
    with respect to every leaf."""
    args = [_cell_function(a) if isinstance(a, str) else a for a in inputs[:-2]]
    args, leaves = as_leaves(args)
    got, problem = call_student(student_fn, tuple(args), seconds, copy_inputs=False)
    if problem:
        return {"error": problem}
    result = {"answer": describe(got), "grads": [None] * len(leaves)}
    upstream = inputs[-2:]
    if _two_tensors(got) and all(t.requires_grad for t in got) and \
            all(tuple(t.shape) == tuple(u.shape) for t, u in zip(got, upstream)):
        try:
            result["grads"] = [None if g is None else describe(g) for g in _grads_of(got, upstream, leaves)]
        except Exception as error:  # noqa: BLE001 (the student's graph)
            result["grad_error"] = gradient_error(error)
    return result


def _pair_problem(answer: dict) -> Optional[str]:
    """What is wrong with the type of an answer that must be a pair (output, h_n) of tensors."""
    if answer["type"] not in ("tuple", "list") or len(answer.get("items", [])) != 2:
        problem = type_problem(answer, ("tuple",))
        return (problem or f"your function returned a {answer['type']} of {len(answer['items'])} items") + \
            ": expected a pair (output, h_n) of tensors"
    for what, item in zip(("output", "h_n"), answer["items"]):
        problem = type_problem(item, TENSOR_TYPES)
        if problem:
            return f"your {what}: {problem}"
    return None


def _judge_recurrent(case: Case, result, reference, mistakes, names, dims) -> Optional[str]:
    """Type, then output and h_n against the reference (each diagnosed with ``mistakes``), then
    the gradients of every leaf."""
    problem = _pair_problem(result["answer"])
    if problem:
        return problem
    got = [restore(item) for item in result["answer"]["items"]]
    inputs = case.args[:-2]
    args = [_cell_function(a) if isinstance(a, str) else a for a in inputs]
    expected = [t.detach() for t in reference(*args)]
    found = mistakes(*inputs)
    for i, (what, d) in enumerate((("output", dims[0]), ("h_n", dims[1]))):
        explain = lambda c, e, g, i=i: _sentence(diagnose(  # noqa: E731
            g, e, {k: (lambda m=m: m()[i]) for k, m in found.items()}, _close()))
        problem = compare_tensor(dims=d, what=f"your {what}", explain=explain)(case, expected[i], got[i])
        if problem:
            return problem
    leaf_args, leaves = as_leaves(args)
    expected_grads = _grads_of(reference(*leaf_args), case.args[-2:], leaves)
    return judge_gradient(result, expected_grads, names, [()] * len(names))


# ---------------------------------------------------------------------------------------------
# stacked_forward(x, weights, cell) -> (output (B, T, H), h_n (L, B, H))
# ---------------------------------------------------------------------------------------------

def _run_layer(x, weights, cell, h0=None):
    """One layer over a whole (unpadded) batch-first sequence: states (B, T, H), last state."""
    W_ih, W_hh, b_ih, b_hh = weights
    h = x.new_zeros(x.shape[0], W_hh.shape[1]) if h0 is None else h0
    states = []
    for x_t in x.unbind(1):
        h = cell(x_t, h, W_ih, W_hh, b_ih, b_hh)
        states.append(h)
    return torch.stack(states, 1), h


def _stacked_mistakes(x, weights, cell_name) -> dict:
    cell = _cell_function(cell_name)

    def run(order=None, every_layer_reads_x=False, carry_state=False):
        layer_input, finals, outputs, h = x, [], [], None
        for w in (weights if order is None else order):
            states, h = _run_layer(x if every_layer_reads_x else layer_input, w, cell,
                                   h if carry_state else None)
            outputs.append(states)
            finals.append(h)
            layer_input = states
        return outputs, finals

    outputs, finals = run()
    first_states = [_run_layer(layer_in, w, cell)[0][:, 0]
                    for layer_in, w in zip([x] + outputs[:-1], weights)]
    return {
        "every layer of yours reads the input x: layer l > 0 must read the output sequence of layer l-1":
            lambda: (lambda o, f: (o[-1], torch.stack(f)))(*run(every_layer_reads_x=True)),
        "your output is the bottom layer's states: return the top layer's":
            lambda: (outputs[0], torch.stack(finals)),
        "your layers run in reverse order (the last weights first)":
            lambda: (lambda o, f: (o[-1], torch.stack(f)))(*run(order=weights[::-1])),
        "each of your layers starts from the final state of the layer below: every layer starts from zeros":
            lambda: (lambda o, f: (o[-1], torch.stack(f)))(*run(carry_state=True)),
        "your output concatenates the states of every layer: return the top layer's only":
            lambda: (torch.cat(outputs, -1), torch.stack(finals)),
        "your h_n is ordered top layer first: torch.nn's h_n is bottom layer first (h_n[0] is layer 0's)":
            lambda: (outputs[-1], torch.stack(finals[::-1])),
        "your h_n holds only the top layer's last state: it must hold every layer's, (L, B, H)":
            lambda: (outputs[-1], finals[-1][None]),
        "your h_n holds each layer's first state h_1, not its last h_T":
            lambda: (outputs[-1], torch.stack(first_states)),
    }


def _stacked_reference(x, weights, cell):
    return bidirectional.stacked_forward(x, weights, cell)


def _judge_stacked(case: Case, result) -> Optional[str]:
    x, weights, cell_name = case.args[:3]
    names = ["x"] + [f"{w} of layer {k}" for k in range(len(weights)) for w in ("W_ih", "W_hh", "b_ih", "b_hh")]
    return _judge_recurrent(case, result, _stacked_reference, _stacked_mistakes, names,
                            (("b", "t", "h"), ("l", "b", "h")))


def _stacked_case(label, seed, cell, L, B, T, I, H):
    weights = [_layer_weights(seed + 10 * k, cell, I if k == 0 else H, H) for k in range(L)]
    return Case(label, (_randn(seed + 100, B, T, I), weights, cell,
                        _randn(seed + 200, B, T, H), _randn(seed + 300, L, B, H)))


register(Check(
    name="06_deep_bidirectional.stacked_forward", points=2,
    visible=lambda: [_stacked_case("tanh cell, L=2 layers, B=2, T=5, I=H=4", 0, "tanh", 2, 2, 5, 4, 4),
                     _stacked_case("GRU cell, L=2, B=3, T=4, I=3, H=5", 1, "gru", 2, 3, 4, 3, 5)],
    hidden=lambda: [_stacked_case("tanh cell, L=3, B=2, T=6, I=5, H=4", 2, "tanh", 3, 2, 6, 5, 4),
                    _stacked_case("GRU cell, one layer: L=1, B=2, T=5, I=3, H=4", 3, "gru", 1, 2, 5, 3, 4),
                    _stacked_case("tanh cell, one step: L=4, B=3, T=1, I=H=3", 4, "tanh", 4, 3, 1, 3, 3),
                    _stacked_case("GRU cell, L=3, B=1, T=7, I=H=3", 5, "gru", 3, 1, 7, 3, 3),
                    _stacked_case("a long sequence: GRU cell, L=2, B=2, T=200, I=3, H=4",
                                  6, "gru", 2, 2, 200, 3, 4)],
    probe=_probe_recurrent, judge=_judge_stacked))


# ---------------------------------------------------------------------------------------------
# bidirectional_forward(x, lengths, cell, forward_weights, backward_weights)
#   -> (output (B, T, 2H), h_n (2, B, H))
# ---------------------------------------------------------------------------------------------

def _bidirectional_reference(x, lengths, cell, forward_weights, backward_weights):
    return bidirectional.bidirectional_forward(x, lengths, cell, forward_weights, backward_weights)


def _flipped_backward(x, lengths, cell, weights):
    """The classic bug: the backward RNN over the padded tensor flipped, outputs flipped back and
    zeroed past each end; its 'final' state is the one after position 0."""
    states, h = _run_layer(x.flip(1), weights, cell)
    mask = bidirectional.length_mask(lengths, x.shape[1])[..., None]
    return states.flip(1) * mask, h


def _bidirectional_mistakes(x, lengths, cell_name, fw, bw) -> dict:
    cell = _cell_function(cell_name)
    mask = bidirectional.length_mask(lengths, x.shape[1])[..., None]
    forward, h_f = bidirectional.masked_recurrence(x, lengths, cell, fw)
    reversed_backward, h_b = bidirectional.masked_recurrence(bidirectional.reverse_padded(x, lengths),
                                                             lengths, cell, bw)
    backward = bidirectional.reverse_padded(reversed_backward, lengths)
    H = h_f.shape[-1]
    flipped, h_flipped = _flipped_backward(x, lengths, cell, bw)
    unmasked_forward, h_unmasked = _run_layer(x, fw, cell)
    same_weights, h_same = bidirectional.masked_recurrence(bidirectional.reverse_padded(x, lengths),
                                                           lengths, cell, fw)

    def backward_from_forward_state():
        W_ih, W_hh, b_ih, b_hh = bw
        rev = bidirectional.reverse_padded(x, lengths)
        h, outs = h_f, []
        for x_t, real in zip(rev.unbind(1), mask.unbind(1)):
            h = torch.where(real, cell(x_t, h, W_ih, W_hh, b_ih, b_hh), h)
            outs.append(h * real)
        return torch.cat([forward, bidirectional.reverse_padded(torch.stack(outs, 1), lengths)], -1), \
            torch.stack([h_f, h])

    T = x.shape[1]
    short = [b for b in range(len(lengths)) if int(lengths[b]) < T]
    if short:
        b = min(short, key=lambda i: int(lengths[i]))
        n = int(lengths[b])
        flip_name = (f"your backward direction started at the padding: at position 0 of sequence {b} (length "
                     f"{n} of {T}) it has read {T - n} pad token{'s' if T - n > 1 else ''} before the "
                     "sequence's own tokens. Reverse each sequence within its own length (or pack it), "
                     "not the whole padded tensor")
    else:
        flip_name = "your backward direction reads the sequences in the wrong order"
    return {
        flip_name: lambda: (torch.cat([forward, flipped], -1), torch.stack([h_f, h_flipped])),
        "your backward direction started at the padding (the padded tensor flipped) and its outputs are "
        "not zeroed past each end":
            lambda: (torch.cat([forward, _run_layer(x.flip(1), bw, cell)[0].flip(1)], -1),
                     torch.stack([h_f, h_flipped])),
        "your backward states are in reading order of the reversed sequence: reverse them back, so that "
        "output[b, t, H:] is the state at token t":
            lambda: (torch.cat([forward, reversed_backward], -1), torch.stack([h_f, h_b])),
        "your forward direction runs over the padding: its outputs are not zero past each end and its "
        "final state is taken after the padding, not after each sequence's last real token":
            lambda: (torch.cat([unmasked_forward, backward], -1), torch.stack([h_unmasked, h_b])),
        "your forward direction's final state is taken after the padding (the state at position T-1), not "
        "after each sequence's last real token":
            lambda: (torch.cat([forward, backward], -1), torch.stack([h_unmasked, h_b])),
        "your output has the two directions swapped: the forward states come first, [h_fwd ; h_bwd]":
            lambda: (torch.cat([backward, forward], -1), torch.stack([h_f, h_b])),
        "your h_n has the two directions swapped: row 0 is the forward direction, row 1 the backward":
            lambda: (torch.cat([forward, backward], -1), torch.stack([h_b, h_f])),
        "your backward direction uses the forward weights: it has weights of its own (backward_weights)":
            lambda: (torch.cat([forward, bidirectional.reverse_padded(same_weights, lengths)], -1),
                     torch.stack([h_f, h_same])),
        "your h_n of the backward direction is its output at the last position, output[:, -1, H:], where it "
        "has read one token (or nothing, past a sequence's end): its final state is the one after "
        "reading back to the first token, output[:, 0, H:]":
            lambda: (torch.cat([forward, backward], -1), torch.stack([h_f, backward[:, -1]])),
        "your backward direction starts from the forward direction's final state: it starts from zeros":
            backward_from_forward_state,
        "your output is zero only for the backward half past each end: zero the forward half there too":
            lambda: (torch.cat([unmasked_forward, backward], -1), torch.stack([h_f, h_b])),
    }


def _judge_bidirectional(case: Case, result) -> Optional[str]:
    names = ["x"] + [f"{w} of the {d} direction" for d in ("forward", "backward")
                     for w in ("W_ih", "W_hh", "b_ih", "b_hh")]
    return _judge_recurrent(case, result, _bidirectional_reference, _bidirectional_mistakes, names,
                            (("b", "t", "h"), ("d", "b", "h")))


def _bidirectional_case(label, seed, cell, lengths, I, H):
    B, T = len(lengths), max(lengths)
    return Case(label, (_randn(seed, B, T, I), torch.tensor(lengths), cell,
                        _layer_weights(seed + 10, cell, I, H), _layer_weights(seed + 20, cell, I, H),
                        _randn(seed + 30, B, T, 2 * H), _randn(seed + 40, 2, B, H)))


register(Check(
    name="06_deep_bidirectional.bidirectional_forward", points=3,
    visible=lambda: [_bidirectional_case("GRU cell, lengths 5, 3 (T=5), I=4, H=3", 0, "gru", [5, 3], 4, 3),
                     _bidirectional_case("tanh cell, lengths 2, 6, 4, I=3, H=4", 1, "tanh", [2, 6, 4], 3, 4)],
    hidden=lambda: [_bidirectional_case("GRU cell, no padding: lengths 4, 4", 2, "gru", [4, 4], 3, 3),
                    _bidirectional_case("GRU cell, a sequence of length 1: lengths 1, 5, 3", 3, "gru",
                                        [1, 5, 3], 2, 4),
                    _bidirectional_case("tanh cell, B=1, length 6", 4, "tanh", [6], 3, 2),
                    _bidirectional_case("GRU cell, unsorted lengths 3, 7, 1, 7, 5", 5, "gru",
                                        [3, 7, 1, 7, 5], 3, 3),
                    _bidirectional_case("tanh cell, one step: lengths 1, 1", 6, "tanh", [1, 1], 2, 3),
                    _bidirectional_case("a long batch: GRU cell, lengths 150, 37, 150", 7, "gru",
                                        [150, 37, 150], 3, 4)],
    probe=_probe_recurrent, judge=_judge_bidirectional))


# ---------------------------------------------------------------------------------------------
# sentence_vector(h_n, num_layers) -> (B, 2H)
# ---------------------------------------------------------------------------------------------

def _probe_sentence_vector(student_fn, inputs, seconds):
    """The answer, and the gradient of sum(answer * upstream) with respect to h_n."""
    return probe_gradient(student_fn, inputs, seconds, leaves=[0], upstream=2)


def _sentence_vector_mistakes(h_n, num_layers, upstream=None) -> dict:
    L2, B, H = h_n.shape
    return {
        "you took h_n[-1], which is only the backward direction of the top layer: the sentence vector "
        "is [h_n[-2] ; h_n[-1]], the top layer's forward and backward final states": lambda: h_n[-1],
        "you took h_n[-2], which is only the forward direction of the top layer: the sentence vector "
        "is [h_n[-2] ; h_n[-1]]": lambda: h_n[-2],
        "your vector is [h_n[-1] ; h_n[-2]]: backward before forward; torch.nn's order is forward first":
            lambda: torch.cat([h_n[-1], h_n[-2]], -1),
        "your vector is the bottom layer's, [h_n[0] ; h_n[1]]: the top layer's are the last two rows":
            lambda: torch.cat([h_n[0], h_n[1]], -1),
        "you read h_n as all the forward layers then all the backward ones: torch.nn orders it layer by "
        "layer, forward before backward, so the top layer's rows are -2 and -1":
            lambda: torch.cat([h_n[num_layers - 1], h_n[-1]], -1),
        "your vector concatenates every layer's final states: keep the top layer's two":
            lambda: h_n.transpose(0, 1).reshape(B, -1),
        "your h_n.view(B, -1) mixes the batch with the layers: h_n is (num_layers * 2, B, H), not "
        "batch-first": lambda: h_n.reshape(B, -1),
        "your h_n.view(B, -1)[:, -2H:] mixes the batch with the layers: h_n is (num_layers * 2, B, H), not "
        "batch-first": lambda: h_n.reshape(B, -1)[:, -2 * H:],
        "your vector is the sum h_n[-2] + h_n[-1]: concatenate them, (B, 2H)": lambda: h_n[-2] + h_n[-1],
        "your vector is the mean of all the rows of h_n": lambda: h_n.mean(0),
    }


def _judge_sentence_vector(case: Case, result) -> Optional[str]:
    problem = type_problem(result["answer"], TENSOR_TYPES)
    if problem:
        return problem
    h_n, num_layers, upstream = case.args
    got = restore(result["answer"])
    leaf = h_n.detach().clone().requires_grad_(True)
    expected = bidirectional.sentence_vector(leaf, num_layers)
    found = diagnose(got, expected.detach(), _sentence_vector_mistakes(*case.args), _close())
    problem = compare_tensor(dims=("b", "h"), what="your sentence vector")(case, expected.detach(), got)
    if problem:
        return f"{problem}. {_sentence(found)}" if found else problem
    (grad,) = torch.autograd.grad((expected * upstream).sum(), leaf)
    return judge_gradient(result, [grad], ["h_n"], [("row", "b", "h")])


def _sentence_vector_case(label, seed, num_layers, B, H):
    return Case(label, (_randn(seed, 2 * num_layers, B, H), num_layers, _randn(seed + 1, B, 2 * H)))


register(Check(
    name="06_deep_bidirectional.sentence_vector", points=1,
    visible=lambda: [_sentence_vector_case("num_layers=2, B=3, H=4", 0, 2, 3, 4),
                     _sentence_vector_case("num_layers=1, B=2, H=3", 1, 1, 2, 3)],
    hidden=lambda: [_sentence_vector_case("num_layers=3, B=2, H=4", 2, 3, 2, 4),
                    _sentence_vector_case("num_layers=4, B=1, H=2", 3, 4, 1, 2),
                    _sentence_vector_case("num_layers=2, B=5, H=1", 4, 2, 5, 1),
                    _sentence_vector_case("num_layers=1, B=4, H=6", 5, 1, 4, 6)],
    probe=_probe_sentence_vector, judge=_judge_sentence_vector))


# ---------------------------------------------------------------------------------------------
# masked_token_loss(logits, tags, lengths) -> 0-d tensor; masked_accuracy(...) -> float
# ---------------------------------------------------------------------------------------------

def _probe_masked_loss(student_fn, inputs, seconds):
    """The loss, and its gradient with respect to the logits."""
    return probe_gradient(student_fn, inputs, seconds, leaves=[0], upstream=3)


def _loss_mistakes(logits, tags, lengths, upstream=None) -> dict:
    B, T, C = logits.shape
    mask = bidirectional.length_mask(lengths, T)
    z = logits.double()
    nll = F.cross_entropy(z.flatten(0, 1), tags.flatten(), reduction="none").view(B, T)

    def masked_mean(m):
        return (nll * m).sum() / m.sum()

    off_by_one = torch.arange(T)[None, :] <= lengths[:, None]
    short_by_one = torch.arange(T)[None, :] < (lengths - 1)[:, None]
    return {
        "padding counted: your loss equals the unmasked mean, over every position of the padded batch: "
        "average over the real tokens only (t < lengths[b])": lambda: nll.mean(),
        "your loss sums the real tokens' losses but divides by every position, B * T, padding included: "
        "divide by the number of real tokens": lambda: (nll * mask).sum() / (B * T),
        "your loss averages each sequence first, then the sequences: average over all real tokens at once":
            lambda: ((nll * mask).sum(1) / lengths).mean(),
        "your loss is the sum over the real tokens: return their mean": lambda: (nll * mask).sum(),
        "your mask is off by one: it counts the first position past each sequence's end (t <= lengths[b]; "
        "the real tokens are t < lengths[b])": lambda: masked_mean(off_by_one),
        "your mask leaves out each sequence's last real token (t < lengths[b] - 1)":
            lambda: masked_mean(short_by_one) if short_by_one.any() else None,
        "your loss takes a softmax before F.cross_entropy, which expects logits (it applies log_softmax "
        "itself)": lambda: _masked_mean_of(z.softmax(-1), tags, mask),
        "your loss uses the logits as log-probabilities (F.nll_loss needs log_softmax first; "
        "F.cross_entropy does both)": lambda: -(z.gather(2, tags[..., None])[..., 0] * mask).sum() / mask.sum(),
        "your softmax overflows: exp(z) is inf for logits this large (float32 overflows above 88.7), "
        "and inf / inf is NaN; use F.cross_entropy or F.log_softmax, which subtract the largest logit first":
            lambda: _log_of(logits.exp() / logits.exp().sum(-1, keepdim=True), tags, mask)
            if logits.dtype == torch.float32 else None,
        "your loss takes the log of softmax probabilities: in float32 a probability below 1e-45 is 0 and its "
        "log is -inf; use F.cross_entropy or F.log_softmax, which never form the probability":
            lambda: _log_of(logits.softmax(-1), tags, mask) if logits.dtype == torch.float32 else None,
    }


def _log_of(probabilities, tags, mask):
    """The mean of -ln p[tag] over the mask's positions."""
    picked = probabilities.gather(2, tags[..., None])[..., 0]
    return -torch.log(picked[mask]).mean()


def _masked_mean_of(z, tags, mask):
    """The cross-entropy of logits z (B, T, C) against tags, averaged over the mask's positions."""
    B, T, _ = z.shape
    nll = F.cross_entropy(z.flatten(0, 1), tags.flatten(), reduction="none").view(B, T)
    return (nll * mask).sum() / mask.sum()


def _judge_masked_loss(case: Case, result) -> Optional[str]:
    logits, tags, lengths, upstream = case.args
    answer = result["answer"]
    problem = type_problem(answer, TENSOR_TYPES)
    if problem:
        return problem + " (return the loss tensor itself, not loss.item(): training needs its gradient)"
    got = restore(answer)
    if got.numel() != 1:
        return (f"your loss has shape {tuple(got.shape)}: expected one number, the mean over the real "
                "tokens (a 0-d tensor)")
    if not got.dtype.is_floating_point:
        return f"your loss has dtype {got.dtype}: expected a floating-point loss"
    leaf = logits.detach().clone().requires_grad_(True)
    expected = tagging.masked_token_loss(leaf, tags, lengths)
    value, right = float(got.reshape(())), float(expected.detach())
    rtol = 1e-5 if logits.dtype == torch.float32 else 1e-9
    if not math.isfinite(value) or not math.isclose(value, right, rel_tol=rtol, abs_tol=1e-9):
        message = "expected a loss of {} nats per token, got {}".format(*fmt_pair(right, value))
        found = diagnose(got.reshape(()).double(), expected.detach().double(), _loss_mistakes(*case.args),
                         _close(rtol, 1e-9))
        return f"{message}: {found}" if found else message
    (grad,) = torch.autograd.grad(expected, leaf)
    problem = judge_gradient(result, [grad], ["the logits"], [("b", "t", "c")], rtol=max(rtol, 1e-7),
                             atol=1e-7 if logits.dtype == torch.float32 else 1e-9)
    return _padding_gradient_hint(problem, result, grad, lengths)


def _tagging_case(label, seed, lengths, C, scale=1.0, dtype=torch.float64):
    """Logits (B, T, C) and tags (B, T) with random values past each end too, and the lengths."""
    B, T = len(lengths), max(lengths)
    g = torch.Generator().manual_seed(seed)
    logits = (scale * torch.randn(B, T, C, generator=g, dtype=torch.float64)).to(dtype)
    tags = torch.randint(0, C, (B, T), generator=g)
    return Case(label, (logits, tags, torch.tensor(lengths), torch.ones((), dtype=dtype)))


register(Check(
    name="06_deep_bidirectional.masked_token_loss", points=1,
    visible=lambda: [_tagging_case("B=3, T=5, C=4, lengths 5, 2, 3", 0, [5, 2, 3], 4),
                     _tagging_case("B=2, T=6, C=3, lengths 1, 6", 1, [1, 6], 3)],
    hidden=lambda: [_tagging_case("no padding: B=2, lengths 4, 4, C=5", 2, [4, 4], 5),
                    _tagging_case("B=1, length 7, C=9", 3, [7], 9),
                    _tagging_case("B=5, unsorted lengths 3, 9, 1, 6, 9, C=9", 4, [3, 9, 1, 6, 9], 9),
                    _tagging_case("float32 logits in the hundreds: B=3, lengths 8, 5, 2, C=6", 5, [8, 5, 2], 6,
                                  scale=150.0, dtype=torch.float32),
                    _tagging_case("a long batch: B=4, lengths 300, 20, 150, 300, C=9", 6, [300, 20, 150, 300], 9)],
    probe=_probe_masked_loss, judge=_judge_masked_loss))


def _accuracy_mistakes(logits, tags, lengths) -> dict:
    B, T, C = logits.shape
    mask = bidirectional.length_mask(lengths, T)
    right = (logits.argmax(-1) == tags).double()
    n = mask.sum()
    off_by_one = torch.arange(T)[None, :] <= lengths[:, None]
    return {
        "padding counted: your accuracy is over every position of the padded batch; count the real tokens "
        "only (t < lengths[b])": lambda: float(right.mean()),
        "your accuracy counts the right real tokens but divides by every position, B * T, padding "
        "included": lambda: float((right * mask).sum() / (B * T)),
        "your accuracy averages each sequence's accuracy: count all real tokens at once":
            lambda: float(((right * mask).sum(1) / lengths).mean()),
        "your mask is off by one: it counts the first position past each end (t <= lengths[b])":
            lambda: float((right * off_by_one).sum() / off_by_one.sum()),
        "you returned the number of right tokens: return the fraction, in [0, 1]":
            lambda: float((right * mask).sum()),
        "you returned a percentage: return the fraction, in [0, 1]":
            lambda: float(100 * (right * mask).sum() / n),
        "your accuracy is an integer division (right // total is 0 below 100%): divide as floats":
            lambda: float(int((right * mask).sum()) // int(n)),
    }


def _judge_masked_accuracy(case: Case, result) -> Optional[str]:
    logits, tags, lengths = case.args
    answer = result["answer"]
    if answer["type"] in TENSOR_TYPES:
        problem = type_problem(answer, TENSOR_TYPES)
        if problem:
            return problem
        value = restore(answer)
        if value.numel() != 1:
            return f"your accuracy has shape {tuple(value.shape)}: expected one number, a float in [0, 1]"
        value = float(value.reshape(()))
    else:
        problem = type_problem(answer, NUMBER_TYPES)
        if problem:
            return problem
        value = float(restore(answer))
    expected = tagging.masked_accuracy(logits, tags, lengths)
    if math.isfinite(value) and _same_number(value, expected):
        return None
    n = int(lengths.sum())
    shown, got = fmt_pair(expected, value)
    message = f"expected an accuracy of {shown} ({round(expected * n)} of the {n} real tokens), got {got}"
    found = diagnose(value, expected, _accuracy_mistakes(logits, tags, lengths), _same_number)
    return f"{message}: {found}" if found else message


def _same_number(a, b) -> bool:
    return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12)


def _accuracy_case(label, seed, lengths, C, agree_on_padding=0.5):
    """Logits and tags where the arg max is right on some real tokens, and equal to the tag on a
    share ``agree_on_padding`` of the padding (so that counting the padding changes the answer)."""
    B, T = len(lengths), max(lengths)
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(B, T, C, generator=g, dtype=torch.float64)
    tags = torch.randint(0, C, (B, T), generator=g)
    pad = ~bidirectional.length_mask(torch.tensor(lengths), T)
    agree = pad & (torch.rand(B, T, generator=g, dtype=torch.float64) < agree_on_padding)
    tags = torch.where(agree, logits.argmax(-1), tags)
    return Case(label, (logits, tags, torch.tensor(lengths)))


register(Check(
    name="06_deep_bidirectional.masked_accuracy", points=1,
    visible=lambda: [_accuracy_case("B=3, T=5, C=4, lengths 5, 2, 3", 0, [5, 2, 3], 4),
                     _accuracy_case("B=2, T=6, C=3, lengths 1, 6", 1, [1, 6], 3)],
    hidden=lambda: [_accuracy_case("no padding: lengths 4, 4, C=5", 2, [4, 4], 5),
                    _accuracy_case("B=1, length 7, C=9", 3, [7], 9),
                    _accuracy_case("padding that matches the tags: lengths 2, 9, 1, C=9", 4, [2, 9, 1], 9,
                                   agree_on_padding=1.0),
                    _accuracy_case("B=5, unsorted lengths 3, 9, 1, 6, 9, C=9", 5, [3, 9, 1, 6, 9], 9),
                    _accuracy_case("a long batch: B=4, lengths 300, 20, 150, 300, C=9", 6,
                                   [300, 20, 150, 300], 9)],
    judge=_judge_masked_accuracy))


# ---------------------------------------------------------------------------------------------
# pool(outputs, lengths, how) -> (B, D)
# ---------------------------------------------------------------------------------------------

def _probe_pool(student_fn, inputs, seconds):
    """The pooled vectors, and the gradient of sum(answer * upstream) w.r.t. the outputs."""
    return probe_gradient(student_fn, inputs, seconds, leaves=[0], upstream=3)


def _pool_reference(outputs, lengths, how):
    return models.pool_sequence(outputs, None, how, lengths=lengths)


def _pool_mistakes(outputs, lengths, how, upstream=None) -> dict:
    B, T, D = outputs.shape
    mask = bidirectional.length_mask(lengths, T)[..., None]
    off_by_one = (torch.arange(T)[None, :] <= lengths[:, None])[..., None]
    other = "max" if how == "mean" else "mean"
    mistakes = {}
    if how == "max":
        mistakes.update({
            "padding won your max: the values past a sequence's end (zeros from a recurrent layer, or "
            "anything) are larger than every real value of some feature; mask the padding with -inf (or the "
            "smallest float) before the max": lambda: outputs.amax(1),
            "padding must never win a max: you set the padding to 0, which beats a feature that is negative "
            "at every real token; mask it with -inf (or the smallest float) instead":
                lambda: outputs.masked_fill(~mask, 0.0).amax(1),
        })
    mistakes.update({
        f"you computed the {other}, not the {how} (how={how!r})": lambda: _pool_reference(outputs, lengths, other),
        "your mask is off by one: it includes the first position past each end (t <= lengths[b])":
            lambda: (outputs * off_by_one).sum(1) / (lengths + 1).clamp(max=T)[:, None] if how == "mean"
            else outputs.masked_fill(~off_by_one, -math.inf).amax(1),
    })
    if how == "mean":
        mistakes.update({
            "padding counted: your mean divides by the padded length T, not by each sequence's length":
                lambda: (outputs * mask).sum(1) / T,
            "padding counted: your mean averages every position, the padding's values included":
                lambda: outputs.mean(1),
            "your mean sums the padding's values too before dividing by the length: zero them first":
                lambda: outputs.sum(1) / lengths[:, None],
        })
    return mistakes


def _judge_pool(case: Case, result) -> Optional[str]:
    problem = type_problem(result["answer"], TENSOR_TYPES)
    if problem:
        extra = " (torch.max(x, dim) returns (values, indices): take .values)" if "return_types" in \
            result["answer"]["type"] else ""
        return problem + extra
    outputs, lengths, how, upstream = case.args
    got = restore(result["answer"])
    leaf = outputs.detach().clone().requires_grad_(True)
    expected = _pool_reference(leaf, lengths, how)
    explain = lambda c, e, g: _sentence(diagnose(g, e, _pool_mistakes(*case.args), _close()))  # noqa: E731
    problem = compare_tensor(dims=("b", "d"), what=f"your {how}", explain=explain)(case, expected.detach(), got)
    if problem:
        return problem
    (grad,) = torch.autograd.grad((expected * upstream).sum(), leaf)
    problem = judge_gradient(result, [grad], ["outputs"], [("b", "t", "d")])
    return _padding_gradient_hint(problem, result, grad, lengths)


def _padding_gradient_hint(problem, result, grad, lengths) -> Optional[str]:
    """``problem`` with, where the student's gradient reaches the padding, the sentence saying so."""
    if problem and "grad_error" not in result and result["grads"][0] is not None:
        got = restore(result["grads"][0])
        if tuple(got.shape) == tuple(grad.shape):
            pad = ~bidirectional.length_mask(lengths, grad.shape[1])
            if got[pad].abs().max() > 0:
                return (f"{problem}. Your answer has the right values on this case but the padding gets a "
                        "gradient: your result depends on the values past each end; leave them out")
    return problem


def _pool_case(label, seed, lengths, D, how, padding="zeros", negative=False):
    """Outputs (B, T, D) zero past each end (as a recurrent layer given the lengths returns them)
    or with large values there (``padding="large"``); ``negative``: every real value of the
    first feature negative, so that a zero padding wins an unmasked max."""
    B, T = len(lengths), max(lengths)
    outputs = _randn(seed, B, T, D)
    mask = bidirectional.length_mask(torch.tensor(lengths), T)[..., None]
    if negative:
        outputs[..., 0] = -outputs[..., 0].abs() - 0.1
    outputs = torch.where(mask, outputs, 0.0 if padding == "zeros" else 5.0 + _randn(seed + 1, B, T, D).abs())
    return Case(label, (outputs, torch.tensor(lengths), how, _randn(seed + 2, B, D)))


register(Check(
    name="06_deep_bidirectional.pool", points=2,
    visible=lambda: [_pool_case("mean, lengths 4, 2, 3, D=3 (zeros past each end)", 0, [4, 2, 3], 3, "mean"),
                     _pool_case("max, lengths 5, 2, D=4, a feature negative at every real token",
                                1, [5, 2], 4, "max", negative=True)],
    hidden=lambda: [_pool_case("max, lengths 3, 6, 1, D=2 (zeros past each end, negative feature)",
                               2, [3, 6, 1], 2, "max", negative=True),
                    _pool_case("mean, large values past each end: lengths 2, 5, 4", 3, [2, 5, 4], 3, "mean",
                               padding="large"),
                    _pool_case("max, large values past each end: lengths 2, 5, 4", 4, [2, 5, 4], 3, "max",
                               padding="large"),
                    _pool_case("mean, no padding: lengths 4, 4", 5, [4, 4], 2, "mean"),
                    _pool_case("max, B=1, length 1", 6, [1], 5, "max"),
                    _pool_case("mean, a long batch: lengths 200, 13, 120", 7, [200, 13, 120], 4, "mean")],
    probe=_probe_pool, judge=_judge_pool))


# ---------------------------------------------------------------------------------------------
# train_tagger(tokens, tags, lengths, vocab_size, num_tags, seed) -> a trained Tagger
# ---------------------------------------------------------------------------------------------

OPEN_THRESHOLD = 0.85      # accuracy on the held-out homographs that only the right context decides
OVERALL_THRESHOLD = 0.95   # and on all held-out tokens
TRAIN_SENTENCES = 2000
HELD_OUT_SAMPLE = 8000     # sentences drawn; those with an open homograph are kept
MAX_WEIGHTS = 2_000_000    # elements: far more than any Tagger of the assignment has


class Tagger(nn.Module):
    """The assignment's tagger (its locked cell defines the same class), rebuilt by the judge from
    the weights of the student's trained model: embedding, (bidirectional) LSTM over the packed
    sequence, a linear layer on every state.
    forward(tokens (B, T), lengths (B,)) -> logits (B, T, num_tags), zero states past each end."""

    def __init__(self, vocab_size, num_tags, embedding_dim=32, hidden_size=32, bidirectional=True):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, batch_first=True, bidirectional=bidirectional)
        self.output = nn.Linear(hidden_size * (2 if bidirectional else 1), num_tags)

    def forward(self, tokens, lengths):
        packed = pack_padded_sequence(self.embedding(tokens), lengths.cpu(), batch_first=True,
                                      enforce_sorted=False)
        states, _ = self.lstm(packed)
        states, _ = pad_packed_sequence(states, batch_first=True, total_length=tokens.shape[1])
        return self.output(states)


def _probe_training(student_fn, inputs, seconds):
    """Train the student's tagger; copy its weights out as plain data (nothing of it is evaluated
    here: the judge rebuilds a Tagger from the weights and measures it)."""
    tokens, tags, lengths, vocab_size, num_tags, seed = inputs
    got, problem = call_student(student_fn, (tokens.clone(), tags.clone(), lengths.clone(), vocab_size,
                                             num_tags, seed), seconds, copy_inputs=False)
    return {"error": problem} if problem else module_answer(got)


def _tagger_keys(bidirectional_: bool) -> list:
    directions = ("", "_reverse") if bidirectional_ else ("",)
    return (["embedding.weight"]
            + [f"lstm.{w}_l0{d}" for d in directions for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            + ["output.weight", "output.bias"])


def _tagger_of(weights, vocab_size: int, num_tags: int):
    """(a float64 Tagger with the student's weights, None), or (None, what is wrong with them)."""
    found, problem = restored_weights(weights, MAX_WEIGHTS, "a Tagger needs")
    if problem:
        return None, problem
    bidirectional_ = "lstm.weight_ih_l0_reverse" in found
    keys = _tagger_keys(bidirectional_)
    if set(found) != set(keys):
        return None, (f"expected the notebook's Tagger (weights {', '.join(_tagger_keys(True))}), got a model "
                      f"with the weights {', '.join(sorted(found)) or 'none'}: train the Tagger of the notebook")
    E, H = found["embedding.weight"].shape[-1], found["lstm.weight_hh_l0"].shape[-1]
    model = Tagger(vocab_size, num_tags, E, H, bidirectional_).double()
    for key, param in model.state_dict().items():
        if tuple(found[key].shape) != tuple(param.shape):
            return None, (f"your model's {key} has shape {tuple(found[key].shape)}, expected {tuple(param.shape)} "
                          f"(a Tagger({vocab_size}, {num_tags}, embedding_dim={E}, hidden_size={H}))")
    model.load_state_dict({k: v.double() for k, v in found.items()})
    return model.eval(), None


@functools.lru_cache(maxsize=4)
def tagger_data(seed: int):
    """The data of a seed's case, drawn from the chapter's Toy English variant with their own
    random streams: (training LabelledBatch of TRAIN_SENTENCES sentences and its open positions
    (N, T) bool, held-out LabelledBatch of sentences that have an open homograph and its open
    positions, the language)."""
    language = ToyEnglish(tagging.TAGGING_CONFIG)
    train = language.sample_many(TRAIN_SENTENCES, np.random.default_rng([seed, 61]))
    candidates = language.sample_many(HELD_OUT_SAMPLE, np.random.default_rng([seed, 62]))
    train_open = [_open_positions(language, s.tokens) for s in train]
    held_out = [(s, opens) for s in candidates if any(opens := _open_positions(language, s.tokens))]
    return (tagging.encode_tagged([(s.tokens, s.tags) for s in train], language.vocab), _padded(train_open),
            tagging.encode_tagged([(s.tokens, s.tags) for s, _ in held_out], language.vocab),
            _padded([opens for _, opens in held_out]), language)


def _open_positions(language, tokens) -> list:
    """``tagging.open_positions``, skipped (all False) for sentences without a relative pronoun,
    after which alone a homograph's tag can be open."""
    if "that" not in tokens and "who" not in tokens:
        return [False] * len(tokens)
    return tagging.open_positions(language, tokens)


def _padded(rows) -> torch.Tensor:
    return torch.nn.utils.rnn.pad_sequence([torch.tensor(r) for r in rows], batch_first=True)


def _accuracies(model: Tagger, data, open_mask) -> dict:
    """Accuracy on all real tokens, on the open positions, and against the next token's tag."""
    with torch.no_grad():
        predicted = tagging.predict_labels(model, data)
    mask = bidirectional.length_mask(data.lengths, data.tokens.shape[1])
    right = predicted == data.labels
    next_right = (predicted[:, :-1] == data.labels[:, 1:])[mask[:, 1:]]
    return {"overall": float(right[mask].double().mean()), "open": float(right[open_mask].double().mean()),
            "next_tag": float(next_right.double().mean())}


def _seeded_tagger(vocab_size, num_tags, E, H, bidirectional_, seed):
    """Tagger(...) as built right after torch.manual_seed(seed), without touching the caller's
    random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Tagger(vocab_size, num_tags, E, H, bidirectional_).double().eval()


def _judge_training(case: Case, result) -> Optional[str]:
    tokens, tags, lengths, vocab_size, num_tags, seed = case.args
    answer_type = result["answer"].get("type")
    if answer_type != "torch.nn.Module":
        return f"expected your trained model (the notebook's Tagger, a torch.nn.Module), got a {answer_type}"
    model, problem = _tagger_of(result.get("weights"), vocab_size, num_tags)
    if problem:
        return problem
    if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
        return ("your model's weights contain NaN or infinity: training diverged (a learning rate far too "
                "large, or a loss that is not bounded below)")
    train, train_open, test, test_open, language = tagger_data(seed)
    held_out = _accuracies(model, test, test_open)
    if held_out["open"] >= OPEN_THRESHOLD and held_out["overall"] >= OVERALL_THRESHOLD:
        return None
    message = (f"on {len(test)} held-out sentences your tagger gets {100 * held_out['overall']:.1f}% of the tags "
               f"right and {100 * held_out['open']:.1f}% of the {int(test_open.sum())} homographs that only the "
               f"words to their right decide; it needs {100 * OVERALL_THRESHOLD:.0f}% and "
               f"{100 * OPEN_THRESHOLD:.0f}%")
    E, H, bidirectional_ = model.embedding.weight.shape[1], model.lstm.hidden_size, model.lstm.bidirectional
    untrained = _seeded_tagger(vocab_size, num_tags, E, H, bidirectional_, seed)
    pairs = [(name, p, q) for (name, p), (_, q) in zip(model.state_dict().items(), untrained.state_dict().items())]
    if all(torch.equal(p, q) for _, p, q in pairs):
        return message + (". Your model's weights are exactly those of a Tagger built right after "
                          "torch.manual_seed(seed): they were never updated (is optimizer.step() called, on an "
                          "optimizer of this model's parameters?)")
    if not bidirectional_:
        best = _best_left_to_right_open_accuracy(seed)
        return message + (f". Your tagger is unidirectional (bidirectional=False): it reads only the words to the "
                          f"left, and on these homographs no left-to-right tagger can beat {100 * best:.1f}% (the "
                          "exact best one, from the grammar). Train Tagger(..., bidirectional=True)")
    frozen = sorted({name.split(".")[0] for name, p, q in pairs if torch.equal(p, q)})
    if frozen:
        return message + (f". The weights of your model's {' and '.join(frozen)} are still those of the seeded "
                          "initialisation: only part of the model was trained; give the optimizer all of "
                          "model.parameters()")
    if held_out["next_tag"] > held_out["overall"] + 0.2:
        return message + (f". It predicts the tag of the NEXT token ({100 * held_out['next_tag']:.1f}% right "
                          "against the tags one position later): a tagger's logits at t are scored against the "
                          "tag of token t itself, not shifted as in a language model")
    start = _accuracies(untrained, test, test_open)["overall"]
    if held_out["overall"] < start - 0.01:
        return message + (f". Training made it worse than the untrained Tagger of this seed "
                          f"({100 * start:.1f}%): the loss was maximised (call backward() on the loss itself, not "
                          "on -loss) or training diverged (a learning rate far too large)")
    moved = math.sqrt(sum(float((p - q).pow(2).sum()) for _, p, q in pairs)
                      / sum(float(q.pow(2).sum()) for _, _, q in pairs))
    on_train = _accuracies(model, train, train_open)
    progress = (f"It improved from the untrained {100 * start:.1f}% (on its own training sentences it gets "
                f"{100 * on_train['overall']:.1f}% of the tags and {100 * on_train['open']:.1f}% of the open "
                "homographs)")
    if moved < 0.05:
        return message + (f". {progress}, but its weights moved by only {100 * moved:.1f}% of their size from "
                          "the seeded initialisation: train for more steps or with a larger learning rate")
    if on_train["overall"] < 0.5:
        return message + (f". {progress}: its weights moved far from the initialisation ({100 * moved:.0f}% of "
                          "their size) yet it did not learn the tags of its own training sentences. Check that "
                          "each sentence's tags stay aligned with its tokens (shuffle or sort tokens, tags and "
                          "lengths with the same indices)")
    if on_train["open"] >= OPEN_THRESHOLD and held_out["open"] < on_train["open"] - 0.1:
        return message + (f". {progress}: it learnt its training sentences but not the rule; train on all of "
                          "them, and for fewer epochs if it memorises")
    return message + f". {progress}, not enough: train for more epochs or with a larger learning rate"


@functools.lru_cache(maxsize=4)
def _best_left_to_right_open_accuracy(seed: int) -> float:
    """The accuracy of the exact best left-to-right tagger on the held-out open positions."""
    _, _, test, test_open, language = tagger_data(seed)
    hits = []
    for row, tag_row, n, opens in zip(test.tokens, test.labels, test.lengths.tolist(), test_open):
        best = tagging.best_left_to_right_tags(language, language.vocab.decode(row[:n]))
        hits += [guess == UPOS_TAGS[int(tag)] for guess, tag, is_open in zip(best, tag_row, opens) if is_open]
    return float(np.mean(hits))


def _training_case(label, seed):
    train, _, _, _, language = tagger_data(seed)
    return Case(label, (train.tokens, train.labels, train.lengths, len(language.vocab), len(UPOS_TAGS), seed))


register(Check(
    name="06_deep_bidirectional.train_tagger", points=2,
    visible=lambda: [_training_case("Toy English tagging, seed 0", 0)],
    hidden=lambda: [_training_case("other Toy English sentences, seed 1", 1)],
    probe=_probe_training, judge=_judge_training, time_limit=60.0))
