"""Corpora from the Python standard library (rnnlab.data.stdlib). Sizes are kept small here;
the full 300k-token corpus takes a few seconds to build."""

from __future__ import annotations

import platform

from rnnlab.data import stdlib_docstring_corpus, stdlib_source_text
from rnnlab.data.stdlib import docstring_sentences, stdlib_files


def test_file_selection_is_sorted_and_skips_test_suites():
    files = stdlib_files()
    assert list(files) == sorted(files) and len(files) > 300
    assert "os.py" in files and "json/decoder.py" in files
    assert not any(part in ("test", "tests", "site-packages") for f in files for part in f.split("/")[:-1])


def test_docstrings_are_tokenised_lowercased_sentences_without_doctests():
    sents = docstring_sentences("json/__init__.py")
    flat = [t for s in sents for t in s]
    assert len(flat) > 200
    assert all(t == t.lower() for t in flat)
    assert flat[:3] == ["json", "(", "javascript"]
    assert not any(flat[i:i + 3] == [">", ">", ">"] for i in range(len(flat)))  # no doctest line
    assert sum(s[-1] == "." for s in sents) > len(sents) / 2


def test_docstring_corpus_is_deterministic_and_split_by_file():
    a = stdlib_docstring_corpus(seed=0, max_tokens=30_000)
    b = stdlib_docstring_corpus(seed=0, max_tokens=30_000)
    c = stdlib_docstring_corpus(seed=1, max_tokens=30_000)
    assert (a.train, a.valid, a.test) == (b.train, b.valid, b.test)
    assert a.files != c.files
    total = sum(a.num_tokens(s) for s in ("train", "valid", "test"))
    assert 30_000 <= total < 60_000
    assert a.num_tokens("train") > 0.6 * total
    assert not set(a.files["train"]) & (set(a.files["valid"]) | set(a.files["test"]))
    assert a.python_version == platform.python_version()


def test_source_text_is_ascii_code_of_about_the_asked_size():
    text = stdlib_source_text(max_chars=200_000)
    assert 200_000 <= len(text) < 400_000  # whole files, the last one crosses the limit
    assert text.isascii() and "def " in text and "import " in text
    assert text == stdlib_source_text(max_chars=200_000)
