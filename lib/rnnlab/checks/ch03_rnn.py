"""Checks of assignment 03 (vanilla RNNs and RNN language models): ``03_rnn.<part>``.

Each check compares the student's function with rnnlab's reference (``rnnlab.layers.RNNCell``
and ``RNN``, ``rnnlab.handwired``, ``rnnlab.models.teacher_forcing_loss``,
``rnnlab.sampling``) on small seeded float64 inputs, and when the answers differ it recomputes
the usual mistakes (tanh missing, W_ih and W_hh swapped, h_0 not zero, targets not shifted,
padding counted, temperature applied after the softmax, ...) to name the one the student made.
Models and random generators cannot cross from the judge to the student as plain data, so the
probes build them from plain weights and seeds.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import handwired, layers, models
from .framework import Case, Check, call_student, compare_tensor, fmt, register, type_problem
from .plain import NUMBER_TYPES, TENSOR_TYPES, describe, restore

SHAPE_NAMES = {"B": "batch", "T": "time", "I": "input", "H": "hidden"}


def _randn(seed: int, *shape) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _weights(seed: int, I: int, H: int) -> tuple:
    """(W_ih (H, I), W_hh (H, H), b_ih (H,), b_hh (H,)), seeded, scaled like torch.nn's init."""
    scale = 1 / math.sqrt(H)
    return tuple(scale * _randn(seed + k, *shape) for k, shape in
                 enumerate([(H, I), (H, H), (H,), (H,)]))


def _first_match(got, candidates: dict, rtol=1e-5, atol=1e-7) -> Optional[str]:
    """The explanation of the first candidate (a known mistake) equal to the student's answer."""
    for explanation, make in candidates.items():
        try:
            value = make()
        except Exception:   # the mistake does not apply to these shapes
            continue
        if value is not None and tuple(value.shape) == tuple(got.shape) and \
                torch.allclose(got.double(), value.double(), rtol=rtol, atol=atol):
            return explanation
    return None


# ---------------------------------------------------------------------------------------------
# rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh) -> h_t (B, H)
# ---------------------------------------------------------------------------------------------

def reference_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    """rnnlab.layers.RNNCell with the given parameters: tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)."""
    cell = layers.RNNCell(W_ih.shape[1], W_ih.shape[0], dtype=torch.float64)
    with torch.no_grad():
        for p, value in zip((cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh), (W_ih, W_hh, b_ih, b_hh)):
            p.copy_(value)
        return cell(x, h)


def _cell_mistakes(x, h, W_ih, W_hh, b_ih, b_hh) -> dict:
    pre = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh
    return {
        "your h_t is the pre-activation: the tanh is missing": lambda: pre,
        "your h_t uses W_hh and W_ih swapped (W_ih multiplies the input x_t, W_hh the previous state h_{t-1})":
            lambda: torch.tanh(x @ W_hh.T + b_ih + h @ W_ih.T + b_hh),
        "your h_t multiplies by W_ih and W_hh without transposing them (x_t W_ih^T: W_ih is (H, I))":
            lambda: torch.tanh(x @ W_ih + b_ih + h @ W_hh + b_hh),
        "your h_t leaves out the previous state h_{t-1}": lambda: torch.tanh(x @ W_ih.T + b_ih + b_hh),
        "your h_t leaves out the bias b_hh": lambda: torch.tanh(x @ W_ih.T + b_ih + h @ W_hh.T),
        "your h_t leaves out the bias b_ih": lambda: torch.tanh(x @ W_ih.T + h @ W_hh.T + b_hh),
        "your h_t leaves out both biases": lambda: torch.tanh(x @ W_ih.T + h @ W_hh.T),
        "your h_t uses the sigmoid instead of tanh": lambda: torch.sigmoid(pre),
        "your h_t uses ReLU instead of tanh": lambda: torch.relu(pre),
    }


def _cell_case(label, seed, B, I, H, zero_h=False):
    W = _weights(seed, I, H)
    h = torch.zeros(B, H, dtype=torch.float64) if zero_h else _randn(seed + 10, B, H)
    return Case(label, (_randn(seed + 20, B, I), h) + W)


register(Check(
    name="03_rnn.rnn_cell", points=1, reference=reference_cell,
    visible=lambda: [_cell_case("B=2, I=3, H=3", 0, 2, 3, 3), _cell_case("B=2, I=3, H=4", 5, 2, 3, 4)],
    hidden=lambda: [_cell_case("B=3, I=4, H=4", 1, 3, 4, 4),
                    _cell_case("B=1, I=5, H=2", 2, 1, 5, 2),
                    _cell_case("B=4, I=2, H=6, h = 0", 3, 4, 2, 6, zero_h=True),
                    _cell_case("B=5, I=3, H=3", 4, 5, 3, 3)],
    returns=TENSOR_TYPES,
    compare=compare_tensor(dims=("b", "h"), what="h_t",
                           explain=lambda case, e, g: _first_match(g, _cell_mistakes(*case.args)))))


# ---------------------------------------------------------------------------------------------
# rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh) -> all hidden states (B, T, H)
# ---------------------------------------------------------------------------------------------

def reference_forward(x, h0, W_ih, W_hh, b_ih, b_hh):
    """rnnlab.layers.RNN (batch-first, the reference loop) with the given parameters: the output
    sequence, h_1 ... h_T, (B, T, H). h0 (B, H), or None for zeros."""
    rnn = layers.RNN(W_ih.shape[1], W_ih.shape[0], batch_first=True, impl="reference", dtype=torch.float64)
    with torch.no_grad():
        for p, value in zip((rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0),
                            (W_ih, W_hh, b_ih, b_hh)):
            p.copy_(value)
        return rnn(x, None if h0 is None else h0[None])[0]     # layers want h_0 as (1, B, H)


def _loop(x, h, step):
    """All states of h_t = step(x_t, h_{t-1}) over a batch-first x, stacked to (B, T, H)."""
    out = []
    for x_t in x.unbind(1):
        h = step(x_t, h)
        out.append(h)
    return torch.stack(out, 1)


def _forward_mistakes(x, h0, W_ih, W_hh, b_ih, b_hh) -> dict:
    B, T, _ = x.shape
    H = W_ih.shape[0]
    zeros = x.new_zeros(B, H)
    start = zeros if h0 is None else h0

    def cell(x_t, h):
        return torch.tanh(x_t @ W_ih.T + b_ih + h @ W_hh.T + b_hh)

    right = _loop(x, start, cell)
    return {
        "your first step does not start from h_0 = 0 (when h0 is None the initial state must be zeros)":
            (lambda: _loop(x, x.new_ones(B, H), cell)) if h0 is None else (lambda: None),
        "your loop ignores the h0 it is given and starts from zeros":
            (lambda: _loop(x, zeros, cell)) if h0 is not None else (lambda: None),
        "your output is shifted by one step: it holds h_0 ... h_{T-1}; return h_1 ... h_T, the state after each input":
            lambda: torch.cat([start[:, None], right[:, :-1]], 1),
        "every step of yours starts from h_0 instead of the previous step's state (h is never updated)":
            lambda: torch.stack([cell(x_t, start) for x_t in x.unbind(1)], 1),
        "your loop walks over the batch dimension: x is batch-first (B, T, I), so step t is x[:, t]":
            lambda: _loop(x.transpose(0, 1), x.new_zeros(T, H) if h0 is None else None, cell).transpose(0, 1),
        "your states are the pre-activations: the tanh is missing":
            lambda: _loop(x, start, lambda x_t, h: x_t @ W_ih.T + b_ih + h @ W_hh.T + b_hh),
        "your step uses W_hh and W_ih swapped (W_ih multiplies the input x_t, W_hh the previous state)":
            lambda: _loop(x, start, lambda x_t, h: torch.tanh(x_t @ W_hh.T + b_ih + h @ W_ih.T + b_hh)),
        "your states run backwards in time": lambda: _loop(x.flip(1), start, cell).flip(1),
    }


def _explain_forward(case, expected, got) -> Optional[str]:
    found = _first_match(got, _forward_mistakes(*case.args))
    if found:
        return found
    first_t = next((t for t in range(got.shape[1]) if not torch.allclose(got[:, t], expected[:, t], 1e-5, 1e-7)), None)
    if first_t == 0:
        return "already the first step differs: check h_0 and the step equation (your rnn_cell passes?)"
    if first_t is not None:
        return f"steps 0 to {first_t - 1} are right: check how the state is carried from one step to the next"
    return None


def _forward_case(label, seed, B, T, I, H, h0=True):
    W = _weights(seed, I, H)
    return Case(label, (_randn(seed + 20, B, T, I), _randn(seed + 10, B, H) if h0 else None) + W)


register(Check(
    name="03_rnn.rnn_forward", points=2, reference=reference_forward,
    visible=lambda: [_forward_case("B=2, T=5, I=3, H=4, h0=None", 0, 2, 5, 3, 4, h0=False),
                     _forward_case("B=2, T=5, I=3, H=4, h0 given", 1, 2, 5, 3, 4)],
    hidden=lambda: [_forward_case("B=3, T=7, I=4, H=4, h0=None", 2, 3, 7, 4, 4, h0=False),
                    _forward_case("B=4, T=4, I=2, H=3, h0 given (B = T)", 3, 4, 4, 2, 3),
                    _forward_case("B=1, T=1, I=5, H=2, h0=None", 4, 1, 1, 5, 2, h0=False),
                    _forward_case("B=5, T=9, I=3, H=6, h0 given", 5, 5, 9, 3, 6)],
    returns=TENSOR_TYPES,
    compare=compare_tensor(dims=("b", "t", "h"), what="the hidden states", explain=_explain_forward)))


# ---------------------------------------------------------------------------------------------
# parity_weights() -> {"w_y", "w_x", "b_h", "w_out", "b_out"}
# ---------------------------------------------------------------------------------------------

_NAMED_TABLES = {
    (0, 1, 1, 1): "OR (the output is on when either input is 1): h2, the AND unit, must switch the output off when both are 1",
    (0, 0, 0, 1): "AND: the output must be on when exactly one of y_{t-1} and x_t is 1",
    (0, 1, 0, 1): "y_t = x_t: the previous output y_{t-1} has no effect; set the feedback weights w_y",
    (0, 0, 0, 0): "an output that is always 0",
    (1, 1, 1, 1): "an output that is always 1",
    (1, 0, 0, 1): "XNOR, the opposite of parity",
}


def _probe_no_args(student_fn, inputs, seconds):
    """Call the student's function with no arguments (the case's inputs are for the judge)."""
    got, problem = call_student(student_fn, (), seconds)
    return {"error": problem} if problem else {"answer": describe(got)}


def _judge_parity(case: Case, result) -> Optional[str]:
    problem = type_problem(result["answer"], ("dict",))
    if problem:
        return problem
    try:
        weights = handwired.as_parity_weights(restore(result["answer"]))
    except (ValueError, TypeError, RuntimeError) as error:
        return str(error)
    (max_len,) = case.args
    for length in range(1, max_len + 1):
        bits = handwired.all_bit_strings(length)
        y, h = handwired.parity_network(bits, weights)
        wrong = (y != bits.cumsum(1) % 2).any(1).nonzero()
        if len(wrong):
            b = int(wrong[0])
            t = int((y[b] != bits[b].cumsum(0) % 2).nonzero()[0])
            string = "".join(str(int(v)) for v in bits[b])
            table = handwired.parity_truth_table(weights)
            outputs = tuple(row[4] for row in table)
            message = (f"on the bit string {string}, your output y at step t={t + 1} is {int(y[b, t])}, "
                       f"expected {int(bits[b, :t + 1].sum()) % 2} (the parity of {string[:t + 1]}). "
                       "Your truth table (y_{t-1}, x_t -> h1, h2, y_t): "
                       + "; ".join(f"{a}{c} -> {d}{e} {f}" for a, c, d, e, f in table))
            if outputs in _NAMED_TABLES:
                message += f". Your network computes {_NAMED_TABLES[outputs]}"
            if any(abs(float(v)) == 0 for v in (weights["b_h"] * 1).tolist()) or \
                    (weights["b_h"] + weights["w_y"] + weights["w_x"] == 0).any():
                message += (". Some hidden unit's input is exactly 0 for some row, and step(0) = 0: "
                            "put each threshold between the values it separates (e.g. -0.5, -1.5)")
            return message
    return None


register(Check(
    name="03_rnn.parity_weights", points=2, reference=lambda: handwired.PARITY_WEIGHTS,
    visible=lambda: [Case("every bit string of length 1 to 4", (4,))],
    hidden=lambda: [Case("every bit string of length 1 to 10", (10,))],
    probe=_probe_no_args, judge=_judge_parity))


# ---------------------------------------------------------------------------------------------
# lm_loss(model, tokens, pad_id) -> scalar tensor
# ---------------------------------------------------------------------------------------------

class TinyRNNLM(nn.Module):
    """Embedding, ``torch.nn.RNN`` (tanh, batch-first), linear output: the LM of the lm_loss
    cases, in plain torch (the grading sandbox has no rnnlab models).
    ``forward(tokens (B, T), state=None) -> (logits (B, T, V), state (1, B, H))``."""

    def __init__(self, vocab_size: int, embedding_dim: int, hidden_size: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.rnn = nn.RNN(embedding_dim, hidden_size, batch_first=True)
        self.output = nn.Linear(hidden_size, vocab_size)

    def forward(self, tokens, state=None):
        states, state = self.rnn(self.embedding(tokens), state)
        return self.output(states), state


class RecordingLM(nn.Module):
    """A float64 ``TinyRNNLM`` with the given weights that records every input it reads."""

    def __init__(self, weights: dict, vocab_size: int, embedding_dim: int, hidden_size: int):
        super().__init__()
        self.lm = TinyRNNLM(vocab_size, embedding_dim, hidden_size).double()
        self.lm.load_state_dict({k: torch.as_tensor(v) for k, v in weights.items()})
        self.inputs = []

    def forward(self, tokens, state=None):
        self.inputs.append(torch.as_tensor(tokens).detach().clone())
        return self.lm(tokens, state)


def _loss_mistakes(model: RecordingLM, tokens, pad_id) -> dict:
    lm = model.lm

    def logits_of(x):
        return lm(x)[0]

    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    masked = targets.masked_fill(targets == pad_id, -100)
    z = logits_of(inputs)
    flat = lambda t: t.flatten()  # noqa: E731

    def per_sequence_mean():
        nll = F.cross_entropy(z.flatten(0, 1), flat(masked), reduction="none", ignore_index=-100).view_as(targets)
        real = (targets != pad_id).double()
        return (nll.sum(1) / real.sum(1).clamp(min=1)).mean()

    return {
        "your loss compares the logits at step t with the token at step t itself: the logits of step t "
        "predict the NEXT token, targets = tokens[:, 1:] for inputs tokens[:, :-1]":
            lambda: F.cross_entropy(z.flatten(0, 1), flat(inputs.masked_fill(inputs == pad_id, -100))),
        "your logits are shifted by one step: the model reads tokens[:, :-1] and its logits at step t "
        "are scored against tokens[:, t+1]":
            lambda: F.cross_entropy(logits_of(tokens)[:, 1:].flatten(0, 1), flat(masked)),
        "your loss counts the padding: targets equal to pad_id must be left out (ignore_index) of the sum and of the count":
            lambda: F.cross_entropy(z.flatten(0, 1), flat(targets)),
        "your loss divides by all positions, padding included: average over the real targets only":
            lambda: F.cross_entropy(z.flatten(0, 1), flat(masked), reduction="sum") / targets.numel(),
        "your loss is the sum over tokens: return the mean per (non-padding) target token":
            lambda: F.cross_entropy(z.flatten(0, 1), flat(masked), reduction="sum"),
        "your loss averages each sequence first, then the sequences: average over all real target tokens at once":
            per_sequence_mean,
        "your loss uses the raw logits as log-probabilities (nll_loss needs log_softmax first; cross_entropy does it for you)":
            lambda: F.nll_loss(z.flatten(0, 1), flat(masked)),
        "your loss uses the model's inputs as targets (reversed direction: inputs tokens[:, 1:], targets tokens[:, :-1])":
            lambda: F.cross_entropy(logits_of(tokens[:, 1:]).flatten(0, 1),
                                    flat(tokens[:, :-1].masked_fill(tokens[:, :-1] == pad_id, -100))),
    }


def _loss_case(label, seed, B, T, V=7, E=4, H=5, lengths=None):
    torch.manual_seed(seed)
    weights = {k: v.double() for k, v in TinyRNNLM(V, E, H).state_dict().items()}
    pad_id = V - 1
    tokens = torch.randint(0, V - 1, (B, T), generator=torch.Generator().manual_seed(seed + 1))
    for b, n in enumerate(lengths or []):
        tokens[b, n:] = pad_id
    return Case(label, (weights, (V, E, H), tokens, pad_id))


def _probe_loss(student_fn, inputs, seconds):
    weights, sizes, tokens, pad_id = inputs
    model = RecordingLM(weights, *sizes)
    got, problem = call_student(student_fn, (model, tokens.clone(), pad_id), seconds, copy_inputs=False)
    if problem:
        return {"error": problem}
    return {"answer": describe(got), "inputs": [describe(x) for x in model.inputs[:4]]}


def _judge_loss(case: Case, result) -> Optional[str]:
    weights, sizes, tokens, pad_id = case.args
    answer = result["answer"]
    problem = type_problem(answer, TENSOR_TYPES)
    if problem:
        return problem + " (return the loss tensor itself, not loss.item(): training needs its gradient)"
    got = restore(answer)
    if got.numel() != 1:
        return f"your loss has shape {tuple(got.shape)}: expected one number, the mean over all target tokens (a 0-d tensor)"
    if not answer.get("requires_grad"):
        return "your loss has no gradient (requires_grad is False): compute it from the model's logits, without .detach() or torch.no_grad()"
    if not result["inputs"]:
        return "your function never called the model"
    model = RecordingLM(weights, *sizes)
    with torch.no_grad():
        expected = models.teacher_forcing_loss(model.lm, tokens, pad_id)
        value = float(got.reshape(()))
        if not math.isfinite(value) or not math.isclose(value, float(expected), rel_tol=1e-6, abs_tol=1e-9):
            message = f"expected a loss of {fmt(float(expected))} nats per token, got {fmt(value)}"
            found = _first_match(got.reshape(()).double(), _loss_mistakes(model, tokens, pad_id), rtol=1e-6, atol=1e-9)
            if found:
                return f"{message}: {found}"
            fed = restore(result["inputs"][0])
            if tuple(fed.shape) != tuple(tokens[:, :-1].shape) or not torch.equal(fed, tokens[:, :-1]):
                return (f"{message}. Your first call gave the model an input of shape {tuple(fed.shape)}; "
                        f"teacher forcing feeds the true tokens tokens[:, :-1], shape {tuple(tokens[:, :-1].shape)}")
            return message
    return None


register(Check(
    name="03_rnn.lm_loss", points=2, reference=models.teacher_forcing_loss,
    visible=lambda: [_loss_case("B=2, T=6, no padding", 0, 2, 6),
                     _loss_case("B=3, T=6, sequences of lengths 6, 4, 3", 1, 3, 6, lengths=[6, 4, 3])],
    hidden=lambda: [_loss_case("B=4, T=8, lengths 8, 2, 5, 7", 2, 4, 8, lengths=[8, 2, 5, 7]),
                    _loss_case("B=1, T=2, no padding", 3, 1, 2),
                    _loss_case("B=5, T=10, lengths 10, 10, 3, 9, 6", 4, 5, 10, V=11, lengths=[10, 10, 3, 9, 6])],
    probe=_probe_loss, judge=_judge_loss))


# ---------------------------------------------------------------------------------------------
# sample_next(logits, temperature, generator) -> ids (B,)
# ---------------------------------------------------------------------------------------------

def _probe_sampling(student_fn, inputs, seconds):
    """Two calls with the same seed (same answer?), then ``draws`` samples of every row at once
    (the rows repeated), from one seeded generator."""
    logits, temperature, seed, draws = inputs
    runs = []
    many = logits.repeat_interleave(draws, 0)                       # (B * draws, V)
    for x in (logits, many, many):
        got, problem = call_student(student_fn, (x.clone(), temperature, torch.Generator().manual_seed(seed)),
                                    seconds, copy_inputs=False)
        if problem:
            return {"error": problem}
        runs.append(describe(got))
    return {"first": runs[0], "many": runs[1], "again": runs[2]}


def _tv(p: np.ndarray, q: np.ndarray) -> float:
    return 0.5 * float(np.abs(p - q).sum())


def _judge_sampling(case: Case, result) -> Optional[str]:
    logits, temperature, seed, draws = case.args
    B, V = logits.shape
    for key, rows in (("first", B), ("many", B * draws)):
        problem = type_problem(result[key], TENSOR_TYPES)
        if problem:
            return problem
        got = restore(result[key])
        if tuple(got.shape) != (rows,):
            return f"your ids have shape {tuple(got.shape)} for logits of shape ({rows}, {V}): expected ({rows},), one id per row"
        if got.dtype.is_floating_point or got.dtype == torch.bool:
            return f"your ids have dtype {got.dtype}: expected integer token ids (torch.int64)"
        if len(got) and (int(got.min()) < 0 or int(got.max()) >= V):
            return f"your ids must be between 0 and {V - 1}, got {int(got.min())} to {int(got.max())}"
    if not torch.equal(restore(result["many"]), restore(result["again"])):
        return "two calls with generators seeded alike gave different ids: draw with the generator you are given (torch.multinomial(..., generator=generator))"
    samples = restore(result["many"]).view(B, draws).numpy()
    z = logits.double()
    expected = torch.softmax(z / temperature, -1).numpy()
    candidates = {
        "the temperature is ignored (softmax(z) instead of softmax(z / T))": torch.softmax(z, -1),
        "the logits are multiplied by the temperature: divide them, softmax(z / T)": torch.softmax(z * temperature, -1),
        "the temperature is applied after the softmax: divide the logits, before the softmax": torch.softmax(torch.softmax(z, -1) / temperature, -1),
        "you always take the most likely token (greedy), you do not sample": F.one_hot(z.argmax(-1), V).double(),
        "your tokens are uniform: the logits have no effect": torch.full_like(z, 1 / V),
        "the softmax is taken over the batch dimension, not over the vocabulary": torch.softmax(z / temperature, 0)
        / torch.softmax(z / temperature, 0).sum(-1, keepdim=True),
    }
    for b in range(B):
        freq = np.bincount(samples[b], minlength=V) / draws
        tv = _tv(freq, expected[b])
        if tv > 0.05:
            message = (f"row {b}: the frequencies of your {draws} samples are "
                       f"[{', '.join(f'{f:.3f}' for f in freq)}], expected softmax(logits / {temperature:g}) = "
                       f"[{', '.join(f'{p:.3f}' for p in expected[b])}] (total variation {tv:.3f}, allowed 0.05)")
            closest = min(candidates, key=lambda k: _tv(freq, candidates[k][b].numpy()))
            if _tv(freq, candidates[closest][b].numpy()) < 0.05:
                message += f": {closest}"
            return message
    return None


def _sampling_case(label, seed, B, V, temperature, draws=4000, spread=2.0):
    logits = spread * _randn(seed, B, V).float()
    return Case(label, (logits, float(temperature), seed, draws))


register(Check(
    name="03_rnn.sample_next", points=2,
    visible=lambda: [_sampling_case("B=2, V=5, temperature 0.5", 0, 2, 5, 0.5)],
    hidden=lambda: [_sampling_case("B=3, V=4, temperature 2", 1, 3, 4, 2.0),
                    _sampling_case("B=1, V=6, temperature 1", 2, 1, 6, 1.0),
                    _sampling_case("B=2, V=3, temperature 0.25", 3, 2, 3, 0.25)],
    probe=_probe_sampling, judge=_judge_sampling, time_limit=20.0))


# ---------------------------------------------------------------------------------------------
# train_char_lm(ids, vocab_size, seed) -> a model whose held-out loss is under the threshold
# ---------------------------------------------------------------------------------------------

def char_lm_data(seed: int, train_chars: int = 6000, test_chars: int = 2000):
    """(train ids, held-out ids, alphabet) of Toy English sentences written as characters."""
    from ..data.toy_english import ToyEnglish

    rng = np.random.default_rng([seed, 30])
    language, text = ToyEnglish(), ""
    while len(text) < train_chars + test_chars:
        text += " ".join(language.sample(rng).tokens) + "\n"
    alphabet = sorted(set(text))
    ids = torch.tensor([alphabet.index(c) for c in text])
    return ids[:train_chars], ids[train_chars:train_chars + test_chars], "".join(alphabet)


def _next_char_losses(model, held_out: torch.Tensor) -> tuple[float, float]:
    """(loss on the next characters, loss on the same characters) of a model reading held_out."""
    model.eval()
    with torch.no_grad():
        out = model(held_out[None, :-1])
        logits = (out[0] if isinstance(out, (tuple, list)) else out).double()
        if logits.dim() != 3 or logits.shape[:2] != (1, len(held_out) - 1):
            raise ValueError(f"your model returned logits of shape {tuple(logits.shape)} for input of shape "
                             f"(1, {len(held_out) - 1}): expected (1, {len(held_out) - 1}, vocab_size)")
        flat = logits[0]
        return (float(F.cross_entropy(flat, held_out[1:])), float(F.cross_entropy(flat, held_out[:-1])))


def _probe_training(student_fn, inputs, seconds):
    train_ids, held_out, vocab_size, seed = inputs
    got, problem = call_student(student_fn, (train_ids.clone(), vocab_size, seed), seconds, copy_inputs=False)
    if problem:
        return {"error": problem}
    if not isinstance(got, nn.Module):
        return {"answer": describe(got)}
    try:
        next_loss, same_loss = _next_char_losses(got, held_out)
    except Exception as error:
        return {"error": f"calling your model on held-out text failed: {type(error).__name__}: {error}"}
    return {"answer": {"type": "torch.nn.Module"}, "next": next_loss, "same": same_loss}


LOSS_THRESHOLD = 1.5   # nats per character on held-out text


def _judge_training(case: Case, result) -> Optional[str]:
    train_ids, held_out, vocab_size, seed = case.args
    if result["answer"]["type"] != "torch.nn.Module":
        return f"expected your trained model (a torch.nn.Module), got a {result['answer']['type']}"
    loss, same = float(result["next"]), float(result["same"])
    if math.isfinite(loss) and loss <= LOSS_THRESHOLD:
        return None
    counts = np.bincount(train_ids.numpy(), minlength=vocab_size) + 1
    p = counts / counts.sum()
    unigram = float(-(np.log(p[held_out[1:].numpy()])).mean())
    message = (f"your model's held-out loss is {fmt(loss)} nats per character, it must be at most "
               f"{LOSS_THRESHOLD:g} (a uniform guess scores ln {vocab_size} = {math.log(vocab_size):.3f}, "
               f"character frequencies alone {unigram:.3f})")
    if same < loss - 0.5:
        return message + (f". It predicts the character it reads (loss {fmt(same)} on those): the targets "
                          "must be the inputs shifted by one, ids[1:] for inputs ids[:-1]")
    if not math.isfinite(loss) or loss > math.log(vocab_size) - 0.05:
        return message + ": it learned nothing. Did you call optimizer.step() after loss.backward(), and minimise (not maximise) the loss?"
    if loss > unigram - 0.2:
        return message + ": it barely beats character frequencies; train for more steps or with a larger learning rate"
    return message + ": train a little longer or with a larger learning rate"


def _training_case(label, seed):
    train_ids, held_out, alphabet = char_lm_data(seed)
    return Case(label, (train_ids, held_out, len(alphabet), seed))


register(Check(
    name="03_rnn.train_char_lm", points=2,
    visible=lambda: [_training_case("Toy English as characters, seed 0", 0)],
    hidden=lambda: [_training_case("other Toy English text, seed 1", 1)],
    probe=_probe_training, judge=_judge_training, time_limit=90.0))
