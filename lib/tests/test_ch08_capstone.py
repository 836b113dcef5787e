"""The checks of assignment 08: the library's references pass every case; part 1's counting is the
course's (a count model's perplexity by rnnlab.ngram, in bits and nats); tying is RNNLM's; the
early-stopping reference is the training loop of rnnlab.reproduce; the mistakes are named only
where they change the answer; the trained model is judged on its copied weights, a tied matrix
counted once; the probes work from the sandbox's copy of the module."""

import inspect
import math
import types
from dataclasses import replace

import pytest
import torch

from rnnlab import models
from rnnlab.checks import REGISTRY, CheckFailed, check, sandbox_copy
from rnnlab.checks import ch08_capstone as ch08
from rnnlab.lm import cross_entropy_and_perplexity
from rnnlab.models import tie_output_to_embedding
from rnnlab.ngram import NGramLM
from rnnlab.reproduce import CONFIGS
from rnnlab.vocab import Vocab
from references_pass import references_pass_every_case

pytestmark = pytest.mark.usefixtures("one_thread")


def stopping_epoch(valid_perplexity, patience):
    """The training loop of the judge's mistakes, run without a mistake (the references are the names
    imported above: a check switches off the library's attributes, RunConfig.stops_after among them,
    while the function it checks runs)."""
    kept = ch08._stopped(valid_perplexity, patience)
    if kept is None:
        raise ValueError("no finite epoch")
    return kept


REFERENCES = {
    "08_capstone.perplexity": cross_entropy_and_perplexity,
    "08_capstone.tie_weights": lambda model: tie_output_to_embedding(model.embedding, model.output),
    "08_capstone.early_stopping_epoch": stopping_epoch,
}


test_references_pass_every_case = references_pass_every_case(REFERENCES)


@pytest.mark.parametrize("base", [2, math.e, 10])
def test_perplexity_from_log_probs_is_the_count_models_own(base):
    """A Kneser-Ney trigram's table of next-token log-probabilities, read by part 1's counting, gives
    rnnlab.ngram's perplexity, in every base; the cross-entropies differ by the log of the bases."""
    train = [["the", "cat", "sat"], ["a", "dog", "sat", "down"], ["the", "dog", "ran"]]
    test = [["the", "cat", "ran", "down"], ["a", "fox", "sat"], []]
    vocab = Vocab.build(train)
    model = NGramLM(3, "kn").fit(train, vocab)
    table = torch.full((len(test), 5, len(vocab)), math.nan, dtype=torch.float64)
    for b, sentence in enumerate(test):
        for t in range(len(sentence) + 1):
            table[b, t] = torch.from_numpy(model.next_distribution(sentence[:t])).log()
    cross_entropy, perplexity = cross_entropy_and_perplexity(test, table / math.log(base), vocab.stoi, base)
    nats, _ = cross_entropy_and_perplexity(test, table, vocab.stoi, math.e)
    assert perplexity == pytest.approx(model.perplexity(test), rel=1e-9)
    assert cross_entropy == pytest.approx(nats / math.log(base), rel=1e-9)


def test_perplexity_cases_cover_the_issues_boundaries():
    cases = REGISTRY["08_capstone.perplexity"].cases(True)
    lengths = {len(s) for c in cases for s in c.args[0]}
    assert {0, 1} <= lengths and max(lengths) == 100_000
    assert {2, math.e, 10} <= {c.args[3] for c in cases}
    assert any(not c.args[0] for c in cases)                      # no sentence: a ValueError
    assert any(torch.isnan(c.args[1]).any() for c in cases) and any(torch.isinf(c.args[1]).any() for c in cases)


def test_rnnlm_ties_with_the_same_function():
    lm = models.RNNLM(20, embedding_dim=8, hidden_size=8, tie_weights=True)
    assert lm.output.weight is lm.encoder.embedding.weight
    embedding, output = torch.nn.Embedding(20, 8), torch.nn.Linear(9, 20)
    with pytest.raises(ValueError, match="tying"):
        tie_output_to_embedding(embedding, output)
    assert output.weight.shape == (20, 9)                         # left as it was


def test_the_early_stopping_reference_is_the_training_loop_of_reproduce():
    """On every finite curve of the cases, the epoch kept is the best of the epochs rnnlab.reproduce's
    loop trains before RunConfig.stops_after stops it."""
    the_check = REGISTRY["08_capstone.early_stopping_epoch"]
    finite = [c.args for h in (False, True) for c in the_check.cases(h)
              if c.args[0] and all(math.isfinite(v) for v in c.args[0])]
    assert len(finite) >= 8
    for curve, patience in finite:
        config = replace(CONFIGS["course"], patience=patience)
        history = []
        for value in curve:
            if config.stops_after(history):
                break
            history.append(value)
        assert ch08.reference_early_stopping(curve, patience) == history.index(min(history))


@pytest.mark.parametrize("hidden", [False, True])
def test_the_mistaken_stoppings_without_a_mistake_are_the_reference(hidden):
    for case in REGISTRY["08_capstone.early_stopping_epoch"].cases(hidden):
        try:
            expected = ch08.reference_early_stopping(*case.args)
        except ValueError:
            assert ch08._stopped(*case.args) is None
            continue
        assert ch08._stopped(*case.args) == expected


def test_a_mistake_is_named_only_where_it_changes_the_answer():
    the_check = REGISTRY["08_capstone.early_stopping_epoch"]
    case = next(c for c in the_check.cases(True) if c.label.startswith("NaN at the first epoch"))
    assert "NaN epoch as the best" in the_check.run_judge(case, {"answer": {"type": "int", "value": 0}})
    curve, patience = case.args
    right = ch08.reference_early_stopping(curve, patience)
    assert the_check.run_judge(case, {"answer": {"type": "int", "value": right}}) is None
    message = the_check.run_judge(case, {"answer": {"type": "int", "value": 4}})
    assert message.startswith("expected epoch") and "NaN" not in message


def untrained(sentences, vocab, seed):
    torch.manual_seed(seed)
    return ch08.CapstoneLM(len(vocab), 32, 40, "lstm")


def test_the_trained_model_is_judged_on_its_copied_weights():
    the_check = REGISTRY["08_capstone.train_lm"]
    case = the_check.cases(False)[0]
    result = the_check.run_probe(untrained, case)
    assert set(result) == {"answer", "weights"}
    assert "were never updated" in the_check.run_judge(case, result)
    assert "no weights" in the_check.run_judge(case, {"answer": {"type": "torch.nn.Module"}})
    renamed = {**result, "weights": [[k.replace("rnn", "lstm"), v] for k, v in result["weights"]]}
    assert "expected the notebook's CapstoneLM" in the_check.run_judge(case, renamed)


def test_a_tied_matrix_is_counted_once():
    """A GRU of E = H = 48 has 22,454 parameters untied, over the budget, and 18,326 tied."""
    the_check = REGISTRY["08_capstone.train_lm"]
    case = the_check.cases(False)[0]

    def gru(tied):
        def build(sentences, vocab, seed):
            model = ch08.CapstoneLM(len(vocab), 48, 48, "gru")
            if tied:
                model.output.weight = model.embedding.weight
            return model
        return build

    assert "22,454 parameters" in the_check.problem(gru(False), case)
    tied = the_check.problem(gru(True), case)
    assert "budget" not in tied and "18,326 parameters" in tied


def test_the_held_out_text_is_measured_from_a_zero_state_after_eos():
    sentences, vocab, test, oracle = ch08.lm_data(0)
    model = untrained(sentences, vocab, 0).double().eval()
    perplexity = ch08.held_out_perplexity(model, test, vocab)
    assert 0.5 * len(vocab) < perplexity < 2 * len(vocab)          # about uniform before training
    assert oracle < ch08.THRESHOLD < 13.0                          # the trigram's: 13.45 (seed 0)


def test_the_probes_work_from_the_sandbox_copy():
    """The sandbox keeps the module's classes and functions only: the probes rebuild the models from
    the cases' weights there as here."""
    module = types.ModuleType("rnnlab.checks.ch08_sandbox", "")
    module.__dict__["__package__"] = "rnnlab.checks"
    exec(compile(sandbox_copy(inspect.getsource(ch08)), "<sandbox copy>", "exec"), module.__dict__)
    for name, fn in REFERENCES.items():
        the_check = REGISTRY[name]
        for case in the_check.cases(False):
            inside = getattr(module, the_check.probe.__name__)(fn, case.args, 10.0)
            assert the_check.run_judge(case, inside) is None


def test_the_librarys_references_are_switched_off_while_a_student_function_runs():
    def calls_the_library(model):
        return models.tie_output_to_embedding(model.embedding, model.output)

    with pytest.raises(CheckFailed, match="yours to implement"):
        check("08_capstone.tie_weights", calls_the_library)
    check("08_capstone.tie_weights", REFERENCES["08_capstone.tie_weights"])
