"""The checks of assignment 07: the library's references pass every case; the notebook's model is
the library's model with the same weights; the beam-search reference is the best output of all on
the tiny model (found by enumerating every output) and greedy search for a beam of 1; the issue's
mistakes are named in its words, and only where they change the answer; the trained model is
judged on its copied weights; the probes work from the sandbox's copy of the module."""

import inspect
import types
from itertools import product

import pytest
import torch
from torch.testing import assert_close

from rnnlab import attention, decoding, seq2seq
from rnnlab.attention import BahdanauAttention
from rnnlab.decoding import beam_search, greedy_decode
from rnnlab.seq2seq import Bridge, Encoder, teacher_forced_loss
from rnnlab.checks import REGISTRY, CheckFailed, check, sandbox_copy
from rnnlab.checks import ch07_seq2seq as ch07
from references_pass import references_pass_every_case

pytestmark = pytest.mark.usefixtures("one_thread")


def reference_encode(src, lengths, embedding, rnn, bridge):
    """rnnlab.seq2seq's Encoder and Bridge run on the modules' own parameters (so that the
    gradients reach them). The references are the names imported above: a check switches off
    the library's module attributes while the function it checks runs."""
    V, E = embedding.weight.shape
    H = bridge.weight.shape[0]
    encoder, join = Encoder(V, E, H, impl="reference").double(), Bridge(H, 2, lstm=False).double()
    parameters = {"embedding.weight": embedding.weight, **{f"rnn.{k}": v for k, v in rnn.named_parameters()}}
    outputs, final = torch.func.functional_call(encoder, parameters, (src, lengths))
    s0 = torch.func.functional_call(join, {"hidden.weight": bridge.weight, "hidden.bias": bridge.bias}, (final,))
    return outputs, s0


def reference_attention(query, keys, mask, W, U, b, v):
    module = BahdanauAttention(W.shape[1], U.shape[1], W.shape[0]).double()
    return torch.func.functional_call(module, {"W.weight": W, "U.weight": U, "U.bias": b, "v.weight": v[None]},
                                      (query, keys, mask))


def reference_greedy(model, src, lengths, max_length):
    hyps = greedy_decode(model, src, lengths, max_length)
    return [hyps.tokens[b, 0, :hyps.lengths[b, 0]].tolist() for b in range(len(src))]


def reference_beam(model, src, lengths, beam_size, max_length, alpha):
    hyps = beam_search(model, src, lengths, beam_size, max_length, alpha)
    return [(hyps.tokens[b, 0, :hyps.lengths[b, 0]].tolist(), float(hyps.scores[b, 0])) for b in range(len(src))]


REFERENCES = {
    "07_seq2seq.encode": reference_encode,
    "07_seq2seq.teacher_forced_loss": lambda model, src, lengths, targets: teacher_forced_loss(
        model, src, lengths, targets),
    "07_seq2seq.additive_attention": reference_attention,
    "07_seq2seq.greedy_decode": reference_greedy,
    "07_seq2seq.beam_search": reference_beam,
}


test_references_pass_every_case = references_pass_every_case(REFERENCES)


def test_the_notebooks_model_is_the_librarys_model():
    weights = ch07._weights(3)
    ours, theirs = ch07._model_of(weights), ch07._library_model(weights)
    src, lengths = ch07._sources(4, [5, 2, 4, 1], width=6)
    inputs = torch.randint(4, 8, (4, 7))
    (logits, weights_), (expected, expected_weights) = ours(src, lengths, inputs), theirs(src, lengths, inputs)
    assert_close(logits, expected)
    assert_close(weights_, expected_weights)
    assert torch.equal(weights_[1, :, 2:], torch.zeros(7, 4, dtype=torch.float64))   # padding: no weight


def every_output(max_length):
    """Every output of a TinyTable: up to max_length - 1 of <unk>, a, b then </s>, or max_length of them."""
    words = (0, 4, 5)
    ended = [list(w) + [ch07.EOS_ID] for n in range(max_length) for w in product(words, repeat=n)]
    return ended + [list(w) for w in product(words, repeat=max_length)]


def best_of_all(table, src_row, length, max_length, alpha):
    model = ch07.TinyTable(table)
    scored = [(ch07._log_prob(model, src_row, length, y) / len(y) ** alpha, y) for y in every_output(max_length)]
    return max(scored)


def beam_cases():
    return [c for hidden in (False, True) for c in REGISTRY["07_seq2seq.beam_search"].cases(hidden)
            if isinstance(c.args[0], torch.Tensor)]


@pytest.mark.parametrize("case", [c for c in beam_cases() if c.args[3] == ch07.WIDE], ids=lambda c: c.label)
def test_a_beam_keeping_every_prefix_returns_the_best_output_of_all(case):
    table, src, lengths, beam_size, max_length, alpha = case.args
    for b, (tokens, score) in enumerate(reference_beam(ch07.TinyTable(table), src, lengths, beam_size,
                                                       max_length, alpha)):
        best_score, best = best_of_all(table, src[b], lengths[b], max_length, alpha)
        assert tokens == best
        assert score == pytest.approx(best_score, rel=1e-9)


def test_the_tiny_cases_tell_raw_and_normalised_scores_apart():
    """On the visible case the best output under alpha = 0.7 is not the best raw one for some source, so
    a search that ignores alpha fails it."""
    table, src, lengths, _, max_length, alpha = beam_cases()[0].args
    raw = [best_of_all(table, src[b], lengths[b], max_length, 0.0)[1] for b in range(len(src))]
    normalised = [best_of_all(table, src[b], lengths[b], max_length, alpha)[1] for b in range(len(src))]
    assert raw != normalised and any(len(n) > len(r) for r, n in zip(raw, normalised))


def test_a_beam_of_one_is_greedy_on_its_case():
    case = next(c for c in beam_cases() if c.args[3] == 1)
    table, src, lengths, _, max_length, _ = case.args
    greedy = reference_greedy(ch07.TinyTable(table), src, lengths, max_length)
    assert [y for y, _ in reference_beam(ch07.TinyTable(table), *case.args[1:])] == greedy


@pytest.mark.parametrize("hidden", [False, True])
def test_the_mistaken_searches_without_a_mistake_are_the_reference(hidden):
    """``_mistaken_beam`` names mistakes by rerunning a search with one changed: with none changed it
    is the reference on every case."""
    for case in REGISTRY["07_seq2seq.beam_search"].cases(hidden):
        weights, src, lengths, k, max_length, alpha = case.args
        model = ch07._library_model(weights)
        expected = [y for y, _ in ch07._beam_reference(*case.args)]
        assert [ch07._mistaken_beam(model, src[b], lengths[b], k, max_length, alpha, None)
                for b in range(len(src))] == expected


def unpacked_encode(src, lengths, embedding, rnn, bridge):
    outputs, h_n = rnn(embedding(src))
    return outputs, torch.tanh(bridge(torch.cat([h_n[0], h_n[1]], -1)))[None]


def unmasked_attention(query, keys, mask, W, U, b, v):
    weights = torch.softmax(torch.tanh((query @ W.T)[:, None] + keys @ U.T + b) @ v, -1)
    return torch.bmm(weights[:, None], keys)[:, 0], weights


def unshifted_loss(model, src, lengths, targets):
    logits, _ = model(src, lengths, targets)
    return torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=model.pad_id)


def extending_beam(model, src, lengths, beam_size, max_length, alpha):
    """A search whose hypotheses that emitted </s> stay live."""
    outputs = [ch07._mistaken_beam(model, src[b], lengths[b], beam_size, max_length, alpha, "extend")
               for b in range(len(src))]
    return [(y, ch07._log_prob(model, src[b], lengths[b], y) / len(y) ** alpha) for b, y in enumerate(outputs)]


@pytest.mark.parametrize("name, wrong, words", [
    ("additive_attention", unmasked_attention, "your weights at padded positions are 0.18, must be 0"),
    ("teacher_forced_loss", unshifted_loss, "your decoder input is not shifted: it sees the token it must predict"),
    ("beam_search", extending_beam, "your beam kept extending a hypothesis after </s>"),
    ("encode", unpacked_encode, "your encoder ran over the padding"),
])
def test_the_issues_mistakes_are_named_in_its_words(name, wrong, words):
    with pytest.raises(CheckFailed) as failed:
        check(f"07_seq2seq.{name}", wrong)
    assert words.lower() in str(failed.value).lower()


@pytest.mark.parametrize("name, wrong", [("encode", unpacked_encode), ("additive_attention", unmasked_attention)])
def test_a_mistake_is_named_only_where_it_changes_the_answer(name, wrong):
    """Without padding, running over the padded tensor and leaving the mask out are right."""
    the_check = REGISTRY[f"07_seq2seq.{name}"]
    no_padding = next(c for c in the_check.cases(True) if "no padding" in c.label)
    assert the_check.problem(wrong, no_padding) is None


def untrained(src, src_lengths, targets, src_vocab_size, tgt_vocab_size, seed):
    torch.manual_seed(seed)
    return ch07.Seq2SeqModel(src_vocab_size, tgt_vocab_size)


def test_the_trained_model_is_judged_on_its_copied_weights():
    the_check = REGISTRY["07_seq2seq.train_date_model"]
    case = the_check.cases(False)[0]
    result = the_check.run_probe(untrained, case)
    assert set(result) == {"answer", "weights"}
    assert "were never updated" in the_check.run_judge(case, {**result, "exact_match": 1.0})
    assert "no weights" in the_check.run_judge(case, {"answer": {"type": "torch.nn.Module"}})
    renamed = {**result, "weights": [[k.replace("bridge", "link"), v] for k, v in result["weights"]]}
    assert "expected the notebook's Seq2SeqModel" in the_check.run_judge(case, renamed)


def test_every_held_out_date_is_in_the_vocabulary_and_none_is_trained_on():
    src, _, _, sources, references, src_vocab, tgt_vocab = ch07.date_data(0)
    assert all(0 not in s for s in sources)                           # no <unk>
    train = {tuple(row[row != ch07.PAD_ID].tolist()) for row in src}
    assert sum(tuple(s) in train for s in sources) < 0.05 * len(sources)


def test_the_probes_work_from_the_sandbox_copy():
    """The sandbox keeps the module's classes and functions only: the probes rebuild the models from
    the cases' weights there as here."""
    module = types.ModuleType("rnnlab.checks.ch07_sandbox", "")
    module.__dict__["__package__"] = "rnnlab.checks"
    exec(compile(sandbox_copy(inspect.getsource(ch07)), "<sandbox copy>", "exec"), module.__dict__)
    for name, fn in [("encode", reference_encode), ("greedy_decode", reference_greedy),
                     ("beam_search", reference_beam)]:
        the_check = REGISTRY[f"07_seq2seq.{name}"]
        case = the_check.cases(False)[0]
        probe = getattr(module, the_check.probe.__name__)
        inside = probe(fn, case.args, 10.0)
        assert the_check.run_judge(case, inside) is None


def test_the_librarys_references_are_switched_off_while_a_student_function_runs():
    """In the grading sandbox rnnlab's references do not exist; in the notebook they refuse too,
    with a sentence saying so, and work again afterwards."""
    def calls_the_library(model, src, lengths, beam_size, max_length, alpha):
        hyps = decoding.beam_search(model, src, lengths, beam_size, max_length, alpha)
        return [(hyps.tokens[b, 0, :hyps.lengths[b, 0]].tolist(), float(hyps.scores[b, 0]))
                for b in range(len(src))]

    with pytest.raises(CheckFailed, match="yours to implement"):
        check("07_seq2seq.beam_search", calls_the_library)
    check("07_seq2seq.beam_search", reference_beam)


def test_the_librarys_helpers_are_switched_off_too():
    """Not only the parts' answers: the helpers of those modules are not in the grading sandbox
    either, so an answer that calls one fails in the notebook as it would when graded."""
    def uses_a_helper(query, keys, mask, W, U, b, v):
        attention.masked_softmax(torch.zeros(mask.shape, dtype=query.dtype), mask)
        return reference_attention(query, keys, mask, W, U, b, v)

    with pytest.raises(CheckFailed, match="masked_softmax is switched off"):
        check("07_seq2seq.additive_attention", uses_a_helper)
    check("07_seq2seq.additive_attention", reference_attention)
