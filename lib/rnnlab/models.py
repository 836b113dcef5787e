r"""Neural models of the course, built on ``rnnlab.layers``: language models and task heads.

- ``FixedWindowLM``: the neural probabilistic LM of Bengio et al. (2003), chapter 02.
  The previous n-1 words' embeddings are concatenated and fed to a tanh hidden layer,

  .. math::
      x = [C(w_{t-n+1}); \dots; C(w_{t-1})], \qquad
      P(w_t \mid w_{t-n+1}^{t-1}) = \mathrm{softmax}(b + U \tanh(d + H x)).

  (The paper's optional direct connections W x are left out.)
- ``RNNLM``: embedding, a recurrent layer of any kind (``"rnn"``, ``"rnn_relu"``, ``"lstm"``,
  ``"gru"``), dropout and a softmax output layer, optionally tied to the embedding
  (Press & Wolf 2017, Inan et al. 2017), chapters 03-05.
- ``AdaptiveRNNLM``: the same network with an adaptive softmax as its output layer (Grave et
  al. 2017, ``torch.nn.AdaptiveLogSoftmaxWithLoss``): the frequent words in a full softmax
  head, the rare ones in smaller clusters behind it (``frequency_cutoffs`` chooses them).
- ``NeuralLM``: either language model and its vocabulary as a ``rnnlab.lm.LanguageModel``
  (perplexity, agreement, sampling), ``teacher_forcing_loss`` the loss both are trained with.
- ``RNNTagger``: one label per token (chapter 06); ``RNNClassifier``: one label per sequence
  from the last state or the mean or max of the outputs over each sequence's true length;
  ``BagOfEmbeddings``: one label per sequence from the mean of its embeddings, blind to order.

Every model reads batch-first token ids (B, T). The language models share one signature,
``model(tokens, state=None) -> (logits (B, T, V), state)``: the recurrent LM carries its hidden
state from one window of text to the next, the window LM carries its last n-1 tokens, so the
same training loop (``rnnlab.train``) serves them. A model may also have
``nll(tokens, targets, state=None) -> (mean NLL in nats per token, state)``, its training loss
computed without the full distribution (the adaptive softmax's point); ``rnnlab.train`` uses it
where it is there. Models use the fused recurrent kernels by
default (``impl="fused"``); pass ``impl="reference"`` to run the readable loop of
``rnnlab.layers`` instead, with the same parameters.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import layers
from .lm import LanguageModel
from .vocab import BOS, EOS, SPECIALS

START_ID = SPECIALS.index(BOS)          # id of <s> in every rnnlab.vocab.Vocab

RECURRENT_KINDS = {
    "rnn": (layers.RNN, {}),
    "rnn_relu": (layers.RNN, {"nonlinearity": "relu"}),
    "lstm": (layers.LSTM, {}),
    "gru": (layers.GRU, {}),
}
POOLINGS = ("last", "mean", "max")


def recurrent_layer(kind: str, input_size: int, hidden_size: int, num_layers: int = 1,
                    dropout: float = 0.0, bidirectional: bool = False, impl: str = "fused"):
    """A batch-first ``rnnlab.layers`` RNN, LSTM or GRU chosen by name (see ``RECURRENT_KINDS``);
    ``dropout`` applies between layers only (so only with ``num_layers`` > 1)."""
    if kind not in RECURRENT_KINDS:
        raise ValueError(f"unknown recurrent kind {kind!r}; choose from {sorted(RECURRENT_KINDS)}")
    cls, extra = RECURRENT_KINDS[kind]
    return cls(input_size, hidden_size, num_layers, batch_first=True, bidirectional=bidirectional,
               dropout=dropout if num_layers > 1 else 0.0, impl=impl, **extra)


def detach_state(state):
    """Cut the graph behind a recurrent state (a tensor, a tuple of tensors, or None), keeping
    its value: truncated BPTT carries the state across windows but not the gradient."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    return tuple(detach_state(s) for s in state)


class FixedWindowLM(nn.Module):
    r"""Bengio et al. (2003): :math:`P(w_{t+1} \mid w_{t-n+2}^{t}) = \mathrm{softmax}(b + U \tanh(d + H x))`.

    Parameters: ``embedding`` C (V, E), ``hidden`` H (hidden_size, (n-1) E) with bias d,
    ``output`` U (V, hidden_size) with bias b. ``context_size`` is n-1.

    ``forward(tokens, state=None)``: tokens (B, T) ids; state (B, n-1), the n-1 tokens before
    ``tokens[:, 0]`` (``<s>`` padding when None). Returns logits (B, T, V) of the token *after*
    each position, and the new state: the last n-1 tokens seen."""

    def __init__(self, vocab_size: int, context_size: int, embedding_dim: int = 30,
                 hidden_size: int = 50, dropout: float = 0.0, start_id: int = START_ID):
        super().__init__()
        if context_size < 1:
            raise ValueError("context_size (n-1) must be at least 1")
        self.context_size, self.start_id = context_size, start_id
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.hidden = nn.Linear(context_size * embedding_dim, hidden_size)
        self.output = nn.Linear(hidden_size, vocab_size)
        self.dropout = nn.Dropout(dropout)

    def forward(self, tokens: Tensor, state: Tensor | None = None):
        B, T = tokens.shape
        if state is None:
            state = tokens.new_full((B, self.context_size), self.start_id)
        history = torch.cat([state, tokens], 1)                          # (B, n-1 + T)
        contexts = history.unfold(1, self.context_size, 1)[:, 1:]        # (B, T, n-1): w_{t-n+2..t}
        x = self.dropout(self.embedding(contexts).flatten(2))            # (B, T, (n-1) E)
        hidden = self.dropout(torch.tanh(self.hidden(x)))                # tanh(d + H x)
        return self.output(hidden), history[:, -self.context_size:]     # b + U tanh(...)


class _RecurrentEncoder(nn.Module):
    """Token ids (B, T) -> embedding -> dropout -> recurrent layer -> dropout: outputs (B, T, D*H)
    and the final state. Shared by the LM, the tagger and the classifier."""

    def __init__(self, vocab_size: int, embedding_dim: int, hidden_size: int, kind: str,
                 num_layers: int, bidirectional: bool, dropout: float, impl: str):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.rnn = recurrent_layer(kind, embedding_dim, hidden_size, num_layers, dropout,
                                   bidirectional, impl)
        self.dropout = nn.Dropout(dropout)

    def forward(self, tokens: Tensor, state=None, lengths: Tensor | None = None):
        outputs, state = self.rnn(self.dropout(self.embedding(tokens)), state, lengths=lengths)
        return self.dropout(outputs), state


def tie_output_to_embedding(embedding: nn.Embedding, output: nn.Linear) -> int:
    r"""Weight tying (Press & Wolf 2017, Inan et al. 2017): the output layer's matrix U (V, H)
    becomes the embedding's matrix E (V, E), the same ``Parameter`` object, so that one
    gradient step moves both and the model stores it once; the output bias stays the layer's
    own. Needs H == E (a ``ValueError`` otherwise). Returns the parameters saved, V * E."""
    (V, E), H = embedding.weight.shape, output.in_features
    if H != E or output.out_features != V:
        raise ValueError(f"tying needs an output layer ({E} -> {V}) shaped like the embedding "
                         f"({V}, {E}), got {H} -> {output.out_features}")
    output.weight = embedding.weight
    return V * E


class RNNLM(nn.Module):
    r"""Recurrent language model: :math:`P(w_{t+1} \mid w_{\le t}) = \mathrm{softmax}(U h_t + b)`
    with :math:`h_t` the top layer's state after reading the embedding of :math:`w_t`.

    ``kind``: "rnn", "rnn_relu", "lstm" or "gru". ``tie_weights`` shares the output matrix U
    with the embedding (needs ``hidden_size == embedding_dim``). ``dropout`` applies to the
    embeddings, between recurrent layers and before the output layer.

    ``forward(tokens, state=None, lengths=None)``: tokens (B, T); state as the recurrent layer's
    (h_0 (L, B, H), or (h_0, c_0) for an LSTM; never batch-first), zeros if None; lengths (B,)
    for padded batches. Returns logits (B, T, V) and the final state."""

    def __init__(self, vocab_size: int, embedding_dim: int = 64, hidden_size: int = 64,
                 kind: str = "lstm", num_layers: int = 1, dropout: float = 0.0,
                 tie_weights: bool = False, impl: str = "fused"):
        super().__init__()
        if tie_weights and hidden_size != embedding_dim:
            raise ValueError("tie_weights needs hidden_size == embedding_dim, "
                             f"got {hidden_size} != {embedding_dim}")
        self.kind = kind
        self.encoder = _RecurrentEncoder(vocab_size, embedding_dim, hidden_size, kind, num_layers,
                                         False, dropout, impl)
        self.output = nn.Linear(hidden_size, vocab_size)
        if tie_weights:
            tie_output_to_embedding(self.encoder.embedding, self.output)

    def forward(self, tokens: Tensor, state=None, lengths: Tensor | None = None):
        outputs, state = self.encoder(tokens, state, lengths)
        # batch-first outputs are a transposed view; made contiguous, the output layer is one
        # matrix product with its bias fused in (addmm), not a copy, a product and an addition
        return self.output(outputs.contiguous()), state

    def output_nll(self, hidden: Tensor, targets: Tensor) -> Tensor:
        """Mean cross-entropy (nats per token) of targets (B, T) given the top layer's outputs
        (B, T, H): the output layer, softmax and loss alone."""
        return language_model_loss(self.output(hidden.contiguous()), targets)


def frequency_cutoffs(ids, vocab_size: int, coverage=(0.8, 0.95)) -> list[int]:
    """Cutoffs of an adaptive softmax from token frequency, for ids sorted by frequency (as
    ``rnnlab.vocab`` numbers them: the specials, then the words, most frequent first): the
    k-th cutoff is the smallest number of leading ids whose tokens make up ``coverage[k]`` of
    the stream ``ids`` (N,). So with (0.8, 0.95) the head's softmax holds the words of 80% of
    the text, the first cluster those of the next 15%, the last cluster the rest of the
    vocabulary. Cutoffs that would coincide, or reach ``vocab_size``, are dropped."""
    counts = torch.bincount(torch.as_tensor(ids, dtype=torch.long).flatten(), minlength=vocab_size)
    share = counts[:vocab_size].cumsum(0).double() / max(int(counts.sum()), 1)
    cutoffs = []
    for c in coverage:
        cut = int(torch.searchsorted(share, torch.tensor(float(c), dtype=torch.double))) + 1
        if (not cutoffs or cut > cutoffs[-1]) and cut < vocab_size:
            cutoffs.append(cut)
    return cutoffs


class AdaptiveRNNLM(nn.Module):
    r"""``RNNLM`` with an adaptive softmax output layer (Grave et al. 2017): the ids below
    ``cutoffs[0]`` (the frequent words: ids must be sorted by frequency, see
    ``frequency_cutoffs``) and one entry per cluster share a softmax over the head,

    .. math::
        P(w \mid h) = \mathrm{softmax}(U_0 h)_w \ \text{(head)}, \qquad
        P(w \mid h) = \mathrm{softmax}(U_0 h)_{c} \, \mathrm{softmax}(U_c V_c h)_w
        \ \text{($w$ in cluster $c$)},

    the c-th cluster projecting h to ``hidden_size / div_value**c`` dimensions first: a rare
    word costs a product with a small matrix, and the whole vocabulary is never scored while
    training. Parameters: ``encoder`` as RNNLM's, ``output`` a
    ``torch.nn.AdaptiveLogSoftmaxWithLoss``; no weight tying (the clusters' matrices are not
    the embedding's shape).

    ``forward(tokens, state=None, lengths=None)``: as RNNLM's, returning the log-probabilities
    of the full distribution (B, T, V) as its logits (their softmax is the distribution itself),
    so evaluation, sampling and ``NeuralLM`` treat it as any LM; it scores every word (slow).
    ``nll(tokens, targets, state=None)``: tokens, targets (B, T); (mean negative log-likelihood
    of the targets in nats per token, final state), scoring only each target's own cluster: the
    training loss. The output layer runs in float32 also under autocast (the recurrent layer
    does not)."""

    def __init__(self, vocab_size: int, cutoffs, embedding_dim: int = 64, hidden_size: int = 64,
                 kind: str = "lstm", num_layers: int = 1, dropout: float = 0.0,
                 div_value: float = 4.0, impl: str = "fused"):
        super().__init__()
        self.kind = kind
        self.encoder = _RecurrentEncoder(vocab_size, embedding_dim, hidden_size, kind, num_layers,
                                         False, dropout, impl)
        self.output = nn.AdaptiveLogSoftmaxWithLoss(hidden_size, vocab_size, list(cutoffs),
                                                    div_value=div_value)

    def forward(self, tokens: Tensor, state=None, lengths: Tensor | None = None):
        outputs, state = self.encoder(tokens, state, lengths)
        with self._full_precision(outputs):
            log_probs = self.output.log_prob(self._flat(outputs))
        return log_probs.view(*tokens.shape, -1), state

    def nll(self, tokens: Tensor, targets: Tensor, state=None):
        outputs, state = self.encoder(tokens, state)
        return self.output_nll(outputs, targets), state

    def output_nll(self, hidden: Tensor, targets: Tensor) -> Tensor:
        """Mean NLL (nats per token) of targets (B, T) given the top layer's outputs (B, T, H)."""
        with self._full_precision(hidden):
            return self.output(self._flat(hidden), targets.reshape(-1)).loss

    def _flat(self, hidden: Tensor) -> Tensor:
        """(B, T, H) -> (B*T, H), in the output layer's dtype."""
        return hidden.reshape(-1, hidden.shape[-1]).to(self.output.head.weight.dtype)

    @staticmethod
    def _full_precision(hidden: Tensor):
        """The output layer runs outside autocast, in its weights' dtype: it writes the clusters'
        log-probabilities into a tensor of its input's dtype, which low-precision log-softmaxes
        (autocast's on the CPU) do not match."""
        return torch.autocast(hidden.device.type, enabled=False)


class RNNTagger(nn.Module):
    """One label per token: a (by default bidirectional) recurrent encoder and a linear layer
    on every output. ``forward(tokens (B, T), lengths=None) -> logits (B, T, num_tags)``; with
    lengths, positions past each sequence's end carry no information (mask them in the loss)."""

    def __init__(self, vocab_size: int, num_tags: int, embedding_dim: int = 64,
                 hidden_size: int = 64, kind: str = "lstm", num_layers: int = 1,
                 bidirectional: bool = True, dropout: float = 0.0, impl: str = "fused"):
        super().__init__()
        self.encoder = _RecurrentEncoder(vocab_size, embedding_dim, hidden_size, kind, num_layers,
                                         bidirectional, dropout, impl)
        self.output = nn.Linear(hidden_size * (2 if bidirectional else 1), num_tags)

    def forward(self, tokens: Tensor, lengths: Tensor | None = None) -> Tensor:
        outputs, _ = self.encoder(tokens, lengths=lengths)
        return self.output(outputs)


def pool_sequence(outputs: Tensor, final_state: Tensor, how: str, num_directions: int = 1,
                  lengths: Tensor | None = None) -> Tensor:
    """One vector per sequence from a batch-first recurrent layer's results.

    outputs (B, T, D*H); final_state (L*D, B, H), the ``h_n`` of the layer; lengths (B,) or None.

    - ``"last"``: the top layer's final state of each direction, concatenated, (B, D*H): the
      forward direction's state after each sequence's *last real* token, the reverse direction's
      after its first (what the layer returns when given the lengths);
    - ``"mean"``: the average of the outputs over each sequence's length;
    - ``"max"``: the elementwise maximum over each sequence's length."""
    if how == "last":
        return torch.cat(final_state[-num_directions:].unbind(0), -1)
    if how not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {how!r}")
    B, T, _ = outputs.shape
    if lengths is None:
        lengths = torch.full((B,), T, dtype=torch.long)
    lengths = lengths.to(outputs.device)
    inside = (torch.arange(T, device=outputs.device)[None, :] < lengths[:, None]).unsqueeze(-1)
    if how == "mean":
        return outputs.masked_fill(~inside, 0.0).sum(1) / lengths[:, None].to(outputs.dtype)
    return outputs.masked_fill(~inside, float("-inf")).amax(1)


class RNNClassifier(nn.Module):
    """One label per sequence: recurrent encoder, ``pool_sequence`` ("last", "mean" or "max",
    respecting lengths), then a linear layer.
    ``forward(tokens (B, T), lengths=None) -> logits (B, num_classes)``."""

    def __init__(self, vocab_size: int, num_classes: int, embedding_dim: int = 64,
                 hidden_size: int = 64, kind: str = "lstm", num_layers: int = 1,
                 bidirectional: bool = False, pooling: str = "last", dropout: float = 0.0,
                 impl: str = "fused"):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self.pooling, self.num_directions = pooling, 2 if bidirectional else 1
        self.encoder = _RecurrentEncoder(vocab_size, embedding_dim, hidden_size, kind, num_layers,
                                         bidirectional, dropout, impl)
        self.output = nn.Linear(hidden_size * self.num_directions, num_classes)

    def forward(self, tokens: Tensor, lengths: Tensor | None = None) -> Tensor:
        outputs, state = self.encoder(tokens, lengths=lengths)
        h_n = state[0] if isinstance(state, tuple) else state
        return self.output(pool_sequence(outputs, h_n, self.pooling, self.num_directions, lengths))


class BagOfEmbeddings(nn.Module):
    r"""The order-blind baseline of sequence classification: the mean of a sequence's token
    embeddings through a tanh hidden layer,

    .. math::
        \bar e = \frac{1}{n} \sum_{t=1}^{n} E w_t, \qquad z = U \tanh(W \bar e + b) + c,

    so any two sequences with the same words in another order get the same logits.
    ``forward(tokens (B, T), lengths=None) -> logits (B, num_classes)``."""

    def __init__(self, vocab_size: int, num_classes: int, embedding_dim: int = 64):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.hidden = nn.Linear(embedding_dim, embedding_dim)
        self.output = nn.Linear(embedding_dim, num_classes)

    def forward(self, tokens: Tensor, lengths: Tensor | None = None) -> Tensor:
        mean = pool_sequence(self.embedding(tokens), None, "mean", lengths=lengths)   # (B, E)
        return self.output(torch.tanh(self.hidden(mean)))


def language_model_loss(logits: Tensor, targets: Tensor, ignore_index: int = -100) -> Tensor:
    """Mean cross-entropy (nats per token) of logits (B, T, V) against next tokens (B, T);
    targets equal to ``ignore_index`` count neither in the sum nor in the mean."""
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=ignore_index)


def teacher_forcing_loss(model: nn.Module, tokens: Tensor, pad_id: int | None = None) -> Tensor:
    r"""The LM training loss with teacher forcing: the model reads the *true* tokens
    :math:`w_1 \dots w_{T-1}` (never its own predictions) and is scored on the next ones,

    .. math::
        \mathcal{L} = -\frac{1}{N} \sum_{b} \sum_{t=1}^{T-1} [w_{b,t+1} \ne \text{pad}]
        \ln \mathrm{softmax}(z_{b,t})_{w_{b,t+1}},

    N being the number of non-padding targets. tokens (B, T) ids, padded on the right with
    ``pad_id`` (None: no padding); ``model(inputs (B, T-1)) -> (logits (B, T-1, V), state)``.
    Returns the mean loss in nats per token, a scalar tensor with a gradient."""
    inputs, targets = tokens[:, :-1], tokens[:, 1:]          # input w_t, target w_{t+1}
    if pad_id is not None:
        targets = targets.masked_fill(targets == pad_id, -100)   # ignored by cross_entropy
    logits, _ = model(inputs)
    return language_model_loss(logits, targets)


class NeuralLM(LanguageModel):
    r"""Any model with the LM signature of this module (``RNNLM``, ``FixedWindowLM``) and its
    vocabulary as a ``rnnlab.lm.LanguageModel``, for the perplexity and agreement tables.

    Training reads one stream of sentences, each followed by ``</s>`` (``rnnlab.data.
    encode_stream``), so here a sentence is read after a ``</s>``, from a zero state:
    :math:`\ln P(w_1 \dots w_m \texttt{</s>}) = \sum_t \ln \mathrm{softmax}(z_t)_{w_{t+1}}`
    for the inputs ``</s> w_1 ... w_m``. Runs on the model's device, in eval mode."""

    def __init__(self, model: nn.Module, vocab):
        self.model, self.vocab = model, vocab

    @torch.no_grad()
    def _log_probs(self, history) -> Tensor:
        """ln P(. | prefix) after each prefix of ``history``: (len(history) + 1, V)."""
        self.model.eval()
        device = next(self.model.parameters()).device
        ids = [self.vocab.eos_id] + [int(i) for i in self.vocab.encode(list(history))]
        logits, _ = self.model(torch.tensor([ids], device=device))
        return torch.log_softmax(logits[0].double(), -1).cpu()

    def next_distribution(self, history) -> np.ndarray:
        return self._log_probs(history)[-1].exp().numpy()

    def token_logprobs(self, sentence) -> np.ndarray:
        targets = torch.as_tensor(self.vocab.encode(list(sentence) + [EOS]))
        return self._log_probs(sentence).gather(1, targets[:, None])[:, 0].numpy()
