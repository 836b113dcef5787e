"""Answers to assignment 03 written the way students write them, for the tests of the checks.

WRONG: plausible wrong answers, at least eight per part; tests/test_wrong_answers.py asserts that
each one fails its part's check and passes every other part, and ``make course`` grades the
first one as the demo class's "typical bug".
RIGHT: right answers written differently from the solution (another loop order, vectorised
against looped, float64 inside, numpy where the contract allows it), at least three per part;
each must pass every case of its part.
Both: {name: {"part": grade_id of the answer cell, "code": the source of that cell}}.
"""


def _training(steps=150, lr="0.01", target="window[:, 1:]", loss="F.cross_entropy(flat_logits, flat_targets)",
              data="ids", update="optimizer.step()", returned="model", backward="loss.backward()",
              draw="starts = torch.randint(0, len(data) - T - 1, (B,))", drawn_once="pass"):
    """The solution's training loop with one of its pieces replaced (a wrong answer's mistake)."""
    return f'''
def train_char_lm(ids, vocab_size, seed):
    torch.manual_seed(seed)
    model = CharRNN(vocab_size)
    optimizer = torch.optim.Adam(model.parameters(), lr={lr})
    data = {data}
    B, T = 16, 32
    {drawn_once}
    for step in range({steps}):
        {draw}
        window = torch.stack([data[s:s + T + 1] for s in starts])
        logits, _ = model(window[:, :-1])
        flat_logits, flat_targets = logits.reshape(-1, vocab_size), {target}.reshape(-1)
        loss = {loss}
        optimizer.zero_grad()
        {backward}
        {update}
    return {returned}'''


def _forward(step="h = torch.tanh(x[:, t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh)", keep="states.append(h)",
             start="x.new_zeros(B, W_hh.shape[0]) if h0 is None else h0", stacked="torch.stack(states, dim=1)"):
    """The solution's loop over time with one of its lines replaced (a wrong answer's mistake)."""
    return f'''
def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh):
    B, T, _ = x.shape
    h = {start}
    states = []
    for t in range(T):
        {step}
        {keep}
    return {stacked}'''


def _sampler(probs="torch.softmax(logits / temperature, dim=-1)",
             draw="torch.multinomial(probs, num_samples=1, generator=generator).squeeze(1)"):
    """The solution's sampler with one of its lines replaced (a wrong answer's mistake)."""
    return f'''
def sample_next(logits, temperature, generator):
    probs = {probs}
    return {draw}'''


def _parity(w_y="[1.0, 1.0]", w_x="[1.0, 1.0]", b_h="[-0.5, -1.5]", w_out="[1.0, -1.0]", b_out="-0.5"):
    return f'''
def parity_weights():
    return {{"w_y": {w_y}, "w_x": {w_x}, "b_h": {b_h}, "w_out": {w_out}, "b_out": {b_out}}}'''


_LOSS_HEAD = '''
def lm_loss(model, tokens, pad_id):
    logits, _ = model(tokens[:, :-1])
    targets = tokens[:, 1:].masked_fill(tokens[:, 1:] == pad_id, -100)
'''

WRONG = {
    # -- rnn_cell ------------------------------------------------------------------------------
    "tanh missing": {"part": "rnn_cell", "code": '''
def rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    return x @ W_ih.T + b_ih + h @ W_hh.T + b_hh'''},
    "W_ih and W_hh swapped": {"part": "rnn_cell", "code": '''
def rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    return torch.tanh(x @ W_hh.T + b_ih + h @ W_ih.T + b_hh)'''},
    "previous state ignored": {"part": "rnn_cell", "code": '''
def rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    return torch.tanh(x @ W_ih.T + b_ih + b_hh)'''},
    "b_hh left out": {"part": "rnn_cell", "code": '''
def rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    return torch.tanh(x @ W_ih.T + b_ih + h @ W_hh.T)'''},
    "sigmoid instead of tanh": {"part": "rnn_cell", "code": '''
def rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    return torch.sigmoid(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)'''},
    "weights not transposed": {"part": "rnn_cell", "code": '''
def rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    return torch.tanh(W_ih @ x.T + b_ih[:, None] + W_hh @ h.T + b_hh[:, None])'''},
    "ReLU instead of tanh": {"part": "rnn_cell", "code": '''
def rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    return torch.relu(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)'''},
    "computed in numpy (no gradient)": {"part": "rnn_cell", "code": '''
def rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    import numpy as np
    x, h, W_ih, W_hh, b_ih, b_hh = (a.detach().numpy() for a in (x, h, W_ih, W_hh, b_ih, b_hh))
    return torch.from_numpy(np.tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh))'''},
    "state detached inside the cell": {"part": "rnn_cell", "code": '''
def rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    return torch.tanh(x @ W_ih.T + b_ih + h.detach() @ W_hh.T + b_hh)'''},

    # -- rnn_forward ---------------------------------------------------------------------------
    "h_0 not zero": {"part": "rnn_forward", "code": _forward(start="x.new_ones(B, W_hh.shape[0]) if h0 is None else h0")},
    "given h0 ignored": {"part": "rnn_forward", "code": _forward(start="x.new_zeros(B, W_hh.shape[0])")},
    "states shifted by one step (h_0 ... h_{T-1})": {"part": "rnn_forward", "code": _forward(
        step="states.append(h)", keep="h = torch.tanh(x[:, t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh)")},
    "state never carried": {"part": "rnn_forward", "code": _forward(
        step="h_t = torch.tanh(x[:, t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh)", keep="states.append(h_t)")},
    "time-major output (T, B, H)": {"part": "rnn_forward", "code": _forward(stacked="torch.stack(states)")},
    "loop over the batch dimension": {"part": "rnn_forward", "code": '''
def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh):
    h = x.new_zeros(x.shape[1], W_hh.shape[0]) if h0 is None else h0
    states = []
    for x_t in x:
        h = torch.tanh(x_t @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
        states.append(h)
    return torch.stack(states, dim=0)'''},
    "state detached at every step": {"part": "rnn_forward", "code": _forward(
        step="h = torch.tanh(x[:, t] @ W_ih.T + b_ih + h.detach() @ W_hh.T + b_hh)")},
    "states stacked in reverse order": {"part": "rnn_forward", "code": _forward(keep="states.insert(0, h)")},
    "only the last state, repeated": {"part": "rnn_forward", "code": _forward(
        stacked="h[:, None].expand(B, T, h.shape[1])")},
    "state copied into a new tensor each step": {"part": "rnn_forward", "code": _forward(
        keep="states.append(h)\n        h = torch.tensor(h.tolist(), dtype=h.dtype)")},

    # -- parity_weights ------------------------------------------------------------------------
    "parity computes OR": {"part": "parity_weights", "code": _parity(w_out="[1.0, 0.0]")},
    "thresholds on the values (AND)": {"part": "parity_weights", "code": _parity(b_h="[-1.0, -2.0]")},
    "no feedback from y_{t-1}": {"part": "parity_weights", "code": _parity(w_y="[0.0, 0.0]")},
    "output weights with the wrong signs": {"part": "parity_weights", "code": _parity(w_out="[-1.0, 1.0]")},
    "both hidden units OR": {"part": "parity_weights", "code": _parity(b_h="[-0.5, -0.5]")},
    "output bias too low": {"part": "parity_weights", "code": _parity(b_out="-1.5")},
    "XNOR (output inverted)": {"part": "parity_weights", "code": _parity(w_out="[-1.0, 1.0]", b_out="0.5")},
    "b_out left out": {"part": "parity_weights", "code": '''
def parity_weights():
    return {"w_y": [1.0, 1.0], "w_x": [1.0, 1.0], "b_h": [-0.5, -1.5], "w_out": [1.0, -1.0]}'''},
    "one bias per unit and row (b_h of shape (2, 2))": {"part": "parity_weights", "code": _parity(
        b_h="[[-0.5, -1.5], [-0.5, -1.5]]")},

    # -- lm_loss -------------------------------------------------------------------------------
    "targets not shifted": {"part": "lm_loss", "code": '''
def lm_loss(model, tokens, pad_id):
    inputs = tokens[:, :-1]
    logits, _ = model(inputs)
    targets = inputs.masked_fill(inputs == pad_id, -100)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)'''},
    "logits shifted by one step": {"part": "lm_loss", "code": '''
def lm_loss(model, tokens, pad_id):
    logits, _ = model(tokens)
    targets = tokens[:, 1:].masked_fill(tokens[:, 1:] == pad_id, -100)
    return F.cross_entropy(logits[:, 1:].reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)'''},
    "padding counted in the loss": {"part": "lm_loss", "code": '''
def lm_loss(model, tokens, pad_id):
    logits, _ = model(tokens[:, :-1])
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1))'''},
    "sum instead of mean": {"part": "lm_loss", "code": _LOSS_HEAD + '''
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100,
                           reduction="sum")'''},
    "nll_loss on raw logits": {"part": "lm_loss", "code": _LOSS_HEAD + '''
    return F.nll_loss(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)'''},
    "returns loss.item()": {"part": "lm_loss", "code": _LOSS_HEAD + '''
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100).item()'''},
    "padding masked but divided by every position": {"part": "lm_loss", "code": _LOSS_HEAD + '''
    total = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100,
                            reduction="sum")
    return total / targets.numel()'''},
    "mean of the per-sequence means": {"part": "lm_loss", "code": '''
def lm_loss(model, tokens, pad_id):
    logits, _ = model(tokens[:, :-1])
    targets = tokens[:, 1:]
    nll = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
    real = (targets != pad_id).to(nll.dtype)
    return ((nll * real).sum(1) / real.sum(1)).mean()'''},
    "softmax by hand: exp overflows": {"part": "lm_loss", "code": '''
def lm_loss(model, tokens, pad_id):
    logits, _ = model(tokens[:, :-1])
    targets = tokens[:, 1:]
    probs = torch.exp(logits) / torch.exp(logits).sum(-1, keepdim=True)
    picked = probs.gather(2, targets[..., None])[..., 0]
    real = targets != pad_id
    return -torch.log(picked[real]).mean()'''},
    "log of the product of each sequence's probabilities": {"part": "lm_loss", "code": '''
def lm_loss(model, tokens, pad_id):
    logits, _ = model(tokens[:, :-1])
    targets = tokens[:, 1:]
    probs = torch.softmax(logits, -1).gather(2, targets[..., None])[..., 0]
    real = targets != pad_id
    probs = torch.where(real, probs, torch.ones_like(probs))
    return -torch.log(probs.prod(dim=1)).sum() / real.sum()'''},
    "normaliser detached": {"part": "lm_loss", "code": '''
def lm_loss(model, tokens, pad_id):
    logits, _ = model(tokens[:, :-1])
    targets = tokens[:, 1:]
    log_probs = logits - torch.logsumexp(logits, -1, keepdim=True).detach()
    nll = -log_probs.gather(2, targets[..., None])[..., 0]
    real = targets != pad_id
    return nll[real].mean()'''},

    # -- sample_next ---------------------------------------------------------------------------
    "temperature applied after softmax": {"part": "sample_next", "code": _sampler(
        probs="torch.softmax(torch.softmax(logits, dim=-1) / temperature, dim=-1)")},
    "temperature multiplies the logits": {"part": "sample_next", "code": _sampler(
        probs="torch.softmax(logits * temperature, dim=-1)")},
    "greedy argmax": {"part": "sample_next", "code": _sampler(draw="probs.argmax(dim=-1)")},
    "generator not used": {"part": "sample_next", "code": _sampler(
        draw="torch.multinomial(probs, num_samples=1).squeeze(1)")},
    "softmax over the batch": {"part": "sample_next", "code": _sampler(probs="torch.softmax(logits / temperature, dim=0)")},
    "ids of shape (B, 1)": {"part": "sample_next", "code": _sampler(
        draw="torch.multinomial(probs, num_samples=1, generator=generator)")},
    "unnormalised exp(z / T) overflows": {"part": "sample_next", "code": _sampler(
        probs="torch.exp(logits / temperature)\n    probs = probs / probs.sum(dim=-1, keepdim=True)")},
    "generator reseeded with a constant": {"part": "sample_next", "code": _sampler(
        draw="torch.multinomial(probs, num_samples=1, generator=generator.manual_seed(0)).squeeze(1)")},
    "squeeze() of a single row": {"part": "sample_next", "code": _sampler(
        draw="torch.multinomial(probs, num_samples=1, generator=generator).squeeze()")},
    "ids converted to int32": {"part": "sample_next", "code": _sampler(
        draw="torch.multinomial(probs, num_samples=1, generator=generator).squeeze(1).int()")},

    # -- train_char_lm -------------------------------------------------------------------------
    "char LM trained to predict the current character": {"part": "train_char_lm", "code": _training(
        target="window[:, :-1]")},
    "optimizer.step() missing": {"part": "train_char_lm", "code": _training(update="pass")},
    "learning rate far too small": {"part": "train_char_lm", "code": _training(lr="1e-5")},
    "loss maximised": {"part": "train_char_lm", "code": _training(backward="(-loss).backward()")},
    "far too few steps": {"part": "train_char_lm", "code": _training(steps=3)},
    "trained on the first 150 characters only": {"part": "train_char_lm", "code": _training(
        data="ids[:150]", steps=300)},
    "the same windows at every step": {"part": "train_char_lm", "code": _training(
        drawn_once="starts = torch.randint(0, len(data) - T - 1, (B,))", draw="pass", steps=300)},
    "returns a fresh, untrained model": {"part": "train_char_lm", "code": _training(returned="CharRNN(vocab_size)")},
    "returns the state_dict": {"part": "train_char_lm", "code": _training(returned="model.state_dict()")},
    "softmax before cross_entropy": {"part": "train_char_lm", "code": _training(
        loss="F.cross_entropy(torch.softmax(flat_logits, dim=-1), flat_targets)")},
    "learning rate far too large": {"part": "train_char_lm", "code": _training(lr="5.0")},
}


RIGHT = {
    # -- rnn_cell ------------------------------------------------------------------------------
    "F.linear for both products": {"part": "rnn_cell", "code": '''
def rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    return torch.tanh(F.linear(x, W_ih, b_ih) + F.linear(h, W_hh, b_hh))'''},
    "one product with the concatenated weights": {"part": "rnn_cell", "code": '''
def rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    W = torch.cat([W_ih, W_hh], dim=1)                 # (H, I + H)
    return torch.tanh(torch.cat([x, h], dim=1) @ W.T + (b_ih + b_hh))'''},
    "einsum, column vectors": {"part": "rnn_cell", "code": '''
def rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    pre = torch.einsum("hi,bi->bh", W_ih, x) + torch.einsum("hk,bk->bh", W_hh, h)
    return torch.tanh(pre + b_ih + b_hh)'''},
    "tanh written with exp": {"part": "rnn_cell", "code": '''
def rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    a = torch.addmm(b_ih, x, W_ih.t()) + torch.addmm(b_hh, h, W_hh.t())
    return 1 - 2 / (torch.exp(2 * a) + 1)'''},

    # -- rnn_forward ---------------------------------------------------------------------------
    "input projections of all steps at once": {"part": "rnn_forward", "code": '''
def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh):
    B, T, _ = x.shape
    projected = x @ W_ih.T + b_ih                      # (B, T, H): x_t W_ih^T + b_ih for every t
    h = projected.new_zeros(B, W_hh.shape[0]) if h0 is None else h0
    states = []
    for x_t in projected.unbind(dim=1):
        h = torch.tanh(x_t + h @ W_hh.T + b_hh)
        states.append(h)
    return torch.stack(states, dim=1)'''},
    "written into a preallocated output": {"part": "rnn_forward", "code": '''
def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh):
    B, T, _ = x.shape
    H = W_hh.shape[0]
    out = x.new_empty(B, T, H)
    h = torch.zeros(B, H, dtype=x.dtype) if h0 is None else h0
    for t in range(T):
        h = torch.tanh(F.linear(x[:, t], W_ih, b_ih) + F.linear(h, W_hh, b_hh))
        out[:, t] = h
    return out'''},
    "time-major loop, transposed back": {"part": "rnn_forward", "code": '''
def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh):
    steps = x.transpose(0, 1)                          # (T, B, I)
    h = torch.zeros(x.shape[0], W_hh.shape[0], dtype=x.dtype) if h0 is None else h0
    outputs = []
    for x_t in steps:
        h = torch.tanh(x_t @ W_ih.T + h @ W_hh.T + (b_ih + b_hh))
        outputs.append(h)
    return torch.stack(outputs).transpose(0, 1)'''},

    # -- parity_weights ------------------------------------------------------------------------
    "other thresholds": {"part": "parity_weights", "code": _parity(b_h="[-0.2, -1.8]", b_out="-0.9")},
    "AND first, then OR, as numpy arrays": {"part": "parity_weights", "code": '''
def parity_weights():
    import numpy as np
    return {"w_y": np.array([1.0, 1.0]), "w_x": np.array([1.0, 1.0]), "b_h": np.array([-1.5, -0.5]),
            "w_out": np.array([-1.0, 1.0]), "b_out": np.float64(-0.5)}'''},
    "OR and NAND into AND, as tensors": {"part": "parity_weights", "code": '''
def parity_weights():
    return {"w_y": torch.tensor([2.0, -2.0]), "w_x": torch.tensor([2.0, -2.0]), "b_h": torch.tensor([-1.0, 3.0]),
            "w_out": torch.tensor([1.0, 1.0]), "b_out": torch.tensor(-1.5)}'''},
    "integers, b_out as a one-element list": {"part": "parity_weights", "code": _parity(
        w_y="[2, 2]", w_x="[2, 2]", b_h="[-1, -3]", w_out="[1, -1]", b_out="[-0.5]")},

    # -- lm_loss -------------------------------------------------------------------------------
    "log_softmax, gather and a mask": {"part": "lm_loss", "code": '''
def lm_loss(model, tokens, pad_id):
    logits, _ = model(tokens[:, :-1])
    targets = tokens[:, 1:]
    log_probs = F.log_softmax(logits, dim=-1).gather(2, targets.unsqueeze(-1)).squeeze(-1)   # (B, T-1)
    mask = targets != pad_id
    return -(log_probs * mask).sum() / mask.sum()'''},
    "ignore_index=pad_id, logits (B, V, T)": {"part": "lm_loss", "code": '''
def lm_loss(model, tokens, pad_id):
    logits, _ = model(tokens[:, :-1])
    return nn.CrossEntropyLoss(ignore_index=pad_id)(logits.transpose(1, 2), tokens[:, 1:])'''},
    "float64 inside, real positions selected": {"part": "lm_loss", "code": '''
def lm_loss(model, tokens, pad_id):
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    logits, _ = model(inputs)
    real = targets != pad_id
    return F.cross_entropy(logits[real].double(), targets[real]).to(logits.dtype)'''},
    "logsumexp minus the target's logit, summed per sequence": {"part": "lm_loss", "code": '''
def lm_loss(model, tokens, pad_id):
    logits, _ = model(tokens[:, :-1])
    targets = tokens[:, 1:]
    nll = torch.logsumexp(logits, dim=-1) - logits.gather(-1, targets[..., None])[..., 0]
    real = (targets != pad_id).to(logits.dtype)
    total, count = 0.0, 0.0
    for b in range(tokens.shape[0]):
        total = total + (nll[b] * real[b]).sum()
        count = count + real[b].sum()
    return total / count'''},

    # -- sample_next ---------------------------------------------------------------------------
    "Gumbel-max": {"part": "sample_next", "code": '''
def sample_next(logits, temperature, generator):
    u = torch.rand(logits.shape, generator=generator, dtype=torch.float64).clamp(min=1e-300)
    gumbel = -torch.log(-torch.log(u))
    return (logits.double() / temperature + gumbel).argmax(dim=-1)'''},
    "inverse CDF": {"part": "sample_next", "code": '''
def sample_next(logits, temperature, generator):
    probs = torch.softmax(logits.double() / temperature, dim=-1)
    cdf = probs.cumsum(dim=-1)
    u = torch.rand(logits.shape[0], 1, generator=generator, dtype=torch.float64) * cdf[:, -1:]
    ids = (cdf < u).sum(dim=-1)
    return ids.clamp(max=logits.shape[-1] - 1)'''},
    "stable softmax by hand, float64": {"part": "sample_next", "code": '''
def sample_next(logits, temperature, generator):
    z = logits.double() / temperature
    z = z - z.max(dim=-1, keepdim=True).values          # exp(z - max) never overflows
    p = torch.exp(z)
    p = p / p.sum(dim=-1, keepdim=True)
    return torch.multinomial(p, 1, generator=generator)[:, 0]'''},

    # -- train_char_lm -------------------------------------------------------------------------
    "truncated BPTT over one stream, state carried": {"part": "train_char_lm", "code": '''
def train_char_lm(ids, vocab_size, seed):
    torch.manual_seed(seed)
    model = CharRNN(vocab_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    B, T = 16, 25
    n = (len(ids) - 1) // B
    inputs = ids[: n * B].view(B, n)                   # B parallel streams
    targets = ids[1: n * B + 1].view(B, n)
    for epoch in range(8):
        state = None
        for start in range(0, n - T + 1, T):
            logits, state = model(inputs[:, start:start + T], state)
            state = state.detach()                     # truncated backpropagation through time
            loss = F.cross_entropy(logits.reshape(-1, vocab_size), targets[:, start:start + T].reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model'''},
    "a larger hidden state, fewer steps": {"part": "train_char_lm", "code": _training(steps=100).replace(
        "CharRNN(vocab_size)", "CharRNN(vocab_size, hidden_size=128)")},
    "RMSprop, gradient clipping, all windows in random order": {"part": "train_char_lm", "code": '''
def train_char_lm(ids, vocab_size, seed):
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = CharRNN(vocab_size)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=0.005)
    T = 40
    windows = ids[: (len(ids) - 1) // T * T + 1].unfold(0, T + 1, T)    # (N / T, T + 1), overlapping by one
    for epoch in range(3):
        for batch in torch.randperm(len(windows), generator=generator).split(16):
            window = windows[batch]
            logits, _ = model(window[:, :-1])
            loss = F.cross_entropy(logits.transpose(1, 2), window[:, 1:])
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
    return model'''},
}
