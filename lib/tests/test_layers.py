"""rnnlab.layers against torch.nn: outputs, final states and every gradient, for both impls.

The property-based sweep draws sizes, layers, directions, batch_first, sequence lengths (1
and mixed lengths in one batch included), the way variable lengths are given (full-length,
a ``lengths`` tensor, a PackedSequence) and whether initial states are passed; the two
modules share one state dict, and everything must agree to 1e-10 in float64 and 1e-5
(relative to the largest magnitude) in float32.
"""

import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnlab import _recurrent_fast, layers

# kind -> (rnnlab class, torch class, extra constructor arguments)
KINDS = {
    "rnn_tanh": (layers.RNN, nn.RNN, {}),
    "rnn_relu": (layers.RNN, nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (layers.LSTM, nn.LSTM, {}),
    "gru": (layers.GRU, nn.GRU, {}),
}
CELLS = {
    "rnn_tanh": (layers.RNNCell, nn.RNNCell, {}),
    "rnn_relu": (layers.RNNCell, nn.RNNCell, {"nonlinearity": "relu"}),
    "lstm": (layers.LSTMCell, nn.LSTMCell, {}),
    "gru": (layers.GRUCell, nn.GRUCell, {}),
}
TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-5}
SWEEP = settings(max_examples=200, deadline=None, derandomize=True)


def assert_same(name, ours, theirs, dtype):
    """Max abs difference (float32: relative to the largest magnitude of torch's value), named."""
    assert ours.shape == theirs.shape, f"{name}: shape {tuple(ours.shape)} != {tuple(theirs.shape)}"
    scale = max(theirs.abs().max().item(), 1e-6) if dtype == torch.float32 else 1.0
    err = (ours - theirs).abs().max().item() / scale if ours.numel() else 0.0
    assert err <= TOLERANCE[dtype], f"{name}: difference {err:.3g} > {TOLERANCE[dtype]:.0e}"


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


def pair(kind, impl, dtype, seed=0, **kwargs):
    """An rnnlab layer and a torch.nn layer with the same weights."""
    ours_cls, torch_cls, extra = KINDS[kind]
    torch.manual_seed(seed)
    theirs = torch_cls(**kwargs, **extra, dtype=dtype)
    ours = ours_cls(**kwargs, **extra, dtype=dtype, impl=impl)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def forward_backward(module, x, hx, lengths, how, batch_first, out_weight, state_weight, ours):
    """Run one module, back-propagate a random linear function of everything it returns, and
    return (output, final states, input gradient, initial-state gradients, parameter grads)."""
    x = x.detach().requires_grad_()
    hx = None if hx is None else tuple(s.detach().requires_grad_() for s in hx)
    hx_arg = None if hx is None else (hx if len(hx) == 2 else hx[0])
    if how == "packed":
        out, h_n = module(pack_padded_sequence(x, lengths, batch_first, enforce_sorted=False), hx_arg)
        out = out.data
    elif how == "lengths" and ours:
        out, h_n = module(x, hx_arg, lengths=lengths)
    elif how == "lengths":                                      # torch.nn: through packing
        packed = pack_padded_sequence(x, lengths, batch_first, enforce_sorted=False)
        out, h_n = module(packed, hx_arg)
        out, _ = pad_packed_sequence(out, batch_first, total_length=x.shape[1 if batch_first else 0])
    else:
        out, h_n = module(x, hx_arg)
    h_n = as_tuple(h_n)
    loss = (out * out_weight[: out.numel()].view_as(out)).sum()
    loss = loss + sum((s * w).sum() for s, w in zip(h_n, state_weight))
    loss.backward()
    params = {name: p.grad for name, p in module.named_parameters()}
    return out, h_n, x.grad, None if hx is None else [s.grad for s in hx], params


@st.composite
def configurations(draw):
    lengths = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    how = draw(st.sampled_from(["full", "lengths", "packed"]))
    if how == "full":
        lengths = [max(lengths)] * len(lengths)
    return dict(
        kind=draw(st.sampled_from(sorted(KINDS))),
        impl=draw(st.sampled_from(layers.IMPLS)),
        input_size=draw(st.integers(1, 4)),
        hidden_size=draw(st.integers(1, 4)),
        num_layers=draw(st.integers(1, 2)),
        bidirectional=draw(st.booleans()),
        batch_first=draw(st.booleans()),
        bias=draw(st.booleans()) if draw(st.integers(0, 4)) == 0 else True,
        lengths=lengths,
        how=how,
        initial_state=draw(st.booleans()),
        seed=draw(st.integers(0, 2**16)),
    )


def check_against_torch(cfg, dtype):
    cfg = dict(cfg)
    kind, impl, how, lengths = cfg.pop("kind"), cfg.pop("impl"), cfg.pop("how"), cfg.pop("lengths")
    initial_state, seed = cfg.pop("initial_state"), cfg.pop("seed")
    ours, theirs = pair(kind, impl, dtype, seed, **cfg)
    B, T, D = len(lengths), max(lengths), 2 if cfg["bidirectional"] else 1
    x = torch.randn((B, T, cfg["input_size"]) if cfg["batch_first"] else (T, B, cfg["input_size"]), dtype=dtype)
    state_shape = (cfg["num_layers"] * D, B, cfg["hidden_size"])
    n_states = 2 if kind == "lstm" else 1
    hx = tuple(torch.randn(state_shape, dtype=dtype) for _ in range(n_states)) if initial_state else None
    out_weight = torch.randn(T * B * D * cfg["hidden_size"], dtype=dtype)
    state_weight = [torch.randn(state_shape, dtype=dtype) for _ in range(n_states)]
    lengths = torch.tensor(lengths)
    common = (x, hx, lengths, how, cfg["batch_first"], out_weight, state_weight)
    got = forward_backward(ours, *common, ours=True)
    want = forward_backward(theirs, *common, ours=False)
    assert_same("output", got[0], want[0], dtype)
    for i, (a, b) in enumerate(zip(got[1], want[1])):
        assert_same(("h_n", "c_n")[i], a, b, dtype)
    assert_same("grad input", got[2], want[2], dtype)
    if initial_state:
        for i, (a, b) in enumerate(zip(got[3], want[3])):
            assert_same(("grad h_0", "grad c_0")[i], a, b, dtype)
    assert list(got[4]) == list(want[4])
    for name in want[4]:
        assert_same(f"grad {name}", got[4][name], want[4][name], dtype)


EDGE_CASES = [   # always run: a one-step sequence, and mixed lengths including 1, packed, with states
    dict(kind="lstm", impl="reference", input_size=2, hidden_size=3, num_layers=2, bidirectional=True,
         batch_first=True, bias=True, lengths=[1], how="full", initial_state=True, seed=1),
    dict(kind="gru", impl="reference", input_size=3, hidden_size=2, num_layers=2, bidirectional=True,
         batch_first=False, bias=True, lengths=[3, 1, 4], how="packed", initial_state=True, seed=2),
    dict(kind="lstm", impl="fused", input_size=3, hidden_size=2, num_layers=2, bidirectional=True,
         batch_first=True, bias=False, lengths=[2, 4, 1], how="lengths", initial_state=True, seed=3),
]


@pytest.mark.parametrize("cfg", EDGE_CASES, ids=lambda c: f"{c['kind']}-{c['impl']}-{c['how']}")
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
def test_edge_cases_equal_torch_nn(cfg, dtype):
    check_against_torch(cfg, dtype)


# While training, the reference computes the local derivatives of consecutive steps together,
# in chunks (see _recurrent_fast._CHUNK_BYTES); the sweep's short sequences fit in one. Chunks of 1 and 3 steps of a
# 7-step sequence put chunk boundaries inside, before and after each sequence's end.
CHUNK_CASES = [
    dict(kind=kind, impl="reference", input_size=2, hidden_size=3, num_layers=2, bidirectional=True,
         batch_first=False, bias=True, lengths=[7, 3, 5], how=how, initial_state=True, seed=4)
    for kind in sorted(KINDS) for how in ("full", "lengths", "packed")
]


@pytest.mark.parametrize("steps_per_chunk", [1, 3])
@pytest.mark.parametrize("cfg", CHUNK_CASES, ids=lambda c: f"{c['kind']}-{c['how']}")
def test_derivative_chunks_inside_the_sequence(cfg, steps_per_chunk, monkeypatch):
    gate_blocks = {"lstm": 4, "gru": 3}.get(cfg["kind"], 1)
    bytes_per_step = len(cfg["lengths"]) * gate_blocks * cfg["hidden_size"] * 8   # float64
    monkeypatch.setattr(_recurrent_fast, "_CHUNK_BYTES", steps_per_chunk * bytes_per_step)
    check_against_torch(cfg, torch.float64)


@pytest.mark.parametrize("cfg", EDGE_CASES + CHUNK_CASES,
                         ids=lambda c: f"{c['kind']}-{c['impl']}-{c['how']}-{c['lengths']}")
def test_plain_loop_without_autograd_equals_torch_nn(cfg):
    """Without autograd the reference runs the plain loop of rnnlab.layers (with autograd, the
    loop of rnnlab._recurrent_fast): outputs and final states equal torch.nn's."""
    cfg = dict(cfg, impl="reference")
    kind, how, lengths = cfg.pop("kind"), cfg.pop("how"), torch.tensor(cfg.pop("lengths"))
    initial_state, seed = cfg.pop("initial_state"), cfg.pop("seed")
    cfg.pop("impl")
    ours, theirs = pair(kind, "reference", torch.float64, seed, **cfg)
    B, T, D = len(lengths), int(lengths.max()), 2 if cfg["bidirectional"] else 1
    x = torch.randn((B, T, cfg["input_size"]) if cfg["batch_first"] else (T, B, cfg["input_size"]),
                    dtype=torch.float64)
    shape = (cfg["num_layers"] * D, B, cfg["hidden_size"])
    hx = tuple(torch.randn(shape, dtype=torch.float64) for _ in range(2 if kind == "lstm" else 1))
    hx = (hx if kind == "lstm" else hx[0]) if initial_state else None
    packed = pack_padded_sequence(x, lengths, cfg["batch_first"], enforce_sorted=False)
    with torch.no_grad():
        if how == "full":
            (got, got_n), (want, want_n) = ours(x, hx), theirs(x, hx)
        elif how == "packed":
            (got, got_n), (want, want_n) = ours(packed, hx), theirs(packed, hx)
            got, want = got.data, want.data
        else:
            got, got_n = ours(x, hx, lengths=lengths)
            want, want_n = theirs(packed, hx)
            want, _ = pad_packed_sequence(want, cfg["batch_first"], total_length=T)
    assert_same("output", got, want, torch.float64)
    for name, a, b in zip(("h_n", "c_n"), as_tuple(got_n), as_tuple(want_n)):
        assert_same(name, a, b, torch.float64)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_inference_and_an_output_changed_in_place(kind):
    """Without autograd the reference gives torch.nn's output. An output changed in place (a
    residual connection ``out += x``, say) back-propagates as the same change out of place."""
    ours, theirs = pair(kind, "reference", torch.float64, input_size=2, hidden_size=3)
    x = torch.randn(5, 2, 2, dtype=torch.float64)
    with torch.no_grad():
        assert_same("output", ours(x)[0], theirs(x)[0], torch.float64)
    x_ours, x_theirs = x.clone().requires_grad_(), x.clone().requires_grad_()
    out, _ = ours(x_ours)
    out.mul_(3)
    out.sum().backward()
    (3 * theirs(x_theirs)[0]).sum().backward()
    assert_same("grad input", x_ours.grad, x_theirs.grad, torch.float64)


@SWEEP
@given(configurations())
def test_layers_equal_torch_nn_float64(cfg):
    check_against_torch(cfg, torch.float64)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(configurations())
def test_layers_equal_torch_nn_float32(cfg):
    check_against_torch(cfg, torch.float32)


@pytest.mark.parametrize("impl", layers.IMPLS)
@pytest.mark.parametrize("kind", sorted(CELLS))
@pytest.mark.parametrize("batched", [True, False])
def test_cells_equal_torch_nn(kind, impl, batched):
    ours_cls, torch_cls, extra = CELLS[kind]
    torch.manual_seed(0)
    theirs = torch_cls(3, 5, **extra, dtype=torch.float64)
    torch.manual_seed(0)
    ours = ours_cls(3, 5, **extra, dtype=torch.float64, impl=impl)
    for a, b in zip(ours.state_dict().items(), theirs.state_dict().items()):
        assert a[0] == b[0] and torch.equal(a[1], b[1]), "same seed must give the same weights"
    x = torch.randn((4, 3) if batched else (3,), dtype=torch.float64)
    state_shape = (4, 5) if batched else (5,)
    for hx in (None, tuple(torch.randn(state_shape, dtype=torch.float64) for _ in range(2))):
        if hx is not None and kind != "lstm":
            hx = hx[0]
        outs = []
        for module in (ours, theirs):
            module.zero_grad()
            xi = x.clone().requires_grad_()
            out = as_tuple(module(xi, hx))
            sum((o * torch.arange(o.numel(), dtype=o.dtype).view_as(o).cos()).sum() for o in out).backward()
            outs.append((out, xi.grad, [p.grad for p in module.parameters()]))
        (o1, gx1, gp1), (o2, gx2, gp2) = outs
        for a, b in zip(o1 + (gx1,) + tuple(gp1), o2 + (gx2,) + tuple(gp2)):
            assert_same(kind, a, b, torch.float64)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_state_dict_round_trip_and_same_init(kind):
    kwargs = dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True)
    ours_cls, torch_cls, extra = KINDS[kind]
    torch.manual_seed(1)
    theirs = torch_cls(**kwargs, **extra)
    torch.manual_seed(1)
    ours = ours_cls(**kwargs, **extra)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert "weight_hh_l1_reverse" in ours.state_dict()
    for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        assert torch.equal(a, b), f"{name}: initialisation differs from torch.nn"
    # rnnlab -> torch.nn and back, through fresh modules
    fresh_torch = torch_cls(**kwargs, **extra)
    fresh_torch.load_state_dict(ours.state_dict())
    fresh_ours = ours_cls(**kwargs, **extra, impl="fused")
    fresh_ours.load_state_dict(fresh_torch.state_dict())
    x = torch.randn(5, 2, 3)
    want = theirs(x)[0]
    assert torch.allclose(fresh_torch(x)[0], want) and torch.allclose(fresh_ours(x)[0], want, atol=1e-6)


@pytest.mark.parametrize("impl", layers.IMPLS)
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_unbatched_input(kind, impl):
    ours, theirs = pair(kind, impl, torch.float64, input_size=2, hidden_size=3, num_layers=2,
                        bidirectional=True)
    x = torch.randn(4, 2, dtype=torch.float64)
    (o1, h1), (o2, h2) = ours(x), theirs(x)
    assert o1.shape == o2.shape == (4, 6)
    assert_same("output", o1, o2, torch.float64)
    for a, b in zip(as_tuple(h1), as_tuple(h2)):
        assert a.shape == (4, 3)
        assert_same("h_n", a, b, torch.float64)


@pytest.mark.parametrize("impl", layers.IMPLS)
def test_hidden_state_is_not_batch_first(impl):
    lstm = layers.LSTM(3, 5, num_layers=2, batch_first=True, impl=impl)
    out, (h, c) = lstm(torch.randn(7, 4, 3))                 # B=7, T=4
    assert out.shape == (7, 4, 5) and h.shape == c.shape == (2, 7, 5)
    with pytest.raises(RuntimeError, match="Expected hidden size"):
        lstm(torch.randn(7, 4, 3), (torch.zeros(7, 2, 5), torch.zeros(7, 2, 5)))


@pytest.mark.parametrize("impl", layers.IMPLS)
def test_dropout_between_layers(impl):
    """dropout=1 zeroes the second layer's input when training; eval mode ignores dropout."""
    gru = layers.GRU(3, 4, num_layers=2, dropout=1.0, impl=impl)
    second = layers.GRU(4, 4)
    second.weight_ih_l0.data, second.weight_hh_l0.data = gru.weight_ih_l1.data, gru.weight_hh_l1.data
    second.bias_ih_l0.data, second.bias_hh_l0.data = gru.bias_ih_l1.data, gru.bias_hh_l1.data
    x = torch.randn(5, 2, 3)
    out_train, _ = gru.train()(x)
    assert torch.allclose(out_train, second(torch.zeros(5, 2, 4))[0], atol=1e-6)
    eval_ref = nn.GRU(3, 4, num_layers=2)
    eval_ref.load_state_dict(gru.state_dict())
    assert torch.allclose(gru.eval()(x)[0], eval_ref(x)[0], atol=1e-6)


def test_lengths_give_zero_padding_and_per_sequence_final_state():
    rnn = layers.RNN(2, 3, bidirectional=True, batch_first=True)
    x = torch.randn(2, 5, 2)
    out, h = rnn(x, lengths=torch.tensor([5, 2]))
    assert out.shape == (2, 5, 6) and torch.all(out[1, 2:] == 0)
    alone, h_alone = rnn(x[1:, :2])                               # the short sequence on its own
    assert torch.allclose(out[1, :2], alone[0]) and torch.allclose(h[:, 1], h_alone[:, 0])


def test_bad_arguments():
    with pytest.raises(ValueError):
        layers.LSTM(2, 3, impl="fast")
    with pytest.raises(ValueError):
        layers.RNN(2, 3, nonlinearity="sigmoid")
    with pytest.raises(NotImplementedError):
        layers.LSTM(2, 3, proj_size=1)


@pytest.mark.gpu
@pytest.mark.parametrize("impl", layers.IMPLS)
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_gpu_equals_cudnn(kind, impl):
    """On a GPU both impls equal torch.nn (cuDNN) in float32, also with packed sequences."""
    ours, theirs = pair(kind, impl, torch.float32, input_size=8, hidden_size=16, num_layers=2,
                        bidirectional=True)
    ours, theirs = ours.cuda(), theirs.cuda()
    x = torch.randn(6, 3, 8, device="cuda")
    lengths = torch.tensor([6, 2, 4])
    for how in ("full", "packed", "lengths"):
        out_w = torch.randn(6 * 3 * 32, device="cuda")
        st_w = [torch.randn(4, 3, 16, device="cuda") for _ in range(2)]
        got = forward_backward(ours, x, None, lengths, how, False, out_w, st_w, ours=True)
        want = forward_backward(theirs, x, None, lengths, how, False, out_w, st_w, ours=False)
        # cuDNN's float32 GEMMs may use TF32-like reductions: allow a little more than on CPU
        for a, b in zip([got[0], *got[1], got[2], *got[4].values()],
                        [want[0], *want[1], want[2], *want[4].values()]):
            assert (a - b).abs().max() <= 1e-4 * max(b.abs().max().item(), 1.0)
        ours.zero_grad(), theirs.zero_grad()
