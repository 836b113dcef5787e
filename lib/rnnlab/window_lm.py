r"""The fixed-window neural language model (Bengio et al. 2003, chapter 02), written out: context
windows with ``<s>`` padding, the forward pass from the parameters, the cross-entropy, training
on windows, and the ``LanguageModel`` adapter that puts the model in the perplexity table.

The model predicts each token from the n-1 tokens before it, like an n-gram model, but through
embeddings and a hidden layer instead of a table of counts:

.. math::
    e = [C(w_{t-n+1}); \dots; C(w_{t-1})] \in \mathbb{R}^{(n-1) d}, \quad
    h = \tanh(W e + b_1) \in \mathbb{R}^{H}, \quad
    z = U h + b_2 \in \mathbb{R}^{V}, \quad
    P(w_t = i \mid w_{t-n+1}^{t-1}) = \mathrm{softmax}(z)_i.

Its parameters are those of ``rnnlab.models.FixedWindowLM``: C = ``embedding.weight`` (V, d),
W, b_1 = ``hidden`` (H, (n-1) d), U, b_2 = ``output`` (V, H).

Sentences are read as an n-gram model reads them (chapter 01): each on its own, padded on the
left with n-1 ``<s>``, ``</s>`` predicted like a word, so the perplexities are comparable with
the n-gram rows of the table. (``rnnlab.train`` and ``rnnlab.models.NeuralLM`` instead read one
long stream and carry the window across sentence ends, which suits recurrent models.) Training
and scoring work on whole tensors of windows, so scoring a corpus is one pass, not one call per
sentence.

Not here: one-hot vectors and the embedding lookup (``rnnlab.embeddings``), the module itself
(``rnnlab.models``).
"""

from __future__ import annotations

import copy
import math
from typing import Sequence

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from .data.batching import encode_stream
from .lm import LanguageModel
from .models import FixedWindowLM
from .train import History, TrainConfig, make_optimizer, seed_everything
from .vocab import BOS, EOS, SPECIALS, Vocab

BOS_ID, EOS_ID = SPECIALS.index(BOS), SPECIALS.index(EOS)   # 1 and 2 in every rnnlab Vocab


# ---------------------------------------------------------------------------------------------
# The readable reference functions (the assignment's model answers)
# ---------------------------------------------------------------------------------------------

def context_windows(ids: Tensor, context_size: int, bos_id: int = BOS_ID,
                    eos_id: int = EOS_ID) -> tuple[Tensor, Tensor]:
    """Every (context, next token) pair of a stream of sentences.

    ids: (N,) int64, sentences one after the other, each ending with ``eos_id`` (what
    ``rnnlab.data.encode_stream`` gives). Returns contexts (N, n-1) and targets (N,), with
    n-1 = ``context_size``: targets[i] = ids[i] (every token is predicted, ``</s>`` included)
    and contexts[i] = the n-1 tokens before it *in its own sentence*, oldest first, the
    missing ones on the left filled with ``bos_id`` -- the n-grams of chapter 01, as ids."""
    N = len(ids)
    position = torch.arange(N)
    starts = torch.ones(N, dtype=torch.bool)                     # a sentence starts at 0 and
    starts[1:] = ids[:-1] == eos_id                              # after every </s>
    sentence_start = torch.cummax(torch.where(starts, position, 0), 0).values
    offset = position - sentence_start                           # t: w_t's place in its sentence
    contexts = torch.full((N, context_size), bos_id, dtype=torch.long)
    for back in range(1, context_size + 1):                      # column n-1-back holds w_{t-back}
        inside = offset >= back                                  # ... if the sentence has it
        contexts[inside, context_size - back] = ids[position[inside] - back]
    return contexts, ids.clone()


def window_logits(contexts: Tensor, C: Tensor, W: Tensor, b1: Tensor, U: Tensor,
                  b2: Tensor) -> Tensor:
    """The forward pass of the window LM to its logits (scores before the softmax).

    contexts (B, n-1) int64; C (V, d) embeddings; W (H, (n-1) d) and b1 (H,) the hidden layer;
    U (V, H) and b2 (V,) the output layer (weights laid out as ``nn.Linear``'s: (out, in)).
    Returns z (B, V)."""
    e = C[contexts].flatten(1)                   # (B, (n-1) d): [C(w_{t-n+1}); ...; C(w_{t-1})]
    h = torch.tanh(e @ W.T + b1)                 # (B, H):       tanh(W e + b1)
    return h @ U.T + b2                          # (B, V):       z = U h + b2


def cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    r"""Mean negative log-likelihood of the targets, in nats, equal to ``F.cross_entropy``:
    logits (B, V), targets (B,) int64 -> a scalar tensor

    .. math:: \ell = -\frac{1}{B} \sum_b \log \mathrm{softmax}(z_b)_{y_b}, \qquad
              \log \mathrm{softmax}(z)_i = z_i - \log \sum_j e^{z_j}.

    The log-sum-exp is computed stably (``torch.logsumexp`` subtracts the maximum first), so
    large logits do not overflow."""
    log_probs = logits - torch.logsumexp(logits, dim=-1, keepdim=True)        # (B, V)
    return -log_probs.gather(-1, targets.unsqueeze(-1)).mean()


# ---------------------------------------------------------------------------------------------
# Training the module on windows
# ---------------------------------------------------------------------------------------------

def model_logits(model: FixedWindowLM, contexts: Tensor) -> Tensor:
    """``window_logits`` with the parameters of ``model`` (its dropout is not applied):
    contexts (B, n-1) -> logits (B, V)."""
    return window_logits(contexts, model.embedding.weight, model.hidden.weight, model.hidden.bias,
                         model.output.weight, model.output.bias)


@torch.no_grad()
def window_nll(model: FixedWindowLM, contexts: Tensor, targets: Tensor,
               batch_size: int = 4096) -> Tensor:
    """-ln P(target | context) of every window: contexts (N, n-1), targets (N,) -> (N,) float64."""
    dev = model.embedding.weight.device
    out = []
    for i in range(0, len(targets), batch_size):
        logits = model_logits(model, contexts[i:i + batch_size].to(dev)).double()
        log_probs = torch.log_softmax(logits, -1)
        out.append(-log_probs.gather(-1, targets[i:i + batch_size, None].to(dev))[:, 0].cpu())
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.float64)


def window_perplexity(model: FixedWindowLM, contexts: Tensor, targets: Tensor) -> float:
    """exp(mean -ln P(target | context)) over the windows."""
    return math.exp(window_nll(model, contexts, targets).mean().item())


def train_on_windows(model: FixedWindowLM, train: tuple[Tensor, Tensor],
                     valid: tuple[Tensor, Tensor], config: TrainConfig | None = None) -> History:
    """Minibatch training of ``model`` on (contexts (N, n-1), targets (N,)) windows: each epoch
    visits the windows in a fresh seeded order, minimising ``cross_entropy``; validation
    perplexity after every epoch, early stopping after ``config.patience`` epochs without
    improvement, best weights restored. ``config.bptt_len`` is not used."""
    config = config or TrainConfig(batch_size=128, lr=3e-3, patience=1)
    if config.seed is not None:
        seed_everything(config.seed)
    dev = model.embedding.weight.device
    contexts, targets = (t.to(dev) for t in train)
    optimizer = make_optimizer(model, config)
    order_rng = torch.Generator().manual_seed(config.seed or 0)
    history, best, best_state = History(), math.inf, None
    bar = tqdm(range(config.epochs), desc="window LM", disable=not config.progress, leave=False)
    for epoch in bar:
        model.train()
        order = torch.randperm(len(targets), generator=order_rng).to(dev)
        total = 0.0
        for i in range(0, len(order), config.batch_size):
            batch = order[i:i + config.batch_size]
            loss = cross_entropy(model_logits(model, contexts[batch]), targets[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.clip_norm is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
            optimizer.step()
            total += loss.item() * len(batch)
        model.eval()
        ppl = window_perplexity(model, *valid)
        history.train_loss.append(total / len(order))
        history.valid_perplexity.append(ppl)
        bar.set_postfix(train_loss=f"{total / len(order):.3f}", valid_ppl=f"{ppl:.2f}")
        if ppl < best:
            best, history.best_epoch, best_state = ppl, epoch, copy.deepcopy(model.state_dict())
        elif epoch - history.best_epoch >= config.patience:
            history.stopped_early = True
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history


# ---------------------------------------------------------------------------------------------
# The LanguageModel adapter, for the perplexity table, agreement and sampling
# ---------------------------------------------------------------------------------------------

class WindowLanguageModel(LanguageModel):
    """A trained ``FixedWindowLM`` and its vocabulary as a ``rnnlab.lm.LanguageModel``: each
    sentence padded with n-1 ``<s>``, ``</s>`` predicted, unknown words read as ``<unk>``.

    ``rare_types``: how many training words were left out of ``vocab`` (seen fewer than
    ``min_freq`` times) and are predicted as ``<unk>``. The probability of ``<unk>`` is shared
    equally among them and ``<unk>`` itself, P(w | h) = P(<unk> | h) / (rare_types + 1) for each,
    so that the model is a distribution over the same words as an ``NGramLM`` fitted on all
    the training words, and their perplexities can be compared. (``next_distribution`` gives
    the unshared distribution over ``vocab``.)"""

    def __init__(self, model: FixedWindowLM, vocab: Vocab, history: History | None = None,
                 rare_types: int = 0):
        self.model, self.vocab, self.history = model.eval(), vocab, history
        self.context_size, self.rare_types = model.context_size, rare_types

    def windows(self, sentences: Sequence[Sequence[str]]) -> tuple[Tensor, Tensor]:
        """contexts (N, n-1) and targets (N,) of ``sentences``, one window per predicted token."""
        return context_windows(encode_stream(sentences, self.vocab), self.context_size,
                               self.vocab.bos_id, self.vocab.eos_id)

    def token_logprobs_corpus(self, sentences: Sequence[Sequence[str]]) -> np.ndarray:
        """ln P(w_t | context) of every predicted token of ``sentences``, ``</s>`` included."""
        contexts, targets = self.windows(list(sentences))
        logprobs = -window_nll(self.model, contexts, targets).numpy()
        return logprobs - math.log(self.rare_types + 1) * (targets == self.vocab.unk_id).numpy()

    def token_logprobs(self, sentence: Sequence[str]) -> np.ndarray:
        return self.token_logprobs_corpus([sentence])

    def cross_entropy(self, sentences) -> tuple[float, int]:
        lp = self.token_logprobs_corpus(list(sentences))
        return float(-lp.sum()), len(lp)

    @torch.no_grad()
    def next_distribution(self, history: Sequence[str]) -> np.ndarray:
        """P(. | the last n-1 tokens of ``<s>``-padded history): shape (V,), float64."""
        context = ([BOS] * self.context_size + list(history))[-self.context_size:]
        ids = torch.as_tensor(self.vocab.encode(context))[None].to(self.model.embedding.weight.device)
        p = torch.softmax(model_logits(self.model, ids)[0].double(), -1).cpu().numpy()
        return p / p.sum()

    def __repr__(self) -> str:
        m = self.model
        return (f"WindowLanguageModel(n={self.context_size + 1}, V={len(self.vocab)}, "
                f"d={m.embedding.embedding_dim}, H={m.hidden.out_features})")


def fit_window_lm(corpus, context_size: int = 2, embedding_dim: int = 32, hidden_size: int = 64,
                  config: TrainConfig | None = None, min_freq: int = 1,
                  device: torch.device | str = "cpu") -> WindowLanguageModel:
    """Train a window LM on ``corpus.train`` (early stopping on ``corpus.valid``) and return it
    as a ``LanguageModel``: the factory of the perplexity table. Seeded by ``config.seed``.

    The vocabulary is the training words seen at least ``min_freq`` times; the others are
    predicted as ``<unk>``, whose probability they share (``WindowLanguageModel``), so the
    perplexity is over the same words as an ``NGramLM``'s. ``min_freq`` > 1 makes the output
    layer, the cost of every step, much smaller on a large vocabulary."""
    config = config or TrainConfig(batch_size=128, lr=3e-3, patience=1)
    vocab = Vocab.build(corpus.train, min_freq=min_freq)
    all_types = {t for s in corpus.train for t in s} - set(SPECIALS)
    if config.seed is not None:
        seed_everything(config.seed)
    model = FixedWindowLM(len(vocab), context_size, embedding_dim, hidden_size,
                          start_id=vocab.bos_id).to(device)
    lm = WindowLanguageModel(model, vocab, rare_types=len(all_types) - (len(vocab) - len(SPECIALS)))
    history = train_on_windows(model, lm.windows(corpus.train), lm.windows(corpus.valid), config)
    lm.history = history
    return lm
