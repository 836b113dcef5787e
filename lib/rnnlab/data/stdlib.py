"""Real text that every Python installation ships: the standard library's docstrings (word
level, English prose) and its source code (character level, for the "generated code" demo).

No download, no licence question (the Python Software Foundation licence), and every student
has the same files. But not byte for byte: the standard library changes between Python
versions, so **the exact text, the vocabulary and every number computed on it vary slightly
with the Python version** (``python_version`` is recorded with each corpus; compare numbers
only across the same version).

Selection is deterministic: every ``.py`` file under the standard library folder
(``sysconfig.get_paths()["stdlib"]``), except test suites (``test``, ``tests``,
``idle_test``) and installed packages (``site-packages``, ``dist-packages``), in sorted
order of their relative paths. Docstrings are read with ``ast`` (module, class and function
docstrings, ``inspect.cleandoc``-ed), never by importing the modules.
"""

from __future__ import annotations

import ast
import os
import platform
import sysconfig
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .tokenizers import split_sentences, word_tokenize

EXCLUDED_FOLDERS = frozenset({"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__"})
DOCTEST_PREFIXES = (">>>", "...")


def stdlib_folder() -> Path:
    """The folder of this Python's standard library."""
    return Path(sysconfig.get_paths()["stdlib"])


@lru_cache(maxsize=1)
def stdlib_files() -> tuple[str, ...]:
    """Relative paths (``/``-separated) of the selected ``.py`` files, sorted."""
    root = stdlib_folder()
    found = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = [d for d in subfolders if d not in EXCLUDED_FOLDERS]
        rel = Path(folder).relative_to(root)
        found += [(rel / f).as_posix() for f in files if f.endswith(".py")]
    return tuple(sorted(found))


def _read(relpath: str) -> str:
    return (stdlib_folder() / relpath).read_text(encoding="utf-8", errors="replace")


@lru_cache(maxsize=None)
def docstring_sentences(relpath: str) -> tuple[tuple[str, ...], ...]:
    """Tokenised sentences of the docstrings of one standard-library file.

    Each docstring is cut into paragraphs at blank lines; doctest lines (``>>>``, ``...``)
    are dropped; each paragraph is tokenised by ``word_tokenize`` (lowercased) and cut into
    sentences after ".", "?" and "!"."""
    try:
        tree = ast.parse(_read(relpath))
    except (SyntaxError, ValueError):  # a file written for another version: skip it
        return ()
    out: list[tuple[str, ...]] = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        doc = ast.get_docstring(node, clean=True)
        if not doc:
            continue
        for paragraph in doc.split("\n\n"):
            lines = [ln for ln in paragraph.splitlines() if not ln.strip().startswith(DOCTEST_PREFIXES)]
            out += [tuple(s) for s in split_sentences(word_tokenize(" ".join(lines)))]
    return tuple(out)


@dataclass
class TextCorpus:
    """Train/valid/test lists of token lists (sentences), with where they came from."""

    train: list
    valid: list
    test: list
    files: dict          # split -> list of source files
    python_version: str

    def num_tokens(self, split: str) -> int:
        """Tokens of a split, without ``</s>``."""
        return sum(len(s) for s in getattr(self, split))

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={self.num_tokens(k)} tokens" for k in ("train", "valid", "test"))
        return f"TextCorpus({sizes}, Python {self.python_version})"


def stdlib_docstring_corpus(seed: int = 0, max_tokens: int = 300_000,
                            fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> TextCorpus:
    """Docstring sentences of the standard library, about ``max_tokens`` tokens in all.

    The sorted file list is shuffled with ``seed``; files are taken in that order until
    ``max_tokens`` is reached, and split *by file* (no file is in two splits): the first
    ``fractions[0]`` of the tokens go to train, the next ``fractions[1]`` to valid, the rest to
    test. Same seed and Python version, same corpus."""
    files = stdlib_files()
    order = np.random.default_rng(seed).permutation(len(files))
    chosen: list[tuple[str, tuple]] = []
    total = 0
    for i in order:
        sents = docstring_sentences(files[i])
        if sents:
            chosen.append((files[i], sents))
            total += sum(len(s) for s in sents)
            if total >= max_tokens:
                break
    bounds = np.cumsum(fractions)[:2] * total
    splits: dict[str, list] = {"train": [], "valid": [], "test": []}
    names: dict[str, list] = {"train": [], "valid": [], "test": []}
    seen = 0
    for path, sents in chosen:
        split = "train" if seen < bounds[0] else "valid" if seen < bounds[1] else "test"
        splits[split] += [list(s) for s in sents]
        names[split].append(path)
        seen += sum(len(s) for s in sents)
    return TextCorpus(splits["train"], splits["valid"], splits["test"], names, platform.python_version())


def stdlib_source_text(max_chars: int = 1_000_000, ascii_only: bool = True) -> str:
    """Source code of the standard library as one string of about ``max_chars`` characters
    (whole files, in sorted order, separated by a blank line): the character-level corpus.
    ``ascii_only`` skips files with any non-ASCII character, keeping the alphabet under 100."""
    parts, total = [], 0
    for relpath in stdlib_files():
        text = _read(relpath)
        if not text.strip() or (ascii_only and not text.isascii()):
            continue
        parts.append(text)
        total += len(text) + 1
        if total >= max_chars:
            break
    return "\n".join(parts)
