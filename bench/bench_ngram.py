"""n-gram counting and scoring speed (chapter 01), side by side in one run.

Corpus: the standard library's docstrings (rnnlab.data), repeated to 1M tokens. Ratios compare
rnnlab.ngram with what a user would write instead: collections.Counter over padded trigram
tuples, and nltk.lm's fit. nltk is timed on a 200k-token slice (its fit runs at a fixed rate per
token; the ratio is of tokens per second). Medians of 5 interleaved repetitions.
"""

import statistics
import sys
import time
from collections import Counter

from rnnlab.data.stdlib import stdlib_docstring_corpus
from rnnlab.ngram import NGramLM

REPEATS = 5


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def counter_trigrams(sentences):
    counts = Counter()
    for s in sentences:
        padded = ["<s>", "<s>"] + s + ["</s>"]
        counts.update(zip(padded, padded[1:], padded[2:]))
    return counts


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
    test = docs.test
    test_tokens = sum(len(s) + 1 for s in test)
    model = NGramLM(3, "kn").fit(sentences)

    times = {"rnnlab count (MLE fit, 3 orders)": [], "Counter trigrams": [],
             "rnnlab KN fit": [], "rnnlab KN score": [], "nltk MLE fit (200k)": []}
    for _ in range(REPEATS):
        times["rnnlab count (MLE fit, 3 orders)"].append(timed(lambda: NGramLM(3, "mle").fit(sentences)))
        times["Counter trigrams"].append(timed(lambda: counter_trigrams(sentences)))
        times["rnnlab KN fit"].append(timed(lambda: NGramLM(3, "kn").fit(sentences)))
        times["rnnlab KN score"].append(timed(lambda: model.cross_entropy(test * 10)))
    if "nltk" in sys.modules or __import__("importlib").util.find_spec("nltk"):
        for _ in range(2):
            times["nltk MLE fit (200k)"].append(timed(lambda: nltk_fit(nltk_slice)))
    med = {k: statistics.median(v) for k, v in times.items() if v}

    print(f"corpus: {tokens:,} tokens (stdlib docstrings, repeated), Python {sys.version.split()[0]}")
    for name, t in med.items():
        print(f"  {name:<34} median {t:8.3f} s")
    ours = med["rnnlab count (MLE fit, 3 orders)"]
    print(f"counting: Counter / rnnlab = {med['Counter trigrams'] / ours:.1f}x "
          "(rnnlab counts orders 1-3 and encodes the vocabulary; Counter only trigrams)")
    if "nltk MLE fit (200k)" in med:
        nltk_rate = n_slice / med["nltk MLE fit (200k)"]
        print(f"fitting: rnnlab tokens/s / nltk tokens/s = {tokens / ours / nltk_rate:.0f}x")
    print(f"scoring (KN trigram): {10 * test_tokens / med['rnnlab KN score'] / 1e6:.2f}M tokens/s")


if __name__ == "__main__":
    main()
