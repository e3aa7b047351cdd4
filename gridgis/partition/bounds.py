"""Lower bounds on the largest load deviation a plan can reach: what indivisible buildings impose.

A plan is judged next to its bound: 9.9 % off is a fault when 0.1 % was
possible, and the best anyone can do when three towers touch only each other.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

#: largest bitset (twice the target, in scaled load units) the subset-sum bound builds
BOUND_MAX_BITS = 20_000_000
#: the geometric bound looks at sites worth at least this share of the target ...
POCKET_MIN_SHARE = 0.25
#: ... and gives up on a site (no bound from it) after enumerating this many connected sets around it
POCKET_MAX_SETS = 300


def balance_bound(weights: np.ndarray, k: int) -> float:
    """Lower bound on the largest |load - target| / target that indivisible sites impose (geometry ignored).

    Any split of the sites into ``k`` groups gives group loads
    ``L_1 .. L_k`` that sum to ``k * T`` (``T`` the target), and each
    ``L_g`` is a subset sum of the site weights. Three facts follow:

    1. the loads average ``T``, so some group has ``L >= T``: its deviation
       is at least ``a = min{s - T : s subset sum, s >= T}``;
    2. likewise some group has ``L <= T``: at least
       ``b = min{T - s : s subset sum, s <= T}``;
    3. the group holding the heaviest site ``w*`` has
       ``L = w* + s'`` with ``s'`` a subset sum of the other sites: at
       least ``c = min |w* + s' - T|`` (a tower above the target, or one
       that no set of small sites tops up to it).

    So every split has a largest deviation of at least ``max(a, b, c) / T``.
    Subset sums up to ``2 T`` come from a bitset (one shifted OR per
    weight, repeated weights by binary splitting), over whole loads: the
    weights are scaled by 1, 10 or 100 to make them integers; when none
    does (or ``T`` is too large for the bitset) only ``c`` for the tower
    above the target is used. The bound ignores geometry: a plan can also
    be held back by which buildings touch (e.g. a cluster of towers), so
    it may lie above the bound (see :func:`pocket_bound` for that).

    Examples
    --------
    A 400-household tower among grids of target 250:

    >>> round(balance_bound(np.array([400, 100, 100, 100, 100, 100, 100]), 4), 2)
    0.6
    >>> round(balance_bound(np.array([2, 2, 2, 2, 2]), 2), 2)  # target 5, loads are even
    0.2
    >>> round(balance_bound(np.array([7, 7, 7, 1]), 2), 4)  # best split 8 | 14 around 11
    0.2727
    """
    weights = np.asarray(weights, dtype=float)
    weights = weights[weights > 0]
    total = weights.sum()
    if k <= 1 or total <= 0:
        return 0.0
    target = total / k
    heaviest = float(weights.max())
    fallback = max(0.0, (heaviest - target) / target)
    scale = next((f for f in (1, 10, 100) if np.allclose(weights * f, np.round(weights * f), rtol=0, atol=1e-6)), None)
    if scale is None or 2 * target * scale > BOUND_MAX_BITS:
        return float(fallback)
    w = np.round(weights * scale).astype(np.int64)
    t = target * scale
    size = int(np.floor(2 * t)) + 1
    top = int(np.argmax(w))
    rest = _subset_sums(np.delete(w, top), size)
    sums = rest.copy()
    if w[top] < size:
        sums[w[top] :] |= rest[: size - w[top]]
    reach = np.flatnonzero(sums)
    above, below = reach[reach >= t], reach[reach <= t]
    a = above[0] - t if len(above) else t  # no sum in [T, 2T]: the group at or above T is over 2T
    b = t - below[-1]
    with_top = np.flatnonzero(rest)[: max(size - w[top], 0)] + w[top]
    c = np.abs(with_top - t).min() if len(with_top) else w[top] - t
    return float(max(a, b, c, 0.0) / t)


def _subset_sums(w: np.ndarray, size: int) -> np.ndarray:
    """Boolean array: ``out[s]`` is True when some subset of ``w`` (positive integers) sums to ``s < size``."""
    reach = np.zeros(size, dtype=bool)
    reach[0] = True
    values, counts = np.unique(w, return_counts=True)
    for v, n in zip(values.tolist(), counts.tolist(), strict=True):
        # n copies of v as items v, 2v, 4v, ..., rest: every multiple up to n*v stays reachable
        step = 1
        while n > 0:
            m = min(step, n)
            shift = v * m
            if shift < size:
                reach[shift:] |= reach[: size - shift].copy()
            n -= m
            step *= 2
    return reach


def pocket_bound(graph: sparse.csr_matrix, weights: np.ndarray, k: int) -> float:
    """Lower bound on the largest deviation from pockets: heavy sites among heavy neighbours, dead ends.

    Every grid is a connected set of sites, so the grid holding a set of
    sites ``S`` deviates by at least ``min |load(C) - T| / T`` over the
    connected sets ``C`` containing ``S`` (``T`` the target). These sets
    are enumerated by growing ``S`` one neighbour at a time; a set at or
    above ``T`` is not grown further (growing only adds load), nor one
    already further above ``T`` than the best set found. After
    ``POCKET_MAX_SETS`` sets a start gives no bound. Starts:

    - each site worth at least ``POCKET_MIN_SHARE`` of the target: e.g.
      three towers of 0.42, 0.26 and 0.21 targets that touch only each
      other and other towers leave the grid holding the first at 0.89
      targets or at 1.10 or more;
    - each dead end lighter than the target: sites ``P`` reached from the
      rest only through one site ``a`` (a cut vertex). Either a grid lies
      inside ``P``, at most ``load(P)``, or the grid holding ``a`` holds
      all of ``P``: the start is ``P + a``, and its bound is the smaller
      of the two.

    The result is the largest bound over the starts.

    Examples
    --------
    Sites of 5, 6 and 5 on a path into 2 grids of target 8: the grid of
    the first site holds 5, 11 or 16, so it is off by at least 3 / 8 (the
    subset-sum bound, ignoring the path, only says 2 / 8: 5 + 5 + 6):

    >>> from scipy import sparse
    >>> path = sparse.diags([1.0, 1.0], [-1, 1], shape=(3, 3)).tocsr()
    >>> pocket_bound(path, np.array([5.0, 6, 5]), 2)
    0.375

    Three houses of 2 on a lane behind a shed of 1, then two towers of 10
    (target 9): the grid holding the lane holds 7, or 17 and more, or
    lies inside the lane (at most 6), so it is off by at least 2 / 9
    (from the towers alone the bound would be 1 / 9):

    >>> lane = [(0, 1), (1, 2), (2, 3), (3, 4), (3, 5), (4, 5)]
    >>> i, j = [a for a, b in lane] + [b for a, b in lane], [b for a, b in lane] + [a for a, b in lane]
    >>> g = sparse.coo_matrix((np.ones(len(i)), (i, j)), shape=(6, 6)).tocsr()
    >>> round(pocket_bound(g, np.array([2.0, 2, 2, 1, 10, 10]), 3), 4)
    0.2222
    """
    weights = np.asarray(weights, dtype=float)
    total = weights.sum()
    if k <= 1 or total <= 0:
        return 0.0
    t = total / k
    indptr, indices = graph.indptr, graph.indices
    starts = [(frozenset([s]), np.inf) for s in np.flatnonzero(weights >= POCKET_MIN_SHARE * t).tolist()]
    starts += [(frozenset(p) | {a}, t - weights[p].sum()) for a, p in _dead_ends(graph, weights, t)]
    bound = 0.0
    for start, inside in starts:
        if inside <= bound * t:
            continue
        best = _closest_connected_load(indptr, indices, weights, start, t, bound * t)
        if best is not None and min(best, inside) > bound * t:
            bound = min(best, inside) / t
    return float(bound)


def _closest_connected_load(indptr, indices, weights, start: frozenset, t: float, enough: float) -> float | None:
    """``min |load(C) - t|`` over connected sets ``C`` containing ``start``; None when the sets run out of budget.

    Stops early (returning what it has) once the best is at most ``enough``: that start cannot raise the bound.
    """
    load0 = float(weights[list(start)].sum())
    best = np.inf
    seen = {start}
    todo = [(start, load0)]
    while todo and len(seen) <= POCKET_MAX_SETS:
        members, load = todo.pop()
        best = min(best, abs(load - t))
        if load >= t or best <= enough:
            continue
        border = {int(u) for m in members for u in indices[indptr[m] : indptr[m + 1]]} - members
        for u in border:
            grown = members | {u}
            if grown not in seen and load + weights[u] - t < best:
                seen.add(grown)
                todo.append((grown, load + float(weights[u])))
    return None if todo else float(best)


def _dead_ends(graph: sparse.csr_matrix, weights: np.ndarray, t: float) -> list[tuple[int, np.ndarray]]:
    """``(a, P)``: a cut vertex ``a`` and sites ``P`` reaching the rest only through ``a``, with load(P) < t.

    Tarjan's depth-first search, iterative: a child ``c`` of ``a`` whose subtree reaches no
    ancestor of ``a`` (``low[c] >= disc[a]``) hangs on ``a``. Then both sides are dead ends
    of ``a``: ``c``'s subtree, and the rest of the component without ``a``.
    """
    n = graph.shape[0]
    indptr, indices = graph.indptr, graph.indices
    disc = np.full(n, -1, dtype=np.int64)
    low = np.zeros(n, dtype=np.int64)
    parent = np.full(n, -1, dtype=np.int64)
    size = np.zeros(n, dtype=np.int64)
    comp = np.zeros(n, dtype=np.int64)  # the root of each vertex's component
    order: list[int] = []  # vertices in discovery order: a subtree is a contiguous run
    hang: list[tuple[int, int]] = []
    for root in range(n):
        if disc[root] >= 0:
            continue
        disc[root] = low[root] = len(order)
        order.append(root)
        stack = [(root, int(indptr[root]))]
        while stack:
            v, i = stack[-1]
            if i < indptr[v + 1]:
                stack[-1] = (v, i + 1)
                u = int(indices[i])
                if disc[u] < 0:
                    parent[u], comp[u] = v, root
                    disc[u] = low[u] = len(order)
                    order.append(u)
                    stack.append((u, int(indptr[u])))
                elif u != parent[v]:
                    low[v] = min(low[v], disc[u])
                continue
            stack.pop()
            size[v] = len(order) - disc[v]
            p = parent[v]
            if p >= 0:
                low[p] = min(low[p], low[v])
                if low[v] >= disc[p]:
                    hang.append((int(p), v))
        comp[root] = root
    seq = np.asarray(order, dtype=np.int64)
    cum = np.concatenate([[0.0], np.cumsum(weights[seq])])
    out = []
    for a, c in hang:
        lo, hi = disc[c], disc[c] + size[c]
        if cum[hi] - cum[lo] < t:
            out.append((a, seq[lo:hi]))
        if parent[a] < 0 and size[a] == size[c] + 1:
            continue  # a root with one child: nothing else hangs on it
        r = comp[a]
        rlo, rhi = disc[r], disc[r] + size[r]
        if (cum[rhi] - cum[rlo]) - (cum[hi] - cum[lo]) - weights[a] < t:
            rest = np.concatenate([seq[rlo:lo], seq[hi:rhi]])
            out.append((a, rest[rest != a]))
    return out
