"""Tests marked ``gpu`` need a CUDA device: without one they are skipped, with the reason
shown (``pytest -m gpu`` runs just them on a GPU machine). The ``one_thread`` fixture runs a
module's tests on one torch thread (tiny models: several threads only fight over a shared
machine's cores, and can make a test ten times slower)."""

import pytest
import torch


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU; this machine has none")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
