"""Answers to assignment 06, written the way students write them.

WRONG: plausible wrong answers, at least eight per part; each must lose exactly the points of
its part and keep all others. ``make course`` grades the first as the demo class's "typical
bug" (the backward direction run over the flipped padded tensor).
RIGHT: right answers written differently from the solution (another loop order, a loop over
the sequences instead of masks, gather instead of where, numpy where the contract allows it),
at least three per part; each must pass every case of its part.
Both: {name: {"part": grade_id of the answer cell, "code": the source of that cell}}.
"""


def _bidirectional(backward="flip_padded", mask_forward=True, h_backward="h", order="forward, backward",
                   backward_weights="backward_weights", backward_start="x.new_zeros(B, H)",
                   h_forward="h_forward"):
    """A bidirectional_forward with a mask-based forward loop and one of several backward loops."""
    backward_loops = {
        # the classic bug: the padded tensor reversed, outputs reversed back and zeroed past each end
        "flip_padded": f'''
    h, states = {backward_start}, []
    for x_t in x.flip(1).unbind(1):
        h = cell(x_t, h, *{backward_weights})
        states.append(h)
    backward = torch.stack(states, dim=1).flip(1) * real''',
        # the same, without zeroing the padding afterwards
        "flip_padded_unmasked": f'''
    h, states = {backward_start}, []
    for x_t in x.flip(1).unbind(1):
        h = cell(x_t, h, *{backward_weights})
        states.append(h)
    backward = torch.stack(states, dim=1).flip(1)''',
        # each sequence reversed within its length, states left in the reversed order
        "not_reversed_back": f'''
    index = torch.stack([torch.cat([torch.arange(n - 1, -1, -1), torch.arange(n, T)]) for n in lengths.tolist()])
    reversed_x = x.gather(1, index[..., None].expand_as(x))
    h, states = {backward_start}, []
    for t in range(T):
        h = torch.where(real[:, t], cell(reversed_x[:, t], h, *{backward_weights}), h)
        states.append(h * real[:, t])
    backward = torch.stack(states, dim=1)''',
        # right: from t = T-1 down to 0, each state kept at its start value until the sequence begins
        "right": f'''
    h, backward = {backward_start}, [None] * T
    for t in reversed(range(T)):
        h = torch.where(real[:, t], cell(x[:, t], h, *{backward_weights}), h)
        backward[t] = h * real[:, t]
    backward = torch.stack(backward, dim=1)''',
    }
    forward_step = ("h = torch.where(real[:, t], cell(x[:, t], h, *forward_weights), h)\n"
                    "        forward.append(h * real[:, t])") if mask_forward else \
        ("h = cell(x[:, t], h, *forward_weights)\n        forward.append(h)")
    return f'''
def bidirectional_forward(x, lengths, cell, forward_weights, backward_weights):
    B, T, _ = x.shape
    H = forward_weights[1].shape[1]
    real = (torch.arange(T)[None, :] < lengths[:, None]).unsqueeze(-1)
    h, forward = x.new_zeros(B, H), []
    for t in range(T):
        {forward_step}
    h_forward = h
    forward = torch.stack(forward, dim=1){backward_loops[backward]}
    return torch.cat([{order}], dim=-1), torch.stack([{h_forward}, {h_backward}])'''


def _stacked(reads="layer_input", before="pass", start="h = x.new_zeros(x.shape[0], W_hh.shape[1])",
             stack="torch.stack(states, dim=1)", after="pass", keep="finals.append(h)",
             returned="layer_input, torch.stack(finals)"):
    """The solution's stacked_forward with one of its pieces replaced (a wrong answer's mistake)."""
    return f'''
def stacked_forward(x, weights, cell):
    layer_input, finals = x, []
    {before}
    for W_ih, W_hh, b_ih, b_hh in weights:
        {start}
        states = []
        for t in range(x.shape[1]):
            h = cell({reads}[:, t], h, W_ih, W_hh, b_ih, b_hh)
            states.append(h)
        layer_input = {stack}
        {after}
        {keep}
    return {returned}'''


def _training(bidirectional="True", lr="0.01", backward="loss.backward()", update="optimizer.step()",
              parameters="model.parameters()", returned="model", steps=None):
    """The solution's training loop with one of its pieces replaced (a wrong answer's mistake)."""
    stop = f"\n            if step == {steps}:\n                return {returned}" if steps is not None else ""
    return f'''
def train_tagger(tokens, tags, lengths, vocab_size, num_tags, seed):
    torch.manual_seed(seed)
    model = Tagger(vocab_size, num_tags, bidirectional={bidirectional})
    optimizer = torch.optim.Adam({parameters}, lr={lr})
    step = 0
    for epoch in range(3):
        order = torch.randperm(len(tokens))
        for start in range(0, len(tokens), 32):
            rows = order[start:start + 32]
            T = int(lengths[rows].max())
            logits = model(tokens[rows, :T], lengths[rows])
            real = torch.arange(T)[None, :] < lengths[rows][:, None]
            loss = F.cross_entropy(logits[real], tags[rows, :T][real])
            optimizer.zero_grad()
            {backward}
            {update}
            step += 1{stop}
    return {returned}'''


WRONG = {
    # -- bidirectional_forward (the demo's typical bug first) -----------------------------------
    "the padded tensor flipped for the backward direction": {
        "part": "bidirectional_forward", "code": _bidirectional("flip_padded")},
    "flipped padded tensor, padding not zeroed": {
        "part": "bidirectional_forward", "code": _bidirectional("flip_padded_unmasked")},
    "backward states not reversed back": {
        "part": "bidirectional_forward", "code": _bidirectional("not_reversed_back")},
    "forward direction runs over the padding": {
        "part": "bidirectional_forward", "code": _bidirectional("right", mask_forward=False)},
    "directions swapped in the output": {
        "part": "bidirectional_forward", "code": _bidirectional("right", order="backward, forward")},
    "backward direction with the forward weights": {
        "part": "bidirectional_forward", "code": _bidirectional("right", backward_weights="forward_weights")},
    "h_n of the backward direction taken at the last position": {
        "part": "bidirectional_forward", "code": _bidirectional("right", h_backward="backward[:, -1]")},
    "backward direction starts from the forward final state": {
        "part": "bidirectional_forward", "code": _bidirectional("right", backward_start="h_forward")},
    "h_n rows swapped": {
        "part": "bidirectional_forward", "code": _bidirectional("right", h_forward="h", h_backward="h_forward")},

    # -- stacked_forward -------------------------------------------------------------------------
    "every layer reads the input x": {"part": "stacked_forward", "code": _stacked(reads="x")},
    "the bottom layer's states returned": {"part": "stacked_forward", "code": _stacked(
        before="first = None", after="first = layer_input if first is None else first",
        returned="first, torch.stack(finals)")},
    "h_n top layer first": {"part": "stacked_forward", "code": _stacked(keep="finals.insert(0, h)")},
    "h_n only the top layer's": {"part": "stacked_forward", "code": _stacked(returned="layer_input, h[None]")},
    "each layer starts from the state of the layer below": {"part": "stacked_forward", "code": _stacked(
        before="h = x.new_zeros(x.shape[0], weights[0][1].shape[1])", start="pass")},
    "output of every layer concatenated": {"part": "stacked_forward", "code": _stacked(
        before="outputs = []", after="outputs.append(layer_input)",
        returned="torch.cat(outputs, dim=-1), torch.stack(finals)")},
    "layers detached from each other": {"part": "stacked_forward", "code": _stacked(
        stack="torch.stack(states, dim=1).detach()")},
    "time-major output": {"part": "stacked_forward", "code": '''
def stacked_forward(x, weights, cell):
    layer_input, finals = x.transpose(0, 1), []
    for W_ih, W_hh, b_ih, b_hh in weights:
        h = x.new_zeros(x.shape[0], W_hh.shape[1])
        states = []
        for x_t in layer_input:
            h = cell(x_t, h, W_ih, W_hh, b_ih, b_hh)
            states.append(h)
        layer_input = torch.stack(states)
        finals.append(h)
    return layer_input, torch.stack(finals)'''},
    "h_n holds each layer's first state": {"part": "stacked_forward", "code": _stacked(
        keep="finals.append(states[0])")},

    # -- sentence_vector -------------------------------------------------------------------------
    "h_n[-1] as the sentence vector": {"part": "sentence_vector", "code": '''
def sentence_vector(h_n, num_layers):
    return h_n[-1]'''},
    "h_n[-2] only": {"part": "sentence_vector", "code": '''
def sentence_vector(h_n, num_layers):
    return h_n[-2]'''},
    "backward before forward": {"part": "sentence_vector", "code": '''
def sentence_vector(h_n, num_layers):
    return torch.cat([h_n[-1], h_n[-2]], dim=-1)'''},
    "the bottom layer's final states": {"part": "sentence_vector", "code": '''
def sentence_vector(h_n, num_layers):
    return torch.cat([h_n[0], h_n[1]], dim=-1)'''},
    "direction-major layout assumed": {"part": "sentence_vector", "code": '''
def sentence_vector(h_n, num_layers):
    by_direction = h_n.view(2, num_layers, h_n.shape[1], h_n.shape[2])
    return torch.cat([by_direction[0, -1], by_direction[1, -1]], dim=-1)'''},
    "every layer's final states concatenated": {"part": "sentence_vector", "code": '''
def sentence_vector(h_n, num_layers):
    return h_n.transpose(0, 1).reshape(h_n.shape[1], -1)'''},
    "h_n viewed as batch-first": {"part": "sentence_vector", "code": '''
def sentence_vector(h_n, num_layers):
    return h_n.reshape(h_n.shape[1], -1)[:, -2 * h_n.shape[2]:]'''},
    "the two directions summed": {"part": "sentence_vector", "code": '''
def sentence_vector(h_n, num_layers):
    return h_n[-2] + h_n[-1]'''},
    "detached from h_n": {"part": "sentence_vector", "code": '''
def sentence_vector(h_n, num_layers):
    return torch.cat([h_n[-2], h_n[-1]], dim=-1).detach()'''},

    # -- masked_token_loss -----------------------------------------------------------------------
    "padding counted in the loss": {"part": "masked_token_loss", "code": '''
def masked_token_loss(logits, tags, lengths):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tags.reshape(-1))'''},
    "masked sum divided by every position": {"part": "masked_token_loss", "code": '''
def masked_token_loss(logits, tags, lengths):
    real = torch.arange(logits.shape[1])[None, :] < lengths[:, None]
    losses = F.cross_entropy(logits.transpose(1, 2), tags, reduction="none")
    return (losses * real).sum() / real.numel()'''},
    "mean of the per-sequence means": {"part": "masked_token_loss", "code": '''
def masked_token_loss(logits, tags, lengths):
    real = torch.arange(logits.shape[1])[None, :] < lengths[:, None]
    losses = F.cross_entropy(logits.transpose(1, 2), tags, reduction="none")
    return ((losses * real).sum(1) / lengths).mean()'''},
    "sum instead of mean": {"part": "masked_token_loss", "code": '''
def masked_token_loss(logits, tags, lengths):
    real = torch.arange(logits.shape[1])[None, :] < lengths[:, None]
    return F.cross_entropy(logits[real], tags[real], reduction="sum")'''},
    "mask off by one": {"part": "masked_token_loss", "code": '''
def masked_token_loss(logits, tags, lengths):
    real = torch.arange(logits.shape[1])[None, :] <= lengths[:, None]
    return F.cross_entropy(logits[real], tags[real])'''},
    "softmax before cross_entropy": {"part": "masked_token_loss", "code": '''
def masked_token_loss(logits, tags, lengths):
    real = torch.arange(logits.shape[1])[None, :] < lengths[:, None]
    return F.cross_entropy(torch.softmax(logits[real], dim=-1), tags[real])'''},
    "nll_loss on raw logits": {"part": "masked_token_loss", "code": '''
def masked_token_loss(logits, tags, lengths):
    real = torch.arange(logits.shape[1])[None, :] < lengths[:, None]
    return F.nll_loss(logits[real], tags[real])'''},
    "returns loss.item()": {"part": "masked_token_loss", "code": '''
def masked_token_loss(logits, tags, lengths):
    real = torch.arange(logits.shape[1])[None, :] < lengths[:, None]
    return F.cross_entropy(logits[real], tags[real]).item()'''},
    "log of softmax probabilities": {"part": "masked_token_loss", "code": '''
def masked_token_loss(logits, tags, lengths):
    real = torch.arange(logits.shape[1])[None, :] < lengths[:, None]
    probabilities = torch.softmax(logits[real], dim=-1)
    return -torch.log(probabilities.gather(1, tags[real][:, None])).mean()'''},

    # -- masked_accuracy -------------------------------------------------------------------------
    "padding counted in the accuracy": {"part": "masked_accuracy", "code": '''
def masked_accuracy(logits, tags, lengths):
    return (logits.argmax(dim=-1) == tags).double().mean().item()'''},
    "right real tokens over every position": {"part": "masked_accuracy", "code": '''
def masked_accuracy(logits, tags, lengths):
    real = torch.arange(logits.shape[1])[None, :] < lengths[:, None]
    right = (logits.argmax(dim=-1) == tags) & real
    return right.sum().item() / real.numel()'''},
    "mean of the per-sequence accuracies": {"part": "masked_accuracy", "code": '''
def masked_accuracy(logits, tags, lengths):
    real = torch.arange(logits.shape[1])[None, :] < lengths[:, None]
    right = ((logits.argmax(dim=-1) == tags) & real).double()
    return (right.sum(1) / lengths).mean().item()'''},
    "accuracy mask off by one": {"part": "masked_accuracy", "code": '''
def masked_accuracy(logits, tags, lengths):
    real = torch.arange(logits.shape[1])[None, :] <= lengths[:, None]
    return (logits.argmax(dim=-1) == tags)[real].double().mean().item()'''},
    "number of right tokens": {"part": "masked_accuracy", "code": '''
def masked_accuracy(logits, tags, lengths):
    real = torch.arange(logits.shape[1])[None, :] < lengths[:, None]
    return int((logits.argmax(dim=-1) == tags)[real].sum())'''},
    "a percentage": {"part": "masked_accuracy", "code": '''
def masked_accuracy(logits, tags, lengths):
    real = torch.arange(logits.shape[1])[None, :] < lengths[:, None]
    return 100 * (logits.argmax(dim=-1) == tags)[real].double().mean().item()'''},
    "integer division": {"part": "masked_accuracy", "code": '''
def masked_accuracy(logits, tags, lengths):
    real = torch.arange(logits.shape[1])[None, :] < lengths[:, None]
    return int((logits.argmax(dim=-1) == tags)[real].sum()) // int(lengths.sum())'''},
    "arg max over the time dimension": {"part": "masked_accuracy", "code": '''
def masked_accuracy(logits, tags, lengths):
    real = torch.arange(logits.shape[1])[None, :] < lengths[:, None]
    return (logits.argmax(dim=1) == tags)[real].double().mean().item()'''},

    # -- pool ------------------------------------------------------------------------------------
    "padding wins the max": {"part": "pool", "code": '''
def pool(outputs, lengths, how):
    real = (torch.arange(outputs.shape[1])[None, :] < lengths[:, None]).unsqueeze(-1)
    if how == "mean":
        return (outputs * real).sum(dim=1) / lengths[:, None]
    return outputs.amax(dim=1)'''},
    "padding set to zero before the max": {"part": "pool", "code": '''
def pool(outputs, lengths, how):
    real = (torch.arange(outputs.shape[1])[None, :] < lengths[:, None]).unsqueeze(-1)
    outputs = outputs * real
    if how == "mean":
        return outputs.sum(dim=1) / lengths[:, None]
    return outputs.amax(dim=1)'''},
    "mean over the padded length": {"part": "pool", "code": '''
def pool(outputs, lengths, how):
    real = (torch.arange(outputs.shape[1])[None, :] < lengths[:, None]).unsqueeze(-1)
    if how == "mean":
        return (outputs * real).mean(dim=1)
    return outputs.masked_fill(~real, float("-inf")).amax(dim=1)'''},
    "mean of everything": {"part": "pool", "code": '''
def pool(outputs, lengths, how):
    real = (torch.arange(outputs.shape[1])[None, :] < lengths[:, None]).unsqueeze(-1)
    if how == "mean":
        return outputs.mean(dim=1)
    return outputs.masked_fill(~real, float("-inf")).amax(dim=1)'''},
    "padding's values summed into the mean": {"part": "pool", "code": '''
def pool(outputs, lengths, how):
    real = (torch.arange(outputs.shape[1])[None, :] < lengths[:, None]).unsqueeze(-1)
    if how == "mean":
        return outputs.sum(dim=1) / lengths[:, None]
    return outputs.masked_fill(~real, float("-inf")).amax(dim=1)'''},
    "pooling mask off by one": {"part": "pool", "code": '''
def pool(outputs, lengths, how):
    real = (torch.arange(outputs.shape[1])[None, :] <= lengths[:, None]).unsqueeze(-1)
    if how == "mean":
        return outputs.masked_fill(~real, 0.0).sum(dim=1) / real.sum(dim=1)
    return outputs.masked_fill(~real, float("-inf")).amax(dim=1)'''},
    "how ignored: always the mean": {"part": "pool", "code": '''
def pool(outputs, lengths, how):
    real = (torch.arange(outputs.shape[1])[None, :] < lengths[:, None]).unsqueeze(-1)
    return outputs.masked_fill(~real, 0.0).sum(dim=1) / lengths[:, None]'''},
    "max returns (values, indices)": {"part": "pool", "code": '''
def pool(outputs, lengths, how):
    real = (torch.arange(outputs.shape[1])[None, :] < lengths[:, None]).unsqueeze(-1)
    if how == "mean":
        return outputs.masked_fill(~real, 0.0).sum(dim=1) / lengths[:, None]
    return outputs.masked_fill(~real, float("-inf")).max(dim=1)'''},
    "pooled values detached": {"part": "pool", "code": '''
def pool(outputs, lengths, how):
    real = (torch.arange(outputs.shape[1])[None, :] < lengths[:, None]).unsqueeze(-1)
    values = outputs.detach()
    if how == "mean":
        return values.masked_fill(~real, 0.0).sum(dim=1) / lengths[:, None]
    return values.masked_fill(~real, float("-inf")).amax(dim=1)'''},

    # -- train_tagger ----------------------------------------------------------------------------
    "a unidirectional tagger": {"part": "train_tagger", "code": _training(bidirectional="False")},
    "optimizer.step() missing": {"part": "train_tagger", "code": _training(update="pass")},
    "loss maximised": {"part": "train_tagger", "code": _training(backward="(-loss).backward()")},
    "targets shifted by one (the next token's tag)": {"part": "train_tagger", "code": '''
def train_tagger(tokens, tags, lengths, vocab_size, num_tags, seed):
    torch.manual_seed(seed)
    model = Tagger(vocab_size, num_tags)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for epoch in range(3):
        order = torch.randperm(len(tokens))
        for start in range(0, len(tokens), 32):
            rows = order[start:start + 32]
            T = int(lengths[rows].max())
            logits = model(tokens[rows, :T], lengths[rows])
            real = torch.arange(T - 1)[None, :] < (lengths[rows] - 1)[:, None]
            loss = F.cross_entropy(logits[:, :-1][real], tags[rows, 1:T][real])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model'''},
    "learning rate far too small": {"part": "train_tagger", "code": _training(lr="1e-5")},
    "far too few steps": {"part": "train_tagger", "code": _training(steps=5)},
    "only the output layer trained": {"part": "train_tagger", "code": _training(parameters="model.output.parameters()")},
    "tokens sorted by length, tags not": {"part": "train_tagger", "code": '''
def train_tagger(tokens, tags, lengths, vocab_size, num_tags, seed):
    torch.manual_seed(seed)
    model = Tagger(vocab_size, num_tags)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for epoch in range(3):
        order = torch.randperm(len(tokens))
        for start in range(0, len(tokens), 32):
            rows = order[start:start + 32]
            batch_lengths, by_length = lengths[rows].sort(descending=True)
            T = int(batch_lengths[0])
            logits = model(tokens[rows][by_length, :T], batch_lengths)
            real = torch.arange(T)[None, :] < batch_lengths[:, None]
            loss = F.cross_entropy(logits[real], tags[rows, :T][real])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model'''},
    "returns the state_dict": {"part": "train_tagger", "code": _training(returned="model.state_dict()")},
}


RIGHT = {
    # -- stacked_forward -------------------------------------------------------------------------
    "time outer, layers inner": {"part": "stacked_forward", "code": '''
def stacked_forward(x, weights, cell):
    B, T, _ = x.shape
    hs = [x.new_zeros(B, W_hh.shape[1]) for _, W_hh, _, _ in weights]
    outputs = []
    for t in range(T):
        below = x[:, t]
        for l, (W_ih, W_hh, b_ih, b_hh) in enumerate(weights):
            hs[l] = cell(below, hs[l], W_ih, W_hh, b_ih, b_hh)
            below = hs[l]
        outputs.append(below)
    return torch.stack(outputs, dim=1), torch.stack(hs)'''},
    "a recursive layer function": {"part": "stacked_forward", "code": '''
def stacked_forward(x, weights, cell):
    W_ih, W_hh, b_ih, b_hh = weights[0]
    h, states = torch.zeros(x.shape[0], W_hh.shape[1], dtype=x.dtype), []
    for x_t in x.unbind(1):
        h = cell(x_t, h, W_ih, W_hh, b_ih, b_hh)
        states.append(h)
    out = torch.stack(states, dim=1)
    if len(weights) == 1:
        return out, h[None]
    top, h_above = stacked_forward(out, weights[1:], cell)
    return top, torch.cat([h[None], h_above])'''},
    "outputs written into a preallocated tensor": {"part": "stacked_forward", "code": '''
def stacked_forward(x, weights, cell):
    B, T, _ = x.shape
    layer_input, finals = x, []
    for W_ih, W_hh, b_ih, b_hh in weights:
        H = W_hh.shape[1]
        out = x.new_zeros(B, T, H)
        h = x.new_zeros(B, H)
        for t in range(T):
            h = cell(layer_input[:, t], h, W_ih, W_hh, b_ih, b_hh)
            out[:, t] = h
        layer_input = out
        finals.append(h)
    return layer_input, torch.stack(finals, dim=0)'''},

    # -- bidirectional_forward -------------------------------------------------------------------
    "one sequence at a time": {"part": "bidirectional_forward", "code": '''
def bidirectional_forward(x, lengths, cell, forward_weights, backward_weights):
    B, T, _ = x.shape
    H = forward_weights[1].shape[1]
    output = x.new_zeros(B, T, 2 * H)
    finals = [[], []]
    for b in range(B):
        n = int(lengths[b])
        for d, (weights, steps) in enumerate(((forward_weights, range(n)),
                                              (backward_weights, range(n - 1, -1, -1)))):
            h = x.new_zeros(1, H)
            states = {}
            for t in steps:
                h = cell(x[b:b + 1, t], h, *weights)
                states[t] = h[0]
            output[b, :n, d * H:(d + 1) * H] = torch.stack([states[t] for t in range(n)])
            finals[d].append(h[0])
    return output, torch.stack([torch.stack(finals[0]), torch.stack(finals[1])])'''},
    "reversed within each length by gather": {"part": "bidirectional_forward", "code": '''
def bidirectional_forward(x, lengths, cell, forward_weights, backward_weights):
    B, T, _ = x.shape
    t = torch.arange(T).expand(B, T)
    last = (lengths - 1)[:, None]
    index = torch.where(t <= last, last - t, t)
    real = (t <= last).unsqueeze(-1)

    def run(inputs, weights):
        h = inputs.new_zeros(B, weights[1].shape[1])
        out = []
        for s in range(T):
            h = torch.where(real[:, s], cell(inputs[:, s], h, *weights), h)
            out.append(h * real[:, s])
        return torch.stack(out, dim=1), h

    forward, h_forward = run(x, forward_weights)
    backward_rev, h_backward = run(x.gather(1, index[..., None].expand_as(x)), backward_weights)
    backward = backward_rev.gather(1, index[..., None].expand_as(backward_rev))
    return torch.cat([forward, backward], dim=-1), torch.stack([h_forward, h_backward])'''},
    "packed-like loop over the sequences still running": {"part": "bidirectional_forward", "code": '''
def bidirectional_forward(x, lengths, cell, forward_weights, backward_weights):
    B, T, _ = x.shape
    H = forward_weights[1].shape[1]
    n = lengths.tolist()
    fwd = [[x.new_zeros(H)] * T for _ in range(B)]
    bwd = [[x.new_zeros(H)] * T for _ in range(B)]
    h_f, h_b = list(x.new_zeros(B, H)), list(x.new_zeros(B, H))
    for t in range(T):
        rows = [b for b in range(B) if t < n[b]]
        h = cell(x[rows, t], torch.stack([h_f[b] for b in rows]), *forward_weights)
        for i, b in enumerate(rows):
            h_f[b] = fwd[b][t] = h[i]
    for s in range(T):                       # s-th step back from each sequence's end
        rows = [b for b in range(B) if s < n[b]]
        ts = [n[b] - 1 - s for b in rows]
        h = cell(x[rows, ts], torch.stack([h_b[b] for b in rows]), *backward_weights)
        for i, (b, t) in enumerate(zip(rows, ts)):
            h_b[b] = bwd[b][t] = h[i]
    output = torch.stack([torch.cat([torch.stack(fwd[b]), torch.stack(bwd[b])], dim=-1) for b in range(B)])
    return output, torch.stack([torch.stack(h_f), torch.stack(h_b)])'''},

    # -- sentence_vector -------------------------------------------------------------------------
    "the last two rows": {"part": "sentence_vector", "code": '''
def sentence_vector(h_n, num_layers):
    return torch.cat([h_n[-2], h_n[-1]], dim=1)'''},
    "rows 2(L-1) and 2(L-1)+1": {"part": "sentence_vector", "code": '''
def sentence_vector(h_n, num_layers):
    top = 2 * (num_layers - 1)
    return torch.hstack((h_n[top], h_n[top + 1]))'''},
    "batch-first reshape of the top layer": {"part": "sentence_vector", "code": '''
def sentence_vector(h_n, num_layers):
    B = h_n.shape[1]
    return h_n[-2:].permute(1, 0, 2).reshape(B, -1)'''},

    # -- masked_token_loss -----------------------------------------------------------------------
    "ignore_index on the padding": {"part": "masked_token_loss", "code": '''
def masked_token_loss(logits, tags, lengths):
    pad = torch.arange(tags.shape[1])[None, :] >= lengths[:, None]
    targets = tags.masked_fill(pad, -100)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)'''},
    "log_softmax and gather, looped over the sequences": {"part": "masked_token_loss", "code": '''
def masked_token_loss(logits, tags, lengths):
    total, count = 0.0, 0
    for b, n in enumerate(lengths.tolist()):
        log_p = F.log_softmax(logits[b, :n], dim=-1)
        total = total - log_p.gather(1, tags[b, :n, None]).sum()
        count += n
    return total / count'''},
    "per-token losses weighted by the mask": {"part": "masked_token_loss", "code": '''
def masked_token_loss(logits, tags, lengths):
    weights = (torch.arange(logits.shape[1])[None, :] < lengths[:, None]).to(logits.dtype)
    losses = F.cross_entropy(logits.permute(0, 2, 1), tags, reduction="none")     # (B, T)
    return (losses * weights).sum() / weights.sum()'''},

    # -- masked_accuracy -------------------------------------------------------------------------
    "counted sequence by sequence": {"part": "masked_accuracy", "code": '''
def masked_accuracy(logits, tags, lengths):
    right = total = 0
    for b, n in enumerate(lengths.tolist()):
        right += int((logits[b, :n].argmax(-1) == tags[b, :n]).sum())
        total += n
    return right / total'''},
    "numpy": {"part": "masked_accuracy", "code": '''
def masked_accuracy(logits, tags, lengths):
    import numpy as np
    predictions = logits.detach().numpy().argmax(-1)
    real = np.arange(tags.shape[1])[None, :] < lengths.numpy()[:, None]
    return float((predictions == tags.numpy())[real].mean())'''},
    "a 0-d tensor, float32 mean": {"part": "masked_accuracy", "code": '''
def masked_accuracy(logits, tags, lengths):
    real = torch.arange(logits.shape[1])[None, :] < lengths[:, None]
    return ((logits.argmax(dim=-1) == tags) & real).sum() / real.sum().float()'''},

    # -- pool ------------------------------------------------------------------------------------
    "looped over the sequences": {"part": "pool", "code": '''
def pool(outputs, lengths, how):
    rows = [outputs[b, :n] for b, n in enumerate(lengths.tolist())]
    if how == "mean":
        return torch.stack([r.mean(dim=0) for r in rows])
    return torch.stack([r.max(dim=0).values for r in rows])'''},
    "where with the smallest float": {"part": "pool", "code": '''
def pool(outputs, lengths, how):
    real = (torch.arange(outputs.shape[1])[:, None] < lengths[None, :]).T[..., None]
    if how == "max":
        lowest = torch.finfo(outputs.dtype).min
        return torch.where(real, outputs, torch.full_like(outputs, lowest)).max(dim=1).values
    weights = real.to(outputs.dtype) / lengths[:, None, None].to(outputs.dtype)
    return (torch.where(real, outputs, torch.zeros_like(outputs)) * weights).sum(dim=1)'''},
    "cumulative sum at each length": {"part": "pool", "code": '''
def pool(outputs, lengths, how):
    real = (torch.arange(outputs.shape[1])[None, :] < lengths[:, None]).unsqueeze(-1)
    if how == "mean":
        sums = torch.where(real, outputs, 0.0).cumsum(dim=1)
        return sums[torch.arange(len(lengths)), lengths - 1] / lengths[:, None]
    return outputs.masked_fill(~real, -math.inf).max(dim=1)[0]'''},

    # -- train_tagger ----------------------------------------------------------------------------
    "sorted batches of similar length": {"part": "train_tagger", "code": '''
def train_tagger(tokens, tags, lengths, vocab_size, num_tags, seed):
    torch.manual_seed(seed)
    model = Tagger(vocab_size, num_tags)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    by_length = torch.argsort(lengths)
    batches = [by_length[i:i + 32] for i in range(0, len(lengths), 32)]
    for epoch in range(3):
        for k in torch.randperm(len(batches)).tolist():
            rows = batches[k]
            T = int(lengths[rows].max())
            logits = model(tokens[rows, :T], lengths[rows])
            targets = tags[rows, :T].masked_fill(torch.arange(T)[None, :] >= lengths[rows][:, None], -100)
            loss = F.cross_entropy(logits.reshape(-1, num_tags), targets.reshape(-1), ignore_index=-100)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model'''},
    "fewer, larger batches and more epochs": {"part": "train_tagger", "code": '''
def train_tagger(tokens, tags, lengths, vocab_size, num_tags, seed):
    torch.manual_seed(seed)
    model = Tagger(vocab_size, num_tags, embedding_dim=32, hidden_size=32, bidirectional=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    real = torch.arange(tokens.shape[1])[None, :] < lengths[:, None]
    for epoch in range(5):
        for rows in torch.randperm(len(tokens)).split(64):
            logits = model(tokens[rows], lengths[rows])
            loss = F.cross_entropy(logits[real[rows]], tags[rows][real[rows]])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model'''},
    "a larger tagger with gradient clipping": {"part": "train_tagger", "code": '''
def train_tagger(tokens, tags, lengths, vocab_size, num_tags, seed):
    torch.manual_seed(seed)
    model = Tagger(vocab_size, num_tags, hidden_size=48)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    for epoch in range(3):
        order = torch.randperm(len(tokens))
        for start in range(0, len(tokens), 16):
            rows = order[start:start + 16]
            T = int(lengths[rows].max())
            logits = model(tokens[rows, :T], lengths[rows])
            losses = F.cross_entropy(logits.transpose(1, 2), tags[rows, :T], reduction="none")
            real = (torch.arange(T)[None, :] < lengths[rows][:, None]).float()
            loss = (losses * real).sum() / real.sum()
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
    return model'''},
}
