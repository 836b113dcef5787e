"""Plausible wrong answers to assignment 01, one part each. The pipeline test grades each one
and asserts it loses exactly the points of ``part`` and keeps all others; ``make course``
grades the first as the demo class's "typical bug"."""

WRONG = {
    "missing </s>": {"part": "count_ngrams", "code": '''
def count_ngrams(sentences, n):
    counts = Counter()
    for sentence in sentences:
        padded = ["<s>"] * (n - 1) + list(sentence)
        for t in range(n - 1, len(padded)):
            counts[tuple(padded[t - n + 1:t + 1])] += 1
    return counts'''},
    "context off by one": {"part": "count_ngrams", "code": '''
def count_ngrams(sentences, n):
    counts = Counter()
    for sentence in sentences:
        padded = ["<s>"] * (n - 1) + list(sentence) + ["</s>"]
        for t in range(n - 1, len(padded)):
            counts[tuple(padded[t - n:t])] += 1
    return counts'''},
    "wrong normaliser (total count)": {"part": "mle_probability", "code": '''
def mle_probability(ngram_counts, context, word):
    total = sum(ngram_counts.values())
    return ngram_counts.get(tuple(context) + (word,), 0) / total'''},
    "unsmoothed zero probability": {"part": "addk_probability", "code": '''
def addk_probability(ngram_counts, context, word, k, vocab_size):
    context = tuple(context)
    total = sum(c for gram, c in ngram_counts.items() if gram[:-1] == context)
    count = ngram_counts.get(context + (word,), 0)
    if count == 0:
        return 0.0
    return (count + k) / (total + k * vocab_size)'''},
    "add-k normaliser without |V|": {"part": "addk_probability", "code": '''
def addk_probability(ngram_counts, context, word, k, vocab_size):
    context = tuple(context)
    total = sum(c for gram, c in ngram_counts.items() if gram[:-1] == context)
    return (ngram_counts.get(context + (word,), 0) + k) / (total + k)'''},
    "log base mixed up": {"part": "perplexity", "code": '''
def perplexity(prob, sentences, n):
    log2_sum, count = 0.0, 0
    for sentence in sentences:
        padded = ["<s>"] * (n - 1) + list(sentence) + ["</s>"]
        for t in range(n - 1, len(padded)):
            p = prob(tuple(padded[t - n + 1:t]), padded[t])
            if p <= 0:
                return math.inf
            log2_sum += math.log2(p)
            count += 1
    return math.exp(-log2_sum / count)'''},
    "perplexity without </s>": {"part": "perplexity", "code": '''
def perplexity(prob, sentences, n):
    log2_sum, count = 0.0, 0
    for sentence in sentences:
        padded = ["<s>"] * (n - 1) + list(sentence)
        for t in range(n - 1, len(padded)):
            p = prob(tuple(padded[t - n + 1:t]), padded[t])
            if p <= 0:
                return math.inf
            log2_sum += math.log2(p)
            count += 1
    return 2 ** (-log2_sum / count)'''},
    "greedy instead of sampling": {"part": "sample_sentence", "code": '''
def sample_sentence(next_word_distribution, n, rng, max_len=50):
    context = ("<s>",) * (n - 1)
    sentence = []
    while len(sentence) < max_len:
        dist = next_word_distribution(context)
        word = max(dist, key=dist.get)
        if word == "</s>":
            break
        sentence.append(word)
        context = (context + (word,))[1:]
    return sentence'''},
    "KN with unigram frequency": {"part": "kn_bigram_probability", "code": '''
def kn_bigram_probability(bigram_counts, prev, word, discount=0.75):
    followers = {w for (v, w), c in bigram_counts.items() if v == prev and c > 0}
    p_uni = sum(c for (v, w), c in bigram_counts.items() if w == word) / sum(bigram_counts.values())
    total = sum(c for (v, w), c in bigram_counts.items() if v == prev)
    if total == 0:
        return p_uni
    discounted = max(bigram_counts.get((prev, word), 0) - discount, 0) / total
    return discounted + discount * len(followers) / total * p_uni'''},
}
