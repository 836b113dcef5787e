r"""Recurrent cells and layers, drop-in compatible with ``torch.nn``: the reference of chapters 03-07.

``RNNCell``, ``LSTMCell`` and ``GRUCell`` compute one time step; ``RNN``, ``LSTM`` and ``GRU`` run
a whole sequence, with ``num_layers``, ``bidirectional``, ``batch_first``, ``dropout`` between
layers, optional initial states and variable-length batches. Constructor arguments and defaults,
parameter names and shapes (``weight_ih_l0``, ``weight_hh_l0_reverse``, ...), initialisation,
gate order and the returned tuple are those of ``torch.nn``, so ``load_state_dict`` works both
ways and ``torch.manual_seed(s)`` gives the same weights in both libraries.

Every module has two implementations of the same equations over the same parameters, chosen
by ``impl``:

- ``impl="reference"`` (the default here): the time loop a student writes, one equation per
  line. It is also fast: the input projection of all time steps is one GEMM, each step does one
  GEMM for all gates, and the loop walks ``x.unbind(0)`` (indexing ``x[t]`` would make the
  backward pass add a zero-filled gradient of the whole sequence at every step, quadratic in T).
- ``impl="fused"``: torch's own kernels (``torch._VF.lstm`` and friends: cuDNN on GPU, oneDNN
  or ATen on CPU) called with the same weights. ``rnnlab.models`` uses it for training.

Hidden states are ``(num_layers * num_directions, B, H)`` *even when* ``batch_first=True``:
only the input and the output sequence are batch-first, as in torch.nn.

Variable-length batches come either as a ``torch.nn.utils.rnn.PackedSequence`` (the output is
packed the same way) or as a padded tensor with ``lengths`` (shape ``(B,)``, every length >= 1):
then the output is zero past each sequence's end and the final states are taken at each
sequence's own last step; the reverse direction starts at each sequence's last real element.

Not covered: LSTM projections (``proj_size > 0``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, _VF, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

IMPLS = ("reference", "fused")


# ---------------------------------------------------------------------------------------------
# One time step of each cell. ``gx`` is the input half of the pre-activation,
# ``gx = x_t W_ih^T + b_ih`` of shape (B, G*H), computed for all steps at once by the layers.
# ``w_hh_T`` is W_hh transposed, (H, G*H): the layers transpose it once per sequence, so that
# the backward pass sums its gradient in one place rather than through a transpose per step.
# ``b_hh`` is None when the caller has already folded it into ``gx``.
# ---------------------------------------------------------------------------------------------


def _add_recurrent(gx: Tensor, h: Tensor, w_hh_T: Tensor, b_hh: Tensor | None) -> Tensor:
    """gx + h W_hh^T + b_hh in one GEMM (``addmm``); shapes (B, G), (B, H), (H, G), (G,)."""
    if b_hh is not None:
        gx = gx + b_hh
    return torch.addmm(gx, h, w_hh_T)


def rnn_tanh_step(gx: Tensor, h: Tensor, w_hh_T: Tensor, b_hh: Tensor | None = None) -> Tensor:
    r"""Elman step :math:`h_t = \tanh(x_t W_{ih}^T + b_{ih} + h_{t-1} W_{hh}^T + b_{hh})`.

    gx (B, H), h (B, H), w_hh_T (H, H), b_hh (H,) or None -> h_t (B, H)."""
    return torch.tanh(_add_recurrent(gx, h, w_hh_T, b_hh))


def rnn_relu_step(gx: Tensor, h: Tensor, w_hh_T: Tensor, b_hh: Tensor | None = None) -> Tensor:
    r"""Elman step with ReLU, :math:`h_t = \max(0, x_t W_{ih}^T + b_{ih} + h_{t-1} W_{hh}^T + b_{hh})`."""
    return torch.relu(_add_recurrent(gx, h, w_hh_T, b_hh))


def lstm_step(gx: Tensor, state: tuple[Tensor, Tensor], w_hh_T: Tensor,
              b_hh: Tensor | None = None) -> tuple[Tensor, Tensor]:
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

    gx (B, 4H), state = (h, c) each (B, H), w_hh_T (H, 4H), b_hh (4H,) or None -> (h_t, c_t)."""
    h, c = state
    gates = _add_recurrent(gx, h, w_hh_T, b_hh)        # all four pre-activations, (B, 4H)
    i, f, g, o = gates.chunk(4, 1)
    i = torch.sigmoid(i)                             # input gate
    f = torch.sigmoid(f)                             # forget gate
    g = torch.tanh(g)                                # candidate cell
    o = torch.sigmoid(o)                             # output gate
    c = torch.addcmul(f * c, i, g)                   # c_t = f * c_{t-1} + i * g
    h = o * torch.tanh(c)                            # h_t = o * tanh(c_t)
    return h, c


def gru_step(gx: Tensor, h: Tensor, w_hh_T: Tensor, b_hh: Tensor | None = None) -> Tensor:
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
    None -> h_t (B, H)."""
    gh = torch.addmm(b_hh, h, w_hh_T) if b_hh is not None else h @ w_hh_T      # (B, 3H)
    x_rz, x_n = gx.split([2 * h.shape[-1], h.shape[-1]], 1)
    h_rz, h_n = gh.split([2 * h.shape[-1], h.shape[-1]], 1)
    r, z = torch.sigmoid(x_rz + h_rz).chunk(2, 1)   # reset and update gates together
    n = torch.tanh(torch.addcmul(x_n, r, h_n))       # n_t = tanh(x_n + r * h_n)
    return torch.lerp(n, h, z)                       # h_t = (1 - z) * n + z * h_{t-1}


# How each mode steps, how many gate blocks its weights have, and torch's kernel for it.
_STEP = {"RNN_TANH": rnn_tanh_step, "RNN_RELU": rnn_relu_step, "LSTM": lstm_step, "GRU": gru_step}
_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}
_FUSED_LAYER = {"RNN_TANH": _VF.rnn_tanh, "RNN_RELU": _VF.rnn_relu, "LSTM": _VF.lstm, "GRU": _VF.gru}
_FUSED_CELL = {"RNN_TANH": _VF.rnn_tanh_cell, "RNN_RELU": _VF.rnn_relu_cell,
               "LSTM": _VF.lstm_cell, "GRU": _VF.gru_cell}


def _rnn_mode(nonlinearity: str) -> str:
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
    return "RNN_" + nonlinearity.upper()


def _check_impl(impl: str) -> str:
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
    return impl


def _reset_uniform(module: nn.Module, hidden_size: int) -> None:
    """torch.nn's initialisation: every parameter ~ U(-1/sqrt(H), 1/sqrt(H)), in registration order."""
    bound = 1.0 / math.sqrt(hidden_size)
    for p in module.parameters():
        nn.init.uniform_(p, -bound, bound)


# ---------------------------------------------------------------------------------------------
# Cells: one time step, as torch.nn.RNNCell / LSTMCell / GRUCell.
# ---------------------------------------------------------------------------------------------


class _CellBase(nn.Module):
    """Parameters ``weight_ih`` (G*H, I), ``weight_hh`` (G*H, H), ``bias_ih``, ``bias_hh`` (G*H,),
    with G the number of gate blocks (1, 4 or 3), as torch.nn's cells."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, bias: bool = True,
                 device=None, dtype=None, impl: str = "reference"):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.mode, self.impl = mode, _check_impl(impl)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        gates = _GATES[mode] * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(gates, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(gates, hidden_size, **factory))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(gates, **factory))
            self.bias_hh = nn.Parameter(torch.empty(gates, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_uniform(self, self.hidden_size)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity=relu"
        return s + (", impl=fused" if self.impl == "fused" else "")

    def forward(self, input: Tensor, hx=None):
        """input (B, I) or unbatched (I,); hx (B, H) (LSTM: a pair (h, c)) or None for zeros.
        Returns h_t (B, H) (LSTM: (h_t, c_t)), unbatched if the input was."""
        batched = input.dim() == 2
        if not batched:
            input = input.unsqueeze(0)
        zeros = input.new_zeros(input.shape[0], self.hidden_size)
        if self.mode == "LSTM":
            state = (zeros, zeros) if hx is None else tuple(s if batched else s.unsqueeze(0) for s in hx)
        else:
            state = zeros if hx is None else (hx if batched else hx.unsqueeze(0))
        weights = (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        if self.impl == "fused":
            out = _FUSED_CELL[self.mode](input, state, *weights)
        else:
            gx = F.linear(input, self.weight_ih, self.bias_ih)    # x W_ih^T + b_ih
            out = _STEP[self.mode](gx, state, self.weight_hh.t(), self.bias_hh)
        if not batched:
            out = tuple(s.squeeze(0) for s in out) if self.mode == "LSTM" else out.squeeze(0)
        return out


class RNNCell(_CellBase):
    r"""Elman cell, :math:`h' = \tanh(x W_{ih}^T + b_{ih} + h W_{hh}^T + b_{hh})` (or ReLU).

    Same arguments, parameters and shapes as ``torch.nn.RNNCell``; see :func:`rnn_tanh_step`."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None, *, impl: str = "reference"):
        super().__init__(_rnn_mode(nonlinearity), input_size, hidden_size, bias, device, dtype, impl)
        self.nonlinearity = nonlinearity


class LSTMCell(_CellBase):
    """LSTM cell, as ``torch.nn.LSTMCell``: ``forward(x, (h, c)) -> (h', c')``; see :func:`lstm_step`."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device=None, dtype=None, *, impl: str = "reference"):
        super().__init__("LSTM", input_size, hidden_size, bias, device, dtype, impl)


class GRUCell(_CellBase):
    """GRU cell, as ``torch.nn.GRUCell``: ``forward(x, h) -> h'``; see :func:`gru_step`."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device=None, dtype=None, *, impl: str = "reference"):
        super().__init__("GRU", input_size, hidden_size, bias, device, dtype, impl)


# ---------------------------------------------------------------------------------------------
# Sequence layers, as torch.nn.RNN / LSTM / GRU.
# ---------------------------------------------------------------------------------------------


def _keep_past_end(active: Tensor | None, new: tuple, old: tuple) -> tuple:
    """State update of a variable-length batch: sequences that have ended (``active`` False,
    shape (B, 1)) keep their old state. Without lengths every sequence is active."""
    if active is None:
        return new
    return tuple(torch.where(active, n, o) for n, o in zip(new, old))


class _RecurrentLayer(nn.Module):
    r"""Shared by RNN, LSTM and GRU: parameters, the reference loop and the fused call.

    Parameters, for layer ``k`` and direction suffix ``''`` or ``'_reverse'``, G gate blocks:
    ``weight_ih_l{k}`` (G*H, I for k=0 else D*H), ``weight_hh_l{k}`` (G*H, H),
    ``bias_ih_l{k}``, ``bias_hh_l{k}`` (G*H,).

    ``forward(input, hx=None, lengths=None)``:

    - input: (T, B, I), or (B, T, I) with ``batch_first``, or unbatched (T, I), or a
      ``PackedSequence``;
    - hx: initial state(s) of shape (L*D, B, H) (a pair (h_0, c_0) for LSTM), zeros if None;
      never batch-first;
    - lengths: optional (B,) int tensor of true lengths for a padded input.

    Returns ``(output, h_n)`` (LSTM: ``(output, (h_n, c_n))``): output (T, B, D*H) (batch-first
    or packed like the input), h_n (L*D, B, H) ordered layer by layer, forward before reverse.
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None, impl: str = "reference"):
        super().__init__()
        if not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1]")
        if input_size <= 0 or hidden_size <= 0 or num_layers <= 0:
            raise ValueError("input_size, hidden_size and num_layers must be positive")
        factory = {"device": device, "dtype": dtype}
        self.mode, self.impl = mode, _check_impl(impl)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, 0
        self.num_directions = 2 if bidirectional else 1
        gates = _GATES[mode] * hidden_size
        self._flat_weights_names: list[str] = []       # torch's order: the fused kernels' contract
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * self.num_directions
            for suffix in ("", "_reverse")[: self.num_directions]:
                shapes = {"weight_ih": (gates, layer_input), "weight_hh": (gates, hidden_size)}
                if bias:
                    shapes.update(bias_ih=(gates,), bias_hh=(gates,))
                for kind, shape in shapes.items():
                    name = f"{kind}_l{layer}{suffix}"
                    self.register_parameter(name, nn.Parameter(torch.empty(shape, **factory)))
                    self._flat_weights_names.append(name)
        self.reset_parameters()
        self.flatten_parameters()

    def reset_parameters(self) -> None:
        _reset_uniform(self, self.hidden_size)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        for name, default in (("num_layers", 1), ("bias", True), ("batch_first", False),
                              ("dropout", 0.0), ("bidirectional", False), ("impl", "reference")):
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)}"
        return s

    @property
    def _flat_weights(self) -> list[Tensor]:
        return [getattr(self, name) for name in self._flat_weights_names]

    def _weights(self, layer: int, direction: int) -> tuple:
        """(w_ih, w_hh, b_ih, b_hh) of one layer and direction; biases None if ``bias=False``."""
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        return tuple(getattr(self, kind + suffix, None)
                     for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))

    # -- cuDNN wants all weights in one contiguous buffer; torch.nn does the same ------------
    def flatten_parameters(self) -> None:
        """On a GPU with cuDNN, make the parameters views of one buffer (as torch.nn does), so
        that the fused path does not copy them at every call. A no-op elsewhere."""
        weights = self._flat_weights
        if not all(w.is_cuda and torch.backends.cudnn.is_acceptable(w) for w in weights):
            return
        if len({w.dtype for w in weights}) != 1 or len({w.data_ptr() for w in weights}) != len(weights):
            return
        from torch.backends.cudnn import rnn as cudnn_rnn

        with torch.cuda.device_of(weights[0]), torch.no_grad():
            if torch._use_cudnn_rnn_flatten_weight():
                torch._cudnn_rnn_flatten_weight(
                    weights, 4 if self.bias else 2, self.input_size,
                    cudnn_rnn.get_cudnn_mode(self.mode), self.hidden_size, 0,
                    self.num_layers, self.batch_first, self.bidirectional)

    def _apply(self, fn, recurse=True):
        result = super()._apply(fn, recurse)
        self.flatten_parameters()
        return result

    # -- forward ----------------------------------------------------------------------------
    def forward(self, input, hx=None, lengths: Tensor | None = None):
        packed = isinstance(input, PackedSequence)
        if packed and lengths is not None:
            raise ValueError("give lengths only with a padded tensor, not with a PackedSequence")
        batched = packed or input.dim() == 3
        if not packed and input.dim() not in (2, 3):
            raise ValueError(f"expected a 2-D or 3-D input, got {input.dim()}-D")
        if not batched:                                  # (T, I) -> (T, 1, I)
            input = input.unsqueeze(0 if self.batch_first else 1)
            hx = None if hx is None else (tuple(s.unsqueeze(1) for s in hx) if self.mode == "LSTM"
                                          else hx.unsqueeze(1))
        data = input.data if packed else input
        batch = int(input.batch_sizes[0]) if packed else input.shape[0 if self.batch_first else 1]
        hx = self._initial_state(hx, batch, data)

        if self.impl == "fused":
            output, h_n = self._fused(input, hx, lengths)
        elif packed:
            x, lengths = pad_packed_sequence(input)
            output, h_n = self._reference(x, hx, lengths)
            output = _pack_like(output, lengths, input)
        else:
            x = input.transpose(0, 1) if self.batch_first else input
            output, h_n = self._reference(x, hx, lengths)
            output = output.transpose(0, 1) if self.batch_first else output

        if not batched:
            output = output.squeeze(0 if self.batch_first else 1)
            h_n = tuple(s.squeeze(1) for s in h_n)
        return output, (h_n if self.mode == "LSTM" else h_n[0])

    def _initial_state(self, hx, batch: int, like: Tensor) -> tuple[Tensor, ...]:
        """hx as a tuple of (L*D, B, H) tensors: (h_0,) or (h_0, c_0); zeros if None."""
        shape = (self.num_layers * self.num_directions, batch, self.hidden_size)
        if hx is None:
            zeros = like.new_zeros(shape)
            return (zeros, zeros) if self.mode == "LSTM" else (zeros,)
        hx = tuple(hx) if self.mode == "LSTM" else (hx,)
        for s in hx:
            if tuple(s.shape) != shape:
                raise RuntimeError(f"Expected hidden size {shape}, got {list(s.shape)}")
        return hx

    def _reference(self, x: Tensor, hx: tuple[Tensor, ...], lengths: Tensor | None):
        """The readable path. x (T, B, I) time-major, hx tuple of (L*D, B, H), lengths (B,) or
        None. Returns output (T, B, D*H) (zero past each length) and the final states."""
        T = x.shape[0]
        active = None                                    # (T, B, 1): is step t inside sequence b?
        if lengths is not None:
            steps = torch.arange(T, device=x.device)
            active = (steps[:, None] < lengths.to(x.device)[None, :]).unsqueeze(-1)
        finals = []
        layer_input = x
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                k = layer * self.num_directions + direction
                state = tuple(s[k] for s in hx)
                out, state = self._run_direction(layer_input, state, self._weights(layer, direction),
                                                 active, reverse=direction == 1)
                outputs.append(out)
                finals.append(state)
            layer_input = torch.cat(outputs, 2) if len(outputs) > 1 else outputs[0]
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, training=True)
        h_n = tuple(torch.stack([state[i] for state in finals]) for i in range(len(hx)))
        return layer_input, h_n

    def _run_direction(self, x: Tensor, state: tuple, weights: tuple, active: Tensor | None,
                       reverse: bool):
        """One layer, one direction: x (T, B, I_k) -> outputs (T, B, H), final state."""
        w_ih, w_hh, b_ih, b_hh = weights
        step = _STEP[self.mode]
        # The input half of every step's pre-activation, for all t in one GEMM: (T, B, G*H).
        # Except in the GRU, b_hh simply adds to b_ih, so it is folded in here once.
        if b_hh is not None and self.mode != "GRU":
            b_ih, b_hh = b_ih + b_hh, None
        gx = F.linear(x, w_ih, b_ih).unbind(0)
        w_hh_T = w_hh.t()
        act = active.unbind(0) if active is not None else (None,) * len(gx)
        outputs = [None] * len(gx)
        for t in (reversed(range(len(gx))) if reverse else range(len(gx))):
            new = step(gx[t], state if self.mode == "LSTM" else state[0], w_hh_T, b_hh)
            state = _keep_past_end(act[t], new if self.mode == "LSTM" else (new,), state)
            h = state[0]
            outputs[t] = h if act[t] is None else torch.where(act[t], h, 0.0)
        return torch.stack(outputs), state

    def _fused(self, input, hx: tuple[Tensor, ...], lengths: Tensor | None):
        """torch's kernel on the same flat weights; padded + lengths goes through packing."""
        if lengths is not None:
            packed = pack_padded_sequence(input, lengths.cpu(), self.batch_first, enforce_sorted=False)
            output, h_n = self._fused(packed, hx, None)
            output, _ = pad_packed_sequence(output, self.batch_first,
                                            total_length=input.shape[1 if self.batch_first else 0])
            return output, h_n
        kernel = _FUSED_LAYER[self.mode]
        hx_arg = hx if self.mode == "LSTM" else hx[0]
        args = (self._flat_weights, self.bias, self.num_layers, self.dropout, self.training,
                self.bidirectional)
        if not isinstance(input, PackedSequence):
            result = kernel(input, hx_arg, *args, self.batch_first)
            return result[0], tuple(result[1:])
        order, unorder = input.sorted_indices, input.unsorted_indices
        if order is not None:                            # the kernel wants longest first
            hx_arg = tuple(s.index_select(1, order) for s in hx) if self.mode == "LSTM" \
                else hx_arg.index_select(1, order)
        result = kernel(input.data, input.batch_sizes, hx_arg, *args)
        h_n = tuple(result[1:])
        if unorder is not None:
            h_n = tuple(s.index_select(1, unorder) for s in h_n)
        return PackedSequence(result[0], input.batch_sizes, order, unorder), h_n


def _pack_like(output: Tensor, lengths: Tensor, like: PackedSequence) -> PackedSequence:
    """Pack a padded time-major ``output`` (T, B, F) in the batch order of ``like``."""
    order = like.sorted_indices
    if order is not None:
        output, lengths = output.index_select(1, order), lengths[order.cpu()]
    data = pack_padded_sequence(output, lengths.cpu(), enforce_sorted=True).data
    return PackedSequence(data, like.batch_sizes, like.sorted_indices, like.unsorted_indices)


class RNN(_RecurrentLayer):
    r"""Multi-layer Elman RNN, as ``torch.nn.RNN``: for each layer and step,

    .. math::
        h_t = \tanh(x_t W_{ih}^T + b_{ih} + h_{t-1} W_{hh}^T + b_{hh})

    (ReLU with ``nonlinearity="relu"``), where :math:`x_t` of layer k > 0 is the output of
    layer k-1 (both directions concatenated), after dropout when training.
    Shapes and arguments: see :class:`_RecurrentLayer` and torch.nn.RNN."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device=None, dtype=None,
                 *, impl: str = "reference"):
        super().__init__(_rnn_mode(nonlinearity), input_size, hidden_size, num_layers, bias,
                         batch_first, dropout, bidirectional, device, dtype, impl)
        self.nonlinearity = nonlinearity


class LSTM(_RecurrentLayer):
    r"""Multi-layer LSTM, as ``torch.nn.LSTM``; each step is :func:`lstm_step`:

    .. math::
        \begin{array}{ll}
        i_t, f_t, o_t = \sigma(\cdot), \; g_t = \tanh(\cdot)
            \text{ of } x_t W_{ih}^T + b_{ih} + h_{t-1} W_{hh}^T + b_{hh}
            \text{ split in four (i, f, g, o)} \\
        c_t = f_t \odot c_{t-1} + i_t \odot g_t, \quad h_t = o_t \odot \tanh(c_t)
        \end{array}

    ``forward(input, (h_0, c_0)) -> output, (h_n, c_n)``, states (L*D, B, H) even with
    ``batch_first``. ``proj_size`` must be 0."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device=None, dtype=None, *, impl: str = "reference"):
        if proj_size:
            raise NotImplementedError("rnnlab.layers.LSTM has no projections (proj_size=0)")
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype, impl)


class GRU(_RecurrentLayer):
    r"""Multi-layer GRU, as ``torch.nn.GRU``; each step is :func:`gru_step`:

    .. math::
        \begin{array}{ll}
        r_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \\
        z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\
        n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})) \\
        h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}
        \end{array}"""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None, *, impl: str = "reference"):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype, impl)
