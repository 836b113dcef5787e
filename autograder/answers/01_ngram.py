"""Answers to assignment 01 written the way students write them, one part each: ``WRONG`` ones,
each of which must lose exactly the points of its ``part`` and keep all others, and ``RIGHT``
ones, written differently from the solution, each of which must pass every case of its part
(tests/test_wrong_answers.py). ``make course`` grades the first wrong one as the demo class's
"typical bug"."""

WRONG = {
    # -- count_ngrams -------------------------------------------------------------------------
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
    "n <s> instead of n-1": {"part": "count_ngrams", "code": '''
def count_ngrams(sentences, n):
    counts = Counter()
    for sentence in sentences:
        padded = ["<s>"] * n + list(sentence) + ["</s>"]
        for i in range(len(padded) - n + 1):
            counts[tuple(padded[i:i + n])] += 1
    return counts'''},
    "one <s> whatever n": {"part": "count_ngrams", "code": '''
def count_ngrams(sentences, n):
    counts = Counter()
    for sentence in sentences:
        padded = ["<s>"] + list(sentence) + ["</s>"]
        for i in range(len(padded) - n + 1):
            counts[tuple(padded[i:i + n])] += 1
    return counts'''},
    "empty sentences skipped": {"part": "count_ngrams", "code": '''
def count_ngrams(sentences, n):
    counts = Counter()
    for sentence in sentences:
        if not sentence:
            continue
        padded = ["<s>"] * (n - 1) + list(sentence) + ["</s>"]
        for t in range(n - 1, len(padded)):
            counts[tuple(padded[t - n + 1:t + 1])] += 1
    return counts'''},
    "pads the input sentences in place": {"part": "count_ngrams", "code": '''
def count_ngrams(sentences, n):
    counts = Counter()
    for sentence in sentences:
        sentence[:0] = ["<s>"] * (n - 1)
        sentence.append("</s>")
        for t in range(n - 1, len(sentence)):
            counts[tuple(sentence[t - n + 1:t + 1])] += 1
    return counts'''},
    "counts reset for every sentence": {"part": "count_ngrams", "code": '''
def count_ngrams(sentences, n):
    for sentence in sentences:
        counts = {}
        padded = ["<s>"] * (n - 1) + list(sentence) + ["</s>"]
        for t in range(n - 1, len(padded)):
            gram = tuple(padded[t - n + 1:t + 1])
            counts[gram] = counts.get(gram, 0) + 1
    return counts'''},
    "n-grams as strings": {"part": "count_ngrams", "code": '''
def count_ngrams(sentences, n):
    counts = Counter()
    for sentence in sentences:
        padded = ["<s>"] * (n - 1) + list(sentence) + ["</s>"]
        for t in range(n - 1, len(padded)):
            counts[" ".join(padded[t - n + 1:t + 1])] += 1
    return counts'''},
    "presence instead of counts": {"part": "count_ngrams", "code": '''
def count_ngrams(sentences, n):
    counts = {}
    for sentence in sentences:
        padded = ["<s>"] * (n - 1) + list(sentence) + ["</s>"]
        for t in range(n - 1, len(padded)):
            counts[tuple(padded[t - n + 1:t + 1])] = 1
    return counts'''},

    # -- mle_probability ----------------------------------------------------------------------
    "wrong normaliser (total count)": {"part": "mle_probability", "code": '''
def mle_probability(ngram_counts, context, word):
    total = sum(ngram_counts.values())
    return ngram_counts.get(tuple(context) + (word,), 0) / total'''},
    "missing n-gram looked up with []": {"part": "mle_probability", "code": '''
def mle_probability(ngram_counts, context, word):
    context = tuple(context)
    total = sum(c for gram, c in ngram_counts.items() if gram[:-1] == context)
    if total == 0:
        return 0.0
    return ngram_counts[context + (word,)] / total'''},
    "normaliser: distinct followers": {"part": "mle_probability", "code": '''
def mle_probability(ngram_counts, context, word):
    context = tuple(context)
    followers = [gram for gram in ngram_counts if gram[:-1] == context]
    if not followers:
        return 0.0
    return ngram_counts.get(context + (word,), 0) / len(followers)'''},
    "normaliser: n-grams ending with the context": {"part": "mle_probability", "code": '''
def mle_probability(ngram_counts, context, word):
    context = tuple(context)
    total = sum(c for gram, c in ngram_counts.items() if gram[1:] == context)
    if total == 0:
        return 0.0
    return ngram_counts.get(context + (word,), 0) / total'''},
    "unseen context divides by zero": {"part": "mle_probability", "code": '''
def mle_probability(ngram_counts, context, word):
    context = tuple(context)
    total = sum(c for gram, c in ngram_counts.items() if gram[:-1] == context)
    return ngram_counts.get(context + (word,), 0) / total'''},
    "rounded to 4 decimals": {"part": "mle_probability", "code": '''
def mle_probability(ngram_counts, context, word):
    context = tuple(context)
    total = sum(c for gram, c in ngram_counts.items() if gram[:-1] == context)
    if total == 0:
        return 0.0
    return round(ngram_counts.get(context + (word,), 0) / total, 4)'''},
    "context matched on its last word only": {"part": "mle_probability", "code": '''
def mle_probability(ngram_counts, context, word):
    total = sum(c for gram, c in ngram_counts.items() if gram[-2] == context[-1])
    if total == 0:
        return 0.0
    return ngram_counts.get(tuple(context) + (word,), 0) / total'''},
    "unseen context gets 1/|V|": {"part": "mle_probability", "code": '''
def mle_probability(ngram_counts, context, word):
    context = tuple(context)
    total = sum(c for gram, c in ngram_counts.items() if gram[:-1] == context)
    if total == 0:
        return 1 / len({gram[-1] for gram in ngram_counts})
    return ngram_counts.get(context + (word,), 0) / total'''},

    # -- addk_probability ---------------------------------------------------------------------
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
    "add-k normaliser without k": {"part": "addk_probability", "code": '''
def addk_probability(ngram_counts, context, word, k, vocab_size):
    context = tuple(context)
    total = sum(c for gram, c in ngram_counts.items() if gram[:-1] == context)
    return (ngram_counts.get(context + (word,), 0) + k) / (total + vocab_size)'''},
    "k in the numerator only": {"part": "addk_probability", "code": '''
def addk_probability(ngram_counts, context, word, k, vocab_size):
    context = tuple(context)
    total = sum(c for gram, c in ngram_counts.items() if gram[:-1] == context)
    return (ngram_counts.get(context + (word,), 0) + k) / max(total, 1)'''},
    "always add-1": {"part": "addk_probability", "code": '''
def addk_probability(ngram_counts, context, word, k, vocab_size):
    context = tuple(context)
    total = sum(c for gram, c in ngram_counts.items() if gram[:-1] == context)
    return (ngram_counts.get(context + (word,), 0) + 1) / (total + vocab_size)'''},
    "add-k count looked up with []": {"part": "addk_probability", "code": '''
def addk_probability(ngram_counts, context, word, k, vocab_size):
    context = tuple(context)
    total = sum(c for gram, c in ngram_counts.items() if gram[:-1] == context)
    return (ngram_counts[context + (word,)] + k) / (total + k * vocab_size)'''},
    "|V| from the counts instead of vocab_size": {"part": "addk_probability", "code": '''
def addk_probability(ngram_counts, context, word, k, vocab_size):
    context = tuple(context)
    total = sum(c for gram, c in ngram_counts.items() if gram[:-1] == context)
    V = len({gram[-1] for gram in ngram_counts})
    return (ngram_counts.get(context + (word,), 0) + k) / (total + k * V)'''},
    "add-k rounded to 4 decimals": {"part": "addk_probability", "code": '''
def addk_probability(ngram_counts, context, word, k, vocab_size):
    context = tuple(context)
    total = sum(c for gram, c in ngram_counts.items() if gram[:-1] == context)
    return round((ngram_counts.get(context + (word,), 0) + k) / (total + k * vocab_size), 4)'''},

    # -- perplexity ---------------------------------------------------------------------------
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
    "product of probabilities": {"part": "perplexity", "code": '''
def perplexity(prob, sentences, n):
    product, count = 1.0, 0
    for sentence in sentences:
        padded = ["<s>"] * (n - 1) + list(sentence) + ["</s>"]
        for t in range(n - 1, len(padded)):
            product *= prob(tuple(padded[t - n + 1:t]), padded[t])
            count += 1
    if product == 0:
        return math.inf
    return product ** (-1 / count)'''},
    "mean of the sentences' perplexities": {"part": "perplexity", "code": '''
def perplexity(prob, sentences, n):
    values = []
    for sentence in sentences:
        padded = ["<s>"] * (n - 1) + list(sentence) + ["</s>"]
        log2_sum = 0.0
        for t in range(n - 1, len(padded)):
            p = prob(tuple(padded[t - n + 1:t]), padded[t])
            if p <= 0:
                return math.inf
            log2_sum += math.log2(p)
        values.append(2 ** (-log2_sum / (len(sentence) + 1)))
    return sum(values) / len(values)'''},
    "W counts the words only": {"part": "perplexity", "code": '''
def perplexity(prob, sentences, n):
    log2_sum, words = 0.0, 0
    for sentence in sentences:
        padded = ["<s>"] * (n - 1) + list(sentence) + ["</s>"]
        for t in range(n - 1, len(padded)):
            p = prob(tuple(padded[t - n + 1:t]), padded[t])
            if p <= 0:
                return math.inf
            log2_sum += math.log2(p)
        words += len(sentence)
    return 2 ** (-log2_sum / words)'''},
    "zero probabilities skipped": {"part": "perplexity", "code": '''
def perplexity(prob, sentences, n):
    log2_sum, count = 0.0, 0
    for sentence in sentences:
        padded = ["<s>"] * (n - 1) + list(sentence) + ["</s>"]
        for t in range(n - 1, len(padded)):
            p = prob(tuple(padded[t - n + 1:t]), padded[t])
            if p > 0:
                log2_sum += math.log2(p)
                count += 1
    return 2 ** (-log2_sum / count)'''},
    "return inside the sentence loop": {"part": "perplexity", "code": '''
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
        return 2 ** (-log2_sum / count)'''},
    "the padding scored too": {"part": "perplexity", "code": '''
def perplexity(prob, sentences, n):
    log2_sum, count = 0.0, 0
    for sentence in sentences:
        padded = ["<s>"] * (n - 1) + list(sentence) + ["</s>"]
        for t in range(len(padded)):
            p = prob(tuple(padded[max(0, t - n + 1):t]), padded[t])
            if p <= 0:
                return math.inf
            log2_sum += math.log2(p)
            count += 1
    return 2 ** (-log2_sum / count)'''},
    "cross-entropy returned": {"part": "perplexity", "code": '''
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
    return -log2_sum / count'''},

    # -- sample_sentence ----------------------------------------------------------------------
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
    "one word past max_len": {"part": "sample_sentence", "code": '''
def sample_sentence(next_word_distribution, n, rng, max_len=50):
    context = ("<s>",) * (n - 1)
    sentence = []
    while len(sentence) <= max_len:
        dist = next_word_distribution(context)
        word = rng.choice(list(dist), p=list(dist.values()))
        if word == "</s>":
            break
        sentence.append(word)
        context = (context + (word,))[1:]
    return sentence'''},
    "one word short of max_len": {"part": "sample_sentence", "code": '''
def sample_sentence(next_word_distribution, n, rng, max_len=50):
    context = ("<s>",) * (n - 1)
    sentence = []
    for _ in range(max_len - 1):
        dist = next_word_distribution(context)
        word = rng.choice(list(dist), p=list(dist.values()))
        if word == "</s>":
            break
        sentence.append(word)
        context = (context + (word,))[1:]
    return sentence'''},
    "numpy's global generator": {"part": "sample_sentence", "code": '''
def sample_sentence(next_word_distribution, n, rng, max_len=50):
    context = ("<s>",) * (n - 1)
    sentence = []
    while len(sentence) < max_len:
        dist = next_word_distribution(context)
        word = np.random.choice(list(dist), p=list(dist.values()))
        if word == "</s>":
            break
        sentence.append(word)
        context = (context + (word,))[1:]
    return sentence'''},
    "a generator of its own": {"part": "sample_sentence", "code": '''
def sample_sentence(next_word_distribution, n, rng, max_len=50):
    rng = np.random.default_rng(0)
    context = ("<s>",) * (n - 1)
    sentence = []
    while len(sentence) < max_len:
        dist = next_word_distribution(context)
        word = rng.choice(list(dist), p=list(dist.values()))
        if word == "</s>":
            break
        sentence.append(word)
        context = (context + (word,))[1:]
    return sentence'''},
    "context never slid": {"part": "sample_sentence", "code": '''
def sample_sentence(next_word_distribution, n, rng, max_len=50):
    context = ("<s>",) * (n - 1)
    sentence = []
    while len(sentence) < max_len:
        dist = next_word_distribution(context)
        word = rng.choice(list(dist), p=list(dist.values()))
        if word == "</s>":
            break
        sentence.append(word)
    return sentence'''},
    "context shifted the wrong way for n=1": {"part": "sample_sentence", "code": '''
def sample_sentence(next_word_distribution, n, rng, max_len=50):
    context = ("<s>",) * (n - 1)
    sentence = []
    while len(sentence) < max_len:
        dist = next_word_distribution(context)
        word = rng.choice(list(dist), p=list(dist.values()))
        if word == "</s>":
            break
        sentence.append(word)
        context = context[1:] + (word,)
    return sentence'''},
    "words and probabilities out of step": {"part": "sample_sentence", "code": '''
def sample_sentence(next_word_distribution, n, rng, max_len=50):
    context = ("<s>",) * (n - 1)
    sentence = []
    while len(sentence) < max_len:
        dist = next_word_distribution(context)
        word = rng.choice(sorted(dist), p=list(dist.values()))
        if word == "</s>":
            break
        sentence.append(word)
        context = (context + (word,))[1:]
    return sentence'''},
    "every word equally likely": {"part": "sample_sentence", "code": '''
def sample_sentence(next_word_distribution, n, rng, max_len=50):
    context = ("<s>",) * (n - 1)
    sentence = []
    while len(sentence) < max_len:
        word = rng.choice(list(next_word_distribution(context)))
        if word == "</s>":
            break
        sentence.append(word)
        context = (context + (word,))[1:]
    return sentence'''},
    "</s> kept at the end": {"part": "sample_sentence", "code": '''
def sample_sentence(next_word_distribution, n, rng, max_len=50):
    context = ("<s>",) * (n - 1)
    sentence = []
    while len(sentence) < max_len:
        dist = next_word_distribution(context)
        word = rng.choice(list(dist), p=list(dist.values()))
        sentence.append(word)
        if word == "</s>":
            break
        context = (context + (word,))[1:]
    return sentence'''},

    # -- kn_bigram_probability ----------------------------------------------------------------
    "KN with unigram frequency": {"part": "kn_bigram_probability", "code": '''
def kn_bigram_probability(bigram_counts, prev, word, discount=0.75):
    followers = {w for (v, w), c in bigram_counts.items() if v == prev and c > 0}
    p_uni = sum(c for (v, w), c in bigram_counts.items() if w == word) / sum(bigram_counts.values())
    total = sum(c for (v, w), c in bigram_counts.items() if v == prev)
    if total == 0:
        return p_uni
    discounted = max(bigram_counts.get((prev, word), 0) - discount, 0) / total
    return discounted + discount * len(followers) / total * p_uni'''},
    "KN without lambda": {"part": "kn_bigram_probability", "code": '''
def kn_bigram_probability(bigram_counts, prev, word, discount=0.75):
    preceders = {v for (v, w), c in bigram_counts.items() if w == word and c > 0}
    p_cont = len(preceders) / len(bigram_counts)
    total = sum(c for (v, w), c in bigram_counts.items() if v == prev)
    if total == 0:
        return p_cont
    return max(bigram_counts.get((prev, word), 0) - discount, 0) / total + p_cont'''},
    "KN continuation from the words after": {"part": "kn_bigram_probability", "code": '''
def kn_bigram_probability(bigram_counts, prev, word, discount=0.75):
    followers = {w for (v, w), c in bigram_counts.items() if v == prev and c > 0}
    after_word = {w for (v, w), c in bigram_counts.items() if v == word and c > 0}
    p_cont = len(after_word) / len(bigram_counts)
    total = sum(c for (v, w), c in bigram_counts.items() if v == prev)
    if total == 0:
        return p_cont
    discounted = max(bigram_counts.get((prev, word), 0) - discount, 0) / total
    return discounted + discount * len(followers) / total * p_cont'''},
    "KN discount not clipped at 0": {"part": "kn_bigram_probability", "code": '''
def kn_bigram_probability(bigram_counts, prev, word, discount=0.75):
    followers = {w for (v, w), c in bigram_counts.items() if v == prev and c > 0}
    preceders = {v for (v, w), c in bigram_counts.items() if w == word and c > 0}
    p_cont = len(preceders) / len(bigram_counts)
    total = sum(c for (v, w), c in bigram_counts.items() if v == prev)
    if total == 0:
        return p_cont
    discounted = (bigram_counts.get((prev, word), 0) - discount) / total
    return discounted + discount * len(followers) / total * p_cont'''},
    "KN unseen context gets 0": {"part": "kn_bigram_probability", "code": '''
def kn_bigram_probability(bigram_counts, prev, word, discount=0.75):
    followers = {w for (v, w), c in bigram_counts.items() if v == prev and c > 0}
    preceders = {v for (v, w), c in bigram_counts.items() if w == word and c > 0}
    p_cont = len(preceders) / len(bigram_counts)
    total = sum(c for (v, w), c in bigram_counts.items() if v == prev)
    if total == 0:
        return 0.0
    discounted = max(bigram_counts.get((prev, word), 0) - discount, 0) / total
    return discounted + discount * len(followers) / total * p_cont'''},
    "KN count looked up with []": {"part": "kn_bigram_probability", "code": '''
def kn_bigram_probability(bigram_counts, prev, word, discount=0.75):
    followers = {w for (v, w), c in bigram_counts.items() if v == prev and c > 0}
    preceders = {v for (v, w), c in bigram_counts.items() if w == word and c > 0}
    p_cont = len(preceders) / len(bigram_counts)
    total = sum(c for (v, w), c in bigram_counts.items() if v == prev)
    if total == 0:
        return p_cont
    discounted = max(bigram_counts[(prev, word)] - discount, 0) / total
    return discounted + discount * len(followers) / total * p_cont'''},
    "KN continuation over bigram tokens": {"part": "kn_bigram_probability", "code": '''
def kn_bigram_probability(bigram_counts, prev, word, discount=0.75):
    followers = {w for (v, w), c in bigram_counts.items() if v == prev and c > 0}
    preceders = {v for (v, w), c in bigram_counts.items() if w == word and c > 0}
    p_cont = len(preceders) / sum(bigram_counts.values())
    total = sum(c for (v, w), c in bigram_counts.items() if v == prev)
    if total == 0:
        return p_cont
    discounted = max(bigram_counts.get((prev, word), 0) - discount, 0) / total
    return discounted + discount * len(followers) / total * p_cont'''},
    "KN discount fixed at 0.75": {"part": "kn_bigram_probability", "code": '''
def kn_bigram_probability(bigram_counts, prev, word, discount=0.75):
    d = 0.75
    followers = {w for (v, w), c in bigram_counts.items() if v == prev and c > 0}
    preceders = {v for (v, w), c in bigram_counts.items() if w == word and c > 0}
    p_cont = len(preceders) / len(bigram_counts)
    total = sum(c for (v, w), c in bigram_counts.items() if v == prev)
    if total == 0:
        return p_cont
    return max(bigram_counts.get((prev, word), 0) - d, 0) / total + d * len(followers) / total * p_cont'''},
    "KN lambda without N1+": {"part": "kn_bigram_probability", "code": '''
def kn_bigram_probability(bigram_counts, prev, word, discount=0.75):
    preceders = {v for (v, w), c in bigram_counts.items() if w == word and c > 0}
    p_cont = len(preceders) / len(bigram_counts)
    total = sum(c for (v, w), c in bigram_counts.items() if v == prev)
    if total == 0:
        return p_cont
    discounted = max(bigram_counts.get((prev, word), 0) - discount, 0) / total
    return discounted + discount / total * p_cont'''},
}

RIGHT = {
    # -- count_ngrams -------------------------------------------------------------------------
    "count_ngrams with zip over shifted copies": {"part": "count_ngrams", "code": '''
def count_ngrams(sentences, n):
    counts = Counter()
    for sentence in sentences:
        padded = ["<s>"] * (n - 1) + list(sentence) + ["</s>"]
        counts.update(zip(*(padded[i:] for i in range(n))))
    return counts'''},
    "count_ngrams into a plain dict": {"part": "count_ngrams", "code": '''
def count_ngrams(sentences, n):
    counts = {}
    for sentence in sentences:
        padded = ("<s>",) * (n - 1) + tuple(sentence) + ("</s>",)
        for start in range(len(padded) - n + 1):
            gram = padded[start:start + n]
            counts[gram] = counts.get(gram, 0) + 1
    return counts'''},
    "count_ngrams into a defaultdict": {"part": "count_ngrams", "code": '''
from collections import defaultdict


def count_ngrams(sentences, n):
    counts = defaultdict(int)
    for sentence in sentences:
        history = ["<s>"] * (n - 1)
        for token in list(sentence) + ["</s>"]:
            counts[tuple(history[len(history) - n + 1:] if n > 1 else []) + (token,)] += 1
            history.append(token)
    return counts'''},
    "count_ngrams in one generator expression": {"part": "count_ngrams", "code": '''
def count_ngrams(sentences, n):
    padded = (["<s>"] * (n - 1) + s + ["</s>"] for s in map(list, sentences))
    return Counter(tuple(p[i:i + n]) for p in padded for i in range(len(p) - n + 1))'''},

    # -- mle_probability ----------------------------------------------------------------------
    "mle_probability in one pass": {"part": "mle_probability", "code": '''
def mle_probability(ngram_counts, context, word):
    context, total, hits = tuple(context), 0, 0
    for gram, c in ngram_counts.items():
        if gram[:-1] == context:
            total += c
            if gram[-1] == word:
                hits += c
    return hits / total if total else 0.0'''},
    "mle_probability with numpy in float64": {"part": "mle_probability", "code": '''
def mle_probability(ngram_counts, context, word):
    context = tuple(context)
    counts = np.array([c for gram, c in ngram_counts.items() if gram[:-1] == context], dtype=np.float64)
    if counts.sum() == 0:
        return 0.0
    return np.float64(ngram_counts.get(context + (word,), 0)) / counts.sum()'''},
    "mle_probability from a table of context totals": {"part": "mle_probability", "code": '''
def mle_probability(ngram_counts, context, word):
    totals = Counter()
    for gram, c in ngram_counts.items():
        totals[gram[:-1]] += c
    key = tuple(context)
    if key not in totals:
        return 0.0
    return ngram_counts.get(key + (word,), 0) / totals[key]'''},

    # -- addk_probability ---------------------------------------------------------------------
    "addk_probability in one pass": {"part": "addk_probability", "code": '''
def addk_probability(ngram_counts, context, word, k, vocab_size):
    context, total, hits = tuple(context), 0, 0
    for gram, c in ngram_counts.items():
        if gram[:len(context)] == context and len(gram) == len(context) + 1:
            total += c
            hits += c if gram[-1] == word else 0
    return (hits + k) / (total + k * vocab_size)'''},
    "addk_probability with numpy in float64": {"part": "addk_probability", "code": '''
def addk_probability(ngram_counts, context, word, k, vocab_size):
    context = tuple(context)
    total = np.sum([c for gram, c in ngram_counts.items() if gram[:-1] == context], dtype=np.float64)
    return (ngram_counts.get(context + (word,), 0) + np.float64(k)) / (total + np.float64(k) * vocab_size)'''},
    "addk_probability through try/except": {"part": "addk_probability", "code": '''
def addk_probability(ngram_counts, context, word, k, vocab_size):
    context = tuple(context)
    try:
        count = ngram_counts[context + (word,)]
    except KeyError:
        count = 0
    total = sum(c for gram, c in ngram_counts.items() if gram[:-1] == context)
    return (count + k) / (total + k * vocab_size)'''},

    # -- perplexity ---------------------------------------------------------------------------
    "perplexity in nats": {"part": "perplexity", "code": '''
def perplexity(prob, sentences, n):
    nll, W = 0.0, 0
    for sentence in sentences:
        tokens = ["<s>"] * (n - 1) + list(sentence) + ["</s>"]
        for t in range(n - 1, len(tokens)):
            p = prob(tuple(tokens[t - n + 1:t]), tokens[t])
            if p == 0:
                return math.inf
            nll -= math.log(p)
            W += 1
    return math.exp(nll / W)'''},
    "perplexity vectorised with numpy": {"part": "perplexity", "code": '''
def perplexity(prob, sentences, n):
    probs = []
    for sentence in sentences:
        tokens = ["<s>"] * (n - 1) + list(sentence) + ["</s>"]
        probs += [prob(tuple(tokens[t - n + 1:t]), tokens[t]) for t in range(n - 1, len(tokens))]
    probs = np.array(probs, dtype=np.float64)
    if (probs == 0).any():
        return math.inf
    return np.float64(2.0) ** -np.mean(np.log2(probs))'''},
    "perplexity with math.fsum over all pairs": {"part": "perplexity", "code": '''
def perplexity(prob, sentences, n):
    pairs = []
    for sentence in sentences:
        tokens = ("<s>",) * (n - 1) + tuple(sentence) + ("</s>",)
        pairs += [(tokens[t - n + 1:t], tokens[t]) for t in range(n - 1, len(tokens))]
    probs = [prob(context, word) for context, word in pairs]
    if min(probs) <= 0:
        return float("inf")
    return 2 ** (-math.fsum(math.log2(p) for p in probs) / len(probs))'''},

    # -- sample_sentence ----------------------------------------------------------------------
    "sample_sentence with rng.choice over the words (numpy.str_)": {"part": "sample_sentence", "code": '''
def sample_sentence(next_word_distribution, n, rng, max_len=50):
    context = ("<s>",) * (n - 1)
    sentence = []
    while len(sentence) < max_len:
        dist = next_word_distribution(context)
        word = rng.choice(list(dist), p=list(dist.values()))
        if word == "</s>":
            break
        sentence.append(word)
        context = (context + (word,))[1:]
    return sentence'''},
    "sample_sentence with a uniform draw and a running sum": {"part": "sample_sentence", "code": '''
def sample_sentence(next_word_distribution, n, rng, max_len=50):
    history = ["<s>"] * (n - 1)
    sentence = []
    for _ in range(max_len):
        dist = next_word_distribution(tuple(history[len(history) - n + 1:]) if n > 1 else ())
        u, total = rng.random(), 0.0
        for word, p in dist.items():
            total += p
            if u < total:
                break
        if word == "</s>":
            break
        sentence.append(word)
        history.append(word)
    return sentence'''},
    "sample_sentence asking twice per word, drawing once more at max_len": {"part": "sample_sentence", "code": '''
def sample_sentence(next_word_distribution, n, rng, max_len=50):
    context = ("<s>",) * (n - 1)
    sentence = []
    while True:
        words = list(next_word_distribution(context))
        probs = np.array(list(next_word_distribution(context).values()))
        word = str(words[rng.choice(len(words), p=probs / probs.sum())])
        if word == "</s>" or len(sentence) == max_len:
            return sentence
        sentence.append(word)
        context = (context + (word,))[1:] if n > 1 else ()'''},
    "sample_sentence with a cumulative search": {"part": "sample_sentence", "code": '''
def sample_sentence(next_word_distribution, n, rng, max_len=50):
    context = ("<s>",) * (n - 1)
    sentence = []
    while len(sentence) < max_len:
        dist = next_word_distribution(context)
        words = list(dist)
        cumulative = np.cumsum([dist[w] for w in words])
        word = words[min(int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right")),
                         len(words) - 1)]
        if word == "</s>":
            break
        sentence.append(word)
        context = (context + (word,))[1:]
    return sentence'''},

    # -- kn_bigram_probability ----------------------------------------------------------------
    "kn_bigram_probability with Counters of neighbours": {"part": "kn_bigram_probability", "code": '''
def kn_bigram_probability(bigram_counts, prev, word, discount=0.75):
    seen = {g: c for g, c in bigram_counts.items() if c > 0}
    left_neighbours = Counter(w for (v, w) in seen)
    p_cont = left_neighbours[word] / len(seen)
    after_prev = {w: c for (v, w), c in seen.items() if v == prev}
    total = sum(after_prev.values())
    if total == 0:
        return p_cont
    lam = discount * len(after_prev) / total
    return max(after_prev.get(word, 0) - discount, 0) / total + lam * p_cont'''},
    "kn_bigram_probability in one loop": {"part": "kn_bigram_probability", "code": '''
def kn_bigram_probability(bigram_counts, prev, word, discount=0.75):
    types = preceders = followers = total = count = 0
    for (v, w), c in bigram_counts.items():
        if c <= 0:
            continue
        types += 1
        preceders += w == word
        if v == prev:
            followers += 1
            total += c
            count += c if w == word else 0
    p_cont = preceders / types
    if total == 0:
        return p_cont
    return (max(count - discount, 0) + discount * followers * p_cont) / total'''},
    "kn_bigram_probability with numpy in float64": {"part": "kn_bigram_probability", "code": '''
def kn_bigram_probability(bigram_counts, prev, word, discount=0.75):
    grams = [g for g, c in bigram_counts.items() if c > 0]
    counts = np.array([bigram_counts[g] for g in grams], dtype=np.float64)
    is_prev = np.array([g[0] == prev for g in grams])
    is_word = np.array([g[1] == word for g in grams])
    p_cont = is_word.sum() / len(grams)
    total = counts[is_prev].sum()
    if total == 0:
        return float(p_cont)
    c = counts[is_prev & is_word].sum()
    return float(max(c - discount, 0) / total + discount * is_prev.sum() / total * p_cont)'''},
}
