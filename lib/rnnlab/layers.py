r"""Recurrent cells and layers with torch.nn's API: the reference of chapters 03-07.

``RNNCell``, ``LSTMCell`` and ``GRUCell`` compute one time step; ``RNN``, ``LSTM`` and ``GRU``
run the step over a whole sequence, layer after layer, in one or both directions. Arguments,
defaults, parameter names and shapes (``weight_ih_l0``, ``weight_hh_l0_reverse``, ...),
initialisation, gate order and the returned tuples are those of ``torch.nn``: ``load_state_dict``
works both ways and ``torch.manual_seed(s)`` gives the same weights in both libraries.

This file is the model answer: each step is one function, one equation per line, and the
layers are a plain loop over time. ``impl`` chooses how the same equations run:

- ``impl="reference"`` (the default): the code below. While autograd records, a layer runs
  the same loop in ``rnnlab._recurrent_fast``, which writes backpropagation through time by
  hand (chapter 04 derives it) so that training is as fast as torch.nn's;
- ``impl="fused"``: torch's own kernels (cuDNN on GPU) with the same weights.

Not covered: LSTM projections (``proj_size > 0``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from . import _recurrent_fast

IMPLS = ("reference", "fused")


# ---------------------------------------------------------------------------------------------
# One time step of each cell, with torch's signature (``torch._VF.lstm_cell`` and friends):
# x (B, I), the state, then w_ih (G*H, I), w_hh (G*H, H), b_ih and b_hh (G*H,) or None, where
# G is the number of gate blocks stacked in each weight (1, 4 or 3).
# ---------------------------------------------------------------------------------------------


def rnn_tanh_cell(x: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor,
                  b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> Tensor:
    r"""Elman step :math:`h_t = \tanh(x_t W_{ih}^T + b_{ih} + h_{t-1} W_{hh}^T + b_{hh})`.

    x (B, I), h = h_{t-1} (B, H), w_ih (H, I), w_hh (H, H), b_ih, b_hh (H,) -> h_t (B, H)."""
    return torch.tanh(F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh))


def rnn_relu_cell(x: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor,
                  b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> Tensor:
    r"""Elman step with ReLU,
    :math:`h_t = \max(0, x_t W_{ih}^T + b_{ih} + h_{t-1} W_{hh}^T + b_{hh})`.

    Shapes as :func:`rnn_tanh_cell`."""
    return torch.relu(F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh))


def lstm_cell(x: Tensor, state: tuple[Tensor, Tensor], w_ih: Tensor, w_hh: Tensor,
              b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> tuple[Tensor, Tensor]:
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

    x (B, I), state = (h_{t-1}, c_{t-1}) each (B, H), w_ih (4H, I) = [W_ii; W_if; W_ig; W_io],
    w_hh (4H, H) likewise, b_ih, b_hh (4H,) -> (h_t, c_t) each (B, H)."""
    h, c = state
    x_i, x_f, x_g, x_o = F.linear(x, w_ih, b_ih).chunk(4, -1)    # each (B, H)
    h_i, h_f, h_g, h_o = F.linear(h, w_hh, b_hh).chunk(4, -1)
    i = torch.sigmoid(x_i + h_i)                     # input gate
    f = torch.sigmoid(x_f + h_f)                     # forget gate
    g = torch.tanh(x_g + h_g)                        # candidate cell
    o = torch.sigmoid(x_o + h_o)                     # output gate
    c = f * c + i * g
    h = o * torch.tanh(c)
    return h, c


def gru_cell(x: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor,
             b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> Tensor:
    r"""GRU step, gates in torch's order r, z, n:

    .. math::
        \begin{array}{ll}
        r_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \\
        z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\
        n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})) \\
        h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}
        \end{array}

    The reset gate multiplies the hidden half of n's pre-activation, bias included.
    x (B, I), h = h_{t-1} (B, H), w_ih (3H, I) = [W_ir; W_iz; W_in], w_hh (3H, H) likewise,
    b_ih, b_hh (3H,) -> h_t (B, H)."""
    x_r, x_z, x_n = F.linear(x, w_ih, b_ih).chunk(3, -1)         # each (B, H)
    h_r, h_z, h_n = F.linear(h, w_hh, b_hh).chunk(3, -1)
    r = torch.sigmoid(x_r + h_r)                     # reset gate
    z = torch.sigmoid(x_z + h_z)                     # update gate
    n = torch.tanh(x_n + r * h_n)                    # candidate state
    return (1 - z) * n + z * h


_CELL = {"RNN_TANH": rnn_tanh_cell, "RNN_RELU": rnn_relu_cell, "LSTM": lstm_cell, "GRU": gru_cell}
_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _rnn_mode(nonlinearity: str) -> str:
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
    return "RNN_" + nonlinearity.upper()


def _check_impl(impl: str) -> str:
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
    return impl


def _reset_uniform(module: nn.Module, hidden_size: int) -> None:
    """torch.nn's initialisation: every parameter ~ U(-1/sqrt(H), 1/sqrt(H)), in order."""
    bound = 1.0 / math.sqrt(hidden_size)
    for p in module.parameters():
        nn.init.uniform_(p, -bound, bound)


# ---------------------------------------------------------------------------------------------
# Cells: one time step, as torch.nn.RNNCell / LSTMCell / GRUCell.
# ---------------------------------------------------------------------------------------------


class _CellBase(nn.Module):
    """Parameters ``weight_ih`` (G*H, I), ``weight_hh`` (G*H, H), ``bias_ih``, ``bias_hh`` (G*H,),
    with G the number of gate blocks (1, 4 or 3), as torch.nn's cells.

    ``forward(input, hx=None)``: input (B, I) or unbatched (I,); hx (B, H) (LSTM: a pair
    (h, c)), zeros if None. Returns h' (B, H) (LSTM: (h', c')), unbatched if the input was."""

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
        batched = input.dim() == 2
        if not batched:                                  # (I,) -> (1, I)
            input = input.unsqueeze(0)
        zeros = input.new_zeros(input.shape[0], self.hidden_size)
        if self.mode == "LSTM":
            state = (zeros, zeros) if hx is None else \
                tuple(s if batched else s.unsqueeze(0) for s in hx)
        else:
            state = zeros if hx is None else (hx if batched else hx.unsqueeze(0))
        weights = (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        if self.impl == "fused":
            out = _recurrent_fast.fused_cell(self.mode, input, state, weights)
        else:
            out = _CELL[self.mode](input, state, *weights)
        if not batched:
            out = tuple(s.squeeze(0) for s in out) if self.mode == "LSTM" else out.squeeze(0)
        return out


class RNNCell(_CellBase):
    r"""Elman cell, as ``torch.nn.RNNCell``:
    :math:`h' = \tanh(x W_{ih}^T + b_{ih} + h W_{hh}^T + b_{hh})` (ReLU with
    ``nonlinearity="relu"``); see :func:`rnn_tanh_cell`.

    ``forward(input, hx=None) -> h'``: input (B, I) or (I,), hx and h' (B, H) or (H,).
    Parameters ``weight_ih`` (H, I), ``weight_hh`` (H, H), ``bias_ih``, ``bias_hh`` (H,)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None, *, impl: str = "reference"):
        super().__init__(_rnn_mode(nonlinearity), input_size, hidden_size, bias, device, dtype,
                         impl)
        self.nonlinearity = nonlinearity


class LSTMCell(_CellBase):
    """LSTM cell, as ``torch.nn.LSTMCell``; see :func:`lstm_cell` for the equations.

    ``forward(input, (h, c)=None) -> (h', c')``: input (B, I) or (I,), h, c, h', c' (B, H) or
    (H,). Parameters ``weight_ih`` (4H, I), ``weight_hh`` (4H, H), ``bias_ih``, ``bias_hh``
    (4H,), gate blocks in the order i, f, g, o."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device=None, dtype=None, *, impl: str = "reference"):
        super().__init__("LSTM", input_size, hidden_size, bias, device, dtype, impl)


class GRUCell(_CellBase):
    """GRU cell, as ``torch.nn.GRUCell``; see :func:`gru_cell` for the equations.

    ``forward(input, hx=None) -> h'``: input (B, I) or (I,), hx and h' (B, H) or (H,).
    Parameters ``weight_ih`` (3H, I), ``weight_hh`` (3H, H), ``bias_ih``, ``bias_hh`` (3H,),
    gate blocks in the order r, z, n."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device=None, dtype=None, *, impl: str = "reference"):
        super().__init__("GRU", input_size, hidden_size, bias, device, dtype, impl)


# ---------------------------------------------------------------------------------------------
# Sequence layers, as torch.nn.RNN / LSTM / GRU.
# ---------------------------------------------------------------------------------------------


class _RecurrentLayer(nn.Module):
    r"""Shared by RNN, LSTM and GRU: the parameters and the loops over layers and time.

    Arguments (as torch.nn): ``input_size`` I, ``hidden_size`` H, ``num_layers`` L,
    ``bias``, ``batch_first``, ``dropout`` (on the output of every layer but the last, when
    training), ``bidirectional`` (D = 2 directions, else 1), ``device``, ``dtype``; and
    ``impl``, ``"reference"`` or ``"fused"`` (see the module's docstring).

    Parameters, for layer ``k`` and direction suffix ``''`` or ``'_reverse'``, G gate blocks:
    ``weight_ih_l{k}`` (G*H, I for k=0 else D*H), ``weight_hh_l{k}`` (G*H, H),
    ``bias_ih_l{k}``, ``bias_hh_l{k}`` (G*H,).

    ``forward(input, hx=None, lengths=None)``:

    - input: (T, B, I), or (B, T, I) with ``batch_first``, or unbatched (T, I), or a
      ``PackedSequence``;
    - hx: initial state(s) of shape (L*D, B, H) (a pair (h_0, c_0) for LSTM), zeros if None;
      *never batch-first*;
    - lengths: optional (B,) int tensor of true lengths (each >= 1) for a padded input.

    Returns ``(output, h_n)`` (LSTM: ``(output, (h_n, c_n))``): output (T, B, D*H)
    (batch-first or packed like the input) holds the last layer's h_t, both directions
    concatenated, zero past each sequence's length; h_n (L*D, B, H), again never
    batch-first, ordered layer by layer, forward before reverse, taken at each sequence's own
    last step. The reverse direction starts at each sequence's last real element.
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

    def flatten_parameters(self) -> None:
        """On a GPU with cuDNN, make the parameters views of one buffer (as torch.nn does)."""
        _recurrent_fast.flatten_parameters(self)

    def _apply(self, fn, recurse=True):
        result = super()._apply(fn, recurse)
        self.flatten_parameters()
        return result

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
            output, h_n = _recurrent_fast.fused_layer(self, input, hx, lengths)
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
        """Layer after layer, each direction in turn. x (T, B, I) time-major, hx a tuple of
        (L*D, B, H), lengths (B,) or None. Returns the last layer's output (T, B, D*H), zero
        past each length, and the final states, each (L*D, B, H)."""
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
                weights = self._weights(layer, direction)
                out, state = self._run_direction(layer_input, state, weights, active,
                                                 reverse=direction == 1)
                outputs.append(out)
                finals.append(state)
            layer_input = torch.cat(outputs, 2) if len(outputs) > 1 else outputs[0]
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, training=True)
        h_n = tuple(torch.stack([state[i] for state in finals]) for i in range(len(hx)))
        return layer_input, h_n

    def _run_direction(self, x: Tensor, state: tuple, weights: tuple, active: Tensor | None,
                       reverse: bool):
        """The time loop of one layer and direction: x (T, B, I_k) -> outputs (T, B, H), zero
        where not active, and the final state, (h_T,) or (h_T, c_T) each (B, H). state: the
        initial (h_0,) or (h_0, c_0); weights (w_ih, w_hh, b_ih, b_hh); active (T, B, 1) bool
        or None. The reverse direction is the same loop over the time-reversed sequence: there
        a shorter sequence's padding comes first and leaves the initial state as it is."""
        if torch.is_grad_enabled() and any(t is not None and t.requires_grad
                                           for t in (x, *state, *weights)):
            # While autograd records: the same loop with backpropagation through time
            # written by hand (rnnlab._recurrent_fast), as fast as torch.nn's.
            return _recurrent_fast.run_direction(self.mode, x, state, weights, active, reverse)
        cell = _CELL[self.mode]
        if reverse:
            x, active = x.flip(0), (None if active is None else active.flip(0))
        outputs = []
        for t, x_t in enumerate(x.unbind(0)):
            new = cell(x_t, state if self.mode == "LSTM" else state[0], *weights)
            new = new if self.mode == "LSTM" else (new,)
            if active is not None:                       # an ended sequence keeps its state
                new = tuple(torch.where(active[t], n, s) for n, s in zip(new, state))
            state = new
            outputs.append(state[0])                     # h_t
        output = torch.stack(outputs)
        if active is not None:                           # zero past each sequence's end
            output = torch.where(active, output, 0.0)
        return (output.flip(0) if reverse else output), state


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

    ``forward(input, h_0=None, lengths=None) -> (output, h_n)``: input (T, B, I) or
    (B, T, I) with ``batch_first`` (or (T, I), or packed), h_0 and h_n (L*D, B, H) even with
    ``batch_first``, output (T, B, D*H) or (B, T, D*H). Parameters ``weight_ih_l{k}``
    (H, I for k=0 else D*H), ``weight_hh_l{k}`` (H, H), ``bias_ih_l{k}``, ``bias_hh_l{k}``
    (H,), and the same with ``_reverse``. More in :class:`_RecurrentLayer`."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device=None, dtype=None,
                 *, impl: str = "reference"):
        super().__init__(_rnn_mode(nonlinearity), input_size, hidden_size, num_layers, bias,
                         batch_first, dropout, bidirectional, device, dtype, impl)
        self.nonlinearity = nonlinearity


class LSTM(_RecurrentLayer):
    r"""Multi-layer LSTM, as ``torch.nn.LSTM``; each step is :func:`lstm_cell`:

    .. math::
        \begin{array}{ll}
        i_t = \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}) \\
        f_t = \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}) \\
        g_t = \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) \\
        o_t = \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}) \\
        c_t = f_t \odot c_{t-1} + i_t \odot g_t \\
        h_t = o_t \odot \tanh(c_t)
        \end{array}

    ``forward(input, (h_0, c_0)=None, lengths=None) -> (output, (h_n, c_n))``: input
    (T, B, I) or (B, T, I) with ``batch_first`` (or (T, I), or packed), states (L*D, B, H)
    even with ``batch_first``, output (T, B, D*H) or (B, T, D*H). Parameters
    ``weight_ih_l{k}`` (4H, I for k=0 else D*H), ``weight_hh_l{k}`` (4H, H),
    ``bias_ih_l{k}``, ``bias_hh_l{k}`` (4H,), blocks i, f, g, o, and the same with
    ``_reverse``. ``proj_size`` must be 0. More in :class:`_RecurrentLayer`."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device=None, dtype=None, *, impl: str = "reference"):
        if proj_size:
            raise NotImplementedError("rnnlab.layers.LSTM has no projections (proj_size=0)")
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype, impl)


class GRU(_RecurrentLayer):
    r"""Multi-layer GRU, as ``torch.nn.GRU``; each step is :func:`gru_cell`:

    .. math::
        \begin{array}{ll}
        r_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \\
        z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\
        n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})) \\
        h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}
        \end{array}

    ``forward(input, h_0=None, lengths=None) -> (output, h_n)``: input (T, B, I) or
    (B, T, I) with ``batch_first`` (or (T, I), or packed), h_0 and h_n (L*D, B, H) even with
    ``batch_first``, output (T, B, D*H) or (B, T, D*H). Parameters ``weight_ih_l{k}``
    (3H, I for k=0 else D*H), ``weight_hh_l{k}`` (3H, H), ``bias_ih_l{k}``, ``bias_hh_l{k}``
    (3H,), blocks r, z, n, and the same with ``_reverse``. More in :class:`_RecurrentLayer`."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None, *, impl: str = "reference"):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype, impl)
