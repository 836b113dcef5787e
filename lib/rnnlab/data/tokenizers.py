"""Word and character tokenisers: text -> list of token strings.

Tokenising decides what a "word" is, and so the vocabulary size and every perplexity: the
course uses one simple, documented rule everywhere instead of a library whose rules change.

- ``word_tokenize``: split into words (ASCII letters, digits, ``_``, with an apostrophe suffix
  as in "don't"), dotted names like "os.path", abbreviations like "e.g.", numbers like
  "3.14", and single other characters, then lowercase. No other normalisation.
- ``char_tokenize``: the characters of the text, unchanged.
- ``split_sentences``: cut a token list after each ".", "?" or "!" token.
"""

from __future__ import annotations

import re

WORD_PATTERN = re.compile(r"[a-z](?:\.[a-z])+\.|[a-z_]\w*(?:\.[a-z_]\w*)*(?:'[a-z]+)?|\d+(?:\.\d+)*|[^\s\w]",
                          re.IGNORECASE | re.ASCII)
SENTENCE_END = frozenset({".", "?", "!"})


def word_tokenize(text: str, lowercase: bool = True) -> list[str]:
    """Words of ``text``: "Don't split e.g. os.path!" -> ["don't", "split", "e.g.", "os.path", "!"].
    Letters are ASCII letters; any other non-space character (an accented letter included)
    is a token of its own."""
    tokens = WORD_PATTERN.findall(text)
    return [t.lower() for t in tokens] if lowercase else tokens


def char_tokenize(text: str) -> list[str]:
    """The characters of ``text``: "hi!" -> ["h", "i", "!"]."""
    return list(text)


def split_sentences(tokens: list[str]) -> list[list[str]]:
    """Cut ``tokens`` after each sentence-final token (kept); a trailing rest is a sentence too."""
    out, current = [], []
    for t in tokens:
        current.append(t)
        if t in SENTENCE_END:
            out.append(current)
            current = []
    if current:
        out.append(current)
    return out
