"""The intro's table of chapters, made from the book's table of contents: a Sphinx extension of
the course site.

``{chapter-table}`` (a directive with no arguments) becomes one row per chapter of ``_toc.yml``,
in its order: the chapter's number linking its page, its title (the page's ``# NN Title``
heading, without the number) and a download link to its assignment, the release notebook
``notebooks/NN_slug/NN_slug.ipynb``. A new chapter appears in the table by its line in
``_toc.yml`` alone.
"""

from __future__ import annotations

import os
from pathlib import Path

from sphinx.util.docutils import SphinxDirective

HEADER = ("| chapter | topic | assignment |", "| --- | --- | --- |")


def page_title(path: Path) -> str:
    """The page's first ``# `` heading without its chapter number."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].split(" ", 1)[-1].strip()
    raise ValueError(f"{path}: no '# NN Title' heading")


class ChapterTable(SphinxDirective):
    has_content = False

    def run(self):
        here = Path(self.env.doc2path(self.env.docname)).parent
        rows = list(HEADER)
        for docname in self.env.external_site_map.root.subtrees[0].items:
            page = Path(self.env.doc2path(docname))
            self.env.note_dependency(str(page))
            stem = page.stem
            notebook = Path(os.path.relpath(self.env.srcdir / "notebooks" / stem / f"{stem}.ipynb", here))
            rows.append(f"| [{stem[:2]}]({stem}) | {page_title(page)} "
                        f"| {{download}}`{stem}.ipynb <{notebook.as_posix()}>` |")
        return self.parse_text_to_nodes("\n".join(rows))


def setup(app):
    app.add_directive("chapter-table", ChapterTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
