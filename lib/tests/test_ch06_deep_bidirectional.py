"""The checks of assignment 06: the references pass every case, the issue's mistakes are named in
its words, a mistake is named only where it changes the answer, and the trained tagger is judged
on its copied weights against a threshold that no left-to-right tagger can reach."""

import pytest
import torch
import torch.nn.functional as F

from rnnlab import bidirectional, models, tagging
from rnnlab.checks import REGISTRY, CheckFailed, check
from rnnlab.checks import ch06_deep_bidirectional as ch06
from references_pass import references_pass_every_case

pytestmark = pytest.mark.usefixtures("one_thread")

REFERENCES = {
    "06_deep_bidirectional.stacked_forward": bidirectional.stacked_forward,
    "06_deep_bidirectional.bidirectional_forward": bidirectional.bidirectional_forward,
    "06_deep_bidirectional.sentence_vector": bidirectional.sentence_vector,
    "06_deep_bidirectional.masked_token_loss": tagging.masked_token_loss,
    "06_deep_bidirectional.masked_accuracy": tagging.masked_accuracy,
    "06_deep_bidirectional.pool": lambda outputs, lengths, how: models.pool_sequence(outputs, None, how,
                                                                                    lengths=lengths),
}


test_references_pass_every_case = references_pass_every_case(REFERENCES)


def _flipped_backward(x, lengths, cell, forward_weights, backward_weights):
    """The classic bug: the backward direction over the padded tensor flipped."""
    output, h_n = bidirectional.bidirectional_forward(x, lengths, cell, forward_weights, backward_weights)
    states, h = ch06._run_layer(x.flip(1), backward_weights, cell)
    H = h.shape[1]
    mask = bidirectional.length_mask(lengths, x.shape[1])[..., None]
    return torch.cat([output[..., :H], states.flip(1) * mask], -1), torch.stack([h_n[0], h])


def _unmasked_loss(logits, tags, lengths):
    return F.cross_entropy(logits.flatten(0, 1), tags.flatten())


@pytest.mark.parametrize("name, wrong, words", [
    ("bidirectional_forward", _flipped_backward,
     "your backward direction started at the padding: at position 0 of sequence 1 (length 3 of 5) it has "
     "read 2 pad tokens"),
    ("sentence_vector", lambda h_n, num_layers: h_n[-1],
     "you took h_n[-1], which is only the backward direction of the top layer"),
    ("masked_token_loss", _unmasked_loss, "padding counted: your loss equals the unmasked mean"),
    ("pool", lambda outputs, lengths, how: outputs.mean(1) if how == "mean" else outputs.amax(1),
     "padding counted"),
    ("stacked_forward", lambda x, weights, cell: (lambda o, h: (o, h.flip(0)))(
        *bidirectional.stacked_forward(x, weights, cell)), "ordered top layer first"),
])
def test_the_issues_mistakes_are_named_in_its_words(name, wrong, words):
    with pytest.raises(CheckFailed) as failed:
        check(f"06_deep_bidirectional.{name}", wrong)
    assert words.lower() in str(failed.value).lower()


def test_a_mistake_is_named_only_where_it_changes_the_answer():
    """Without padding, flipping the padded tensor is right: that case passes the bug, and a case with
    padding states the first difference before naming the bug."""
    the_check = REGISTRY["06_deep_bidirectional.bidirectional_forward"]
    no_padding = next(c for c in the_check.cases(True) if "no padding" in c.label)
    assert the_check.problem(_flipped_backward, no_padding) is None
    problem = the_check.problem(_flipped_backward, the_check.cases(False)[0])
    assert problem.index("first differs at b=1, t=0") < problem.index("started at the padding")


def test_padding_winning_a_max_is_named_only_when_it_wins():
    """An unmasked max is right when no feature of a short sequence is below the padding's zeros."""
    the_check = REGISTRY["06_deep_bidirectional.pool"]
    unmasked = lambda outputs, lengths, how: models.pool_sequence(outputs, None, how, lengths=lengths) \
        if how == "mean" else outputs.amax(1)   # noqa: E731
    one = next(c for c in the_check.cases(True) if "length 1" in c.label)
    assert the_check.problem(unmasked, one) is None
    assert "padding won your max" in the_check.problem(unmasked, the_check.cases(False)[1]).lower()


def test_no_left_to_right_tagger_reaches_the_threshold():
    """The held-out homographs of both seeds: the exact best left-to-right tagger stays far below the
    threshold that the bidirectional tagger must reach."""
    for seed in (0, 1):
        assert ch06._best_left_to_right_open_accuracy(seed) < ch06.OPEN_THRESHOLD - 0.15


def _untrained(unidirectional):
    def train_tagger(tokens, tags, lengths, vocab_size, num_tags, seed):
        torch.manual_seed(seed)
        model = ch06.Tagger(vocab_size, num_tags, bidirectional=not unidirectional)
        if unidirectional:
            with torch.no_grad():
                model.output.bias.add_(1.0)             # changed, so not "never updated"
        return model
    return train_tagger


def test_the_trained_tagger_is_judged_on_its_copied_weights():
    """The probe copies the weights only; the judge rebuilds the Tagger and measures it, names an
    untrained model and a unidirectional one, and reads nothing else the student's process says."""
    the_check = REGISTRY["06_deep_bidirectional.train_tagger"]
    case = the_check.cases(False)[0]
    result = the_check.run_probe(_untrained(False), case)
    assert set(result) == {"answer", "weights"}
    assert "were never updated" in the_check.run_judge(case, {**result, "accuracy": 1.0})
    unidirectional = the_check.run_probe(_untrained(True), case)
    assert "unidirectional" in the_check.run_judge(case, unidirectional)
    assert "no weights" in the_check.run_judge(case, {"answer": {"type": "torch.nn.Module"}})
    renamed = {**result, "weights": [[k.replace("lstm", "rnn"), v] for k, v in result["weights"]]}
    assert "expected the notebook's Tagger" in the_check.run_judge(case, renamed)
