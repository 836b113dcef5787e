"""The built site (``make site`` runs before the tests): every chapter page is there, links to
its assignment notebook, and, opened offline in headless Chromium, shows typeset math and its
figures."""

import functools
import http.server
import re
import shutil
import subprocess
import threading

import pytest

from autograder import course

HTML = course.ROOT / "_build" / "html"
CACHE = course.ROOT / "_build" / ".jupyter_cache"
STEMS = course.chapters()
PAGE_BUDGET_S = 120
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def page(stem):
    path = HTML / "book" / f"{stem}.html"
    assert path.exists(), f"{path} missing: run `make site`"
    return path


@pytest.mark.parametrize("stem", STEMS)
def test_page_links_to_its_assignment_and_mathjax_is_local(stem):
    text = page(stem).read_text()
    links = re.findall(r'href="([^"]*_downloads/[^"]*/%s\.ipynb)"' % stem, text)
    assert links, f"{stem}: no download link to notebooks/{stem}/{stem}.ipynb"
    assert (page(stem).parent / links[0]).resolve().exists()
    assert "cdn.jsdelivr.net" not in text and "mathjax" in text.lower()


def test_every_chapter_page_executes_within_its_budget():
    """Each page's execution time, as jupyter-cache recorded it when `make site` ran it."""
    from jupyter_cache import get_cache
    seconds = {rec.uri.rsplit("/", 1)[-1][:-3]: rec.data.get("execution_seconds")
               for rec in get_cache(str(CACHE)).list_cache_records()}
    for stem in STEMS:
        assert stem in seconds, f"{stem}: not in the execution cache (run `make site`)"
        assert seconds[stem] < PAGE_BUDGET_S, f"{stem} executes in {seconds[stem]:.0f} s (budget {PAGE_BUDGET_S} s)"


@pytest.fixture(scope="module")
def server():
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def rendered_dom(url, tmp_path):
    """The page's DOM after its scripts ran, from headless Chromium with no network access."""
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run",
               f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=20000",
               "--dump-dom", url]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
@pytest.mark.parametrize("stem", STEMS)
def test_chromium_shows_typeset_math_and_figures(stem, server, tmp_path):
    dom = rendered_dom(f"{server}/book/{stem}.html", tmp_path)
    assert "<mjx-container" in dom, "MathJax did not typeset the formulas"
    assert "$$" not in re.sub(r"<(script|style|pre|code)\b.*?</\1>", "", dom, flags=re.S), "raw $$ left"
    images = re.findall(r'<img[^>]+src="([^"]+\.png)"', dom)
    assert images, "the chapter's figures are missing"
    for src in images:
        assert (page(stem).parent / src).resolve().exists(), src
    assert "<table" in dom  # the perplexity table
