"""Plausible wrong answers to assignment 03, at least five per part. The pipeline test grades
each one and asserts it loses exactly the points of ``part`` and keeps all others; ``make
course`` grades the first as the demo class's "typical bug"."""

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

    # -- rnn_forward ---------------------------------------------------------------------------
    "h_0 not zero": {"part": "rnn_forward", "code": '''
def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh):
    B, T, _ = x.shape
    h = x.new_ones(B, W_hh.shape[0]) if h0 is None else h0
    states = []
    for t in range(T):
        h = torch.tanh(x[:, t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
        states.append(h)
    return torch.stack(states, dim=1)'''},
    "given h0 ignored": {"part": "rnn_forward", "code": '''
def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh):
    B, T, _ = x.shape
    h = x.new_zeros(B, W_hh.shape[0])
    states = []
    for t in range(T):
        h = torch.tanh(x[:, t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
        states.append(h)
    return torch.stack(states, dim=1)'''},
    "states shifted by one step (h_0 ... h_{T-1})": {"part": "rnn_forward", "code": '''
def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh):
    B, T, _ = x.shape
    h = x.new_zeros(B, W_hh.shape[0]) if h0 is None else h0
    states = []
    for t in range(T):
        states.append(h)
        h = torch.tanh(x[:, t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
    return torch.stack(states, dim=1)'''},
    "state never carried": {"part": "rnn_forward", "code": '''
def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh):
    B, T, _ = x.shape
    h = x.new_zeros(B, W_hh.shape[0]) if h0 is None else h0
    states = []
    for t in range(T):
        h_t = torch.tanh(x[:, t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
        states.append(h_t)
    return torch.stack(states, dim=1)'''},
    "time-major output (T, B, H)": {"part": "rnn_forward", "code": '''
def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh):
    B, T, _ = x.shape
    h = x.new_zeros(B, W_hh.shape[0]) if h0 is None else h0
    states = []
    for t in range(T):
        h = torch.tanh(x[:, t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
        states.append(h)
    return torch.stack(states)'''},
    "loop over the batch dimension": {"part": "rnn_forward", "code": '''
def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh):
    h = x.new_zeros(x.shape[1], W_hh.shape[0]) if h0 is None else h0
    states = []
    for x_t in x:
        h = torch.tanh(x_t @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
        states.append(h)
    return torch.stack(states, dim=0)'''},

    # -- parity_weights ------------------------------------------------------------------------
    "parity computes OR": {"part": "parity_weights", "code": '''
def parity_weights():
    return {"w_y": [1.0, 1.0], "w_x": [1.0, 1.0], "b_h": [-0.5, -1.5], "w_out": [1.0, 0.0], "b_out": -0.5}'''},
    "thresholds on the values (AND)": {"part": "parity_weights", "code": '''
def parity_weights():
    return {"w_y": [1.0, 1.0], "w_x": [1.0, 1.0], "b_h": [-1.0, -2.0], "w_out": [1.0, -1.0], "b_out": -0.5}'''},
    "no feedback from y_{t-1}": {"part": "parity_weights", "code": '''
def parity_weights():
    return {"w_y": [0.0, 0.0], "w_x": [1.0, 1.0], "b_h": [-0.5, -1.5], "w_out": [1.0, -1.0], "b_out": -0.5}'''},
    "output weights with the wrong signs": {"part": "parity_weights", "code": '''
def parity_weights():
    return {"w_y": [1.0, 1.0], "w_x": [1.0, 1.0], "b_h": [-0.5, -1.5], "w_out": [-1.0, 1.0], "b_out": -0.5}'''},
    "both hidden units OR": {"part": "parity_weights", "code": '''
def parity_weights():
    return {"w_y": [1.0, 1.0], "w_x": [1.0, 1.0], "b_h": [-0.5, -0.5], "w_out": [1.0, -1.0], "b_out": -0.5}'''},
    "output bias too low": {"part": "parity_weights", "code": '''
def parity_weights():
    return {"w_y": [1.0, 1.0], "w_x": [1.0, 1.0], "b_h": [-0.5, -1.5], "w_out": [1.0, -1.0], "b_out": -1.5}'''},

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
    "sum instead of mean": {"part": "lm_loss", "code": '''
def lm_loss(model, tokens, pad_id):
    logits, _ = model(tokens[:, :-1])
    targets = tokens[:, 1:].masked_fill(tokens[:, 1:] == pad_id, -100)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100,
                           reduction="sum")'''},
    "nll_loss on raw logits": {"part": "lm_loss", "code": '''
def lm_loss(model, tokens, pad_id):
    logits, _ = model(tokens[:, :-1])
    targets = tokens[:, 1:].masked_fill(tokens[:, 1:] == pad_id, -100)
    return F.nll_loss(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)'''},
    "returns loss.item()": {"part": "lm_loss", "code": '''
def lm_loss(model, tokens, pad_id):
    logits, _ = model(tokens[:, :-1])
    targets = tokens[:, 1:].masked_fill(tokens[:, 1:] == pad_id, -100)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100).item()'''},
    "padding masked but divided by every position": {"part": "lm_loss", "code": '''
def lm_loss(model, tokens, pad_id):
    logits, _ = model(tokens[:, :-1])
    targets = tokens[:, 1:].masked_fill(tokens[:, 1:] == pad_id, -100)
    total = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100,
                            reduction="sum")
    return total / targets.numel()'''},

    # -- sample_next ---------------------------------------------------------------------------
    "temperature applied after softmax": {"part": "sample_next", "code": '''
def sample_next(logits, temperature, generator):
    probs = torch.softmax(torch.softmax(logits, dim=-1) / temperature, dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(1)'''},
    "temperature multiplies the logits": {"part": "sample_next", "code": '''
def sample_next(logits, temperature, generator):
    probs = torch.softmax(logits * temperature, dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(1)'''},
    "greedy argmax": {"part": "sample_next", "code": '''
def sample_next(logits, temperature, generator):
    return (logits / temperature).argmax(dim=-1)'''},
    "generator not used": {"part": "sample_next", "code": '''
def sample_next(logits, temperature, generator):
    probs = torch.softmax(logits / temperature, dim=-1)
    return torch.multinomial(probs, num_samples=1).squeeze(1)'''},
    "softmax over the batch": {"part": "sample_next", "code": '''
def sample_next(logits, temperature, generator):
    probs = torch.softmax(logits / temperature, dim=0)
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(1)'''},
    "ids of shape (B, 1)": {"part": "sample_next", "code": '''
def sample_next(logits, temperature, generator):
    probs = torch.softmax(logits / temperature, dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator)'''},

    # -- train_char_lm -------------------------------------------------------------------------
    "char LM trained to predict the current character": {"part": "train_char_lm", "code": '''
def train_char_lm(ids, vocab_size, seed):
    torch.manual_seed(seed)
    model = CharRNN(vocab_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    B, T = 16, 32
    for step in range(150):
        starts = torch.randint(0, len(ids) - T - 1, (B,))
        window = torch.stack([ids[s:s + T + 1] for s in starts])
        logits, _ = model(window[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, vocab_size), window[:, :-1].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model'''},
    "optimizer.step() missing": {"part": "train_char_lm", "code": '''
def train_char_lm(ids, vocab_size, seed):
    torch.manual_seed(seed)
    model = CharRNN(vocab_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    B, T = 16, 32
    for step in range(150):
        starts = torch.randint(0, len(ids) - T - 1, (B,))
        window = torch.stack([ids[s:s + T + 1] for s in starts])
        logits, _ = model(window[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, vocab_size), window[:, 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
    return model'''},
    "learning rate far too small": {"part": "train_char_lm", "code": '''
def train_char_lm(ids, vocab_size, seed):
    torch.manual_seed(seed)
    model = CharRNN(vocab_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-5)
    B, T = 16, 32
    for step in range(150):
        starts = torch.randint(0, len(ids) - T - 1, (B,))
        window = torch.stack([ids[s:s + T + 1] for s in starts])
        logits, _ = model(window[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, vocab_size), window[:, 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model'''},
    "loss maximised": {"part": "train_char_lm", "code": '''
def train_char_lm(ids, vocab_size, seed):
    torch.manual_seed(seed)
    model = CharRNN(vocab_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    B, T = 16, 32
    for step in range(150):
        starts = torch.randint(0, len(ids) - T - 1, (B,))
        window = torch.stack([ids[s:s + T + 1] for s in starts])
        logits, _ = model(window[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, vocab_size), window[:, 1:].reshape(-1))
        optimizer.zero_grad()
        (-loss).backward()
        optimizer.step()
    return model'''},
    "far too few steps": {"part": "train_char_lm", "code": '''
def train_char_lm(ids, vocab_size, seed):
    torch.manual_seed(seed)
    model = CharRNN(vocab_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    B, T = 16, 32
    for step in range(3):
        starts = torch.randint(0, len(ids) - T - 1, (B,))
        window = torch.stack([ids[s:s + T + 1] for s in starts])
        logits, _ = model(window[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, vocab_size), window[:, 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model'''},
}
