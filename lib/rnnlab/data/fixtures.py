"""The small hand examples of the lecture notes, as named fixtures.

Each is small enough to compute by hand on the board, and the notebooks, tests and graders
use these exact objects so that every number matches the lecture:

- ``hello()``: the character-level RNN example: vocabulary h, e, l, o; the network reads
  "hell" and must predict "ello", one character ahead (Karpathy, "The unreasonable
  effectiveness of recurrent neural networks", 2015);
- ``CAT_SENTENCE``: "the cat sat on the mat", the running n-gram example;
- ``STUDENTS_PREFIX`` and ``STUDENTS_CONTINUATIONS``: "the students opened their ...", the
  language-modelling prompt whose plausible next words (books, laptops, exams, minds) need
  the word *students*, four words back, to be predicted well.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CAT_SENTENCE = ("the", "cat", "sat", "on", "the", "mat")
STUDENTS_PREFIX = ("the", "students", "opened", "their")
STUDENTS_CONTINUATIONS = ("books", "laptops", "exams", "minds")


@dataclass(frozen=True)
class CharExample:
    """A character sequence prepared for next-character prediction.

    ``chars``: the vocabulary (index = id); ``text``: the sequence;
    ``inputs``/``targets``: ids, shape (T,) with T = len(text) - 1, targets[t] = inputs[t+1];
    ``one_hot``: the inputs one-hot encoded, shape (T, len(chars)), float64.
    """

    text: str
    chars: tuple
    inputs: np.ndarray
    targets: np.ndarray

    @property
    def one_hot(self) -> np.ndarray:
        return np.eye(len(self.chars))[self.inputs]


def char_example(text: str, chars: tuple | None = None) -> CharExample:
    """``text`` as a next-character prediction example; ``chars`` defaults to the characters of
    ``text`` in order of first appearance."""
    chars = tuple(dict.fromkeys(text)) if chars is None else tuple(chars)
    ids = np.array([chars.index(c) for c in text], dtype=np.int64)
    return CharExample(text, chars, ids[:-1], ids[1:])


def hello() -> CharExample:
    """The "hello" example: chars ('h', 'e', 'l', 'o'), inputs "hell" = [0, 1, 2, 2],
    targets "ello" = [1, 2, 2, 3]."""
    return char_example("hello", ("h", "e", "l", "o"))
