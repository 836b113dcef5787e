r"""The fast machinery behind ``rnnlab.layers`` (private): what makes the reference fast, and
the fused path.

``rnnlab.layers`` is the model answer: cells and a plain time loop, one equation per line.
This module computes the same equations over the same parameters, faster:

- ``run_direction``: one layer and one direction of ``impl="reference"`` while autograd
  records. The input projection of all time steps is one GEMM; the time loop is a
  ``torch.autograd.Function`` (``TimeLoop``) whose forward records no autograd graph, only a
  cache per step, and whose backward is backpropagation through time by hand, one
  ``_*_backward_step`` per step; the gradient of ``W_hh`` is one GEMM over all steps and that of
  ``b_hh`` one sum, where autograd would do T small GEMMs and T additions. Autograd still
  handles everything outside the loop (W_ih, b_ih, dropout). The hand-written backward is not
  itself differentiable: double backward through the layers raises an error (the cells, which
  run the plain equations of ``rnnlab.layers``, support it).
- nothing is stacked: the states of all steps live in one buffer (T+1, B, H), which each step
  writes into (``out=``) and the backward reads h_{t-1} from; the gradients of all steps'
  pre-activations likewise. The loops walk ``unbind(0)`` views (indexing ``x[t]`` under
  autograd would add a zero-filled gradient of the whole sequence at every step, quadratic in
  T). The reverse direction is the same loop over the time-reversed sequence;
- the local derivatives of each step (``_*_local_derivatives``: gate derivatives such as
  :math:`\sigma(1-\sigma)`, which do not depend on the loss) are computed for a chunk of
  consecutive steps in one call, on the caches of the chunk (a buffer reused chunk after
  chunk, ``_CHUNK_BYTES``), so that each backward step does only a few operations;
- fewer, larger operations per step: the LSTM takes the sigmoid of all four gate blocks in one
  call and tanh of a contiguous copy of the candidate block (torch's tanh is much faster on
  contiguous memory); the GRU takes one sigmoid for r and z; RNN and LSTM fold ``b_hh`` into
  the input projection.
- ``fused_layer``, ``fused_cell`` and ``flatten_parameters``: ``impl="fused"``, torch's own
  kernels (``torch._VF.lstm`` and friends: cuDNN on GPU, oneDNN or ATen on CPU) called with the
  same weights, which cuDNN wants in one contiguous buffer.

The tests compare both paths with ``torch.nn`` (values and every gradient, float32 and float64).
"""

from __future__ import annotations

from itertools import cycle, islice, repeat

import torch
import torch.nn.functional as F
from torch import Tensor, _VF, nn
from torch.autograd.function import once_differentiable
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence


# ---------------------------------------------------------------------------------------------
# One time step of each cell: forward, local derivatives, backward. ``gx`` is the input half of
# the pre-activation, ``gx = x_t W_ih^T + b_ih`` of shape (B, G*H), computed for all steps at
# once. ``w_hh_T`` is W_hh transposed, (H, G*H). ``b_hh`` is None when the caller has already
# folded it into ``gx``.
#
# - ``_*_forward_step(gx, state, w_hh_T, b_hh, out)`` returns the new state and a *cache*: the
#   activations that the derivatives need besides the old and new states. It runs without
#   autograd. ``out`` is None (new tensors), or the tensors to write the new state and the
#   cache into, in that order (``None`` for any that should be new): the time loop passes
#   slots of buffers that hold every step, so that no step's results are ever copied.
# - ``_*_local_derivatives(cache, prev, new)`` turns a cache and the old and new states into the
#   step's *local* partial derivatives: of the new state with respect to the step's
#   pre-activations and old state. They do not depend on the loss and are elementwise, so the
#   time loop computes them for many steps in one call, on caches and states stacked over time
#   (any leading shape works). They return tensors of their own, never views of the cache.
# - ``_*_backward_step(d_state, local, w_hh, out)`` is one step of backpropagation through time,
#   the chain rule with those derivatives: from the gradient of the new state to the gradients
#   of the old state, of ``gx`` and of the recurrent half ``h_{t-1} W_hh^T + b_hh`` (the same
#   as that of ``gx`` except in the GRU). ``w_hh`` is W_hh itself, (G*H, H). ``out`` is None
#   or the tensors for the gradients of gx and of the recurrent half.
# ---------------------------------------------------------------------------------------------


def _add_recurrent(gx: Tensor, h: Tensor, w_hh_T: Tensor, b_hh: Tensor | None) -> Tensor:
    """gx + h W_hh^T + b_hh in one GEMM (``addmm``); shapes (B, G), (B, H), (H, G), (G,)."""
    if b_hh is not None:
        gx = gx + b_hh
    return torch.addmm(gx, h, w_hh_T)


def _rnn_tanh_forward_step(gx: Tensor, h: Tensor, w_hh_T: Tensor, b_hh: Tensor | None = None, out=None):
    r"""Elman step :math:`h_t = \tanh(a_t)`, with the pre-activation
    :math:`a_t = x_t W_{ih}^T + b_{ih} + h_{t-1} W_{hh}^T + b_{hh}`.

    gx (B, H), h (B, H), w_hh_T (H, H), b_hh (H,) or None, out None or (h_t,) -> h_t (B, H),
    cache () (the derivative needs only h_t)."""
    (o_h,) = out or (None,)
    h = torch.tanh(_add_recurrent(gx, h, w_hh_T, b_hh), out=o_h)
    return h, ()


def _rnn_tanh_local_derivatives(cache: tuple, prev: tuple, new: tuple) -> tuple[Tensor]:
    r""":math:`\partial h_t / \partial a_t = 1 - h_t^2` (elementwise)."""
    (h,) = new
    return (1 - h * h,)


def _rnn_relu_forward_step(gx: Tensor, h: Tensor, w_hh_T: Tensor, b_hh: Tensor | None = None, out=None):
    r"""Elman step with ReLU, :math:`h_t = \max(0, a_t)`; returns h_t, cache ()."""
    (o_h,) = out or (None,)
    a = _add_recurrent(gx, h, w_hh_T, b_hh)
    h = torch.relu(a) if o_h is None else torch.clamp(a, min=0, out=o_h)   # (relu has no out)
    return h, ()


def _rnn_relu_local_derivatives(cache: tuple, prev: tuple, new: tuple) -> tuple[Tensor]:
    r""":math:`\partial h_t / \partial a_t = [h_t > 0]` (0 or 1)."""
    (h,) = new
    return ((h > 0).to(h.dtype),)


def _elman_backward_step(d_h: Tensor, local: tuple, w_hh: Tensor, out=None):
    r"""Back through either Elman step: :math:`\bar a_t = \bar h_t \odot \partial h_t/\partial a_t`,
    :math:`\bar h_{t-1} = \bar a_t W_{hh}`. Returns (d h_{t-1}, d a_t, d a_t)."""
    (dh_da,) = local
    o_da, _ = out or (None, None)
    d_a = torch.mul(d_h, dh_da, out=o_da)            # through tanh (or ReLU)
    return torch.mm(d_a, w_hh), d_a, d_a


def _lstm_forward_step(gx: Tensor, state: tuple[Tensor, Tensor], w_hh_T: Tensor,
              b_hh: Tensor | None = None, out=None):
    r"""LSTM step, gates in torch's order i, f, g, o:

    .. math::
        \begin{array}{ll}
        i_t = \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}) \\
        f_t = \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}) \\
        g_t = \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) \\
        o_t = \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}) \\
        c_t = f_t \odot c_{t-1} + i_t \odot g_t \\
        h_t = o_t \odot \tanh(c_t)
        \end{array}

    gx (B, 4H), state = (h, c) each (B, H), w_hh_T (H, 4H), b_hh (4H,) or None, out None or
    (h_t, c_t, sig, g, tanh_c) -> (h_t, c_t), cache (sig: the sigmoid of all four
    pre-activations, of which i, f, o are used, (B, 4H); g_t; tanh(c_t))."""
    h, c_prev = state
    o_h, o_c, o_sig, o_g, o_tanh_c = out or (None,) * 5
    H = h.shape[-1]
    gates = _add_recurrent(gx, h, w_hh_T, b_hh)      # all four pre-activations, (B, 4H)
    sig = torch.sigmoid(gates, out=o_sig)            # one call for the three sigmoid gates:
    i, f, _, o = sig.chunk(4, 1)                     # input, forget, output (g's block unused)
    g = torch.tanh(gates[:, 2 * H:3 * H].contiguous(), out=o_g)   # candidate (faster contiguous)
    c = torch.addcmul(f * c_prev, i, g, out=o_c)     # c_t = f * c_{t-1} + i * g
    tanh_c = torch.tanh(c, out=o_tanh_c)
    h = torch.mul(o, tanh_c, out=o_h)                # h_t = o * tanh(c_t)
    return (h, c), (sig, g, tanh_c)


def _lstm_local_derivatives(cache: tuple, prev: tuple, new: tuple) -> tuple[Tensor, Tensor, Tensor]:
    r"""The local derivatives of :func:`_lstm_forward_step`, with :math:`a^i, a^f, a^g, a^o`
    the four pre-activations, :math:`\sigma' = \sigma (1 - \sigma)` and :math:`\tanh' = 1 - \tanh^2`:

    .. math::
        \begin{array}{ll}
        \partial c_t / \partial a^i = g_t \, i_t (1 - i_t), \quad
        \partial c_t / \partial a^f = c_{t-1} \, f_t (1 - f_t), \quad
        \partial c_t / \partial a^g = i_t (1 - g_t^2) \\
        \partial h_t / \partial a^o = \tanh(c_t) \, o_t (1 - o_t), \quad
        \partial h_t / \partial c_t = o_t (1 - \tanh^2(c_t)), \quad
        \partial c_t / \partial c_{t-1} = f_t
        \end{array}

    Returns (the first four as one (..., 4H) tensor in gate order, dh_t/dc_t, f_t)."""
    sig, g, tanh_c = cache
    c_prev = prev[1]
    i, f, _, o = sig.chunk(4, -1)
    d_gates = torch.addcmul(sig, sig, sig, value=-1)   # sigma (1 - sigma) of every block, then
    di, df, dg, do = d_gates.chunk(4, -1)            # in place, block by block (no copies):
    di.mul_(g)                                       # g_t i_t (1 - i_t)
    df.mul_(c_prev)                                  # c_{t-1} f_t (1 - f_t)
    torch.addcmul(i, i * g, g, value=-1, out=dg)     # i_t (1 - g_t^2)
    do.mul_(tanh_c)                                  # tanh(c_t) o_t (1 - o_t)
    dh_dc = torch.addcmul(o, o * tanh_c, tanh_c, value=-1)       # o_t (1 - tanh^2(c_t))
    return d_gates, dh_dc, f.clone()


def _lstm_backward_step(d_state: tuple[Tensor, Tensor], local: tuple, w_hh: Tensor, out=None):
    r"""Back through :func:`_lstm_forward_step`, from the gradients :math:`\bar h_t, \bar c_t`
    of the new state (:math:`\bar c_t` so far only what came back from step t+1):

    .. math::
        \begin{array}{ll}
        \bar c_t \mathrel{+}= \bar h_t \odot \partial h_t / \partial c_t \\
        \bar a_t = [\bar c_t, \bar c_t, \bar c_t, \bar h_t] \odot
            [\partial c_t/\partial a^i, \partial c_t/\partial a^f, \partial c_t/\partial a^g,
             \partial h_t/\partial a^o] \\
        \bar h_{t-1} = \bar a_t W_{hh}, \quad \bar c_{t-1} = \bar c_t \odot f_t
        \end{array}

    Returns ((d h_{t-1}, d c_{t-1}), d a_t, d a_t), a_t the four pre-activations (B, 4H)."""
    d_h, d_c = d_state
    d_gates, dh_dc, f = local
    o_da, _ = out or (None, None)
    d_c = torch.addcmul(d_c, d_h, dh_dc)             # c_t reaches the loss also through h_t
    d_a = torch.mul(torch.cat([d_c, d_c, d_c, d_h], 1), d_gates, out=o_da)   # i, f, g: c_t; o: h_t
    return (torch.mm(d_a, w_hh), d_c * f), d_a, d_a


def _gru_forward_step(gx: Tensor, h: Tensor, w_hh_T: Tensor, b_hh: Tensor | None = None, out=None):
    r"""GRU step, gates in torch's order r, z, n:

    .. math::
        \begin{array}{ll}
        r_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \\
        z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\
        n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})) \\
        h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}
        \end{array}

    The reset gate multiplies the *hidden* half of n's pre-activation, bias included, so
    ``b_hh`` cannot be folded into ``gx``. gx (B, 3H), h (B, H), w_hh_T (H, 3H), b_hh (3H,) or
    None, out None or (h_t, rz, n, gh) -> h_t (B, H), cache ((r_t, z_t) as one (B, 2H) tensor,
    n_t, the recurrent half gh = h_{t-1} W_hh^T + b_hh (B, 3H))."""
    o_h, o_rz, o_n, o_gh = out or (None,) * 4
    H = h.shape[-1]
    gh = (torch.mm(h, w_hh_T, out=o_gh) if b_hh is None           # (B, 3H)
          else torch.addmm(b_hh, h, w_hh_T, out=o_gh))
    rz = torch.add(gx[:, :2 * H], gh[:, :2 * H], out=o_rz).sigmoid_()   # r and z together
    r, z = rz.chunk(2, 1)
    h_n = gh[:, 2 * H:]                              # W_hn h_{t-1} + b_hn
    n = torch.tanh(torch.addcmul(gx[:, 2 * H:], r, h_n), out=o_n)   # n_t = tanh(x_n + r * h_n)
    h_new = torch.lerp(n, h, z, out=o_h)             # h_t = (1 - z) * n + z * h_{t-1}
    return h_new, (rz, n, gh)


def _gru_local_derivatives(cache: tuple, prev: tuple, new: tuple) -> tuple[Tensor, Tensor, Tensor]:
    r"""The local derivatives of :func:`_gru_forward_step`, with :math:`a^r, a^z, a^n` the
    pre-activations of r, z, n and :math:`h^n_t = W_{hn} h_{t-1} + b_{hn}`:

    .. math::
        \begin{array}{ll}
        \partial h_t / \partial a^n = (1 - z_t)(1 - n_t^2), \quad
        \partial h_t / \partial h^n_t = \partial h_t / \partial a^n \; r_t \\
        \partial h_t / \partial a^r = \partial h_t / \partial a^n \; h^n_t \, r_t (1 - r_t), \quad
        \partial h_t / \partial a^z = (h_{t-1} - n_t) \, z_t (1 - z_t) \\
        \partial h_t / \partial h_{t-1} = z_t \text{ (and through } W_{hh})
        \end{array}

    Returns (those for gx's blocks r, z, n as one (..., 3H) tensor, those for the recurrent
    blocks r, z, h^n likewise, z_t)."""
    rz, n, gh = cache
    h_prev = prev[0]
    H = n.shape[-1]
    r, z = rz.chunk(2, -1)
    h_n = gh[..., 2 * H:]                            # W_hn h_{t-1} + b_hn
    dh_dgx = n.new_empty(*n.shape[:-1], 3 * H)       # both written block by block
    dh_dgh = torch.empty_like(dh_dgx)
    dh_dar, dh_daz, dh_dan = dh_dgx.chunk(3, -1)
    dh_dn = 1 - z                                    # h_t = n_t + z_t (h_{t-1} - n_t)
    torch.addcmul(dh_dn, dh_dn * n, n, value=-1, out=dh_dan)   # (1 - z_t)(1 - n_t^2)
    dh_dhn = torch.mul(dh_dan, r, out=dh_dgh[..., 2 * H:])     # a^n = x_n + r_t h^n_t
    dh_dr = dh_dhn * h_n                             # (dh_t / da^n) h^n_t r_t ...
    torch.addcmul(dh_dr, dh_dr, r, value=-1, out=dh_dar)    # ... (1 - r_t)
    dz = torch.addcmul(z, z, z, value=-1)            # z_t (1 - z_t)
    torch.mul(h_prev - n, dz, out=dh_daz)            # (h_{t-1} - n_t) z_t (1 - z_t)
    dh_dgh[..., :2 * H] = dh_dgx[..., :2 * H]        # r and z: the same for gx and gh
    return dh_dgx, dh_dgh, z.clone()


def _gru_backward_step(d_h: Tensor, local: tuple, w_hh: Tensor, out=None):
    r"""Back through :func:`_gru_forward_step`, from the gradient :math:`\bar h_t` of the new state:

    .. math::
        \bar g^x_t = [\bar h_t, \bar h_t, \bar h_t] \odot \partial h_t / \partial (a^r, a^z, a^n),
        \quad \bar g^h_t = [\bar h_t, \bar h_t, \bar h_t] \odot
        \partial h_t / \partial (a^r, a^z, h^n), \quad
        \bar h_{t-1} = \bar h_t \odot z_t + \bar g^h_t W_{hh}

    Returns (d h_{t-1}, d gx (B, 3H), d gh (B, 3H))."""
    dh_dgx, dh_dgh, z = local
    o_dgx, o_dgh = out or (None, None)
    d_h3 = torch.cat([d_h, d_h, d_h], 1)             # one copy per gate block
    d_gh = torch.mul(d_h3, dh_dgh, out=o_dgh)        # gradient of h_{t-1} W_hh^T + b_hh
    return torch.addmm(d_h * z, d_gh, w_hh), torch.mul(d_h3, dh_dgx, out=o_dgx), d_gh


# How each mode steps forward and back, and how wide (in units of H) each tensor of its cache is.
_STEP = {"RNN_TANH": _rnn_tanh_forward_step, "RNN_RELU": _rnn_relu_forward_step,
         "LSTM": _lstm_forward_step, "GRU": _gru_forward_step}
_DERIVATIVES = {"RNN_TANH": _rnn_tanh_local_derivatives, "RNN_RELU": _rnn_relu_local_derivatives,
                "LSTM": _lstm_local_derivatives, "GRU": _gru_local_derivatives}
_STEP_BACKWARD = {"RNN_TANH": _elman_backward_step, "RNN_RELU": _elman_backward_step,
                  "LSTM": _lstm_backward_step, "GRU": _gru_backward_step}
_CACHE_WIDTHS = {"RNN_TANH": (), "RNN_RELU": (), "LSTM": (4, 1, 1), "GRU": (2, 1, 3)}


# The layers compute the local derivatives of consecutive steps together, on the caches of a
# chunk of steps of about this many bytes per (B, G*H) tensor: few calls when the steps are
# small, and temporaries that stay in the CPU's cache when they are large.
_CHUNK_BYTES = 1 << 21


class TimeLoop(torch.autograd.Function):
    r"""One layer and one direction of the reference: the time loop over a forward step
    function, and backpropagation through time written by hand with the backward step.

    ``TimeLoop.apply(mode, active, grad, gx, w_hh, b_hh, *state)``: gx (T, B, G*H) the input
    half of every pre-activation (autograd differentiates how it was computed: W_ih, b_ih and
    the input), w_hh (G*H, H), b_hh (G*H,) or None when folded into gx, active (T, B, 1) bool
    or None, grad whether autograd records (``torch.is_grad_enabled()``), state the initial
    (h,) or (h, c). Returns the output (T, B, H), zero where not active, and the final state.
    (The reverse direction of a layer is this loop over the time-reversed sequence.)

    Why not autograd: it would record a node for every operation of every step, and compute
    :math:`\bar W_{hh}` as T small GEMMs plus T additions. Here the forward steps record
    nothing and keep each step's local derivatives; the backward chains them step by step, and
    after the loop computes :math:`\bar W_{hh} = \sum_t \bar g^h_t{}^T h_{t-1}` as one GEMM over
    all steps and :math:`\bar b_{hh}` as one sum. The backward is not itself differentiable:
    double backward through the layers raises an error (the cells support it).

    Memory: the states of all steps are one buffer (T+1, B, H) per state tensor, slot t+1
    written by step t; the cache lives in buffers of one chunk of steps, reused chunk after
    chunk; the gradients of gx and of the recurrent half are buffers of all steps. Steps
    write straight into their slots, so nothing is stacked.
    """

    @staticmethod
    def forward(ctx, mode: str, active: Tensor | None, grad: bool, gx: Tensor,
                w_hh: Tensor, b_hh: Tensor | None, *state: Tensor):
        step, lstm = _STEP[mode], mode == "LSTM"
        T, B, _ = gx.shape
        H = w_hh.shape[1]
        grad = grad and any(ctx.needs_input_grad)
        states = [s.new_empty(T + 1, B, H) for s in state]      # slot t: the state before step t
        for buffer, s in zip(states, state):
            buffer[0] = s
        chunk = min(T, max(1, _CHUNK_BYTES // gx[0].nbytes))   # steps per chunk of derivatives
        widths = _CACHE_WIDTHS[mode]                 # the cache of one chunk of steps
        caches = [gx.new_empty(chunk, B, width * H) for width in widths] if grad else []
        gx, w_hh_T = gx.unbind(0), w_hh.t().contiguous()
        act = active.unbind(0) if active is not None else None
        # Each step's arguments, made before the loop: the old state, and the slots it writes
        # (the new state's, where every sequence is still running, and the cache's).
        slots = [s.unbind(0) for s in states]
        prevs = list(zip(*(s[:T] for s in slots))) if lstm else slots[0][:T]
        news = zip(*(s[1:] for s in slots)) if act is None else repeat((None,) * len(slots), T)
        cache_slots = [c.unbind(0) for c in caches] if grad else [(None,) * chunk] * len(widths)
        step_caches = zip(*(islice(cycle(c), T) for c in cache_slots)) if widths else repeat((), T)
        outs = [(*n, *c) for n, c in zip(news, step_caches)]
        local = []                                   # the derivatives of each chunk of steps
        for t in range(T):
            new, _ = step(gx[t], prevs[t], w_hh_T, b_hh, outs[t])
            if act is not None:                      # an ended sequence keeps its state
                for s, n in zip(slots, new if lstm else (new,)):
                    torch.where(act[t], n, s[t], out=s[t + 1])
            if grad and (t % chunk == chunk - 1 or t == T - 1):
                first, last = t - t % chunk, t + 1
                local.append(_DERIVATIVES[mode](tuple(c[:last - first] for c in caches),
                                                tuple(s[first:last] for s in states),
                                                tuple(s[first + 1:last + 1] for s in states)))
        hs = states[0]
        # The output is h_1 .. h_T, zero past each sequence's end; a copy, not a view of the
        # buffer the backward pass reads, so that it can be changed in place (as torch.nn's).
        output = hs[1:].clone() if active is None else torch.where(active, hs[1:], 0.0)
        if grad:
            ctx.mode, ctx.per_chunk = mode, len(local[0])
            ctx.save_for_backward(w_hh, active, hs, *(d for c in local for d in c))
        return (output, *(s[T].clone() for s in states))

    @staticmethod
    @once_differentiable
    def backward(ctx, d_output: Tensor, *d_state: Tensor):
        step_backward, lstm = _STEP_BACKWARD[ctx.mode], ctx.mode == "LSTM"
        w_hh, active, hs, *saved = ctx.saved_tensors
        T = d_output.shape[0]
        per_chunk = ctx.per_chunk                    # local-derivative tensors per chunk
        local = []                                   # step t's local derivatives
        for k in range(0, len(saved), per_chunk):
            local.extend(zip(*(x.unbind(0) for x in saved[k:k + per_chunk])))
        if active is not None:                       # the output is zero past the end
            d_output = torch.where(active, d_output, 0.0)
        act = active.unbind(0) if active is not None else (None,) * T
        d_output = d_output.unbind(0)
        d_gx = hs.new_empty(T, hs.shape[1], w_hh.shape[0])   # (T, B, G*H), written step by step
        d_gh = torch.empty_like(d_gx) if ctx.mode == "GRU" else None   # else the same as d_gx
        out = list(zip(d_gx.unbind(0), (None,) * T if d_gh is None else d_gh.unbind(0)))
        for t in reversed(range(T)):
            d_state = (d_state[0] + d_output[t], *d_state[1:])    # h_t is also the output at t
            d_new = d_state if act[t] is None else \
                tuple(torch.where(act[t], d, 0.0) for d in d_state)   # an ended sequence: none
            d_prev, _, _ = step_backward(d_new if lstm else d_new[0], local[t], w_hh, out[t])
            d_prev = d_prev if lstm else (d_prev,)
            d_state = d_prev if act[t] is None else \
                tuple(torch.where(act[t], n, o) for n, o in zip(d_prev, d_state))
        d_gh = d_gx if d_gh is None else d_gh
        d_w_hh = d_b_hh = None
        if ctx.needs_input_grad[4]:                  # one GEMM over all steps
            d_w_hh = d_gh.flatten(0, 1).t() @ hs[:-1].flatten(0, 1)
        if ctx.needs_input_grad[5]:
            d_b_hh = d_gh.sum((0, 1))
        return (None, None, None, d_gx, d_w_hh, d_b_hh, *d_state)


def run_direction(mode: str, x: Tensor, state: tuple, weights: tuple, active: Tensor | None,
                  reverse: bool):
    """``rnnlab.layers``' time loop of one layer and direction, with BPTT by hand: x (T, B, I_k)
    time-major, state (h_0,) or (h_0, c_0) each (B, H), weights (w_ih, w_hh, b_ih, b_hh) (biases
    None without bias), active (T, B, 1) bool or None. Returns outputs (T, B, H), zero where not
    active, and the final state. The reverse direction is the same loop over the time-reversed
    sequence: there a shorter sequence's padding comes first and leaves the initial state as it
    is (not active)."""
    w_ih, w_hh, b_ih, b_hh = weights
    if reverse:
        x, active = x.flip(0), (None if active is None else active.flip(0))
    # The input half of every step's pre-activation, for all t in one GEMM: (T, B, G*H).
    # Except in the GRU, b_hh simply adds to b_ih, so it is folded in here once.
    if b_hh is not None and mode != "GRU":
        b_ih, b_hh = b_ih + b_hh, None
    gx = F.linear(x, w_ih, b_ih)
    # The loop itself, with its backward by hand: autograd sees one node per layer-direction.
    output, *state = TimeLoop.apply(mode, active, torch.is_grad_enabled(), gx, w_hh, b_hh, *state)
    return (output.flip(0) if reverse else output), tuple(state)


# ---------------------------------------------------------------------------------------------
# impl="fused": torch's own kernels with the same weights.
# ---------------------------------------------------------------------------------------------

_FUSED_LAYER = {"RNN_TANH": _VF.rnn_tanh, "RNN_RELU": _VF.rnn_relu, "LSTM": _VF.lstm, "GRU": _VF.gru}
_FUSED_CELL = {"RNN_TANH": _VF.rnn_tanh_cell, "RNN_RELU": _VF.rnn_relu_cell,
               "LSTM": _VF.lstm_cell, "GRU": _VF.gru_cell}


def fused_cell(mode: str, input: Tensor, state, weights: tuple):
    """torch's cell kernel: input (B, I), state (B, H) or (h, c), weights (w_ih, w_hh, b_ih,
    b_hh). Returns what the cell returns: h' (B, H), or (h', c')."""
    return _FUSED_CELL[mode](input, state, *weights)


def fused_layer(layer: nn.Module, input, hx: tuple[Tensor, ...], lengths: Tensor | None):
    """torch's kernel on ``layer``'s flat weights, for the input forms ``layer.forward`` takes
    (a padded tensor with ``lengths`` goes through packing). hx: tuple of (L*D, B, H). Returns
    the output (padded, or packed like the input) and the final states as a tuple."""
    mode = layer.mode
    if lengths is not None:
        packed = pack_padded_sequence(input, lengths.cpu(), layer.batch_first, enforce_sorted=False)
        output, h_n = fused_layer(layer, packed, hx, None)
        output, _ = pad_packed_sequence(output, layer.batch_first,
                                        total_length=input.shape[1 if layer.batch_first else 0])
        return output, h_n
    kernel = _FUSED_LAYER[mode]
    hx_arg = hx if mode == "LSTM" else hx[0]
    args = (layer._flat_weights, layer.bias, layer.num_layers, layer.dropout, layer.training,
            layer.bidirectional)
    if not isinstance(input, PackedSequence):
        result = kernel(input, hx_arg, *args, layer.batch_first)
        return result[0], tuple(result[1:])
    order, unorder = input.sorted_indices, input.unsorted_indices
    if order is not None:                            # the kernel wants longest first
        hx_arg = tuple(s.index_select(1, order) for s in hx) if mode == "LSTM" \
            else hx_arg.index_select(1, order)
    result = kernel(input.data, input.batch_sizes, hx_arg, *args)
    h_n = tuple(result[1:])
    if unorder is not None:
        h_n = tuple(s.index_select(1, unorder) for s in h_n)
    return PackedSequence(result[0], input.batch_sizes, order, unorder), h_n


def flatten_parameters(layer: nn.Module) -> None:
    """On a GPU with cuDNN, make ``layer``'s parameters views of one buffer (as torch.nn does),
    so that the fused path does not copy them at every call. A no-op elsewhere."""
    weights = layer._flat_weights
    if not all(w.is_cuda and torch.backends.cudnn.is_acceptable(w) for w in weights):
        return
    if len({w.dtype for w in weights}) != 1 or len({w.data_ptr() for w in weights}) != len(weights):
        return
    from torch.backends.cudnn import rnn as cudnn_rnn

    with torch.cuda.device_of(weights[0]), torch.no_grad():
        if torch._use_cudnn_rnn_flatten_weight():
            torch._cudnn_rnn_flatten_weight(
                weights, 4 if layer.bias else 2, layer.input_size,
                cudnn_rnn.get_cudnn_mode(layer.mode), layer.hidden_size, 0,
                layer.num_layers, layer.batch_first, layer.bidirectional)
