"""Tessellate an area by its buildings' footprints, and dissolve labelled cells into grids.

The tessellation follows footprints, as morphological tessellation does
(Fleischmann et al. 2020, *Measuring urban form*, Computers, Environment and
Urban Systems 80; momepy's ``enclosed_tessellation``): each site (a
building's representative point) generates Voronoi cells from its point and
from points every ``SEGMENT_M`` along its footprint's outline shrunk by
``SHRINK_M`` (so that touching buildings part along their shared wall). A point
inside a footprint is nearer its own outline than any other, so the cells of a
site cover its footprint up to the sampling. The cells are clipped to the
area, and barrier lines (roads, rivers) cut them into pieces: the *street
blocks* (enclosures) are the areas that barriers and the area's boundary
enclose. A site *owns* the pieces of its cells in its own block (the one
holding its point) that connect to the piece holding its point; the other
pieces join the neighbouring site with the longest shared edge, preferring
one in the same block. A site's *region* is the union of its pieces; regions
tile the area, and two sites are adjacent when their regions share an edge of
positive length. A grid made of sites that are connected in that graph is one
polygon.

momepy's own function is not used: its cells do not form an exact coverage
(its documentation says so), and the grids must tile each community to the
millimetre (:mod:`gridgis.quality`, rule ``tiling``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from gridgis.repair import polygonal_parts

#: coordinates are rounded to this many decimals (metres) to match shared cell edges
_DECIMALS = 4
#: grid size (metres) grid polygons are snapped to
PRECISION_M = 0.001
#: shortest shared edge (metres) that makes two pieces adjacent: far above the snapping, so grids
#: connected through such edges stay one polygon once snapped
MIN_EDGE_M = 0.01
#: footprints are shrunk by this (metres) before their outline is sampled (momepy's default ``shrink``)
SHRINK_M = 0.4
#: barrier ends this close (metres) to the area's boundary are snapped onto it
SNAP_M = 0.5
#: largest spacing (metres) of the points sampled along a footprint's outline
SEGMENT_M = 3.0


@dataclass
class Tessellation:
    """Pieces of an area and the adjacency of the sites owning them.

    Attributes
    ----------
    pieces
        Polygons tiling the area.
    site
        Site owning each piece (-1: a piece no site reaches, e.g. an island without buildings).
    edges
        ``(m, 2)`` site pairs ``i < j`` whose regions share an edge.
    length
        Shared edge length of each pair (metres).
    barrier
        Part of that length lying on a barrier (the two pieces are on different sides of one).
    block
        Street block of each piece (the part of the area between barriers it lies in).
    site_block
        Street block of each site (the one holding its point); -1 without sites.
    site_area, site_outer
        ``(n,)`` area of each site's region (m²) and the length of its outline on the area's
        boundary (metres): with ``length`` they give any grid's area and perimeter without
        dissolving it.
    blocks
        The street blocks themselves (:func:`street_blocks` of the area); ``block`` indexes them.
    """

    pieces: np.ndarray
    site: np.ndarray
    edges: np.ndarray
    length: np.ndarray
    barrier: np.ndarray
    block: np.ndarray
    site_block: np.ndarray | None = None
    site_area: np.ndarray | None = None
    site_outer: np.ndarray | None = None
    blocks: np.ndarray | None = None

    def cut_lengths(self, labels: np.ndarray, weights: np.ndarray, upper: float) -> tuple[float, float, float]:
        """Inner edges of a plan (``labels``: grid of each site), in metres: their length, the part on
        barriers, and the part inside street blocks whose load alone exceeds ``upper`` (one grid cannot hold
        such a block, so some edge must cross it: at most ``1 - forced / total`` of the edges can follow
        barriers in any plan cutting those blocks along the same length).

        Examples
        --------
        Three sites in a row, a street between the 2nd and the 3rd, one grid per site: the edge 0|1 lies
        inside the block of load 2, which alone exceeds an upper bound of 1.5.

        >>> t = tessellate(shapely.box(0, 0, 3, 1), np.array([[0.5, 0.5], [1.5, 0.5], [2.5, 0.5]]),
        ...                shapely.LineString([(2, -1), (2, 2)]))
        >>> t.cut_lengths(np.array([0, 1, 2]), np.ones(3), 1.5)
        (2.0, 1.0, 1.0)
        """
        if not len(self.edges):
            return 0.0, 0.0, 0.0
        i, j = self.edges[:, 0], self.edges[:, 1]
        cut = labels[i] != labels[j]
        total, on = float(self.length[cut].sum()), float(self.barrier[cut].sum())
        if self.site_block is None or len(self.site_block) != len(labels):
            return total, on, 0.0
        _, block = np.unique(self.site_block, return_inverse=True)
        heavy = np.bincount(block.ravel(), weights=weights) > upper + 1e-9
        inside = cut & heavy[block[i]] & heavy[block[j]]
        return total, on, float((self.length[inside] - self.barrier[inside]).sum())

    def graph(self, n_sites: int, barrier_discount: float = 0.0) -> sparse.csr_matrix:
        """Symmetric site adjacency weighted by shared length (barrier length scaled by ``1 - barrier_discount``)."""
        w = self.length - barrier_discount * self.barrier
        i, j = self.edges[:, 0], self.edges[:, 1]
        return sparse.coo_matrix(
            (np.concatenate([w, w]), (np.concatenate([i, j]), np.concatenate([j, i]))), shape=(n_sites, n_sites)
        ).tocsr()


def tessellate(
    area: shapely.Geometry,
    points: np.ndarray,
    barriers: shapely.Geometry | None = None,
    shapes: np.ndarray | None = None,
) -> Tessellation:
    """Cut ``area`` into the regions of sites (cells of their points and footprints, cut by ``barriers``).

    Parameters
    ----------
    area
        A (Multi)Polygon in a metric CRS.
    points
        ``(n, 2)`` distinct site coordinates inside ``area``.
    barriers
        Lines (roads, rivers) that cut cells, or None.
    shapes
        ``(n,)`` footprint (metric polygon) of each site, None for a point; None: points only.

    Returns
    -------
    Tessellation

    Examples
    --------
    >>> import shapely
    >>> t = tessellate(shapely.box(0, 0, 2, 1), np.array([[0.5, 0.5], [1.5, 0.5]]))
    >>> t.edges.tolist(), t.length.tolist()
    ([[0, 1]], [1.0])

    A long building beside a small one: the edge between them follows the gap, not the midpoint of
    their points (which would cut the long one):

    >>> area = shapely.box(0, 0, 30, 10)
    >>> shapes = np.array([shapely.box(1, 1, 20, 9), shapely.box(22, 4, 24, 6)])
    >>> t = tessellate(area, np.array([[10.5, 5], [23, 5]]), shapes=shapes)
    >>> bool(shapely.covers(shapely.union_all(t.pieces[t.site == 0]), shapes[0]))
    True
    """
    points = np.asarray(points, dtype=float).reshape(-1, 2)
    n = len(points)
    empty = np.zeros((0, 2), dtype=np.int64), np.zeros(0), np.zeros(0)
    if n == 0:
        parts = shapely.get_parts(area)
        return Tessellation(
            parts,
            np.full(len(parts), -1, dtype=np.int64),
            *empty,
            np.zeros(len(parts), np.int64),
            np.zeros(0, np.int64),
            blocks=street_blocks(area, barriers),
        )
    gen_xy, gen_site = _generators(area, points, shapes)
    cells = _voronoi_cells(area, gen_xy)
    cells, cell_of, block, blocks = _cut_by_barriers(area, cells, gen_xy, barriers)
    pieces, index = shapely.get_parts(cells, return_index=True)
    cell_of, block = cell_of[index], block[index]
    keep = shapely.area(pieces) > 0
    pieces, cell_of, block = pieces[keep], cell_of[keep], block[keep]
    pa, pb, plen = _shared_edges(pieces)
    real = plen >= MIN_EDGE_M
    pa, pb, plen = pa[real], pb[real], plen[real]
    site, site_block = _owners(pieces, cell_of, gen_site, block, points, pa, pb)
    site = _attach_orphans(pieces, site, block, pa, pb, plen)
    if shapes is not None:
        pieces, site, block, changed = _carve_footprints(pieces, site, block, shapes)
        if changed:
            pa, pb, plen = _shared_edges(pieces)
            real = plen >= MIN_EDGE_M
            pa, pb, plen = pa[real], pb[real], plen[real]
    sa, sb = site[pa], site[pb]
    cross = (sa != sb) & (sa >= 0) & (sb >= 0)
    lo, hi = np.minimum(sa[cross], sb[cross]), np.maximum(sa[cross], sb[cross])
    on_barrier = (block[pa[cross]] != block[pb[cross]]).astype(float) * plen[cross]
    site_area, site_outer = _site_measures(area, pieces, site, n)
    if len(lo) == 0:
        return Tessellation(pieces, site, *empty, block, site_block, site_area, site_outer, blocks)
    key = lo * n + hi
    uniq, inv = np.unique(key, return_inverse=True)
    length = np.bincount(inv, weights=plen[cross])
    barrier = np.bincount(inv, weights=on_barrier)
    edges = np.column_stack([uniq // n, uniq % n]).astype(np.int64)
    return Tessellation(pieces, site, edges, length, barrier, block, site_block, site_area, site_outer, blocks)


def _site_measures(
    area: shapely.Geometry, pieces: np.ndarray, site: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Area of each site's region, and the length of its outline on the area's boundary.

    Measured on the boundary itself rather than as the outline less the shared edges: shared edges
    that are not exactly noded (footprints carved out of cells) would count twice.
    """
    owned = site >= 0
    sizes = np.bincount(site[owned], weights=shapely.area(pieces[owned]), minlength=n)
    ring = shapely.boundary(area)
    shapely.prepare(ring)
    touch = np.flatnonzero(owned & shapely.intersects(pieces, ring))
    on_ring = shapely.length(shapely.intersection(shapely.boundary(pieces[touch]), ring, grid_size=PRECISION_M))
    return sizes, np.bincount(site[touch], weights=on_ring, minlength=n)


def _generators(area: shapely.Geometry, points: np.ndarray, shapes: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Voronoi generators: every site's point (first, so it wins a tie), then points along its shrunk outline."""
    n = len(points)
    if shapes is None or n < 2:
        return points, np.arange(n)
    shapes = np.asarray(shapes, dtype=object)
    has = np.flatnonzero(~(shapely.is_missing(shapes) | shapely.is_empty(shapes)))
    if not len(has):
        return points, np.arange(n)
    shrunk = shapely.buffer(shapes[has], -SHRINK_M, join_style="mitre")
    collapsed = shapely.is_empty(shrunk)
    shrunk[collapsed] = shapes[has][collapsed]
    rings = shapely.segmentize(shapely.boundary(shrunk), SEGMENT_M)
    xy, owner = shapely.get_coordinates(rings, return_index=True)
    site = has[owner]
    inside = shapely.contains_xy(area, xy[:, 0], xy[:, 1])
    xy, site = xy[inside], site[inside]
    gen = np.concatenate([points, xy])
    gen_site = np.concatenate([np.arange(n), site])
    _, first = np.unique(np.round(gen, _DECIMALS), axis=0, return_index=True)
    first = np.sort(first)
    return gen[first], gen_site[first]


def _voronoi_cells(area: shapely.Geometry, points: np.ndarray) -> np.ndarray:
    if len(points) == 1:
        return np.array([area], dtype=object)
    x0, y0, x1, y1 = shapely.bounds(area)
    pad = max(x1 - x0, y1 - y0) + 1.0
    cells = shapely.get_parts(
        shapely.voronoi_polygons(
            shapely.multipoints(points), extend_to=shapely.box(x0 - pad, y0 - pad, x1 + pad, y1 + pad), ordered=True
        )
    )
    shapely.prepare(area)
    inside = shapely.contains_properly(area, cells)
    cells[~inside] = shapely.intersection(cells[~inside], area)
    # clipping a cell to a finely drawn outline can leave it self-intersecting (seen in Jiangmen's
    # synthetic 440703001003): cut by blocks, such a cell overlaps its neighbours and leaves a gap
    bad = ~shapely.is_valid(cells)
    if bad.any():
        cells[bad] = polygonal_parts(shapely.make_valid(cells[bad]))
    return cells


def street_blocks(area: shapely.Geometry, barriers: shapely.Geometry | None) -> np.ndarray:
    """The street blocks of ``area``: the polygons that ``barriers`` (lines) and the area's boundary enclose.

    Both in one metric CRS; without barriers crossing it the area's own parts are its blocks.
    The partition cuts Voronoi cells by these blocks, and writes them as the plan's ``blocks`` layer
    (:mod:`gridgis.partition.blocks`) so that a planner can move a whole block.
    """
    lines = _barrier_lines(area, barriers)
    return shapely.get_parts(area) if lines is None else _enclosed(area, lines)


def _enclosed(area: shapely.Geometry, lines: shapely.Geometry) -> np.ndarray:
    noded = shapely.union_all([shapely.boundary(area), lines])
    blocks = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    return blocks[shapely.contains(area, shapely.point_on_surface(blocks))]


def _barrier_lines(area: shapely.Geometry, barriers: shapely.Geometry | None) -> shapely.Geometry | None:
    lines = None if barriers is None else shapely.intersection(barriers, area)
    if lines is None or shapely.is_empty(lines) or shapely.length(lines) == 0:
        return None
    # a street ending on a boundary drawn along another street stops short of it or overshoots by a
    # hair once reprojected: snap its ends to the boundary so that it closes its blocks
    ring = shapely.boundary(area)
    return _overshoot(shapely.snap(lines, ring, SNAP_M), ring, SNAP_M)


def _overshoot(lines: shapely.Geometry, ring: shapely.Geometry, reach: float) -> shapely.Geometry:
    """``lines`` with each end within ``reach`` of ``ring`` carried ``reach`` further, across it.

    A street clipped to the area (or snapped onto its boundary) ends on the boundary only to within
    floating point: the union that nodes streets and boundary then leaves it a dangle, and the blocks
    on both sides of it one block. Crossing the boundary, it is noded exactly.
    """
    parts = shapely.get_parts(lines)
    parts = parts[(shapely.get_type_id(parts) == 1) & (shapely.get_num_coordinates(parts) >= 2)]
    if not len(parts):
        return lines
    xy, index = shapely.get_coordinates(parts, return_index=True)
    first = np.searchsorted(index, np.arange(len(parts)))
    last = np.append(first[1:], len(xy)) - 1
    for end, inner in ((first, first + 1), (last, last - 1)):
        near = shapely.dwithin(shapely.points(xy[end]), ring, reach)
        step = xy[end] - xy[inner]
        norm = np.hypot(step[:, 0], step[:, 1])
        ok = near & (norm > 0)
        xy[end[ok]] += step[ok] / norm[ok, None] * reach
    return shapely.multilinestrings(shapely.linestrings(xy, indices=index))


def _cut_by_barriers(
    area: shapely.Geometry, cells: np.ndarray, points: np.ndarray, barriers: shapely.Geometry | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split cells along barrier lines; return (pieces, cell of each piece, block of each piece, the blocks)."""
    n = len(cells)
    ident = np.arange(n)
    lines = _barrier_lines(area, barriers)
    blocks = shapely.get_parts(area) if lines is None else _enclosed(area, lines)
    if lines is None or len(blocks) <= 1:
        return cells, ident, np.zeros(n, dtype=np.int64), blocks
    tree = shapely.STRtree(blocks)
    cut = np.zeros(n, dtype=bool)
    cut[shapely.STRtree(cells).query(shapely.get_parts(lines), predicate="intersects")[1]] = True
    # cells away from every barrier: one block, the one holding the site
    pos, blk = tree.query(shapely.points(points[~cut]), predicate="intersects")
    block = np.zeros(n, dtype=np.int64)
    first = np.unique(pos, return_index=True)
    block[np.flatnonzero(~cut)[first[0]]] = blk[first[1]]
    cell_idx, blk_idx = tree.query(cells[cut], predicate="intersects")
    cell_idx = np.flatnonzero(cut)[cell_idx]
    split = shapely.intersection(cells[cell_idx], blocks[blk_idx])
    return (
        np.concatenate([cells[~cut], split]),
        np.concatenate([ident[~cut], cell_idx]),
        np.concatenate([block[~cut], blk_idx]),
        blocks,
    )


def _owners(
    pieces: np.ndarray,
    cell_of: np.ndarray,
    gen_site: np.ndarray,
    block: np.ndarray,
    points: np.ndarray,
    pa: np.ndarray,
    pb: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Site owning each piece (-1: none yet), and the block of each site.

    A site's anchor is the largest piece of its point's cell touching the point (else its point's
    cell's largest piece); the site owns the pieces of its cells connected to the anchor through
    its own pieces within the anchor's block.
    """
    n = len(points)
    piece_site = gen_site[cell_of]
    anchor_cell = cell_of < n  # the first n generators are the sites' points
    touches = anchor_cell & shapely.intersects(pieces, shapely.points(points[np.minimum(cell_of, n - 1)]))
    area = shapely.area(pieces)
    cand = np.flatnonzero(anchor_cell)
    order = cand[np.lexsort((-area[cand], ~touches[cand], cell_of[cand]))]
    first = order[np.unique(cell_of[order], return_index=True)[1]]
    anchor = np.full(n, -1, dtype=np.int64)
    anchor[cell_of[first]] = first
    site_block = np.where(anchor >= 0, block[np.maximum(anchor, 0)], -1)
    m = len(pieces)
    same = (piece_site[pa] == piece_site[pb]) & (block[pa] == block[pb])
    graph = sparse.coo_matrix((np.ones(int(same.sum())), (pa[same], pb[same])), shape=(m, m))
    _, comp = connected_components(graph, directed=False)
    site = np.full(m, -1, dtype=np.int64)
    has = anchor >= 0
    anchor_comp = np.full(n, -1, dtype=np.int64)
    anchor_comp[has] = comp[anchor[has]]
    owned = anchor_comp[piece_site] == comp
    site[owned] = piece_site[owned]
    return site, site_block


def _shared_edges(pieces: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of pieces sharing ring segments (exactly equal after rounding), with the shared length."""
    rings, owner = shapely.get_rings(pieces, return_index=True)
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[1:] == ring[:-1]
    seg = np.round(np.column_stack([coords[:-1][same], coords[1:][same]]), _DECIMALS)
    who = owner[ring[:-1][same]]
    flip = (seg[:, 0] > seg[:, 2]) | ((seg[:, 0] == seg[:, 2]) & (seg[:, 1] > seg[:, 3]))
    seg[flip] = seg[flip][:, [2, 3, 0, 1]]
    _, inv, counts = np.unique(seg, axis=0, return_inverse=True, return_counts=True)
    inv = inv.ravel()
    shared = counts[inv] == 2
    order = np.argsort(inv[shared], kind="stable")
    idx = np.flatnonzero(shared)[order]
    a, b = who[idx[0::2]], who[idx[1::2]]
    seglen = np.hypot(seg[idx[0::2], 2] - seg[idx[0::2], 0], seg[idx[0::2], 3] - seg[idx[0::2], 1])
    keep = a != b
    a, b, seglen = a[keep], b[keep], seglen[keep]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    m = len(pieces)
    uniq, inv2 = np.unique(lo * m + hi, return_inverse=True)
    return uniq // m, uniq % m, np.bincount(inv2, weights=seglen)


def _carve_footprints(
    pieces: np.ndarray, site: np.ndarray, block: np.ndarray, shapes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Give every site the whole of its footprint: the part of another site's piece inside it becomes its own.

    The sampled outlines leave slivers of a footprint in a neighbour's cells
    (touching walls, sharp corners); those parts are cut out of the
    neighbour's piece (one overlay per piece, so both sides share the same
    nodes) and become pieces of the footprint's site. Where footprints of two
    sites overlap, the first site keeps the overlap.
    """
    shapes = np.asarray(shapes, dtype=object)
    has = np.flatnonzero(~(shapely.is_missing(shapes) | shapely.is_empty(shapes)))
    if not len(has):
        return pieces, site, block, False
    fi, pi = shapely.STRtree(pieces).query(shapes[has], predicate="intersects")
    fs = has[fi]
    foreign = site[pi] != fs
    fs, pi = fs[foreign], pi[foreign]
    if not len(pi):
        return pieces, site, block, False
    # only real overlaps, not shared edges
    overlap = shapely.area(shapely.intersection(pieces[pi], shapes[fs])) > PRECISION_M**2
    fs, pi = fs[overlap], pi[overlap]
    if not len(pi):
        return pieces, site, block, False
    order = np.lexsort((fs, pi))
    fs, pi = fs[order], pi[order]
    new_pieces, new_site, new_block = [], [], []
    rest = pieces.copy()
    for p in np.unique(pi).tolist():
        taken = shapely.Polygon()
        for f in fs[pi == p].tolist():
            part = shapely.difference(shapely.intersection(pieces[p], shapes[f]), taken)
            taken = shapely.union(taken, part)
            for q in shapely.get_parts(part):
                if shapely.get_type_id(q) == 3 and shapely.area(q) > 0:
                    new_pieces.append(q)
                    new_site.append(f)
                    new_block.append(block[p])
        rest[p] = shapely.difference(pieces[p], taken)
    left, index = shapely.get_parts(rest, return_index=True)
    keep = (shapely.get_type_id(left) == 3) & (shapely.area(left) > 0)
    left, index = left[keep], index[keep]
    pieces = np.concatenate([left, np.array(new_pieces, dtype=object)])
    site = np.concatenate([site[index], np.array(new_site, dtype=np.int64)])
    block = np.concatenate([block[index], np.array(new_block, dtype=np.int64)])
    return pieces, site, block, True


def _attach_orphans(
    pieces: np.ndarray, site: np.ndarray, block: np.ndarray, pa: np.ndarray, pb: np.ndarray, plen: np.ndarray
) -> np.ndarray:
    """Give each piece without a site the site of its neighbour sharing the longest edge (same block first)."""
    site = site.copy()
    a = np.concatenate([pa, pb])
    b = np.concatenate([pb, pa])
    score = np.concatenate([plen, plen]) * np.where(block[a] == block[b], 1.0, 1e-6)
    for _ in range(len(pieces)):
        open_ = (site[a] < 0) & (site[b] >= 0)
        if not open_.any():
            break
        oa, ob, os_ = a[open_], b[open_], score[open_]
        order = np.lexsort((-os_, oa))
        first = order[np.unique(oa[order], return_index=True)[1]]
        site[oa[first]] = site[ob[first]]
    orphans = np.flatnonzero(site < 0)
    if len(orphans) and (site >= 0).any():
        # rounding missed a shared edge: measure it exactly
        owned = np.flatnonzero(site >= 0)
        tree = shapely.STRtree(pieces[owned])
        for _ in range(len(orphans)):
            left = np.flatnonzero(site < 0)
            if not len(left):
                break
            oi, ni = tree.query(pieces[left], predicate="intersects")
            if not len(oi):
                break
            shared = shapely.length(shapely.intersection(pieces[left[oi]], pieces[owned[ni]]))
            ok = shared >= MIN_EDGE_M
            if not ok.any():
                break
            oi, ni, shared = oi[ok], ni[ok], shared[ok]
            order = np.lexsort((-shared, oi))
            first = order[np.unique(oi[order], return_index=True)[1]]
            site[left[oi[first]]] = site[owned[ni[first]]]
            owned = np.flatnonzero(site >= 0)
            tree = shapely.STRtree(pieces[owned])
    return site


def dissolve(pieces: np.ndarray, label: np.ndarray, k: int) -> np.ndarray:
    """Union the pieces of each label ``0..k-1`` (pieces labelled -1 are left out)."""
    out = np.empty(k, dtype=object)
    ok = label >= 0
    order = np.argsort(label[ok], kind="stable")
    labels = label[ok][order]
    geoms = pieces[ok][order]
    bounds = np.searchsorted(labels, np.arange(k + 1))
    for g in range(k):
        group = geoms[bounds[g] : bounds[g + 1]]
        out[g] = _union(group)
    # snapping to a millimetre grid removes sub-micrometre spikes that turn invalid once reprojected;
    # shared vertices snap alike, so the grids still tile the area
    return shapely.set_precision(out, PRECISION_M)


def _union(group: np.ndarray) -> shapely.Geometry:
    """Union of pieces: the fast coverage union when they are exactly noded, the general one otherwise."""
    if not len(group):
        return shapely.Polygon()
    try:
        merged = shapely.coverage_union_all(group)
        if shapely.is_valid(merged):
            return merged
    except shapely.errors.GEOSException:
        pass
    # a piece clipped around footprints can come out self-intersecting; GEOS then cannot union the
    # group at all ("unable to assign free hole to a shell"), so invalid pieces are repaired first
    bad = ~shapely.is_valid(group)
    if bad.any():
        group = group.copy()
        group[bad] = polygonal_parts(shapely.make_valid(group[bad]))
    try:
        return shapely.union_all(group)
    except shapely.errors.GEOSException:
        # pieces cut around footprints can be off by far less than a millimetre: snap-round them
        return shapely.union_all(group, grid_size=PRECISION_M)

