"""rnnlab.bidirectional against torch.nn: stacked layers equal ``num_layers``, the bidirectional
layer over a padded batch equals a bidirectional GRU/RNN on packed sequences (and rnnlab.layers
given the lengths), values and gradients, in float64."""

import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnlab import bidirectional, layers

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64
CELLS = {"rnn": (torch.rnn_tanh_cell, nn.RNN), "gru": (torch.gru_cell, nn.GRU)}


def weights_of(module, layer, reverse=False):
    suffix = f"_l{layer}" + ("_reverse" if reverse else "")
    return tuple(getattr(module, f"{kind}{suffix}") for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))


def padded(seed, lengths, I):
    """(B, T, I) float64 inputs with random values past each end too (as pad embeddings have)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(len(lengths), max(lengths), I, generator=g, dtype=F64), torch.tensor(lengths)


@pytest.mark.parametrize("kind, num_layers", [("rnn", 3), ("gru", 2), ("gru", 1)])
def test_stacked_forward_equals_num_layers(kind, num_layers):
    cell, torch_cls = CELLS[kind]
    torch.manual_seed(0)
    reference = torch_cls(4, 5, num_layers=num_layers, batch_first=True, dtype=F64)
    x = torch.randn(3, 6, 4, dtype=F64, requires_grad=True)
    weights = [weights_of(reference, k) for k in range(num_layers)]
    output, h_n = bidirectional.stacked_forward(x, weights, cell)
    expected, expected_h = reference(x)
    torch.testing.assert_close(output, expected)
    torch.testing.assert_close(h_n, expected_h)
    upstream = torch.randn_like(output)
    ours = torch.autograd.grad((output * upstream).sum(), [x, *weights[0]])
    theirs = torch.autograd.grad((expected * upstream).sum(), [x, *weights[0]])
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.lists(st.integers(1, 7), min_size=1, max_size=5))
def test_reverse_padded_reverses_within_each_length(lengths):
    x, lengths_t = padded(1, lengths, 2)
    out = bidirectional.reverse_padded(x, lengths_t)
    for b, n in enumerate(lengths):
        assert torch.equal(out[b, :n], x[b, :n].flip(0))
        assert torch.equal(out[b, n:], x[b, n:])
    assert torch.equal(bidirectional.reverse_padded(out, lengths_t), x)


def test_length_mask():
    assert bidirectional.length_mask(torch.tensor([2, 0, 3]), 3).tolist() == [
        [True, True, False], [False, False, False], [True, True, True]]


def test_masked_recurrence_runs_each_sequence_alone():
    torch.manual_seed(1)
    gru = nn.GRU(3, 4, batch_first=True, dtype=F64)
    x, lengths = padded(2, [5, 2, 4], 3)
    out, h = bidirectional.masked_recurrence(x, lengths, torch.gru_cell, weights_of(gru, 0))
    for b, n in enumerate(lengths.tolist()):
        alone, h_alone = gru(x[b:b + 1, :n])
        torch.testing.assert_close(out[b, :n], alone[0])
        torch.testing.assert_close(h[b], h_alone[0, 0])
        assert not out[b, n:].any()


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=4), st.sampled_from(sorted(CELLS)))
def test_bidirectional_forward_equals_packed_torch(lengths, kind):
    cell, torch_cls = CELLS[kind]
    torch.manual_seed(len(lengths))
    reference = torch_cls(3, 4, batch_first=True, bidirectional=True, dtype=F64)
    x, lengths_t = padded(3, lengths, 3)
    x.requires_grad_(True)
    output, h_n = bidirectional.bidirectional_forward(x, lengths_t, cell, weights_of(reference, 0),
                                                      weights_of(reference, 0, reverse=True))
    packed = pack_padded_sequence(x, lengths_t, batch_first=True, enforce_sorted=False)
    expected, expected_h = reference(packed)
    expected, _ = pad_packed_sequence(expected, batch_first=True, total_length=x.shape[1])
    torch.testing.assert_close(output, expected)
    torch.testing.assert_close(h_n, expected_h)
    upstream = torch.randn_like(output)
    ours = torch.autograd.grad((output * upstream).sum(), x)[0]
    theirs = torch.autograd.grad((expected * upstream).sum(), x)[0]
    torch.testing.assert_close(ours, theirs)
    assert not ours[~bidirectional.length_mask(lengths_t, x.shape[1])].any()   # padding: no effect


@pytest.mark.parametrize("impl", ["reference", "fused"])
def test_bidirectional_forward_equals_rnnlab_layers_with_lengths(impl):
    torch.manual_seed(4)
    gru = layers.GRU(3, 4, batch_first=True, bidirectional=True, dtype=F64, impl=impl)
    x, lengths = padded(5, [4, 1, 6, 3], 3)
    output, h_n = bidirectional.bidirectional_forward(x, lengths, torch.gru_cell, weights_of(gru, 0),
                                                      weights_of(gru, 0, reverse=True))
    expected, expected_h = gru(x, lengths=lengths)
    torch.testing.assert_close(output, expected)
    torch.testing.assert_close(h_n, expected_h)


@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_sentence_vector_is_the_top_layers_two_final_states(num_layers):
    torch.manual_seed(num_layers)
    H = 4
    lstm = nn.LSTM(3, H, num_layers=num_layers, batch_first=True, bidirectional=True, dtype=F64)
    x, lengths = padded(6, [5, 2, 4], 3)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    output, (h_n, _) = lstm(packed)
    output, _ = pad_packed_sequence(output, batch_first=True)
    vector = bidirectional.sentence_vector(h_n, num_layers)
    assert vector.shape == (3, 2 * H)
    last = output[torch.arange(3), lengths - 1, :H]        # forward: after each last real token
    first = output[:, 0, H:]                               # backward: after reading back to t = 0
    torch.testing.assert_close(vector, torch.cat([last, first], -1))
    torch.testing.assert_close(vector, torch.cat([h_n[-2], h_n[-1]], -1))
