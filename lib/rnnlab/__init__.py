"""rnnlab: the reference implementations, data and graders of the course
"Recurrent neural networks for NLP".

One module per concept, each opening with a docstring that says what it is for and which
chapter leans on it (``rnnlab.layers``: recurrent cells and layers equal to torch.nn;
``rnnlab.checks``: the named checks that grade every assignment part; ``rnnlab.data``: the
offline data; ...). A chapter's modules are its own files: nothing here lists them.
Modules whose names start with ``_`` hold performance machinery behind a public module's API.
"""

__version__ = "0.1.0"   # the one place: lib/pyproject.toml reads it


def device():
    """The best available torch device: ``cuda``, then ``mps``, then ``cpu``."""
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
