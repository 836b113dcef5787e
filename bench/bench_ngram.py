"""n-gram counting, fitting and scoring speed (chapter 01), side by side in one run.

Corpus: the standard library's docstrings (rnnlab.data), repeated to 1M tokens. Compared with
what a user would write instead: collections.Counter over padded trigram tuples, and nltk.lm's
fit. Three measurements, because turning strings into ids is a Python-level pass over every
token whatever the counting method:

- counting: the 1-, 2- and 3-gram counts of the encoded corpus, numpy against Counter over the
  n-gram tuples of the same ids;
- fitting from strings: NGramLM(3, "mle").fit (vocabulary, encoding, counting) against nltk.lm
  MLE's fit, which is timed on a 200k-token slice (it runs at a fixed rate per token; the ratio
  is of tokens per second);
- scoring: tokens per second of a Kneser-Ney trigram's log-probabilities on held-out text, from
  ids and from strings.

Medians of interleaved repetitions; the machine is noisy, so read the ratios.
"""

import statistics
import sys
import time
from collections import Counter

from rnnlab.data.stdlib import stdlib_docstring_corpus
from rnnlab.ngram import NGramLM, encode_corpus

REPEATS = 5


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def counter_orders(ids):
    """The same counts NGramLM stores: unigrams, bigrams and trigrams."""
    return (Counter(ids), Counter(zip(ids, ids[1:])), Counter(zip(ids, ids[1:], ids[2:])))


def nltk_fit(sentences):
    from nltk.lm import MLE
    from nltk.lm.preprocessing import padded_everygram_pipeline
    grams, vocab = padded_everygram_pipeline(3, sentences)
    MLE(3).fit(grams, vocab)


def main():
    docs = stdlib_docstring_corpus()
    sentences, tokens = [], 0
    while tokens < 1_000_000:
        for s in docs.train:
            sentences.append(list(s))
            tokens += len(s) + 1
            if tokens >= 1_000_000:
                break
    nltk_slice, n_slice = [], 0
    for s in sentences:
        if n_slice >= 200_000:
            break
        nltk_slice.append(s)
        n_slice += len(s) + 1
    model = NGramLM(3, "kn").fit(sentences)
    ids = encode_corpus(sentences, 3, model.vocab)
    id_list = ids.tolist()
    held_out = [list(s) for s in docs.test] * 10
    held_ids = encode_corpus(held_out, 3, model.vocab)
    held_tokens = sum(len(s) + 1 for s in held_out)

    times = {name: [] for name in ("count ids: rnnlab", "count ids: Counter", "fit strings: rnnlab MLE",
                                   "fit strings: rnnlab KN", "score: from ids", "score: from strings")}
    for _ in range(REPEATS):
        times["count ids: rnnlab"].append(timed(lambda: NGramLM(3, "mle").fit_encoded(ids, model.vocab)))
        times["count ids: Counter"].append(timed(lambda: counter_orders(id_list)))
        times["fit strings: rnnlab MLE"].append(timed(lambda: NGramLM(3, "mle").fit(sentences)))
        times["fit strings: rnnlab KN"].append(timed(lambda: NGramLM(3, "kn").fit(sentences)))
        times["score: from ids"].append(timed(lambda: model._probabilities(held_ids)))
        times["score: from strings"].append(timed(lambda: model.cross_entropy(held_out)))
    nltk_times = [timed(lambda: nltk_fit(nltk_slice)) for _ in range(2)]
    med = {k: statistics.median(v) for k, v in times.items()}
    nltk_rate = n_slice / statistics.median(nltk_times)

    print(f"corpus: {tokens:,} tokens (stdlib docstrings, repeated); held-out {held_tokens:,} tokens; "
          f"Python {sys.version.split()[0]}")
    for name, t in med.items():
        print(f"  {name:<26} median {t:7.3f} s")
    print(f"  {'nltk MLE fit (200k slice)':<26} median {statistics.median(nltk_times):7.3f} s")
    print(f"counting (ids, orders 1-3): Counter / rnnlab = "
          f"{med['count ids: Counter'] / med['count ids: rnnlab']:.1f}x")
    print(f"fitting from strings: rnnlab MLE / nltk tokens per second = "
          f"{tokens / med['fit strings: rnnlab MLE'] / nltk_rate:.0f}x "
          f"(Kneser-Ney: {tokens / med['fit strings: rnnlab KN'] / nltk_rate:.0f}x)")
    print(f"scoring, Kneser-Ney trigram: {held_tokens / med['score: from ids'] / 1e6:.2f}M tokens/s from ids, "
          f"{held_tokens / med['score: from strings'] / 1e6:.2f}M tokens/s from strings")


if __name__ == "__main__":
    main()
