"""The checks of assignment 04 (rnnlab/checks/ch04_bptt.py): rnnlab's references pass every
case; the backward parts refuse autograd with a sentence saying they are derived by hand (the
probe as the grading sandbox runs it too); a wrong backward pass is located in time (how many
steps back from where the loss enters it goes wrong) and a transposed weight gradient is named
by its shape; every known mistake the checks replay is what they say it is (with no mistake it
is the reference) and is named when a student makes it; torch's clipping is switched off for
clip_grad_norm."""

import inspect
import re
import types

import pytest
import torch

from rnnlab import bptt, clipping, tbptt
from rnnlab.checks import REGISTRY, CheckFailed, check, sandbox_copy
from rnnlab.checks import ch04_bptt as ch04
from rnnlab.checks.plain import plain_inputs

REFERENCES = {"scalar_rnn_backward": bptt.scalar_rnn_backward, "rnn_step_backward": bptt.rnn_step_backward,
              "rnn_backward": bptt.rnn_backward, "numerical_gradient": bptt.numerical_gradient,
              "clip_grad_norm": clipping.clip_grad_norm, "train_truncated": tbptt.train_truncated,
              "gradient_norms": bptt.gradient_norms}


def test_every_part_has_a_check_and_the_references_pass_every_case(capsys):
    assert sorted(n for n in REGISTRY if n.startswith("04_bptt.")) == sorted(f"04_bptt.{p}" for p in REFERENCES)
    for part, reference in REFERENCES.items():
        for hidden in (False, True):
            check(f"04_bptt.{part}", reference, hidden=hidden)
            assert f"passed 04_bptt.{part}" in capsys.readouterr().out


def problems(part, fn, hidden=None):
    """The messages of the part's check on ``fn``, case by case (None where it passes)."""
    the_check = REGISTRY[f"04_bptt.{part}"]
    kinds = (False, True) if hidden is None else (hidden,)
    return [the_check.problem(fn, case) for kind in kinds for case in the_check.cases(kind)]


def first_problem(part, fn):
    return next(p for p in problems(part, fn) if p)


# -- by hand means by hand --------------------------------------------------------------------

def scalar_by_autograd(dy, cache):
    leaves = [cache[k].clone().requires_grad_() for k in ("u", "v", "w", "x")]
    y, _ = bptt.scalar_rnn_forward(leaves[3], leaves[0], leaves[2], leaves[1], cache["h0"])
    return torch.autograd.grad((y * dy).sum(), leaves)


def step_by_backward(dh_t, cache):
    x_t, h_prev, W_xh, W_hh, h_t = (t.clone().requires_grad_() for t in cache)
    torch.tanh(x_t @ W_xh + h_prev @ W_hh).backward(dh_t)
    return x_t.grad, h_prev.grad, W_xh.grad, W_hh.grad, h_t.grad.sum(0)


def rnn_by_functional_vjp(dh, cache):
    x, h0, W_xh, W_hh, h = cache
    return torch.func.vjp(lambda a, b, c, d: bptt.rnn_forward(a, b, c, d, torch.zeros(h.shape[-1],
                                                                                       dtype=h.dtype))[0],
                          x, h0, W_xh, W_hh)[1](dh) + (dh.sum((0, 1)),)


@pytest.mark.parametrize("part, fn", [("scalar_rnn_backward", scalar_by_autograd),
                                      ("rnn_step_backward", step_by_backward),
                                      ("rnn_backward", rnn_by_functional_vjp)])
def test_autograd_is_refused_in_the_backward_parts(part, fn):
    with pytest.raises(CheckFailed, match="switched off here: this part is derived by hand"):
        check(f"04_bptt.{part}", fn)


def test_autograd_works_again_after_a_refused_part():
    with pytest.raises(CheckFailed):
        check("04_bptt.rnn_backward", rnn_by_functional_vjp)
    w = torch.ones(2, requires_grad=True)
    (w * 3).sum().backward()
    assert torch.equal(w.grad, torch.full((2,), 3.0)) and torch.is_grad_enabled()


def test_torch_clipping_is_switched_off_in_clip_grad_norm():
    def calls_torch(parameters, max_norm):
        return torch.nn.utils.clip_grad_norm_(parameters, max_norm)

    assert "torch.nn.utils.clip_grad_norm_ is switched off here" in first_problem("clip_grad_norm", calls_torch)


# -- say where, in time ---------------------------------------------------------------------------

def carries_only_one_step(dh, cache):
    """Sends back to h_{t-1} only what step t's own upstream gradient gives (dh_t, not the total
    gradient of h_t): right one step back from the loss, wrong from two steps back."""
    x, h0, W_xh, W_hh, h = cache
    dtanh = 1 - h * h
    da = torch.empty_like(h)
    carried = torch.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
        da[:, t] = (dh[:, t] + carried) * dtanh[:, t]
        carried = (dh[:, t] * dtanh[:, t]) @ W_hh.T
    h_prev = torch.cat([h0[:, None], h[:, :-1]], 1)
    rows = da.flatten(0, 1)
    return da @ W_xh.T, carried, x.flatten(0, 1).T @ rows, h_prev.flatten(0, 1).T @ rows, rows.sum(0)


def test_a_recursion_right_for_one_step_is_located_two_steps_back():
    message = first_problem("rnn_backward", carries_only_one_step)
    assert ("with the upstream gradient only at the last step (dh[:, 3], zero elsewhere), your dx is right at "
            "dx[:, 3] to dx[:, 2] but wrong 2 steps earlier, at dx[:, 1]") in message.lower()


def test_the_missing_recurrent_term_is_located_one_step_back_and_named():
    message = first_problem("rnn_backward", lambda dh, cache: ch04.rnn_backward_with(dh, cache, "no_recurrence"))
    assert "your dx is right at dx[:, 3] but wrong one step earlier, at dx[:, 2]" in message
    assert "da_{t+1} @ W_hh.T" in message and "matches BPTT without the recurrent term" in message


def test_upstream_gradients_of_earlier_steps_ignored_are_found_with_the_loss_at_one_earlier_step():
    message = first_problem("rnn_backward", lambda dh, cache: ch04.rnn_backward_with(dh, cache, "upstream_only_last"))
    assert ("right with the upstream gradient only at the last step (dh[:, 3], zero elsewhere), but not only at "
            "step 2 (dh[:, 2], zero elsewhere)") in message


def test_a_weight_gradient_right_for_one_term_is_said_to_be_a_sum_over_steps():
    def w_overwritten(dh, cache):
        """dW_hh assigned at every step instead of accumulated: the first step's term is left."""
        x, h0, W_xh, W_hh, h = cache
        dx, dW_xh, db = torch.zeros_like(x), torch.zeros_like(W_xh), torch.zeros_like(h[0, 0])
        carried = torch.zeros_like(h0)
        for t in reversed(range(x.shape[1])):
            da = (dh[:, t] + carried) * (1 - h[:, t] ** 2)
            dx[:, t], dW_xh, db = da @ W_xh.T, dW_xh + x[:, t].T @ da, db + da.sum(0)
            dW_hh = (h[:, t - 1] if t else h0).T @ da
            carried = da @ W_hh.T
        return dx, carried, dW_xh, dW_hh, db

    message = first_problem("rnn_backward", w_overwritten)
    assert "Your dW_hh is right with the upstream gradient only at the first step" in message
    assert "a sum over all the steps" in message


def test_a_transposed_weight_gradient_is_named_by_its_shape():
    message = first_problem("rnn_backward", lambda dh, cache: ch04.rnn_backward_with(dh, cache, "transposed_weights"))
    assert "dW_xh has shape (5, 3), expected (I=3, H=5): that is the shape of W_xh^T" in message


def test_swapped_outputs_are_named_by_the_shape_they_have():
    def swapped(dh_t, cache):
        dx, dh_prev, dW_xh, dW_hh, db = bptt.rnn_step_backward(dh_t, cache)
        return dh_prev, dx, dW_xh, dW_hh, db

    assert "dx has shape (2, 4), expected (B=2, I=3): that is the shape of dh_prev" in first_problem(
        "rnn_step_backward", swapped)


def test_float32_buffers_are_named():
    def float32(dh, cache):
        return tuple(g.float() for g in bptt.rnn_backward(dh, cache))

    assert "dx has dtype torch.float32, expected torch.float64" in first_problem("rnn_backward", float32)


# -- every replayed mistake is the mistake it names ---------------------------------------------

def test_the_replays_without_a_mistake_are_the_references():
    for case in REGISTRY["04_bptt.scalar_rnn_backward"].cases(True):
        assert ch04._close(ch04.scalar_backward_with(*case.args), bptt.scalar_rnn_backward(*case.args), 1e-12, 1e-14)
    for case in REGISTRY["04_bptt.rnn_step_backward"].cases(True):
        assert ch04._close(ch04.step_backward_with(*case.args), bptt.rnn_step_backward(*case.args), 1e-12, 1e-14)
    for case in REGISTRY["04_bptt.rnn_backward"].cases(True):
        assert ch04._close(ch04.rnn_backward_with(*case.args), bptt.rnn_backward(*case.args), 1e-12, 1e-14)
    for case in REGISTRY["04_bptt.numerical_gradient"].cases(True):
        spec, x, eps, reads_argument, _ = case.args
        moved = x.clone()
        expected = bptt.numerical_gradient(lambda v: ch04.objective(spec, v if reads_argument else moved), moved,
                                           eps or 1e-6)
        assert ch04._close(ch04.centred_with(spec, x, eps or 1e-6, reads_argument), expected, 1e-9, 1e-10)
    for case in REGISTRY["04_bptt.clip_grad_norm"].cases(True):
        values, grads, max_norm = case.args
        params = ch04._parameters(values, grads)
        norm = float(clipping.clip_grad_norm(params, max_norm))
        replay_norm, replay_grads = ch04.clipped_with(values, grads, max_norm)
        assert replay_norm == pytest.approx(norm, rel=1e-6)
        assert ch04._close(replay_grads, [p.grad for p in params], 1e-5, 1e-7)
    for case in REGISTRY["04_bptt.train_truncated"].cases(True):
        weights, sizes, stream, k, lr, _ = case.args
        runs = []
        for train in (tbptt.train_truncated, ch04.truncated_with):
            model, seen = ch04.tiny_lm(weights, sizes), []
            losses = train(model, stream, k, torch.optim.SGD(model.parameters(), lr=lr), ch04.recorder(seen))
            runs.append((losses, [grads for grads, _ in seen]))
        assert runs[0][0] == pytest.approx(runs[1][0], rel=1e-12)
        assert ch04._close(runs[0][1], runs[1][1], 1e-10, 1e-13)


def named_on_some_case(part, fn, text):
    """Whether the part's check names ``text`` on some case of ``fn`` (cases tried in order,
    visible first, until one does)."""
    the_check = REGISTRY[f"04_bptt.{part}"]
    return any(text in (the_check.problem(fn, case) or "")
               for hidden in (False, True) for case in the_check.cases(hidden))


@pytest.mark.parametrize("key", sorted(ch04.SCALAR["mistakes"]))
def test_every_scalar_mistake_is_named(key):
    assert named_on_some_case("scalar_rnn_backward", lambda dy, cache: ch04.scalar_backward_with(dy, cache, key),
                              ch04.SCALAR["mistakes"][key])


@pytest.mark.parametrize("key", sorted(ch04.STEP["mistakes"]))
def test_every_step_mistake_is_named(key):
    assert named_on_some_case("rnn_step_backward", lambda dh, cache: ch04.step_backward_with(dh, cache, key),
                              ch04.STEP["mistakes"][key])


@pytest.mark.parametrize("key", sorted(ch04.RNN["mistakes"]))
def test_every_rnn_mistake_is_named(key):
    assert named_on_some_case("rnn_backward", lambda dh, cache: ch04.rnn_backward_with(dh, cache, key),
                              ch04.RNN["mistakes"][key])


@pytest.mark.parametrize("key", sorted(ch04.NORMS_MISTAKES))
def test_every_gradient_norms_mistake_is_named(key):
    assert named_on_some_case("gradient_norms", lambda loss, states: ch04.norms_with(loss, states, key),
                              ch04.NORMS_MISTAKES[key])


@pytest.mark.parametrize("key", sorted(ch04.CLIP_GRAD_MISTAKES))
def test_every_clipping_mistake_is_named(key):
    def student(parameters, max_norm):
        params = list(parameters)
        values = [p.detach().clone() for p in params]
        norm, clipped = ch04.clipped_with(values, [p.grad for p in params], max_norm, key)
        for p, g in zip(params, clipped):
            p.grad = g
        return norm

    assert named_on_some_case("clip_grad_norm", student, ch04.CLIP_GRAD_MISTAKES[key])


@pytest.mark.parametrize("key", sorted(ch04.TRUNCATED_MISTAKES))
def test_every_truncated_bptt_mistake_is_named(key):
    def student(model, stream, k, optimizer, before_step=None):
        return ch04.truncated_with(model, stream, k, optimizer, before_step or (lambda m: None), key)

    assert named_on_some_case("train_truncated", student, ch04.TRUNCATED_MISTAKES[key])


def test_numerical_mistakes_are_named_and_the_checker_flags_the_wrong_analytic_gradient():
    def one_sided(f, x, eps=1e-6):
        """(f(x + eps e_i) - f(x)) / eps for every i, x moved in place and put back."""
        base, flat = float(f(x)), x.view(-1)
        quotients = []
        for i, original in enumerate(flat.tolist()):
            flat[i] += eps
            quotients.append((float(f(x)) - base) / eps)
            flat[i] = original
        return torch.tensor(quotients, dtype=x.dtype).view(x.shape)

    messages = [p for p in problems("numerical_gradient", one_sided) if p]
    assert all(ch04.NUMERICAL_MISTAKES["forward"] in m for m in messages)
    assert "evaluated f 13 times for the 12 elements of x" in messages[0]
    rnn = next(m for m in messages if "analytic dW_hh" in m)
    right, wrong = (float(e) for e in re.findall(r"relative error ([0-9.e+-]+) \(it must be below 1e-7\) and a "
                                                  r"deliberately wrong one \(BPTT without the recurrent term\) "
                                                  r"([0-9.e+-]+)", rnn)[0])
    assert right > 1e-7 and wrong > 1e-2


def test_a_checker_that_perturbs_a_copy_is_told_f_reads_x_from_elsewhere():
    def on_a_copy(f, x, eps=1e-6):
        """Centred differences of f at the new tensors x +- eps e_i: x itself never moves."""
        steps = [eps * e.view(x.shape) for e in torch.eye(x.numel(), dtype=x.dtype)]
        return torch.tensor([(float(f(x + s)) - float(f(x - s))) / (2 * eps) for s in steps],
                            dtype=x.dtype).view(x.shape)

    assert problems("numerical_gradient", on_a_copy, hidden=False) == [None, None]
    assert named_on_some_case("numerical_gradient", on_a_copy, ch04.NUMERICAL_MISTAKES["copy_perturbed"])


def test_the_checks_leave_the_global_random_state_alone():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    check("04_bptt.train_truncated", tbptt.train_truncated)
    assert torch.equal(torch.random.get_rng_state(), before)


def test_the_probe_as_the_grading_sandbox_has_it_refuses_autograd_too():
    """The probe, from the reduced copy of this checks module that the sandbox runs, refuses
    autograd with the same sentence."""
    module = types.ModuleType("rnnlab.checks._ch04_as_sandboxed")
    module.__package__ = "rnnlab.checks"
    exec(compile(sandbox_copy(inspect.getsource(ch04)), "<sandbox copy>", "exec"), module.__dict__)
    case = REGISTRY["04_bptt.rnn_backward"].cases(False)[0]
    result = module._probe_by_hand(rnn_by_functional_vjp, plain_inputs(case.args), 10.0)
    assert "switched off here: this part is derived by hand" in result["error"]
