"""Answers computed on another device than the judge's CPU: a right answer computed on a GPU
passes (it is compared after moving it to the CPU, its gradient reaches the CPU inputs), and a
function that mixes devices is told so, with what to do, not shown a crash.

Without a GPU, the ``meta`` device plays the other device (an operation between a CPU and a
meta tensor raises as one between a CPU and a CUDA tensor does), and the same right answers run
on the CPU through the same wrapper; with one, the tests marked gpu run them on CUDA."""

import pytest
import torch

from rnnlab.checks import REGISTRY, check
from rnnlab.checks.framework import DEVICE_ADVICE, call_student, gradient_error, mixes_devices

# what torch says when a CUDA and a CPU tensor meet (the text of torch 2's error)
CUDA_AND_CPU = RuntimeError("Expected all tensors to be on the same device, but found at least "
                            "two devices, cuda:0 and cpu!")


def first_problem(name, fn):
    the_check = REGISTRY[name]
    for case in the_check.cases(hidden=False):
        problem = the_check.problem(fn, case)
        if problem:
            return problem
    return None


def test_a_cell_that_adds_a_tensor_of_another_device_is_told_to_use_the_inputs_device():
    def rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh):
        bias = torch.zeros(W_hh.shape[0], device="meta")        # not x.device
        return torch.tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh + bias)

    problem = first_problem("03_rnn.rnn_cell", rnn_cell)
    assert problem.startswith("your function mixed tensors on different devices (RuntimeError: ")
    assert "meta" in problem and "line 3" in problem and "x.device" in problem
    assert problem.endswith(DEVICE_ADVICE)


def test_an_answer_built_from_a_fixed_device_fails_every_kind_of_probe_with_the_message():
    """The default probe (one_hot), the gradient probe (cross_entropy) and chapter 05's."""
    def one_hot(ids, vocab_size):
        words = torch.arange(vocab_size, device="meta")            # not ids.device
        return (ids.unsqueeze(-1) == words).float()

    def cross_entropy(logits, targets):
        shift = torch.zeros(logits.shape[0], 1, device="meta")
        return -(logits - torch.logsumexp(logits + shift, 1, keepdim=True))[
            torch.arange(len(targets)), targets].mean()

    def lstm_cell(x, state, W_ih, W_hh, b_ih, b_hh):
        h, c = state
        i, f, g, o = (x @ W_ih.T + b_ih + h @ W_hh.T + b_hh + torch.zeros(1, device="meta")).chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    for name, fn in [("02_window_lm.one_hot", one_hot), ("02_window_lm.cross_entropy", cross_entropy),
                     ("05_lstm_gru.lstm_cell", lstm_cell)]:
        problem = first_problem(name, fn)
        assert "mixed tensors on different devices" in problem and DEVICE_ADVICE in problem, name


def test_only_torch_s_device_errors_get_the_device_advice():
    def on_cuda_and_cpu(x):
        raise CUDA_AND_CPU

    def shapes_differ(x):
        return x + torch.zeros(3)

    _, problem = call_student(on_cuda_and_cpu, (torch.zeros(2),), 1.0)
    assert problem.startswith("your function mixed tensors on different devices (RuntimeError: "
                              "Expected all tensors to be on the same device")
    _, problem = call_student(shapes_differ, (torch.zeros(2),), 1.0)
    assert problem.startswith("your function raised RuntimeError: The size of tensor a")
    assert DEVICE_ADVICE not in problem
    assert mixes_devices(RuntimeError("Input and parameter tensors are not at the same device, "
                                      "found input tensor at cuda:0 and parameter tensor at cpu"))
    assert not mixes_devices(ValueError("same device"))          # torch raises RuntimeError
    assert gradient_error(CUDA_AND_CPU).endswith(DEVICE_ADVICE)
    assert gradient_error(RuntimeError("element 0 of tensors does not require grad")) == \
        "RuntimeError: element 0 of tensors does not require grad"


# -- right answers that compute on a device of their own -------------------------------------


def computing_on(device, fn):
    """``fn`` as a student on a GPU runs it: every tensor input moved to ``device`` first (a
    differentiable move: gradients flow back to the judge's inputs), the answer left there."""
    def moved(value):
        if isinstance(value, torch.Tensor):
            return value.to(device)
        if isinstance(value, tuple):
            return tuple(moved(v) for v in value)
        return value

    return lambda *args: fn(*(moved(a) for a in args))


def one_hot(ids, vocab_size):
    return (ids.unsqueeze(-1) == torch.arange(vocab_size, device=ids.device)).float()


def cross_entropy(logits, targets):
    picked = logits.gather(1, targets.unsqueeze(1)).squeeze(1)
    return (torch.logsumexp(logits, 1) - picked).mean()


def rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    return torch.tanh(torch.addmm(b_ih, x, W_ih.T) + torch.addmm(b_hh, h, W_hh.T))


def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh):
    B, T, _ = x.shape
    h = torch.zeros(B, W_hh.shape[0], dtype=x.dtype, device=x.device) if h0 is None else h0
    states = []
    for t in range(T):
        h = rnn_cell(x[:, t], h, W_ih, W_hh, b_ih, b_hh)
        states.append(h)
    return torch.stack(states, 1)


def lstm_cell(x, state, W_ih, W_hh, b_ih, b_hh):
    h, c = state
    i, f, g, o = (x @ W_ih.T + b_ih + h @ W_hh.T + b_hh).chunk(4, dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


RIGHT = {"02_window_lm.one_hot": one_hot, "02_window_lm.cross_entropy": cross_entropy,
         "03_rnn.rnn_cell": rnn_cell, "03_rnn.rnn_forward": rnn_forward,
         "05_lstm_gru.lstm_cell": lstm_cell}


@pytest.mark.parametrize("name", sorted(RIGHT))
def test_right_answers_pass_through_the_device_wrapper_on_the_cpu(name):
    for hidden in (False, True):
        check(name, computing_on("cpu", RIGHT[name]), hidden=hidden)


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(RIGHT))
def test_right_answers_computed_on_cuda_pass(name):
    for hidden in (False, True):
        check(name, computing_on("cuda", RIGHT[name]), hidden=hidden)


@pytest.mark.gpu
def test_a_cell_that_makes_its_state_on_the_cpu_is_told_on_cuda():
    def rnn_forward_cpu_state(x, h0, W_ih, W_hh, b_ih, b_hh):
        h = torch.zeros(x.shape[0], W_hh.shape[0], dtype=x.dtype) if h0 is None else h0
        states = []
        for t in range(x.shape[1]):
            h = rnn_cell(x[:, t], h, W_ih, W_hh, b_ih, b_hh)
            states.append(h)
        return torch.stack(states, 1)

    the_check = REGISTRY["03_rnn.rnn_forward"]
    problems = [the_check.problem(computing_on("cuda", rnn_forward_cpu_state), case)
                for case in the_check.cases(hidden=True)]
    assert any(p and "mixed tensors on different devices" in p and DEVICE_ADVICE in p for p in problems)
