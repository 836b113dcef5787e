"""IntIndex finds exactly what a sorted search finds."""

import numpy as np
from hypothesis import given, settings, strategies as st

from rnnlab.intindex import IntIndex


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.sets(st.integers(0, 2 ** 62), max_size=300), st.lists(st.integers(-1, 2 ** 62), max_size=200))
def test_find_equals_sorted_search(keys, extra):
    keys = np.array(sorted(keys), dtype=np.int64)
    queries = np.array(list(keys[::2]) + extra, dtype=np.int64)
    expected = np.array([int(np.searchsorted(keys, q)) if q in set(keys.tolist()) else -1 for q in queries])
    np.testing.assert_array_equal(IntIndex(keys).find(queries), expected)


def test_dense_collisions_and_large_tables():
    keys = np.arange(0, 300_000, 3, dtype=np.int64) * 1024  # many equal low bits
    index = IntIndex(keys)
    q = np.concatenate([keys, keys + 1, [-1]])
    found = index.find(q)
    np.testing.assert_array_equal(found[:len(keys)], np.arange(len(keys)))
    assert (found[len(keys):] == -1).all()
