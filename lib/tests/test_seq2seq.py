"""rnnlab.attention, rnnlab.seq2seq and rnnlab.decoding (chapter 07).

Attention: the published equations, the query each form uses, exact zeros at padding. The
model: encoder lengths, the bridge, teacher forcing without a peek at the answer. Decoding:
beam search against the enumeration of every output of a tiny model (a vocabulary of 4 with
``</s>``, up to 5 tokens), k = 1 against greedy, scores against teacher-forced log-probabilities,
batched against one by one. Each classic beam-search bug is injected into the search (through
the private helper it lives in) to show that the test case would catch it."""

from itertools import product

import pytest
import torch
from torch.testing import assert_close

from rnnlab import decoding, seq2seq
from rnnlab.attention import (BahdanauAttention, LuongAttention, alignment_error_rate,
                              gold_attention_mass, masked_softmax)
from rnnlab.seq2seq import BOS_ID, EOS_ID, PAD_ID, Seq2Seq

ATTENTIONS = [(None, False), ("bahdanau", False), ("dot", False), ("general", False),
              ("dot", True), ("general", True)]
UNK_ID = 0
WORDS = [UNK_ID, 4, 5]                  # what the tiny model can emit besides </s>: 4 tokens in all


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The tensors here are tiny: one thread is faster, and much faster on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_model(attention=None, input_feeding=False, kind="gru", seed=0, src_vocab=9, tgt_vocab=9,
               hidden=8, num_layers=1, bidirectional=True, peaked=1.0, inputs=1.0):
    """A small random model in float64; ``peaked`` scales the output layer (sharper
    distributions), ``inputs`` the decoder's embeddings (steps that depend more on the input)."""
    torch.manual_seed(seed)
    model = Seq2Seq(src_vocab, tgt_vocab, embedding_dim=6, hidden_size=hidden, kind=kind,
                    num_layers=num_layers, bidirectional=bidirectional, attention=attention,
                    input_feeding=input_feeding).double().eval()
    with torch.no_grad():
        model.decoder.output.weight.mul_(peaked)
        model.decoder.embedding.weight.mul_(inputs)
    return model


def sources(batch=4, src_vocab=9, seed=1, max_len=7):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, max_len + 1, (batch,), generator=g)
    lengths[0] = max_len
    src = torch.randint(4, src_vocab, (batch, max_len), generator=g)
    src[torch.arange(max_len)[None, :] >= lengths[:, None]] = PAD_ID
    return src, lengths


class TransitionTable(torch.nn.Module):
    """A tiny model with the decoding interface: P(y_t | y_{t-1}, x) read from a fixed random
    table chosen by the source's first token. Target vocabulary <unk> <s> </s> <pad> a b: it
    emits <unk>, </s>, a, b (never <s> or <pad>), 4 tokens in all."""

    bos_id, eos_id, pad_id = BOS_ID, EOS_ID, PAD_ID

    def __init__(self, seed, src_vocab=9, scale=2.0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.table = scale * torch.randn(src_vocab, 6, 6, generator=g, dtype=torch.float64)

    def encode(self, src, src_lengths):
        mask = torch.arange(src.shape[1])[None, :] < src_lengths[:, None]
        return seq2seq.EncodedSource(self.table[src[:, 0]], mask, None), seq2seq.DecoderState(src.new_zeros(1, len(src), 1))

    def step(self, tokens, state, source):
        return source.keys[torch.arange(len(tokens)), tokens], state, None       # (N, V) logits

    def forward(self, src, src_lengths, inputs):
        source, state = self.encode(src, src_lengths)
        return torch.stack([self.step(inputs[:, t], state, source)[0] for t in range(inputs.shape[1])], 1), None


def tiny_model():
    """The table of the exhaustive tests: the best outputs of its sources have several lengths
    (test_the_tiny_model_tells_the_scores_apart), and beam search stops early on it."""
    return TransitionTable(seed=2)


# ---------------------------------------------------------------------------------------------
# Attention
# ---------------------------------------------------------------------------------------------


def test_masked_softmax_exact_zeros_and_no_nan_on_an_empty_row():
    scores = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]], dtype=torch.bool)
    weights = masked_softmax(scores, mask)
    assert torch.equal(weights[~mask], torch.zeros(int((~mask).sum()), dtype=torch.float64))
    assert_close(weights[:2].sum(1), torch.ones(2, dtype=torch.float64))
    assert_close(weights[0, :3], torch.softmax(scores[0, :3], 0))
    assert not torch.isnan(weights).any()
    (weights * torch.randn(3, 5, dtype=torch.float64)).sum().backward()
    assert not torch.isnan(scores.grad).any() and torch.equal(scores.grad[2], torch.zeros(5, dtype=torch.float64))


def test_bahdanau_is_the_published_equation():
    torch.manual_seed(0)
    attention = BahdanauAttention(query_size=4, key_size=6, attention_size=5).double()
    s, h = torch.randn(2, 4, dtype=torch.float64), torch.randn(2, 3, 6, dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]], dtype=torch.bool)
    context, weights = attention(s, h, mask)
    assert context.shape == (2, 6) and weights.shape == (2, 3)
    W, U, b, v = attention.W.weight, attention.U.weight, attention.U.bias, attention.v.weight[0]
    for i in range(2):
        e = torch.stack([v @ torch.tanh(W @ s[i] + U @ h[i, j] + b) for j in range(3)])   # e_ij
        alpha = torch.softmax(e[mask[i]], 0)
        assert_close(weights[i, mask[i]], alpha)
        assert_close(context[i], alpha @ h[i, mask[i]])
    assert_close(attention(s, h, mask, attention.project_keys(h))[1], weights)


@pytest.mark.parametrize("score", ["dot", "general"])
def test_luong_is_the_published_equation(score):
    torch.manual_seed(0)
    attention = LuongAttention(4, 4, score).double()
    h_t, h_s = torch.randn(2, 4, dtype=torch.float64), torch.randn(2, 3, 4, dtype=torch.float64)
    mask = torch.ones(2, 3, dtype=torch.bool)
    context, weights = attention(h_t, h_s, mask)
    W_a = torch.eye(4, dtype=torch.float64) if score == "dot" else attention.W_a.weight
    expected = torch.softmax(torch.einsum("bd,de,bse->bs", h_t, W_a, h_s), -1)   # h_t^T W_a h_s
    assert_close(weights, expected)
    assert_close(context, torch.einsum("bs,bsd->bd", expected, h_s))
    with pytest.raises(ValueError, match="dot attention"):
        LuongAttention(4, 6, "dot")


@pytest.mark.parametrize("make", [lambda: BahdanauAttention(4, 4, 5), lambda: LuongAttention(4, 4, "dot"),
                                  lambda: LuongAttention(4, 4, "general")])
def test_a_padded_key_changes_nothing(make):
    torch.manual_seed(1)
    attention = make().double()
    query, keys = torch.randn(2, 4, dtype=torch.float64), torch.randn(2, 5, 4, dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    context, weights = attention(query, keys, mask)
    changed = keys.clone()
    changed[0, 3:] = 100 * torch.randn(2, 4, dtype=torch.float64)
    context2, weights2 = attention(query, changed, mask)
    assert torch.equal(weights[0, 3:], torch.zeros(2, dtype=torch.float64))
    assert torch.equal(context2, context) and torch.equal(weights2, weights)


def test_bahdanau_queries_the_previous_state_and_luong_the_current_one():
    src, lengths = sources()
    token = torch.full((4,), BOS_ID)
    for attention in ("bahdanau", "general"):
        model = make_model(attention)
        source, state = model.encode(src, lengths)
        _, new_state, weights = model.step(token, state, source)
        query = state.top if attention == "bahdanau" else new_state.top   # s_{i-1} or h_t
        other = new_state.top if attention == "bahdanau" else state.top
        assert_close(weights, model.decoder.attention(query, source.keys, source.mask)[1])
        assert not torch.allclose(weights, model.decoder.attention(other, source.keys, source.mask)[1])


@pytest.mark.parametrize("score", ["dot", "general"])
def test_luong_attentional_state_and_input_feeding(score):
    src, lengths = sources()
    model = make_model(score, input_feeding=True)
    source, state = model.encode(src, lengths)
    assert torch.equal(state.attentional, torch.zeros(4, 8, dtype=torch.float64))   # h~_0 = 0
    logits, new_state, weights = model.step(torch.full((4,), BOS_ID), state, source)
    context = torch.bmm(weights[:, None], source.keys)[:, 0]
    attentional = torch.tanh(model.decoder.combine(torch.cat([context, new_state.top], -1)))
    assert_close(new_state.attentional, attentional)                   # h~_t = tanh(W_c [c_t; h_t])
    assert_close(logits, model.decoder.output(attentional))
    fed = model.step(torch.full((4,), 5), new_state, source)[0]
    unfed = model.step(torch.full((4,), 5), seq2seq.DecoderState(new_state.hidden, torch.zeros_like(attentional)), source)[0]
    assert not torch.allclose(fed, unfed)                              # h~_{t-1} is an input


@pytest.mark.parametrize("attention,input_feeding", ATTENTIONS)
@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_every_model_is_its_step_loop_with_the_right_shapes(attention, input_feeding, kind):
    src, lengths = sources()
    model = make_model(attention, input_feeding, kind=kind, num_layers=2)
    targets = torch.randint(4, 9, (4, 6))
    inputs = seq2seq.decoder_inputs(targets)
    logits, weights = model(src, lengths, inputs)
    assert logits.shape == (4, 6, 9)
    source, state = model.encode(src, lengths)
    for t in range(6):                                                 # read() where it applies
        step_logits, state, step_weights = model.step(inputs[:, t], state, source)
        assert_close(step_logits, logits[:, t])
        if attention is not None:
            assert_close(step_weights, weights[:, t])
    if attention is None:
        assert weights is None
        return
    assert weights.shape == (4, 6, 7)
    padding = torch.arange(7)[None, None, :] >= lengths[:, None, None]
    assert torch.equal(weights[padding.expand_as(weights)], torch.zeros(int(padding.sum()) * 6, dtype=torch.float64))
    assert_close(weights.sum(-1), torch.ones(4, 6, dtype=torch.float64))


# ---------------------------------------------------------------------------------------------
# Encoder, bridge, teacher forcing
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind,bidirectional", [("gru", True), ("lstm", True), ("gru", False)])
def test_padded_batch_encodes_like_each_source_alone(kind, bidirectional):
    src, lengths = sources()
    model = make_model("dot", kind=kind, num_layers=2, bidirectional=bidirectional)
    source, state = model.encode(src, lengths)
    for b in range(4):
        alone, alone_state = model.encode(src[b:b + 1, :lengths[b]], lengths[b:b + 1])
        assert_close(source.keys[b, :lengths[b]], alone.keys[0])
        assert torch.equal(source.keys[b, lengths[b]:], torch.zeros(7 - int(lengths[b]), 8, dtype=torch.float64))
        assert_close(state.select(torch.tensor([b])).hidden, alone_state.hidden)


def test_bridge_joins_both_directions_of_each_layer():
    src, lengths = sources()
    model = make_model(None, num_layers=2)
    _, final = model.encoder(src, lengths)                             # (L*D, B, H/2)
    _, state = model.encode(src, lengths)
    bridge = model.bridge.hidden
    for layer in range(2):
        both = torch.cat([final[2 * layer], final[2 * layer + 1]], -1)   # [forward; reverse]
        assert_close(state.hidden[layer], torch.tanh(bridge(both)))
    lstm = make_model(None, kind="lstm", bidirectional=False)
    (h, c), (s0, c0) = lstm.encoder(src, lengths)[1], lstm.encode(src, lengths)[1].hidden
    assert_close(s0, torch.tanh(lstm.bridge.hidden(h)))               # one direction: tanh(W_b h_S + b)
    assert_close(c0, lstm.bridge.cell(c))                              # the cell: linear, no tanh


def test_decoder_inputs_are_shifted_behind_bos():
    targets = torch.tensor([[5, 6, EOS_ID], [7, EOS_ID, PAD_ID]])
    assert torch.equal(seq2seq.decoder_inputs(targets), torch.tensor([[BOS_ID, 5, 6], [BOS_ID, 7, EOS_ID]]))


def test_teacher_forced_loss_ignores_padding_and_never_sees_its_target():
    src, lengths = sources()
    model = make_model("bahdanau")
    targets = torch.tensor([[5, 6, 7, EOS_ID], [6, EOS_ID, PAD_ID, PAD_ID], [4, 4, EOS_ID, PAD_ID],
                            [8, 7, 6, EOS_ID]])
    loss = seq2seq.teacher_forced_loss(model, src, lengths, targets)
    total, count = 0.0, 0
    for b in range(4):
        n = int((targets[b] != PAD_ID).sum())
        total = total - seq2seq.sequence_log_probs(model, src[b:b + 1, :lengths[b]], lengths[b:b + 1],
                                                   targets[b:b + 1, :n])[0]
        count += n
    assert_close(loss, total / count)
    logits, _ = model(src, lengths, seq2seq.decoder_inputs(targets))
    changed = targets.clone()
    changed[:, 2] = 4                                                   # a different y_3
    logits2, _ = model(src, lengths, seq2seq.decoder_inputs(changed))
    assert torch.equal(logits2[:, :3], logits[:, :3])                  # steps 1..3 cannot see y_3
    assert not torch.allclose(logits2[:, 3], logits[:, 3])


def test_teacher_forcing_ratio_feeds_own_predictions_seeded():
    src, lengths = sources()
    model = make_model("general")
    targets = torch.randint(4, 9, (4, 6))
    inputs = seq2seq.decoder_inputs(targets)
    gold, _ = model(src, lengths, inputs)
    assert torch.equal(model(src, lengths, inputs, 1.0, torch.Generator().manual_seed(0))[0], gold)
    own, _ = model(src, lengths, inputs, 0.0, torch.Generator().manual_seed(0))
    greedy = decoding.greedy_decode(model, src, lengths, max_length=6)
    # ratio 0: each step reads the previous argmax, so the argmaxes are greedy search's (<s> and
    # <pad> aside, which greedy never emits: compare the rows where argmax never picks them)
    rows = ~((own.argmax(-1) == BOS_ID) | (own.argmax(-1) == PAD_ID)).any(1)
    assert rows.any()
    assert torch.equal(own.argmax(-1)[rows][:, :greedy.tokens.shape[2]], greedy.tokens[rows, 0])
    half = [model(src, lengths, inputs, 0.5, torch.Generator().manual_seed(s))[0] for s in (0, 0, 1)]
    assert torch.equal(half[0], half[1]) and not torch.equal(half[0], half[2])


def test_training_is_seeded_and_learns_a_copy_task():
    pairs = [([str(d) for d in digits], [str(d) for d in digits]) for digits in
             torch.randint(0, 5, (256, 4), generator=torch.Generator().manual_seed(0)).tolist()]
    src_vocab, tgt_vocab = seq2seq.build_vocabs(pairs)
    encoded = seq2seq.encode_pairs(pairs, src_vocab, tgt_vocab)
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = Seq2Seq(len(src_vocab), len(tgt_vocab), 8, 16, attention="dot")
        runs.append(seq2seq.train_seq2seq(model, encoded, epochs=5, batch_size=32, lr=2e-2,
                                          teacher_forcing_ratio=0.8, progress=False))
    assert runs[0] == runs[1]
    assert runs[0][-1] < 0.4 * runs[0][0]


# ---------------------------------------------------------------------------------------------
# Greedy and beam search
# ---------------------------------------------------------------------------------------------


def check_scores_are_log_probs(model, src, lengths, hyps, alpha):
    """Every hypothesis' log-probability is its teacher-forced log-probability, and its score
    that divided by its length (</s> included) to the alpha."""
    B, K, T = hyps.tokens.shape
    rows = hyps.lengths.flatten() > 0
    log_probs = seq2seq.sequence_log_probs(model, src.repeat_interleave(K, 0)[rows],
                                           lengths.repeat_interleave(K)[rows], hyps.tokens.flatten(0, 1)[rows])
    assert_close(hyps.log_probs.flatten()[rows], log_probs)
    assert_close(hyps.scores.flatten()[rows], log_probs / hyps.lengths.flatten()[rows].double() ** alpha)


def every_output(max_length):
    """All outputs of the tiny model: up to max_length - 1 words then </s>, or max_length words."""
    ended = [list(w) + [EOS_ID] for n in range(max_length) for w in product(WORDS, repeat=n)]
    return ended + [list(w) for w in product(WORDS, repeat=max_length)]


def enumerate_best(model, src, lengths, max_length, alpha):
    """The best output of each source under log_prob / length^alpha, by scoring every output."""
    outputs = every_output(max_length)
    targets = torch.full((len(outputs), max_length), PAD_ID)
    for i, y in enumerate(outputs):
        targets[i, :len(y)] = torch.tensor(y)
    out_lengths = torch.tensor([len(y) for y in outputs], dtype=torch.float64)
    best = []
    for b in range(src.shape[0]):
        log_probs = seq2seq.sequence_log_probs(model, src[b:b + 1].expand(len(outputs), -1),
                                               lengths[b:b + 1].expand(len(outputs)), targets)
        scores = log_probs / out_lengths ** alpha
        i = int(scores.argmax())
        best.append((outputs[i], float(scores[i])))
    return best


@pytest.mark.parametrize("model", [tiny_model(), make_model("bahdanau", tgt_vocab=6, seed=4, peaked=5.0, inputs=3.0)],
                         ids=["table", "bahdanau"])
def test_greedy_stops_each_sequence_at_its_end(model):
    src, lengths = sources(6)
    hyps = decoding.greedy_decode(model, src, lengths, max_length=5)
    assert hyps.tokens.shape[:2] == (6, 1) and hyps.tokens.shape[2] <= 5
    ends = hyps.lengths[:, 0]
    assert 1 < len(set(ends.tolist()))                                 # sequences of different lengths
    for b in range(6):
        row = hyps.tokens[b, 0].tolist()
        assert EOS_ID not in row[:ends[b] - 1] and all(t == PAD_ID for t in row[ends[b]:])
        alone = decoding.greedy_decode(model, src[b:b + 1, :lengths[b]], lengths[b:b + 1], max_length=5)
        assert alone.best() == [hyps.best()[b]]
        assert_close(alone.log_probs[0], hyps.log_probs[b])
        step_by_step = []                                              # argmax, one step at a time
        source, state = model.encode(src[b:b + 1], lengths[b:b + 1])
        token = torch.tensor([BOS_ID])
        while len(step_by_step) < 5 and (not step_by_step or step_by_step[-1] != EOS_ID):
            logits, state, _ = model.step(token, state, source)
            logits[:, [BOS_ID, PAD_ID]] = float("-inf")
            token = logits.argmax(-1)
            step_by_step.append(int(token))
        assert row[:ends[b]] == step_by_step
    check_scores_are_log_probs(model, src, lengths, hyps, alpha=0.0)


@pytest.mark.parametrize("attention,input_feeding", ATTENTIONS)
def test_beam_of_one_is_greedy(attention, input_feeding):
    src, lengths = sources(6)
    model = make_model(attention, input_feeding, tgt_vocab=7, seed=4, peaked=2.0)
    greedy = decoding.greedy_decode(model, src, lengths, max_length=8)
    beam = decoding.beam_search(model, src, lengths, beam_size=1, max_length=8)
    assert beam.best() == greedy.best()
    assert torch.equal(beam.lengths, greedy.lengths)
    assert_close(beam.log_probs, greedy.log_probs)


@pytest.mark.parametrize("alpha", [0.0, 0.7, 1.5])
def test_wide_beam_finds_the_best_output_of_all(alpha):
    """A beam of 4 * 3^4 keeps every candidate of every step (at most 3^4 live prefixes of 4
    words, each with 4 continuations), so it must return the best of all 3^5 + 121 outputs."""
    model = tiny_model()
    src, lengths = sources(6)
    best = enumerate_best(model, src, lengths, 5, alpha)
    hyps = decoding.beam_search(model, src, lengths, beam_size=4 * 3 ** 4, max_length=5, alpha=alpha)
    for b, (output, score) in enumerate(best):
        assert hyps.tokens[b, 0, :hyps.lengths[b, 0]].tolist() == output
        assert_close(float(hyps.scores[b, 0]), score)
    check_scores_are_log_probs(model, src, lengths, hyps, alpha)


def test_the_tiny_model_tells_the_scores_apart():
    """The case the beam tests rely on: the best raw output is sometimes longer than </s> alone,
    and length normalisation changes the best output of some sources (so a search that ignored
    alpha, or stopped as soon as one hypothesis ended, would fail the test above)."""
    model = tiny_model()
    src, lengths = sources(6)
    raw = [y for y, _ in enumerate_best(model, src, lengths, 5, 0.0)]
    normalised = [y for y, _ in enumerate_best(model, src, lengths, 5, 0.7)]
    assert any(len(y) > 1 for y in raw) and raw != normalised
    assert any(len(n) > len(r) for r, n in zip(raw, normalised))


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_batched_beam_search_equals_one_by_one(alpha):
    model = make_model("general", input_feeding=True, tgt_vocab=7, seed=5, peaked=2.0)
    src, lengths = sources(5)
    hyps = decoding.beam_search(model, src, lengths, beam_size=4, max_length=7, alpha=alpha)
    for b in range(5):
        alone = decoding.beam_search(model, src[b:b + 1, :lengths[b]], lengths[b:b + 1], 4, 7, alpha)
        T = alone.tokens.shape[2]
        assert torch.equal(alone.tokens[0], hyps.tokens[b, :, :T])
        assert torch.equal(alone.lengths[0], hyps.lengths[b])
        assert_close(alone.scores[0], hyps.scores[b])
    check_scores_are_log_probs(model, src, lengths, hyps, alpha)


def spy_on_steps(model, monkeypatch):
    """Record the tokens of every call of model.step."""
    calls, step = [], model.step
    monkeypatch.setattr(model, "step", lambda tokens, state, source: calls.append(tokens.clone()) or
                        step(tokens, state, source))
    return calls


def test_first_step_from_one_beam_and_finished_never_extended(monkeypatch):
    model = tiny_model()
    src, lengths = sources(6)
    calls = spy_on_steps(model, monkeypatch)
    hyps = decoding.beam_search(model, src, lengths, beam_size=5, max_length=5, alpha=0.7)
    assert calls[0].shape == (6,) and torch.equal(calls[0], torch.full((6,), BOS_ID))   # one beam
    assert all(c.shape == (6 * 5,) for c in calls[1:])
    assert not any((c == EOS_ID).any() for c in calls)                # nothing read after </s>
    for b in range(6):
        found = [tuple(hyps.tokens[b, j, :hyps.lengths[b, j]].tolist()) for j in range(5)]
        assert len(set(found)) == 5                                     # no copies
        assert all(EOS_ID not in y[:-1] for y in found)
    assert (hyps.scores[:, :-1] >= hyps.scores[:, 1:]).all()           # best first


def test_fewer_possible_outputs_than_beams_leaves_empty_slots():
    model = tiny_model()
    src, lengths = sources(2)
    hyps = decoding.beam_search(model, src, lengths, beam_size=6, max_length=1)   # 4 outputs exist
    assert torch.equal(hyps.lengths[:, 4:], torch.zeros(2, 2, dtype=torch.long))
    assert torch.isinf(hyps.scores[:, 4:]).all() and torch.isfinite(hyps.scores[:, :4]).all()
    assert sorted(hyps.tokens[0, :4, 0].tolist()) == sorted(WORDS + [EOS_ID])


def test_beam_search_rejects_bad_arguments():
    model = tiny_model()
    src, lengths = sources(1)
    for kwargs in ({"beam_size": 0}, {"max_length": 0}, {"alpha": -0.5}):
        with pytest.raises(ValueError):
            decoding.beam_search(model, src, lengths, **kwargs)


# --- the stopping rule: stopping early must never change the result ---------------------------

NEVER = staticmethod(lambda live, finished, max_length, alpha: torch.zeros(live.shape[0], dtype=torch.bool))
STOPPING_CASES = [(k, alpha) for k in (2, 3, 5) for alpha in (0.0, 0.5, 1.0, 2.0)]


def searches(model, src, lengths, monkeypatch, rule=None):
    """Beam search on every case of STOPPING_CASES with max_length 9, the stopping rule
    replaced by ``rule`` if given; returns (hypotheses, number of steps) per case."""
    if rule is not None:
        monkeypatch.setattr(decoding, "_search_is_over", rule)
    calls = spy_on_steps(model, monkeypatch)
    out = []
    for k, alpha in STOPPING_CASES:
        del calls[:]
        out.append((decoding.beam_search(model, src, lengths, k, 9, alpha), len(calls)))
    monkeypatch.undo()
    return out


def same(a, b):
    return torch.equal(a.tokens, b.tokens) and torch.equal(a.lengths, b.lengths)


def test_stopping_rule_is_exact(monkeypatch):
    """Stopping when no live hypothesis can beat the worst finished one (bound s / L_max^alpha)
    gives the same k best as searching to max_length, for every k and alpha, and does stop early."""
    model, (src, lengths) = tiny_model(), sources(6)
    exact = searches(model, src, lengths, monkeypatch)
    full = searches(model, src, lengths, monkeypatch, NEVER)
    for (a, steps), (b, all_steps) in zip(exact, full):
        assert same(a, b) and all_steps == 9
    assert any(steps < 9 for _, steps in exact)


@pytest.mark.parametrize("bug", [
    # stop as soon as the top hypothesis has finished
    lambda live, finished, max_length, alpha: finished[:, 0] > float("-inf"),
    # the bound of raw scores (a live score only falls) used with normalised ones
    lambda live, finished, max_length, alpha: live.max(1).values <= finished[:, -1],
    # the bound at the current length instead of the longest
    lambda live, finished, max_length, alpha: live.max(1).values / (live.shape[1] + 1) ** alpha <= finished[:, -1],
], ids=["stop-when-top-finishes", "raw-bound", "bound-at-current-length"])
def test_the_stopping_bugs_would_change_the_result(monkeypatch, bug):
    model, (src, lengths) = tiny_model(), sources(6)
    full = searches(model, src, lengths, monkeypatch, NEVER)
    buggy = searches(model, src, lengths, monkeypatch, bug)
    assert not all(same(a, b) for (a, _), (b, _) in zip(buggy, full))


def test_the_other_beam_bugs_would_be_caught(monkeypatch):
    """True division of the beam index, and extending hypotheses that ended with </s>, injected:
    the checks above fail."""
    model, (src, lengths) = tiny_model(), sources(6)
    beam, word = decoding._beam_and_token(torch.arange(12), 4)
    assert torch.equal(beam, torch.arange(12) // 4) and beam.dtype == torch.long
    assert torch.equal(word, torch.arange(12) % 4)
    monkeypatch.setattr(decoding, "_beam_and_token", lambda candidate, V: (candidate / V, candidate % V))
    with pytest.raises(RuntimeError):                                  # a fraction is no index
        decoding.beam_search(model, src, lengths, 5, 5, 0.0)
    monkeypatch.setattr(decoding, "_beam_and_token",                  # ... nor is it rounded
                        lambda candidate, V: (torch.round(candidate / V).long(), candidate % V))
    with pytest.raises((RuntimeError, AssertionError)):               # a beam out of range, or
        hyps = decoding.beam_search(model, src, lengths, 5, 5, 0.0)    # the wrong prefixes
        check_scores_are_log_probs(model, src, lengths, hyps, 0.0)
    monkeypatch.undo()
    monkeypatch.setattr(decoding, "_finishes", lambda word, eos, length, max_length: torch.full_like(
        word, length == max_length, dtype=torch.bool))                 # </s> as an ordinary token
    calls = spy_on_steps(model, monkeypatch)
    hyps = decoding.beam_search(model, src, lengths, 4 * 3 ** 4, 5, 0.0)
    assert any((c == EOS_ID).any() for c in calls)
    best = enumerate_best(model, src, lengths, 5, 0.0)
    assert [hyps.tokens[b, 0, :hyps.lengths[b, 0]].tolist() for b in range(6)] != [y for y, _ in best]


# ---------------------------------------------------------------------------------------------
# Prediction, metrics, alignment scores
# ---------------------------------------------------------------------------------------------


def test_predict_keeps_the_order_and_drops_eos():
    model = make_model("bahdanau", tgt_vocab=7, seed=4, peaked=2.0)
    src, lengths = sources(7)
    rows = [src[b, :lengths[b]].numpy() for b in range(7)]
    expected = decoding.greedy_decode(model, src, lengths, 6).best()
    assert decoding.predict(model, rows, batch_size=3, max_length=6) == expected
    beams = decoding.beam_search(model, src, lengths, 3, 6, 0.5).best()
    assert decoding.predict(model, rows, decoding.beam_search, 2, beam_size=3, max_length=6, alpha=0.5) == beams
    assert all(EOS_ID not in y for y in expected)


def test_exact_match_and_token_accuracy():
    predictions = [list("2021-03-03"), list("2021-03-0"), list("1999-12-31x")]
    references = [list("2021-03-03"), list("2021-03-04"), list("1999-12-31")]
    assert seq2seq.exact_match(predictions, references) == pytest.approx(1 / 3)
    assert seq2seq.token_accuracy(predictions, references) == pytest.approx((10 + 9 + 10) / 30)
    table = seq2seq.exact_match_by_length(predictions, references, [8, 12, 25], [0, 10, 20, 30, 40])
    assert table == {(0, 10): (1.0, 1), (10, 20): (0.0, 1), (20, 30): (0.0, 1)}
    with pytest.raises(ValueError):
        seq2seq.exact_match(predictions, references[:2])


def test_corpus_bleu_is_sacrebleus():
    try:
        import sacrebleu
    except ImportError:
        with pytest.raises(ImportError, match="sacrebleu"):
            seq2seq.corpus_bleu([["a"]], [["a"]])
        return
    hyp, ref = [["the", "cat", "sat", "on", "the", "mat"]], [["the", "cat", "sat", "on", "a", "mat"]]
    assert seq2seq.corpus_bleu(hyp, ref) == pytest.approx(
        sacrebleu.corpus_bleu(["the cat sat on the mat"], [["the cat sat on a mat"]], tokenize="none").score)
    assert seq2seq.corpus_bleu(ref, ref) == pytest.approx(100.0)


def test_corpus_bleu_does_not_warn_about_tokenised_text(capsys, caplog):
    """Tokenised sentences ending in " ." are what corpus_bleu is for: sacrebleu's advice to
    detokenise them is not printed."""
    pytest.importorskip("sacrebleu")
    sentences = [["the", "cat", "sat", "."]] * 120
    seq2seq.corpus_bleu(sentences, sentences)
    captured = capsys.readouterr()
    assert "detokenize" not in captured.out + captured.err + caplog.text


def test_alignment_scores_on_hand_made_attention():
    one_hot = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.2, 0.3, 0.5]])   # last row: </s>
    assert gold_attention_mass([one_hot], [[1, 0]]) == 1.0
    assert alignment_error_rate([one_hot], [[1, 0]]) == 0.0
    soft = torch.tensor([[0.6, 0.4], [0.3, 0.7]])
    assert gold_attention_mass([one_hot, soft], [[1, 0], [1, 1]]) == pytest.approx((1 + 1 + 0.4 + 0.7) / 4)
    assert alignment_error_rate([one_hot, soft], [[1, 0], [1, 1]]) == pytest.approx(1 / 4)
    uniform = torch.full((2, 4, 4), 0.25)
    assert gold_attention_mass(uniform, [[0, 1, 2, 3], [3, 2]]) == pytest.approx(0.25)
    assert alignment_error_rate(torch.eye(3)[None], [[2, 0, 1]]) == 1.0
