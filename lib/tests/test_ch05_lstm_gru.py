"""The checks of assignment 05: the references pass every case, the issue's mistakes are named in
its words, a mistake is named only where it changes the answer, torch's recurrent modules and
autograd are switched off while the student's function runs (and only then), and the trained
model is judged on its copied weights."""

import pytest
import torch
from torch import nn

from rnnlab import gate_order, gated
from rnnlab.checks import REGISTRY, CheckFailed, check
from rnnlab.checks import ch05_lstm_gru as ch05
from references_pass import references_pass_every_case

pytestmark = pytest.mark.usefixtures("one_thread")

REFERENCES = {
    "05_lstm_gru.lstm_cell": gated.lstm_cell,
    "05_lstm_gru.gru_cell": gated.gru_cell,
    "05_lstm_gru.lstm_forward": gated.lstm_forward,
    "05_lstm_gru.lstm_step_backward": gated.lstm_step_backward,
    "05_lstm_gru.to_torch_gate_order": gate_order.to_torch_gate_order,
}


test_references_pass_every_case = references_pass_every_case(REFERENCES)


def _lstm_with_tanh_free_h(x, state, *weights):
    return ch05._lstm_variant(x, state, *weights, tanh_c=False)


@pytest.mark.parametrize("name, wrong, words", [
    ("lstm_cell", lambda x, s, *w: ch05._lstm_variant(x, s, *w, order="figo"),
     "the f and i blocks swapped: PyTorch's order is i, f, g, o"),
    ("lstm_cell", _lstm_with_tanh_free_h, "your c_t is right but h_t is not"),
    ("gru_cell", gated.gru_cell_cho, "applies the reset gate before the matrix product (Cho et al.'s form); "
                                     "nn.GRU applies it after"),
    ("lstm_forward", lambda *a: ch05._forward_variant(*a, hold=False), "after the last padded step"),
    ("lstm_step_backward", lambda *a: ch05._backward_variant(*a, through_h=False), "path from h_t to c_t"),
])
def test_the_issues_mistakes_are_named_in_its_words(name, wrong, words):
    with pytest.raises(CheckFailed) as failed:
        check(f"05_lstm_gru.{name}", wrong)
    assert words.lower() in str(failed.value).lower()


def test_the_output_gate_hint_needs_a_right_c():
    """A right c_t and a wrong h_t are said to be so, with the known mistake when the answer
    matches it (h = o * c); a wrong c_t gets no such hint."""
    the_check = REGISTRY["05_lstm_gru.lstm_cell"]
    case = the_check.cases(False)[0]
    named = the_check.problem(_lstm_with_tanh_free_h, case)
    assert "c_t is right but h_t is not" in named and "it is o_t * tanh(c_t)" in named
    cell = gated.lstm_cell   # bound before the check: rnnlab's answers are refused to answers
    odd_h = lambda x, s, *w: (lambda h, c: (h + 0.1, c))(*cell(x, s, *w))   # noqa: E731
    assert "c_t is right but h_t is not" in the_check.problem(odd_h, case)
    odd_c = lambda x, s, *w: (lambda h, c: (h, c + 0.1))(*cell(x, s, *w))   # noqa: E731
    assert "c_t is right" not in the_check.problem(odd_c, case)


def test_a_mistake_is_named_only_where_it_changes_the_answer():
    """Without padding, running past the end is right: that case passes the padded-end bug."""
    the_check = REGISTRY["05_lstm_gru.lstm_forward"]
    full = next(c for c in the_check.cases(True) if "lengths None" in c.label)
    wrong = lambda *a: ch05._forward_variant(*a, hold=False, zero_output=False)   # noqa: E731
    assert the_check.problem(wrong, full) is None
    assert "ignores lengths" in the_check.problem(wrong, the_check.cases(False)[0])


def test_torch_recurrent_modules_are_off_while_checked_and_back_afterwards():
    def calls_torch(x, state, *weights):
        return torch.lstm_cell(x, state, *weights)

    def calls_the_kernel(x, state, *weights):
        return torch._VF.lstm_cell(x, state, *weights)

    def builds_the_module(x, state, *weights):
        return nn.LSTMCell(x.shape[1], state[0].shape[1]).double()(x, state)

    case = REGISTRY["05_lstm_gru.lstm_cell"].cases(False)[0]
    for fn, what in ((calls_torch, "torch.lstm_cell"), (calls_the_kernel, "torch._VF.lstm_cell"),
                     (builds_the_module, "torch.nn.LSTMCell")):
        problem = REGISTRY["05_lstm_gru.lstm_cell"].problem(fn, case)
        assert f"{what} is switched off here" in problem
    assert "lstm_cell" not in torch._VF.__dict__
    x, h = torch.randn(2, 3), torch.randn(2, 4)
    nn.LSTMCell(3, 4)(x, (h, h))
    nn.GRU(3, 4)(x[None])


def test_the_backward_part_runs_with_autograd_off():
    def with_autograd(dh, dc, cache):
        x = cache[0].clone().requires_grad_()
        return torch.autograd.grad((x * 2).sum(), x)

    the_check = REGISTRY["05_lstm_gru.lstm_step_backward"]
    assert "derived by hand" in the_check.problem(with_autograd, the_check.cases(False)[0])


def _untrained(x, y, seed):
    torch.manual_seed(seed)
    return ch05.AddingLSTM()


def test_the_trained_model_is_judged_on_its_copied_weights():
    the_check = REGISTRY["05_lstm_gru.train_adding"]
    case = the_check.cases(False)[0]
    result = the_check.run_probe(_untrained, case)
    assert set(result) == {"answer", "weights"}
    assert "never updated" in the_check.run_judge(case, {**result, "mse": 0.0})
    renamed = {**result, "weights": [[k.replace("lstm", "rnn"), v] for k, v in result["weights"]]}
    assert "expected the notebook's AddingLSTM" in the_check.run_judge(case, renamed)
    assert "no weights" in the_check.run_judge(case, {"answer": {"type": "torch.nn.Module"}})


def test_held_out_data_differ_from_the_training_data():
    x, y, test_x, test_y = ch05.adding_data(0)
    assert x.shape == (ch05.TRAIN_SEQUENCES, ch05.LENGTH, 2) and test_x.shape[1] == ch05.LENGTH
    assert not torch.equal(x[:len(test_x)], test_x)
    assert not torch.equal(ch05.adding_data(1)[0], x)


def test_a_vanilla_rnn_of_the_same_size_fails_at_the_assignment_s_length():
    """The notebook says so: the solution's training loop with nn.RNN in place of the LSTM stays
    near the baseline on the held-out sequences of the visible case."""
    x, y, test_x, test_y = ch05.adding_data(0)
    torch.manual_seed(0)
    rnn, readout = nn.RNN(2, 32, batch_first=True), nn.Linear(32, 1)
    params = list(rnn.parameters()) + list(readout.parameters())
    optimizer = torch.optim.Adam(params, lr=0.01)
    predict = lambda inputs: readout(rnn(inputs)[0][:, -1]).squeeze(-1)   # noqa: E731
    for epoch in range(2):
        order = torch.randperm(len(x))
        for start in range(0, len(x), 64):
            rows = order[start:start + 64]
            loss = torch.nn.functional.mse_loss(predict(x[rows]), y[rows])
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
    with torch.no_grad():
        error = torch.nn.functional.mse_loss(predict(test_x), test_y).item()
    assert error > 0.5 * ch05.BASELINE_MSE and error > 5 * ch05.MSE_THRESHOLD


def test_an_answer_calling_rnnlab_s_own_answer_fails_as_it_would_when_graded():
    """The grading sandbox has no rnnlab references, so calling them fails in the notebook too,
    with a sentence saying so; the references themselves still run (they call one another)."""
    import rnnlab.gated
    import rnnlab.gate_order
    import rnnlab.layers
    calls = {"05_lstm_gru.lstm_cell": lambda *a: rnnlab.gated.lstm_cell(*a),
             "05_lstm_gru.gru_cell": lambda *a: rnnlab.layers.gru_cell(*a),
             "05_lstm_gru.lstm_forward": lambda *a, **k: rnnlab.gated.lstm_forward(*a, **k),
             "05_lstm_gru.to_torch_gate_order": lambda W: rnnlab.gate_order.to_torch_gate_order(W)}
    for name, answer in calls.items():
        the_check = REGISTRY[name]
        message = the_check.problem(answer, the_check.cases(False)[0])
        assert "switched off here" in message and "not available when the notebook is graded" in message, (name, message)
    assert REGISTRY["05_lstm_gru.lstm_forward"].problem(gated.lstm_forward, REGISTRY["05_lstm_gru.lstm_forward"].cases(False)[0]) is None
