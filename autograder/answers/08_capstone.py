"""Answers to assignment 08, written the way students write them.

WRONG: plausible wrong answers, at least eight per part; each must lose exactly the points of
its part and keep all others. ``make course`` grades the first as the demo class's "typical
bug" (perplexity without the </s> of each sentence).
RIGHT: right answers written differently from the solution (vectorised with a mask, in nats then
converted, per token in Python; tying by setattr or register_parameter; a GRU, another LSTM,
padded sentences instead of a stream; a running count of epochs without improvement), at least
three per part; each must pass every case of its part.
Both: {name: {"part": grade_id of the answer cell, "code": the source of that cell}}.
"""


def _perplexity(ids='[vocab.get(w, vocab["<unk>"]) for w in sentence] + [vocab["</s>"]]',
                picked="log_probs[b, positions, ids]", count="len(ids)",
                empty='raise ValueError("no sentence")', mean="total / count",
                returned="cross_entropy, base ** cross_entropy"):
    """The solution's perplexity with one of its pieces replaced (a wrong answer's mistake)."""
    return f'''
def perplexity(sentences, log_probs, vocab, base):
    if not sentences:
        {empty}
    total, count = 0.0, 0
    for b, sentence in enumerate(sentences):
        ids = {ids}
        positions = torch.arange(len(ids))
        total -= {picked}.sum().item()
        count += {count}
    cross_entropy = {mean}
    return {returned}'''


def _tie(check="H != E", tie="model.output.weight = model.embedding.weight", returned="V * E", before=""):
    return f'''
def tie_weights(model):
    V, E = model.embedding.weight.shape
    H = model.output.in_features{before}
    if {check}:
        raise ValueError(f"cannot tie H={{H}} to E={{E}}")
    {tie}
    return {returned}'''


def _training(ids='[vocab.get(w, vocab["<unk>"]) for sentence in sentences for w in sentence + ["</s>"]]',
              model='CapstoneLM(len(vocab), embedding_dim=32, hidden_size=40, kind="lstm")',
              parameters="model.parameters()", lr="5e-3", epochs=15, targets="rows[:, start + 1:start + T + 1]",
              detach="state = tuple(s.detach() for s in state)", update="optimizer.step()", returned="model"):
    return f'''
def train_lm(sentences, vocab, seed):
    ids = {ids}
    B, T = 20, 20
    L = len(ids) // B
    rows = torch.tensor(ids[:B * L]).view(B, L)
    torch.manual_seed(seed)
    model = {model}
    optimizer = torch.optim.Adam({parameters}, lr={lr})
    for epoch in range({epochs}):
        state = None
        for start in range(0, L - 1, T):
            targets = {targets}
            inputs = rows[:, start:start + targets.shape[1]]
            logits, state = model(inputs, state)
            {detach}
            loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            {update}
    return {returned}'''


def _stopping(better="math.isfinite(value) and not (math.isfinite(curve[best]) and curve[best] <= value)",
              stop="epoch - best >= patience", returned="best"):
    return f'''
def early_stopping_epoch(valid_perplexity, patience):
    curve = valid_perplexity
    best = 0
    for epoch, value in enumerate(curve):
        if {better}:
            best = epoch
        if {stop}:
            break
    if not curve or not math.isfinite(curve[best]):
        raise ValueError("no finite epoch")
    return {returned}'''


WRONG = {
    # perplexity
    "</s> not predicted": {"part": "perplexity", "code": _perplexity(
        ids='[vocab.get(w, vocab["<unk>"]) for w in sentence]')},
    "<s> counted as a predicted token": {"part": "perplexity", "code": _perplexity(count="len(ids) + 1")},
    "words outside the vocabulary skipped": {"part": "perplexity", "code": _perplexity(
        ids='[vocab[w] for w in sentence if w in vocab] + [vocab["</s>"]]',
        picked="log_probs[b, [t for t, w in enumerate(sentence + ['</s>']) if w in vocab], ids]")},
    "<unk> tokens dropped": {"part": "perplexity", "code": _perplexity(
        picked="log_probs[b, positions, ids][torch.tensor(ids) != vocab['<unk>']]",
        count="sum(i != vocab['<unk>'] for i in ids)")},
    "divided by the number of sentences": {"part": "perplexity", "code": _perplexity(mean="total / len(sentences)")},
    "perplexity as e^H whatever the base": {"part": "perplexity", "code": _perplexity(
        returned="cross_entropy, math.exp(cross_entropy)")},
    "cross-entropy converted to nats": {"part": "perplexity", "code": _perplexity(
        returned="cross_entropy * math.log(base), base ** cross_entropy")},
    "no error for no sentence": {"part": "perplexity", "code": _perplexity(empty="return 0.0, 1.0")},
    "mean of the sentences' perplexities": {"part": "perplexity", "code": '''
def perplexity(sentences, log_probs, vocab, base):
    if not sentences:
        raise ValueError("no sentence")
    total, count, perplexities = 0.0, 0, []
    for b, sentence in enumerate(sentences):
        ids = [vocab.get(w, vocab["<unk>"]) for w in sentence] + [vocab["</s>"]]
        picked = log_probs[b, torch.arange(len(ids)), ids]
        total -= picked.sum().item()
        count += len(ids)
        perplexities.append(base ** (-picked.mean().item()))
    return total / count, sum(perplexities) / len(perplexities)'''},
    "a product of probabilities": {"part": "perplexity", "code": '''
def perplexity(sentences, log_probs, vocab, base):
    if not sentences:
        raise ValueError("no sentence")
    total, count, probability = 0.0, 0, 1.0
    for b, sentence in enumerate(sentences):
        ids = [vocab.get(w, vocab["<unk>"]) for w in sentence] + [vocab["</s>"]]
        picked = log_probs[b, torch.arange(len(ids)), ids]
        total -= picked.sum().item()
        count += len(ids)
        probability *= (base ** picked).prod().item()
    return total / count, probability ** (-1 / count)'''},
    "padding masked by a multiplication": {"part": "perplexity", "code": '''
def perplexity(sentences, log_probs, vocab, base):
    if not sentences:
        raise ValueError("no sentence")
    B, T, V = log_probs.shape
    targets = torch.zeros(B, T, dtype=torch.long)
    mask = torch.zeros(B, T, dtype=log_probs.dtype)
    for b, sentence in enumerate(sentences):
        ids = [vocab.get(w, vocab["<unk>"]) for w in sentence] + [vocab["</s>"]]
        targets[b, :len(ids)] = torch.tensor(ids)
        mask[b, :len(ids)] = 1.0
    picked = log_probs.gather(2, targets[..., None])[..., 0]
    cross_entropy = -(picked * mask).sum().item() / mask.sum().item()
    return cross_entropy, base ** cross_entropy'''},

    # tie_weights
    "values copied with .data": {"part": "tie_weights", "code": _tie(
        tie="model.output.weight.data = model.embedding.weight.data")},
    "a cloned Parameter": {"part": "tie_weights", "code": _tie(
        tie="model.output.weight = nn.Parameter(model.embedding.weight.detach().clone())")},
    "embedding tied to the output": {"part": "tie_weights", "code": _tie(
        tie="model.embedding.weight = model.output.weight")},
    "a new output layer": {"part": "tie_weights", "code": _tie(
        tie="model.output = nn.Linear(H, V)\n    model.output.weight = model.embedding.weight")},
    "bias dropped with the tie": {"part": "tie_weights", "code": _tie(
        tie="model.output.weight = model.embedding.weight\n    model.output.bias = None")},
    "the transpose tied": {"part": "tie_weights", "code": _tie(
        tie="model.output.weight = nn.Parameter(model.embedding.weight.T)")},
    "bias counted in the saving": {"part": "tie_weights", "code": _tie(returned="V * E + V")},
    "parameters after tying returned": {"part": "tie_weights", "code": _tie(
        returned="sum(p.numel() for p in model.parameters())")},
    "after minus before": {"part": "tie_weights", "code": _tie(
        before="\n    before = sum(p.numel() for p in model.parameters())",
        returned="sum(p.numel() for p in model.parameters()) - before")},
    "no check of the sizes": {"part": "tie_weights", "code": _tie(check="False")},
    "only the vocabulary size checked": {"part": "tie_weights", "code": _tie(check="model.output.out_features != V")},
    "an assert instead of a ValueError": {"part": "tie_weights", "code": '''
def tie_weights(model):
    V, E = model.embedding.weight.shape
    assert model.output.in_features == E, "sizes differ"
    model.output.weight = model.embedding.weight
    return V * E'''},

    # train_lm
    "over the budget": {"part": "train_lm", "code": _training(
        model='CapstoneLM(len(vocab), embedding_dim=32, hidden_size=64, kind="lstm")', epochs=6)},
    "one epoch": {"part": "train_lm", "code": _training(epochs=1)},
    "optimizer.step() missing": {"part": "train_lm", "code": _training(update="pass", epochs=2)},
    "sentences not followed by </s>": {"part": "train_lm", "code": _training(
        ids='[vocab.get(w, vocab["<unk>"]) for sentence in sentences for w in sentence]')},
    "a vocabulary of its own": {"part": "train_lm", "code": _training(
        ids='[sorted(vocab).index(w) for sentence in sentences for w in sentence + ["</s>"]]')},
    "only the output layer trained": {"part": "train_lm", "code": _training(parameters="model.output.parameters()",
                                                                         epochs=3)},
    "targets not shifted": {"part": "train_lm", "code": _training(targets="rows[:, start:start + T]", epochs=3)},
    "state not detached": {"part": "train_lm", "code": _training(detach="pass")},
    "learning rate far too small": {"part": "train_lm", "code": _training(lr="1e-6", epochs=2)},
    "returns the state_dict": {"part": "train_lm", "code": _training(returned="model.state_dict()", epochs=1)},

    # early_stopping_epoch
    "the whole curve's best": {"part": "early_stopping_epoch", "code": '''
def early_stopping_epoch(valid_perplexity, patience):
    finite = [v if math.isfinite(v) else math.inf for v in valid_perplexity]
    if not finite or min(finite) == math.inf:
        raise ValueError("no finite epoch")
    return finite.index(min(finite))'''},
    "patience off by one (stops one epoch late)": {"part": "early_stopping_epoch", "code": _stopping(
        stop="epoch - best > patience")},
    "stops one epoch early": {"part": "early_stopping_epoch", "code": _stopping(stop="epoch - best >= patience - 1")},
    "the last epoch trained": {"part": "early_stopping_epoch", "code": _stopping(returned="epoch")},
    "ties go to the later epoch": {"part": "early_stopping_epoch", "code": _stopping(
        better="math.isfinite(value) and not (math.isfinite(curve[best]) and curve[best] < value)")},
    "NaN taken as the best": {"part": "early_stopping_epoch", "code": '''
def early_stopping_epoch(valid_perplexity, patience):
    import numpy as np
    if not valid_perplexity:
        raise ValueError("no epoch")
    for stop in range(len(valid_perplexity)):
        best = int(np.argmin(valid_perplexity[:stop + 1]))
        if stop - best >= patience:
            break
    if not math.isfinite(valid_perplexity[best]) and not math.isnan(valid_perplexity[best]):
        raise ValueError("no finite epoch")
    return best'''},
    "1-based epochs": {"part": "early_stopping_epoch", "code": _stopping(returned="best + 1")},
    "no error without a finite epoch": {"part": "early_stopping_epoch", "code": '''
def early_stopping_epoch(valid_perplexity, patience):
    best = 0
    for epoch, value in enumerate(valid_perplexity):
        if math.isfinite(value) and not (math.isfinite(valid_perplexity[best]) and valid_perplexity[best] <= value):
            best = epoch
        if epoch - best >= patience:
            break
    return best'''},
    "the patience counted from the last improvement of any size, NaN included": {
        "part": "early_stopping_epoch", "code": _stopping(better="not value >= curve[best]")},
}

RIGHT = {
    # perplexity
    "vectorised with a mask and torch.where": {"part": "perplexity", "code": '''
def perplexity(sentences, log_probs, vocab, base):
    if len(sentences) == 0:
        raise ValueError("there is no predicted token")
    B, T, V = log_probs.shape
    targets = torch.zeros(B, T, dtype=torch.long)
    real = torch.zeros(B, T, dtype=torch.bool)
    for b, sentence in enumerate(sentences):
        ids = [vocab[w] if w in vocab else vocab["<unk>"] for w in sentence] + [vocab["</s>"]]
        targets[b, :len(ids)] = torch.tensor(ids)
        real[b, :len(ids)] = True
    picked = log_probs.gather(2, targets.unsqueeze(-1)).squeeze(-1)
    H = -torch.where(real, picked, torch.zeros_like(picked)).sum() / real.sum()
    return H.item(), torch.pow(torch.tensor(base, dtype=torch.float64), H).item()'''},
    "per token in Python, in nats then converted": {"part": "perplexity", "code": '''
def perplexity(sentences, log_probs, vocab, base):
    W = sum(len(s) + 1 for s in sentences)
    if W == 0:
        raise ValueError("W = 0")
    nats = 0.0
    for b, sentence in enumerate(sentences):
        for t, word in enumerate(list(sentence) + ["</s>"]):
            nats -= float(log_probs[b, t, vocab.get(word, 0)]) * math.log(base)
    return nats / W / math.log(base), math.exp(nats / W)'''},
    "numpy, one list of every predicted log-probability": {"part": "perplexity", "code": '''
import numpy as np

def perplexity(sentences, log_probs, vocab, base):
    if not sentences:
        raise ValueError("empty")
    table = log_probs.numpy()
    picked = []
    for b, sentence in enumerate(sentences):
        tokens = [w if w in vocab else "<unk>" for w in sentence] + ["</s>"]
        picked.extend(table[b, t, vocab[w]] for t, w in enumerate(tokens))
    H = -np.mean(picked)
    return H, np.power(base, H)'''},

    # tie_weights
    "setattr and numel": {"part": "tie_weights", "code": '''
def tie_weights(model):
    if model.output.weight.shape != model.embedding.weight.shape:
        raise ValueError("the output layer and the embedding have different sizes")
    setattr(model.output, "weight", model.embedding.weight)
    return model.embedding.weight.numel()'''},
    "register_parameter, the saving counted": {"part": "tie_weights", "code": '''
def tie_weights(model):
    if model.rnn.hidden_size != model.embedding.embedding_dim:
        raise ValueError(f"H={model.rnn.hidden_size} but E={model.embedding.embedding_dim}")
    before = sum(p.numel() for p in model.parameters())
    model.output.register_parameter("weight", model.embedding.weight)
    return before - sum(p.numel() for p in model.parameters())'''},
    "math.prod of the shape": {"part": "tie_weights", "code": '''
def tie_weights(model):
    embedding, output = model.embedding, model.output
    if output.in_features != embedding.embedding_dim:
        raise ValueError("weight tying needs H == E")
    output.weight = embedding.weight
    return math.prod(embedding.weight.shape)'''},

    # train_lm
    "a GRU, 12 epochs": {"part": "train_lm", "code": _training(
        model='CapstoneLM(len(vocab), embedding_dim=32, hidden_size=48, kind="gru")', epochs=12,
        detach="state = state.detach()")},
    "an LSTM of E=28, H=44 on 16 rows in windows of 25": {"part": "train_lm", "code": '''
def train_lm(sentences, vocab, seed):
    stream = torch.tensor([vocab[w] if w in vocab else 0 for s in sentences for w in [*s, "</s>"]])
    rows = stream[: len(stream) // 16 * 16].view(16, -1)
    torch.manual_seed(seed)
    model = CapstoneLM(len(vocab), embedding_dim=28, hidden_size=44, kind="lstm")
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    for epoch in range(15):
        h = None
        for i in range(0, rows.shape[1] - 1, 25):
            x, y = rows[:, i:i + 25], rows[:, i + 1:i + 26]
            x = x[:, :y.shape[1]]
            logits, h = model(x, h)
            h = (h[0].detach(), h[1].detach())
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
    return model'''},
    "shuffled batches of padded sentences, each from </s>": {"part": "train_lm", "code": '''
def train_lm(sentences, vocab, seed):
    torch.manual_seed(seed)
    model = CapstoneLM(len(vocab), 32, 40, "lstm")
    optimizer = torch.optim.Adam(model.parameters(), lr=0.005)
    eos = vocab["</s>"]
    encoded = [torch.tensor([eos] + [vocab.get(w, 0) for w in s] + [eos]) for s in sentences]
    for epoch in range(12):
        order = torch.randperm(len(encoded)).tolist()
        for start in range(0, len(order), 32):
            batch = [encoded[i] for i in order[start:start + 32]]
            inputs = nn.utils.rnn.pad_sequence([s[:-1] for s in batch], batch_first=True, padding_value=eos)
            targets = nn.utils.rnn.pad_sequence([s[1:] for s in batch], batch_first=True, padding_value=-100)
            logits, _ = model(inputs)
            loss = F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=-100)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
    return model'''},

    # early_stopping_epoch
    "epochs without improvement counted": {"part": "early_stopping_epoch", "code": '''
def early_stopping_epoch(valid_perplexity, patience):
    best, best_value = 0, math.inf
    for epoch, value in enumerate(valid_perplexity):
        if value < best_value:                      # False for NaN; inf never beats inf
            best, best_value = epoch, value
        if epoch - best >= patience:
            break
    if best_value == math.inf:
        raise ValueError("no finite validation perplexity")
    return best'''},
    "the stopping epoch first, then the best before it": {"part": "early_stopping_epoch", "code": '''
def early_stopping_epoch(valid_perplexity, patience):
    clean = [v if v == v and v != float("inf") else float("inf") for v in valid_perplexity]
    stop = len(clean) - 1
    for e in range(len(clean)):
        seen = clean[:e + 1]
        if e - seen.index(min(seen)) >= patience:
            stop = e
            break
    trained = clean[:stop + 1]
    if not trained or min(trained) == float("inf"):
        raise ValueError("nothing to keep")
    return trained.index(min(trained))'''},
    "numpy with NaN as infinity": {"part": "early_stopping_epoch", "code": '''
import numpy as np

def early_stopping_epoch(valid_perplexity, patience):
    curve = np.nan_to_num(np.asarray(valid_perplexity, dtype=float), nan=np.inf, posinf=np.inf)
    for epoch in range(len(curve)):
        best = int(np.argmin(curve[:epoch + 1]))
        if epoch - best >= patience or epoch == len(curve) - 1:
            if not np.isfinite(curve[best]):
                raise ValueError("no finite epoch")
            return best
    raise ValueError("no epoch")'''},
}
