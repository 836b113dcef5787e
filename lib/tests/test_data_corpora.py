"""Real-corpus loaders: offline mirror, cache, checksums and clear errors (rnnlab.data.corpora).

No test touches the network: ``urlopen`` is replaced by a function that fails, for every test.
The mirror tests use ``../shared/data`` next to the repository (the project's development
machines have one) and are skipped where it is absent."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from rnnlab.data import (FILES, ChecksumError, DataUnavailableError, corpora, load_ptb,
                         load_tiny_shakespeare, load_ud_ewt, load_wikitext2)

MIRROR = Path(__file__).resolve().parents[2].parent / "shared" / "data"
needs_mirror = pytest.mark.skipif(not (MIRROR / "tinyshakespeare" / "input.txt").is_file(),
                                  reason=f"no offline corpus mirror at {MIRROR}")


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No network, an empty cache, no mirror unless a test sets one."""
    def no_network(*args, **kwargs):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("RNNLAB_DATA", raising=False)


@needs_mirror
def test_tiny_shakespeare_from_the_mirror(monkeypatch):
    monkeypatch.setenv("RNNLAB_DATA", str(MIRROR))
    text = load_tiny_shakespeare()
    assert len(text) == 1_115_394 and len(set(text)) == 65
    assert text.startswith("First Citizen:")


@needs_mirror
def test_wikitext2_valid_and_test_from_the_mirror(monkeypatch):
    if not (MIRROR / "wikitext-2" / "valid.txt").is_file():
        pytest.skip("the mirror has no WikiText-2")
    monkeypatch.setenv("RNNLAB_DATA", str(MIRROR))
    valid = load_wikitext2("valid")
    assert (len(valid), sum(map(len, valid))) == (2461, 213_886)
    assert valid[0] == ["=", "Homarus", "gammarus", "="]
    assert len(load_wikitext2("test")) > 2000
    with pytest.raises(ValueError, match="split"):
        load_wikitext2("dev")


@needs_mirror
def test_a_corrupt_mirror_file_raises_a_checksum_error(monkeypatch, tmp_path):
    bad = tmp_path / "mirror" / "tinyshakespeare" / "input.txt"
    bad.parent.mkdir(parents=True)
    bad.write_bytes((MIRROR / "tinyshakespeare" / "input.txt").read_bytes()[:-1])
    monkeypatch.setenv("RNNLAB_DATA", str(tmp_path / "mirror"))
    with pytest.raises(ChecksumError) as err:
        load_tiny_shakespeare()
    message = str(err.value)
    assert str(bad) in message and FILES["tinyshakespeare"].sha256 in message
    assert FILES["tinyshakespeare"].url in message


def test_a_missing_file_without_network_says_what_to_download_and_where(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNLAB_DATA", str(tmp_path / "empty-mirror"))
    with pytest.raises(DataUnavailableError) as err:
        load_wikitext2("train")
    message = str(err.value)
    spec = FILES["wikitext2/train"]
    assert spec.url in message
    assert str(tmp_path / "empty-mirror" / spec.relpath) in message
    assert str(tmp_path / "cache" / spec.relpath) in message
    assert not (tmp_path / "cache" / spec.relpath).exists()  # nothing half-written


def test_a_download_is_verified_and_cached(monkeypatch, tmp_path):
    payload = b"hello corpus\n"
    calls = []

    def fake_download(url, target):
        calls.append(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(payload)

    monkeypatch.setattr(corpora, "_download", fake_download)
    monkeypatch.setitem(corpora.FILES, "tinyshakespeare",
                        corpora.RemoteFile("tinyshakespeare/input.txt", "https://example.org/t.txt",
                                           corpora.hashlib.sha256(payload).hexdigest()))
    assert load_tiny_shakespeare() == "hello corpus\n"
    assert load_tiny_shakespeare() == "hello corpus\n"
    assert calls == ["https://example.org/t.txt"]  # the second call came from the cache
    assert (tmp_path / "cache" / "tinyshakespeare" / "input.txt").is_file()

    monkeypatch.setitem(corpora.FILES, "wikitext2/valid",
                        corpora.RemoteFile("wikitext-2/valid.txt", "https://example.org/v.txt", "0" * 64))
    with pytest.raises(ChecksumError, match="expected 0000"):
        load_wikitext2("valid")


def test_every_file_has_a_pinned_sha256():
    for name, spec in FILES.items():
        assert re.fullmatch("[0-9a-f]{64}", spec.sha256), name


def test_ptb_and_conllu_parsers_read_a_mirror(monkeypatch, tmp_path):
    """The PTB and UD files are not on the course machines: the parsers are tested on small
    files in their formats, registered with their own hashes."""
    mirror = tmp_path / "mirror"
    (mirror / "ptb").mkdir(parents=True)
    ptb = mirror / "ptb" / "ptb.valid.txt"
    ptb.write_text(" the cat sat on the <unk> \n\n a dog N \n")
    conllu = mirror / "ud-english-ewt" / "en_ewt-ud-dev.conllu"
    conllu.parent.mkdir(parents=True)
    conllu.write_text("# sent_id = 1\n# text = I don't.\n1\tI\tI\tPRON\t_\t_\t3\tnsubj\t_\t_\n"
                      "2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_\n2\tdo\tdo\tAUX\t_\t_\t3\taux\t_\t_\n"
                      "3\tn't\tnot\tPART\t_\t_\t0\troot\t_\t_\n3.1\tx\tx\tX\t_\t_\t_\t_\t_\t_\n"
                      "4\t.\t.\tPUNCT\t_\t_\t3\tpunct\t_\t_\n\n"
                      "1\tOK\tok\tINTJ\t_\t_\t0\troot\t_\t_\n")
    for key, path in (("ptb/valid", ptb), ("ud_ewt/dev", conllu)):
        spec = FILES[key]
        monkeypatch.setitem(corpora.FILES, key,
                            corpora.RemoteFile(spec.relpath, spec.url, corpora.sha256_of(path)))
    monkeypatch.setenv("RNNLAB_DATA", str(mirror))
    assert load_ptb("valid") == [["the", "cat", "sat", "on", "the", "<unk>"], ["a", "dog", "N"]]
    sentences = load_ud_ewt("valid")
    assert sentences == [(["I", "do", "n't", "."], ["PRON", "AUX", "PART", "PUNCT"]), (["OK"], ["INTJ"])]
