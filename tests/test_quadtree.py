"""Invariants of the Morton-ordered linear tree (counts, ranges, cells, centres of mass)."""

from __future__ import annotations

import numpy as np
import pytest

from acctsne import _core


def check_tree(Y, tree):
    n = Y.shape[0]
    order, counts, begins = tree["order"], tree["counts"], tree["begins"]
    first, nchild, depth = tree["first_children"], tree["n_children"], tree["depths"]
    com = tree["centers_of_mass"]
    lo = np.array(tree["lower_bounds"], dtype=np.float64)
    hi = np.array(tree["upper_bounds"], dtype=np.float64)
    # Every point exactly once, and strictly inside the root cell.
    np.testing.assert_array_equal(np.sort(order), np.arange(n))
    assert counts[0] == n
    assert np.all(lo <= Y) and np.all(hi > Y)
    sorted_y = Y[order].astype(np.float64)
    for node in range(len(counts)):
        b, c = begins[node], counts[node]
        pts = sorted_y[b : b + c]
        np.testing.assert_allclose(com[node], pts.mean(axis=0), rtol=1e-5, atol=1e-6)
        # All points of a node lie in its cell: same cell index at the node's depth.
        cell = np.floor((pts - lo) / (hi - lo) * 2.0 ** depth[node])
        assert np.all(cell == cell[0]), f"node {node} straddles cells"
        if first[node] >= 0:
            kids = np.arange(first[node], first[node] + nchild[node])
            assert counts[kids].sum() == c
            assert begins[kids[0]] == b
            np.testing.assert_array_equal(begins[kids[1:]], begins[kids[:-1]] + counts[kids[:-1]])
            assert np.all(depth[kids] == depth[node] + 1)
        else:
            assert c <= tree["leaf_capacity"] or depth[node] == len(tree["squared_widths"]) - 1
    widths = tree["squared_widths"]
    np.testing.assert_allclose(widths[0], np.max((hi - lo) ** 2), rtol=1e-6)
    np.testing.assert_allclose(widths[1:] * 4, widths[:-1], rtol=1e-5)


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("n", [2, 9, 500, 3000])
def test_tree_invariants(dims, n, rng):
    Y = rng.normal(size=(n, dims)).astype(np.float32)
    check_tree(Y, _core.build_tree(Y, 2))


def test_duplicates_and_monotone_coordinates(rng):
    # Many exact duplicates plus sorted (monotone) coordinates: the min/max trap.
    Y = np.repeat(np.linspace(0, 1, 50, dtype=np.float32)[:, None], 2, axis=1)
    Y = np.vstack([Y, np.zeros((40, 2), np.float32)])
    check_tree(Y, _core.build_tree(Y, 2))


def test_all_points_identical():
    Y = np.full((100, 2), 3.5, dtype=np.float32)
    tree = _core.build_tree(Y, 2)
    check_tree(Y, tree)
    assert tree["counts"][0] == 100


def test_tree_is_identical_for_any_thread_count(rng):
    Y = rng.normal(size=(20000, 2)).astype(np.float32)
    ref = _core.build_tree(Y, 1)
    out = _core.build_tree(Y, 3)
    for key in ("order", "counts", "begins", "first_children", "centers_of_mass"):
        np.testing.assert_array_equal(out[key], ref[key])
