r"""Encoder-decoder (sequence-to-sequence) models with teacher forcing, their data and their metrics
(chapter 07).

An *encoder* reads the source :math:`x_1 \dots x_S` (uni- or bidirectional, respecting each
source's length); a *bridge* turns its final states into the *decoder*'s initial state; the
decoder is a conditional language model of the target,

.. math::
    P(y \mid x) = \prod_{t=1}^{n} P(y_t \mid y_{<t}, x), \qquad y_n = \texttt{</s>},

that reads the source again at every step through attention (``rnnlab.attention``), or not at
all (``attention=None``: the source reaches the decoder only through the bridge, a fixed-size
bottleneck). Three decoders:

- no attention: :math:`s_t = f(s_{t-1}, E y_{t-1})`, :math:`P(y_t) = \mathrm{softmax}(W_o s_t)`;
- Bahdanau et al. (2015): :math:`c_t = \mathrm{attend}(s_{t-1}, h)`, query the *previous* state;
  :math:`s_t = f(s_{t-1}, [E y_{t-1}; c_t])`, :math:`P(y_t) = \mathrm{softmax}(W_o [s_t; c_t])`
  (the paper's maxout deep output is left out);
- Luong et al. (2015): :math:`h_t = f(h_{t-1}, E y_{t-1})`, :math:`c_t = \mathrm{attend}(h_t, h)`,
  query the *current* top state; :math:`\tilde h_t = \tanh(W_c [c_t; h_t])`,
  :math:`P(y_t) = \mathrm{softmax}(W_s \tilde h_t)`; with *input feeding* the step's input is
  :math:`[E y_{t-1}; \tilde h_{t-1}]` (:math:`\tilde h_0 = 0`).

**Teacher forcing**: training reads the *gold* prefix. For targets :math:`y_1 \dots y_{n-1}
\texttt{</s>}` the decoder inputs are :math:`\texttt{<s>} y_1 \dots y_{n-1}` (``decoder_inputs``)
and the loss is the cross-entropy of :math:`y_1 \dots \texttt{</s>}`, padding ignored
(``teacher_forced_loss``). With a teacher-forcing ratio r < 1 each input after the first is
the gold token with probability r and the model's own previous argmax otherwise (drawn from a
seeded ``torch.Generator``), so that training sees some of its own mistakes (exposure bias).

Every model here has the interface the decoding algorithms of ``rnnlab.decoding`` use:
``encode(src, src_lengths) -> (EncodedSource, DecoderState)`` and ``step(tokens, state,
source) -> (logits, state, weights)``, plus ``bos_id``, ``eos_id``, ``pad_id``.

Shapes: src (B, S) and targets (B, N) are batch-first token ids, padded on the right with
``pad_id``; src_lengths (B,) int64 (>= 1). Recurrent states stay (L, B, H) as in torch.nn.
Vocabularies are ``rnnlab.vocab.Vocab`` from ``build_vocabs``: ``<unk>`` 0, ``<s>`` 1, ``</s>`` 2,
``<pad>`` 3 in both. The recurrent layers are ``rnnlab.layers``' fused kernels by default
(``impl="fused"``; ``"reference"`` runs the readable loop with the same parameters).

Also here: training (``train_seq2seq``) and the metrics of the chapter: exact match,
per-token (per-character) accuracy, exact match by source length, and BLEU through
``sacrebleu`` when it is installed (``corpus_bleu``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from .attention import LUONG_SCORES, BahdanauAttention, LuongAttention
from .data.batching import bucket_batches, build_vocab, pad_batch
from .models import recurrent_layer
from .vocab import BOS, EOS, SPECIALS, Vocab

BOS_ID, EOS_ID = SPECIALS.index(BOS), SPECIALS.index(EOS)
PAD_ID = len(SPECIALS)                  # build_vocab(pad=True) puts <pad> right after the specials
ATTENTIONS = (None, "bahdanau") + LUONG_SCORES


# ---------------------------------------------------------------------------------------------
# The encoder and the bridge
# ---------------------------------------------------------------------------------------------


class Encoder(nn.Module):
    r"""Embedding and a batch-first recurrent layer over the source, with its lengths.

    With ``bidirectional`` each direction has ``hidden_size // 2`` units, so the outputs
    :math:`h_j = [\overrightarrow{h}_j; \overleftarrow{h}_j]` always have ``hidden_size``.

    ``forward(src (B, S), lengths (B,)) -> (outputs (B, S, H), final)``: outputs are zero past
    each source's end; final is the layer's (L*D, B, H/D) state (LSTM: a pair), the forward
    direction's taken after each source's *last real* token and the reverse direction's after
    its first."""

    def __init__(self, vocab_size: int, embedding_dim: int, hidden_size: int, kind: str = "gru",
                 num_layers: int = 1, bidirectional: bool = True, impl: str = "fused"):
        super().__init__()
        self.num_directions = 2 if bidirectional else 1
        if hidden_size % self.num_directions:
            raise ValueError(f"a bidirectional encoder needs an even hidden_size, got {hidden_size}")
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.rnn = recurrent_layer(kind, embedding_dim, hidden_size // self.num_directions,
                                   num_layers, bidirectional=bidirectional, impl=impl)

    def forward(self, src: Tensor, lengths: Tensor):
        return self.rnn(self.embedding(src), lengths=lengths)


class Bridge(nn.Module):
    r"""The decoder's initial state from the encoder's final states, layer by layer:

    .. math::
        s_0^{(l)} = \tanh\big(W_b [\overrightarrow{h}^{(l)}_S; \overleftarrow{h}^{(l)}_1] + b_b\big)

    (one direction: :math:`\tanh(W_b h^{(l)}_S + b_b)`). An LSTM's memory cell gets its own
    linear map, without the tanh: :math:`c_0^{(l)} = W_m [\dots] + b_m`.

    ``forward(final (L*D, B, H/D) or a pair) -> (L, B, H) or a pair``."""

    def __init__(self, hidden_size: int, num_directions: int, lstm: bool):
        super().__init__()
        self.num_directions = num_directions
        self.hidden = nn.Linear(hidden_size, hidden_size)
        self.cell = nn.Linear(hidden_size, hidden_size) if lstm else None

    def _directions_side_by_side(self, state: Tensor) -> Tensor:
        """(L*D, B, H/D), layer by layer, forward before reverse -> (L, B, H)."""
        LD, B, Hd = state.shape
        L = LD // self.num_directions
        return state.view(L, self.num_directions, B, Hd).permute(0, 2, 1, 3).reshape(L, B, -1)

    def forward(self, final):
        if self.cell is None:
            return torch.tanh(self.hidden(self._directions_side_by_side(final)))   # s_0
        h, c = (self._directions_side_by_side(s) for s in final)
        return torch.tanh(self.hidden(h)), self.cell(c)                             # (s_0, c_0)


# ---------------------------------------------------------------------------------------------
# What the decoder carries from step to step
# ---------------------------------------------------------------------------------------------


@dataclass
class EncodedSource:
    """What every decoder step reads of the source: ``keys`` (B, S, H), the encoder outputs
    :math:`h_j`; ``mask`` (B, S) bool, True on real source positions; ``projected_keys``, the
    attention's query-independent part (Bahdanau: :math:`U h_j`, (B, S, A); Luong general:
    :math:`W_a h_j`; dot: the keys), or None without attention."""

    keys: Tensor
    mask: Tensor
    projected_keys: Tensor | None

    def select(self, rows: Tensor) -> "EncodedSource":
        """The rows ``rows`` (N,) of the batch (repeated rows allowed: one per beam)."""
        projected = None if self.projected_keys is None else self.projected_keys.index_select(0, rows)
        return EncodedSource(self.keys.index_select(0, rows), self.mask.index_select(0, rows), projected)


@dataclass
class DecoderState:
    r"""The decoder's recurrent state between steps: ``hidden`` (L, B, H) (LSTM: a pair
    (h, c)), never batch-first, as in torch.nn; ``attentional`` the previous attentional state
    :math:`\tilde h_{t-1}` (B, H) for Luong's input feeding, else None."""

    hidden: Tensor | tuple[Tensor, Tensor]
    attentional: Tensor | None = None

    @property
    def top(self) -> Tensor:
        """The top layer's hidden state (B, H): Bahdanau's query :math:`s_{t-1}`."""
        return (self.hidden[0] if isinstance(self.hidden, tuple) else self.hidden)[-1]

    def select(self, rows: Tensor) -> "DecoderState":
        """The state of the rows ``rows`` (N,) of the batch, e.g. the beams a search keeps."""
        if isinstance(self.hidden, tuple):
            hidden = tuple(s.index_select(1, rows) for s in self.hidden)
        else:
            hidden = self.hidden.index_select(1, rows)
        attentional = None if self.attentional is None else self.attentional.index_select(0, rows)
        return DecoderState(hidden, attentional)


# ---------------------------------------------------------------------------------------------
# The decoder: one step at a time
# ---------------------------------------------------------------------------------------------


class Decoder(nn.Module):
    r"""A conditional language model over the target, one step at a time, with the attention
    of the module docstring: ``attention`` None, ``"bahdanau"``, ``"dot"`` or ``"general"``
    (Luong), ``input_feeding`` for Luong only.

    ``step(tokens (B,), state, source) -> (logits (B, V), state, weights (B, S) or None)``:
    tokens are :math:`y_{t-1}` (``<s>`` at t = 1), the weights those of the attention that
    produced :math:`y_t`'s distribution.

    ``read(inputs (B, N), state, source) -> (logits (B, N, V), weights (B, N, S) or None)``:
    the N steps of teacher forcing at once, for a decoder whose recurrence reads only the
    tokens (``reads_only_tokens``: no attention, or Luong without input feeding): its RNN runs
    over the whole input sequence in one call, then attends for all steps in one product. The
    same numbers as N calls of ``step``, faster."""

    def __init__(self, vocab_size: int, embedding_dim: int, hidden_size: int, key_size: int,
                 kind: str = "gru", num_layers: int = 1, attention: str | None = None,
                 input_feeding: bool = False, attention_size: int | None = None,
                 impl: str = "fused"):
        super().__init__()
        if attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, got {attention!r}")
        if input_feeding and attention not in LUONG_SCORES:
            raise ValueError("input feeding belongs to Luong attention ('dot' or 'general')")
        self.attention_kind, self.input_feeding = attention, input_feeding
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        rnn_input, output_input = embedding_dim, hidden_size
        self.attention, self.combine = None, None
        if attention == "bahdanau":
            self.attention = BahdanauAttention(hidden_size, key_size, attention_size or hidden_size)
            rnn_input, output_input = embedding_dim + key_size, hidden_size + key_size
        elif attention is not None:
            self.attention = LuongAttention(hidden_size, key_size, attention)
            self.combine = nn.Linear(key_size + hidden_size, hidden_size, bias=False)   # W_c
            rnn_input += hidden_size if input_feeding else 0
        self.rnn = recurrent_layer(kind, rnn_input, hidden_size, num_layers, impl=impl)
        self.output = nn.Linear(output_input, vocab_size)

    @property
    def reads_only_tokens(self) -> bool:
        """True when no attention output feeds back into the recurrence."""
        return self.attention_kind != "bahdanau" and not self.input_feeding

    def read(self, inputs: Tensor, state: DecoderState, source: EncodedSource):
        if not self.reads_only_tokens:
            raise ValueError("only a decoder whose recurrence reads the tokens alone can read all steps at once")
        h, _ = self.rnn(self.embedding(inputs), state.hidden)             # h_t for every t: (B, N, H)
        logits, _, weights = self._read_out(h, source)
        return logits, weights

    def _recur(self, x: Tensor, hidden):
        """One step of the recurrent layer: x (B, I) -> (top output (B, H), new hidden)."""
        output, hidden = self.rnn(x[:, None, :], hidden)
        return output[:, 0], hidden

    def step(self, tokens: Tensor, state: DecoderState, source: EncodedSource):
        y = self.embedding(tokens)                                        # E y_{t-1}: (B, E)
        if self.attention_kind == "bahdanau":
            context, weights = self.attention(state.top, source.keys, source.mask,
                                              source.projected_keys)     # query s_{t-1}
            s, hidden = self._recur(torch.cat([y, context], -1), state.hidden)   # s_t = f(s_{t-1}, [E y; c_t])
            logits = self.output(torch.cat([s, context], -1))             # W_o [s_t; c_t]
            return logits, DecoderState(hidden), weights
        if self.input_feeding:
            y = torch.cat([y, state.attentional], -1)                     # [E y_{t-1}; h~_{t-1}]
        h, hidden = self._recur(y, state.hidden)                          # h_t = f(h_{t-1}, .)
        logits, attentional, weights = self._read_out(h, source)
        return logits, DecoderState(hidden, attentional if self.input_feeding else None), weights

    def _read_out(self, h: Tensor, source: EncodedSource):
        """The output of the decoders without Bahdanau attention, from the top state h_t
        (B, H) or all of them (B, N, H): (logits, the attentional state or None, weights or None)."""
        if self.attention is None:
            return self.output(h), None, None                             # W_o s_t
        context, weights = self.attention(h, source.keys, source.mask,
                                          source.projected_keys)         # query h_t
        attentional = torch.tanh(self.combine(torch.cat([context, h], -1)))   # h~_t = tanh(W_c [c_t; h_t])
        return self.output(attentional), attentional, weights             # W_s h~_t


# ---------------------------------------------------------------------------------------------
# The whole model
# ---------------------------------------------------------------------------------------------


class Seq2Seq(nn.Module):
    r"""Encoder, bridge and decoder (see the module docstring).

    ``kind``: "gru", "lstm", "rnn" (both sides); ``hidden_size`` H: the decoder's state and the
    encoder's outputs (H/2 per direction when ``bidirectional``); ``attention``: None,
    "bahdanau", "dot" or "general"; ``input_feeding`` (Luong only); ``attention_size``:
    Bahdanau's A (default H).

    - ``encode(src (B, S), src_lengths (B,)) -> (EncodedSource, DecoderState)``;
    - ``step(tokens (B,), state, source) -> (logits (B, V), state, weights (B, S) or None)``;
    - ``forward(src, src_lengths, inputs (B, N), teacher_forcing_ratio=1.0, generator=None)
      -> (logits (B, N, V), weights (B, N, S) or None)``: inputs from ``decoder_inputs``; row t
      of the logits is the distribution of the token after inputs[:, t]. Step by step (``step``),
      or, under full teacher forcing where the decoder allows it, all steps at once (``read``)."""

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, embedding_dim: int = 32,
                 hidden_size: int = 64, kind: str = "gru", num_layers: int = 1,
                 bidirectional: bool = True, attention: str | None = None,
                 input_feeding: bool = False, attention_size: int | None = None,
                 bos_id: int = BOS_ID, eos_id: int = EOS_ID, pad_id: int = PAD_ID,
                 impl: str = "fused"):
        super().__init__()
        self.bos_id, self.eos_id, self.pad_id = bos_id, eos_id, pad_id
        self.encoder = Encoder(src_vocab_size, embedding_dim, hidden_size, kind, num_layers,
                               bidirectional, impl)
        self.bridge = Bridge(hidden_size, self.encoder.num_directions, lstm=kind == "lstm")
        self.decoder = Decoder(tgt_vocab_size, embedding_dim, hidden_size, hidden_size, kind,
                               num_layers, attention, input_feeding, attention_size, impl)

    def encode(self, src: Tensor, src_lengths: Tensor) -> tuple[EncodedSource, DecoderState]:
        keys, final = self.encoder(src, src_lengths)                     # h_j: (B, S, H)
        mask = torch.arange(src.shape[1], device=src.device)[None, :] < src_lengths.to(src.device)[:, None]
        attention = self.decoder.attention
        projected = None if attention is None else attention.project_keys(keys)
        hidden = self.bridge(final)                                      # s_0: (L, B, H)
        attentional = keys.new_zeros(src.shape[0], keys.shape[-1]) if self.decoder.input_feeding else None
        return EncodedSource(keys, mask, projected), DecoderState(hidden, attentional)

    def step(self, tokens: Tensor, state: DecoderState, source: EncodedSource):
        return self.decoder.step(tokens, state, source)

    def forward(self, src: Tensor, src_lengths: Tensor, inputs: Tensor,
                teacher_forcing_ratio: float = 1.0, generator: torch.Generator | None = None):
        source, state = self.encode(src, src_lengths)
        if teacher_forcing_ratio >= 1.0 and self.decoder.reads_only_tokens:
            return self.decoder.read(inputs, state, source)                # all steps in one call
        token, all_logits, all_weights = inputs[:, 0], [], []
        for t in range(inputs.shape[1]):
            logits, state, weights = self.step(token, state, source)
            all_logits.append(logits)
            all_weights.append(weights)
            if t + 1 < inputs.shape[1]:
                token = inputs[:, t + 1]                                 # the gold y_t ...
                if teacher_forcing_ratio < 1.0:                          # ... or, with prob. 1 - r, our own
                    gold = torch.rand(token.shape, generator=generator, device=token.device)
                    token = torch.where(gold < teacher_forcing_ratio, token, logits.argmax(-1))
        weights = None if all_weights[0] is None else torch.stack(all_weights, 1)
        return torch.stack(all_logits, 1), weights


# ---------------------------------------------------------------------------------------------
# Teacher forcing
# ---------------------------------------------------------------------------------------------


def decoder_inputs(targets: Tensor, bos_id: int = BOS_ID) -> Tensor:
    """The decoder's inputs under teacher forcing: targets (B, N) = y_1 ... y_{n-1} </s> (then
    padding) shifted right behind ``<s>``: (B, N) = <s> y_1 ... y_{N-1}. Input t is the token
    before target t, so the decoder never sees the token it must predict."""
    return torch.cat([targets.new_full((targets.shape[0], 1), bos_id), targets[:, :-1]], 1)


def teacher_forced_loss(model: Seq2Seq, src: Tensor, src_lengths: Tensor, targets: Tensor,
                        teacher_forcing_ratio: float = 1.0,
                        generator: torch.Generator | None = None) -> Tensor:
    r"""Mean cross-entropy in nats per target token, padding ignored:

    .. math::
        \mathcal{L} = -\frac{1}{N} \sum_b \sum_{t \le n_b} \ln P(y_{b,t} \mid y_{b,<t}, x_b),

    N the number of non-padding targets (``</s>`` included). src (B, S), src_lengths (B,),
    targets (B, N) padded with ``model.pad_id``. Returns a scalar with a gradient."""
    logits, _ = model(src, src_lengths, decoder_inputs(targets, model.bos_id),
                      teacher_forcing_ratio, generator)
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=model.pad_id)


def sequence_log_probs(model: Seq2Seq, src: Tensor, src_lengths: Tensor, targets: Tensor) -> Tensor:
    r""":math:`\ln P(y \mid x) = \sum_{t \le n} \ln P(y_t \mid y_{<t}, x)` of each target under
    teacher forcing: src (B, S), src_lengths (B,), targets (B, N) padded with ``model.pad_id``
    (positions of padding add nothing) -> (B,)."""
    logits, _ = model(src, src_lengths, decoder_inputs(targets, model.bos_id))
    log_probs = torch.log_softmax(logits, -1)                             # (B, N, V)
    real = targets != model.pad_id
    picked = log_probs.gather(2, targets.masked_fill(~real, 0)[..., None]).squeeze(-1)
    return picked.masked_fill(~real, 0.0).sum(1)


# ---------------------------------------------------------------------------------------------
# Data: token pairs -> padded id tensors
# ---------------------------------------------------------------------------------------------


def build_vocabs(pairs: Sequence[tuple[Sequence[str], Sequence[str]]]) -> tuple[Vocab, Vocab]:
    """(source vocabulary, target vocabulary) of (source tokens, target tokens) pairs, each with
    ``<unk>`` 0, ``<s>`` 1, ``</s>`` 2, ``<pad>`` 3. For characters pass ``(list(s), list(t))``."""
    return (build_vocab([s for s, _ in pairs], pad=True), build_vocab([t for _, t in pairs], pad=True))


def encode_pairs(pairs: Sequence[tuple[Sequence[str], Sequence[str]]], src_vocab: Vocab,
                 tgt_vocab: Vocab) -> list[tuple[np.ndarray, np.ndarray]]:
    """(source ids (S_i,), target ids with ``</s>`` appended (n_i,)) for every pair."""
    return [(src_vocab.encode(list(s)), tgt_vocab.encode(list(t) + [EOS])) for s, t in pairs]


def pair_batches(pairs: Sequence[tuple[np.ndarray, np.ndarray]], batch_size: int = 64,
                 seed: int | None = 0, pad_id: int = PAD_ID,
                 device: torch.device | str | None = None) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
    """Batches of encoded pairs grouped by source length (``bucket_batches``, seeded; ``seed=None``:
    in order of length): (src (B, S_max), src_lengths (B,) on the CPU, targets (B, N_max)),
    both padded with ``pad_id``."""
    for rows in bucket_batches([len(s) for s, _ in pairs], batch_size, seed):
        src = pad_batch([pairs[i][0] for i in rows], pad_id, device=device)
        tgt = pad_batch([pairs[i][1] for i in rows], pad_id, device=device)
        yield src.data, src.lengths, tgt.data


def train_seq2seq(model: Seq2Seq, pairs: Sequence[tuple[np.ndarray, np.ndarray]], epochs: int = 10,
                  batch_size: int = 64, lr: float = 3e-3, clip_norm: float | None = 1.0,
                  teacher_forcing_ratio: float = 1.0, seed: int = 0,
                  progress: bool = True) -> list[float]:
    """Adam on ``teacher_forced_loss`` over encoded pairs (``encode_pairs``), on the model's
    device, gradients clipped to a global norm of ``clip_norm``. The batches of each epoch are
    drawn from ``seed`` and the epoch, the teacher-forcing coins from a generator seeded with
    ``seed``: the same model and arguments give the same weights. Returns the mean training
    loss of each epoch (nats per target token); the model is left in eval mode."""
    device = next(model.parameters()).device
    generator = torch.Generator(device).manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    bar = tqdm(range(epochs), desc="epochs", disable=not progress)
    for epoch in bar:
        model.train()
        total = count = 0
        for src, src_lengths, targets in pair_batches(pairs, batch_size, seed * 10_000 + epoch,
                                                      model.pad_id, device):
            loss = teacher_forced_loss(model, src, src_lengths, targets, teacher_forcing_ratio,
                                       generator)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip_norm is not None:
                nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
            optimizer.step()
            n = int((targets != model.pad_id).sum())
            total, count = total + loss.item() * n, count + n
        losses.append(total / count)
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
    model.eval()
    return losses


# ---------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------


def exact_match(predictions: Sequence[Sequence], references: Sequence[Sequence]) -> float:
    """Fraction of predictions equal to their reference, token for token (lists of token or id
    sequences, ``</s>`` left out of both)."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    return sum(list(p) == list(r) for p, r in zip(predictions, references)) / len(references)


def token_accuracy(predictions: Sequence[Sequence], references: Sequence[Sequence]) -> float:
    """Position-by-position accuracy (per character on a character task): the fraction of
    reference positions t where the prediction has the reference's token at t, summed over all
    references; a prediction shorter than its reference misses the rest, extra tokens of a
    longer one count as nothing."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    hits = sum(sum(a == b for a, b in zip(p, r)) for p, r in zip(predictions, references))
    return hits / sum(len(r) for r in references)


def exact_match_by_length(predictions: Sequence[Sequence], references: Sequence[Sequence],
                          source_lengths: Sequence[int], edges: Sequence[int]) -> dict:
    """Exact match of the examples whose source length falls in each bin [edges[i], edges[i+1]):
    ``{(low, high): (exact match, number of examples)}``, bins with no example left out."""
    lengths = np.asarray(source_lengths)
    table = {}
    for low, high in zip(edges[:-1], edges[1:]):
        rows = np.flatnonzero((lengths >= low) & (lengths < high))
        if len(rows):
            table[low, high] = (exact_match([predictions[i] for i in rows], [references[i] for i in rows]),
                                len(rows))
    return table


def corpus_bleu(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> float:
    """Corpus BLEU (0-100) of tokenised predictions against one reference each, computed by
    ``sacrebleu`` on the tokens joined by spaces (``tokenize="none"``: the tokens are the words;
    ``force=True``: the text is tokenised on purpose, so sacrebleu's warning about it is off).
    Raises ``ImportError`` with a message when sacrebleu is not installed."""
    try:
        import sacrebleu
    except ImportError as error:
        raise ImportError("corpus_bleu needs sacrebleu (pip install sacrebleu)") from error
    hypotheses = [" ".join(p) for p in predictions]
    return sacrebleu.corpus_bleu(hypotheses, [[" ".join(r) for r in references]], tokenize="none",
                                force=True).score
