"""rnnlab.checks.framework.autograd_forbidden and switched_off. Inside autograd_forbidden every
way into autograd's backward pass (Tensor.backward, torch.autograd.grad, a grad imported
earlier, torch.func, functional jacobians, even after re-enabling grad mode) raises
AutogradForbidden with the given sentence, reported by call_student at the student's line;
inside switched_off the named library functions raise SwitchedOff; afterwards both work as
before."""

import pytest
import torch
from torch.autograd import grad as imported_grad

from rnnlab.checks.framework import AutogradForbidden, SwitchedOff, autograd_forbidden, call_student, switched_off


def square_sum(a):
    return (a ** 2).sum()


WAYS = {
    "Tensor.backward": lambda x: square_sum(x).backward(),
    "torch.autograd.grad": lambda x: torch.autograd.grad(square_sum(x), x),
    "torch.autograd.backward": lambda x: torch.autograd.backward(square_sum(x)),
    "grad imported before": lambda x: imported_grad(square_sum(x), x),
    "grad mode switched back on": lambda x: (torch.set_grad_enabled(True), imported_grad(square_sum(x), x)),
    "torch.func.grad": lambda x: torch.func.grad(square_sum)(x.detach()),
    "torch.func.vjp": lambda x: torch.func.vjp(torch.tanh, x.detach())[1](torch.ones(3)),
    "jacobian": lambda x: torch.autograd.functional.jacobian(torch.tanh, x.detach()),
}


@pytest.mark.parametrize("way", sorted(WAYS))
def test_every_way_into_the_backward_pass_is_refused_and_restored(way):
    x = torch.randn(3, requires_grad=True)
    with autograd_forbidden("derive it by hand"):
        with pytest.raises(AutogradForbidden, match="switched off here: derive it by hand"):
            WAYS[way](x)
    assert torch.is_grad_enabled()
    square_sum(x).backward()
    assert torch.equal(x.grad, 2 * x.detach())
    assert torch.equal(imported_grad(square_sum(x), x)[0], 2 * x.detach())


def test_the_refusal_is_shown_at_the_students_line():
    def students_backward(dh):
        h = torch.tanh(dh.clone().requires_grad_())
        h.sum().backward()
        return h

    with autograd_forbidden("this part is derived by hand"):
        got, problem = call_student(students_backward, (torch.ones(2),), 5.0)
    assert got is None
    assert "AutogradForbidden" in problem and "derived by hand" in problem
    assert "`h.sum().backward()`" in problem


def test_forward_computations_still_run_without_a_graph():
    w = torch.randn(3, 3, requires_grad=True)
    with autograd_forbidden("by hand"):
        out = torch.tanh(torch.ones(2, 3) @ w)
    assert not out.requires_grad and out.shape == (2, 3)


def test_switched_off_library_functions_raise_and_come_back():
    p = torch.nn.Parameter(torch.zeros(2))
    p.grad = torch.tensor([3.0, 4.0])
    with switched_off([(torch.nn.utils, "clip_grad_norm_"), (torch.nn.utils, "no_such_function")], "write it yourself"):
        with pytest.raises(SwitchedOff, match=r"torch\.nn\.utils\.clip_grad_norm_ is switched off here: write it yourself"):
            torch.nn.utils.clip_grad_norm_([p], 1.0)
    assert float(torch.nn.utils.clip_grad_norm_([p], 1.0)) == 5.0
