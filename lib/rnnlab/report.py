"""The running tables of the course: every chapter adds its models to the same perplexity table
on the same held-out text, with the synthetic language's exact oracle as the floor.

    perplexity_table({"synthetic": toy, "docstrings": docs},
                     {"trigram KN": lambda c: NGramLM(3, "kn").fit(c.train).tune(c.valid)})

A model factory receives a corpus (with ``.train``, ``.valid``, ``.test``) and returns a
``rnnlab.lm.LanguageModel``, or None where the model does not apply (the oracle exists only for
the synthetic language). The result is a Markdown table (rendered by Jupyter and the book).
"""

from __future__ import annotations

from typing import Callable, Mapping, Optional

from .lm import LanguageModel


def perplexity_table(corpora: Mapping[str, object],
                     models: Mapping[str, Callable[[object], Optional[LanguageModel]]]):
    """Markdown table: one row per model, one column per corpus, test-set perplexities."""
    from IPython.display import Markdown

    header = "| model | " + " | ".join(corpora) + " |\n|---|" + "---|" * len(corpora) + "\n"
    rows = []
    for name, make in models.items():
        cells = []
        for corpus in corpora.values():
            model = make(corpus)
            cells.append("-" if model is None else f"{model.perplexity(corpus.test):.2f}")
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return Markdown(header + "\n".join(rows))


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
    from IPython.display import Markdown

    head = " | ".join(f"{a} attractor{'s' if a != 1 else ''}" for a in attractors)
    lines = [f"| model | accuracy | {head} |", "|---|---|" + "---|" * len(attractors)]
    for name, r in reports.items():
        cells = [f"{100 * r.by_attractors[a][0]:.1f}%" if a in r.by_attractors else "-" for a in attractors]
        lines.append(f"| {name} | {100 * r.accuracy:.1f}% | " + " | ".join(cells) + " |")
    return Markdown("\n".join(lines))


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
    ax.legend()
    return ax
