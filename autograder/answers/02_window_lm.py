"""Answers to assignment 02 written the way students write them. ``WRONG``: plausible wrong
answers, at least eight per part, each of which must lose exactly the points of ``part`` and
keep all others (the first is the demo class's typical bug). ``RIGHT``: at least three right
answers per part written differently from the solution, each of which must pass every case.
Answer cells run in the solution notebook's namespace (math, torch, F, nn); the answer cell
of part 6 holds the WindowLM class with the train_window_lm function."""

FORWARD = "        return self.output(torch.tanh(self.hidden(self.embedding(contexts).flatten(1))))"

_WINDOW_LM = '''
class WindowLM(nn.Module):
    def __init__(self, vocab_size, context_size, embedding_dim=32, hidden_size=64):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.hidden = nn.Linear(context_size * embedding_dim, hidden_size)
        self.output = nn.Linear(hidden_size, vocab_size)

    def forward(self, contexts):
''' + FORWARD + "\n\n"

_TRAIN_HEAD = _WINDOW_LM + '''
def train_window_lm(contexts, targets, vocab_size, seed=0):
    torch.manual_seed(seed)
    model = WindowLM(vocab_size, contexts.shape[1], embedding_dim=32, hidden_size=64)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    order_generator = torch.Generator().manual_seed(seed)
    for epoch in range(3):
        order = torch.randperm(len(targets), generator=order_generator)
        for start in range(0, len(order), 128):
            batch = order[start:start + 128]'''

_TRAIN_STEP = '''
            loss = F.cross_entropy(model(contexts[batch]), targets[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()'''


def _train(body: str, head: str = _TRAIN_HEAD) -> str:
    return head + body + "\n    return model"


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
    "one-hot of the last token only, (B, V)": {"part": "one_hot", "code": '''
def one_hot(ids, vocab_size):
    return torch.eye(vocab_size)[ids[:, -1]]'''},
    "one-hot flattened to (B*T, V)": {"part": "one_hot", "code": '''
def one_hot(ids, vocab_size):
    return F.one_hot(ids.reshape(-1), vocab_size).float()'''},
    "one-hot one place off (ids counted from 1)": {"part": "one_hot", "code": '''
def one_hot(ids, vocab_size):
    return torch.eye(vocab_size)[ids - 1]'''},
    "one-hot (B, V, T): vocabulary before time": {"part": "one_hot", "code": '''
def one_hot(ids, vocab_size):
    return F.one_hot(ids, vocab_size).float().transpose(1, 2)'''},
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
    "embedding with a one-hot as wide as the largest id + 1": {"part": "embed", "code": '''
def embed(ids, E):
    return F.one_hot(ids).to(E.dtype) @ E'''},
    "embeddings scaled by sqrt(d), the Transformer's habit": {"part": "embed", "code": '''
def embed(ids, E):
    return F.one_hot(ids, E.shape[0]).to(E.dtype) @ E * math.sqrt(E.shape[1])'''},
    "product computed in numpy (no gradient)": {"part": "embed", "code": '''
def embed(ids, E):
    one_hot = F.one_hot(ids, E.shape[0]).numpy().astype(E.detach().numpy().dtype)
    return torch.from_numpy(one_hot @ E.detach().numpy())'''},
    "embeddings averaged over the sequence": {"part": "embed", "code": '''
def embed(ids, E):
    return (F.one_hot(ids, E.shape[0]).to(E.dtype) @ E).mean(dim=1)'''},
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
    "sentence end hard-coded to id 2": {"part": "context_windows", "code": '''
def context_windows(ids, context_size, bos_id=1, eos_id=2):
    contexts, history = [], []
    for token in ids.tolist():
        contexts.append(([bos_id] * context_size + history)[-context_size:])
        history.append(token)
        if token == 2:
            history = []
    return torch.tensor(contexts, dtype=torch.long).view(-1, context_size), ids.clone()'''},
    "contexts as int32": {"part": "context_windows", "code": '''
def context_windows(ids, context_size, bos_id=1, eos_id=2):
    contexts, history = [], []
    for token in ids.tolist():
        contexts.append(([bos_id] * context_size + history)[-context_size:])
        history.append(token)
        if token == eos_id:
            history = []
    return torch.tensor(contexts, dtype=torch.int32).view(-1, context_size), ids.clone()'''},
    "history reset before </s> is appended": {"part": "context_windows", "code": '''
def context_windows(ids, context_size, bos_id=1, eos_id=2):
    contexts, history = [], []
    for token in ids.tolist():
        contexts.append(([bos_id] * context_size + history)[-context_size:])
        if token == eos_id:
            history = []
        history.append(token)
    return torch.tensor(contexts, dtype=torch.long).view(-1, context_size), ids.clone()'''},
    "padded with </s>": {"part": "context_windows", "code": '''
def context_windows(ids, context_size, bos_id=1, eos_id=2):
    contexts, history = [], []
    for token in ids.tolist():
        contexts.append(([eos_id] * context_size + history)[-context_size:])
        history.append(token)
        if token == eos_id:
            history = []
    return torch.tensor(contexts, dtype=torch.long).view(-1, context_size), ids.clone()'''},
    "contexts one token short (n-2 real tokens and a <s>)": {"part": "context_windows", "code": '''
def context_windows(ids, context_size, bos_id=1, eos_id=2):
    contexts, history = [], []
    for token in ids.tolist():
        recent = history[-(context_size - 1):] if context_size > 1 else []
        contexts.append(([bos_id] * context_size + recent)[-context_size:])
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
    "tanh written with exp, which overflows": {"part": "window_lm_logits", "code": '''
def window_lm_logits(contexts, C, W, b1, U, b2):
    e = C[contexts].reshape(contexts.shape[0], -1)
    a = e @ W.T + b1
    h = (torch.exp(a) - torch.exp(-a)) / (torch.exp(a) + torch.exp(-a))
    return h @ U.T + b2'''},
    "embeddings detached (no gradient reaches C)": {"part": "window_lm_logits", "code": '''
def window_lm_logits(contexts, C, W, b1, U, b2):
    e = C.detach()[contexts].reshape(contexts.shape[0], -1)
    return torch.tanh(e @ W.T + b1) @ U.T + b2'''},
    "log-probabilities returned": {"part": "window_lm_logits", "code": '''
def window_lm_logits(contexts, C, W, b1, U, b2):
    e = C[contexts].reshape(contexts.shape[0], -1)
    return torch.log_softmax(torch.tanh(e @ W.T + b1) @ U.T + b2, dim=-1)'''},
    "output bias b2 missing": {"part": "window_lm_logits", "code": '''
def window_lm_logits(contexts, C, W, b1, U, b2):
    e = C[contexts].reshape(contexts.shape[0], -1)
    return torch.tanh(e @ W.T + b1) @ U.T'''},
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
    "log of the softmax, which underflows to log 0": {"part": "cross_entropy", "code": '''
def cross_entropy(logits, targets):
    probs = torch.softmax(logits, dim=1)
    return -torch.log(probs[torch.arange(len(targets)), targets]).mean()'''},
    "normaliser detached": {"part": "cross_entropy", "code": '''
def cross_entropy(logits, targets):
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True).detach()
    return -log_probs[torch.arange(len(targets)), targets].mean()'''},
    "stabilising maximum taken over the batch": {"part": "cross_entropy", "code": '''
def cross_entropy(logits, targets):
    m = logits.max(dim=0).values
    log_probs = logits - m - torch.log(torch.exp(logits - m).sum(dim=1, keepdim=True))
    return -log_probs[torch.arange(len(targets)), targets].mean()'''},
    "loss per row, not averaged": {"part": "cross_entropy", "code": '''
def cross_entropy(logits, targets):
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    return -log_probs[torch.arange(len(targets)), targets]'''},
    "loss always float64": {"part": "cross_entropy", "code": '''
def cross_entropy(logits, targets):
    z = logits.double()
    log_probs = z - torch.logsumexp(z, dim=1, keepdim=True)
    return -log_probs[torch.arange(len(targets)), targets].mean()'''},
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
    "the seed ignored (a constant seed)": {"part": "train_window_lm", "code": _train(_TRAIN_STEP, _TRAIN_HEAD.replace(
        "torch.manual_seed(seed)", "torch.manual_seed(0)").replace("manual_seed(seed)", "manual_seed(0)"))},
    "never seeded": {"part": "train_window_lm", "code": _train(_TRAIN_STEP, _TRAIN_HEAD.replace(
        "    torch.manual_seed(seed)\n", "").replace("torch.Generator().manual_seed(seed)", "torch.Generator()"))},
    "a learning rate far too small": {"part": "train_window_lm", "code": _train(
        _TRAIN_STEP, _TRAIN_HEAD.replace("lr=1e-2", "lr=1e-5"))},
    "a forward that returns probabilities": {"part": "train_window_lm", "code": _train(_TRAIN_STEP, _TRAIN_HEAD.replace(
        FORWARD, "        return torch.softmax(self.output(torch.tanh(self.hidden(self.embedding(contexts)"
                 ".flatten(1)))), dim=-1)"))},
    "a forward that reads the context in reverse order": {"part": "train_window_lm", "code": _train(
        _TRAIN_STEP, _TRAIN_HEAD.replace("self.embedding(contexts).flatten(1)", "self.embedding(contexts.flip(1)).flatten(1)"))},
    "dropout added and the model left in training mode": {"part": "train_window_lm", "code": _train(
        _TRAIN_STEP, _TRAIN_HEAD.replace(
            "        self.output = nn.Linear(hidden_size, vocab_size)\n",
            "        self.output = nn.Linear(hidden_size, vocab_size)\n        self.dropout = nn.Dropout(0.2)\n").replace(
            FORWARD, "        return self.output(self.dropout(torch.tanh(self.hidden(self.embedding(contexts).flatten(1)))))"))},
    "a model of its own layout (nn.Sequential)": {"part": "train_window_lm", "code": '''
def train_window_lm(contexts, targets, vocab_size, seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Embedding(vocab_size, 32), nn.Flatten(1),
                          nn.Linear(contexts.shape[1] * 32, 64), nn.Tanh(), nn.Linear(64, vocab_size))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    order_generator = torch.Generator().manual_seed(seed)
    for epoch in range(3):
        order = torch.randperm(len(targets), generator=order_generator)
        for start in range(0, len(order), 128):
            batch = order[start:start + 128]
            loss = F.cross_entropy(model(contexts[batch]), targets[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model'''},
}


RIGHT = {
    # --- one_hot --------------------------------------------------------------------------
    "one-hot by comparing with arange": {"part": "one_hot", "code": '''
def one_hot(ids, vocab_size):
    return (ids.unsqueeze(-1) == torch.arange(vocab_size)).float()'''},
    "one-hot as rows of the identity": {"part": "one_hot", "code": '''
def one_hot(ids, vocab_size):
    return torch.eye(vocab_size)[ids]'''},
    "one-hot by F.one_hot, converted": {"part": "one_hot", "code": '''
def one_hot(ids, vocab_size):
    return F.one_hot(ids, num_classes=vocab_size).to(torch.float32)'''},
    "one-hot by a loop over positions": {"part": "one_hot", "code": '''
def one_hot(ids, vocab_size):
    B, T = ids.shape
    out = torch.zeros(B, T, vocab_size)
    for b in range(B):
        for t in range(T):
            out[b, t, ids[b, t]] = 1.0
    return out'''},
    "one-hot by index_put on flat positions": {"part": "one_hot", "code": '''
def one_hot(ids, vocab_size):
    flat = torch.zeros(ids.numel(), vocab_size, dtype=torch.float32)
    flat[torch.arange(ids.numel()), ids.reshape(-1)] = 1
    return flat.reshape(*ids.shape, vocab_size)'''},
    # --- embed ----------------------------------------------------------------------------
    "embedding by einsum": {"part": "embed", "code": '''
def embed(ids, E):
    return torch.einsum("btv,vd->btd", F.one_hot(ids, E.shape[0]).to(E.dtype), E)'''},
    "embedding as a flat product, reshaped": {"part": "embed", "code": '''
def embed(ids, E):
    B, T = ids.shape
    flat = F.one_hot(ids.reshape(-1), E.shape[0]).to(E.dtype)   # (B T, V)
    return (flat @ E).reshape(B, T, E.shape[1])'''},
    "embedding by indexing": {"part": "embed", "code": '''
def embed(ids, E):
    return E[ids]'''},
    "embedding with a one-hot built by comparison, through torch.matmul": {"part": "embed", "code": '''
def embed(ids, E):
    one_hot = (ids[..., None] == torch.arange(E.shape[0])).to(E.dtype)
    return torch.matmul(one_hot, E)'''},
    # --- context_windows ------------------------------------------------------------------
    "windows by a loop over sentences, split at </s>": {"part": "context_windows", "code": '''
def context_windows(ids, context_size, bos_id=1, eos_id=2):
    rows, sentence = [], []
    for token in ids.tolist():
        sentence.append(token)
        if token == eos_id:
            padded = [bos_id] * context_size + sentence
            rows += [padded[t:t + context_size] for t in range(len(sentence))]
            sentence = []
    return torch.tensor(rows, dtype=torch.long).reshape(len(ids), context_size), ids.clone()'''},
    "windows with numpy, by index arithmetic": {"part": "context_windows", "code": '''
import numpy as np

def context_windows(ids, context_size, bos_id=1, eos_id=2):
    stream = ids.numpy()
    contexts = np.full((len(stream), context_size), bos_id, dtype=np.int64)
    start = 0
    for i in range(len(stream)):
        for j in range(context_size):
            source = i - context_size + j
            if source >= start:
                contexts[i, j] = stream[source]
        if stream[i] == eos_id:
            start = i + 1
    return torch.from_numpy(contexts), torch.from_numpy(stream.copy())'''},
    "windows as a list [contexts, targets], by unfold of each padded sentence": {"part": "context_windows", "code": '''
def context_windows(ids, context_size, bos_id=1, eos_id=2):
    ends = (ids == eos_id).nonzero().flatten().tolist()
    pieces, start = [], 0
    for end in ends:
        padded = torch.cat([torch.full((context_size,), bos_id, dtype=torch.long), ids[start:end + 1]])
        pieces.append(padded.unfold(0, context_size, 1)[:-1])
        start = end + 1
    return [torch.cat(pieces), ids.clone()]'''},
    "windows by a deque": {"part": "context_windows", "code": '''
from collections import deque

def context_windows(ids, context_size, bos_id=1, eos_id=2):
    window = deque([bos_id] * context_size, maxlen=context_size)
    contexts = []
    for token in ids.tolist():
        contexts.append(list(window))
        window.append(token)
        if token == eos_id:
            window = deque([bos_id] * context_size, maxlen=context_size)
    return torch.tensor(contexts, dtype=torch.int64).view(len(ids), context_size), ids.clone()'''},
    # --- window_lm_logits -----------------------------------------------------------------
    "forward pass with F.embedding and F.linear": {"part": "window_lm_logits", "code": '''
def window_lm_logits(contexts, C, W, b1, U, b2):
    e = F.embedding(contexts, C).flatten(1)
    return F.linear(torch.tanh(F.linear(e, W, b1)), U, b2)'''},
    "forward pass concatenating column by column": {"part": "window_lm_logits", "code": '''
def window_lm_logits(contexts, C, W, b1, U, b2):
    e = torch.cat([C[contexts[:, j]] for j in range(contexts.shape[1])], dim=1)
    h = torch.tanh(torch.addmm(b1, e, W.T))
    return torch.addmm(b2, h, U.T)'''},
    "forward pass as a sum over window positions (W in blocks)": {"part": "window_lm_logits", "code": '''
def window_lm_logits(contexts, C, W, b1, U, b2):
    d = C.shape[1]
    pre = b1.expand(contexts.shape[0], -1)
    for j in range(contexts.shape[1]):
        pre = pre + C[contexts[:, j]] @ W[:, j * d:(j + 1) * d].T
    return torch.tanh(pre) @ U.T + b2'''},
    "forward pass in float64 inside, cast back": {"part": "window_lm_logits", "code": '''
def window_lm_logits(contexts, C, W, b1, U, b2):
    e = C.double()[contexts].reshape(contexts.shape[0], -1)
    h = torch.tanh(e @ W.double().T + b1.double())
    return (h @ U.double().T + b2.double()).to(C.dtype)'''},
    # --- cross_entropy --------------------------------------------------------------------
    "cross-entropy by logsumexp and gather": {"part": "cross_entropy", "code": '''
def cross_entropy(logits, targets):
    picked = logits.gather(1, targets[:, None])[:, 0]
    return (torch.logsumexp(logits, dim=1) - picked).mean()'''},
    "cross-entropy with a one-hot mask": {"part": "cross_entropy", "code": '''
def cross_entropy(logits, targets):
    m = logits.max(dim=1, keepdim=True).values
    log_probs = logits - m - (logits - m).exp().sum(dim=1, keepdim=True).log()
    mask = F.one_hot(targets, logits.shape[1]).to(logits.dtype)
    return -(log_probs * mask).sum() / len(targets)'''},
    "cross-entropy row by row": {"part": "cross_entropy", "code": '''
def cross_entropy(logits, targets):
    losses = []
    for z, y in zip(logits, targets):
        m = z.max()
        losses.append(m + torch.log(torch.sum(torch.exp(z - m))) - z[y])
    return torch.stack(losses).mean()'''},
    "cross-entropy in float64 inside, cast back": {"part": "cross_entropy", "code": '''
def cross_entropy(logits, targets):
    z = logits.double()
    log_probs = z - torch.logsumexp(z, dim=-1, keepdim=True)
    return (-log_probs[torch.arange(len(targets)), targets].mean()).to(logits.dtype)'''},
    # --- train_window_lm ------------------------------------------------------------------
    "training with a DataLoader and a seeded generator": {"part": "train_window_lm", "code": _WINDOW_LM + '''
def train_window_lm(contexts, targets, vocab_size, seed=0):
    torch.manual_seed(seed)
    model = WindowLM(vocab_size, contexts.shape[1], embedding_dim=24, hidden_size=96)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    data = torch.utils.data.TensorDataset(contexts, targets)
    loader = torch.utils.data.DataLoader(data, batch_size=64, shuffle=True,
                                         generator=torch.Generator().manual_seed(seed))
    for epoch in range(3):
        for x, y in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
    return model.eval()'''},
    "training with a held-out split and the best epoch kept": {"part": "train_window_lm", "code": _WINDOW_LM + '''
import copy

def train_window_lm(contexts, targets, vocab_size, seed=0):
    torch.manual_seed(seed)
    model = WindowLM(vocab_size, contexts.shape[1])
    generator = torch.Generator().manual_seed(seed)
    split = torch.randperm(len(targets), generator=generator)
    valid, train = split[:len(split) // 10], split[len(split) // 10:]
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    best, best_state = float("inf"), None
    for epoch in range(6):
        model.train()
        order = train[torch.randperm(len(train), generator=generator)]
        for start in range(0, len(order), 256):
            batch = order[start:start + 256]
            loss = F.cross_entropy(model(contexts[batch]), targets[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            valid_loss = F.cross_entropy(model(contexts[valid]), targets[valid]).item()
        if valid_loss < best:
            best, best_state = valid_loss, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    return model'''},
    "training with dropout, returned in eval mode, AdamW": {"part": "train_window_lm", "code": _WINDOW_LM + '''
class DropoutWindowLM(WindowLM):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.dropout = nn.Dropout(0.1)

    def forward(self, contexts):
        e = self.embedding(contexts).flatten(1)
        return self.output(self.dropout(torch.tanh(self.hidden(e))))


def train_window_lm(contexts, targets, vocab_size, seed=0):
    torch.manual_seed(seed)
    model = DropoutWindowLM(vocab_size, contexts.shape[1], embedding_dim=32, hidden_size=128)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3, weight_decay=1e-4)
    order_generator = torch.Generator().manual_seed(seed)
    model.train()
    for epoch in range(4):
        for batch in torch.randperm(len(targets), generator=order_generator).split(100):
            optimizer.zero_grad()
            F.cross_entropy(model(contexts[batch]), targets[batch]).backward()
            optimizer.step()
    model.eval()
    return model'''},
    "training on a model of its own class with the same layers": {"part": "train_window_lm", "code": '''
class MyWindowLM(nn.Module):
    def __init__(self, V, k, d=16, H=64):
        super().__init__()
        self.embedding = nn.Embedding(V, d)
        self.hidden = nn.Linear(k * d, H)
        self.output = nn.Linear(H, V)

    def forward(self, contexts):
        e = torch.cat([self.embedding(contexts[:, j]) for j in range(contexts.shape[1])], dim=1)
        return F.linear(torch.tanh(F.linear(e, self.hidden.weight, self.hidden.bias)),
                        self.output.weight, self.output.bias)


def train_window_lm(contexts, targets, vocab_size, seed=0):
    torch.manual_seed(seed)
    model = MyWindowLM(vocab_size, contexts.shape[1])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(seed)
    step = 0
    while step < 400:
        batch = torch.randint(0, len(targets), (128,), generator=generator)
        loss = F.cross_entropy(model(contexts[batch]), targets[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
    return model'''},
}
