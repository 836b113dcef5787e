"""Plausible wrong answers to assignment 02, at least five per part. The pipeline test grades
each one and asserts it loses exactly the points of ``part`` and keeps all others."""

_TRAIN_HEAD = '''
def train_window_lm(contexts, targets, vocab_size, seed=0):
    class WindowLM(nn.Module):
        def __init__(self, vocab_size, context_size, embedding_dim=32, hidden_size=64):
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, embedding_dim)
            self.hidden = nn.Linear(context_size * embedding_dim, hidden_size)
            self.output = nn.Linear(hidden_size, vocab_size)

        def forward(self, contexts):
            return self.output(torch.tanh(self.hidden(self.embedding(contexts).flatten(1))))

    torch.manual_seed(seed)
    model = WindowLM(vocab_size, contexts.shape[1])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    order_generator = torch.Generator().manual_seed(seed)
    for epoch in range(3):
        order = torch.randperm(len(targets), generator=order_generator)
        for start in range(0, len(order), 128):
            batch = order[start:start + 128]'''


def _train(body: str) -> str:
    return _TRAIN_HEAD + body + "\n    return model"


WRONG = {
    # --- one_hot --------------------------------------------------------------------------
    "one-hot as integers (F.one_hot without .float())": {"part": "one_hot", "code": '''
def one_hot(ids, vocab_size):
    return F.one_hot(ids, vocab_size)'''},
    "one-hot as wide as the largest id + 1": {"part": "one_hot", "code": '''
def one_hot(ids, vocab_size):
    return torch.eye(int(ids.max()) + 1)[ids]'''},
    "one-hot sets every id of the batch at every position": {"part": "one_hot", "code": '''
def one_hot(ids, vocab_size):
    out = torch.zeros(ids.shape[0], ids.shape[1], vocab_size)
    out[:, :, ids] = 1.0
    return out'''},
    "one-hot time-first (T, B, V)": {"part": "one_hot", "code": '''
def one_hot(ids, vocab_size):
    return torch.eye(vocab_size)[ids.T]'''},
    "one-hot scattered along the time dimension": {"part": "one_hot", "code": '''
def one_hot(ids, vocab_size):
    out = torch.zeros(ids.shape[0], ids.shape[1], vocab_size)
    return out.scatter_(1, ids.unsqueeze(1).clamp(max=ids.shape[1] - 1), 1.0)'''},
    "one-hot in float64": {"part": "one_hot", "code": '''
def one_hot(ids, vocab_size):
    return torch.eye(vocab_size, dtype=torch.float64)[ids]'''},
    # --- embed ----------------------------------------------------------------------------
    "vocabulary size read from the wrong dimension of E": {"part": "embed", "code": '''
def embed(ids, E):
    return F.one_hot(ids, E.shape[1]).to(E.dtype) @ E'''},
    "one-hot product without reshaping back to (B, T, d)": {"part": "embed", "code": '''
def embed(ids, E):
    return F.one_hot(ids.reshape(-1), E.shape[0]).to(E.dtype) @ E'''},
    "embeddings summed over the sequence": {"part": "embed", "code": '''
def embed(ids, E):
    return (F.one_hot(ids, E.shape[0]).to(E.dtype) @ E).sum(dim=1)'''},
    "embedding computed under torch.no_grad()": {"part": "embed", "code": '''
def embed(ids, E):
    with torch.no_grad():
        return F.one_hot(ids, E.shape[0]).to(E.dtype) @ E'''},
    "E transposed": {"part": "embed", "code": '''
def embed(ids, E):
    return F.one_hot(ids, E.shape[0]).to(E.dtype) @ E.T'''},
    "one-hot always float32 (fails for float64 E)": {"part": "embed", "code": '''
def embed(ids, E):
    return F.one_hot(ids, E.shape[0]).float() @ E'''},
    # --- context_windows ------------------------------------------------------------------
    "windows run across sentence ends": {"part": "context_windows", "code": '''
def context_windows(ids, context_size, bos_id=1, eos_id=2):
    history = [bos_id] * context_size
    contexts = []
    for token in ids.tolist():
        contexts.append(history[-context_size:])
        history.append(token)
    return torch.tensor(contexts, dtype=torch.long).view(-1, context_size), ids.clone()'''},
    "context includes the target": {"part": "context_windows", "code": '''
def context_windows(ids, context_size, bos_id=1, eos_id=2):
    contexts, history = [], []
    for token in ids.tolist():
        history.append(token)
        contexts.append(([bos_id] * context_size + history)[-context_size:])
        if token == eos_id:
            history = []
    return torch.tensor(contexts, dtype=torch.long).view(-1, context_size), ids.clone()'''},
    "context in reverse order (most recent first)": {"part": "context_windows", "code": '''
def context_windows(ids, context_size, bos_id=1, eos_id=2):
    contexts, history = [], []
    for token in ids.tolist():
        contexts.append(([bos_id] * context_size + history)[-context_size:][::-1])
        history.append(token)
        if token == eos_id:
            history = []
    return torch.tensor(contexts, dtype=torch.long).view(-1, context_size), ids.clone()'''},
    "padded with zeros": {"part": "context_windows", "code": '''
def context_windows(ids, context_size, bos_id=1, eos_id=2):
    contexts = torch.zeros(len(ids), context_size, dtype=torch.long)
    start = 0
    for i in range(len(ids)):
        for back in range(1, context_size + 1):
            if i - back >= start:
                contexts[i, context_size - back] = ids[i - back]
        if ids[i] == eos_id:
            start = i + 1
    return contexts, ids.clone()'''},
    "targets shifted by one (the next token)": {"part": "context_windows", "code": '''
def context_windows(ids, context_size, bos_id=1, eos_id=2):
    contexts, history = [], []
    for token in ids.tolist():
        history.append(token)
        if token == eos_id:
            history = []
        contexts.append(([bos_id] * context_size + history)[-context_size:])
    return torch.tensor(contexts[:-1], dtype=torch.long).view(-1, context_size), ids[1:].clone()'''},
    "</s> never a target": {"part": "context_windows", "code": '''
def context_windows(ids, context_size, bos_id=1, eos_id=2):
    contexts, targets, history = [], [], []
    for token in ids.tolist():
        if token == eos_id:
            history = []
            continue
        contexts.append(([bos_id] * context_size + history)[-context_size:])
        targets.append(token)
        history.append(token)
    return torch.tensor(contexts, dtype=torch.long).view(-1, context_size), torch.tensor(targets)'''},
    "padding hard-coded to id 1": {"part": "context_windows", "code": '''
def context_windows(ids, context_size, bos_id=1, eos_id=2):
    contexts, history = [], []
    for token in ids.tolist():
        contexts.append(([1] * context_size + history)[-context_size:])
        history.append(token)
        if token == eos_id:
            history = []
    return torch.tensor(contexts, dtype=torch.long).view(-1, context_size), ids.clone()'''},
    # --- window_lm_logits -----------------------------------------------------------------
    "tanh missing": {"part": "window_lm_logits", "code": '''
def window_lm_logits(contexts, C, W, b1, U, b2):
    e = C[contexts].reshape(contexts.shape[0], -1)
    return (e @ W.T + b1) @ U.T + b2'''},
    "concatenation in reverse order": {"part": "window_lm_logits", "code": '''
def window_lm_logits(contexts, C, W, b1, U, b2):
    e = torch.cat([C[contexts[:, j]] for j in reversed(range(contexts.shape[1]))], dim=1)
    return torch.tanh(e @ W.T + b1) @ U.T + b2'''},
    "embeddings interleaved (transposed before reshaping)": {"part": "window_lm_logits", "code": '''
def window_lm_logits(contexts, C, W, b1, U, b2):
    e = C[contexts].transpose(1, 2).reshape(contexts.shape[0], -1)
    return torch.tanh(e @ W.T + b1) @ U.T + b2'''},
    "softmax applied to the logits": {"part": "window_lm_logits", "code": '''
def window_lm_logits(contexts, C, W, b1, U, b2):
    e = C[contexts].reshape(contexts.shape[0], -1)
    return torch.softmax(torch.tanh(e @ W.T + b1) @ U.T + b2, dim=-1)'''},
    "hidden bias b1 missing": {"part": "window_lm_logits", "code": '''
def window_lm_logits(contexts, C, W, b1, U, b2):
    e = C[contexts].reshape(contexts.shape[0], -1)
    return torch.tanh(e @ W.T) @ U.T + b2'''},
    "sigmoid instead of tanh": {"part": "window_lm_logits", "code": '''
def window_lm_logits(contexts, C, W, b1, U, b2):
    e = C[contexts].reshape(contexts.shape[0], -1)
    return torch.sigmoid(e @ W.T + b1) @ U.T + b2'''},
    # --- cross_entropy --------------------------------------------------------------------
    "sum instead of mean": {"part": "cross_entropy", "code": '''
def cross_entropy(logits, targets):
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    return -log_probs[torch.arange(len(targets)), targets].sum()'''},
    "naive softmax that overflows": {"part": "cross_entropy", "code": '''
def cross_entropy(logits, targets):
    probs = torch.exp(logits) / torch.exp(logits).sum(dim=1, keepdim=True)
    return -torch.log(probs[torch.arange(len(targets)), targets]).mean()'''},
    "logits[:, targets] picks a B x B matrix": {"part": "cross_entropy", "code": '''
def cross_entropy(logits, targets):
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    return -log_probs[:, targets].mean()'''},
    "softmax over the batch dimension": {"part": "cross_entropy", "code": '''
def cross_entropy(logits, targets):
    log_probs = logits - torch.logsumexp(logits, dim=0, keepdim=True)
    return -log_probs[torch.arange(len(targets)), targets].mean()'''},
    "loss returned as a Python float": {"part": "cross_entropy", "code": '''
def cross_entropy(logits, targets):
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    return -log_probs[torch.arange(len(targets)), targets].mean().item()'''},
    "log base 2": {"part": "cross_entropy", "code": '''
def cross_entropy(logits, targets):
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    return -(log_probs[torch.arange(len(targets)), targets] / math.log(2)).mean()'''},
    # --- train_window_lm ------------------------------------------------------------------
    "optimizer.step() forgotten": {"part": "train_window_lm", "code": _train('''
            loss = F.cross_entropy(model(contexts[batch]), targets[batch])
            optimizer.zero_grad()
            loss.backward()''')},
    "contexts and targets shuffled separately": {"part": "train_window_lm", "code": _train('''
            shuffled = torch.randperm(len(targets), generator=order_generator)[:len(batch)]
            loss = F.cross_entropy(model(contexts[batch]), targets[shuffled])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()''')},
    "trained to predict the last context word": {"part": "train_window_lm", "code": _train('''
            loss = F.cross_entropy(model(contexts[batch]), contexts[batch][:, -1])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()''')},
    "nll_loss on raw logits (no log-softmax)": {"part": "train_window_lm", "code": _train('''
            loss = F.nll_loss(model(contexts[batch]), targets[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()''')},
    "loss maximised (sign flipped)": {"part": "train_window_lm", "code": _train('''
            loss = -F.cross_entropy(model(contexts[batch]), targets[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()''')},
    "forward pass under torch.no_grad()": {"part": "train_window_lm", "code": _train('''
            with torch.no_grad():
                loss = F.cross_entropy(model(contexts[batch]), targets[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()''')},
}
