"""Plausible wrong answers to assignment 04, at least eight per part, and right answers written
differently from the solution, at least three per part. The pipeline test grades each one: a
wrong answer must lose exactly the points of ``part`` and keep all others, a right one must pass;
``make course`` grades the first wrong answer as the demo class's "typical bug"."""

WRONG = {
    # -- rnn_backward (first: the demo class's typical bug) --------------------------------------
    "recurrent term missing": {"part": "rnn_backward", "code": '''
def rnn_backward(dh, cache):
    x, h0, W_xh, W_hh, h = cache
    T = x.shape[1]
    dx, dW_xh, dW_hh, db = torch.zeros_like(x), torch.zeros_like(W_xh), torch.zeros_like(W_hh), torch.zeros_like(h[0, 0])
    dh_prev = torch.zeros_like(h0)
    for t in reversed(range(T)):
        h_prev = h[:, t - 1] if t > 0 else h0
        da = dh[:, t] * (1 - h[:, t] ** 2)
        dx[:, t] = da @ W_xh.T
        dW_xh += x[:, t].T @ da
        dW_hh += h_prev.T @ da
        db += da.sum(0)
        dh_prev = da @ W_hh.T
    return dx, dh_prev, dW_xh, dW_hh, db'''},
    "tanh' of the pre-activation (1 - tanh(h)^2)": {"part": "rnn_backward", "code": '''
def rnn_backward(dh, cache):
    x, h0, W_xh, W_hh, h = cache
    T = x.shape[1]
    dx, dW_xh, dW_hh, db = torch.zeros_like(x), torch.zeros_like(W_xh), torch.zeros_like(W_hh), torch.zeros_like(h[0, 0])
    dh_next = torch.zeros_like(h0)
    for t in reversed(range(T)):
        h_prev = h[:, t - 1] if t > 0 else h0
        da = (dh[:, t] + dh_next) * (1 - torch.tanh(h[:, t]) ** 2)
        dx[:, t] = da @ W_xh.T
        dW_xh += x[:, t].T @ da
        dW_hh += h_prev.T @ da
        db += da.sum(0)
        dh_next = da @ W_hh.T
    return dx, dh_next, dW_xh, dW_hh, db'''},
    "weight gradients from the last step only": {"part": "rnn_backward", "code": '''
def rnn_backward(dh, cache):
    x, h0, W_xh, W_hh, h = cache
    T = x.shape[1]
    dx = torch.zeros_like(x)
    dh_next = torch.zeros_like(h0)
    for t in reversed(range(T)):
        h_prev = h[:, t - 1] if t > 0 else h0
        da = (dh[:, t] + dh_next) * (1 - h[:, t] ** 2)
        dx[:, t] = da @ W_xh.T
        if t == T - 1:
            dW_xh, dW_hh, db = x[:, t].T @ da, h_prev.T @ da, da.sum(0)
        dh_next = da @ W_hh.T
    return dx, dh_next, dW_xh, dW_hh, db'''},
    "dh0 dropped": {"part": "rnn_backward", "code": '''
def rnn_backward(dh, cache):
    x, h0, W_xh, W_hh, h = cache
    T = x.shape[1]
    dx, dW_xh, dW_hh, db = torch.zeros_like(x), torch.zeros_like(W_xh), torch.zeros_like(W_hh), torch.zeros_like(h[0, 0])
    dh_next = torch.zeros_like(h0)
    for t in reversed(range(T)):
        h_prev = h[:, t - 1] if t > 0 else h0
        da = (dh[:, t] + dh_next) * (1 - h[:, t] ** 2)
        dx[:, t] = da @ W_xh.T
        dW_xh += x[:, t].T @ da
        dW_hh += h_prev.T @ da
        db += da.sum(0)
        dh_next = da @ W_hh.T
    return dx, torch.zeros_like(h0), dW_xh, dW_hh, db'''},
    "transposed weight gradients": {"part": "rnn_backward", "code": '''
def rnn_backward(dh, cache):
    x, h0, W_xh, W_hh, h = cache
    T = x.shape[1]
    dx = torch.zeros_like(x)
    dW_xh, dW_hh, db = torch.zeros_like(W_xh.T), torch.zeros_like(W_hh), torch.zeros_like(h[0, 0])
    dh_next = torch.zeros_like(h0)
    for t in reversed(range(T)):
        h_prev = h[:, t - 1] if t > 0 else h0
        da = (dh[:, t] + dh_next) * (1 - h[:, t] ** 2)
        dx[:, t] = da @ W_xh.T
        dW_xh += da.T @ x[:, t]
        dW_hh += da.T @ h_prev
        db += da.sum(0)
        dh_next = da @ W_hh.T
    return dx, dh_next, dW_xh, dW_hh, db'''},
    "upstream gradient of the last step only": {"part": "rnn_backward", "code": '''
def rnn_backward(dh, cache):
    x, h0, W_xh, W_hh, h = cache
    T = x.shape[1]
    dx, dW_xh, dW_hh, db = torch.zeros_like(x), torch.zeros_like(W_xh), torch.zeros_like(W_hh), torch.zeros_like(h[0, 0])
    dh_t = dh[:, -1]
    for t in reversed(range(T)):
        h_prev = h[:, t - 1] if t > 0 else h0
        da = dh_t * (1 - h[:, t] ** 2)
        dx[:, t] = da @ W_xh.T
        dW_xh += x[:, t].T @ da
        dW_hh += h_prev.T @ da
        db += da.sum(0)
        dh_t = da @ W_hh.T
    return dx, dh_t, dW_xh, dW_hh, db'''},
    "dW_hh with h_t instead of h_{t-1}": {"part": "rnn_backward", "code": '''
def rnn_backward(dh, cache):
    x, h0, W_xh, W_hh, h = cache
    T = x.shape[1]
    dx, dW_xh, dW_hh, db = torch.zeros_like(x), torch.zeros_like(W_xh), torch.zeros_like(W_hh), torch.zeros_like(h[0, 0])
    dh_next = torch.zeros_like(h0)
    for t in reversed(range(T)):
        da = (dh[:, t] + dh_next) * (1 - h[:, t] ** 2)
        dx[:, t] = da @ W_xh.T
        dW_xh += x[:, t].T @ da
        dW_hh += h[:, t].T @ da
        db += da.sum(0)
        dh_next = da @ W_hh.T
    return dx, dh_next, dW_xh, dW_hh, db'''},
    "recurrent term added after tanh'": {"part": "rnn_backward", "code": '''
def rnn_backward(dh, cache):
    x, h0, W_xh, W_hh, h = cache
    T = x.shape[1]
    dx, dW_xh, dW_hh, db = torch.zeros_like(x), torch.zeros_like(W_xh), torch.zeros_like(W_hh), torch.zeros_like(h[0, 0])
    da_next = torch.zeros_like(h0)
    for t in reversed(range(T)):
        h_prev = h[:, t - 1] if t > 0 else h0
        da = dh[:, t] * (1 - h[:, t] ** 2) + da_next
        dx[:, t] = da @ W_xh.T
        dW_xh += x[:, t].T @ da
        dW_hh += h_prev.T @ da
        db += da.sum(0)
        da_next = da @ W_hh.T
    return dx, da_next, dW_xh, dW_hh, db'''},
    "W_hh not transposed in the recurrence": {"part": "rnn_backward", "code": '''
def rnn_backward(dh, cache):
    x, h0, W_xh, W_hh, h = cache
    T = x.shape[1]
    dx, dW_xh, dW_hh, db = torch.zeros_like(x), torch.zeros_like(W_xh), torch.zeros_like(W_hh), torch.zeros_like(h[0, 0])
    dh_next = torch.zeros_like(h0)
    for t in reversed(range(T)):
        h_prev = h[:, t - 1] if t > 0 else h0
        da = (dh[:, t] + dh_next) * (1 - h[:, t] ** 2)
        dx[:, t] = da @ W_xh.T
        dW_xh += x[:, t].T @ da
        dW_hh += h_prev.T @ da
        db += da.sum(0)
        dh_next = da @ W_hh
    return dx, dh_next, dW_xh, dW_hh, db'''},
    "loop forwards in time": {"part": "rnn_backward", "code": '''
def rnn_backward(dh, cache):
    x, h0, W_xh, W_hh, h = cache
    T = x.shape[1]
    dx, dW_xh, dW_hh, db = torch.zeros_like(x), torch.zeros_like(W_xh), torch.zeros_like(W_hh), torch.zeros_like(h[0, 0])
    dh_next = torch.zeros_like(h0)
    for t in range(T):
        h_prev = h[:, t - 1] if t > 0 else h0
        da = (dh[:, t] + dh_next) * (1 - h[:, t] ** 2)
        dx[:, t] = da @ W_xh.T
        dW_xh += x[:, t].T @ da
        dW_hh += h_prev.T @ da
        db += da.sum(0)
        dh_next = da @ W_hh.T
    return dx, dh_next, dW_xh, dW_hh, db'''},
    "float32 buffers": {"part": "rnn_backward", "code": '''
def rnn_backward(dh, cache):
    x, h0, W_xh, W_hh, h = cache
    B, T, I = x.shape
    H = h.shape[2]
    dx, dW_xh, dW_hh, db = torch.zeros(B, T, I), torch.zeros(I, H), torch.zeros(H, H), torch.zeros(H)
    dh_next = torch.zeros(B, H)
    for t in reversed(range(T)):
        h_prev = h[:, t - 1] if t > 0 else h0
        da = (dh[:, t] + dh_next) * (1 - h[:, t] ** 2)
        dx[:, t] = da @ W_xh.T
        dW_xh += x[:, t].T @ da
        dW_hh += h_prev.T @ da
        db += da.sum(0)
        dh_next = da @ W_hh.T
    return dx, dh_next, dW_xh, dW_hh, db'''},
    "autograd instead of the derivation": {"part": "rnn_backward", "code": '''
def rnn_backward(dh, cache):
    x, h0, W_xh, W_hh, h = cache
    leaves = [t.clone().requires_grad_() for t in (x, h0, W_xh, W_hh)]
    b = torch.atanh(h[:, 0]) - x[:, 0] @ W_xh - h0 @ W_hh
    b = b[0].clone().requires_grad_()
    states, state = [], leaves[1]
    for t in range(x.shape[1]):
        state = torch.tanh(leaves[0][:, t] @ leaves[2] + state @ leaves[3] + b)
        states.append(state)
    (torch.stack(states, 1) * dh).sum().backward()
    return leaves[0].grad, leaves[1].grad, leaves[2].grad, leaves[3].grad, b.grad'''},

    # -- scalar_rnn_backward ---------------------------------------------------------------------
    "scalar: recurrent term missing": {"part": "scalar_rnn_backward", "code": '''
def scalar_rnn_backward(dy, cache):
    x, u, w, v, h0, h, y = (cache[k] for k in ("x", "u", "w", "v", "h0", "h", "y"))
    dr = dy * (1 - y ** 2)
    dz = dr * v * (1 - h ** 2)
    h_prev = torch.cat([h0[:, None], h[:, :-1]], dim=1)
    return (dz * x).sum(), (dr * h).sum(), (dz * h_prev).sum(), dz * u'''},
    "scalar: phi' of the pre-activation": {"part": "scalar_rnn_backward", "code": '''
def scalar_rnn_backward(dy, cache):
    x, u, w, v, h0, h, y = (cache[k] for k in ("x", "u", "w", "v", "h0", "h", "y"))
    dr = dy * (1 - torch.tanh(y) ** 2)
    dz = torch.zeros_like(h)
    dz_next = torch.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
        dz[:, t] = (dr[:, t] * v + dz_next * w) * (1 - torch.tanh(h[:, t]) ** 2)
        dz_next = dz[:, t]
    h_prev = torch.cat([h0[:, None], h[:, :-1]], dim=1)
    return (dz * x).sum(), (dr * h).sum(), (dz * h_prev).sum(), dz * u'''},
    "scalar: bars from the last step only": {"part": "scalar_rnn_backward", "code": '''
def scalar_rnn_backward(dy, cache):
    x, u, w, v, h0, h, y = (cache[k] for k in ("x", "u", "w", "v", "h0", "h", "y"))
    dr = dy * (1 - y ** 2)
    dz = torch.zeros_like(h)
    dz_next = torch.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
        dz[:, t] = (dr[:, t] * v + dz_next * w) * (1 - h[:, t] ** 2)
        dz_next = dz[:, t]
    h_prev = torch.cat([h0[:, None], h[:, :-1]], dim=1)
    return (dz[:, -1] * x[:, -1]).sum(), (dr[:, -1] * h[:, -1]).sum(), (dz[:, -1] * h_prev[:, -1]).sum(), dz * u'''},
    "scalar: w_bar with h_t instead of h_{t-1}": {"part": "scalar_rnn_backward", "code": '''
def scalar_rnn_backward(dy, cache):
    x, u, w, v, h0, h, y = (cache[k] for k in ("x", "u", "w", "v", "h0", "h", "y"))
    dr = dy * (1 - y ** 2)
    dz = torch.zeros_like(h)
    dz_next = torch.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
        dz[:, t] = (dr[:, t] * v + dz_next * w) * (1 - h[:, t] ** 2)
        dz_next = dz[:, t]
    return (dz * x).sum(), (dr * h).sum(), (dz * h).sum(), dz * u'''},
    "scalar: h0 taken as 0": {"part": "scalar_rnn_backward", "code": '''
def scalar_rnn_backward(dy, cache):
    x, u, w, v, h0, h, y = (cache[k] for k in ("x", "u", "w", "v", "h0", "h", "y"))
    dr = dy * (1 - y ** 2)
    dz = torch.zeros_like(h)
    dz_next = torch.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
        dz[:, t] = (dr[:, t] * v + dz_next * w) * (1 - h[:, t] ** 2)
        dz_next = dz[:, t]
    return (dz * x).sum(), (dr * h).sum(), (dz[:, 1:] * h[:, :-1]).sum(), dz * u'''},
    "scalar: output nonlinearity forgotten": {"part": "scalar_rnn_backward", "code": '''
def scalar_rnn_backward(dy, cache):
    x, u, w, v, h0, h, y = (cache[k] for k in ("x", "u", "w", "v", "h0", "h", "y"))
    dr = dy
    dz = torch.zeros_like(h)
    dz_next = torch.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
        dz[:, t] = (dr[:, t] * v + dz_next * w) * (1 - h[:, t] ** 2)
        dz_next = dz[:, t]
    h_prev = torch.cat([h0[:, None], h[:, :-1]], dim=1)
    return (dz * x).sum(), (dr * h).sum(), (dz * h_prev).sum(), dz * u'''},
    "scalar: x_bar = z_bar w": {"part": "scalar_rnn_backward", "code": '''
def scalar_rnn_backward(dy, cache):
    x, u, w, v, h0, h, y = (cache[k] for k in ("x", "u", "w", "v", "h0", "h", "y"))
    dr = dy * (1 - y ** 2)
    dz = torch.zeros_like(h)
    dz_next = torch.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
        dz[:, t] = (dr[:, t] * v + dz_next * w) * (1 - h[:, t] ** 2)
        dz_next = dz[:, t]
    h_prev = torch.cat([h0[:, None], h[:, :-1]], dim=1)
    return (dz * x).sum(), (dr * h).sum(), (dz * h_prev).sum(), dz * w'''},
    "scalar: loop forwards in time": {"part": "scalar_rnn_backward", "code": '''
def scalar_rnn_backward(dy, cache):
    x, u, w, v, h0, h, y = (cache[k] for k in ("x", "u", "w", "v", "h0", "h", "y"))
    dr = dy * (1 - y ** 2)
    dz = torch.zeros_like(h)
    dz_next = torch.zeros_like(h0)
    for t in range(x.shape[1]):
        dz[:, t] = (dr[:, t] * v + dz_next * w) * (1 - h[:, t] ** 2)
        dz_next = dz[:, t]
    h_prev = torch.cat([h0[:, None], h[:, :-1]], dim=1)
    return (dz * x).sum(), (dr * h).sum(), (dz * h_prev).sum(), dz * u'''},
    "scalar: bars not summed over the batch": {"part": "scalar_rnn_backward", "code": '''
def scalar_rnn_backward(dy, cache):
    x, u, w, v, h0, h, y = (cache[k] for k in ("x", "u", "w", "v", "h0", "h", "y"))
    dr = dy * (1 - y ** 2)
    dz = torch.zeros_like(h)
    dz_next = torch.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
        dz[:, t] = (dr[:, t] * v + dz_next * w) * (1 - h[:, t] ** 2)
        dz_next = dz[:, t]
    h_prev = torch.cat([h0[:, None], h[:, :-1]], dim=1)
    return (dz * x).sum(1), (dr * h).sum(1), (dz * h_prev).sum(1), dz * u'''},
    "scalar: autograd instead of the derivation": {"part": "scalar_rnn_backward", "code": '''
def scalar_rnn_backward(dy, cache):
    x = cache["x"].clone().requires_grad_()
    u, w, v = (cache[k].clone().requires_grad_() for k in ("u", "w", "v"))
    h, ys = cache["h0"], []
    for t in range(x.shape[1]):
        h = torch.tanh(u * x[:, t] + w * h)
        ys.append(torch.tanh(v * h))
    return torch.autograd.grad((torch.stack(ys, 1) * dy).sum(), (u, v, w, x))'''},

    # -- rnn_step_backward -----------------------------------------------------------------------
    "step: tanh' of the pre-activation": {"part": "rnn_step_backward", "code": '''
def rnn_step_backward(dh_t, cache):
    x_t, h_prev, W_xh, W_hh, h_t = cache
    da = dh_t * (1 - torch.tanh(h_t) ** 2)
    return da @ W_xh.T, da @ W_hh.T, x_t.T @ da, h_prev.T @ da, da.sum(0)'''},
    "step: transposed weight gradients": {"part": "rnn_step_backward", "code": '''
def rnn_step_backward(dh_t, cache):
    x_t, h_prev, W_xh, W_hh, h_t = cache
    da = dh_t * (1 - h_t ** 2)
    return da @ W_xh.T, da @ W_hh.T, da.T @ x_t, da.T @ h_prev, da.sum(0)'''},
    "step: db not summed over the batch": {"part": "rnn_step_backward", "code": '''
def rnn_step_backward(dh_t, cache):
    x_t, h_prev, W_xh, W_hh, h_t = cache
    da = dh_t * (1 - h_t ** 2)
    return da @ W_xh.T, da @ W_hh.T, x_t.T @ da, h_prev.T @ da, da'''},
    "step: W_hh not transposed": {"part": "rnn_step_backward", "code": '''
def rnn_step_backward(dh_t, cache):
    x_t, h_prev, W_xh, W_hh, h_t = cache
    da = dh_t * (1 - h_t ** 2)
    return da @ W_xh.T, da @ W_hh, x_t.T @ da, h_prev.T @ da, da.sum(0)'''},
    "step: tanh' forgotten": {"part": "rnn_step_backward", "code": '''
def rnn_step_backward(dh_t, cache):
    x_t, h_prev, W_xh, W_hh, h_t = cache
    return dh_t @ W_xh.T, dh_t @ W_hh.T, x_t.T @ dh_t, h_prev.T @ dh_t, dh_t.sum(0)'''},
    "step: dW_hh with h_t": {"part": "rnn_step_backward", "code": '''
def rnn_step_backward(dh_t, cache):
    x_t, h_prev, W_xh, W_hh, h_t = cache
    da = dh_t * (1 - h_t ** 2)
    return da @ W_xh.T, da @ W_hh.T, x_t.T @ da, h_t.T @ da, da.sum(0)'''},
    "step: dW_xh and dW_hh from each other's input": {"part": "rnn_step_backward", "code": '''
def rnn_step_backward(dh_t, cache):
    x_t, h_prev, W_xh, W_hh, h_t = cache
    da = dh_t * (1 - h_t ** 2)
    return da @ W_xh.T, da @ W_hh.T, h_prev.T @ da, x_t.T @ da, da.sum(0)'''},
    "step: db averaged over the batch": {"part": "rnn_step_backward", "code": '''
def rnn_step_backward(dh_t, cache):
    x_t, h_prev, W_xh, W_hh, h_t = cache
    da = dh_t * (1 - h_t ** 2)
    return da @ W_xh.T, da @ W_hh.T, x_t.T @ da, h_prev.T @ da, da.mean(0)'''},
    "step: dx and dh_prev in the wrong order": {"part": "rnn_step_backward", "code": '''
def rnn_step_backward(dh_t, cache):
    x_t, h_prev, W_xh, W_hh, h_t = cache
    da = dh_t * (1 - h_t ** 2)
    return da @ W_hh.T, da @ W_xh.T, x_t.T @ da, h_prev.T @ da, da.sum(0)'''},
    "step: autograd instead of the derivation": {"part": "rnn_step_backward", "code": '''
def rnn_step_backward(dh_t, cache):
    x_t, h_prev, W_xh, W_hh, h_t = (t.clone().requires_grad_() for t in cache)
    b = (torch.atanh(h_t) - x_t @ W_xh - h_prev @ W_hh)[0].detach().requires_grad_()
    out = torch.tanh(x_t @ W_xh + h_prev @ W_hh + b)
    out.backward(dh_t)
    return x_t.grad, h_prev.grad, W_xh.grad, W_hh.grad, b.grad'''},

    # -- numerical_gradient ----------------------------------------------------------------------
    "forward difference": {"part": "numerical_gradient", "code": '''
def numerical_gradient(f, x, eps=1e-6):
    grad = torch.zeros_like(x)
    flat = x.view(-1)
    base = float(f(x))
    for i in range(flat.numel()):
        original = flat[i].item()
        flat[i] = original + eps
        grad.view(-1)[i] = (float(f(x)) - base) / eps
        flat[i] = original
    return grad'''},
    "divided by eps, not 2 eps": {"part": "numerical_gradient", "code": '''
def numerical_gradient(f, x, eps=1e-6):
    grad = torch.zeros_like(x)
    flat = x.view(-1)
    for i in range(flat.numel()):
        original = flat[i].item()
        flat[i] = original + eps
        plus = float(f(x))
        flat[i] = original - eps
        minus = float(f(x))
        flat[i] = original
        grad.view(-1)[i] = (plus - minus) / eps
    return grad'''},
    "a copy perturbed instead of x": {"part": "numerical_gradient", "code": '''
def numerical_gradient(f, x, eps=1e-6):
    grad = torch.zeros_like(x)
    for i in range(x.numel()):
        step = torch.zeros_like(x)
        step.view(-1)[i] = eps
        grad.view(-1)[i] = (float(f(x + step)) - float(f(x - step))) / (2 * eps)
    return grad'''},
    "x not restored after each element": {"part": "numerical_gradient", "code": '''
def numerical_gradient(f, x, eps=1e-6):
    grad = torch.zeros_like(x)
    flat = x.view(-1)
    saved = x.clone()
    for i in range(flat.numel()):
        original = flat[i].item()
        flat[i] = original + eps
        plus = float(f(x))
        flat[i] = original - eps
        minus = float(f(x))
        grad.view(-1)[i] = (plus - minus) / (2 * eps)
    x.copy_(saved)
    return grad'''},
    "x left changed": {"part": "numerical_gradient", "code": '''
def numerical_gradient(f, x, eps=1e-6):
    grad = torch.zeros_like(x)
    flat = x.view(-1)
    for i in range(flat.numel()):
        flat[i] += eps
        plus = float(f(x))
        flat[i] -= 2 * eps
        minus = float(f(x))
        grad.view(-1)[i] = (plus - minus) / (2 * eps)
    return grad'''},
    "eps ignored": {"part": "numerical_gradient", "code": '''
def numerical_gradient(f, x, eps=1e-6):
    h = 1e-5
    grad = torch.zeros_like(x)
    flat = x.view(-1)
    for i in range(flat.numel()):
        original = flat[i].item()
        flat[i] = original + h
        plus = float(f(x))
        flat[i] = original - h
        minus = float(f(x))
        flat[i] = original
        grad.view(-1)[i] = (plus - minus) / (2 * h)
    return grad'''},
    "every element moved at once": {"part": "numerical_gradient", "code": '''
def numerical_gradient(f, x, eps=1e-6):
    with torch.no_grad():
        x += eps
        plus = float(f(x))
        x -= 2 * eps
        minus = float(f(x))
        x += eps
    return torch.full_like(x, (plus - minus) / (2 * eps))'''},
    "a float32 gradient": {"part": "numerical_gradient", "code": '''
def numerical_gradient(f, x, eps=1e-6):
    grad = torch.zeros(x.shape)
    flat = x.view(-1)
    for i in range(flat.numel()):
        original = flat[i].item()
        flat[i] = original + eps
        plus = float(f(x))
        flat[i] = original - eps
        minus = float(f(x))
        flat[i] = original
        grad.view(-1)[i] = (plus - minus) / (2 * eps)
    return grad'''},
    "only the first index of each row": {"part": "numerical_gradient", "code": '''
def numerical_gradient(f, x, eps=1e-6):
    grad = torch.zeros_like(x)
    for i in range(len(x)):
        original = x[i].clone()
        x[i] = original + eps
        plus = float(f(x))
        x[i] = original - eps
        minus = float(f(x))
        x[i] = original
        grad[i] = (plus - minus) / (2 * eps)
    return grad'''},

    # -- clip_grad_norm --------------------------------------------------------------------------
    "each parameter clipped separately": {"part": "clip_grad_norm", "code": '''
def clip_grad_norm(parameters, max_norm):
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    total = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
    for g in grads:
        g.mul_(min(1.0, max_norm / (float(g.norm()) + 1e-6)))
    return total'''},
    "the squared norm compared with max_norm": {"part": "clip_grad_norm", "code": '''
def clip_grad_norm(parameters, max_norm):
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    squared = sum((g ** 2).sum() for g in grads)
    if squared > max_norm:
        for g in grads:
            g.mul_(max_norm / (squared.sqrt() + 1e-6))
    return squared'''},
    "clamped by value": {"part": "clip_grad_norm", "code": '''
def clip_grad_norm(parameters, max_norm):
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    total = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
    for g in grads:
        g.clamp_(-max_norm, max_norm)
    return total'''},
    "always rescaled": {"part": "clip_grad_norm", "code": '''
def clip_grad_norm(parameters, max_norm):
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    total = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
    for g in grads:
        g.mul_(max_norm / (total + 1e-6))
    return total'''},
    "the generator read twice": {"part": "clip_grad_norm", "code": '''
def clip_grad_norm(parameters, max_norm):
    total = torch.sqrt(sum(p.grad.norm() ** 2 for p in parameters if p.grad is not None))
    scale = min(1.0, max_norm / (float(total) + 1e-6))
    for p in parameters:
        if p.grad is not None:
            p.grad.mul_(scale)
    return total'''},
    "the norm after clipping returned": {"part": "clip_grad_norm", "code": '''
def clip_grad_norm(parameters, max_norm):
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    total = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
    for g in grads:
        g.mul_(min(1.0, max_norm / (float(total) + 1e-6)))
    return torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))'''},
    "parameters without a gradient not skipped": {"part": "clip_grad_norm", "code": '''
def clip_grad_norm(parameters, max_norm):
    params = list(parameters)
    total = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params]))
    for p in params:
        p.grad.mul_(min(1.0, max_norm / (float(total) + 1e-6)))
    return total'''},
    "the parameters scaled instead of their gradients": {"part": "clip_grad_norm", "code": '''
def clip_grad_norm(parameters, max_norm):
    params = [p for p in parameters if p.grad is not None]
    if not params:
        return torch.tensor(0.0)
    total = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params]))
    with torch.no_grad():
        for p in params:
            p.mul_(min(1.0, max_norm / (float(total) + 1e-6)))
    return total'''},
    "the sum of the parameters' norms": {"part": "clip_grad_norm", "code": '''
def clip_grad_norm(parameters, max_norm):
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    total = sum(g.norm() for g in grads)
    for g in grads:
        g.mul_(min(1.0, max_norm / (float(total) + 1e-6)))
    return total'''},
    "max(1, ...) instead of min": {"part": "clip_grad_norm", "code": '''
def clip_grad_norm(parameters, max_norm):
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    total = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
    for g in grads:
        g.mul_(max(1.0, max_norm / (float(total) + 1e-6)))
    return total'''},
    "torch's clip_grad_norm_ called": {"part": "clip_grad_norm", "code": '''
def clip_grad_norm(parameters, max_norm):
    return torch.nn.utils.clip_grad_norm_(parameters, max_norm)'''},

    # -- train_truncated -------------------------------------------------------------------------
    "detach forgotten": {"part": "train_truncated", "code": '''
def train_truncated(model, stream, k, optimizer, before_step=None):
    model.train()
    state, losses = None, []
    for start in range(0, stream.shape[1] - 1, k):
        end = min(start + k, stream.shape[1] - 1)
        logits, state = model(stream[:, start:end], state)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), stream[:, start + 1:end + 1].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        if before_step is not None:
            before_step(model)
        optimizer.step()
        losses.append(loss.item())
    return losses'''},
    "detach forgotten, retain_graph=True": {"part": "train_truncated", "code": '''
def train_truncated(model, stream, k, optimizer, before_step=None):
    model.train()
    state, losses = None, []
    for start in range(0, stream.shape[1] - 1, k):
        end = min(start + k, stream.shape[1] - 1)
        logits, state = model(stream[:, start:end], state)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), stream[:, start + 1:end + 1].reshape(-1))
        optimizer.zero_grad()
        loss.backward(retain_graph=True)
        if before_step is not None:
            before_step(model)
        optimizer.step()
        losses.append(loss.item())
    return losses'''},
    "state detached at every step": {"part": "train_truncated", "code": '''
def detached(state):
    if state is None:
        return None
    return state.detach() if isinstance(state, torch.Tensor) else tuple(s.detach() for s in state)


def train_truncated(model, stream, k, optimizer, before_step=None):
    model.train()
    state, losses = None, []
    for start in range(0, stream.shape[1] - 1, k):
        end = min(start + k, stream.shape[1] - 1)
        pieces = []
        for t in range(start, end):
            piece, state = model(stream[:, t:t + 1], detached(state))
            pieces.append(piece)
        logits = torch.cat(pieces, dim=1)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), stream[:, start + 1:end + 1].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        if before_step is not None:
            before_step(model)
        optimizer.step()
        losses.append(loss.item())
    return losses'''},
    "state not carried": {"part": "train_truncated", "code": '''
def train_truncated(model, stream, k, optimizer, before_step=None):
    model.train()
    losses = []
    for start in range(0, stream.shape[1] - 1, k):
        end = min(start + k, stream.shape[1] - 1)
        logits, _ = model(stream[:, start:end], None)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), stream[:, start + 1:end + 1].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        if before_step is not None:
            before_step(model)
        optimizer.step()
        losses.append(loss.item())
    return losses'''},
    "gradients not zeroed": {"part": "train_truncated", "code": '''
def train_truncated(model, stream, k, optimizer, before_step=None):
    model.train()
    state, losses = None, []
    for start in range(0, stream.shape[1] - 1, k):
        end = min(start + k, stream.shape[1] - 1)
        if state is not None:
            state = state.detach() if isinstance(state, torch.Tensor) else tuple(s.detach() for s in state)
        logits, state = model(stream[:, start:end], state)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), stream[:, start + 1:end + 1].reshape(-1))
        loss.backward()
        if before_step is not None:
            before_step(model)
        optimizer.step()
        losses.append(loss.item())
    return losses'''},
    "the last, shorter chunk dropped": {"part": "train_truncated", "code": '''
def train_truncated(model, stream, k, optimizer, before_step=None):
    model.train()
    state, losses = None, []
    for start in range(0, stream.shape[1] - k, k):
        if state is not None:
            state = state.detach() if isinstance(state, torch.Tensor) else tuple(s.detach() for s in state)
        logits, state = model(stream[:, start:start + k], state)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), stream[:, start + 1:start + k + 1].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        if before_step is not None:
            before_step(model)
        optimizer.step()
        losses.append(loss.item())
    return losses'''},
    "before_step after optimizer.step()": {"part": "train_truncated", "code": '''
def train_truncated(model, stream, k, optimizer, before_step=None):
    model.train()
    state, losses = None, []
    for start in range(0, stream.shape[1] - 1, k):
        end = min(start + k, stream.shape[1] - 1)
        if state is not None:
            state = state.detach() if isinstance(state, torch.Tensor) else tuple(s.detach() for s in state)
        logits, state = model(stream[:, start:end], state)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), stream[:, start + 1:end + 1].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if before_step is not None:
            before_step(model)
        losses.append(loss.item())
    return losses'''},
    "summed loss": {"part": "train_truncated", "code": '''
def train_truncated(model, stream, k, optimizer, before_step=None):
    model.train()
    state, losses = None, []
    for start in range(0, stream.shape[1] - 1, k):
        end = min(start + k, stream.shape[1] - 1)
        if state is not None:
            state = state.detach() if isinstance(state, torch.Tensor) else tuple(s.detach() for s in state)
        logits, state = model(stream[:, start:end], state)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), stream[:, start + 1:end + 1].reshape(-1),
                               reduction="sum")
        optimizer.zero_grad()
        loss.backward()
        if before_step is not None:
            before_step(model)
        optimizer.step()
        losses.append(loss.item())
    return losses'''},
    "an LSTM's state detached as a tensor": {"part": "train_truncated", "code": '''
def train_truncated(model, stream, k, optimizer, before_step=None):
    model.train()
    state, losses = None, []
    for start in range(0, stream.shape[1] - 1, k):
        end = min(start + k, stream.shape[1] - 1)
        if state is not None:
            state = state.detach()
        logits, state = model(stream[:, start:end], state)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), stream[:, start + 1:end + 1].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        if before_step is not None:
            before_step(model)
        optimizer.step()
        losses.append(loss.item())
    return losses'''},
    "the whole stream as one chunk": {"part": "train_truncated", "code": '''
def train_truncated(model, stream, k, optimizer, before_step=None):
    model.train()
    logits, _ = model(stream[:, :-1], None)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), stream[:, 1:].reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    if before_step is not None:
        before_step(model)
    optimizer.step()
    return [loss.item()]'''},

    # -- gradient_norms --------------------------------------------------------------------------
    "graph freed (no retain_graph)": {"part": "gradient_norms", "code": '''
def gradient_norms(loss, states):
    grads = torch.autograd.grad(loss, states, allow_unused=True, materialize_grads=True)
    return torch.stack([g.norm() for g in grads])'''},
    "squared norms": {"part": "gradient_norms", "code": '''
def gradient_norms(loss, states):
    grads = torch.autograd.grad(loss, states, retain_graph=True, allow_unused=True, materialize_grads=True)
    return torch.stack([(g ** 2).sum() for g in grads])'''},
    "norms per batch row, averaged": {"part": "gradient_norms", "code": '''
def gradient_norms(loss, states):
    grads = torch.autograd.grad(loss, states, retain_graph=True, allow_unused=True, materialize_grads=True)
    return torch.stack([g.norm(dim=-1).mean() for g in grads])'''},
    "norms per batch row, (T, B)": {"part": "gradient_norms", "code": '''
def gradient_norms(loss, states):
    grads = torch.autograd.grad(loss, states, retain_graph=True, allow_unused=True, materialize_grads=True)
    return torch.stack([g.norm(dim=-1) for g in grads])'''},
    "unused states not allowed": {"part": "gradient_norms", "code": '''
def gradient_norms(loss, states):
    grads = torch.autograd.grad(loss, states, retain_graph=True)
    return torch.stack([g.norm() for g in grads])'''},
    "a list of floats": {"part": "gradient_norms", "code": '''
def gradient_norms(loss, states):
    grads = torch.autograd.grad(loss, states, retain_graph=True, allow_unused=True, materialize_grads=True)
    return [float(g.norm()) for g in grads]'''},
    "ordered by distance from the end": {"part": "gradient_norms", "code": '''
def gradient_norms(loss, states):
    grads = torch.autograd.grad(loss, states[::-1], retain_graph=True, allow_unused=True, materialize_grads=True)
    return torch.stack([g.norm() for g in grads])'''},
    "norms of the states": {"part": "gradient_norms", "code": '''
def gradient_norms(loss, states):
    return torch.stack([h.detach().norm() for h in states])'''},
    "backward leaves gradients in the weights": {"part": "gradient_norms", "code": '''
def gradient_norms(loss, states):
    for h in states:
        h.retain_grad()
    loss.backward(retain_graph=True)
    return torch.stack([h.grad.norm() if h.grad is not None else torch.zeros((), dtype=loss.dtype) for h in states])'''},
    "largest entry instead of the norm": {"part": "gradient_norms", "code": '''
def gradient_norms(loss, states):
    grads = torch.autograd.grad(loss, states, retain_graph=True, allow_unused=True, materialize_grads=True)
    return torch.stack([g.abs().max() for g in grads])'''},
}

RIGHT = {
    # -- scalar_rnn_backward ---------------------------------------------------------------------
    "scalar: one loop, the bars accumulated as floats": {"part": "scalar_rnn_backward", "code": '''
def scalar_rnn_backward(dy, cache):
    x, u, w, v, h0, h, y = (cache[k] for k in ("x", "u", "w", "v", "h0", "h", "y"))
    T = x.shape[1]
    u_bar = v_bar = w_bar = 0.0
    x_bar = torch.zeros_like(x)
    dz_next = torch.zeros_like(h0)
    for t in range(T - 1, -1, -1):
        r_bar = dy[:, t] * (1 - y[:, t] ** 2)
        h_bar = r_bar * v + dz_next * w
        z_bar = h_bar * (1 - h[:, t] ** 2)
        h_prev = h[:, t - 1] if t > 0 else h0
        x_bar[:, t] = z_bar * u
        u_bar += float((z_bar * x[:, t]).sum())
        v_bar += float((r_bar * h[:, t]).sum())
        w_bar += float((z_bar * h_prev).sum())
        dz_next = z_bar
    return u_bar, v_bar, w_bar, x_bar'''},
    "scalar: w_bar as sum of z_bar_{t+1} h_t": {"part": "scalar_rnn_backward", "code": '''
def scalar_rnn_backward(dy, cache):
    x, u, w, v, h0, h, y = (cache[k] for k in ("x", "u", "w", "v", "h0", "h", "y"))
    B, T = x.shape
    dr = dy * (1 - y * y)
    dz = [None] * T
    nxt = torch.zeros(B, dtype=x.dtype)
    for t in reversed(range(T)):
        dz[t] = (dr[:, t] * v + nxt * w) * (1 - h[:, t] * h[:, t])
        nxt = dz[t]
    dz = torch.stack(dz, dim=1)
    states = torch.cat([h0[:, None], h], dim=1)             # h_0 ... h_T
    w_bar = sum((dz[:, t] * states[:, t]).sum() for t in range(T))   # z_bar_{t+1} h_t, t = 0..T-1
    return torch.sum(dz * x), torch.sum(dr * h), w_bar, u * dz'''},
    "scalar: numpy inside": {"part": "scalar_rnn_backward", "code": '''
import numpy as np


def scalar_rnn_backward(dy, cache):
    x, h, y, h0 = (cache[k].numpy() for k in ("x", "h", "y", "h0"))
    u, w, v = (float(cache[k]) for k in ("u", "w", "v"))
    d = dy.numpy()
    dr = d * (1 - y ** 2)
    dz = np.zeros_like(h)
    for t in reversed(range(x.shape[1])):
        carried = dz[:, t + 1] * w if t + 1 < x.shape[1] else 0.0
        dz[:, t] = (dr[:, t] * v + carried) * (1 - h[:, t] ** 2)
    h_prev = np.concatenate([h0[:, None], h[:, :-1]], axis=1)
    return (torch.tensor((dz * x).sum()), torch.tensor((dr * h).sum()), torch.tensor((dz * h_prev).sum()),
            torch.from_numpy(dz * u))'''},

    # -- rnn_step_backward -----------------------------------------------------------------------
    "step: einsum": {"part": "rnn_step_backward", "code": '''
def rnn_step_backward(dh_t, cache):
    x_t, h_prev, W_xh, W_hh, h_t = cache
    da = dh_t * (1 - h_t * h_t)
    return (torch.einsum("bh,ih->bi", da, W_xh), torch.einsum("bh,kh->bk", da, W_hh),
            torch.einsum("bi,bh->ih", x_t, da), torch.einsum("bk,bh->kh", h_prev, da), torch.einsum("bh->h", da))'''},
    "step: transposes written as .t() and matmul": {"part": "rnn_step_backward", "code": '''
def rnn_step_backward(dh_t, cache):
    x_t, h_prev, W_xh, W_hh, h_t = cache
    da = torch.mul(dh_t, 1 - torch.pow(h_t, 2))
    dW_xh = torch.matmul(x_t.t(), da)
    dW_hh = torch.matmul(h_prev.t(), da)
    return torch.matmul(da, W_xh.t()), torch.matmul(da, W_hh.t()), dW_xh, dW_hh, torch.sum(da, dim=0)'''},
    "step: weight gradients as sums of outer products": {"part": "rnn_step_backward", "code": '''
def rnn_step_backward(dh_t, cache):
    x_t, h_prev, W_xh, W_hh, h_t = cache
    da = dh_t * (1 - h_t ** 2)
    dW_xh = sum(torch.outer(x_t[i], da[i]) for i in range(len(da)))
    dW_hh = sum(torch.outer(h_prev[i], da[i]) for i in range(len(da)))
    db = sum(da[i] for i in range(len(da)))
    return (W_xh @ da.T).T, (W_hh @ da.T).T, dW_xh, dW_hh, db'''},

    # -- rnn_backward ----------------------------------------------------------------------------
    "rnn: all da_t first, weight gradients as one product each": {"part": "rnn_backward", "code": '''
def rnn_backward(dh, cache):
    x, h0, W_xh, W_hh, h = cache
    T = x.shape[1]
    da = torch.empty_like(h)
    carried = torch.zeros_like(h0)
    for t in reversed(range(T)):
        da[:, t] = (dh[:, t] + carried) * (1 - h[:, t] ** 2)
        carried = da[:, t] @ W_hh.T
    h_prev = torch.cat([h0[:, None], h[:, :-1]], dim=1)
    rows = da.reshape(-1, da.shape[-1])
    return (da @ W_xh.T, carried, x.reshape(-1, x.shape[-1]).T @ rows,
            h_prev.reshape(-1, h.shape[-1]).T @ rows, rows.sum(0))'''},
    "rnn: a step helper of its own, lists": {"part": "rnn_backward", "code": '''
def backward_step(dh_total, x_t, h_prev, W_xh, W_hh, h_t):
    da = dh_total * (1 - h_t ** 2)
    return da @ W_xh.T, da @ W_hh.T, x_t.T @ da, h_prev.T @ da, da.sum(0)


def rnn_backward(dh, cache):
    x, h0, W_xh, W_hh, h = cache
    T = x.shape[1]
    dxs = [None] * T
    dW_xh = dW_hh = db = 0
    carried = 0
    for t in range(T - 1, -1, -1):
        dx_t, carried, gx, gh, gb = backward_step(dh[:, t] + carried, x[:, t], h0 if t == 0 else h[:, t - 1],
                                                  W_xh, W_hh, h[:, t])
        dxs[t] = dx_t
        dW_xh, dW_hh, db = dW_xh + gx, dW_hh + gh, db + gb
    return torch.stack(dxs, dim=1), carried, dW_xh, dW_hh, db'''},
    "rnn: einsum over batch and time": {"part": "rnn_backward", "code": '''
def rnn_backward(dh, cache):
    x, h0, W_xh, W_hh, h = cache
    das = []
    dh_total = dh[:, -1]
    for t in reversed(range(x.shape[1])):
        da_t = dh_total * (1 - h[:, t] ** 2)
        das.insert(0, da_t)
        dh_total = da_t @ W_hh.T + (dh[:, t - 1] if t > 0 else 0)
    da = torch.stack(das, dim=1)
    h_prev = torch.cat([h0.unsqueeze(1), h[:, :-1]], dim=1)
    return (torch.einsum("bth,ih->bti", da, W_xh), dh_total, torch.einsum("bti,bth->ih", x, da),
            torch.einsum("btk,bth->kh", h_prev, da), torch.einsum("bth->h", da))'''},

    # -- numerical_gradient ----------------------------------------------------------------------
    "numerical: np.ndindex over x itself": {"part": "numerical_gradient", "code": '''
import numpy as np


def numerical_gradient(f, x, eps=1e-6):
    grad = torch.zeros_like(x)
    for index in np.ndindex(*x.shape):
        original = x[index].item()
        x[index] = original + eps
        plus = f(x)
        x[index] = original - eps
        minus = f(x)
        x[index] = original
        grad[index] = (float(plus) - float(minus)) / (2 * eps)
    return grad'''},
    "numerical: both evaluations, then one subtraction for all": {"part": "numerical_gradient", "code": '''
def numerical_gradient(f, x, eps=1e-6):
    flat = x.reshape(-1)              # a view: x is contiguous
    plus, minus = [], []
    for i in range(flat.numel()):
        keep = flat[i].clone()
        flat[i] = keep + eps
        plus.append(float(f(x)))
        flat[i] = keep - eps
        minus.append(float(f(x)))
        flat[i] = keep
    diff = torch.tensor(plus, dtype=torch.float64) - torch.tensor(minus, dtype=torch.float64)
    return (diff / (2 * eps)).reshape(x.shape)'''},
    "numerical: while loop, in-place steps": {"part": "numerical_gradient", "code": '''
def numerical_gradient(f, x, eps=1e-6):
    grad = x.new_zeros(x.shape)
    flat, out = x.view(-1), grad.view(-1)
    i = 0
    while i < flat.numel():
        saved = flat[i].item()
        flat[i] += eps
        f_plus = float(f(x))
        flat[i] = saved - eps
        f_minus = float(f(x))
        flat[i] = saved
        out[i] = 0.5 * (f_plus - f_minus) / eps
        i += 1
    return grad'''},

    # -- clip_grad_norm --------------------------------------------------------------------------
    "clip: squares of per-parameter norms, python floats": {"part": "clip_grad_norm", "code": '''
def clip_grad_norm(parameters, max_norm):
    params = [p for p in parameters if p.grad is not None]
    total = math.sqrt(sum(float(p.grad.norm()) ** 2 for p in params))
    scale = max_norm / (total + 1e-6)
    if scale < 1:
        for p in params:
            p.grad.mul_(scale)
    return total'''},
    "clip: one concatenated vector for the norm": {"part": "clip_grad_norm", "code": '''
def clip_grad_norm(parameters, max_norm):
    grads = [p.grad for p in parameters if p.grad is not None]
    if len(grads) == 0:
        return torch.tensor(0.0)
    total = torch.cat([g.reshape(-1).double() for g in grads]).norm()
    factor = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for g in grads:
        g.copy_(g * factor.to(g.dtype))
    return total.to(grads[0].dtype)'''},
    "clip: torch.linalg.norm per parameter, a loop": {"part": "clip_grad_norm", "code": '''
def clip_grad_norm(parameters, max_norm):
    with_grad = []
    for p in parameters:
        if p.grad is not None:
            with_grad.append(p)
    if not with_grad:
        return torch.tensor(0.0)
    squares = torch.stack([torch.linalg.norm(p.grad.flatten()) ** 2 for p in with_grad])
    total = squares.sum().sqrt()
    c = min(1.0, max_norm / (total.item() + 1e-6))
    for p in with_grad:
        p.grad *= c
    return total'''},

    # -- train_truncated -------------------------------------------------------------------------
    "truncated: a helper that detaches any state": {"part": "train_truncated", "code": '''
def detach_state(state):
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(detach_state(s) for s in state)
    return state.detach()


def train_truncated(model, stream, k, optimizer, before_step=None):
    model.train()
    state, losses, N = None, [], stream.size(1)
    start = 0
    while start < N - 1:
        stop = min(start + k, N - 1)
        logits, state = model(stream[:, start:stop], detach_state(state))
        V = logits.size(-1)
        loss = F.cross_entropy(logits.view(-1, V), stream[:, start + 1:stop + 1].reshape(-1))
        model.zero_grad()
        loss.backward()
        if before_step:
            before_step(model)
        optimizer.step()
        losses.append(float(loss.detach()))
        start = stop
    return losses'''},
    "truncated: chunks made first, nll of log_softmax": {"part": "train_truncated", "code": '''
def train_truncated(model, stream, k, optimizer, before_step=None):
    model.train()
    n = stream.shape[1] - 1
    chunks = [(s, min(s + k, n)) for s in range(0, n, k)]
    losses, state = [], None
    for s, e in chunks:
        if torch.is_tensor(state):
            state = state.detach()
        elif state is not None:
            state = tuple(part.detach() for part in state)
        logits, state = model(stream[:, s:e], state)
        log_probs = torch.log_softmax(logits, dim=-1)
        loss = F.nll_loss(log_probs.flatten(0, 1), stream[:, s + 1:e + 1].flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if before_step is not None:
            before_step(model)
        optimizer.step()
        losses.append(loss.detach())
    return losses'''},
    "truncated: the cross-entropy written out, numpy floats": {"part": "train_truncated", "code": '''
import numpy as np


def train_truncated(model, stream, k, optimizer, before_step=None):
    model.train()
    state, losses = None, []
    for start in range(0, stream.shape[1] - 1, k):
        inputs = stream[:, start:start + k][:, : stream.shape[1] - 1 - start]
        targets = stream[:, start + 1:start + 1 + inputs.shape[1]]
        if state is not None:
            state = [s.detach() for s in state] if isinstance(state, tuple) else state.detach()
            state = tuple(state) if isinstance(state, list) else state
        logits, state = model(inputs, state)
        picked = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        loss = (torch.logsumexp(logits, dim=-1) - picked).mean()
        optimizer.zero_grad()
        loss.backward()
        if before_step is not None:
            before_step(model)
        optimizer.step()
        losses.append(np.float64(loss.item()))
    return losses'''},

    # -- gradient_norms --------------------------------------------------------------------------
    "norms: None gradients as zeros by hand": {"part": "gradient_norms", "code": '''
def gradient_norms(loss, states):
    grads = torch.autograd.grad(loss, states, retain_graph=True, allow_unused=True)
    return torch.stack([torch.zeros((), dtype=loss.dtype) if g is None else g.pow(2).sum().sqrt() for g in grads])'''},
    "norms: flattened, torch.linalg.norm": {"part": "gradient_norms", "code": '''
def gradient_norms(loss, states):
    grads = torch.autograd.grad([loss], list(states), retain_graph=True, allow_unused=True, materialize_grads=True)
    return torch.tensor([torch.linalg.norm(g.flatten()).item() for g in grads], dtype=loss.dtype)'''},
    "norms: retain_grad and a backward pass, weights' grads cleared": {"part": "gradient_norms", "code": '''
def gradient_norms(loss, states):
    leaves = {}

    def collect(fn):
        if fn is None or fn in leaves:
            return
        leaves[fn] = True
        if hasattr(fn, "variable"):
            leaves[fn] = fn.variable
        for nxt, _ in fn.next_functions:
            collect(nxt)

    collect(loss.grad_fn)
    params = [v for v in leaves.values() if isinstance(v, torch.Tensor)]
    before = [p.grad for p in params]
    for h in states:
        h.retain_grad()
    loss.backward(retain_graph=True)
    norms = torch.stack([h.grad.norm() if h.grad is not None else torch.zeros((), dtype=loss.dtype) for h in states])
    for p, g in zip(params, before):
        p.grad = g
    for h in states:
        h.grad = None
    return norms'''},
}
