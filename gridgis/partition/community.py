"""Partition one community (in a metric CRS) into k contiguous grids of balanced load.

This is the unit of parallel work: it takes plain arrays and geometries and
returns plain arrays and geometries, so it pickles cheaply to a worker process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from gridgis.partition.apportion import apportion
from gridgis.partition.bisect import recursive_bisection
from gridgis.partition.bounds import balance_bound, pocket_bound
from gridgis.partition.keep import adjust_count
from gridgis.partition.refine import balance, make_contiguous, shape
from gridgis.partition.smooth import smooth_grids
from gridgis.partition.tessellate import PRECISION_M, street_blocks, tessellate

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
#: rounds of splitting street blocks while a grid misses the tolerance, and blocks split per grid and round
SPLIT_ROUNDS = 6
SPLIT_PER_ROUND = 2
#: communities up to this many units try every restart when plans are shaped (see _best_of)
SHAPE_TRIES_MAX_UNITS = 300
#: communities up to this many units try PERTURB_TRIES forced moves after shaping (see _perturbed)
PERTURB_MAX_UNITS = 300
PERTURB_TRIES = 30
#: weight of cut edges off the streets against compactness when trading balance (see refine.shape)
STREET_WEIGHT = 2.0


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
    tolerance: float = 0.10  # deviation from the mean a grid may keep to stay a union of whole street blocks


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
    blocks: int = 0  # street blocks (areas barriers and the boundary enclose) holding sites
    split_blocks: int = 0  # of those, blocks shared by several grids
    whole_blocks: int = 0  # grids that are unions of whole street blocks
    street_blocks: list = field(default_factory=list)  # the blocks themselves (metric polygons), for the plan
    # inner grid edges over the tessellation (metres): all, on barriers, inside blocks too heavy for one grid
    cut_m: float = 0.0
    cut_on_barriers_m: float = 0.0
    cut_forced_m: float = 0.0


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
    if task.k == 0 or len(parts) == 0 or len(task.xy) == 0:
        res.street_blocks = _positive(street_blocks(task.area, task.barriers))
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
    # bounds against the community mean: a piece's grids average the piece's mean instead
    mean = task.weights.sum() / task.k if task.weights.sum() > 0 else 0.0
    bounds = []
    for p, k in zip(inhabited, ks, strict=True):
        sites = np.flatnonzero(site_part == p)
        xy, w = task.xy[sites], task.weights[sites]
        shapes = None if task.shapes is None else task.shapes[sites]
        tess = tessellate(parts[p], xy, task.barriers, shapes)
        res.street_blocks.extend(_positive(tess.blocks))
        cost_graph = tess.graph(len(sites), barrier_discount=1.0 - BARRIER_COST)
        if task.initial is not None:
            labels = adjust_count(task.initial[sites], cost_graph, xy, w, k)
            labels = _kick(balance(labels, cost_graph, w, k, tol=task.tol), cost_graph, w, k, task.tol)
        else:
            labels = by_blocks(xy, w, k, tess, cost_graph, rng, task.tol, task.tolerance)
        _count_blocks(res, tess.site_block, labels, k)
        total, on, forced = tess.cut_lengths(labels, w, (1 + task.tolerance) * mean)
        res.cut_m += total
        res.cut_on_barriers_m += on
        res.cut_forced_m += forced
        piece_grid = np.where(tess.site >= 0, labels[np.maximum(tess.site, 0)], -1)
        geoms, smoothed = smooth_grids(tess, piece_grid, k, xy, labels, shapes)
        res.smoothed += int(smoothed)
        base = len(res.geoms)
        res.site_grid[sites] = base + labels
        target = w.sum() / k
        res.geoms.extend(geoms)
        res.targets.extend([target] * k)
        res.flags.extend([""] * k)
        piece_bound = max(balance_bound(w, k), pocket_bound(cost_graph, w, k))
        if mean > 0:
            # some grid of the piece is at or above its mean, some at or below; one is piece_bound off it
            shift = abs(target - mean)
            bounds.append(max(shift, piece_bound * target - shift) / mean)
        res.loose.extend(tess.pieces[tess.site < 0])
    empty = parts[np.setdiff1d(np.arange(len(parts)), inhabited)]
    res.loose.extend(empty)
    for part in empty:
        res.street_blocks.extend(_positive(street_blocks(part, task.barriers)))
    res.bound = max(bounds, default=0.0)
    return res


def _positive(blocks: np.ndarray) -> list:
    return list(blocks[shapely.area(blocks) > 0])


def by_blocks(xy, w, k, tess, cost_graph, rng, tol: float, tolerance: float) -> np.ndarray:
    """Grid of each site: unions of whole street blocks within ``tolerance`` of the mean, splitting as few as needed.

    The sites of a street block (see :func:`tessellate`) move as one unit, so
    grid edges run along barriers. A block heavier than the mean by more than
    ``tolerance`` is split into its sites from the start (it cannot be a grid
    of the range), and so are the heaviest blocks while there are fewer units
    than grids. The units are bisected, repaired and balanced (see
    :func:`_best_of`; among plans within ``tolerance`` the shortest cut);
    while a grid misses the mean by more than ``tolerance``, up to
    ``SPLIT_PER_ROUND`` whole blocks of it (or of its neighbours, touching it)
    are split into their sites, heaviest first, and the plan is rebalanced,
    for at most ``SPLIT_ROUNDS`` rounds; forced moves follow if it still
    misses. Where the area has streets (more than one block), each
    restart's plan is shaped (:func:`refine.shape`: balance within
    ``tolerance`` traded for compactness and cut edges on streets) and the
    best objective is kept; with few units, forced moves of whole blocks
    and an iterated local search (:func:`_perturbed`) come first, and the
    final plan is shaped again. Without streets, a plan of whole blocks is
    balanced further by moving whole blocks (towards ``tol``).

    Returns ``(n,)`` grid ``0..k-1`` of each site.
    """
    n = len(w)
    target = w.sum() / k if w.sum() > 0 else 0.0
    block = tess.site_block if tess.site_block is not None and len(tess.site_block) == n else np.zeros(n, np.int64)
    _, block = np.unique(block, return_inverse=True)
    block = block.ravel()
    n_blocks = int(block.max()) + 1 if n else 0
    block_load = np.bincount(block, weights=w, minlength=n_blocks)
    split = np.zeros(n_blocks, dtype=bool)
    if target > 0:
        split |= block_load > (1 + tolerance) * target
    sizes = np.bincount(block, minlength=n_blocks)
    while True:
        units = np.count_nonzero(~split) + int(sizes[split].sum())
        room = np.flatnonzero(~split & (sizes > 1))
        if units >= k or not len(room):
            break
        split[room[np.argmax(block_load[room])]] = True
    labels = None
    shaping = n_blocks > 1 and tess.site_area is not None and len(tess.site_area) == n and k > 1
    for _ in range(SPLIT_ROUNDS + 1):
        unit = _units(block, split, cost_graph)
        m = int(unit.max()) + 1
        member = sparse.csr_matrix((np.ones(n), (np.arange(n), unit)), shape=(n, m))
        graph = _lift(member, cost_graph)
        uw = np.bincount(unit, weights=w, minlength=m)
        uxy = (member.T @ (xy * (w + 1e-9)[:, None])) / (uw + 1e-9 * np.bincount(unit, minlength=m))[:, None]
        upper = sparse.triu(graph, k=1).tocoo()
        edges, cost = np.column_stack([upper.row, upper.col]).astype(np.int64), upper.data
        if labels is None:
            # among the plans within the tolerance, the best shaped one (compact, edges on streets)
            finish = _shaper(member, unit, tess, uw, k, max(tol, tolerance)) if shaping else None
            ulabels = _best_of(uxy, uw, k, edges, cost, graph, rng, max(tol, tolerance), kicks=False, finish=finish)
            if finish is not None and m <= SHAPE_TRIES_MAX_UNITS:
                # few units: forced moves of whole blocks before any block is split
                kicked = _kick(ulabels, graph, uw, k, max(tol, tolerance))
                if kicked is not ulabels:
                    ulabels = finish(kicked)[0]
            if finish is not None and m <= PERTURB_MAX_UNITS:
                ulabels = _perturbed(ulabels, graph, uw, k, finish, rng, max(tol, tolerance))
        else:
            ulabels = np.zeros(m, dtype=np.int64)
            ulabels[unit] = labels
            # within the tolerance is enough: each further move of a lone site costs a street edge
            ulabels = make_contiguous(ulabels, graph, uw)
            ulabels = balance(ulabels, graph, uw, k, tol=tolerance, smooth_rounds=SMOOTH_ROUNDS)
        labels = ulabels[unit]
        if target <= 0 or k <= 1:
            break
        load = np.bincount(labels, weights=w, minlength=k)
        off = np.flatnonzero(np.abs(load - target) > tolerance * target + 1e-9)
        if not len(off):
            if not split.any() and not shaping:
                # whole blocks only: the balance that moving whole blocks gives, every edge still on a street
                labels = balance(ulabels, graph, uw, k, tol=tol)[unit]
            break
        chosen = _blocks_to_split(off, labels, block, split, block_load, cost_graph)
        if not len(chosen):
            break
        split[chosen] = True
    if target > 0 and k > 1:
        load = np.bincount(labels, weights=w, minlength=k)
        if (np.abs(load - target) > tolerance * target + 1e-9).any():
            # still off once no block is left to split: forced moves (refine.balance ``kicks``)
            labels = _kick(ulabels, graph, uw, k, max(tol, tolerance), smooth_rounds=SMOOTH_ROUNDS)[unit]
    if shaping:
        ulabels = np.zeros(m, dtype=np.int64)
        ulabels[unit] = labels
        labels = _shaper(member, unit, tess, uw, k, max(tol, tolerance))(ulabels)[0][unit]
    return labels


def _perturbed(ulabels, graph, uw, k: int, finish, rng, band: float) -> np.ndarray:
    """Iterated local search: a random boundary unit forced across, the plan repaired and shaped, kept if better.

    Shaping stops at a local optimum of single moves and exchanges; a forced
    move (``PERTURB_TRIES`` of them, each from the best plan so far) can leave it.
    Only plans with every load within ``band`` of the mean are kept.
    """
    target = uw.sum() / k if uw.sum() > 0 else 1.0

    def within(lab):
        return np.abs(np.bincount(lab, weights=uw, minlength=k) - target).max() <= band * target + 1e-9

    best, best_obj = finish(ulabels)
    if not within(best):
        return best
    coo = graph.tocoo()
    for _ in range(PERTURB_TRIES):
        cross = np.flatnonzero(best[coo.row] != best[coo.col])
        if not len(cross):
            break
        i = cross[rng.integers(len(cross))]
        lab = best.copy()
        lab[coo.row[i]] = best[coo.col[i]]
        lab = make_contiguous(lab, graph, uw)
        if len(np.unique(lab)) < k:
            continue
        lab, obj = finish(lab)
        if obj > best_obj + 1e-9 and within(lab):
            best, best_obj = lab, obj
    return best


def _lift(member: sparse.csr_matrix, site_graph: sparse.csr_matrix) -> sparse.csr_matrix:
    """A site graph summed over units (``member``: site x unit), without self-loops."""
    g = (member.T @ site_graph @ member).tolil()
    g.setdiag(0)
    g = g.tocsr()
    g.eliminate_zeros()
    return g


def _shaper(member, unit, tess, uw, k: int, band: float):
    """Function of a unit plan: the plan traded within ``band`` (see :func:`refine.shape`) and its objective."""
    n, m = member.shape
    length, inner = _lift(member, tess.graph(n)), _lift(member, tess.graph(n, barrier_discount=1.0))
    area = np.bincount(unit, weights=tess.site_area, minlength=m)
    outer = np.bincount(unit, weights=tess.site_outer, minlength=m)

    def finish(ulabels):
        return shape(
            ulabels, length, inner, area, outer, uw, k, band=band, street_weight=STREET_WEIGHT, with_objective=True
        )

    return finish


def _units(block: np.ndarray, split: np.ndarray, graph: sparse.csr_matrix) -> np.ndarray:
    """Unit of each site: its block's (each connected piece of it in ``graph``), or its own when the block is split.

    A unit must be connected for a plan connected at the level of units to be connected at the level of sites.
    """
    n = len(block)
    whole = ~split[block]
    _, unit_whole = np.unique(block[whole], return_inverse=True)
    unit = np.empty(n, dtype=np.int64)
    n_whole = int(unit_whole.max()) + 1 if whole.any() else 0
    unit[whole] = unit_whole.ravel()
    unit[~whole] = n_whole + np.arange(int((~whole).sum()))
    coo = graph.tocoo()
    same = unit[coo.row] == unit[coo.col]
    inside = sparse.coo_matrix((np.ones(int(same.sum())), (coo.row[same], coo.col[same])), shape=(n, n))
    return connected_components(inside, directed=False)[1].astype(np.int64)


def _blocks_to_split(off, labels, block, split, block_load, cost_graph) -> np.ndarray:
    """Whole blocks of the grids ``off`` their mean, or of neighbours touching them: the heaviest few per grid."""
    coo = cost_graph.tocoo()
    cross = labels[coo.row] != labels[coo.col]
    chosen: list[int] = []
    for g in off.tolist():
        mine = np.unique(block[labels == g])
        touching = np.unique(block[coo.col[cross & (labels[coo.row] == g)]])
        cand = np.setdiff1d(np.union1d(mine, touching), np.flatnonzero(split))
        cand = cand[np.bincount(block, minlength=len(split))[cand] > 1]
        cand = cand[np.argsort(-block_load[cand], kind="stable")][:SPLIT_PER_ROUND]
        chosen.extend(cand.tolist())
    return np.unique(np.array(chosen, dtype=np.int64))


def _count_blocks(res: CommunityResult, site_block, labels: np.ndarray, k: int) -> None:
    """Street blocks holding sites, blocks shared by several grids, and grids made of whole blocks."""
    if site_block is None or not len(labels):
        return
    pairs = np.unique(np.column_stack([site_block, labels]), axis=0)
    blocks, grids_per_block = np.unique(pairs[:, 0], return_counts=True)
    split = set(blocks[grids_per_block > 1].tolist())
    res.blocks += len(blocks)
    res.split_blocks += len(split)
    broken = np.unique(pairs[np.isin(pairs[:, 0], list(split)), 1])
    res.whole_blocks += k - len(broken)


def _best_of(xy, w, k, edges, cost, cost_graph, rng, tol: float, kicks: bool = True, finish=None) -> np.ndarray:
    """Bisect, repair and balance from several cut-direction offsets; keep the best plan.

    Best: within ``tol`` if any is (else the smallest deviation), then the
    shortest total grid boundary. Small communities try ``COMPACT_TRIES``
    offsets even when the first is balanced; large ones stop at the first
    balanced plan. Plans off by more than ``KICK_ABOVE`` get forced moves
    (see :func:`refine.balance`, ``kicks``): a short hill climb for each
    restart's plan, then a longer tabu walk from the best one (``kicks=False``: none).
    ``finish``: a function of a plan returning the plan improved and its
    objective (see :func:`_shaper`), applied to each restart's plan; the
    highest objective then replaces the shortest cut, and small communities
    (up to ``SHAPE_TRIES_MAX_UNITS`` units) try every restart.
    """
    target = w.sum() / k if w.sum() > 0 else 1.0
    tries = RESTARTS if finish is not None and len(w) <= SHAPE_TRIES_MAX_UNITS else COMPACT_TRIES

    def key_of(labels, objective=None):
        dev = np.abs(np.bincount(labels, weights=w, minlength=k) - target).max() / target
        if objective is None:
            objective = -cost[labels[edges[:, 0]] != labels[edges[:, 1]]].sum()
        return (dev > tol, dev if dev > tol else 0.0, -objective)

    best, best_key = None, None
    # the axis-aligned directions first, then random offsets
    for attempt, angle0 in enumerate(np.concatenate([[0.0], rng.uniform(0, np.pi / 8, RESTARTS - 1)])):
        # alternate 16 and 8 cut directions: different cuts give heavy buildings other chances to fit
        labels = recursive_bisection(
            xy,
            w,
            k,
            edges=edges,
            cost=cost,
            graph=cost_graph,
            angle0=float(angle0),
            n_directions=16 >> (attempt % 2),
        )
        labels = balance(make_contiguous(labels, cost_graph, w), cost_graph, w, k, tol=tol, smooth_rounds=SMOOTH_ROUNDS)
        if kicks:
            labels = _kick(labels, cost_graph, w, k, tol, SMOOTH_ROUNDS, budget=RESTART_KICKS, walk=False)
        if finish is not None:
            labels, objective = finish(labels)
            key = key_of(labels, objective)
        else:
            key = key_of(labels)
        if best_key is None or key < best_key:
            best, best_key = labels, key
        if not best_key[0] and (len(w) > COMPACT_MAX_SITES or attempt + 1 >= tries):
            break
    return _kick(best, cost_graph, w, k, tol, smooth_rounds=SMOOTH_ROUNDS) if kicks else best


def _kick(
    labels, cost_graph, w, k: int, tol: float, smooth_rounds: int = 0, budget: int = KICKS, walk: bool = True
) -> np.ndarray:
    """Rebalance with forced moves (refine.balance ``kicks``) a plan that misses ``KICK_ABOVE``.

    ``budget`` forced moves at most, fewer in large communities (each costs a rebalance).
    """
    target = w.sum() / k
    if k <= 1 or target <= 0:
        return labels
    if np.abs(np.bincount(labels, weights=w, minlength=k) - target).max() <= max(KICK_ABOVE, tol) * target:
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
