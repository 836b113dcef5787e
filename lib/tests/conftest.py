"""Tests marked ``gpu`` need a CUDA device: without one they are skipped, with the reason
shown (``pytest -m gpu`` runs just them on a GPU machine)."""

import pytest
import torch


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU; this machine has none")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
