r"""Training language models: truncated BPTT over a token stream, evaluation, early stopping,
checkpoints.

The corpus is one long stream of token ids, cut into ``batch_size`` parallel rows
(``batchify``); each row is read left to right in windows of ``bptt_len`` tokens
(``bptt_windows``). The model's state (an RNN's hidden state, a window LM's last tokens) is
carried from one window to the next and *detached*: the forward pass sees the whole history,
the backward pass stops at the window's start (truncated BPTT, Williams & Peng 1990).

Each step minimises the mean cross-entropy :math:`\bar\ell` in nats per token; perplexity is
:math:`e^{\bar\ell}`. A window's loss is ``window_loss``: the model's own ``nll`` where it has
one (an adaptive softmax scores only each target's cluster, never the full distribution), else
the cross-entropy of its logits. Gradients are clipped to a global norm (Pascanu et al. 2013).
On a CUDA GPU the forward pass runs under ``torch.autocast`` (bfloat16 where supported, else float16
with a gradient scaler); elsewhere in float32. Any model with the language-model signature of
``rnnlab.models``, ``model(tokens (B, T), state) -> (logits (B, T, V), state)``, optionally with
``model.nll(tokens, targets, state) -> (mean NLL, state)``, can be trained.

Not here: the data (``rnnlab.data``), the models (``rnnlab.models``).
"""

from __future__ import annotations

import copy
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from . import device as best_device
from .models import detach_state, language_model_loss


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy and torch (CPU and every GPU), for reproducible runs."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)      # also seeds every CUDA device


def batchify(ids, batch_size: int) -> Tensor:
    """A token stream (N,) as ``batch_size`` rows (B, N // B), row b being the b-th contiguous
    slice of the stream (the remainder is dropped), so that consecutive windows of one row are
    consecutive text and the state carried between them makes sense."""
    ids = torch.as_tensor(ids, dtype=torch.long)
    n = ids.numel() // batch_size
    if n < 2:
        raise ValueError(f"a stream of {ids.numel()} tokens is too short for batch_size {batch_size}")
    return ids[: n * batch_size].view(batch_size, n)


def bptt_windows(stream: Tensor, bptt_len: int):
    """Yield (inputs, targets), both (B, T) with T <= bptt_len, left to right over the stream
    (B, N): targets are the inputs shifted by one token."""
    for start in range(0, stream.shape[1] - 1, bptt_len):
        end = min(start + bptt_len, stream.shape[1] - 1)
        yield stream[:, start:end], stream[:, start + 1: end + 1]


@dataclass
class TrainConfig:
    """Everything a training run needs besides the model and the data, with its defaults."""

    epochs: int = 10
    batch_size: int = 20
    bptt_len: int = 35
    optimizer: str = "adam"            # "adam" or "sgd"
    lr: float = 1e-3
    weight_decay: float = 0.0
    clip_norm: float | None = 1.0      # max global gradient norm, None for no clipping
    patience: int = 2                  # epochs without validation improvement before stopping
    mixed_precision: bool = True       # only ever used on a CUDA device
    seed: int | None = 0
    progress: bool = True              # tqdm bars
    checkpoint: str | None = None      # where to save the best model, if anywhere


@dataclass
class History:
    """What a run did: per-epoch training loss (nats/token) and validation perplexity."""

    train_loss: list[float] = field(default_factory=list)
    valid_perplexity: list[float] = field(default_factory=list)
    best_epoch: int = -1
    stopped_early: bool = False
    tokens_per_second: float = 0.0


def _autocast(device: torch.device, enabled: bool):
    """(autocast context, dtype or None): mixed precision on CUDA only."""
    if not (enabled and device.type == "cuda"):
        return torch.autocast(device.type, enabled=False), None
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype), dtype


def window_loss(model: nn.Module, inputs: Tensor, targets: Tensor, state=None):
    """(mean NLL of ``targets`` in nats per token, a scalar tensor; the final state) for one
    window: inputs, targets (B, T). ``model.nll(inputs, targets, state)`` if the model has it,
    else the cross-entropy of its logits (in float32, also under autocast)."""
    own = getattr(model, "nll", None)
    if own is not None:
        return own(inputs, targets, state)
    logits, state = model(inputs, state)
    return language_model_loss(logits.float(), targets), state


@torch.no_grad()
def evaluate(model: nn.Module, stream: Tensor, bptt_len: int = 35) -> tuple[float, float]:
    """(mean cross-entropy in nats per token, perplexity) of ``model`` on a batchified stream
    (B, N), reading it window by window with the state carried across windows."""
    model.eval()
    dev = next(model.parameters()).device
    state, total, count = None, 0.0, 0
    for inputs, targets in bptt_windows(stream, bptt_len):
        loss, state = window_loss(model, inputs.to(dev), targets.to(dev), state)
        total += loss.item() * targets.numel()
        count += targets.numel()
    nll = total / count
    return nll, math.exp(nll)


def train_epoch(model: nn.Module, stream: Tensor, optimizer: torch.optim.Optimizer,
                config: TrainConfig, scaler: torch.amp.GradScaler | None = None,
                description: str = "train") -> tuple[float, float]:
    """One pass of truncated BPTT over a batchified stream (B, N).
    Returns (mean training loss in nats per token, tokens per second)."""
    model.train()
    dev = next(model.parameters()).device
    autocast, _ = _autocast(dev, config.mixed_precision)
    windows = list(bptt_windows(stream, config.bptt_len))
    bar = tqdm(windows, desc=description, disable=not config.progress, leave=False)
    state, total, count, start = None, 0.0, 0, time.perf_counter()
    for inputs, targets in bar:
        inputs, targets = inputs.to(dev), targets.to(dev)
        state = detach_state(state)                    # keep the value, cut the gradient
        with autocast:
            loss, state = window_loss(model, inputs, targets, state)
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
        else:
            loss.backward()
        if config.clip_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        total += loss.item() * targets.numel()
        count += targets.numel()
        speed = count / max(time.perf_counter() - start, 1e-9)
        bar.set_postfix(loss=f"{loss.item():.3f}", ppl=f"{math.exp(min(loss.item(), 50)):.1f}",
                        tok_s=f"{speed:.0f}")
    return total / count, count / max(time.perf_counter() - start, 1e-9)


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    raise ValueError(f"unknown optimizer {config.optimizer!r}: use 'adam' or 'sgd'")


def train_language_model(model: nn.Module, train_ids, valid_ids, config: TrainConfig | None = None,
                         device: torch.device | str | None = None) -> History:
    """Train ``model`` on a token stream with truncated BPTT, evaluate validation perplexity
    after every epoch, stop after ``config.patience`` epochs without improvement, and leave the
    model with its best validation weights (also saved to ``config.checkpoint`` if set).

    train_ids, valid_ids: token id streams (N,) (lists, arrays or tensors). The device is
    ``rnnlab.device()`` unless given. ``config.seed`` seeds what happens during training
    (dropout masks); call ``seed_everything`` before building the model to fix its initial
    weights as well."""
    config = config or TrainConfig()
    if config.seed is not None:
        seed_everything(config.seed)
    dev = torch.device(device) if device is not None else best_device()
    model.to(dev)
    train = batchify(train_ids, config.batch_size)
    valid = batchify(valid_ids, min(config.batch_size, max(1, len(valid_ids) // 2)))
    optimizer = make_optimizer(model, config)
    _, amp_dtype = _autocast(dev, config.mixed_precision)
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None
    history, best, best_state = History(), math.inf, None
    for epoch in range(config.epochs):
        loss, speed = train_epoch(model, train, optimizer, config, scaler, f"epoch {epoch + 1}")
        _, ppl = evaluate(model, valid, config.bptt_len)
        history.train_loss.append(loss)
        history.valid_perplexity.append(ppl)
        history.tokens_per_second = speed
        if config.progress:
            tqdm.write(f"epoch {epoch + 1}: train loss {loss:.3f} (ppl {math.exp(min(loss, 50)):.1f}), "
                       f"valid ppl {ppl:.2f}, {speed:.0f} tokens/s")
        if ppl < best:
            best, history.best_epoch = ppl, epoch
            best_state = copy.deepcopy(model.state_dict())
            if config.checkpoint:
                save_checkpoint(config.checkpoint, model, optimizer, epoch=epoch,
                                valid_perplexity=ppl, config=asdict(config))
        elif epoch - history.best_epoch >= config.patience:
            history.stopped_early = True
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return history


def save_checkpoint(path: str | os.PathLike, model: nn.Module,
                    optimizer: torch.optim.Optimizer | None = None, **metadata) -> None:
    """Save the model's (and optionally the optimizer's) state dict with plain metadata
    (numbers, strings, lists, dicts), loadable with ``weights_only=True``."""
    os.makedirs(os.path.dirname(os.fspath(path)) or ".", exist_ok=True)
    torch.save({"model": model.state_dict(),
                "optimizer": optimizer.state_dict() if optimizer is not None else None,
                "metadata": metadata}, path)


def load_checkpoint(path: str | os.PathLike, model: nn.Module | None = None,
                    optimizer: torch.optim.Optimizer | None = None,
                    map_location: torch.device | str | None = None) -> dict:
    """Load a checkpoint saved on any device onto ``map_location`` (by default the model's
    device, or the CPU), safely (``weights_only=True``: tensors and plain data only). Fills
    ``model`` and ``optimizer`` if given; returns the whole checkpoint dict."""
    if map_location is None:
        params = list(model.parameters()) if model is not None else []
        map_location = params[0].device if params else torch.device("cpu")
    checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    if model is not None:
        model.load_state_dict(checkpoint["model"])
    if optimizer is not None and checkpoint.get("optimizer") is not None:
        optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint


def fit_neural_lm(make_model, corpus, config: TrainConfig | None = None, min_freq: int = 1,
                  device: torch.device | str | None = None, vocab=None):
    """Train a neural LM on a corpus of sentences and return it as a ``rnnlab.lm.LanguageModel``
    (``rnnlab.models.NeuralLM``): the factory the perplexity tables of ``rnnlab.report`` want.

    ``make_model(vocab_size) -> model`` builds the network (seeded by ``config.seed`` first);
    ``corpus`` has ``.train`` and ``.valid`` lists of token lists; the vocabulary is built from
    ``corpus.train`` with ``min_freq`` (1, the n-gram models' choice, keeps every training
    token; or pass ``vocab``, e.g. the vocabulary of a larger corpus this one is part of).
    The sentences become one stream with ``</s>`` after each (``encode_stream``)."""
    from .data.batching import build_vocab, encode_stream
    from .models import NeuralLM

    config = config or TrainConfig()
    vocab = vocab or build_vocab(corpus.train, min_freq=min_freq)
    if config.seed is not None:
        seed_everything(config.seed)
    model = make_model(len(vocab))
    train_language_model(model, encode_stream(corpus.train, vocab), encode_stream(corpus.valid, vocab),
                         config, device)
    return NeuralLM(model, vocab)
