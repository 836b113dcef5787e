"""Tests of what chapter 03 added to rnnlab: the hand-wired networks, temperature sampling and
generation, the teacher-forcing loss, the ``NeuralLM`` adapter and ``fit_neural_lm``."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnnlab import handwired, models, sampling
from rnnlab.data import synthetic_corpus
from rnnlab.train import TrainConfig, fit_neural_lm
from rnnlab.vocab import Vocab


def test_parity_network_is_right_on_every_bit_string_up_to_length_10():
    for length in range(1, 11):
        bits = handwired.all_bit_strings(length)
        y, h = handwired.parity_network(bits)
        assert torch.equal(y.long(), bits.cumsum(1) % 2)
        assert h.shape == (2 ** length, length, 2)


def test_parity_truth_table_is_or_and_xor():
    assert handwired.parity_truth_table() == [(0, 0, 0, 0, 0), (0, 1, 1, 0, 1), (1, 0, 1, 0, 1), (1, 1, 1, 1, 0)]


def test_parity_weights_are_validated():
    with pytest.raises(ValueError, match="w_out"):
        handwired.as_parity_weights({k: v for k, v in handwired.PARITY_WEIGHTS.items() if k != "w_out"})
    with pytest.raises(ValueError, match="shape"):
        handwired.as_parity_weights({**handwired.PARITY_WEIGHTS, "b_h": [0.0, 0.0, 0.0]})


def test_step_is_strict():
    assert handwired.step(torch.tensor([-1.0, 0.0, 0.5])).tolist() == [0.0, 0.0, 1.0]


def test_summation_and_comparison_networks():
    x = torch.tensor([[1.0, 2.0, -4.0]])
    assert handwired.summation_network(x).tolist() == [[1.0, 3.0, -1.0]]
    h, y = handwired.comparison_network(torch.tensor([[[3.0, 1.0], [0.0, 4.0], [5.0, 0.0]]]))
    assert h.tolist() == [[2.0, -2.0, 3.0]] and y.tolist() == [[1.0, 0.0, 1.0]]


def test_sample_with_temperature_follows_softmax_of_scaled_logits():
    logits = torch.tensor([[2.0, 0.0, -1.0]]).repeat(20000, 1)
    for temperature in (0.5, 1.0, 3.0):
        ids = sampling.sample_with_temperature(logits, temperature, torch.Generator().manual_seed(0))
        freq = np.bincount(ids.numpy(), minlength=3) / len(ids)
        assert np.abs(freq - torch.softmax(logits[0] / temperature, -1).numpy()).max() < 0.015
    again = sampling.sample_with_temperature(logits[:50], 0.7, torch.Generator().manual_seed(1))
    assert torch.equal(again, sampling.sample_with_temperature(logits[:50], 0.7, torch.Generator().manual_seed(1)))
    with pytest.raises(ValueError):
        sampling.sample_with_temperature(logits, 0.0)


def test_generate_is_seeded_and_carries_the_state():
    torch.manual_seed(0)
    lm = models.RNNLM(7, 4, 5, kind="rnn")
    prompt = torch.tensor([1, 2, 3])
    a = sampling.generate(lm, prompt, 12, 0.8, torch.Generator().manual_seed(3))
    b = sampling.generate(lm, prompt, 12, 0.8, torch.Generator().manual_seed(3))
    assert a.shape == (12,) and torch.equal(a, b) and lm.training
    # a very low temperature is greedy decoding of the model read as one sequence
    greedy = sampling.generate(lm, prompt, 5, 1e-4, torch.Generator().manual_seed(0))
    seq = prompt.tolist()
    for _ in range(5):
        with torch.no_grad():
            seq.append(int(lm(torch.tensor([seq]))[0][0, -1].argmax()))
    assert greedy.tolist() == seq[3:]


def test_teacher_forcing_loss_ignores_padding_and_shifts_targets():
    torch.manual_seed(0)
    lm = models.RNNLM(6, 4, 5, kind="rnn", impl="reference").double()
    tokens = torch.tensor([[1, 2, 3, 4], [3, 1, 5, 5]])
    loss = models.teacher_forcing_loss(lm, tokens, pad_id=5)
    logits, _ = lm(tokens[:, :-1])
    nll = -torch.log_softmax(logits, -1).gather(2, tokens[:, 1:, None])[..., 0]
    expected = (nll[0].sum() + nll[1, :1].sum()) / 4          # 3 targets + 1 (two pads left out)
    assert torch.allclose(loss, expected) and loss.requires_grad
    assert torch.allclose(models.teacher_forcing_loss(lm, tokens), nll.mean())


def test_neural_lm_is_a_language_model_whose_distributions_sum_to_one():
    vocab = Vocab(["a", "b"])
    torch.manual_seed(0)
    lm = models.NeuralLM(models.RNNLM(len(vocab), 4, 4, kind="rnn"), vocab)
    p = lm.next_distribution(["a"])
    assert p.shape == (len(vocab),) and abs(p.sum() - 1) < 1e-9
    logprobs = lm.token_logprobs(["a", "b"])
    assert logprobs.shape == (3,)
    assert math.isclose(logprobs[1], math.log(lm.next_distribution(["a"])[vocab["b"]]), rel_tol=1e-9)
    assert lm.perplexity([["a", "b"], ["b"]]) > 1


def test_fit_neural_lm_beats_the_uniform_model_on_the_tiny_corpus():
    corpus = synthetic_corpus(size="tiny", seed=0)
    lm = fit_neural_lm(lambda V: models.RNNLM(V, 16, 32, kind="rnn"), corpus,
                       TrainConfig(epochs=4, batch_size=4, bptt_len=20, lr=1e-2, progress=False), device="cpu")
    assert isinstance(lm, models.NeuralLM)
    assert lm.perplexity(corpus.test) < len(lm.vocab) / 2
    larger = Vocab.build(corpus.train + corpus.valid)
    lm = fit_neural_lm(lambda V: models.RNNLM(V, 8, 8, kind="rnn"), corpus,
                       TrainConfig(epochs=1, batch_size=4, progress=False), device="cpu", vocab=larger)
    assert lm.vocab is larger and lm.model.output.out_features == len(larger)


# -- the checks of assignment 03 ---------------------------------------------------------------

from rnnlab.checks import REGISTRY, CheckFailed, check  # noqa: E402
from rnnlab.checks import ch03_rnn  # noqa: E402
from references_pass import references_pass_every_case  # noqa: E402

REFERENCES = {
    "03_rnn.rnn_cell": ch03_rnn.reference_cell,
    "03_rnn.rnn_forward": ch03_rnn.reference_forward,
    "03_rnn.parity_weights": lambda: dict(handwired.PARITY_WEIGHTS),
    "03_rnn.lm_loss": models.teacher_forcing_loss,
    "03_rnn.sample_next": sampling.sample_with_temperature,
}


test_references_pass_every_case = references_pass_every_case(REFERENCES)


def _forward_in_reverse(x, h0, W_ih, W_hh, b_ih, b_hh):
    return ch03_rnn.reference_forward(x, h0, W_ih, W_hh, b_ih, b_hh).flip(1)


def _forward_detached(x, h0, W_ih, W_hh, b_ih, b_hh):
    h = x.new_zeros(x.shape[0], W_hh.shape[0]) if h0 is None else h0
    states = []
    for t in range(x.shape[1]):
        h = torch.tanh(x[:, t] @ W_ih.T + b_ih + h.detach() @ W_hh.T + b_hh)
        states.append(h)
    return torch.stack(states, 1)


def _sampling_by_exp(z, t, g):
    p = torch.exp(z / t)
    return torch.multinomial(p / p.sum(-1, keepdim=True), 1, generator=g)[:, 0]


@pytest.mark.parametrize("name, wrong, pattern", [
    ("03_rnn.rnn_cell", lambda x, h, W_ih, W_hh, b_ih, b_hh: torch.tanh(x @ W_hh.T + b_ih + h @ W_ih.T + b_hh),
     "W_hh and W_ih swapped"),
    ("03_rnn.rnn_cell", lambda x, h, *w: ch03_rnn.reference_cell(x, h.detach(), *w), "no gradient reaches h"),
    ("03_rnn.rnn_forward", lambda x, h0, *w: ch03_rnn.reference_forward(x, None, *w), "ignores the h0"),
    ("03_rnn.rnn_forward", _forward_in_reverse, "stacked in reverse order"),
    ("03_rnn.rnn_forward", _forward_detached, "detached at every step"),
    ("03_rnn.parity_weights", lambda: {**handwired.PARITY_WEIGHTS, "w_out": [1.0, 0.0]}, "computes OR"),
    ("03_rnn.lm_loss", lambda model, tokens, pad_id: models.teacher_forcing_loss(model, tokens), "counts the padding"),
    ("03_rnn.sample_next", lambda z, t, g: sampling.sample_with_temperature(torch.softmax(z, -1) / t, 1.0, g),
     "after the softmax"),
    ("03_rnn.sample_next", _sampling_by_exp, "exp of anything above 88.72 is inf in float32"),
    ("03_rnn.sample_next", lambda z, t, g: sampling.sample_with_temperature(z, t), "did not draw from the generator"),
])
def test_usual_mistakes_are_named(name, wrong, pattern):
    with pytest.raises(CheckFailed, match=pattern):
        check(name, wrong, hidden=True)
        check(name, wrong)


def test_a_mistake_is_named_only_where_the_answer_differs_from_the_right_one():
    """Reversing a sequence of one step changes nothing: the case of T = 1 passes it; the
    message on a longer case states the first difference and names the reversal."""
    the_check = REGISTRY["03_rnn.rnn_forward"]
    one_step = next(c for c in the_check.cases(True) if ", T=1," in c.label)
    assert the_check.problem(_forward_in_reverse, one_step) is None
    problem = the_check.problem(_forward_in_reverse, the_check.cases(False)[0])
    assert "first differs at b=0, t=0" in problem and "check h_0" not in problem


def _untrained_char_rnn(ids, vocab_size, seed):
    torch.manual_seed(seed)
    return ch03_rnn.TinyRNNLM(vocab_size, 16, 64)      # the notebook's CharRNN(vocab_size)


def test_the_trained_model_is_judged_on_its_copied_weights():
    """The judge rebuilds a CharRNN from the weights the probe copied out and measures it
    itself: a loss the student's process reports is not read, and an untrained model is
    named as such."""
    the_check = REGISTRY["03_rnn.train_char_lm"]
    case = the_check.cases(False)[0]
    result = the_check.run_probe(_untrained_char_rnn, case)
    assert set(result) == {"answer", "weights"}
    forged = {**result, "next": 0.1, "same": 3.0}
    problem = the_check.run_judge(case, forged)
    assert "were never updated" in problem
    no_weights = {"answer": {"type": "torch.nn.Module"}}
    assert "no weights" in the_check.run_judge(case, no_weights)
