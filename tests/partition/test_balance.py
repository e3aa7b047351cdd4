"""Forced moves for towers, the balance lower bounds and grid names, on hand-built cases with known answers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from gridgis.partition import partition
from gridgis.partition.bisect import recursive_bisection
from gridgis.partition.bounds import _dead_ends, balance_bound, pocket_bound
from gridgis.partition.refine import balance, make_contiguous
from tests.partition.partition_cases import lattice


def lattice_graph(n: int) -> tuple[np.ndarray, sparse.csr_matrix]:
    """Centres and rook adjacency of an n x n lattice; site i*n + j sits at (i, j)."""
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    xy = np.column_stack([i.ravel(), j.ravel()]).astype(float)
    idx = np.arange(n * n).reshape(n, n)
    pairs = np.concatenate([np.column_stack([idx[:-1].ravel(), idx[1:].ravel()]),
                            np.column_stack([idx[:, :-1].ravel(), idx[:, 1:].ravel()])])  # fmt: skip
    a = sparse.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n * n, n * n))
    return xy, (a + a.T).tocsr()


def connected(labels: np.ndarray, graph: sparse.csr_matrix, k: int) -> bool:
    for g in range(k):
        members = np.flatnonzero(labels == g)
        if not len(members) or connected_components(graph[members][:, members], directed=False)[0] != 1:
            return False
    return True


def max_deviation(labels: np.ndarray, weights: np.ndarray, k: int) -> float:
    target = weights.sum() / k
    return float(np.abs(np.bincount(labels, weights=weights, minlength=k) - target).max() / target)


def exact_optimum(weights, k: int, graph: sparse.csr_matrix | None = None) -> float:
    """Smallest largest deviation over every split into k non-empty groups (connected ones when a graph is given)."""
    weights = np.asarray(weights, dtype=float)
    target = weights.sum() / k
    best = np.inf
    for labels in itertools.product(range(k), repeat=len(weights)):
        labels = np.array(labels)
        if len(np.unique(labels)) < k or (graph is not None and not connected(labels, graph, k)):
            continue
        best = min(best, np.abs(np.bincount(labels, weights=weights, minlength=k) - target).max() / target)
    return float(best)


# ---------------------------------------------------------------- forced moves


def test_forced_move_splits_two_adjacent_towers():
    # 4 x 4 lattice (site i*4 + j at (i, j)): houses of 10, towers of 50 at (1, 0), 140 at (2, 2), 120 at (3, 2);
    # total 440, target 220. The start holds both big towers together (290 against 150); no move narrows the gap
    # once the houses are gone (either tower overshoots), so boundary moves alone stop short
    w = np.array([[10, 10, 10, 10], [50, 10, 10, 10], [10, 10, 140, 10], [10, 10, 120, 10]], dtype=float).ravel()
    start = np.array([[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 1, 1], [0, 1, 1, 1]]).ravel()
    _, graph = lattice_graph(4)
    plain = balance(start, graph, w, 2)
    kicked = balance(start, graph, w, 2, kicks=20)
    assert np.abs(np.bincount(plain, weights=w) - 220).max() >= 20
    # balanced: one part 140 + 8 houses, the other 120 + 50 + 5 houses
    assert np.bincount(kicked, weights=w).tolist() == [220.0, 220.0]
    assert kicked[2 * 4 + 2] != kicked[3 * 4 + 2]
    assert connected(kicked, graph, 2)


def test_tower_worth_a_whole_grid_gets_its_own():
    # 2 grids, one tower of 300 in a corner and 15 houses of 20: the balanced answer is the tower alone
    xy, graph = lattice_graph(4)
    w = np.full(16, 20.0)
    w[0] = 300.0
    edges = np.column_stack(sparse.triu(graph, k=1).nonzero())
    labels = recursive_bisection(xy, w, 2, edges=edges, cost=np.ones(len(edges)), graph=graph)
    labels = balance(labels, graph, w, 2, kicks=20)
    assert np.bincount(labels, weights=w).tolist() == [300.0, 300.0]
    assert (labels == labels[0]).sum() == 1
    assert connected(labels, graph, 2)


def test_forced_moves_never_worsen_and_keep_parts_connected(rng):
    xy, graph = lattice_graph(6)
    for _ in range(5):
        w = rng.integers(1, 13, 36).astype(float)
        w[rng.choice(36, 4, replace=False)] = rng.integers(60, 150, 4)
        start = make_contiguous(recursive_bisection(xy, w, 4), graph, w)
        plain = balance(start, graph, w, 4)
        kicked = balance(start, graph, w, 4, kicks=30)
        assert max_deviation(kicked, w, 4) <= max_deviation(plain, w, 4) + 1e-12
        assert connected(kicked, graph, 4)


# ---------------------------------------------------------------- lower bounds


@pytest.mark.parametrize(
    ("weights", "k", "expected"),
    [
        ([400, 100, 100, 100, 100, 100, 100], 4, 0.6),  # the tower alone is 150 over 250
        ([2, 2, 2, 2, 2], 2, 0.2),  # target 5, every load even
        ([7, 7, 7, 1], 2, 3 / 11),  # best split 8 | 14 around 11; the old gcd bound said 0
        ([3, 3, 3, 3], 3, 0.5),  # target 4: some group holds two 3s
        ([0.5] * 5, 2, 0.2),  # tenths scale to whole numbers: target 1.25, loads 1.0 or 1.5
        ([300] + [10] * 30, 2, 0.0),  # the tower plus nothing, 30 houses on the other side
        ([1.0] * 8, 4, 0.0),
    ],
)
def test_balance_bound_known_answers(weights, k, expected):
    assert balance_bound(np.array(weights, dtype=float), k) == pytest.approx(expected)


def test_balance_bound_never_exceeds_the_exact_optimum(rng):
    for _ in range(40):
        n, k = int(rng.integers(3, 8)), int(rng.integers(2, 4))
        w = rng.integers(1, 30, n).astype(float)
        assert balance_bound(w, k) <= exact_optimum(w, k) + 1e-12


def test_balance_bound_without_whole_loads_keeps_the_tower_term():
    w = np.array([np.pi, 1 / 3, 1 / 7])  # no scale up to 100 makes these whole: only the tower term is used
    assert balance_bound(w, 2) == pytest.approx((np.pi - w.sum() / 2) / (w.sum() / 2))


def test_pocket_bound_counts_which_sites_touch():
    path = sparse.diags([np.ones(2), np.ones(2)], [-1, 1]).tocsr()
    w = np.array([5.0, 6.0, 5.0])  # target 8: the first site's grid holds 5, 11 or 16
    assert pocket_bound(path, w, 2) == pytest.approx(3 / 8) == pytest.approx(exact_optimum(w, 2, path))
    assert balance_bound(w, 2) == pytest.approx(2 / 8)  # 5 + 5 | 6 if geometry is ignored


def test_pocket_bound_never_exceeds_the_connected_optimum(rng):
    _, graph = lattice_graph(3)
    for _ in range(15):
        w = rng.integers(1, 10, 9).astype(float)
        w[rng.choice(9, 3, replace=False)] = rng.integers(20, 60, 3)
        assert pocket_bound(graph, w, 2) <= exact_optimum(w, 2, graph) + 1e-12


def graph_of(n: int, pairs) -> sparse.csr_matrix:
    a = sparse.coo_matrix((np.ones(len(pairs)), tuple(np.array(pairs).T)), shape=(n, n))
    return (a + a.T).tocsr()


def test_pocket_bound_sees_a_dead_end_of_light_sites(monkeypatch):
    # houses 0-1-2 on a lane, a shed (3) at its end, then two towers (4, 5); target 9: the lane's grid holds
    # 7 (lane + shed), 17 or more (with a tower), or at most 6 (inside the lane): 2/9 at best, and that is reached
    graph = graph_of(6, [(0, 1), (1, 2), (2, 3), (3, 4), (3, 5), (4, 5)])
    w = np.array([2.0, 2, 2, 1, 10, 10])
    assert pocket_bound(graph, w, 3) == pytest.approx(2 / 9) == pytest.approx(exact_optimum(w, 3, graph))
    monkeypatch.setattr("gridgis.partition.bounds._dead_ends", lambda *a: [])
    assert pocket_bound(graph, w, 3) == pytest.approx(1 / 9)  # from the towers alone


def test_dead_ends_are_the_sides_of_each_cut_vertex():
    # a triangle 0-1-2, then a path 2-3-4-5: cut vertices 2, 3 and 4
    graph = graph_of(6, [(0, 1), (1, 2), (0, 2), (2, 3), (3, 4), (4, 5)])
    found = {(a, tuple(sorted(p.tolist()))) for a, p in _dead_ends(graph, np.ones(6), t=10)}
    assert (2, (0, 1)) in found and (2, (3, 4, 5)) in found
    assert (3, (4, 5)) in found and (3, (0, 1, 2)) in found
    assert (4, (5,)) in found
    assert all(a not in p for a, p in found)
    light = _dead_ends(graph, np.ones(6), t=2.5)  # only sides lighter than the target
    assert {(a, tuple(sorted(p.tolist()))) for a, p in light} == {(2, (0, 1)), (3, (4, 5)), (4, (5,))}


def test_pocket_bound_never_exceeds_the_connected_optimum_on_trees_and_chains(rng):
    for _ in range(25):
        n, k = int(rng.integers(4, 8)), int(rng.integers(2, 4))
        parents = [int(rng.integers(0, v)) for v in range(1, n)]  # a random tree: every inner site is a cut vertex
        pairs = [(v, parents[v - 1]) for v in range(1, n)]
        if rng.random() < 0.5:  # sometimes a cycle too
            pairs.append((0, n - 1))
        graph = graph_of(n, pairs)
        w = rng.integers(1, 12, n).astype(float)
        assert pocket_bound(graph, w, k) <= exact_optimum(w, k, graph) + 1e-12


# ---------------------------------------------------------------- names


def test_basic_grids_are_named_after_the_community_and_their_sequence():
    result = partition(lattice(4), n_grids=4)
    grids = result.grids
    assert grids["name"].tolist() == [f"方块社区第{int(c[-3:])}网格" for c in grids["grid_code"]]
    assert grids["name"].iloc[0] == "方块社区第1网格"
