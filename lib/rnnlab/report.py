"""The running tables of the course: every chapter adds its models to the same perplexity table
on the same held-out text, with the synthetic language's exact oracle as the floor.

    perplexity_table({"synthetic": toy, "docstrings": docs},
                     {"trigram KN": lambda c: NGramLM(3, "kn").fit(c.train).tune(c.valid)})

A model factory receives a corpus (with ``.train``, ``.valid``, ``.test``) and returns a
``rnnlab.lm.LanguageModel``, or None where the model does not apply (the oracle exists only for
the synthetic language). The result is a Markdown table (rendered by Jupyter and the book).
"""

from __future__ import annotations

import html
import re
from typing import Callable, Iterable, Mapping, Optional, Sequence

from .lm import LanguageModel

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]|#~])")


def escape(text) -> str:
    """``text`` as it must appear in Markdown or HTML to show as itself: tokens such as ``<s>``
    and ``</s>`` would otherwise be read as HTML tags (struck-through text, empty cells), and
    ``_``, ``*`` or ``|`` as Markdown."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(str(text), quote=False))


def markdown_table(header: Sequence, rows: Iterable[Sequence], raw: bool = False):
    """A Markdown table (rendered by Jupyter and the book) whose every cell is escaped
    (``escape``); ``raw=True`` leaves cells as they are, for cells that are Markdown on purpose."""
    from IPython.display import Markdown

    cell = (lambda x: str(x)) if raw else escape
    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(x) for x in row) + " |" for row in rows]
    return Markdown("\n".join(lines))


def perplexity_table(corpora: Mapping[str, object],
                     models: Mapping[str, Callable[[object], Optional[LanguageModel]]]):
    """Markdown table: one row per model, one column per corpus, test-set perplexities."""
    rows = []
    for name, make in models.items():
        cells = []
        for corpus in corpora.values():
            model = make(corpus)
            cells.append("-" if model is None else f"{model.perplexity(corpus.test):.2f}")
        rows.append([name, *cells])
    return markdown_table(["model", *corpora], rows)


def ngram_baselines() -> dict[str, Callable]:
    """The models of chapter 01's table, for later chapters to extend."""
    from .ngram import NGramLM

    return {
        "oracle (exact)": lambda c: getattr(c, "oracle", None),
        "unigram add-1": lambda c: NGramLM(1, "addk", k=1.0).fit(c.train),
        "bigram add-1": lambda c: NGramLM(2, "addk", k=1.0).fit(c.train),
        "trigram add-0.1": lambda c: NGramLM(3, "addk", k=0.1).fit(c.train),
        "trigram MLE": lambda c: NGramLM(3, "mle").fit(c.train),
        "trigram interpolated": lambda c: NGramLM(3, "interp").fit(c.train).tune(c.valid),
        "trigram Kneser-Ney": lambda c: NGramLM(3, "kn").fit(c.train).tune(c.valid),
        "5-gram Kneser-Ney": lambda c: NGramLM(5, "kn").fit(c.train).tune(c.valid),
    }


def agreement_table(reports: Mapping[str, object], attractors=(0, 1, 2)):
    """Markdown table of ``rnnlab.data.agreement_accuracy`` reports: overall and by attractors."""
    head = [f"{a} attractor{'s' if a != 1 else ''}" for a in attractors]
    rows = []
    for name, r in reports.items():
        cells = [f"{100 * r.by_attractors[a][0]:.1f}%" if a in r.by_attractors else "-" for a in attractors]
        rows.append([name, f"{100 * r.accuracy:.1f}%", *cells])
    return markdown_table(["model", "accuracy", *head], rows)


def plot_agreement(reports: Mapping[str, object], ax=None):
    """Agreement accuracy against subject-verb distance, one line per model, chance at 50%."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.4))
    for name, report in reports.items():
        xs = sorted(report.by_distance)
        ax.plot(xs, [100 * report.by_distance[d][0] for d in xs], "o-", label=name)
    ax.set(xlabel="distance from subject to verb (tokens)", ylabel="agreement accuracy (%)",
           title="Subject-verb agreement", ylim=(0, 105))
    ax.axhline(50, color="grey", lw=0.8, ls="--")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)  # beside the curves
    return ax
