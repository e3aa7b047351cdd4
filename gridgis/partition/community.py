"""Partition one community (in a metric CRS) into k contiguous grids of balanced load.

This is the unit of parallel work: it takes plain arrays and geometries and
returns plain arrays and geometries, so it pickles cheaply to a worker process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from scipy import sparse

from gridgis.partition.apportion import apportion
from gridgis.partition.bisect import recursive_bisection
from gridgis.partition.refine import adjust_count, balance, make_contiguous
from gridgis.partition.smooth import smooth_grids
from gridgis.partition.tessellate import PRECISION_M, tessellate

#: share of a cut along a barrier (road, river) that counts as cut length when choosing cuts
BARRIER_COST = 0.2
#: stop refining once every grid is within this relative deviation of its target
BALANCE_TOL = 0.001
#: cut-direction offsets tried when the first plan misses the tolerance
RESTARTS = 6
#: communities up to this many sites try COMPACT_TRIES balanced plans and keep the most compact
COMPACT_MAX_SITES = 5000
COMPACT_TRIES = 3
#: rounds of boundary-smoothing swaps after balancing
SMOOTH_ROUNDS = 10
#: forced moves (each followed by a rebalance) tried when balancing misses the tolerance, see refine.balance
KICKS = 40
#: forced moves (a hill climb) for each restart's plan: different starts reach different optima
RESTART_KICKS = 30
#: ... only where the plan misses this deviation (kicks cost time and shape; below it the plan is kept)
KICK_ABOVE = 0.01
#: cap on forced moves times sites, so that large communities spend at most a few rebalances
KICK_WORK = 40_000
#: largest bitset (twice the target, in scaled load units) the subset-sum bound builds
BOUND_MAX_BITS = 20_000_000
#: the geometric bound looks at sites worth at least this share of the target ...
POCKET_MIN_SHARE = 0.25
#: ... and gives up on a site (no bound from it) after enumerating this many connected sets around it
POCKET_MAX_SETS = 300


@dataclass
class CommunityTask:
    """One community to partition: its area (without dedicated grids), sites and their loads."""

    community_id: str
    area: shapely.Geometry
    xy: np.ndarray
    weights: np.ndarray
    k: int
    barriers: shapely.Geometry | None = None
    initial: np.ndarray | None = None
    seed: int = 0
    tol: float = BALANCE_TOL
    shapes: np.ndarray | None = None  # per site, the footprint its grid must hold (None: the point)


@dataclass
class CommunityResult:
    """Grids of one community: geometry, target load and flags per grid, grid of each site."""

    community_id: str
    geoms: list = field(default_factory=list)
    targets: list = field(default_factory=list)
    flags: list = field(default_factory=list)
    site_grid: np.ndarray | None = None
    bound: float = 0.0
    loose: list = field(default_factory=list)
    smoothed: int = 0  # pieces of the community whose grid edges were smoothed


def partition_community(task: CommunityTask) -> CommunityResult:
    """Split ``task.area`` into ``task.k`` grids; each inhabited island gets its own grids.

    An area in several pieces (islands, or pieces a dedicated grid cuts off)
    is handled piece by piece: the k grids are apportioned over the pieces
    holding sites by load (at least one each), so that no grid spans water.
    Pieces without sites are returned in ``loose`` for the caller to join
    to a neighbouring grid (see :func:`attach_loose`). An area without any
    site becomes one grid flagged ``no_buildings``.
    """
    res = CommunityResult(task.community_id, site_grid=np.full(len(task.xy), -1, dtype=np.int64))
    parts = shapely.get_parts(task.area)
    parts = parts[shapely.area(parts) > 0]
    if task.k == 0 or len(parts) == 0:
        return res
    if len(task.xy) == 0:
        res.geoms.append(shapely.set_precision(task.area, PRECISION_M))
        res.targets.append(0.0)
        res.flags.append("no_buildings" + (",island_parts" if len(parts) > 1 else ""))
        return res
    hit_site, hit_part = shapely.STRtree(parts).query(shapely.points(task.xy), predicate="intersects")
    site_part = np.full(len(task.xy), -1, dtype=np.int64)
    site_part[hit_site[::-1]] = hit_part[::-1]
    inhabited = np.unique(site_part[site_part >= 0])
    part_load = np.array([task.weights[site_part == p].sum() for p in inhabited])
    part_sites = np.array([(site_part == p).sum() for p in inhabited])
    ks = apportion(part_load, task.k, np.ones(len(inhabited), dtype=np.int64), part_sites)
    rng = np.random.default_rng(task.seed)
    bounds = []

    for p, k in zip(inhabited, ks, strict=True):
        sites = np.flatnonzero(site_part == p)
        xy, w = task.xy[sites], task.weights[sites]
        tess = tessellate(parts[p], xy, task.barriers)
        cost_graph = tess.graph(len(sites), barrier_discount=1.0 - BARRIER_COST)
        if task.initial is not None:
            labels = adjust_count(task.initial[sites], cost_graph, xy, w, k)
            labels = _kick(balance(labels, cost_graph, w, k, tol=task.tol), cost_graph, w, k, task.tol)
        else:
            labels = _best_of(xy, w, k, tess, cost_graph, rng, task.tol)
        piece_grid = np.where(tess.site >= 0, labels[np.maximum(tess.site, 0)], -1)
        shapes = None if task.shapes is None else task.shapes[sites]
        geoms, smoothed = smooth_grids(tess, piece_grid, k, xy, labels, shapes)
        res.smoothed += int(smoothed)
        base = len(res.geoms)
        res.site_grid[sites] = base + labels
        target = w.sum() / k
        res.geoms.extend(geoms)
        res.targets.extend([target] * k)
        res.flags.extend([""] * k)
        bounds.append(max(balance_bound(w, k), pocket_bound(cost_graph, w, k)))
        res.loose.extend(tess.pieces[tess.site < 0])
    res.loose.extend(parts[np.setdiff1d(np.arange(len(parts)), inhabited)])
    res.bound = max(bounds, default=0.0)
    return res


def _best_of(xy, w, k, tess, cost_graph, rng, tol: float) -> np.ndarray:
    """Bisect, repair and balance from several cut-direction offsets; keep the best plan.

    Best: within ``tol`` if any is (else the smallest deviation), then the
    shortest total grid boundary. Small communities try ``COMPACT_TRIES``
    offsets even when the first is balanced; large ones stop at the first
    balanced plan. Plans off by more than ``KICK_ABOVE`` get forced moves
    (see :func:`refine.balance`, ``kicks``): a short hill climb for each
    restart's plan, then a longer tabu walk from the best one.
    """
    cost = tess.length - (1.0 - BARRIER_COST) * tess.barrier
    target = w.sum() / k if w.sum() > 0 else 1.0

    def key_of(labels):
        dev = np.abs(np.bincount(labels, weights=w, minlength=k) - target).max() / target
        cut = cost[labels[tess.edges[:, 0]] != labels[tess.edges[:, 1]]].sum()
        return (dev > tol, dev if dev > tol else 0.0, cut)

    best, best_key = None, None
    # the axis-aligned directions first, then random offsets
    for attempt, angle0 in enumerate(np.concatenate([[0.0], rng.uniform(0, np.pi / 8, RESTARTS - 1)])):
        # alternate 16 and 8 cut directions: different cuts give heavy buildings other chances to fit
        labels = recursive_bisection(
            xy,
            w,
            k,
            edges=tess.edges,
            cost=cost,
            graph=cost_graph,
            angle0=float(angle0),
            n_directions=16 >> (attempt % 2),
        )
        labels = balance(make_contiguous(labels, cost_graph, w), cost_graph, w, k, tol=tol, smooth_rounds=SMOOTH_ROUNDS)
        labels = _kick(labels, cost_graph, w, k, tol, SMOOTH_ROUNDS, budget=RESTART_KICKS, walk=False)
        key = key_of(labels)
        if best_key is None or key < best_key:
            best, best_key = labels, key
        if not best_key[0] and (len(w) > COMPACT_MAX_SITES or attempt + 1 >= COMPACT_TRIES):
            break
    return _kick(best, cost_graph, w, k, tol, smooth_rounds=SMOOTH_ROUNDS)


def _kick(
    labels, cost_graph, w, k: int, tol: float, smooth_rounds: int = 0, budget: int = KICKS, walk: bool = True
) -> np.ndarray:
    """Rebalance with forced moves (refine.balance ``kicks``) a plan that misses ``KICK_ABOVE``.

    ``budget`` forced moves at most, fewer in large communities (each costs a rebalance).
    """
    target = w.sum() / k
    if k <= 1 or target <= 0:
        return labels
    if np.abs(np.bincount(labels, weights=w, minlength=k) - target).max() <= KICK_ABOVE * target:
        return labels
    kicks = int(min(budget, KICK_WORK * budget // KICKS // max(len(w), 1)))
    return balance(labels, cost_graph, w, k, tol=tol, smooth_rounds=smooth_rounds, kicks=kicks, kick_walk=walk)


def attach_loose(geoms: list, flags: list, pieces: list) -> None:
    """Join each loose piece to the grid sharing the longest edge with it, else to the nearest (flagged).

    A piece that shares no edge with any grid is an island of the community
    without buildings: the grid it joins has several parts and is flagged
    ``island_parts``.
    """
    if not pieces or not geoms:
        return
    for piece in pieces:
        arr = np.array(geoms, dtype=object)
        shared = shapely.length(shapely.intersection(shapely.boundary(arr), shapely.boundary(piece)))
        i = int(np.argmax(shared)) if shared.max() > 0 else int(np.argmin(shapely.distance(arr, piece)))
        geoms[i] = shapely.set_precision(shapely.union(geoms[i], piece), PRECISION_M)
        if shapely.get_num_geometries(geoms[i]) > 1 and "island_parts" not in flags[i]:
            flags[i] = (flags[i] + ",island_parts").strip(",")


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
    """Lower bound on the largest deviation from heavy sites in pockets of heavy neighbours (geometry counted).

    Every grid is a connected set of sites, so the grid holding site ``s``
    deviates by at least ``min |load(C) - T| / T`` over the connected sets
    ``C`` containing ``s``. For each site worth at least
    ``POCKET_MIN_SHARE`` of the target, these sets are enumerated by
    growing ``{s}`` one neighbour at a time; a set at or above ``T`` is not
    grown further (growing only adds load), nor one already further above
    ``T`` than the best set found. Around small sites the sets multiply:
    after ``POCKET_MAX_SETS`` sets the site gives no bound (0). The result
    is the largest bound over the sites: e.g. three towers of 0.42, 0.26 and
    0.21 targets that touch only each other and other towers leave the
    grid holding the first at 0.89 targets or at 1.10 or more.

    Examples
    --------
    Sites of 5, 6 and 5 on a path into 2 grids of target 8: the grid of
    the first site holds 5, 11 or 16, so it is off by at least 3 / 8 (the
    subset-sum bound, ignoring the path, only says 2 / 8: 5 + 5 + 6):

    >>> from scipy import sparse
    >>> path = sparse.diags([1.0, 1.0], [-1, 1], shape=(3, 3)).tocsr()
    >>> pocket_bound(path, np.array([5.0, 6, 5]), 2)
    0.375
    """
    weights = np.asarray(weights, dtype=float)
    total = weights.sum()
    if k <= 1 or total <= 0:
        return 0.0
    t = total / k
    indptr, indices = graph.indptr, graph.indices
    bound = 0.0
    for s in np.flatnonzero(weights >= POCKET_MIN_SHARE * t).tolist():
        best = np.inf
        start = frozenset([s])
        seen = {start}
        todo = [(start, float(weights[s]))]
        while todo and len(seen) <= POCKET_MAX_SETS:
            members, load = todo.pop()
            best = min(best, abs(load - t))
            if load >= t or best <= bound * t:
                continue
            border = {int(u) for m in members for u in indices[indptr[m] : indptr[m + 1]]} - members
            for u in border:
                grown = members | {u}
                if grown not in seen and load + weights[u] - t < best:
                    seen.add(grown)
                    todo.append((grown, load + float(weights[u])))
        if not todo and best > bound * t:
            bound = best / t
    return float(bound)
