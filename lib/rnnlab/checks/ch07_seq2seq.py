"""Checks of assignment 07 (sequence to sequence: encoder, teacher forcing, attention, greedy and
beam search, a trained date normaliser): ``07_seq2seq.<part>``.

The parts work on the notebook's model, ``Seq2SeqModel`` (defined here, torch.nn only, so that
the grading sandbox has it too): an embedding and a bidirectional ``nn.GRU`` over the source,
a tanh bridge to the decoder's initial state, and a GRU decoder with Bahdanau attention. Its
parameters are named and laid out exactly as those of ``rnnlab.seq2seq.Seq2Seq(...,
attention="bahdanau")``, so the judge copies them into the library's model and compares the
student's answer with the library's reference (``rnnlab.seq2seq``, ``rnnlab.attention``,
``rnnlab.decoding``). A case carries the model as its weights (a dict of float64 tensors); the
probe rebuilds the model from them.

Beam search is also checked on ``TinyTable``, a model whose next-token distribution is read
from a fixed table (a vocabulary of 4 emitted tokens with ``</s>``, outputs of up to 5
tokens), with a beam wide enough to keep every prefix: there the best output is the best of
all, which the tests find by enumerating every output, under raw and under normalised scores.
The judge names the classic bugs only where the answer is what that bug gives and the right
search does not (``_mistaken_beam``: a hypothesis extended after ``</s>``, unnormalised scores,
k copies of ``<s>`` at the first step, stopping when the top hypothesis finishes).

The trained date normaliser crosses to the judge as its weights only: the judge rebuilds the
notebook's ``Seq2SeqModel`` and decodes held-out dates greedily.
"""

from __future__ import annotations

import functools
import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .. import attention, decoding, seq2seq
from ..data.dates import date_pairs
from .framework import (Case, Check, answers_switched_off, call_student, compare_tensor, diagnose,
                        fmt_pair, gradient_error, judge_gradient, module_answer, register,
                        restored_weights, type_problem, upstream_total)
from .plain import TENSOR_TYPES, describe, restore

BOS_ID, EOS_ID, PAD_ID = 1, 2, 3          # <unk> 0, <s> 1, </s> 2, <pad> 3 in both vocabularies
SPECIAL_NAMES = {1: "<s>", 2: "</s>", 3: "<pad>"}


# ---------------------------------------------------------------------------------------------
# The notebook's model (torch.nn only), with the decoding interface of rnnlab.decoding
# ---------------------------------------------------------------------------------------------

class Source:
    """What every decoder step reads of the source: ``keys`` (B, S, H) the encoder outputs
    h_j, ``mask`` (B, S) bool (True on real positions), ``projected_keys`` (B, S, H), U h_j + b."""

    def __init__(self, keys, mask, projected_keys):
        self.keys, self.mask, self.projected_keys = keys, mask, projected_keys

    def select(self, rows):
        """The rows ``rows`` (N,) of the batch, repeated rows allowed (one per beam)."""
        return Source(self.keys.index_select(0, rows), self.mask.index_select(0, rows),
                      self.projected_keys.index_select(0, rows))


class State:
    """The decoder's state between steps: ``hidden`` (1, B, H), never batch-first (torch.nn's
    layout)."""

    def __init__(self, hidden):
        self.hidden = hidden

    def select(self, rows):
        """The state of the rows ``rows`` (N,) of the batch, e.g. the beams a search keeps."""
        return State(self.hidden.index_select(1, rows))


class Seq2SeqModel(nn.Module):
    r"""The assignment's encoder-decoder with Bahdanau attention (GRU on both sides).

    - ``encoder.embedding`` (V_src, E) and ``encoder.rnn``, an ``nn.GRU(E, H // 2,
      batch_first=True, bidirectional=True)`` over the packed source;
    - ``bridge.hidden``, ``nn.Linear(H, H)``: :math:`s_0 = \tanh(W_b [\overrightarrow{h}_S;
      \overleftarrow{h}_1] + b_b)`;
    - ``decoder.embedding`` (V_tgt, E); ``decoder.attention.W`` (H, H, no bias), ``.U`` (H, H)
      with bias, ``.v`` (1, H, no bias): :math:`e_{ij} = v^\top \tanh(W s_{i-1} + U h_j + b)`;
      ``decoder.rnn``, ``nn.GRU(E + H, H, batch_first=True)`` fed :math:`[E y_{i-1}; c_i]`;
      ``decoder.output``, ``nn.Linear(2H, V_tgt)`` on :math:`[s_i; c_i]`.

    ``encode(src (B, S), lengths (B,)) -> (Source, State)``;
    ``step(tokens (B,), state, source) -> (logits (B, V_tgt), state, weights (B, S))``: tokens
    are :math:`y_{i-1}` (``<s>`` first);
    ``forward(src, lengths, inputs (B, N)) -> (logits (B, N, V_tgt), weights (B, N, S))``:
    row t of the logits is the distribution of the token after inputs[:, t].
    ``bos_id``, ``eos_id``, ``pad_id``: 1, 2, 3."""

    bos_id, eos_id, pad_id = BOS_ID, EOS_ID, PAD_ID

    def __init__(self, src_vocab_size, tgt_vocab_size, embedding_dim=32, hidden_size=64):
        super().__init__()
        E, H = embedding_dim, hidden_size
        self.encoder = nn.ModuleDict({"embedding": nn.Embedding(src_vocab_size, E),
                                      "rnn": nn.GRU(E, H // 2, batch_first=True, bidirectional=True)})
        self.bridge = nn.ModuleDict({"hidden": nn.Linear(H, H)})
        self.decoder = nn.ModuleDict({
            "embedding": nn.Embedding(tgt_vocab_size, E),
            "attention": nn.ModuleDict({"W": nn.Linear(H, H, bias=False), "U": nn.Linear(H, H),
                                        "v": nn.Linear(H, 1, bias=False)}),
            "rnn": nn.GRU(E + H, H, batch_first=True),
            "output": nn.Linear(2 * H, tgt_vocab_size)})

    def encode(self, src, lengths):
        packed = pack_padded_sequence(self.encoder.embedding(src), lengths.cpu(), batch_first=True,
                                      enforce_sorted=False)
        keys, h_n = self.encoder.rnn(packed)
        keys, _ = pad_packed_sequence(keys, batch_first=True, total_length=src.shape[1])   # h_j
        s0 = torch.tanh(self.bridge.hidden(torch.cat([h_n[0], h_n[1]], -1)))[None]          # s_0
        mask = torch.arange(src.shape[1])[None, :] < lengths[:, None]
        return Source(keys, mask, self.decoder.attention.U(keys)), State(s0)

    def step(self, tokens, state, source):
        a = self.decoder.attention
        energies = a.v(torch.tanh(a.W(state.hidden[-1])[:, None] + source.projected_keys)).squeeze(-1)
        energies = energies.masked_fill(~source.mask, float("-inf"))
        weights = torch.softmax(energies, -1)                                    # alpha_ij
        context = torch.bmm(weights[:, None], source.keys)[:, 0]                 # c_i
        y = self.decoder.embedding(tokens)
        s, hidden = self.decoder.rnn(torch.cat([y, context], -1)[:, None], state.hidden)
        logits = self.decoder.output(torch.cat([s[:, 0], context], -1))
        return logits, State(hidden), weights

    def forward(self, src, lengths, inputs, teacher_forcing_ratio=1.0, generator=None):
        source, state = self.encode(src, lengths)
        all_logits, all_weights = [], []
        for t in range(inputs.shape[1]):
            logits, state, weights = self.step(inputs[:, t], state, source)
            all_logits.append(logits)
            all_weights.append(weights)
        return torch.stack(all_logits, 1), torch.stack(all_weights, 1)


class TinyTable(nn.Module):
    """A tiny model with the decoding interface: the logits of the next token are row y_{t-1} of
    the table chosen by the source's first token, ``table`` (V_src, 6, 6) float64. Target
    vocabulary <unk> <s> </s> <pad> a b: it can emit <unk>, </s>, a and b."""

    bos_id, eos_id, pad_id = BOS_ID, EOS_ID, PAD_ID

    def __init__(self, table):
        super().__init__()
        self.table = table

    def encode(self, src, lengths):
        keys = self.table[src[:, 0]]                                              # (B, 6, 6)
        mask = torch.arange(src.shape[1])[None, :] < lengths[:, None]
        return Source(keys, mask, keys), State(src.new_zeros(1, len(src), 1).double())

    def step(self, tokens, state, source):
        return source.keys[torch.arange(len(tokens)), tokens], state, None

    def forward(self, src, lengths, inputs, teacher_forcing_ratio=1.0, generator=None):
        source, state = self.encode(src, lengths)
        return torch.stack([self.step(inputs[:, t], state, source)[0] for t in range(inputs.shape[1])], 1), None


IMPLEMENT = ("this part is yours to implement: write it with torch and the model or modules you "
             "are given, not with the course library's reference")


def _library_off():
    """Everything the course library's seq2seq, attention and decoding modules define (its
    answers to the parts and their helpers) refused to the student's code while a student's
    function runs: the grading sandbox has none of it, so what calls it must fail here too. The
    references, which call one another, still reach it."""
    return answers_switched_off([(module, name) for module in (seq2seq, attention, decoding)
                                 for name, value in vars(module).items()
                                 if not name.startswith("_") and callable(value)
                                 and getattr(value, "__module__", None) == module.__name__], IMPLEMENT)


def _sizes(weights) -> tuple:
    """(V_src, V_tgt, E, H) of a Seq2SeqModel's weights."""
    V_src, E = weights["encoder.embedding.weight"].shape
    return V_src, weights["decoder.embedding.weight"].shape[0], E, weights["bridge.hidden.weight"].shape[0]


def _model_of(weights):
    """The notebook's model (float64, eval mode) with these weights; a tensor: a TinyTable."""
    if isinstance(weights, torch.Tensor):
        return TinyTable(weights)
    model = Seq2SeqModel(*_sizes(weights)).double()
    model.load_state_dict(weights)
    return model.eval()


def _library_model(weights):
    """rnnlab.seq2seq's model with the same weights (the reference); a tensor: a TinyTable."""
    if isinstance(weights, torch.Tensor):
        return TinyTable(weights)
    V_src, V_tgt, E, H = _sizes(weights)
    model = seq2seq.Seq2Seq(V_src, V_tgt, E, H, attention="bahdanau", impl="reference").double()
    model.load_state_dict(weights)
    return model.eval()


def _weights(seed, V_src=9, V_tgt=8, E=5, H=6, peaked=1.0, eos=0.0, favour=None) -> dict:
    """The weights of a seeded float64 Seq2SeqModel: the output layer scaled by ``peaked``
    (sharper distributions), ``eos`` added to </s>'s bias, and ``favour`` = (token, amount)
    added to the bias of a token the decoder must never emit (<s> or <pad>)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Seq2SeqModel(V_src, V_tgt, E, H).double()
    with torch.no_grad():
        model.decoder.output.weight.mul_(peaked)
        model.decoder.output.bias[EOS_ID] += eos
        if favour is not None:
            model.decoder.output.bias[favour[0]] += favour[1]
    return {k: v.clone() for k, v in model.state_dict().items()}


def _sources(seed, lengths, V_src=9, width=None):
    """src (B, S) of random real tokens (4 .. V_src-1) and <pad> past each length; S = ``width``
    or the longest length."""
    g = torch.Generator().manual_seed(seed)
    S = width or max(lengths)
    src = torch.randint(4, V_src, (len(lengths), S), generator=g)
    lengths = torch.tensor(lengths)
    src[torch.arange(S)[None, :] >= lengths[:, None]] = PAD_ID
    return src, lengths


def _randn(seed, *shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _close(rtol=1e-6, atol=1e-9):
    def close(a, b) -> bool:
        if isinstance(a, (list, tuple)):
            return isinstance(b, (list, tuple)) and len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
        return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape
                and bool(torch.allclose(a.double(), b.double(), rtol=rtol, atol=atol, equal_nan=True)))
    return close


def _sentence(text: Optional[str]) -> Optional[str]:
    return text[0].upper() + text[1:] if text else text


def _pair_problem(answer: dict, names: tuple) -> Optional[str]:
    """What is wrong with the type of an answer that must be a pair of tensors ``names``."""
    wanted = f"expected a pair ({', '.join(names)}) of tensors"
    if answer["type"] not in ("tuple", "list") or len(answer.get("items", [])) != 2:
        problem = type_problem(answer, ("tuple",))
        return (problem or f"your function returned a {answer['type']} of {len(answer['items'])} items") + \
            f": {wanted}"
    for what, item in zip(names, answer["items"]):
        problem = type_problem(item, TENSOR_TYPES)
        if problem:
            return f"your {what}: {problem}"
    return None


def _grads(total, leaves) -> list:
    return list(torch.autograd.grad(total, leaves, allow_unused=True))


def _pair_total(pair, upstream):
    """sum(first * upstream[0]) + sum(second * upstream[1])."""
    return upstream_total(pair, upstream)


def _described_grads(grads) -> list:
    return [None if g is None else describe(g) for g in grads]


# ---------------------------------------------------------------------------------------------
# encode(src, lengths, embedding, rnn, bridge) -> (outputs (B, S, H), s0 (1, B, H))
# ---------------------------------------------------------------------------------------------

ENCODER_NAMES = ("embedding.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0",
                 "rnn.bias_hh_l0", "rnn.weight_ih_l0_reverse", "rnn.weight_hh_l0_reverse",
                 "rnn.bias_ih_l0_reverse", "rnn.bias_hh_l0_reverse", "bridge.weight", "bridge.bias")


def _encoder_parts(model):
    """The notebook model's (embedding, rnn, bridge) and their parameters in ENCODER_NAMES' order."""
    embedding, rnn, bridge = model.encoder.embedding, model.encoder.rnn, model.bridge.hidden
    params = [embedding.weight] + [getattr(rnn, n.split(".", 1)[1]) for n in ENCODER_NAMES[1:9]] + \
        [bridge.weight, bridge.bias]
    return (embedding, rnn, bridge), params


def _probe_encode(student_fn, inputs, seconds):
    """The student's encoder on the case's source and the modules of its model; the answer and
    the gradients of sum(outputs * u_1) + sum(s0 * u_2) with respect to every parameter."""
    weights, src, lengths, upstream_outputs, upstream_s0 = inputs
    model = _model_of(weights)
    modules, params = _encoder_parts(model)
    with _library_off():
        got, problem = call_student(student_fn, (src.clone(), lengths.clone()) + modules, seconds,
                                    copy_inputs=False)
    if problem:
        return {"error": problem}
    result = {"answer": describe(got), "grads": [None] * len(params)}
    upstream = (upstream_outputs, upstream_s0)
    if isinstance(got, (tuple, list)) and len(got) == 2 and all(isinstance(t, torch.Tensor) for t in got) \
            and all(t.requires_grad and tuple(t.shape) == tuple(u.shape) for t, u in zip(got, upstream)):
        try:
            result["grads"] = _described_grads(_grads(_pair_total(got, upstream), params))
        except Exception as error:  # noqa: BLE001 (the student's graph)
            result["grad_error"] = gradient_error(error)
    return result


def _encode_reference(weights, src, lengths):
    """(outputs, s0) of rnnlab.seq2seq's encoder and bridge, and their parameters in order."""
    model = _library_model(weights)
    outputs, final = model.encoder(src, lengths)
    rnn = model.encoder.rnn
    params = [model.encoder.embedding.weight] + [getattr(rnn, n.split(".", 1)[1]) for n in ENCODER_NAMES[1:9]] + \
        [model.bridge.hidden.weight, model.bridge.hidden.bias]
    return outputs, model.bridge(final), params


def _encode_mistakes(weights, src, lengths) -> dict:
    model = _model_of(weights)
    (embedding, rnn, bridge), _ = _encoder_parts(model)
    B, S = src.shape
    idx = torch.arange(B)
    with torch.no_grad():
        x = embedding(src)
        unpacked, h_unpacked = rnn(x)
        packed, h_n = rnn(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
        outputs, _ = pad_packed_sequence(packed, batch_first=True, total_length=S)
        H2 = h_n.shape[-1]
        last = outputs[idx, lengths - 1]                                     # (B, H) at each end
        first = outputs[:, 0]
        right = torch.cat([h_n[0], h_n[1]], -1)

        def bridged(v, squash=torch.tanh):
            return squash(bridge(v))[None]
    return {
        "your encoder ran over the padding (no pack_padded_sequence): its final states are taken after the "
        "pad tokens, and the backward direction reads the padding first":
            lambda: (unpacked, bridged(torch.cat([h_unpacked[0], h_unpacked[1]], -1))),
        "your final states are outputs[:, -1], the last position of the padded batch: the forward direction "
        "ends at each source's own last real token, the backward one at position 0 (use h_n)":
            lambda: (outputs, bridged(outputs[:, -1])),
        "your final states are both taken at each source's last real token, outputs[b, len-1]: there the "
        "backward direction has read one token only; its final state is at position 0 (use h_n)":
            lambda: (outputs, bridged(last)),
        "your final states are both taken at position 0: there the forward direction has read one token "
        "only (use h_n)": lambda: (outputs, bridged(first)),
        "your bridge reads [backward ; forward]: h_n[0] is the forward direction, h_n[1] the backward":
            lambda: (outputs, bridged(torch.cat([h_n[1], h_n[0]], -1))),
        "your bridge has no tanh: s_0 = tanh(W_b [h_fwd ; h_bwd] + b_b)":
            lambda: (outputs, bridged(right, lambda v: v)),
        "your h_n.view(B, H) mixes the batch with the directions: h_n is (2, B, H/2), not batch-first; "
        "concatenate h_n[0] and h_n[1]": lambda: (outputs, bridged(h_n.reshape(B, 2 * H2))),
    }


def _judge_encode(case: Case, result) -> Optional[str]:
    problem = _pair_problem(result["answer"], ("outputs", "s0"))
    if problem:
        return problem
    weights, src, lengths = case.args[:3]
    got = [restore(item) for item in result["answer"]["items"]]
    outputs, s0, params = _encode_reference(weights, src, lengths)
    expected = [outputs.detach(), s0.detach()]
    found = _encode_mistakes(weights, src, lengths)
    for i, (what, dims) in enumerate((("outputs", ("b", "s", "h")), ("s0", ("layer", "b", "h")))):
        explain = lambda c, e, g, i=i: _sentence(diagnose(  # noqa: E731
            g, e, {k: (lambda m=m: m()[i]) for k, m in found.items()}, _close()))
        problem = compare_tensor(dims=dims, what=f"your {what}", explain=explain)(case, expected[i], got[i])
        if problem:
            if i == 0 and got[0].shape == expected[0].shape and \
                    bool((got[0].abs().sum(-1)[~(torch.arange(src.shape[1])[None] < lengths[:, None])] > 0).any()):
                problem += ". Your outputs are not zero past each source's end: the padding must give zeros"
            return problem
    expected_grads = _grads(_pair_total((outputs, s0), case.args[3:]), params)
    return judge_gradient(result, expected_grads, ENCODER_NAMES, [()] * len(params))


def _encode_case(label, seed, lengths, width=None, V=9, E=4, H=6):
    weights = _weights(seed, V, 7, E, H)
    src, lengths_ = _sources(seed + 1, lengths, V, width)
    return Case(label, (weights, src, lengths_, _randn(seed + 2, len(lengths), src.shape[1], H),
                        _randn(seed + 3, 1, len(lengths), H)))


register(Check(
    name="07_seq2seq.encode", points=2,
    visible=lambda: [_encode_case("lengths 5, 2, 4 (S=5), E=4, H=6", 0, [5, 2, 4])],
    hidden=lambda: [_encode_case("unsorted lengths 3, 7, 1, 7, 5", 10, [3, 7, 1, 7, 5]),
                    _encode_case("no padding: lengths 4, 4", 20, [4, 4]),
                    _encode_case("B=1, length 1", 30, [1]),
                    _encode_case("padded beyond the longest source: lengths 2, 3 in S=6", 40, [2, 3], width=6),
                    _encode_case("a long source: lengths 120, 9, 60, H=8", 50, [120, 9, 60], H=8)],
    probe=_probe_encode, judge=_judge_encode))


# ---------------------------------------------------------------------------------------------
# teacher_forced_loss(model, src, lengths, targets) -> 0-d tensor
# ---------------------------------------------------------------------------------------------

def _probe_loss(student_fn, inputs, seconds):
    """The student's loss on the case's model; the answer and its gradient with respect to every
    parameter of the model (in the order of ``model.named_parameters()``)."""
    weights, src, lengths, targets = inputs
    model = _model_of(weights)
    with _library_off():
        got, problem = call_student(student_fn, (model, src.clone(), lengths.clone(), targets.clone()), seconds,
                                    copy_inputs=False)
    if problem:
        return {"error": problem}
    params = list(model.parameters())
    result = {"answer": describe(got), "grads": [None] * len(params)}
    if isinstance(got, torch.Tensor) and got.requires_grad and got.dim() == 0:
        try:
            result["grads"] = _described_grads(_grads(got, params))
        except Exception as error:  # noqa: BLE001 (the student's graph)
            result["grad_error"] = gradient_error(error)
    return result


def _loss_mistakes(weights, src, lengths, targets) -> dict:
    model = _model_of(weights)
    real = targets != PAD_ID
    shifted = torch.cat([torch.full_like(targets[:, :1], BOS_ID), targets[:, :-1]], 1)

    def loss(inputs, scored=targets, mean=True):
        with torch.no_grad():
            logits, _ = model(src, lengths, inputs)
        per_token = F.cross_entropy(logits.flatten(0, 1), scored.flatten(), reduction="none",
                                    ignore_index=PAD_ID).view(scored.shape)
        return per_token.sum() / (scored != PAD_ID).sum() if mean else per_token.sum()

    def unmasked():
        with torch.no_grad():
            logits, _ = model(src, lengths, shifted)
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten())

    def per_sequence():
        with torch.no_grad():
            logits, _ = model(src, lengths, shifted)
        per_token = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none").view(targets.shape)
        return ((per_token * real).sum(1) / real.sum(1)).mean()

    def no_bos():
        with torch.no_grad():
            logits, _ = model(src, lengths, targets)
        return F.cross_entropy(logits[:, :-1].flatten(0, 1), targets[:, 1:].flatten(), ignore_index=PAD_ID)

    return {
        "your decoder input is not shifted: it sees the token it must predict (the inputs are <s> y_1 ... "
        "y_{n-1}, the targets y_1 ... </s>)": lambda: loss(targets),
        "padding counted: your loss equals the unmasked mean over every position (ignore the <pad> targets)":
            unmasked,
        "your loss is the mean of each sequence's mean: average over all real target tokens at once": per_sequence,
        "your loss is the sum over the target tokens: take their mean": lambda: loss(shifted, mean=False),
        "your decoder never reads <s>: you scored logits[:, :-1] of the targets fed as inputs against "
        "targets[:, 1:], so y_1 is never predicted": no_bos,
        "your loss leaves out the </s> targets: predicting the end is part of the loss":
            lambda: loss(shifted, targets.masked_fill(targets == EOS_ID, PAD_ID)),
    }


def _judge_loss(case: Case, result) -> Optional[str]:
    answer = result["answer"]
    problem = type_problem(answer, TENSOR_TYPES)
    if problem:
        return problem + ("; return the loss as a 0-d tensor with its gradient (not .item())"
                          if answer["type"] in ("float", "numpy.float64", "numpy.float32") else "")
    got = restore(answer)
    if got.dim() != 0:
        return f"your loss has shape {tuple(got.shape)}: expected a 0-d tensor (a scalar), the mean over the batch"
    weights, src, lengths, targets = case.args
    model = _library_model(weights)
    expected = seq2seq.teacher_forced_loss(model, src, lengths, targets)
    e, g = float(expected.detach()), float(got)
    if math.isnan(g):
        return "your loss is NaN"
    if not math.isclose(e, g, rel_tol=1e-6, abs_tol=1e-9):
        message = "expected a loss of {}, got {}".format(*fmt_pair(e, g))
        found = diagnose(got, expected.detach(), _loss_mistakes(weights, src, lengths, targets),
                         lambda a, b: math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-9))
        return f"{message}. {_sentence(found)}" if found else message
    names = [n for n, _ in model.named_parameters()]
    return judge_gradient(result, _grads(expected, list(model.parameters())), names, [()] * len(names))


def _loss_case(label, seed, src_lengths, tgt_lengths, V_tgt=8, H=6):
    weights = _weights(seed, 9, V_tgt, 5, H)
    src, lengths = _sources(seed + 1, src_lengths)
    g = torch.Generator().manual_seed(seed + 2)
    N = max(tgt_lengths)
    targets = torch.randint(4, V_tgt, (len(tgt_lengths), N), generator=g)
    for b, n in enumerate(tgt_lengths):
        targets[b, n - 1] = EOS_ID
        targets[b, n:] = PAD_ID
    return Case(label, (weights, src, lengths, targets))


register(Check(
    name="07_seq2seq.teacher_forced_loss", points=2,
    visible=lambda: [_loss_case("sources of 4, 2, 5 tokens, targets of 3, 5, 2 (with </s>)", 0,
                                [4, 2, 5], [3, 5, 2])],
    hidden=lambda: [_loss_case("no padding: targets of 4, 4", 10, [3, 5], [4, 4]),
                    _loss_case("a target that is </s> alone: lengths 1, 4", 20, [2, 6], [1, 4]),
                    _loss_case("B=1, target of 6", 30, [7], [6]),
                    _loss_case("unsorted: targets of 2, 7, 3, 5", 40, [3, 1, 6, 4], [2, 7, 3, 5]),
                    _loss_case("long targets: 60, 25", 50, [8, 30], [60, 25], V_tgt=12)],
    probe=_probe_loss, judge=_judge_loss))


# ---------------------------------------------------------------------------------------------
# additive_attention(query, keys, mask, W, U, b, v) -> (context (B, D_k), weights (B, S))
# ---------------------------------------------------------------------------------------------

ATTENTION_LEAVES = (0, 1, 3, 4, 5, 6)          # query, keys, W, U, b, v
ATTENTION_NAMES = ("query", "keys", "W", "U", "b", "v")


def _probe_attention(student_fn, inputs, seconds):
    """The student's attention on the case's inputs but the last two (the upstream weights of
    the context and of the weights), every float input a leaf; the answer and the gradients of
    sum(context * u_1) + sum(weights * u_2)."""
    args = [a.detach().clone().requires_grad_(True) if i in ATTENTION_LEAVES else a.clone()
            for i, a in enumerate(inputs[:-2])]
    with _library_off():
        got, problem = call_student(student_fn, tuple(args), seconds, copy_inputs=False)
    if problem:
        return {"error": problem}
    leaves = [args[i] for i in ATTENTION_LEAVES]
    result = {"answer": describe(got), "grads": [None] * len(leaves)}
    upstream = inputs[-2:]
    if isinstance(got, (tuple, list)) and len(got) == 2 and all(isinstance(t, torch.Tensor) for t in got) \
            and all(t.requires_grad and tuple(t.shape) == tuple(u.shape) for t, u in zip(got, upstream)):
        try:
            result["grads"] = _described_grads(_grads(_pair_total(got, upstream), leaves))
        except Exception as error:  # noqa: BLE001 (the student's graph)
            result["grad_error"] = gradient_error(error)
    return result


def _attention_reference(query, keys, mask, W, U, b, v):
    """rnnlab.attention.BahdanauAttention with the weights W, U, b, v."""
    module = attention.BahdanauAttention(W.shape[1], U.shape[1], W.shape[0]).double()
    return torch.func.functional_call(module, {"W.weight": W, "U.weight": U, "U.bias": b, "v.weight": v[None]},
                                      (query, keys, mask))


def _attention_mistakes(query, keys, mask, W, U, b, v) -> dict:
    energies = torch.tanh((query @ W.T)[:, None] + keys @ U.T + b) @ v                  # (B, S)

    def attend(scores, normalise=lambda s: torch.softmax(s, -1)):
        weights = normalise(scores)
        return torch.bmm(weights[:, None], keys)[:, 0], weights

    masked = energies.masked_fill(~mask, float("-inf"))
    return {
        "your weights are not masked: padded positions get weight (mask the scores before the softmax)":
            lambda: attend(energies),
        "your scores at the padding are set to 0 before the softmax, which still gives them weight: set "
        "them to -inf (or mask the weights and renormalise)": lambda: attend(energies.masked_fill(~mask, 0.0)),
        "your weights are masked after the softmax without renormalising: they no longer sum to 1":
            lambda: attend(energies, lambda s: torch.softmax(s, -1) * mask),
        "your mask is inverted: True marks the real source positions, not the padding":
            lambda: attend(energies.masked_fill(mask, float("-inf")),
                           lambda s: torch.nan_to_num(torch.softmax(s, -1))),
        "your softmax runs over the batch (dim 0): it must run over the source positions (the last dim)":
            lambda: attend(masked, lambda s: torch.nan_to_num(torch.softmax(s, 0))),
        "your score has no tanh: e_j = v^T tanh(W s + U h_j + b)":
            lambda: attend((((query @ W.T)[:, None] + keys @ U.T + b) @ v).masked_fill(~mask, float("-inf"))),
        "your score leaves out the bias b: e_j = v^T tanh(W s + U h_j + b)":
            lambda: attend((torch.tanh((query @ W.T)[:, None] + keys @ U.T) @ v).masked_fill(~mask, float("-inf"))),
    }


def _judge_attention(case: Case, result) -> Optional[str]:
    problem = _pair_problem(result["answer"], ("context", "weights"))
    if problem:
        return problem
    inputs = case.args[:-2]
    got = [restore(item) for item in result["answer"]["items"]]
    leaves = [a.detach().clone().requires_grad_(True) if i in ATTENTION_LEAVES else a for i, a in enumerate(inputs)]
    context, weights = _attention_reference(*leaves)
    mask = inputs[2]
    found = _attention_mistakes(*inputs)
    for i, (what, dims, expected) in enumerate((("weights", ("b", "s"), weights), ("context", ("b", "d"), context))):
        answer = got[1 - i]
        explain = lambda c, e, g, i=i: _sentence(diagnose(  # noqa: E731
            g, e, {k: (lambda m=m: m()[1 - i]) for k, m in found.items()}, _close()))
        problem = compare_tensor(dims=dims, what=f"your {what}", explain=explain)(case, expected.detach(), answer)
        if problem:
            return problem + _padding_weight(answer, mask) if i == 0 else problem
    expected_grads = _grads(_pair_total((context, weights), case.args[-2:]), [leaves[i] for i in ATTENTION_LEAVES])
    return judge_gradient(result, expected_grads, ATTENTION_NAMES, [()] * len(ATTENTION_NAMES))


def _padding_weight(weights, mask) -> str:
    """What the answer's weights show at the padding and on rows that are all padding."""
    if weights.shape != mask.shape:
        return ""
    padded = weights[~mask]
    if torch.isnan(weights).any() and (~mask).all(1).any():
        return (". Your weights are NaN on a row whose positions are all padding: a row with no real "
                "position must get all-zero weights (no NaN)")
    if padded.numel() and bool((padded.abs() > 0).any()):
        return f". Your weights at padded positions are {float(padded.abs().max()):.2g}, must be 0"
    return ""


def _attention_case(label, seed, lengths, Dq=5, Dk=4, A=3, empty_row=False, scale=1.0):
    """Inputs of ``additive_attention``; ``scale`` multiplies v (scores up to about scale * |v|_1)."""
    B, S = len(lengths), max(lengths)
    mask = torch.arange(S)[None, :] < torch.tensor(lengths)[:, None]
    if empty_row:
        mask[-1] = False
    return Case(label, (_randn(seed, B, Dq), _randn(seed + 1, B, S, Dk), mask, _randn(seed + 2, A, Dq),
                        _randn(seed + 3, A, Dk), _randn(seed + 4, A), scale * _randn(seed + 5, A),
                        _randn(seed + 6, B, Dk), _randn(seed + 7, B, S)))


register(Check(
    name="07_seq2seq.additive_attention", points=2,
    visible=lambda: [_attention_case("lengths 4, 2, 3 (S=4), D_q=5, D_k=4, A=3", 0, [4, 2, 3])],
    hidden=lambda: [_attention_case("no padding: lengths 3, 3", 10, [3, 3]),
                    _attention_case("a source of length 1: lengths 1, 5", 20, [1, 5]),
                    _attention_case("a row that is all padding: lengths 3, 2, (none)", 30, [3, 2, 3],
                                    empty_row=True),
                    _attention_case("B=1, S=6, A=7", 40, [6], A=7),
                    _attention_case("scores in the thousands: a long source, lengths 200, 50", 50, [200, 50],
                                    A=6, scale=300.0)],
    probe=_probe_attention, judge=_judge_attention))


# ---------------------------------------------------------------------------------------------
# greedy_decode(model, src, lengths, max_length) -> list of B lists of ids
# ---------------------------------------------------------------------------------------------

def _probe_decoder(student_fn, inputs, seconds):
    """The student's search on the model the case's weights make (``weights``: a Seq2SeqModel's
    dict, or a TinyTable's tensor), and the rest of the case's arguments."""
    weights, src, lengths, *options = inputs
    with _library_off():
        got, problem = call_student(student_fn, (_model_of(weights), src.clone(), lengths.clone(), *options), seconds,
                                    copy_inputs=False)
    return {"error": problem} if problem else {"answer": describe(got)}


def _token_lists(answer: dict, B: int, pairs: bool = False) -> tuple:
    """(the answer as B lists of ints (with scores if ``pairs``), None) or (None, the problem)."""
    wanted = ("a list of B (tokens, score) pairs" if pairs else "a list of B lists of token ids")
    if answer["type"] not in ("list", "tuple") or "items" not in answer:
        return None, (type_problem(answer, ("list",)) or f"your function returned a {answer['type']}") + \
            f": expected {wanted}"
    if len(answer["items"]) != B:
        return None, f"your function returned {len(answer['items'])} outputs for a batch of {B} sources"
    out = []
    for b, item in enumerate(answer["items"]):
        score = None
        if pairs:
            if item["type"] not in ("list", "tuple") or len(item.get("items", [])) != 2:
                return None, f"output {b}: expected a pair (tokens, score), got a {item['type']}"
            item, score_item = item["items"]
            score = restore(score_item)
            if isinstance(score, torch.Tensor) and score.numel() == 1:
                score = float(score)
            if isinstance(score, bool) or not isinstance(score, (int, float)):
                return None, f"output {b}: the score must be a number, got a {score_item['type']}"
        tokens = restore(item)
        if isinstance(tokens, torch.Tensor) and tokens.dim() == 1 and not tokens.is_floating_point():
            tokens = tokens.tolist()
        if not isinstance(tokens, list) or not all(isinstance(t, int) and not isinstance(t, bool) for t in tokens):
            return None, f"output {b}: expected a list of token ids (ints), got a {item['type']}"
        out.append((tokens, score) if pairs else tokens)
    return out, None


def _ids(tokens) -> str:
    return "[" + ", ".join(SPECIAL_NAMES.get(t, str(t)) for t in tokens) + "]"


def _output_problem(tokens, max_length) -> Optional[str]:
    """What an output shows by itself: tokens after </s>, <s> or <pad> emitted, too long."""
    if EOS_ID in tokens[:-1]:
        return ("it goes on after </s>: a sequence that emitted </s> is finished (stop it there, "
                "and keep decoding the others)")
    emitted = [SPECIAL_NAMES[t] for t in (BOS_ID, PAD_ID) if t in tokens]
    if emitted:
        return f"it contains {' and '.join(emitted)}, which the decoder reads but never emits (mask them to -inf)"
    if len(tokens) > max_length:
        return f"it has {len(tokens)} tokens, more than max_length = {max_length}"
    return None


def _greedy_reference(weights, src, lengths, max_length) -> list:
    hyps = decoding.greedy_decode(_library_model(weights), src, lengths, max_length)
    return [hyps.tokens[b, 0, :hyps.lengths[b, 0]].tolist() for b in range(len(src))]


def _greedy_mistakes(weights, src, lengths, max_length) -> dict:
    model = _model_of(weights)

    def run(steps=max_length, stop_all=False, feed_bos=False, keep_state=False, allow_specials=False):
        with torch.no_grad():
            source, state = model.encode(src, lengths)
            token = torch.full((len(src),), BOS_ID)
            out, done = [[] for _ in src], torch.zeros(len(src), dtype=torch.bool)
            first_state = state
            for _ in range(steps):
                logits, state, _ = model.step(token, first_state if keep_state else state, source)
                if not allow_specials:
                    logits[:, [BOS_ID, PAD_ID]] = float("-inf")
                token = logits.argmax(-1)
                for b in range(len(src)):
                    if not done[b]:
                        out[b].append(int(token[b]))
                done |= token == EOS_ID
                if done.all() or (stop_all and done.any()):
                    break
                if feed_bos:
                    token = torch.full((len(src),), BOS_ID)
        return out

    return {
        "your decoding stops every sequence of the batch at the first </s> of any: each sequence stops at "
        "its own": lambda: run(stop_all=True),
        "your decoding emits max_length + 1 tokens: at most max_length": lambda: run(max_length + 1),
        "your decoding emits at most max_length - 1 tokens: max_length are allowed": lambda: run(max_length - 1),
        "your outputs leave out the </s> that ends them: keep it (the contract)":
            lambda: [y[:-1] if y and y[-1] == EOS_ID else y for y in run()],
        "your decoder reads <s> at every step: feed it the token it just emitted": lambda: run(feed_bos=True),
        "your decoder starts every step from the initial state s_0: carry the state step returns":
            lambda: run(keep_state=True),
    }


def _judge_greedy(case: Case, result) -> Optional[str]:
    weights, src, lengths, max_length = case.args
    got, problem = _token_lists(result["answer"], len(src))
    if problem:
        return problem
    expected = _greedy_reference(weights, src, lengths, max_length)
    if got == expected:
        return None
    b = next(i for i, (g, e) in enumerate(zip(got, expected)) if g != e)
    t = next((i for i, (x, y) in enumerate(zip(got[b], expected[b])) if x != y), min(len(got[b]), len(expected[b])))
    message = f"output {b} differs from position {t}: expected {_ids(expected[b])}, got {_ids(got[b])}"
    shown = _output_problem(got[b], max_length)
    if shown:
        return f"{message}: {shown}"
    found = diagnose(got, expected, _greedy_mistakes(weights, src, lengths, max_length), lambda x, y: x == y)
    return f"{message}. {_sentence(found)}" if found else message


def _greedy_case(label, seed, src_lengths, max_length, **weights):
    src, lengths = _sources(seed + 1, src_lengths)
    return Case(label, (_weights(seed, peaked=4.0, **weights), src, lengths, max_length))


register(Check(
    name="07_seq2seq.greedy_decode", points=2,
    visible=lambda: [_greedy_case("6 sources, max_length 8 (they end at different steps)", 3,
                                  [5, 2, 7, 3, 4, 6], 8, eos=2.0)],
    hidden=lambda: [_greedy_case("a model that favours <pad>: 4 sources, max_length 6", 11, [3, 5, 2, 4], 6,
                                 eos=2.0, favour=(PAD_ID, 6.0)),
                    _greedy_case("a model that favours <s>: 3 sources, max_length 6", 12, [4, 1, 3], 6,
                                 eos=2.0, favour=(BOS_ID, 6.0)),
                    _greedy_case("max_length 1", 13, [3, 4], 1, eos=1.0),
                    _greedy_case("B=1, a source of length 1, max_length 5", 14, [1], 5, eos=2.0),
                    _greedy_case("outputs that never end: max_length 4", 15, [3, 6, 2], 4, eos=-20.0),
                    _greedy_case("8 sources, max_length 30", 16, [7, 1, 4, 6, 2, 5, 3, 7], 30, eos=1.0)],
    probe=_probe_decoder, judge=_judge_greedy))


# ---------------------------------------------------------------------------------------------
# beam_search(model, src, lengths, beam_size, max_length, alpha) -> list of B (tokens, score)
# ---------------------------------------------------------------------------------------------

def _log_prob(model, src_row, length, tokens) -> float:
    """ln P(tokens | source) under teacher forcing."""
    with torch.no_grad():
        source, state = model.encode(src_row[None], length[None])
        token, total = torch.tensor([BOS_ID]), 0.0
        for y in tokens:
            logits, state, _ = model.step(token, state, source)
            total += float(torch.log_softmax(logits, -1)[0, y])
            token = torch.tensor([y])
    return total


def _beam_reference(weights, src, lengths, beam_size, max_length, alpha) -> list:
    hyps = decoding.beam_search(_library_model(weights), src, lengths, beam_size, max_length, alpha)
    return [(hyps.tokens[b, 0, :hyps.lengths[b, 0]].tolist(), float(hyps.scores[b, 0])) for b in range(len(src))]


def _mistaken_beam(model, src_row, length, k, max_length, alpha, mistake) -> list:
    """The best output of one source under a beam search with one classic ``mistake``: "extend"
    (a hypothesis that emitted </s> stays live), "raw" (ranked by the raw log-probability),
    "copies" (k copies of <s> at the first step), "top" (stop as soon as the best candidate of a
    step ends), "raw bound" (stop when no live raw score beats the worst finished normalised
    one). Only for naming a mistake: the reference is ``rnnlab.decoding.beam_search``."""
    with torch.no_grad():
        source, state = model.encode(src_row[None], length[None])
        copies = k if mistake == "copies" else 1
        live, finished = [([], 0.0)] * copies, []
        state = state.select(torch.zeros(copies, dtype=torch.long))
        for t in range(max_length):
            tokens = torch.tensor([y[-1] if y else BOS_ID for y, _ in live])
            logits, new_state, _ = model.step(tokens, state, source.select(torch.zeros(len(live), dtype=torch.long)))
            log_probs = torch.log_softmax(logits, -1)
            log_probs[:, [BOS_ID, PAD_ID]] = float("-inf")
            V = log_probs.shape[1]
            scores = torch.tensor([s for _, s in live], dtype=log_probs.dtype)[:, None] + log_probs
            top, index = scores.flatten().topk(min(2 * k, scores.numel()))
            kept, parents, top_ends = [], [], False
            for rank, (score, j) in enumerate(zip(top.tolist(), index.tolist())):
                if score == float("-inf"):
                    break
                y = live[j // V][0] + [j % V]
                ends = (j % V == EOS_ID and mistake != "extend") or t + 1 == max_length
                if ends and rank < k:
                    finished.append((score / len(y) ** (0.0 if mistake == "raw" else alpha), y))
                    top_ends = top_ends or rank == 0
                elif not ends and len(kept) < k:
                    kept.append((y, score))
                    parents.append(j // V)
            finished.sort(reverse=True)
            if not kept or t + 1 == max_length or (mistake == "top" and top_ends):
                break
            live, state = kept, new_state.select(torch.tensor(parents))
            best_live = max(s for _, s in live)
            bound = best_live if mistake == "raw bound" else best_live / max_length ** alpha
            if len(finished) >= k and bound <= finished[k - 1][0]:
                break
    return finished[0][1]


BEAM_MISTAKES = {
    "extend": "your beam kept extending a hypothesis after </s> (a finished hypothesis is never extended)",
    "raw": "your scores are not normalised: you ranked by the raw log-probability, which favours short "
           "outputs; rank by log P / L^alpha",
    "copies": "your first step expands k copies of <s>: they fill the beam with copies of one hypothesis; "
              "start from one live beam",
    "top": "your search stops as soon as its top hypothesis finishes: a live hypothesis can still overtake "
           "it (stop only when no live hypothesis can beat the worst of the k finished ones)",
    "raw bound": "your search stops when no live raw score beats the finished normalised ones: the bound "
                 "of a live prefix of score s is s / max_length^alpha",
}


def _beam_mistakes(weights, src, lengths, beam_size, max_length, alpha) -> dict:
    """{explanation: () -> the best outputs (token lists) that mistake gives}."""
    model = _library_model(weights)
    return {why: (lambda mistake=mistake: [_mistaken_beam(model, src[b], lengths[b], beam_size, max_length,
                                                          alpha, mistake) for b in range(len(src))])
            for mistake, why in BEAM_MISTAKES.items()}


def _matching_mistakes(got, expected, mistakes: dict) -> list:
    """Every explanation of ``mistakes`` whose result is ``got`` and not ``expected`` (where two
    mistakes give the same output, the answer cannot tell which was made)."""
    return [why for why in mistakes if diagnose(got, expected, {why: mistakes[why]}, lambda x, y: x == y)]


def _judge_beam(case: Case, result) -> Optional[str]:
    weights, src, lengths, beam_size, max_length, alpha = case.args
    got, problem = _token_lists(result["answer"], len(src), pairs=True)
    if problem:
        return problem
    expected = _beam_reference(weights, src, lengths, beam_size, max_length, alpha)
    model = _library_model(weights)
    for b, ((tokens, score), (want, want_score)) in enumerate(zip(got, expected)):
        if tokens != want:
            message = (f"the best output of source {b} is {_ids(want)} (score {want_score:.6g}), yours is "
                       f"{_ids(tokens)}")
            if EOS_ID in tokens[:-1]:
                return f"{message}: {BEAM_MISTAKES['extend']}"
            shown = _output_problem(tokens, max_length)
            if shown:
                return f"{message}: {shown}"
            found = _matching_mistakes([y for y, _ in got], [y for y, _ in expected],
                                       _beam_mistakes(weights, src, lengths, beam_size, max_length, alpha))
            if len(found) > 1:
                return f"{message}. That is what each of these mistakes gives here: " + "; or ".join(found)
            return f"{message}. {_sentence(found[0])}" if found else message
        if math.isnan(score) or not math.isclose(score, want_score, rel_tol=1e-6, abs_tol=1e-9):
            message = "the score of output {} is {}, yours is {}".format(b, *fmt_pair(want_score, score))
            log_prob = _log_prob(model, src[b], lengths[b], tokens)
            L = len(tokens)
            explanations = [(log_prob, "your score is the raw log-probability: divide it by L^alpha"),
                            (log_prob / max(L - 1, 1) ** alpha, "your length L leaves out </s>: count it"),
                            (math.exp(log_prob), "your score is a probability: use log-probabilities")]
            for value, why in explanations:
                if math.isclose(score, value, rel_tol=1e-6) and not math.isclose(value, want_score, rel_tol=1e-6):
                    return f"{message}. {_sentence(why)}"
            return message
    return None


def _table(seed, scale=2.0) -> torch.Tensor:
    return scale * _randn(seed, 9, 6, 6)


def _beam_case(label, model, src_lengths, beam_size, max_length, alpha, seed=1):
    src, lengths = _sources(seed, src_lengths)
    return Case(label, (model, src, lengths, beam_size, max_length, alpha))


WIDE = 4 * 3 ** 4                          # keeps every candidate of every step of a TinyTable


register(Check(
    name="07_seq2seq.beam_search", points=3,
    visible=lambda: [_beam_case("the tiny table model, a beam keeping every prefix, alpha 0.7, 6 sources",
                                _table(2), [3, 1, 4, 2, 5, 3], WIDE, 5, 0.7),
                     _beam_case("a Seq2SeqModel, beam 3, alpha 0, 4 sources", _weights(5, peaked=2.0, eos=1.0),
                                [4, 2, 5, 3], 3, 8, 0.0)],
    hidden=lambda: [_beam_case("the tiny table model, a beam keeping every prefix, raw scores (alpha 0)",
                               _table(2), [3, 1, 4, 2, 5, 3], WIDE, 5, 0.0),
                    _beam_case("the tiny table model, every prefix kept, alpha 1.5", _table(7), [2, 5, 3, 1, 4],
                               WIDE, 5, 1.5, seed=3),
                    _beam_case("the tiny table model, beam 1 (greedy), alpha 0", _table(2), [3, 1, 4, 2, 5, 3],
                               1, 5, 0.0),
                    _beam_case("the tiny table model, beam 3, alpha 2.0, max_length 9", _table(2),
                               [3, 1, 4, 2, 5, 3], 3, 9, 2.0),
                    _beam_case("the tiny table model, beam 5, max_length 1", _table(4), [2, 3], 5, 1, 0.5),
                    _beam_case("a Seq2SeqModel, beam 4, alpha 1.0, 5 sources", _weights(6, peaked=2.0, eos=1.0),
                               [3, 6, 1, 4, 2], 4, 10, 1.0, seed=4),
                    _beam_case("a Seq2SeqModel, B=1, beam 1", _weights(7, peaked=2.0, eos=1.0), [5], 1, 8, 0.0)],
    probe=_probe_decoder, judge=_judge_beam))


# ---------------------------------------------------------------------------------------------
# train_date_model(src, src_lengths, targets, src_vocab_size, tgt_vocab_size, seed) -> Seq2SeqModel
# ---------------------------------------------------------------------------------------------

THRESHOLD = 0.90           # exact match on held-out dates
TRAIN_DATES = 2000
HELD_OUT_DATES = 500
MAX_WEIGHTS = 2_000_000    # elements: far more than any Seq2SeqModel of the assignment has
MAX_OUTPUT = 12            # an ISO date is 10 characters, then </s>


@functools.lru_cache(maxsize=4)
def date_data(seed: int):
    """(training src (N, S), lengths (N,), targets (N, T) padded with <pad>, held-out sources as id
    arrays, their ISO strings, source vocabulary, target vocabulary) of a seed's case. The
    vocabularies are those of every character the date formats use."""
    train = [(list(s), list(t)) for s, t in date_pairs(TRAIN_DATES, seed=seed)]
    held_out = [(list(s), list(t)) for s, t in date_pairs(HELD_OUT_DATES, seed=seed + 1000)]
    src_vocab, tgt_vocab = seq2seq.build_vocabs(train + held_out + _every_character())
    src, lengths, targets = _padded(seq2seq.encode_pairs(train, src_vocab, tgt_vocab))
    return (src, lengths, targets, [src_vocab.encode(s) for s, _ in held_out], ["".join(t) for _, t in held_out],
            src_vocab, tgt_vocab)


def _every_character() -> list:
    """A pair whose source has every character a date format can write (so that no held-out date
    meets an unknown character)."""
    letters = sorted(set("".join(s for s, _ in date_pairs(5000, seed=12345))) | set("0123456789"))
    return [(letters, list("0123456789-"))]


def _padded(encoded):
    src = nn.utils.rnn.pad_sequence([torch.as_tensor(s) for s, _ in encoded], batch_first=True, padding_value=PAD_ID)
    tgt = nn.utils.rnn.pad_sequence([torch.as_tensor(t) for _, t in encoded], batch_first=True, padding_value=PAD_ID)
    return src, torch.tensor([len(s) for s, _ in encoded]), tgt


def _probe_training(student_fn, inputs, seconds):
    """Train the student's model; copy its weights out as plain data (the judge rebuilds a
    Seq2SeqModel from them and decodes held-out dates)."""
    src, lengths, targets, src_vocab_size, tgt_vocab_size, seed = inputs
    with _library_off():
        got, problem = call_student(student_fn, (src.clone(), lengths.clone(), targets.clone(), src_vocab_size,
                                                 tgt_vocab_size, seed), seconds, copy_inputs=False)
    return {"error": problem} if problem else module_answer(got)


def _trained_model(weights, src_vocab_size, tgt_vocab_size):
    """(a float64 Seq2SeqModel with the student's weights, None), or (None, what is wrong)."""
    found, problem = restored_weights(weights, MAX_WEIGHTS, "a Seq2SeqModel needs")
    if problem:
        return None, problem
    keys = list(Seq2SeqModel(src_vocab_size, tgt_vocab_size, 2, 2).state_dict())
    if set(found) != set(keys):
        return None, (f"expected the notebook's Seq2SeqModel, got a model with the weights "
                      f"{', '.join(sorted(found)) or 'none'}: train the Seq2SeqModel of the notebook")
    E, H = found["encoder.embedding.weight"].shape[-1], found["bridge.hidden.weight"].shape[-1]
    model = Seq2SeqModel(src_vocab_size, tgt_vocab_size, E, H).double()
    for key, param in model.state_dict().items():
        if tuple(found[key].shape) != tuple(param.shape):
            return None, (f"your model's {key} has shape {tuple(found[key].shape)}, expected {tuple(param.shape)} "
                          f"(a Seq2SeqModel({src_vocab_size}, {tgt_vocab_size}, embedding_dim={E}, hidden_size={H}))")
    model.load_state_dict({k: v.double() for k, v in found.items()})
    return model.eval(), None


def _exact_match(model, sources, references, tgt_vocab) -> float:
    with torch.no_grad():
        predicted = decoding.predict(model, sources, max_length=MAX_OUTPUT)
    return seq2seq.exact_match(["".join(tgt_vocab.decode(p)) for p in predicted], references)


def _seeded_model(src_vocab_size, tgt_vocab_size, E, H, seed):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Seq2SeqModel(src_vocab_size, tgt_vocab_size, E, H).double().eval()


def _judge_training(case: Case, result) -> Optional[str]:
    src, lengths, targets, src_vocab_size, tgt_vocab_size, seed = case.args
    answer_type = result["answer"].get("type")
    if answer_type != "torch.nn.Module":
        return f"expected your trained model (the notebook's Seq2SeqModel, a torch.nn.Module), got a {answer_type}"
    model, problem = _trained_model(result.get("weights"), src_vocab_size, tgt_vocab_size)
    if problem:
        return problem
    if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
        return ("your model's weights contain NaN or infinity: training diverged (a learning rate far too "
                "large, or a loss that is not bounded below)")
    _, _, _, sources, references, _, tgt_vocab = date_data(seed)
    held_out = _exact_match(model, sources, references, tgt_vocab)
    if held_out >= THRESHOLD:
        return None
    message = (f"your model normalises {100 * held_out:.1f}% of {len(references)} held-out dates exactly "
               f"(greedy decoding); it needs {100 * THRESHOLD:.0f}%")
    E, H = model.encoder.embedding.weight.shape[1], model.bridge.hidden.weight.shape[0]
    untrained = _seeded_model(src_vocab_size, tgt_vocab_size, E, H, seed)
    pairs = [(name, p, q) for (name, p), (_, q) in zip(model.state_dict().items(), untrained.state_dict().items())]
    if all(torch.equal(p, q) for _, p, q in pairs):
        return message + (". Your model's weights are exactly those of a Seq2SeqModel built right after "
                          "torch.manual_seed(seed): they were never updated (is optimizer.step() called, on an "
                          "optimizer of this model's parameters?)")
    frozen = sorted({name.split(".")[0] for name, p, q in pairs if torch.equal(p, q)})
    if frozen:
        return message + (f". The weights of your model's {' and '.join(frozen)} are still those of the seeded "
                          "initialisation: only part of the model was trained; give the optimizer all of "
                          "model.parameters()")
    train_sources = [s[:n].numpy() for s, n in zip(src[:HELD_OUT_DATES], lengths[:HELD_OUT_DATES].tolist())]
    train_references = ["".join(tgt_vocab.decode([t for t in row.tolist() if t not in (EOS_ID, PAD_ID)]))
                        for row in targets[:HELD_OUT_DATES]]
    on_train = _exact_match(model, train_sources, train_references, tgt_vocab)
    with torch.no_grad():
        rows = torch.arange(min(256, len(src)))
        inputs = torch.cat([torch.full_like(targets[rows, :1], BOS_ID), targets[rows, :-1]], 1)
        logits, _ = model(src[rows], lengths[rows], inputs)
        unshifted, _ = model(src[rows], lengths[rows], targets[rows])
        real = targets[rows] != PAD_ID
        copying = float((unshifted.argmax(-1) == targets[rows])[real].double().mean())
        predicting = float((logits.argmax(-1) == targets[rows])[real].double().mean())
    if copying > 0.9 and copying > predicting + 0.3:
        return message + (". Fed the targets themselves it predicts them almost perfectly ("
                          f"{100 * copying:.0f}% of the tokens): it was trained on unshifted inputs and learnt to "
                          "copy the token it reads. The decoder's inputs are <s> y_1 ... y_{n-1}")
    start = _exact_match(untrained, sources, references, tgt_vocab)
    progress = (f"It improved from {100 * start:.1f}% untrained (on its own training dates it gets "
                f"{100 * on_train:.1f}%)")
    if on_train >= THRESHOLD and held_out < on_train - 0.1:
        return message + f". {progress}: it learnt its training dates but not the rule; train for fewer epochs"
    return message + f". {progress}, not enough: train for more epochs or with a larger learning rate"


def _training_case(label, seed):
    src, lengths, targets, _, _, src_vocab, tgt_vocab = date_data(seed)
    return Case(label, (src, lengths, targets, len(src_vocab), len(tgt_vocab), seed))


register(Check(
    name="07_seq2seq.train_date_model", points=2,
    visible=lambda: [_training_case("dates, seed 0", 0)],
    hidden=lambda: [_training_case("other dates, seed 1", 1)],
    probe=_probe_training, judge=_judge_training, time_limit=60.0))
