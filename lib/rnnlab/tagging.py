r"""Sequence labelling over padded batches: tagging (one label per token, many-to-many aligned)
and sequence classification (one label per sequence, many-to-one), the masked loss and
accuracy both are trained and measured with, and, on Toy English, the baselines and exact
ceilings a tagger is compared with (chapter 06).

Padding is never counted: with :math:`m_{b,t} = [t < \mathrm{len}_b]` and N the number of real
tokens,

.. math::
    \mathcal{L} = -\frac{1}{N} \sum_{b,t} m_{b,t} \ln \mathrm{softmax}(z_{b,t})_{y_{b,t}}, \qquad
    \mathrm{acc} = \frac{1}{N} \sum_{b,t} m_{b,t} [\arg\max z_{b,t} = y_{b,t}].

Toy English knows the answer exactly. Its automaton (``rnnlab.data.automaton``) gives, for every
prefix, the distribution of the tag of the word just read, :math:`P(\mathrm{tag}_t \mid w_1 \dots
w_t)`: its arg max is the best *left-to-right* tagger there can be, the ceiling of a
unidirectional RNN tagger; Viterbi over the whole sentence (``ToyEnglish.parse``) is the
ceiling of any tagger. A homograph's tag is *open* at position t when the words up to t leave
two tags possible ("the dog that guards ..." goes on "like smiles" (NOUN) or "the judge smiles" (VERB)):
only the words to the right decide. ``TAGGING_CONFIG`` is a variant of the grammar with more
relative clauses and bare plurals than the default, so that such positions are common enough
to measure.

Models are called ``model(tokens (B, T), lengths (B,)) -> logits``, (B, T, C) for a tagger and
(B, C) for a classifier (``rnnlab.models``: ``RNNTagger``, ``RNNClassifier``,
``BagOfEmbeddings``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from .bidirectional import length_mask
from .data.batching import bucket_batches, build_vocab, pad_batch
from .data.synthetic import SyntheticCorpus, synthetic_corpus
from .data.toy_english import UPOS_TAGS, ToyEnglish, ToyEnglishConfig
from .vocab import Vocab

TAG_IDS = {tag: i for i, tag in enumerate(UPOS_TAGS)}   # Toy English's tags, alphabetical

#: Toy English with three words per class (so that most nouns and verbs are homographs), more
#: relative clauses and more bare plurals: the variant chapter 06 tags.
TAGGING_CONFIG = ToyEnglishConfig(words_per_class=3, p_plural=0.4, p_bare_plural=0.7,
                                  p_subject_rc=0.6, p_subject_pp=0.1, p_other_rc=0.3,
                                  p_other_pp=0.05, p_object_relative=0.5)


def tagging_corpus(size: str | tuple[int, int, int] = (2000, 200, 2000), seed: int = 0) -> SyntheticCorpus:
    """Train/valid/test samples of Toy English with ``TAGGING_CONFIG`` (``synthetic_corpus``)."""
    return synthetic_corpus(size, seed, TAGGING_CONFIG)


# ---------------------------------------------------------------------------------------------
# Masked loss and accuracy
# ---------------------------------------------------------------------------------------------

def masked_token_loss(logits: Tensor, tags: Tensor, lengths: Tensor) -> Tensor:
    """Mean cross-entropy (nats per token) over the real tokens only.

    logits (B, T, C); tags (B, T) int64 (any values past each sequence's end); lengths (B,).
    Returns a 0-d tensor with its gradient; the padding gets none."""
    mask = length_mask(lengths.to(logits.device), logits.shape[1])   # (B, T): m_bt = [t < len_b]
    return F.cross_entropy(logits[mask], tags[mask])                 # mean over the N real tokens


def masked_accuracy(logits: Tensor, tags: Tensor, lengths: Tensor) -> float:
    """The fraction of real tokens whose arg max logit is their tag, in [0, 1].

    logits (B, T, C); tags (B, T) int64 (any values past each sequence's end); lengths (B,)."""
    mask = length_mask(lengths.to(logits.device), logits.shape[1])
    right = logits.argmax(-1) == tags                                # (B, T)
    return right[mask].double().mean().item()                       # over the real tokens only


# ---------------------------------------------------------------------------------------------
# Data: token and tag ids, padded
# ---------------------------------------------------------------------------------------------

@dataclass
class LabelledBatch:
    """Sequences padded on the right, with their labels.

    ``tokens`` (N, T) int64 token ids, 0 past each end; ``lengths`` (N,) int64;
    ``labels``: (N, T) int64 tag ids (0 past each end) for tagging, or (N,) for classification."""

    tokens: Tensor
    lengths: Tensor
    labels: Tensor

    def __len__(self) -> int:
        return len(self.lengths)


def encode_tagged(pairs: Sequence[tuple[Sequence[str], Sequence[str]]], vocab: Vocab,
                  tag_ids: dict[str, int] = TAG_IDS) -> LabelledBatch:
    """(tokens, tags) pairs as a ``LabelledBatch`` of token and tag ids (unknown words: ``<unk>``)."""
    tokens = pad_batch([vocab.encode(list(words)) for words, _ in pairs])
    tags = pad_batch([np.array([tag_ids[t] for t in tags], dtype=np.int64) for _, tags in pairs])
    return LabelledBatch(tokens.data, tokens.lengths, tags.data)


def encode_labelled(pairs: Sequence[tuple[Sequence[str], int]], vocab: Vocab) -> LabelledBatch:
    """(tokens, label) pairs as a ``LabelledBatch`` with one label per sequence, (N,)."""
    tokens = pad_batch([vocab.encode(list(words)) for words, _ in pairs])
    return LabelledBatch(tokens.data, tokens.lengths, torch.tensor([int(y) for _, y in pairs]))


# ---------------------------------------------------------------------------------------------
# Training and prediction
# ---------------------------------------------------------------------------------------------

def fit_labeller(model: nn.Module, data: LabelledBatch, epochs: int = 3, batch_size: int = 32,
                 lr: float = 1e-2, seed: int = 0, progress: bool = True) -> list[float]:
    """Train a tagger (labels (N, T): ``masked_token_loss``) or a classifier (labels (N,):
    cross-entropy) with Adam, on batches of sequences of similar length (``bucket_batches``,
    shuffled with ``seed`` + epoch), each cut to its longest sequence. Returns the mean training
    loss of every epoch (nats). The model is left in eval mode."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    per_token = data.labels.dim() == 2
    history = []
    for epoch in tqdm(range(epochs), desc="epochs", disable=not progress, leave=False):
        model.train()
        total, count = 0.0, 0
        for rows in bucket_batches(data.lengths.tolist(), batch_size, seed + epoch):
            rows = torch.as_tensor(rows)
            lengths = data.lengths[rows]
            T = int(lengths.max())
            logits = model(data.tokens[rows, :T], lengths)
            if per_token:
                loss = masked_token_loss(logits, data.labels[rows, :T], lengths)
            else:
                loss = F.cross_entropy(logits, data.labels[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total, count = total + loss.item() * len(rows), count + len(rows)
        history.append(total / count)
    model.eval()
    return history


@torch.no_grad()
def predict_labels(model: nn.Module, data: LabelledBatch, batch_size: int = 256) -> Tensor:
    """The arg max label of every token (N, T), or of every sequence (N,), in eval mode."""
    model.eval()
    out = []
    for start in range(0, len(data), batch_size):
        rows = slice(start, start + batch_size)
        lengths = data.lengths[rows]
        out.append(model(data.tokens[rows, :int(lengths.max())], lengths).argmax(-1))
    if data.labels.dim() == 1:
        return torch.cat(out)
    T = data.tokens.shape[1]
    return torch.cat([F.pad(o, (0, T - o.shape[1])) for o in out])


# ---------------------------------------------------------------------------------------------
# Toy English: homographs, what the left context decides, the baselines and the ceilings
# ---------------------------------------------------------------------------------------------

def homographs(language: ToyEnglish) -> dict[str, tuple[str, ...]]:
    """The words of the lexicon that have more than one tag, with their tags."""
    tags = defaultdict(set)
    for pre in language.preterminals.values():
        for word, _ in pre.words:
            tags[word].add(pre.tag)
    return {w: tuple(sorted(t)) for w, t in tags.items() if len(t) > 1}


def left_to_right_tag_posteriors(language: ToyEnglish, tokens: Sequence[str]) -> list[dict[str, float]]:
    r"""For every position t, :math:`P(\mathrm{tag}_t \mid w_1 \dots w_t)` as {tag: probability}
    (tags of probability 0 left out), by the forward algorithm of the automaton: with
    :math:`\alpha_t(s)` the distribution of the state before :math:`w_t` and E the emissions,

    .. math::
        P(\mathrm{tag}_t = \tau \mid w_{\le t}) \propto \sum_{s:\, \mathrm{tag}(\mathrm{top}(s)) = \tau}
        \alpha_t(s) \, E[\mathrm{top}(s), w_t].

    ``tokens`` must be a sentence (or prefix) of the language."""
    pfa = language.automaton
    tag_of = [language.preterminals[name].tag for name in pfa.preterminal_names]
    belief, out = pfa.initial(), []
    for word in tokens:
        w = language.vocab[word]
        joint: Counter = Counter()
        for state, alpha in belief.items():
            top = pfa.state_top[state]
            if top != pfa.END and pfa.emission[top, w] > 0:
                joint[tag_of[top]] += alpha * pfa.emission[top, w]
        total = sum(joint.values())
        if total <= 0:
            raise ValueError(f"{' '.join(tokens)!r} is not a sentence of this language")
        out.append({tag: p / total for tag, p in joint.items()})
        belief, _ = pfa.advance(belief, w)
    return out


def open_positions(language: ToyEnglish, tokens: Sequence[str]) -> list[bool]:
    """For every position, whether the words up to it leave its tag open (two or more tags
    possible): the homographs that only the words to the right decide."""
    return [len(p) > 1 for p in left_to_right_tag_posteriors(language, tokens)]


def best_left_to_right_tags(language: ToyEnglish, tokens: Sequence[str]) -> list[str]:
    r"""The most probable tag of each word given the words up to it,
    :math:`\arg\max_\tau P(\mathrm{tag}_t = \tau \mid w_{\le t})`: the best any left-to-right
    (unidirectional) tagger can do."""
    return [max(p, key=p.get) for p in left_to_right_tag_posteriors(language, tokens)]


def viterbi_tags(language: ToyEnglish, tokens: Sequence[str]) -> list[str]:
    """The tags of the most probable derivation of the whole sentence (Viterbi on the
    automaton): the ceiling of any tagger."""
    return language.parse(tokens).tags


class MostFrequentTag:
    """The baseline: every word gets the tag it has most often in the training data (ties:
    the alphabetically first); unknown words the most frequent tag overall."""

    def __init__(self, pairs: Sequence[tuple[Sequence[str], Sequence[str]]]):
        counts: dict[str, Counter] = defaultdict(Counter)
        for words, tags in pairs:
            for w, t in zip(words, tags):
                counts[w][t] += 1
        best = lambda c: min(c, key=lambda t: (-c[t], t))   # noqa: E731
        self.tag_of = {w: best(c) for w, c in counts.items()}
        self.default = best(sum(counts.values(), Counter()))

    def __call__(self, words: Sequence[str]) -> list[str]:
        return [self.tag_of.get(w, self.default) for w in words]


@dataclass
class TaggingScore:
    """Accuracies (in [0, 1]) of a tagger on some sentences: on all tokens, on the homographs
    and on the homographs whose tag the left context leaves open; ``counts`` of each."""

    overall: float
    homographs: float
    open: float
    counts: tuple[int, int, int]


def tagging_score(predicted: Sequence[Sequence[str]], sentences: Sequence, language: ToyEnglish) -> TaggingScore:
    """``predicted`` tags (one list per sentence) against the tags of Toy English ``sentences``
    (``rnnlab.data.Sentence``), overall, on the homographs and on the open positions."""
    words_with_tags = homographs(language)
    hits = {"all": [], "homographs": [], "open": []}
    for tags, sentence, open_ in zip(predicted, sentences, (open_positions(language, s.tokens) for s in sentences)):
        for word, guess, gold, is_open in zip(sentence.tokens, tags, sentence.tags, open_):
            hits["all"].append(guess == gold)
            if word in words_with_tags:
                hits["homographs"].append(guess == gold)
            if is_open:
                hits["open"].append(guess == gold)
    mean = lambda x: float(np.mean(x)) if x else float("nan")   # noqa: E731
    return TaggingScore(mean(hits["all"]), mean(hits["homographs"]), mean(hits["open"]),
                        tuple(len(hits[k]) for k in ("all", "homographs", "open")))


def tag_names(ids: Tensor, lengths: Tensor, tags: Sequence[str] = UPOS_TAGS) -> list[list[str]]:
    """Predicted tag ids (N, T) as lists of tag names, each cut to its sequence's length."""
    return [[tags[int(i)] for i in row[:n]] for row, n in zip(ids, lengths.tolist())]


# ---------------------------------------------------------------------------------------------
# A real treebank
# ---------------------------------------------------------------------------------------------

def tag_a_corpus(train: Sequence[tuple[list[str], list[str]]], test: Sequence[tuple[list[str], list[str]]],
                 model_factory, min_freq: int = 2, epochs: int = 2, lr: float = 5e-3,
                 seed: int = 0, progress: bool = True) -> dict[str, float]:
    """Token accuracy on ``test`` of the most-frequent-tag baseline and of a neural tagger trained
    on ``train`` (both lists of (words, tags), e.g. ``rnnlab.data.load_ud_ewt``). The vocabulary
    keeps the training words seen ``min_freq`` times (others are ``<unk>``); the tag set is the
    training data's. ``model_factory(vocab_size, num_tags)`` builds the tagger (seeded with
    ``seed`` first). Returns {"most frequent tag": ..., "neural": ...}."""
    vocab = build_vocab([w for w, _ in train], min_freq=min_freq)
    tag_ids = {t: i for i, t in enumerate(sorted({t for _, tags in train for t in tags}))}
    known = [(w, t) for w, t in test if all(tag in tag_ids for tag in t)]
    baseline = MostFrequentTag(train)
    right = [g == p for w, t in known for g, p in zip(t, baseline(w))]
    torch.manual_seed(seed)
    model = model_factory(len(vocab), len(tag_ids))
    fit_labeller(model, encode_tagged(train, vocab, tag_ids), epochs=epochs, lr=lr, seed=seed,
                 progress=progress)
    test_data = encode_tagged(known, vocab, tag_ids)
    right_tags = predict_labels(model, test_data) == test_data.labels                 # (N, T)
    neural = right_tags[length_mask(test_data.lengths, test_data.tokens.shape[1])].double().mean().item()
    return {"most frequent tag": float(np.mean(right)), "neural": neural}
