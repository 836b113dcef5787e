"""The built site (``make site`` runs before the tests): every chapter page is there, links to its
assignment, executed within its budget, and, opened offline in headless Chromium at a laptop
width (1280 px) and a phone width (400 px), shows typeset math, captioned figures, escaped
tokens, no code line or formula wider than its column and no horizontal overflow of the page.
Screenshots of every page at both widths go to _build/screenshots/ (not committed). A second
build with a repository URL gets launch links that open the release notebooks, never the
solutions."""

import functools
import html
import html.parser
import http.server
import io
import json
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from autograder import course

BUILD = course.ROOT / "_build"
HTML = BUILD / "html"
CACHE = BUILD / ".jupyter_cache"
SCREENSHOTS = BUILD / "screenshots"
STEMS = course.chapters()
PAGE_BUDGET_S = 120
WIDTHS = (1280, 400)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REPORT_JS = Path(__file__).with_name("layout_report.js")


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
    assert "mybinder.org" not in text and "git-pull" not in text, "launch links without a repository URL"


def test_every_chapter_page_executes_within_its_budget():
    """Each page's execution time, as jupyter-cache recorded it when `make site` ran it."""
    from jupyter_cache import get_cache
    seconds = {rec.uri.rsplit("/", 1)[-1][:-3]: rec.data.get("execution_seconds")
               for rec in get_cache(str(CACHE)).list_cache_records()}
    for stem in STEMS:
        assert stem in seconds, f"{stem}: not in the execution cache (run `make site`)"
        assert seconds[stem] < PAGE_BUDGET_S, f"{stem} executes in {seconds[stem]:.0f} s (budget {PAGE_BUDGET_S} s)"


class StrikeFinder(html.parser.HTMLParser):
    """<s> and <del> elements, and </s> end tags: tokens of the course read as HTML."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        if tag in ("s", "del", "strike"):
            self.found.append(f"<{tag}> at line {self.getpos()[0]}")

    def handle_endtag(self, tag):
        if tag in ("s", "del", "strike"):
            self.found.append(f"</{tag}> at line {self.getpos()[0]}")


@pytest.mark.parametrize("stem", ["intro", *STEMS])
def test_tokens_are_escaped(stem):
    finder = StrikeFinder()
    finder.feed((HTML / "book" / f"{stem}.html").read_text())
    assert not finder.found, f"{stem}: tokens such as <s> or </s> rendered as HTML: {finder.found[:5]}"


CHAPTER_REFERENCE = re.compile(r"\b[Cc]hapters? (\d\d)\b")


@pytest.mark.parametrize("path", sorted((course.ROOT / "book").glob("*.md")) +
                         sorted(course.SOLUTIONS.glob("*/*.ipynb")), ids=lambda p: p.name)
def test_references_name_only_chapters_that_exist(path):
    numbers = {stem[:2] for stem in STEMS}
    missing = sorted(set(CHAPTER_REFERENCE.findall(path.read_text())) - numbers)
    assert not missing, f"{path.name} refers to chapter(s) {missing}, not in _toc.yml: write 'a later chapter'"


def test_the_intro_lists_every_chapter_in_order_with_its_assignment():
    """The intro's table (made from _toc.yml by book/_ext/chapter_table.py): one row per chapter,
    in order, each linking its page and downloading its release notebook."""
    text = page("intro").read_text()
    table = text[text.index("<table"):text.index("</table>")]
    rows = re.findall(r"<tr.*?</tr>", table, flags=re.S)[1:]
    assert len(rows) == len(STEMS), f"the intro's table has {len(rows)} rows for {len(STEMS)} chapters"
    for stem, row in zip(STEMS, rows):
        assert f'href="{stem}.html"' in row, (stem, row)
        notebook = re.search(r'href="([^"]*_downloads/[^"]*/%s\.ipynb)"' % stem, row)
        assert notebook and (page("intro").parent / notebook.group(1)).resolve().exists(), (stem, row)


# ---------------------------------------------------------------------------------------------
# In a browser
# ---------------------------------------------------------------------------------------------

class ReportingHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the built site, with the layout report script added to every page."""

    def send_head(self):
        if not self.path.split("?")[0].endswith(".html"):
            return super().send_head()
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            return super().send_head()
        body = path.read_text().replace("</body>", f"<script>{REPORT_JS.read_text()}</script></body>").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    handler = functools.partial(ReportingHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def chromium(tmp_path, *arguments):
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
               f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=20000", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=True).stdout


def opened(url, tmp_path, width):
    """(the page's DOM after its scripts ran, the layout report) at ``width`` pixels."""
    dom = chromium(tmp_path, f"--window-size={width},2000", "--dump-dom", url)
    match = re.search(r'<pre id="layout-report">(.*?)</pre>', dom, flags=re.S)
    assert match, "the layout report did not run"
    return dom, json.loads(html.unescape(match.group(1)))


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
@pytest.mark.parametrize("stem", STEMS)
def test_chromium_shows_typeset_math_captioned_figures_and_no_overflow(stem, server, tmp_path):
    url = f"{server}/book/{stem}.html"
    dom, laptop = opened(url, tmp_path, 1280)
    assert "<mjx-container" in dom, "MathJax did not typeset the formulas"
    assert "$$" not in re.sub(r"<(script|style|pre|code)\b.*?</\1>", "", dom, flags=re.S), "raw $$ left"
    images = re.findall(r'<img[^>]+src="([^"]+\.png)"', dom)
    assert images, "the chapter's figures are missing"
    for src in images:
        assert (page(stem).parent / src).resolve().exists(), src
    assert "<table" in dom
    assert laptop["figures_without_caption"] == 0 and laptop["images_outside_figures"] == 0, \
        f"{stem}: figures without a caption: {laptop}"
    assert not laptop["code"], f"{stem}: code wider than the column at 1280 px: {laptop['code']}"
    assert not laptop["math"], f"{stem}: formulas wider than the column at 1280 px: {laptop['math']}"
    _, phone = opened(url, tmp_path, 400)
    assert not phone["body_overflow"], f"{stem}: the page scrolls sideways at 400 px"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width, report in ((1280, laptop), (400, phone)):
        chromium(tmp_path, f"--window-size={width},{min(report['height'], 30000)}",
                 f"--screenshot={SCREENSHOTS / f'{stem}-{width}.png'}", url)
        assert (SCREENSHOTS / f"{stem}-{width}.png").stat().st_size > 10_000


# ---------------------------------------------------------------------------------------------
# Published: the site built with a repository URL
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """The book built with a repository URL and a JupyterHub, from the pages' execution cache
    (`make site` filled it)."""
    work = tmp_path_factory.mktemp("published")
    config = yaml.safe_load((course.ROOT / "_config.yml").read_text())
    config["repository"]["url"] = "https://github.com/example-course/rnn-nlp"
    config["launch_buttons"]["jupyterhub_url"] = "https://hub.example.edu"
    config["execute"]["cache"] = str(CACHE)
    config["sphinx"]["local_extensions"] = {name: str(course.ROOT / path)
                                            for name, path in config["sphinx"]["local_extensions"].items()}
    (work / "_config.yml").write_text(yaml.safe_dump(config))
    subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", str(course.ROOT),
                    "--config", str(work / "_config.yml"), "--path-output", str(work),
                    "--warningiserror", "--keep-going"], check=True, capture_output=True)
    return work / "_build" / "html"


@pytest.mark.parametrize("stem", STEMS)
def test_published_pages_launch_the_release_notebooks_never_the_solutions(stem, published):
    text = (published / "book" / f"{stem}.html").read_text()
    launches = re.findall(r'href="([^"]*(?:mybinder\.org|colab\.research\.google\.com|git-pull)[^"]*)"', text)
    release = f"notebooks/{stem}/{stem}.ipynb"
    for service in ("mybinder.org", "colab.research.google.com", "git-pull"):
        assert any(service in link and (release in link or release.replace("/", "%2F") in link)
                   for link in launches), f"{stem}: no {service} link to {release}"
    assert not [link for link in launches if "solutions" in link], "a launch link opens a solution"
    assert "github.com/example-course/rnn-nlp/edit/main/book" in text, "no 'edit this page' link"
