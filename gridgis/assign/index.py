"""GridIndex: exact point-in-grid lookup at tens of millions of points per second.

A raster lookup table over the grids' bounds answers most points with one
array read; the few points in cells that a grid edge passes through fall back
to an exact shapely test against that cell's candidate grids. The table is
exact by construction:

* a cell is a *boundary cell* when some grid edge passes within a small margin
  of it (edges are traced through the raster from their crossings with the
  cell lines, widened by the margin, so rounding cannot hide one);
* every other cell lies wholly inside or wholly outside each grid, so the grid
  holding its centre (found by a scan-line parity fill) holds all its points;
* a boundary cell keeps as candidates every grid whose edge marks it plus every
  grid holding its centre, which together include every grid that covers any
  point of the cell; each candidate is then tested exactly with
  :func:`shapely.intersects_xy` on prepared polygons.

The edge rule: a point belongs to the grid with the **lowest row position
among the grids that cover it** (shapely ``covers``: the boundary counts), so a
point on an edge shared by grids 3 and 7 goes to grid 3, and a point in two
overlapping grids goes to the lower one. Points covered by no grid get -1.
With ``predicate="within"`` only the grids' interiors count (shapely
``contains``: a point on an edge belongs to no grid). The table serves both rules:
a point outside the boundary cells lies at least the margin away from every
edge, in the interior of the grids that cover it; only the exact test differs.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from typing import Literal

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from gridgis.crs import local_metric_crs
from gridgis.errors import CRSError, GeometryError, InputError, SchemaError
from gridgis.listing import listing

__all__ = ["GridIndex", "Predicate"]

#: The point rule: "intersects" (the grid covers the point, boundary included) or "within" (its interior).
Predicate = Literal["intersects", "within"]
#: The exact test of each rule, on prepared polygons.
_EXACT = {"intersects": shapely.intersects_xy, "within": shapely.contains_xy}

#: Version of the table's construction, part of :attr:`GridIndex.fingerprint`: a kept table
#: (:mod:`gridgis.assign.saved`) built by another version is rebuilt.
TABLE_VERSION = 1
#: Most cells in the lookup table by default (16 MiB of int32): about 25 m cells over a county.
DEFAULT_CELLS = 1 << 22
# By default the table gets this many cells per edge segment (within [2**16, DEFAULT_CELLS]):
# the share of points needing the exact test falls with the cell size relative to the edges.
_CELLS_PER_SEGMENT = 128
# Empty cells kept around the grids' bounds, so out-of-range points can be clamped onto an empty border.
_PAD = 2
# Safety margin, in cells, around every traced edge: far above float rounding (~1e-12 cells).
_MARGIN = 1e-4
# Points per block in vectorized lookups: keeps temporaries in cache and memory bounded.
_BLOCK = 1 << 16


def grid_geometries(grids) -> tuple[np.ndarray, pyproj.CRS]:
    """Check a grids layer for indexing; return its geometries and CRS.

    Raises :class:`~gridgis.errors.InputError` subclasses naming the rows for an
    empty layer, no CRS, null/empty, non-polygonal or invalid geometries.
    """
    if isinstance(grids, gpd.GeoDataFrame):
        series = grids.geometry
    elif isinstance(grids, gpd.GeoSeries):
        series = grids
    else:
        raise InputError(
            f"Grids must be a GeoDataFrame or GeoSeries, not {type(grids).__name__}.",
            fix="read them with gridgis.io.read_layer(path, layer='grids').",
        )
    if len(series) == 0:
        raise InputError("The grids layer is empty: there is nothing to assign to.", fix="pass a plan with grids.")
    if series.crs is None:
        raise CRSError("The grids layer has no CRS.", fix="set it (grids.set_crs('EPSG:4326')) or read it with --crs.")
    geoms = np.asarray(series.values, dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        raise GeometryError(
            f"Grids have null or empty geometries at row(s) {listing(series.index[missing])}.",
            fix="drop those grids or redraw them.",
        )
    types = shapely.get_type_id(geoms)
    bad = ~np.isin(types, (3, 6))
    if bad.any():
        found = sorted(set(series.geom_type[bad]))
        raise SchemaError(
            f"Grids must be Polygon or MultiPolygon; found {found} at row(s) {listing(series.index[bad])}.",
            fix="use a polygon grids layer (the 'grids' layer of a plan).",
        )
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        rows = series.index[invalid]
        reason = shapely.is_valid_reason(geoms[invalid][0])
        raise GeometryError(
            f"Grids have invalid polygons at row(s) {listing(rows)} (first: {reason}).",
            fix="repair them (gridgis.repair.repair_geometries, or shapely.make_valid) and check the plan.",
        )
    return geoms, series.crs


def grids_fingerprint(geoms: np.ndarray, crs: pyproj.CRS, cells: int | None) -> str:
    """SHA-256 (hex) of all a lookup table depends on: :data:`TABLE_VERSION`, the cells asked for
    (None: the default), the CRS and every grid's WKB in row order."""
    wkb = shapely.to_wkb(geoms)
    digest = hashlib.sha256(f"gridgis-grid-index {TABLE_VERSION} {cells} {crs.to_wkt()}".encode())
    digest.update(np.fromiter(map(len, wkb), dtype="<i8", count=len(wkb)).tobytes())  # where each grid ends
    digest.update(b"".join(wkb))
    return digest.hexdigest()


def _exact_test(predicate: str):
    try:
        return _EXACT[predicate]
    except (KeyError, TypeError):
        raise InputError(
            f"Unknown predicate {predicate!r}.", fix=f"use one of {', '.join(map(repr, _EXACT))}."
        ) from None


def _unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (np.unique, by sorting: faster here than its hash path)."""
    values = np.sort(values)
    return values[np.r_[True, values[1:] != values[:-1]]] if values.size else values


def _segments(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start points, end points and grid position of every ring segment of every grid."""
    parts, part_grid = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[:-1] == ring[1:]
    return coords[:-1][same], coords[1:][same], part_grid[ring_part[ring[:-1][same]]]


class GridIndex:
    """Exact, vectorized point-in-grid lookup over a grids layer.

    Parameters
    ----------
    grids
        GeoDataFrame or GeoSeries of valid (Multi)Polygons with a CRS. Positions
        (0..n-1) in this order are what :meth:`locate` returns.
    cells
        Size of the lookup table in cells (more cells: fewer exact fallbacks,
        more memory at 4 bytes a cell). Default: 128 per edge segment, between
        65,536 and :data:`DEFAULT_CELLS`.

    Notes
    -----
    Edge rule: a point goes to the lowest grid position among the grids that
    cover it (boundary included); -1 when none does, or for NaN coordinates.
    Coordinates are in the grids' CRS (lon/lat for a plan).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> grids = gpd.GeoSeries([box(0, 0, 1, 1), box(1, 0, 2, 1)], crs="EPSG:4326")
    >>> index = GridIndex(grids)
    >>> index.locate([0.5, 1.0, 1.5, 3.0], [0.5, 0.5, 0.5, 0.5]).tolist()
    [0, 0, 1, -1]
    >>> index.locate_point(1.5, 0.5)
    1
    """

    def __init__(self, grids: gpd.GeoDataFrame | gpd.GeoSeries, *, cells: int | None = None):
        geoms, crs = grid_geometries(grids)
        self.geometries = geoms
        self.crs = crs
        self.n_grids = len(geoms)
        self.cells_asked = cells
        if cells is None:
            segments = int(shapely.get_num_coordinates(geoms).sum())
            cells = min(max(_CELLS_PER_SEGMENT * segments, 1 << 16), DEFAULT_CELLS)
        self._cells = int(cells)
        self._build()

    # -- construction --------------------------------------------------------------------------------

    def _build(self) -> None:
        geoms = self.geometries
        for g in geoms:
            shapely.prepare(g)
        minx, miny, maxx, maxy = shapely.total_bounds(geoms)
        size = max(np.sqrt(max(maxx - minx, 1e-12) * max(maxy - miny, 1e-12) / self._cells), 1e-12)
        self._ncols = int(np.ceil((maxx - minx) / size)) + 2 * _PAD
        self._nrows = int(np.ceil((maxy - miny) / size)) + 2 * _PAD
        self._x0, self._y0 = minx - _PAD * size, miny - _PAD * size
        self._inv = 1.0 / size
        start, end, seg_grid = _segments(geoms)
        u1, v1 = (start[:, 0] - self._x0) * self._inv, (start[:, 1] - self._y0) * self._inv
        u2, v2 = (end[:, 0] - self._x0) * self._inv, (end[:, 1] - self._y0) * self._inv
        marked_cell, marked_grid = self._trace_edges(u1, v1, u2, v2, seg_grid)
        count, label, inside_pairs = self._fill_centres(u1, v1, u2, v2, seg_grid)
        # boundary cells, sorted, by a mask over the table (linear: no sort of the marks)
        is_boundary = np.zeros(self._nrows * self._ncols, dtype=bool)
        is_boundary[marked_cell] = True
        boundary = np.flatnonzero(is_boundary)
        # candidates of a boundary cell: grids whose edges mark it + grids holding its centre
        flat_label = label.ravel()
        single = boundary[count[np.divmod(boundary, self._ncols)] == 1]
        cells = [marked_cell, single]
        grids_ = [marked_grid, flat_label[single]]
        if inside_pairs[0].size:
            keep = is_boundary[inside_pairs[0]]
            cells.append(inside_pairs[0][keep])
            grids_.append(inside_pairs[1][keep])
        key = _unique(np.concatenate(cells).astype(np.int64) * self.n_grids + np.concatenate(grids_))
        pair_cell, pair_grid = np.divmod(key, self.n_grids)
        position = np.searchsorted(boundary, pair_cell)
        self._cand_ptr = np.searchsorted(position, np.arange(boundary.size + 1)).astype(np.int64)
        self._cand_grid = pair_grid.astype(np.int64)
        table = flat_label.astype(np.int32)
        table[boundary] = -2 - np.arange(boundary.size, dtype=np.int32)
        self._table = table
        self.boundary_cells = int(boundary.size)

    def _trace_edges(self, u1, v1, u2, v2, seg_grid) -> tuple[np.ndarray, np.ndarray]:
        """Cells within the margin of any edge, with the edge's grid (a widened supercover).

        Each mark is made at both ends of the margin; the second one only where it falls in
        another cell (most do not), so that the marks stay few.
        """
        m = _MARGIN
        cols, rows, grids = [], [], []

        def mark(c, r, g):
            cols.append(c)
            rows.append(r)
            grids.append(g)

        def widened(a):
            lo, hi = np.floor(a - m), np.floor(a + m)
            return lo, hi, hi != lo

        # vertices: the (up to) four cells around u1 +- m, v1 +- m
        ulo, uhi, ud = widened(u1)
        vlo, vhi, vd = widened(v1)
        mark(ulo, vlo, seg_grid)
        mark(uhi[ud], vlo[ud], seg_grid[ud])
        mark(ulo[vd], vhi[vd], seg_grid[vd])
        both = ud & vd
        mark(uhi[both], vhi[both], seg_grid[both])
        # crossings with the vertical cell lines u = i, then the horizontal ones v = j
        for a1, b1, a2, b2, vertical in ((u1, v1, u2, v2, True), (v1, u1, v2, u2, False)):
            lo, hi = np.minimum(a1, a2), np.maximum(a1, a2)
            first = np.ceil(lo)
            n = np.where(a1 != a2, np.floor(hi) - first + 1, 0).astype(np.int64)
            n = np.maximum(n, 0)
            seg = np.repeat(np.arange(n.size), n)
            line = first[seg] + (np.arange(seg.size) - np.repeat(np.cumsum(n) - n, n))
            t = (line - a1[seg]) / (a2[seg] - a1[seg])
            other = b1[seg] + t * (b2[seg] - b1[seg])
            g = seg_grid[seg]
            olo, ohi, od = widened(other)
            for side in (line - 1, line):
                for o, sel in ((olo, slice(None)), (ohi[od], od)):
                    if vertical:
                        mark(side[sel], o, g[sel])
                    else:
                        mark(o, side[sel], g[sel])
        c = np.clip(np.concatenate(cols), 0, self._ncols - 1).astype(np.int64)
        r = np.clip(np.concatenate(rows), 0, self._nrows - 1).astype(np.int64)
        return r * self._ncols + c, np.concatenate(grids).astype(np.int64)

    def _fill_centres(self, u1, v1, u2, v2, seg_grid):
        """Scan-line parity fill of cell centres.

        Returns the number of grids holding each centre, the lowest such grid
        (-1 for none), and (cell, grid) pairs for centres held by 2+ grids.
        """
        lo, hi = np.minimum(v1, v2), np.maximum(v1, v2)
        # rows whose centre line v = j + 0.5 lies in [lo, hi): the half-open rule counts a vertex once
        first = np.ceil(lo - 0.5)
        n = (np.ceil(hi - 0.5) - first).astype(np.int64)
        n[v1 == v2] = 0
        n = np.maximum(n, 0)
        seg = np.repeat(np.arange(n.size), n)
        row = (first[seg] + (np.arange(seg.size) - np.repeat(np.cumsum(n) - n, n))).astype(np.int64)
        t = (row + 0.5 - v1[seg]) / (v2[seg] - v1[seg])
        u = u1[seg] + t * (u2[seg] - u1[seg])
        # the crossing flips inside/outside for every centre k + 0.5 > u
        col = np.clip(np.floor(u - 0.5) + 1, 0, self._ncols).astype(np.int64)
        grid = seg_grid[seg]
        # by grid, then row, then column: one sort of a combined key (all three are small)
        order = np.argsort((grid * self._nrows + row) * (self._ncols + 1) + col)
        grid, row, col = grid[order], row[order], col[order]
        # per grid and row the crossings pair up into [enter, leave) intervals
        g, r, c0, c1 = grid[0::2], row[0::2], col[0::2], col[1::2]
        width = self._ncols + 1
        diff_count = np.zeros(self._nrows * width, dtype=np.int32)
        diff_label = np.zeros(self._nrows * width, dtype=np.int32)
        np.add.at(diff_count, r * width + c0, 1)
        np.add.at(diff_count, r * width + c1, -1)
        np.add.at(diff_label, r * width + c0, (g + 1).astype(np.int32))
        np.add.at(diff_label, r * width + c1, -(g + 1).astype(np.int32))
        count = np.cumsum(diff_count.reshape(self._nrows, width), axis=1, dtype=np.int32)[:, :-1]
        total = np.cumsum(diff_label.reshape(self._nrows, width), axis=1, dtype=np.int32)[:, :-1]
        label = np.where(count == 1, total - 1, -1)
        pair_cells, pair_grids = [], []
        if (count > 1).any():
            # overlapping grids (a broken plan): lowest grid per centre, and every holder
            several = np.cumsum(np.c_[np.zeros(self._nrows, dtype=np.int64), count > 1], axis=1)
            hit = several[r, c1] - several[r, c0] > 0
            flat_count = count.ravel()
            for gi, ri, a, b in zip(g[hit], r[hit], c0[hit], c1[hit], strict=True):
                cells = ri * self._ncols + np.arange(a, b)
                cells = cells[flat_count[cells] > 1]
                pair_cells.append(cells)
                pair_grids.append(np.full(cells.size, gi))
            pc, pg = np.concatenate(pair_cells), np.concatenate(pair_grids)
            lowest = np.full(self._nrows * self._ncols, np.iinfo(np.int64).max)
            np.minimum.at(lowest, pc, pg)
            flat = label.ravel()
            flat[pc] = lowest[pc]
            label = flat.reshape(label.shape)
            return count, label, (pc, pg)
        return count, label, (np.empty(0, np.int64), np.empty(0, np.int64))

    @cached_property
    def fingerprint(self) -> str:
        """:func:`grids_fingerprint` of the grids and cells this table was built for."""
        return grids_fingerprint(self.geometries, self.crs, self.cells_asked)

    def parts(self) -> dict[str, np.ndarray]:
        """The lookup table as plain arrays (for :mod:`gridgis.assign.saved`): the table run-length
        encoded (``values`` repeated ``lengths`` times, row by row), the candidates of each boundary cell,
        and the raster's placement ``[x0, y0, 1/cell size]`` and shape ``[rows, columns]``."""
        table = self._table
        starts = np.r_[0, np.flatnonzero(table[1:] != table[:-1]) + 1]
        return {
            "values": table[starts],
            "lengths": np.diff(np.r_[starts, table.size]).astype(np.int64),
            "cand_ptr": self._cand_ptr,
            "cand_grid": self._cand_grid.astype(np.int32),
            "placement": np.array([self._x0, self._y0, self._inv], dtype=np.float64),
            "shape": np.array([self._nrows, self._ncols, self._cells], dtype=np.int64),
        }

    @classmethod
    def from_parts(cls, geoms: np.ndarray, crs: pyproj.CRS, cells: int | None, parts) -> GridIndex:
        """The index whose :meth:`parts` these are, over the grids they were built from.

        The caller vouches for the grids (same :attr:`fingerprint`, hence valid); the arrays are
        checked for consistency, so that a damaged file gives :class:`ValueError`, never a wrong
        answer or an out-of-range read.
        """
        nrows, ncols, n_cells = (int(v) for v in parts["shape"])
        values, lengths = parts["values"].astype(np.int32), parts["lengths"]
        cand_ptr, cand_grid = parts["cand_ptr"].astype(np.int64), parts["cand_grid"].astype(np.int64)
        boundary = cand_ptr.size - 1
        checks = (
            min(nrows, ncols) > 0 and values.shape == lengths.shape and values.size > 0,
            lengths.min(initial=1) > 0 and int(lengths.sum()) == nrows * ncols,
            values.min() >= -1 - boundary and values.max() < len(geoms),
            boundary >= 0 and cand_ptr[0] == 0 and cand_ptr[-1] == cand_grid.size,
            bool(np.all(np.diff(cand_ptr) >= 0)),
            cand_grid.size == 0 or (cand_grid.min() >= 0 and cand_grid.max() < len(geoms)),
            parts["placement"].shape == (3,) and bool(np.isfinite(parts["placement"]).all()),
        )
        if not all(checks):
            raise ValueError("inconsistent grid index arrays")
        index = cls.__new__(cls)
        index.geometries, index.crs, index.n_grids, index.cells_asked = geoms, crs, len(geoms), cells
        shapely.prepare(geoms)
        index._cells, index._nrows, index._ncols = n_cells, nrows, ncols
        index._x0, index._y0, index._inv = (float(v) for v in parts["placement"])
        index._table = np.repeat(values, lengths)
        index._cand_ptr, index._cand_grid = cand_ptr, cand_grid
        index.boundary_cells = boundary
        return index

    # -- queries -------------------------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of the lookup table."""
        return self._nrows, self._ncols

    def locate(self, lon, lat, *, predicate: Predicate = "intersects") -> np.ndarray:
        """Grid position of each point (lowest covering grid; -1 for none or NaN).

        Parameters
        ----------
        lon, lat
            Array-likes (or scalars) of equal shape, in the grids' CRS.
        predicate
            ``"intersects"``: the grid covers the point (boundary included); ``"within"``: the
            point lies in the grid's interior.

        Returns
        -------
        numpy.ndarray of int64, shaped like the input.

        Examples
        --------
        >>> import geopandas as gpd
        >>> from shapely.geometry import box
        >>> index = GridIndex(gpd.GeoSeries([box(0, 0, 1, 1)], crs="EPSG:4326"))
        >>> index.locate([0.5, 2.0], [0.5, 0.5])
        array([ 0, -1])
        """
        exact = _exact_test(predicate)
        x, y = self._coords(lon, lat)
        out = np.empty(x.size, dtype=np.int64)
        xf, yf = x.ravel(), y.ravel()
        for lo in range(0, x.size, _BLOCK):
            self._lookup_block(xf[lo : lo + _BLOCK], yf[lo : lo + _BLOCK], out[lo : lo + _BLOCK])
        # one exact pass for all points in edge cells: its cost is per candidate grid, not per point
        fallback = np.flatnonzero(out < -1)
        if fallback.size:
            out[fallback] = self._exact(xf[fallback], yf[fallback], -2 - out[fallback], exact)
        return out.reshape(x.shape)

    def locate_point(self, lon: float, lat: float) -> int:
        """:meth:`locate` for one point, with little overhead (for the API)."""
        u = (lon - self._x0) * self._inv
        v = (lat - self._y0) * self._inv
        if u != u or v != v:
            return -1
        col = int(min(max(u, 0.0), self._ncols - 1))
        row = int(min(max(v, 0.0), self._nrows - 1))
        value = int(self._table[row * self._ncols + col])
        if value >= -1:
            return value
        b = -2 - value
        for g in self._cand_grid[self._cand_ptr[b] : self._cand_ptr[b + 1]]:
            if shapely.intersects_xy(self.geometries[g], lon, lat):
                return int(g)
        return -1

    def box_label(self, minx, miny, maxx, maxy) -> np.ndarray:
        """Grid holding each whole box, when the lookup table alone settles it; else -2.

        A box spanning at most 2 x 2 table cells, all wholly inside grid g (none
        crossed by an edge), lies inside g: the answer is g (the lowest such grid
        under overlaps), or -1 when the cells are outside every grid.
        """
        c0, r0 = self._cell(minx, miny)
        c1, r1 = self._cell(maxx, maxy)
        first = self._table.take(r0 * self._ncols + c0).astype(np.int64)
        same = (c1 - c0 <= 1) & (r1 - r0 <= 1) & (first >= -1)
        for c, r in ((c1, r0), (c0, r1), (c1, r1)):
            same &= self._table.take(r * self._ncols + c) == first
        return np.where(same, first, -2)

    def _cell(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        u = np.fmin(np.fmax((np.asarray(x, dtype=np.float64) - self._x0) * self._inv, 0.0), self._ncols - 1)
        v = np.fmin(np.fmax((np.asarray(y, dtype=np.float64) - self._y0) * self._inv, 0.0), self._nrows - 1)
        return u.astype(np.int64), v.astype(np.int64)

    def _coords(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        try:
            x = np.asarray(lon, dtype=np.float64)
            y = np.asarray(lat, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(f"Coordinates must be numbers: {exc}.", fix="pass numeric lon/lat arrays.") from exc
        if x.shape != y.shape:
            raise InputError(f"lon and lat differ in shape: {x.shape} vs {y.shape}.", fix="pass one lat for every lon.")
        return x, y

    def _lookup_block(self, x: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
        """Table values into ``out``: grid, -1, or -2 - (edge cell number) for the exact pass."""
        u = x - self._x0
        u *= self._inv
        np.fmax(u, 0.0, out=u)  # fmax/fmin also send NaN to the empty border cell
        np.fmin(u, self._ncols - 1, out=u)
        v = y - self._y0
        v *= self._inv
        np.fmax(v, 0.0, out=v)
        np.fmin(v, self._nrows - 1, out=v)
        cell = v.astype(np.int64)
        cell *= self._ncols
        cell += u.astype(np.int64)
        out[:] = self._table.take(cell)

    def _exact(self, x: np.ndarray, y: np.ndarray, boundary: np.ndarray, test=shapely.intersects_xy) -> np.ndarray:
        """Exact lowest covering grid of points in boundary cells, testing only their candidates."""
        start = self._cand_ptr[boundary]
        n = self._cand_ptr[boundary + 1] - start
        point = np.repeat(np.arange(boundary.size), n)
        cand = self._cand_grid[np.repeat(start, n) + (np.arange(point.size) - np.repeat(np.cumsum(n) - n, n))]
        hit = np.zeros(point.size, dtype=bool)
        order = np.argsort(cand, kind="stable")
        grouped = cand[order]
        edges = np.flatnonzero(np.diff(grouped)) + 1
        for lo, hi in zip(np.r_[0, edges], np.r_[edges, grouped.size], strict=True):
            sel = order[lo:hi]
            p = point[sel]
            hit[sel] = test(self.geometries[grouped[lo]], x[p], y[p])
        # pairs run by point, then by ascending grid: the first hit of a point is its lowest covering grid
        out = np.full(boundary.size, -1, dtype=np.int64)
        hp, hc = point[hit], cand[hit]
        first = np.r_[True, hp[1:] != hp[:-1]] if hp.size else np.zeros(0, dtype=bool)
        out[hp[first]] = hc[first]
        return out

    # -- nearest grid and metric geometry ------------------------------------------------------------

    @cached_property
    def metric_crs(self) -> pyproj.CRS:
        """The metric CRS for distances and areas (the grids' own CRS when projected, else local UTM)."""
        if self.crs.is_projected and self.crs.axis_info[0].unit_name in ("metre", "meter"):
            return self.crs
        return local_metric_crs(gpd.GeoSeries(self.geometries, crs=self.crs))

    @cached_property
    def _to_metric(self) -> pyproj.Transformer:
        return pyproj.Transformer.from_crs(self.crs, self.metric_crs, always_xy=True)

    @cached_property
    def metric_geometries(self) -> np.ndarray:
        """The grids in :attr:`metric_crs`."""
        return np.asarray(gpd.GeoSeries(self.geometries, crs=self.crs).to_crs(self.metric_crs).values, dtype=object)

    @cached_property
    def tree(self) -> shapely.STRtree:
        """STRtree over the grids (in their own CRS)."""
        return shapely.STRtree(self.geometries)

    @cached_property
    def _metric_tree(self) -> shapely.STRtree:
        return shapely.STRtree(self.metric_geometries)

    def nearest(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """The grid holding each point, or else the nearest grid, and the distance to it in metres.

        Covered points get their :meth:`locate` grid and distance 0. Ties go to
        the lowest grid position. NaN coordinates give -1 and NaN.

        Examples
        --------
        >>> import geopandas as gpd
        >>> from shapely.geometry import box
        >>> index = GridIndex(gpd.GeoSeries([box(112.90, 22.70, 112.91, 22.71)], crs="EPSG:4326"))
        >>> grid, metres = index.nearest([112.905, 112.92], [22.705, 22.705])
        >>> grid.tolist(), [round(float(d), -1) for d in metres]
        ([0, 0], [0.0, 1030.0])
        """
        x, y = self._coords(lon, lat)
        x, y = x.ravel(), y.ravel()
        grid = self.locate(x, y)
        dist = np.where(np.isnan(x) | np.isnan(y), np.nan, 0.0)
        out = np.flatnonzero((grid < 0) & ~np.isnan(dist))
        if out.size:
            mx, my = self._to_metric.transform(x[out], y[out])
            (pt, g), d = self._metric_tree.query_nearest(shapely.points(mx, my), return_distance=True, all_matches=True)
            order = np.lexsort((g, pt))
            pt, g, d = pt[order], g[order], d[order]
            first = np.r_[True, pt[1:] != pt[:-1]]
            grid[out[pt[first]]] = g[first]
            dist[out[pt[first]]] = d[first]
        shape = np.shape(np.asarray(lon))
        return grid.reshape(shape), dist.reshape(shape)

    def __getstate__(self) -> dict:
        state = {k: v for k, v in self.__dict__.items() if k not in ("tree", "_metric_tree", "_to_metric")}
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        for g in self.geometries:
            shapely.prepare(g)
