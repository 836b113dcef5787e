"""Answers to assignment 07, written the way students write them.

WRONG: plausible wrong answers, at least eight per part; each must lose exactly the points of
its part and keep all others. ``make course`` grades the first as the demo class's "typical
bug" (the encoder run over the padding, without packing).
RIGHT: right answers written differently from the solution (one source at a time, sorting
instead of packing unsorted, log_softmax and gather, no early stop, Python sorting instead of
top-k), at least three per part; each must pass every case of its part.
Both: {name: {"part": grade_id of the answer cell, "code": the source of that cell}}.
"""


def _encode(run="packed", final="torch.cat([h_n[0], h_n[1]], dim=-1)", squash="torch.tanh",
            total="total_length=src.shape[1]", returned="outputs, s0.unsqueeze(0)"):
    """The solution's encode with one of its pieces replaced (a wrong answer's mistake)."""
    runs = {
        "packed": f'''
    packed = pack_padded_sequence(embedding(src), lengths, batch_first=True, enforce_sorted=False)
    outputs, h_n = rnn(packed)
    outputs, _ = pad_packed_sequence(outputs, batch_first=True, {total})''',
        "sorted_default": '''
    packed = pack_padded_sequence(embedding(src), lengths, batch_first=True)
    outputs, h_n = rnn(packed)
    outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=src.shape[1])''',
        "unpacked": '''
    outputs, h_n = rnn(embedding(src))''',
    }
    return f'''
def encode(src, lengths, embedding, rnn, bridge):
    B = src.shape[0]{runs[run]}
    s0 = {squash}(bridge({final}))
    return {returned}'''


def _loss(inputs="torch.cat([torch.full_like(targets[:, :1], model.bos_id), targets[:, :-1]], dim=1)",
          loss="F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=model.pad_id)",
          returned="loss"):
    return f'''
def teacher_forced_loss(model, src, lengths, targets):
    inputs = {inputs}
    logits, _ = model(src, lengths, inputs)
    loss = {loss}
    return {returned}'''


def _attention(energies="torch.tanh((query @ W.T)[:, None, :] + keys @ U.T + b) @ v",
               masking="energies.masked_fill(~mask, torch.finfo(energies.dtype).min)",
               weights="torch.softmax(energies, dim=-1).masked_fill(~mask, 0.0)",
               context="torch.bmm(weights[:, None, :], keys).squeeze(1)"):
    return f'''
def additive_attention(query, keys, mask, W, U, b, v):
    energies = {energies}
    energies = {masking}
    weights = {weights}
    context = {context}
    return context, weights'''


def _greedy(steps="max_length", masked="[model.bos_id, model.pad_id]", append="if not done[b]:",
            stop="done.all()", feed="", state="state", returned="outputs"):
    return f'''
def greedy_decode(model, src, lengths, max_length):
    B = src.shape[0]
    outputs, done = [[] for _ in range(B)], torch.zeros(B, dtype=torch.bool)
    with torch.no_grad():
        source, first_state = model.encode(src, lengths)
        state = first_state
        token = torch.full((B,), model.bos_id)
        for _ in range({steps}):
            logits, state, _ = model.step(token, {state}, source)
            logits[:, {masked}] = float("-inf")
            token = logits.argmax(dim=-1)
            for b in range(B):
                {append}
                    outputs[b].append(int(token[b]))
            done |= token == model.eos_id
            if {stop}:
                break{feed}
    return {returned}'''


def _beam(start="[([], 0.0)]", mask="log_probs[:, [model.bos_id, model.pad_id]] = float(\"-inf\")",
          parent="j // V", ends="j % V == model.eos_id or t + 1 == max_length", finish="rank < beam_size",
          score="score / len(y) ** alpha", bound="max(s for _, s in live) / max_length ** alpha",
          stop="len(finished) >= beam_size and bound <= finished[beam_size - 1][0]",
          returned="(tokens, score)", copies=""):
    """The solution's beam search with one of its pieces replaced (a wrong answer's mistake)."""
    return f'''
def beam_search(model, src, lengths, beam_size, max_length, alpha):
    best = []
    for b in range(src.shape[0]):
        with torch.no_grad():
            source, state = model.encode(src[b:b + 1], lengths[b:b + 1]){copies}
            live, finished = {start}, []
            for t in range(max_length):
                rows = torch.zeros(len(live), dtype=torch.long)
                tokens = torch.tensor([y[-1] if y else model.bos_id for y, _ in live])
                logits, new_state, _ = model.step(tokens, state, source.select(rows))
                log_probs = torch.log_softmax(logits, dim=-1)
                {mask}
                scores = torch.tensor([s for _, s in live], dtype=log_probs.dtype)[:, None] + log_probs
                V = log_probs.shape[1]
                top, index = scores.flatten().topk(min(2 * beam_size, scores.numel()))
                kept, parents = [], []
                top_finished = False
                for rank, (score, j) in enumerate(zip(top.tolist(), index.tolist())):
                    if score == float("-inf"):
                        break
                    y = live[{parent}][0] + [j % V]
                    if {ends}:
                        if {finish}:
                            finished.append(({score}, y))
                            top_finished = top_finished or rank == 0
                    elif len(kept) < beam_size:
                        kept.append((y, score))
                        parents.append({parent})
                finished.sort(reverse=True)
                if not kept or t + 1 == max_length:
                    break
                live, state = kept, new_state.select(torch.tensor(parents))
                bound = {bound}
                if {stop}:
                    break
        score, tokens = finished[0]
        best.append({returned})
    return best'''


def _training(inputs="torch.cat([torch.full_like(y[:, :1], model.bos_id), y[:, :-1]], dim=1)",
              y="targets[rows]", lr="0.01", backward="loss.backward()", update="optimizer.step()",
              parameters="model.parameters()", returned="model", steps=None, epochs=4, batch=32):
    """The solution's training loop with one of its pieces replaced (a wrong answer's mistake)."""
    stop = f"\n            if step == {steps}:\n                return {returned}" if steps is not None else ""
    return f'''
def train_date_model(src, src_lengths, targets, src_vocab_size, tgt_vocab_size, seed):
    torch.manual_seed(seed)
    model = Seq2SeqModel(src_vocab_size, tgt_vocab_size)
    optimizer = torch.optim.Adam({parameters}, lr={lr})
    step = 0
    for epoch in range({epochs}):
        order = torch.randperm(len(src))
        for start in range(0, len(src), {batch}):
            rows = order[start:start + {batch}]
            y = {y}
            inputs = {inputs}
            logits, _ = model(src[rows, :int(src_lengths[rows].max())], src_lengths[rows], inputs)
            loss = F.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=model.pad_id)
            optimizer.zero_grad()
            {backward}
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            {update}
            step += 1{stop}
    return {returned}'''


WRONG = {
    # encode
    "the encoder run over the padding": {"part": "encode", "code": _encode(run="unpacked")},
    "pack_padded_sequence with unsorted lengths": {"part": "encode", "code": _encode(run="sorted_default")},
    "final states from outputs[:, -1]": {"part": "encode", "code": _encode(final="outputs[:, -1]")},
    "both final states at each source's last token": {"part": "encode", "code": _encode(
        final="outputs[torch.arange(B), lengths - 1]")},
    "directions swapped in the bridge": {"part": "encode", "code": _encode(
        final="torch.cat([h_n[1], h_n[0]], dim=-1)")},
    "no tanh in the bridge": {"part": "encode", "code": _encode(squash="")},
    "h_n viewed as batch-first": {"part": "encode", "code": _encode(final="h_n.reshape(B, -1)")},
    "outputs padded to the longest source only": {"part": "encode", "code": _encode(total="")},
    "s0 without its layer dimension": {"part": "encode", "code": _encode(returned="outputs, s0")},
    "outputs detached": {"part": "encode", "code": _encode(returned="outputs.detach(), s0.unsqueeze(0)")},
    # teacher_forced_loss
    "decoder input not shifted": {"part": "teacher_forced_loss", "code": _loss(inputs="targets")},
    "padding counted in the loss": {"part": "teacher_forced_loss", "code": _loss(
        loss="F.cross_entropy(logits.flatten(0, 1), targets.flatten())")},
    "mean of the per-sequence means": {"part": "teacher_forced_loss", "code": _loss(
        loss="(F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=model.pad_id, reduction='none')"
             ".sum(1) / (targets != model.pad_id).sum(1)).mean()")},
    "sum instead of mean": {"part": "teacher_forced_loss", "code": _loss(
        loss="F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=model.pad_id, reduction='sum')")},
    "targets fed as inputs, scored one step later": {"part": "teacher_forced_loss", "code": '''
def teacher_forced_loss(model, src, lengths, targets):
    logits, _ = model(src, lengths, targets)
    return F.cross_entropy(logits[:, :-1].flatten(0, 1), targets[:, 1:].flatten(), ignore_index=model.pad_id)'''},
    "</s> left out of the loss": {"part": "teacher_forced_loss", "code": _loss(
        loss="F.cross_entropy(logits.flatten(0, 1), targets.masked_fill(targets == model.eos_id, model.pad_id)"
             ".flatten(), ignore_index=model.pad_id)")},
    "returns loss.item()": {"part": "teacher_forced_loss", "code": _loss(returned="loss.item()")},
    "softmax before cross_entropy": {"part": "teacher_forced_loss", "code": _loss(
        loss="F.cross_entropy(logits.softmax(-1).flatten(0, 1), targets.flatten(), ignore_index=model.pad_id)")},
    "decoder starts from <pad>": {"part": "teacher_forced_loss", "code": _loss(
        inputs="torch.cat([torch.full_like(targets[:, :1], model.pad_id), targets[:, :-1]], dim=1)")},
    # additive_attention
    "no mask": {"part": "additive_attention", "code": _attention(masking="energies",
                                                                 weights="torch.softmax(energies, dim=-1)")},
    "padding's scores set to 0": {"part": "additive_attention", "code": _attention(
        masking="energies.masked_fill(~mask, 0.0)", weights="torch.softmax(energies, dim=-1)")},
    "weights masked after the softmax, not renormalised": {"part": "additive_attention", "code": _attention(
        masking="energies", weights="torch.softmax(energies, dim=-1) * mask")},
    "mask inverted": {"part": "additive_attention", "code": _attention(
        masking="energies.masked_fill(mask, torch.finfo(energies.dtype).min)",
        weights="torch.softmax(energies, dim=-1).masked_fill(mask, 0.0)")},
    "softmax over the batch": {"part": "additive_attention", "code": _attention(
        weights="torch.softmax(energies, dim=0).masked_fill(~mask, 0.0)")},
    "no tanh": {"part": "additive_attention", "code": _attention(
        energies="((query @ W.T)[:, None, :] + keys @ U.T + b) @ v")},
    "no bias": {"part": "additive_attention", "code": _attention(
        energies="torch.tanh((query @ W.T)[:, None, :] + keys @ U.T) @ v")},
    "-inf at the padding (NaN on an empty row)": {"part": "additive_attention", "code": _attention(
        masking="energies.masked_fill(~mask, float('-inf'))", weights="torch.softmax(energies, dim=-1)")},
    "-1e9 at the padding, the empty row uniform": {"part": "additive_attention", "code": _attention(
        masking="energies.masked_fill(~mask, -1e9)", weights="torch.softmax(energies, dim=-1)")},
    "weights detached": {"part": "additive_attention", "code": _attention(
        context="torch.bmm(weights.detach()[:, None, :], keys).squeeze(1)")},
    "softmax by hand without the max": {"part": "additive_attention", "code": _attention(
        masking="energies",
        weights="energies.exp() * mask / (energies.exp() * mask).sum(-1, keepdim=True).clamp_min(1e-300)")},
    # greedy_decode
    "the batch stops at the first </s>": {"part": "greedy_decode", "code": _greedy(stop="done.any()")},
    "decoding goes on after </s>": {"part": "greedy_decode", "code": _greedy(append="if True:")},
    "max_length + 1 steps": {"part": "greedy_decode", "code": _greedy(steps="max_length + 1")},
    "max_length - 1 steps": {"part": "greedy_decode", "code": _greedy(steps="max_length - 1")},
    "<s> and <pad> not masked": {"part": "greedy_decode", "code": _greedy(masked="[]")},
    "only <pad> masked": {"part": "greedy_decode", "code": _greedy(masked="[model.pad_id]")},
    "</s> left out of the outputs": {"part": "greedy_decode", "code": _greedy(
        returned="[y[:-1] if y and y[-1] == model.eos_id else y for y in outputs]")},
    "<s> fed at every step": {"part": "greedy_decode", "code": _greedy(
        feed="\n            token = torch.full((B,), model.bos_id)")},
    "every step from s_0": {"part": "greedy_decode", "code": _greedy(state="first_state")},
    "a tensor returned": {"part": "greedy_decode", "code": _greedy(returned="torch.tensor(sum(outputs, []))")},
    # beam_search
    "finished hypotheses extended": {"part": "beam_search", "code": _beam(ends="t + 1 == max_length")},
    "unnormalised scores": {"part": "beam_search", "code": _beam(score="score")},
    "true division of the beam index": {"part": "beam_search", "code": _beam(parent="j / V")},
    "k copies of <s> at the first step": {"part": "beam_search", "code": _beam(
        start="[([], 0.0)] * beam_size",
        copies="\n            state = state.select(torch.zeros(beam_size, dtype=torch.long))")},
    "stopping when the top hypothesis finishes": {"part": "beam_search", "code": _beam(stop="top_finished")},
    "L without </s>": {"part": "beam_search", "code": _beam(score="score / max(len(y) - 1, 1) ** alpha")},
    "the beam index modulo k": {"part": "beam_search", "code": _beam(parent="j % len(live)")},
    "the bound at the current length": {"part": "beam_search", "code": _beam(
        bound="max(s for _, s in live) / (t + 1) ** alpha")},
    "the raw bound against normalised scores": {"part": "beam_search", "code": _beam(
        bound="max(s for _, s in live)")},
    "<s> and <pad> not masked in the beam": {"part": "beam_search", "code": _beam(mask="pass")},
    "a probability returned": {"part": "beam_search", "code": _beam(returned="(tokens, math.exp(score))")},
    # train_date_model
    "trained on unshifted inputs": {"part": "train_date_model", "code": _training(inputs="y")},
    "optimizer.step() missing": {"part": "train_date_model", "code": _training(update="pass")},
    "loss maximised": {"part": "train_date_model", "code": _training(backward="(-loss).backward()")},
    "learning rate far too small": {"part": "train_date_model", "code": _training(lr="1e-5")},
    "far too few steps": {"part": "train_date_model", "code": _training(steps=5)},
    "only the output layer trained": {"part": "train_date_model", "code": _training(
        parameters="model.decoder.output.parameters()")},
    "targets not shuffled with the sources": {"part": "train_date_model", "code": _training(
        y="targets[start:start + 32]")},
    "returns the state_dict": {"part": "train_date_model", "code": _training(returned="model.state_dict()")},
}

RIGHT = {
    # encode
    "sorted by length, packed, unsorted back": {"part": "encode", "code": '''
def encode(src, lengths, embedding, rnn, bridge):
    order = torch.argsort(lengths, descending=True)
    packed = pack_padded_sequence(embedding(src[order]), lengths[order], batch_first=True)
    outputs, h_n = rnn(packed)
    outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=src.shape[1])
    back = torch.argsort(order)
    h_n = h_n[:, back]
    s0 = torch.tanh(bridge(torch.cat([h_n[0], h_n[1]], dim=-1)))
    return outputs[back], s0[None]'''},
    "one source at a time": {"part": "encode", "code": '''
def encode(src, lengths, embedding, rnn, bridge):
    B, S = src.shape
    outputs, finals = [], []
    for b in range(B):
        n = int(lengths[b])
        out, h_n = rnn(embedding(src[b:b + 1, :n]))
        outputs.append(torch.cat([out[0], out.new_zeros(S - n, out.shape[-1])]))
        finals.append(torch.cat([h_n[0, 0], h_n[1, 0]]))
    s0 = torch.tanh(bridge(torch.stack(finals)))
    return torch.stack(outputs), s0[None]'''},
    "h_n transposed and reshaped": {"part": "encode", "code": '''
def encode(src, lengths, embedding, rnn, bridge):
    B, S = src.shape
    packed = pack_padded_sequence(embedding(src), lengths.cpu(), batch_first=True, enforce_sorted=False)
    outputs, h_n = rnn(packed)
    outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=S)
    final = h_n.transpose(0, 1).reshape(B, -1)
    return outputs, torch.tanh(final @ bridge.weight.T + bridge.bias).unsqueeze(0)'''},
    # teacher_forced_loss
    "log_softmax and gather": {"part": "teacher_forced_loss", "code": '''
def teacher_forced_loss(model, src, lengths, targets):
    inputs = torch.cat([torch.full_like(targets[:, :1], model.bos_id), targets[:, :-1]], dim=1)
    logits, _ = model(src, lengths, inputs)
    real = targets != model.pad_id
    picked = torch.log_softmax(logits, -1).gather(2, targets.masked_fill(~real, 0).unsqueeze(-1)).squeeze(-1)
    return -(picked * real).sum() / real.sum()'''},
    "rolled targets, a loop over the sequences": {"part": "teacher_forced_loss", "code": '''
def teacher_forced_loss(model, src, lengths, targets):
    inputs = targets.roll(1, dims=1)
    inputs[:, 0] = model.bos_id
    logits, _ = model(src, lengths, inputs)
    total, count = 0.0, 0
    for b in range(len(targets)):
        n = int((targets[b] != model.pad_id).sum())
        total = total + F.cross_entropy(logits[b, :n], targets[b, :n], reduction="sum")
        count += n
    return total / count'''},
    "nll_loss on log-probabilities, masked by indexing": {"part": "teacher_forced_loss", "code": '''
def teacher_forced_loss(model, src, lengths, targets):
    B, N = targets.shape
    inputs = torch.empty_like(targets)
    inputs[:, 0] = model.bos_id
    inputs[:, 1:] = targets[:, :-1]
    logits, _ = model(src, lengths, inputs)
    real = targets != model.pad_id
    return F.nll_loss(F.log_softmax(logits[real], dim=-1), targets[real])'''},
    # additive_attention
    "a loop over the batch, softmax over the real positions": {"part": "additive_attention", "code": '''
def additive_attention(query, keys, mask, W, U, b, v):
    B, S, D = keys.shape
    contexts, all_weights = [], []
    for i in range(B):
        e = torch.tanh(W @ query[i] + keys[i] @ U.T + b) @ v
        weights = torch.zeros(S, dtype=keys.dtype)
        real = mask[i]
        if real.any():
            weights = weights.masked_scatter(real, torch.softmax(e[real], dim=0))
        all_weights.append(weights)
        contexts.append(weights @ keys[i])
    return torch.stack(contexts), torch.stack(all_weights)'''},
    "einsum and a stable softmax by hand": {"part": "additive_attention", "code": '''
def additive_attention(query, keys, mask, W, U, b, v):
    hidden = torch.tanh(torch.einsum("ad,bd->ba", W, query)[:, None] + torch.einsum("ak,bsk->bsa", U, keys) + b)
    e = torch.einsum("bsa,a->bs", hidden, v)
    e = torch.where(mask, e, torch.zeros_like(e))
    top = e.max(dim=-1, keepdim=True).values.detach()
    exp = torch.exp(e - top) * mask
    weights = exp / exp.sum(-1, keepdim=True).clamp_min(1e-300)
    return torch.einsum("bs,bsk->bk", weights, keys), weights'''},
    "-1e30 then renormalised over the mask": {"part": "additive_attention", "code": '''
def additive_attention(query, keys, mask, W, U, b, v):
    scores = (torch.tanh(query.matmul(W.t()).unsqueeze(1) + keys.matmul(U.t()) + b) * v).sum(-1)
    weights = torch.softmax(scores.masked_fill(~mask, -1e30), dim=1) * mask
    weights = weights / weights.sum(1, keepdim=True).clamp_min(1e-300)
    return (weights.unsqueeze(-1) * keys).sum(1), weights'''},
    # greedy_decode
    "one source at a time, until its own </s>": {"part": "greedy_decode", "code": '''
def greedy_decode(model, src, lengths, max_length):
    outputs = []
    with torch.no_grad():
        for b in range(len(src)):
            source, state = model.encode(src[b:b + 1], lengths[b:b + 1])
            token, out = torch.tensor([model.bos_id]), []
            while len(out) < max_length and (not out or out[-1] != model.eos_id):
                logits, state, _ = model.step(token, state, source)
                logits[0, model.bos_id] = logits[0, model.pad_id] = -math.inf
                token = logits.argmax(-1)
                out.append(token.item())
            outputs.append(out)
    return outputs'''},
    "a token tensor, trimmed at the end": {"part": "greedy_decode", "code": '''
def greedy_decode(model, src, lengths, max_length):
    B = len(src)
    source, state = model.encode(src, lengths)
    token = torch.full((B,), model.bos_id)
    finished = torch.zeros(B, dtype=torch.bool)
    emitted = []
    for _ in range(max_length):
        logits, state, _ = model.step(token, state, source)
        never = torch.zeros_like(logits, dtype=torch.bool)
        never[:, [model.bos_id, model.pad_id]] = True
        token = logits.detach().masked_fill(never, -math.inf).argmax(-1)
        emitted.append(token.masked_fill(finished, -1))
        finished = finished | (token == model.eos_id)
        if bool(finished.all()):
            break
    rows = torch.stack(emitted, 1).tolist()
    return [[t for t in row if t >= 0] for row in rows]'''},
    "the still-running rows selected each step": {"part": "greedy_decode", "code": '''
def greedy_decode(model, src, lengths, max_length):
    outputs = [[] for _ in range(len(src))]
    with torch.no_grad():
        source, state = model.encode(src, lengths)
        running = torch.arange(len(src))
        token = torch.full((len(src),), model.bos_id)
        for _ in range(max_length):
            logits, state, _ = model.step(token, state, source)
            log_probs = torch.log_softmax(logits, -1)
            log_probs[:, model.bos_id] = log_probs[:, model.pad_id] = -math.inf
            token = log_probs.argmax(-1)
            for row, t in zip(running.tolist(), token.tolist()):
                outputs[row].append(t)
            going = token != model.eos_id
            if not going.any():
                break
            keep = torch.nonzero(going).flatten()
            running, token = running[keep], token[keep]
            state, source = state.select(keep), source.select(keep)
    return outputs'''},
    # beam_search
    "no early stop: always max_length steps": {"part": "beam_search", "code": _beam(stop="False")},
    "every candidate sorted in Python": {"part": "beam_search", "code": '''
def beam_search(model, src, lengths, beam_size, max_length, alpha):
    best = []
    for b in range(len(src)):
        with torch.no_grad():
            source, state = model.encode(src[b:b + 1], lengths[b:b + 1])
            beams, finished = [((), 0.0, 0)], []
            for t in range(max_length):
                last = torch.tensor([y[-1] if y else model.bos_id for y, _, _ in beams])
                rows = torch.tensor([row for _, _, row in beams])
                logits, new_state, _ = model.step(last, state.select(rows), source.select(torch.zeros_like(rows)))
                log_probs = torch.log_softmax(logits, -1).tolist()
                candidates = []
                for i, (y, s, _) in enumerate(beams):
                    for token, lp in enumerate(log_probs[i]):
                        if token not in (model.bos_id, model.pad_id) and lp > -math.inf:
                            candidates.append((s + lp, y + (token,), i))
                candidates.sort(key=lambda c: -c[0])
                for s, y, _ in candidates[:beam_size]:
                    if y[-1] == model.eos_id or len(y) == max_length:
                        finished.append((s / len(y) ** alpha, list(y)))
                beams = [(y, s, i) for s, y, i in candidates if y[-1] != model.eos_id][:beam_size]
                if not beams or t + 1 == max_length:
                    break
                state = new_state
                finished.sort(reverse=True)
                if len(finished) >= beam_size and beams[0][1] / max_length ** alpha <= finished[beam_size - 1][0]:
                    break
        score, tokens = max(finished)
        best.append((tokens, score))
    return best'''},
    "the k best finished kept in a heap": {"part": "beam_search", "code": '''
import heapq


def beam_search(model, src, lengths, beam_size, max_length, alpha):
    results = []
    for b in range(len(src)):
        with torch.no_grad():
            source, state = model.encode(src[b:b + 1], lengths[b:b + 1])
            live_tokens, live_scores = [[]], torch.zeros(1, dtype=torch.float64)
            finished = []                                   # a min-heap of the k best (score, tokens)
            for t in range(1, max_length + 1):
                last = torch.tensor([y[-1] if y else model.bos_id for y in live_tokens])
                rows = torch.zeros(len(last), dtype=torch.long)
                logits, new_state, _ = model.step(last, state, source.select(rows))
                log_probs = logits.double().log_softmax(-1)
                log_probs[:, model.bos_id] = -math.inf
                log_probs[:, model.pad_id] = -math.inf
                V = log_probs.shape[-1]
                flat = (live_scores[:, None] + log_probs).reshape(-1)
                order = torch.argsort(flat, descending=True)[:2 * beam_size]
                next_tokens, next_scores, parents = [], [], []
                for rank, j in enumerate(order.tolist()):
                    s = float(flat[j])
                    if s == -math.inf:
                        break
                    beam, token = divmod(j, V)
                    y = live_tokens[beam] + [token]
                    if token == model.eos_id or t == max_length:
                        if rank < beam_size:
                            heapq.heappush(finished, (s / t ** alpha, y))
                            if len(finished) > beam_size:
                                heapq.heappop(finished)
                    elif len(next_tokens) < beam_size:
                        next_tokens.append(y)
                        next_scores.append(s)
                        parents.append(beam)
                if not next_tokens or t == max_length:
                    break
                live_tokens, live_scores = next_tokens, torch.tensor(next_scores, dtype=torch.float64)
                state = new_state.select(torch.tensor(parents))
                if len(finished) == beam_size and max(next_scores) / max_length ** alpha <= finished[0][0]:
                    break
        score, tokens = max(finished)
        results.append((tokens, score))
    return results'''},
    # train_date_model
    "log_softmax and gather, batches of 64 for 6 epochs": {"part": "train_date_model", "code": '''
def train_date_model(src, src_lengths, targets, src_vocab_size, tgt_vocab_size, seed):
    torch.manual_seed(seed)
    model = Seq2SeqModel(src_vocab_size, tgt_vocab_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for epoch in range(6):
        for rows in torch.randperm(len(src)).split(64):
            y = targets[rows]
            inputs = torch.cat([torch.full_like(y[:, :1], model.bos_id), y[:, :-1]], dim=1)
            logits, _ = model(src[rows], src_lengths[rows], inputs)
            real = y != model.pad_id
            picked = logits.log_softmax(-1).gather(2, y.masked_fill(~real, 0)[..., None])[..., 0]
            loss = -(picked * real).sum() / real.sum()
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
    return model'''},
    "batches of similar lengths, shuffled": {"part": "train_date_model", "code": '''
def train_date_model(src, src_lengths, targets, src_vocab_size, tgt_vocab_size, seed):
    torch.manual_seed(seed)
    model = Seq2SeqModel(src_vocab_size, tgt_vocab_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    by_length = torch.argsort(src_lengths)
    batches = list(by_length.split(32))
    for epoch in range(4):
        for i in torch.randperm(len(batches)).tolist():
            rows = batches[i]
            S = int(src_lengths[rows].max())
            y = targets[rows]
            inputs = torch.cat([torch.full_like(y[:, :1], model.bos_id), y[:, :-1]], dim=1)
            logits, _ = model(src[rows, :S], src_lengths[rows], inputs)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=model.pad_id)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
    return model'''},
    "a loss function of its own and AdamW": {"part": "train_date_model", "code": '''
def train_date_model(src, src_lengths, targets, src_vocab_size, tgt_vocab_size, seed):
    def loss_of(model, rows):
        y = targets[rows]
        inputs = torch.cat([torch.full_like(y[:, :1], model.bos_id), y[:, :-1]], dim=1)
        logits, _ = model(src[rows], src_lengths[rows], inputs)
        return F.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=model.pad_id)

    torch.manual_seed(seed)
    model = Seq2SeqModel(src_vocab_size, tgt_vocab_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01, weight_decay=0.0)
    model.train()
    for epoch in range(4):
        order = torch.randperm(len(src))
        for start in range(0, len(src), 32):
            optimizer.zero_grad()
            loss_of(model, order[start:start + 32]).backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
    return model.eval()'''},
}
