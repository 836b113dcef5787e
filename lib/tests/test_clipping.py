"""rnnlab.clipping.clip_grad_norm equals torch.nn.utils.clip_grad_norm_: the same returned norm
and the same gradients afterwards, above and below the threshold, with parameters without a
gradient, one or several parameters, a single tensor, no gradient at all and a NaN."""

import math

import pytest
import torch
from torch.testing import assert_close

from rnnlab.clipping import clip_grad_norm


def parameters_with_grads(shapes, scale, seed, without_grad=()):
    """Two identical lists of parameters with random gradients of about ``scale`` per entry."""
    g = torch.Generator().manual_seed(seed)
    ours, theirs = [], []
    for i, shape in enumerate(shapes):
        value = torch.randn(shape, generator=g)
        grad = torch.randn(shape, generator=g) * scale
        pair = [torch.nn.Parameter(value.clone()), torch.nn.Parameter(value.clone())]
        if i not in without_grad:
            for p in pair:
                p.grad = grad.clone()
        ours.append(pair[0])
        theirs.append(pair[1])
    return ours, theirs


CASES = {
    "one parameter above": ([(5, 3)], 10.0, ()),
    "one parameter below": ([(5, 3)], 0.005, ()),
    "several above": ([(4, 3), (3, 3), (3,), (2, 1, 2)], 3.0, ()),
    "several below": ([(4, 3), (3, 3), (3,), (2, 1, 2)], 0.005, ()),
    "one without grad": ([(4, 3), (3, 3), (3,)], 3.0, (1,)),
    "only one with grad": ([(4, 3), (3, 3), (3,)], 3.0, (0, 2)),
    "a 0-d parameter": ([(), (6,)], 2.0, ()),
}


@pytest.mark.parametrize("max_norm", [0.25, 1.0, 5.0])
@pytest.mark.parametrize("case", sorted(CASES))
def test_equals_torch_clip_grad_norm(case, max_norm):
    shapes, scale, without_grad = CASES[case]
    ours, theirs = parameters_with_grads(shapes, scale, seed=len(case), without_grad=without_grad)
    before = [None if p.grad is None else p.grad.clone() for p in ours]
    got = clip_grad_norm(iter(ours), max_norm)                  # any iterable, as model.parameters()
    want = torch.nn.utils.clip_grad_norm_(theirs, max_norm)
    assert isinstance(got, torch.Tensor) and got.dim() == 0 and got.dtype == want.dtype
    assert_close(got, want)
    assert (want > max_norm) == ("below" not in case)          # both sides of the threshold
    for p, q, b in zip(ours, theirs, before):
        if b is None:
            assert p.grad is None and q.grad is None
            continue
        assert_close(p.grad, q.grad)
        if want <= max_norm:
            assert torch.equal(p.grad, b)                        # below the threshold: untouched
    if want > max_norm:
        clipped = torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in ours if p.grad is not None]))
        assert clipped == pytest.approx(max_norm, rel=1e-5)


def test_clipping_keeps_the_direction():
    ours, _ = parameters_with_grads([(3, 3), (3,)], 10.0, seed=1)
    flat_before = torch.cat([p.grad.flatten() for p in ours]).clone()
    clip_grad_norm(ours, 1.0)
    flat_after = torch.cat([p.grad.flatten() for p in ours])
    assert torch.nn.functional.cosine_similarity(flat_before, flat_after, dim=0) == pytest.approx(1.0)


def test_returns_the_norm_before_clipping_and_works_on_one_tensor():
    p = torch.nn.Parameter(torch.zeros(2))
    p.grad = torch.tensor([3.0, 4.0])
    norm = clip_grad_norm(p, 1.0)
    assert norm.item() == pytest.approx(5.0)
    assert_close(p.grad, torch.tensor([3.0, 4.0]) / (5.0 + 1e-6))


def test_no_gradients_at_all():
    params = [torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(2))]
    got = clip_grad_norm(params, 1.0)
    assert_close(got, torch.nn.utils.clip_grad_norm_(params, 1.0))
    assert got.item() == 0.0 and all(p.grad is None for p in params)


def test_a_nan_gradient_spreads_as_in_torch():
    ours, theirs = parameters_with_grads([(2, 2), (3,)], 1.0, seed=2)
    for p in (ours[0], theirs[0]):
        p.grad[0, 0] = float("nan")
    got, want = clip_grad_norm(ours, 1.0), torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert math.isnan(got) and math.isnan(want)
    for p, q in zip(ours, theirs):
        assert torch.isnan(p.grad).all() and torch.isnan(q.grad).all()


def test_float64_and_a_model():
    torch.manual_seed(0)
    model = torch.nn.RNN(3, 4, dtype=torch.float64)
    twin = torch.nn.RNN(3, 4, dtype=torch.float64)
    twin.load_state_dict(model.state_dict())
    x = torch.randn(5, 2, 3, dtype=torch.float64) * 10
    for m in (model, twin):
        m(x)[0].sum().backward()
    assert_close(clip_grad_norm(model.parameters(), 0.5),
                 torch.nn.utils.clip_grad_norm_(twin.parameters(), 0.5))
    for p, q in zip(model.parameters(), twin.parameters()):
        assert_close(p.grad, q.grad)
