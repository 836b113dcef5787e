"""Answers to assignment 05, written the way students write them.

WRONG: plausible wrong answers, at least eight per part; each must lose exactly the points of
its part and keep all others. ``make course`` grades the first as the demo class's "typical
bug" (the LSTM's blocks read in CS231n's order i, f, o, g).
RIGHT: right answers written differently from the solution (the weights sliced per gate,
F.linear, einsum, a loop over the sequences, final states gathered at lengths - 1, an index
permutation), at least three per part; each must pass every case of its part.
Both: {name: {"part": grade_id of the answer cell, "code": the source of that cell}}.
"""


def _lstm_cell(unpack="h, c = state", pre="x @ W_ih.T + b_ih + h @ W_hh.T + b_hh", order="a_i, a_f, a_g, a_o",
               g="torch.tanh(a_g)", c_new="f * c + i * g", h_new="o * torch.tanh(c_t)", returned="h_t, c_t"):
    """The solution's lstm_cell with one of its pieces replaced (a wrong answer's mistake)."""
    return f'''
def lstm_cell(x, state, W_ih, W_hh, b_ih, b_hh):
    {unpack}
    {order} = ({pre}).chunk(4, dim=1)
    i, f, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.sigmoid(a_o)
    g = {g}
    c_t = {c_new}
    h_t = {h_new}
    return {returned}'''


def _gru_cell(x_part="x @ W_ih.T + b_ih", h_part="h @ W_hh.T + b_hh", order="r, z, n", n_new="torch.tanh(x_n + r * h_n)",
              h_new="z * h + (1 - z) * n", before="", r_new="torch.sigmoid(x_r + h_r)"):
    """The solution's gru_cell with one of its pieces replaced."""
    xs = ", ".join(f"x_{k}" for k in order.split(", "))
    hs = ", ".join(f"h_{k}" for k in order.split(", "))
    return f'''
def gru_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    {xs} = ({x_part}).chunk(3, dim=1)
    {hs} = ({h_part}).chunk(3, dim=1){before}
    r = {r_new}
    z = torch.sigmoid(x_z + h_z)
    n = {n_new}
    return {h_new}'''


def _forward(start="h, c = (x.new_zeros(B, H), x.new_zeros(B, H)) if state is None else state",
             hold="h = torch.where(real, h_t, h)\n        c = torch.where(real, c_t, c)",
             out="outputs.append(h * real)", returned="torch.stack(outputs, dim=1), (h, c)",
             real="(t < lengths).unsqueeze(1)"):
    """The solution's lstm_forward with one of its pieces replaced."""
    return f'''
def lstm_forward(x, W_ih, W_hh, b_ih, b_hh, lengths=None, state=None):
    B, T, _ = x.shape
    H = W_hh.shape[1]
    {start}
    if lengths is None:
        lengths = torch.full((B,), T)
    outputs = []
    for t in range(T):
        real = {real}
        a_i, a_f, a_g, a_o = (x[:, t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh).chunk(4, dim=1)
        c_t = torch.sigmoid(a_f) * c + torch.sigmoid(a_i) * torch.tanh(a_g)
        h_t = torch.sigmoid(a_o) * torch.tanh(c_t)
        {hold}
        {out}
    return {returned}'''


def _backward(do="dh * tanh_c", dc="dc + dh * o * (1 - tanh_c ** 2)", df="dc * c_prev",
              dg_prime="(1 - g ** 2)", order="di * i * (1 - i), df * f * (1 - f), dg * {dg_prime}, do * o * (1 - o)",
              dc_prev="dc * f", dW_ih="da.T @ x", db="da.sum(dim=0)"):
    """The solution's lstm_step_backward with one of its pieces replaced."""
    order = order.format(dg_prime=dg_prime)
    return f'''
def lstm_step_backward(dh, dc, cache):
    x, h_prev, c_prev, i, f, g, o, c, W_ih, W_hh = cache
    upstream_dc = dc
    tanh_c = torch.tanh(c)
    do = {do}
    dc = {dc}
    di, df, dg = dc * g, {df}, dc * i
    da = torch.cat([{order}], dim=1)
    return da @ W_ih, da @ W_hh, {dc_prev}, {dW_ih}, da.T @ h_prev, {db}'''


def _order(body):
    return f'''
def to_torch_gate_order(W):
{body}'''


def _training(lr="0.01", epochs="2", forget="1.0", backward="loss.backward()", step="optimizer.step()",
              parameters="model.parameters()", returned="model", target_rows="targets[rows]", rows="order[start:start + 64]",
              data="len(inputs)"):
    """The solution's training loop with one of its pieces replaced."""
    return f'''
def train_adding(inputs, targets, seed):
    torch.manual_seed(seed)
    model = AddingLSTM()
    H = model.lstm.hidden_size
    with torch.no_grad():
        model.lstm.bias_ih_l0[H:2 * H] = {forget}
        model.lstm.bias_hh_l0[H:2 * H] = 0.0
    optimizer = torch.optim.Adam({parameters}, lr={lr})
    for epoch in range({epochs}):
        order = torch.randperm({data})
        for start in range(0, {data}, 64):
            rows = {rows}
            loss = F.mse_loss(model(inputs[rows]), {target_rows})
            optimizer.zero_grad()
            {backward}
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            {step}
    return {returned}'''


WRONG = {
    # -- lstm_cell (the demo's typical bug first) ------------------------------------------------
    "LSTM blocks read in CS231n's order i, f, o, g": {"part": "lstm_cell", "code": _lstm_cell(order="a_i, a_f, a_o, a_g")},
    "LSTM f and i blocks swapped": {"part": "lstm_cell", "code": _lstm_cell(order="a_f, a_i, a_g, a_o")},
    "LSTM b_hh left out": {"part": "lstm_cell", "code": _lstm_cell(pre="x @ W_ih.T + b_ih + h @ W_hh.T")},
    "LSTM b_ih left out": {"part": "lstm_cell", "code": _lstm_cell(pre="x @ W_ih.T + h @ W_hh.T + b_hh")},
    "LSTM sigmoid on g": {"part": "lstm_cell", "code": _lstm_cell(g="torch.sigmoid(a_g)")},
    "LSTM c_t from h_{t-1}": {"part": "lstm_cell", "code": _lstm_cell(c_new="f * h + i * g")},
    "LSTM h_t = o * c_t": {"part": "lstm_cell", "code": _lstm_cell(h_new="o * c_t")},
    "LSTM returns (c, h)": {"part": "lstm_cell", "code": _lstm_cell(returned="c_t, h_t")},
    "LSTM state read as (c, h)": {"part": "lstm_cell", "code": _lstm_cell(unpack="c, h = state")},
    "LSTM cell calls torch.lstm_cell": {"part": "lstm_cell", "code": '''
def lstm_cell(x, state, W_ih, W_hh, b_ih, b_hh):
    return torch.lstm_cell(x, state, W_ih, W_hh, b_ih, b_hh)'''},

    # -- gru_cell ----------------------------------------------------------------------------------
    "GRU reset before the product (Cho et al.)": {"part": "gru_cell", "code": '''
def gru_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    x_r, x_z, x_n = (x @ W_ih.T + b_ih).chunk(3, dim=1)
    W_hr, W_hz, W_hn = W_hh.chunk(3, dim=0)
    b_hr, b_hz, b_hn = b_hh.chunk(3, dim=0)
    r = torch.sigmoid(x_r + h @ W_hr.T + b_hr)
    z = torch.sigmoid(x_z + h @ W_hz.T + b_hz)
    n = torch.tanh(x_n + (r * h) @ W_hn.T + b_hn)
    return z * h + (1 - z) * n'''},
    "GRU z and 1 - z exchanged": {"part": "gru_cell", "code": _gru_cell(h_new="(1 - z) * h + z * n")},
    "GRU b_hn outside the reset gate": {"part": "gru_cell", "code": _gru_cell(
        h_part="h @ W_hh.T", before="\n    h_r, h_z = h_r + b_hh[:h.shape[1]], h_z + b_hh[h.shape[1]:2 * h.shape[1]]",
        n_new="torch.tanh(x_n + r * h_n + b_hh[2 * h.shape[1]:])")},
    "GRU b_hh left out": {"part": "gru_cell", "code": _gru_cell(h_part="h @ W_hh.T")},
    "GRU r and z blocks swapped": {"part": "gru_cell", "code": _gru_cell(order="z, r, n")},
    "GRU sigmoid on n": {"part": "gru_cell", "code": _gru_cell(n_new="torch.sigmoid(x_n + r * h_n)")},
    "GRU without the reset gate": {"part": "gru_cell", "code": _gru_cell(n_new="torch.tanh(x_n + h_n)")},
    "GRU cell calls torch.gru_cell": {"part": "gru_cell", "code": '''
def gru_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    return torch.gru_cell(x, h, W_ih, W_hh, b_ih, b_hh)'''},
    "GRU b_ih left out": {"part": "gru_cell", "code": _gru_cell(x_part="x @ W_ih.T")},

    # -- lstm_forward ------------------------------------------------------------------------------
    "final state taken at the padded end": {"part": "lstm_forward", "code": _forward(
        hold="h, c = h_t, c_t", out="outputs.append(h * real)")},
    "output not zeroed past each end": {"part": "lstm_forward", "code": _forward(out="outputs.append(h)")},
    "initial state ignored": {"part": "lstm_forward", "code": _forward(start="h, c = x.new_zeros(B, H), x.new_zeros(B, H)")},
    "initial state read as (c_0, h_0)": {"part": "lstm_forward", "code": _forward(
        start="c, h = (x.new_zeros(B, H), x.new_zeros(B, H)) if state is None else state")},
    "h_n taken from output[:, -1]": {"part": "lstm_forward", "code": _forward(
        returned="torch.stack(outputs, dim=1), (outputs[-1], c)")},
    "lengths ignored": {"part": "lstm_forward", "code": _forward(
        hold="h, c = h_t, c_t", out="outputs.append(h)")},
    "time-major output": {"part": "lstm_forward", "code": _forward(returned="torch.stack(outputs, dim=0), (h, c)")},
    "h_n with nn.LSTM's layer dimension": {"part": "lstm_forward", "code": _forward(returned="torch.stack(outputs, dim=1), (h[None], c[None])")},
    "lstm_forward through nn.LSTM and packing": {"part": "lstm_forward", "code": '''
def lstm_forward(x, W_ih, W_hh, b_ih, b_hh, lengths=None, state=None):
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    B, T, I = x.shape
    lstm = nn.LSTM(I, W_hh.shape[1], batch_first=True, dtype=x.dtype)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(W_ih); lstm.weight_hh_l0.copy_(W_hh)
        lstm.bias_ih_l0.copy_(b_ih); lstm.bias_hh_l0.copy_(b_hh)
    lengths = torch.full((B,), T) if lengths is None else lengths
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, (h, c) = lstm(packed, None if state is None else (state[0][None], state[1][None]))
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=T)
    return out, (h[0], c[0])'''},

    # -- lstm_step_backward ------------------------------------------------------------------------
    "no path from h_t to c_t": {"part": "lstm_step_backward", "code": _backward(dc="dc")},
    "tanh' left out on the h_t to c_t path": {"part": "lstm_step_backward", "code": _backward(dc="dc + dh * o")},
    "do = dh * c": {"part": "lstm_step_backward", "code": _backward(do="dh * c")},
    "sigmoid' on g": {"part": "lstm_step_backward", "code": _backward(dg_prime="g * (1 - g)")},
    "df = dc * c_t": {"part": "lstm_step_backward", "code": _backward(df="dc * c")},
    "dc_prev from the upstream dc alone": {"part": "lstm_step_backward", "code": _backward(dc_prev="upstream_dc * f")},
    "db counted twice": {"part": "lstm_step_backward", "code": _backward(db="2 * da.sum(dim=0)")},
    "pre-activation gradients in the order i, f, o, g": {"part": "lstm_step_backward", "code": _backward(
        order="di * i * (1 - i), df * f * (1 - f), do * o * (1 - o), dg * {dg_prime}")},
    "dW_ih transposed": {"part": "lstm_step_backward", "code": _backward(dW_ih="x.T @ da")},
    "backward step with autograd": {"part": "lstm_step_backward", "code": '''
def lstm_step_backward(dh, dc, cache):
    x, h_prev, c_prev, i, f, g, o, c, W_ih, W_hh = cache
    leaves = [t.detach().clone().requires_grad_() for t in (x, h_prev, c_prev, W_ih, W_hh)]
    x, h_prev, c_prev, W_ih, W_hh = leaves
    b = torch.zeros(W_ih.shape[0], dtype=x.dtype, requires_grad=True)
    a_i, a_f, a_g, a_o = (x @ W_ih.T + h_prev @ W_hh.T + b).chunk(4, dim=1)
    c_t = torch.sigmoid(a_f) * c_prev + torch.sigmoid(a_i) * torch.tanh(a_g)
    h_t = torch.sigmoid(a_o) * torch.tanh(c_t)
    return torch.autograd.grad((h_t * dh).sum() + (c_t * dc).sum(), leaves + [b])'''},

    # -- to_torch_gate_order -----------------------------------------------------------------------
    "gate order unchanged": {"part": "to_torch_gate_order", "code": _order("    return W.clone()")},
    "i and f swapped instead of g and o": {"part": "to_torch_gate_order", "code": _order(
        "    i, f, o, g = W.chunk(4, dim=0)\n    return torch.cat([f, i, o, g], dim=0)")},
    "blocks of columns": {"part": "to_torch_gate_order", "code": _order(
        "    i, f, o, g = W.chunk(4, dim=-1)\n    return torch.cat([i, f, g, o], dim=-1)")},
    "interleaved rows": {"part": "to_torch_gate_order", "code": _order(
        "    H = W.shape[0] // 4\n    return W.reshape(H, 4, *W.shape[1:])[:, [0, 1, 3, 2]].reshape(W.shape)")},
    "blocks reversed": {"part": "to_torch_gate_order", "code": _order(
        "    i, f, o, g = W.chunk(4, dim=0)\n    return torch.cat([g, o, f, i], dim=0)")},
    "detached": {"part": "to_torch_gate_order", "code": _order(
        "    i, f, o, g = W.detach().chunk(4, dim=0)\n    return torch.cat([i, f, g, o], dim=0)")},
    "a numpy array": {"part": "to_torch_gate_order", "code": _order(
        "    i, f, o, g = W.detach().numpy().reshape(4, -1)\n    import numpy as np\n"
        "    return np.concatenate([i, f, g, o]).reshape(W.shape)")},
    "H from the number of columns": {"part": "to_torch_gate_order", "code": _order(
        "    H = W.shape[-1] // 4 if W.dim() == 2 else W.shape[0] // 4\n"
        "    return torch.cat([W[:2 * H], W[3 * H:4 * H], W[2 * H:3 * H], W[4 * H:]], dim=0)")},
    "swapped in place": {"part": "to_torch_gate_order", "code": _order(
        "    H = W.shape[0] // 4\n    W[2 * H:3 * H], W[3 * H:] = W[3 * H:].clone(), W[2 * H:3 * H].clone()\n    return W")},

    # -- train_adding ------------------------------------------------------------------------------
    "learning rate far too small": {"part": "train_adding", "code": _training(lr="0.0001")},
    "optimizer never steps": {"part": "train_adding", "code": _training(step="pass")},
    "loss maximised": {"part": "train_adding", "code": _training(backward="(-loss).backward()")},
    "learning rate far too large": {"part": "train_adding", "code": _training(lr="1.0")},
    "targets shuffled apart from the inputs": {"part": "train_adding", "code": _training(
        target_rows="targets[torch.randperm(len(targets))[:len(rows)]]")},
    "targets broadcast against (B, 1)": {"part": "train_adding", "code": _training(target_rows="targets[rows][:, None]")},
    "only the output layer trained": {"part": "train_adding", "code": _training(parameters="model.output.parameters()")},
    "a fresh model returned": {"part": "train_adding", "code": _training(returned="AddingLSTM()")},
    "one batch repeated": {"part": "train_adding", "code": _training(rows="torch.arange(64)", epochs="2")},
}


RIGHT = {
    # -- lstm_cell ---------------------------------------------------------------------------------
    "LSTM cell with the weights sliced per gate": {"part": "lstm_cell", "code": '''
def lstm_cell(x, state, W_ih, W_hh, b_ih, b_hh):
    h, c = state
    H = h.shape[1]
    def gate(k):
        rows = slice(k * H, (k + 1) * H)
        return x @ W_ih[rows].T + b_ih[rows] + h @ W_hh[rows].T + b_hh[rows]
    i, f, g, o = torch.sigmoid(gate(0)), torch.sigmoid(gate(1)), torch.tanh(gate(2)), torch.sigmoid(gate(3))
    c_new = f * c + i * g
    return o * torch.tanh(c_new), c_new'''},
    "LSTM cell with F.linear": {"part": "lstm_cell", "code": '''
def lstm_cell(x, state, W_ih, W_hh, b_ih, b_hh):
    h, c = state
    gates = F.linear(x, W_ih, b_ih) + F.linear(h, W_hh, b_hh)
    H = h.shape[1]
    i, f, o = (torch.sigmoid(gates[:, k * H:(k + 1) * H]) for k in (0, 1, 3))
    g = torch.tanh(gates[:, 2 * H:3 * H])
    c = torch.addcmul(f * c, i, g)
    h = o * torch.tanh(c)
    return h, c'''},
    "LSTM cell with einsum and a hand-written sigmoid": {"part": "lstm_cell", "code": '''
def lstm_cell(x, state, W_ih, W_hh, b_ih, b_hh):
    h, c = state
    a = torch.einsum("bi,gi->bg", x, W_ih) + torch.einsum("bh,gh->bg", h, W_hh) + (b_ih + b_hh)
    a = a.view(x.shape[0], 4, -1)
    sigma = lambda v: 0.5 * (1 + torch.tanh(v / 2))
    i, f, g, o = sigma(a[:, 0]), sigma(a[:, 1]), torch.tanh(a[:, 2]), sigma(a[:, 3])
    c_t = f * c + i * g
    return o * torch.tanh(c_t), c_t'''},

    # -- gru_cell ----------------------------------------------------------------------------------
    "GRU cell with the weights sliced per gate": {"part": "gru_cell", "code": '''
def gru_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    H = h.shape[1]
    W_ir, W_iz, W_in = W_ih[:H], W_ih[H:2 * H], W_ih[2 * H:]
    W_hr, W_hz, W_hn = W_hh[:H], W_hh[H:2 * H], W_hh[2 * H:]
    r = torch.sigmoid(x @ W_ir.T + b_ih[:H] + h @ W_hr.T + b_hh[:H])
    z = torch.sigmoid(x @ W_iz.T + b_ih[H:2 * H] + h @ W_hz.T + b_hh[H:2 * H])
    n = torch.tanh(x @ W_in.T + b_ih[2 * H:] + r * (h @ W_hn.T + b_hh[2 * H:]))
    return (1 - z) * n + z * h'''},
    "GRU cell with F.linear and an interpolation": {"part": "gru_cell", "code": '''
def gru_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    gi = F.linear(x, W_ih, b_ih)
    gh = F.linear(h, W_hh, b_hh)
    H = h.shape[1]
    rz = torch.sigmoid(gi[:, :2 * H] + gh[:, :2 * H])
    r, z = rz[:, :H], rz[:, H:]
    n = torch.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
    return torch.lerp(n, h, z)'''},
    "GRU cell with einsum": {"part": "gru_cell", "code": '''
def gru_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    gi = (torch.einsum("bi,gi->bg", x, W_ih) + b_ih).view(x.shape[0], 3, -1)
    gh = (torch.einsum("bh,gh->bg", h, W_hh) + b_hh).view(h.shape[0], 3, -1)
    r = torch.sigmoid(gi[:, 0] + gh[:, 0])
    z = torch.sigmoid(gi[:, 1] + gh[:, 1])
    n = torch.tanh(gi[:, 2] + r * gh[:, 2])
    return n + z * (h - n)'''},

    # -- lstm_forward ------------------------------------------------------------------------------
    "lstm_forward one sequence at a time": {"part": "lstm_forward", "code": '''
def lstm_forward(x, W_ih, W_hh, b_ih, b_hh, lengths=None, state=None):
    def step(x_t, h, c):
        i, f, g, o = (x_t @ W_ih.T + b_ih + h @ W_hh.T + b_hh).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c
    B, T, _ = x.shape
    H = W_hh.shape[1]
    outputs, finals_h, finals_c = [], [], []
    for b in range(B):
        n = T if lengths is None else int(lengths[b])
        h = x.new_zeros(1, H) if state is None else state[0][b:b + 1]
        c = x.new_zeros(1, H) if state is None else state[1][b:b + 1]
        states = []
        for t in range(n):
            h, c = step(x[b:b + 1, t], h, c)
            states.append(h)
        states.append(x.new_zeros(T - n, H))
        outputs.append(torch.cat(states, dim=0))
        finals_h.append(h)
        finals_c.append(c)
    return torch.stack(outputs), (torch.cat(finals_h), torch.cat(finals_c))'''},
    "lstm_forward with float masks": {"part": "lstm_forward", "code": '''
def lstm_forward(x, W_ih, W_hh, b_ih, b_hh, lengths=None, state=None):
    def step(x_t, h, c):
        i, f, g, o = (x_t @ W_ih.T + b_ih + h @ W_hh.T + b_hh).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c
    B, T, _ = x.shape
    H = W_hh.shape[1]
    if state is None:
        state = (x.new_zeros(B, H), x.new_zeros(B, H))
    h, c = state
    n = torch.full((B,), T) if lengths is None else lengths
    mask = (torch.arange(T)[None, :] < n[:, None]).to(x.dtype)        # (B, T)
    out = x.new_zeros(B, T, H)
    for t in range(T):
        m = mask[:, t:t + 1]
        h_new, c_new = step(x[:, t], h, c)
        h = m * h_new + (1 - m) * h
        c = m * c_new + (1 - m) * c
        out = out + (m * h)[:, None, :] * torch.nn.functional.one_hot(torch.tensor(t), T).to(x.dtype)[None, :, None]
    return out, (h, c)'''},
    "lstm_forward with the final states gathered at lengths - 1": {"part": "lstm_forward", "code": '''
def lstm_forward(x, W_ih, W_hh, b_ih, b_hh, lengths=None, state=None):
    def step(x_t, h, c):
        i, f, g, o = (x_t @ W_ih.T + b_ih + h @ W_hh.T + b_hh).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c
    B, T, _ = x.shape
    H = W_hh.shape[1]
    h = torch.zeros(B, H, dtype=x.dtype) if state is None else state[0]
    c = torch.zeros(B, H, dtype=x.dtype) if state is None else state[1]
    hs, cs = [], []
    for t in range(T):
        h, c = step(x[:, t], h, c)
        hs.append(h)
        cs.append(c)
    hs, cs = torch.stack(hs, 1), torch.stack(cs, 1)
    if lengths is None:
        return hs, (hs[:, -1], cs[:, -1])
    last = (lengths - 1).view(B, 1, 1).expand(B, 1, H)
    real = torch.arange(T)[None, :, None] < lengths[:, None, None]
    return hs.masked_fill(~real, 0.0), (hs.gather(1, last)[:, 0], cs.gather(1, last)[:, 0])'''},

    # -- lstm_step_backward ------------------------------------------------------------------------
    "backward step with the gradients per gate": {"part": "lstm_step_backward", "code": '''
def lstm_step_backward(dh, dc, cache):
    x, h_prev, c_prev, i, f, g, o, c, W_ih, W_hh = cache
    dc_total = dc + dh * o * (1 - torch.tanh(c) ** 2)
    d_i = dc_total * g * i * (1 - i)
    d_f = dc_total * c_prev * f * (1 - f)
    d_g = dc_total * i * (1 - g * g)
    d_o = dh * torch.tanh(c) * o * (1 - o)
    H = dh.shape[1]
    dx = sum(d @ W_ih[k * H:(k + 1) * H] for k, d in enumerate((d_i, d_f, d_g, d_o)))
    dh_prev = sum(d @ W_hh[k * H:(k + 1) * H] for k, d in enumerate((d_i, d_f, d_g, d_o)))
    dW_ih = torch.cat([d.T @ x for d in (d_i, d_f, d_g, d_o)])
    dW_hh = torch.cat([d.T @ h_prev for d in (d_i, d_f, d_g, d_o)])
    db = torch.cat([d.sum(0) for d in (d_i, d_f, d_g, d_o)])
    return dx, dh_prev, dc_total * f, dW_ih, dW_hh, db'''},
    "backward step with einsum": {"part": "lstm_step_backward", "code": '''
def lstm_step_backward(dh, dc, cache):
    x, h_prev, c_prev, i, f, g, o, c, W_ih, W_hh = cache
    t = torch.tanh(c)
    dct = dh * o * (1 - t * t) + dc
    da = torch.stack([dct * g * i * (1 - i), dct * c_prev * f * (1 - f), dct * i * (1 - g * g),
                      dh * t * o * (1 - o)], dim=1).reshape(dh.shape[0], -1)
    return (torch.einsum("bg,gi->bi", da, W_ih), torch.einsum("bg,gh->bh", da, W_hh), dct * f,
            torch.einsum("bg,bi->gi", da, x), torch.einsum("bg,bh->gh", da, h_prev), da.sum(0))'''},
    "backward step with the candidate's pre-activation recomputed": {"part": "lstm_step_backward", "code": '''
def lstm_step_backward(dh, dc, cache):
    x, h_prev, c_prev, i, f, g, o, c, W_ih, W_hh = cache
    a_g = torch.atanh(g.clamp(-1 + 1e-300, 1 - 1e-16))
    dc = dc + dh * o / torch.cosh(c) ** 2
    sig_prime = lambda s: s - s * s
    da = torch.cat([dc * g * sig_prime(i), dc * c_prev * sig_prime(f), dc * i / torch.cosh(a_g) ** 2,
                    dh * torch.tanh(c) * sig_prime(o)], dim=1)
    return da.mm(W_ih), da.mm(W_hh), f * dc, da.t().mm(x), da.t().mm(h_prev), da.sum(dim=0)'''},

    # -- to_torch_gate_order -----------------------------------------------------------------------
    "gate order by an index permutation": {"part": "to_torch_gate_order", "code": _order(
        "    H = W.shape[0] // 4\n    index = torch.cat([torch.arange(0, 2 * H), torch.arange(3 * H, 4 * H), "
        "torch.arange(2 * H, 3 * H)])\n    return W[index]")},
    "gate order by slices": {"part": "to_torch_gate_order", "code": _order(
        "    H = len(W) // 4\n    return torch.cat((W[:2 * H], W[3 * H:], W[2 * H:3 * H]))")},
    "gate order by a view as blocks": {"part": "to_torch_gate_order", "code": _order(
        "    blocks = W.reshape(4, W.shape[0] // 4, *W.shape[1:])\n    return blocks[[0, 1, 3, 2]].reshape(W.shape)")},

    # -- train_adding ------------------------------------------------------------------------------
    "training on batches in order, three passes": {"part": "train_adding", "code": '''
def train_adding(inputs, targets, seed):
    torch.manual_seed(seed)
    model = AddingLSTM()
    H = model.lstm.hidden_size
    with torch.no_grad():
        model.lstm.bias_hh_l0[H:2 * H] += 1.0 - model.lstm.bias_hh_l0[H:2 * H] - model.lstm.bias_ih_l0[H:2 * H]
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for epoch in range(3):
        for start in range(0, len(inputs), 64):
            prediction = model(inputs[start:start + 64])
            loss = ((prediction - targets[start:start + 64]) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
    return model'''},
    "training with larger batches and a step schedule": {"part": "train_adding", "code": _training(
        lr="0.02", epochs="3", rows="order[start:start + 64]")},
    "training with a forget bias of 2": {"part": "train_adding", "code": _training(forget="2.0", epochs="3")},
}
