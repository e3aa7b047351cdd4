"""Smooth grid edges: simplify the shared edges of a grid coverage, keeping every rule.

Grids dissolved from Voronoi cells have zigzag edges (each step a cell edge),
which costs them compactness and makes them hard to walk. The shared edges are
simplified the same way on both sides (GEOS coverage simplification,
Visvalingam-Whyatt), inside each barrier block separately, so that edges on
roads and rivers and the community boundary stay exactly where they were and
the grids still tile the area. A building the simpler edge would cut off (its
footprint no longer inside its grid) gets back the sliver between the old and
the new edge it stands in; a grid that this leaves in pieces is mended (see
:func:`_join_strays`). If the result still breaks a rule (a grid in more
pieces, a building or a site outside its grid, area lost or overlapping), the
tolerance is halved and the whole is tried again; after ``RETRIES`` halvings
the zigzag grids are kept.
"""

from __future__ import annotations

import numpy as np
import shapely

from gridgis.partition.tessellate import PRECISION_M, Tessellation, dissolve

#: simplification tolerance, in units of the typical site spacing ``sqrt(area / sites)``
TOLERANCE = 1.0
#: times the tolerance is halved when a smoothed plan breaks a rule
RETRIES = 2
#: rounds of mending grids that giving slivers back split
MEND_ROUNDS = 4


def smooth_grids(
    tess: Tessellation,
    piece_grid: np.ndarray,
    k: int,
    points: np.ndarray,
    site_grid: np.ndarray,
    shapes: np.ndarray | None = None,
    tolerance: float | None = None,
) -> tuple[np.ndarray, bool]:
    """Grid polygons of a labelled tessellation with simplified shared edges.

    Parameters
    ----------
    tess
        The tessellation of the area by ``points``.
    piece_grid
        Grid ``0..k-1`` of each piece (-1: a piece left out of every grid).
    k
        Number of grids.
    points
        ``(n, 2)`` site coordinates.
    site_grid
        Grid of each site.
    shapes
        Geometry each site must keep inside its grid (its buildings' footprints), or None
        for the points alone.
    tolerance
        Simplification tolerance in metres (about the square root of the triangle areas
        removed); default ``TOLERANCE`` times the site spacing.

    Returns
    -------
    (grids, smoothed)
        ``k`` polygons, and False when the zigzag grids were kept.

    Examples
    --------
    Two columns of sites split left | right: the zigzag-free edge is the straight line.

    >>> from gridgis.partition.tessellate import tessellate
    >>> xy = np.array([[x + 0.5, y + 0.5] for x in range(4) for y in range(4)], dtype=float)
    >>> t = tessellate(shapely.box(0, 0, 4, 4), xy)
    >>> labels = (xy[:, 0] > 2).astype(int)
    >>> grids, ok = smooth_grids(t, labels[t.site], 2, xy, labels)
    >>> ok, [round(g.area, 6) for g in grids]
    (True, [8.0, 8.0])
    """
    raw = dissolve(tess.pieces, piece_grid, k)
    if k < 2 or not len(points):
        return raw, False
    if tolerance is None:
        covered = shapely.area(tess.pieces[piece_grid >= 0]).sum()
        tolerance = TOLERANCE * float(np.sqrt(covered / len(points)))
    protect = shapely.points(points) if shapes is None else _shapes_or_points(shapes, points)
    parts, blocks, grid_of = _block_parts(tess, piece_grid, k, raw)
    for _ in range(RETRIES + 1):
        smooth = _simplify_by_block(parts, blocks, grid_of, k, tolerance)
        if smooth is not None:
            smooth = _give_back(raw, smooth, protect, site_grid)
            if _keeps_rules(raw, smooth, protect, points, site_grid):
                return smooth, True
        tolerance /= 2
    return raw, False


def _block_parts(
    tess: Tessellation, piece_grid: np.ndarray, k: int, raw: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each grid's part in each barrier block: (parts, block of each, grid of each).

    Without barriers (one block) the parts are the grids themselves, already dissolved in ``raw``.
    """
    ok = piece_grid >= 0
    pairs = tess.block[ok] * k + piece_grid[ok]
    uniq, inv = np.unique(pairs, return_inverse=True)
    blocks, grid_of = uniq // k, uniq % k
    if len(uniq) == k and (blocks == blocks[0]).all():
        return raw, blocks, grid_of
    return dissolve(tess.pieces[ok], inv.ravel(), len(uniq)), blocks, grid_of


def _simplify_by_block(
    parts: np.ndarray, blocks: np.ndarray, grid_of: np.ndarray, k: int, tolerance: float
) -> np.ndarray | None:
    """Simplify the grid parts within each barrier block (block boundaries fixed); union them per grid."""
    out = np.empty(len(parts), dtype=object)
    try:
        for b in np.unique(blocks):
            mine = np.flatnonzero(blocks == b)
            if len(mine) == 1:
                out[mine] = parts[mine]
                continue
            out[mine] = shapely.coverage_simplify(parts[mine], tolerance, simplify_boundary=False)
        out = shapely.set_precision(out, PRECISION_M)
        return _union_by(out, grid_of, k)
    except shapely.errors.GEOSException:
        return None


def _union_by(geoms: np.ndarray, group: np.ndarray, k: int) -> np.ndarray:
    result = np.empty(k, dtype=object)
    for g in range(k):
        mine = geoms[group == g]
        mine = mine[~shapely.is_empty(mine)]
        merged = shapely.coverage_union_all(mine) if len(mine) > 1 else (mine[0] if len(mine) else shapely.Polygon())
        if not shapely.is_valid(merged):
            merged = shapely.union_all(mine)
        result[g] = merged
    return shapely.set_precision(result, PRECISION_M)


def _shapes_or_points(shapes: np.ndarray, points: np.ndarray) -> np.ndarray:
    shapes = np.asarray(shapes, dtype=object)
    missing = shapely.is_missing(shapes) | shapely.is_empty(shapes)
    out = shapes.copy()
    out[missing] = shapely.points(points[missing])
    return out


def _give_back(raw: np.ndarray, smooth: np.ndarray, protect: np.ndarray, site_grid: np.ndarray) -> np.ndarray:
    """Return to its grid each sliver (between the old and the new edge) holding one of its buildings.

    A sliver a grid lost touches the grid's new edge along its whole length, so giving it back keeps
    the grid in one piece; the neighbour loses only what it had gained there.
    """
    held = shapely.covers(raw[site_grid], protect)
    # a footprint already reaching out of its grid keeps the part it had inside
    keep = protect.copy()
    keep[~held] = shapely.intersection(protect[~held], raw[site_grid[~held]])
    cut = np.flatnonzero(~shapely.covers(smooth[site_grid], keep))
    if not len(cut):
        return smooth
    k = len(smooth)
    slivers, owner = shapely.get_parts(shapely.difference(raw, smooth), return_index=True)
    hit_site, hit_sliver = shapely.STRtree(slivers).query(keep[cut], predicate="intersects")
    mine = owner[hit_sliver] == site_grid[cut[hit_site]]
    back = np.unique(hit_sliver[mine])
    fix = np.full(k, None, dtype=object)
    for g in np.unique(owner[back]):
        fix[g] = shapely.union_all(slivers[back[owner[back] == g]])
    everything = shapely.union_all(slivers[back])
    out = smooth.copy()
    for g in range(k):
        if fix[g] is None:
            out[g] = shapely.difference(out[g], everything)
        else:
            out[g] = shapely.union(shapely.difference(out[g], shapely.difference(everything, fix[g])), fix[g])
    return _join_strays(shapely.set_precision(out, PRECISION_M), raw, keep, site_grid)


def _join_strays(grids: np.ndarray, raw: np.ndarray, keep: np.ndarray, site_grid: np.ndarray) -> np.ndarray:
    """Make every grid one piece again after slivers went back (giving one back can cut a neighbour's corner off).

    A stray piece (any but the largest) holding none of the grid's buildings goes to the neighbour
    sharing most edge with it; a grid whose stray piece holds some of its buildings is reverted to its
    zigzag polygon (what it gained returns to its old owners). A reverted grid can cut its neighbours,
    so this repeats a few times; what is still split is left to the rules check.
    """
    for _ in range(MEND_ROUNDS):
        split = np.flatnonzero(shapely.get_num_geometries(grids) > shapely.get_num_geometries(raw))
        if not len(split):
            break
        for g in split.tolist():
            parts = shapely.get_parts(grids[g])
            holds = np.zeros(len(parts), dtype=bool)
            holds[shapely.STRtree(parts).query(keep[site_grid == g], predicate="intersects")[1]] = True
            stray = np.arange(len(parts)) != np.argmax(shapely.area(parts))
            if (holds & stray).any():
                _revert(grids, raw, g)
                continue
            for part in parts[stray]:
                shared = shapely.length(shapely.intersection(shapely.boundary(grids), shapely.boundary(part)))
                shared[g] = 0.0
                if shared.max() > 0:
                    h = int(np.argmax(shared))
                    grids[h] = shapely.set_precision(shapely.union(grids[h], part), PRECISION_M)
                    grids[g] = shapely.set_precision(shapely.difference(grids[g], part), PRECISION_M)
    return grids


def _revert(grids: np.ndarray, raw: np.ndarray, g: int) -> None:
    """Grid ``g`` back to its zigzag polygon; what it had gained goes back to the grids it came from."""
    gained = shapely.difference(grids[g], raw[g])
    grids[g] = raw[g]
    others = np.arange(len(grids)) != g
    grids[others] = shapely.union(shapely.difference(grids[others], raw[g]), shapely.intersection(gained, raw[others]))
    grids[others] = shapely.set_precision(grids[others], PRECISION_M)


def _keeps_rules(
    raw: np.ndarray, smooth: np.ndarray, protect: np.ndarray, points: np.ndarray, site_grid: np.ndarray
) -> bool:
    """Valid, no grid in more pieces, every site and protected shape still inside, same area, no overlaps."""
    if not shapely.is_valid(smooth).all() or shapely.is_empty(smooth).any():
        return False
    if (shapely.get_num_geometries(smooth) > shapely.get_num_geometries(raw)).any():
        return False
    if not shapely.covers(smooth[site_grid], shapely.points(points)).all():
        return False
    held = shapely.covers(raw[site_grid], protect)
    if not shapely.covers(smooth[site_grid[held]], protect[held]).all():
        return False
    total, area = shapely.area(raw).sum(), shapely.area(smooth).sum()
    union = shapely.area(shapely.union_all(smooth))
    # snapping to the millimetre grid moves edges by at most PRECISION_M
    slack = PRECISION_M * shapely.length(smooth).sum()
    return abs(area - total) <= slack and abs(union - total) <= slack
