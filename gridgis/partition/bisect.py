"""Weighted recursive bisection of sites into k parts of equal load."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from gridgis.partition.refine import balance, make_contiguous

#: cuts repaired and rebalanced at each step when the adjacency graph is given
REPAIRED_CUTS = 3
#: weight of one target-share of imbalance against one mean cut length when choosing a direction
_IMBALANCE_WEIGHT = 10.0


def recursive_bisection(
    xy: np.ndarray,
    weights: np.ndarray,
    k: int,
    *,
    edges: np.ndarray | None = None,
    cost: np.ndarray | None = None,
    graph: sparse.csr_matrix | None = None,
    n_directions: int = 16,
    angle0: float = 0.0,
) -> np.ndarray:
    """Split sites into ``k`` parts of (nearly) equal weight by straight cuts.

    Each step splits a set of sites meant for ``k`` parts into two sets meant
    for ``floor(k/2)`` and ``ceil(k/2)`` parts, with the weight split in the
    same proportion. The cut is a line perpendicular to one of
    ``n_directions`` directions, placed at the weighted quantile; the
    direction kept is the one whose cut crosses the least edge ``cost``
    (shared boundary length: the shortest cut gives the most compact halves,
    and cheap barrier edges make cuts follow roads and rivers), with a
    penalty for the imbalance a heavy site at the cut leaves. Each part gets
    at least one site.

    Parameters
    ----------
    xy
        ``(n, 2)`` site coordinates (metric).
    weights
        Load of each site (non-negative). All zero: sites count 1 each.
    k
        Number of parts, ``1 <= k <= n``.
    edges, cost
        ``(m, 2)`` adjacent site pairs and the cost of cutting each pair.
    graph
        The same adjacency as a symmetric sparse matrix: when given, each cut
        is repaired (both sides connected) and rebalanced by moving sites
        across it before the sides are split further.
    n_directions
        Candidate cut directions, spread over 180 degrees from ``angle0``.

    Returns
    -------
    numpy.ndarray
        Part label ``0..k-1`` of each site.

    Examples
    --------
    Eight equal sites in a row into 4 parts of 2:

    >>> xy = np.column_stack([np.arange(8.0), np.zeros(8)])
    >>> recursive_bisection(xy, np.ones(8), 4).tolist()
    [0, 0, 1, 1, 2, 2, 3, 3]
    """
    xy = np.asarray(xy, dtype=float)
    weights = np.asarray(weights, dtype=float)
    n = len(xy)
    if not 1 <= k <= n:
        raise ValueError(f"k={k} must be between 1 and the number of sites {n}")
    if weights.sum() <= 0:
        weights = np.ones(n)
    if edges is None or len(edges) == 0:
        edges, cost = np.zeros((0, 2), dtype=np.int64), np.zeros(0)
    angles = angle0 + np.pi * np.arange(n_directions) / n_directions
    dirs = np.column_stack([np.cos(angles), np.sin(angles)])
    labels = np.zeros(n, dtype=np.int64)
    local = np.zeros(n, dtype=np.int64)
    stack = [(np.arange(n), k, 0, np.arange(len(edges)))]
    while stack:
        idx, kk, offset, eidx = stack.pop()
        if kk == 1:
            labels[idx] = offset
            continue
        k1 = kk // 2
        cuts = _cuts(xy[idx], weights[idx], kk, k1, edges, cost, eidx, idx, local, dirs)
        side = cuts[0][1]
        if graph is not None:
            # repair the most promising cuts and keep the best balanced one after repair
            sub, w = graph[idx][:, idx], weights[idx]
            target = w.sum() * k1 / kk
            repaired = [_repair(c, sub, w, kk, k1) for _, c in cuts[:REPAIRED_CUTS]]
            side = min(repaired, key=lambda c: abs(w[c == 1].sum() - target))
        local[idx] = side
        ei, ej = edges[eidx, 0], edges[eidx, 1]
        inner = local[ei] == local[ej]
        left, right = idx[side == 1], idx[side == 0]
        e_in = eidx[inner]
        e_left = e_in[local[edges[e_in, 0]] == 1]
        e_right = e_in[local[edges[e_in, 0]] == 0]
        stack.append((left, k1, offset, e_left))
        stack.append((right, kk - k1, offset + k1, e_right))
    return labels


def _cuts(xy, w, kk, k1, edges, cost, eidx, idx, local, dirs) -> list[tuple[float, np.ndarray]]:
    """Balanced straight cuts in every direction, best score first (side 1: the k1 parts)."""
    m = len(xy)
    total = w.sum()
    if total <= 0:
        w = np.ones(m)
        total = float(m)
    target = total * k1 / kk
    share = total / kk
    local[idx] = np.arange(m)
    ei, ej, ec = local[edges[eidx, 0]], local[edges[eidx, 1]], cost[eidx]
    mean_cut = ec.sum() / len(ec) * np.sqrt(m) if len(ec) else np.ptp(xy, axis=0).max()
    mean_cut = max(mean_cut, 1e-12)
    proj = xy @ dirs.T
    out = []
    for d in range(dirs.shape[0]):
        order = np.argsort(proj[:, d], kind="stable")
        cum = np.cumsum(w[order])
        c = int(np.searchsorted(cum, target))
        counts = np.clip(np.array([c, c + 1]), k1, m - (kk - k1))
        miss = np.abs(cum[counts - 1] - target)
        count = int(counts[np.argmin(miss)])
        side = np.zeros(m, dtype=np.int8)
        side[order[:count]] = 1
        # without adjacency, the width of the sites across the cut stands for its length
        cut = ec[side[ei] != side[ej]].sum() if len(ec) else np.ptp(xy @ np.array([-dirs[d, 1], dirs[d, 0]]))
        out.append((cut / mean_cut + _IMBALANCE_WEIGHT * miss.min() / share, side))
    out.sort(key=lambda item: item[0])
    return out


def _repair(side: np.ndarray, sub: sparse.csr_matrix, w: np.ndarray, kk: int, k1: int) -> np.ndarray:
    """Make both sides of a cut connected and move sites across it to meet the k1 : k-k1 split."""
    labels = make_contiguous(side.astype(np.int64), sub, w)
    if w.sum() > 0:
        targets = w.sum() * np.array([kk - k1, k1]) / kk
        labels = balance(labels, sub, w, 2, targets=targets, tol=1e-3)
    # each side must keep enough sites for its parts
    if (labels == 1).sum() < k1 or (labels == 0).sum() < kk - k1:
        return side
    return labels.astype(np.int8)
