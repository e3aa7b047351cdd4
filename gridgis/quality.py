"""Check a grid plan against the hard rules, and measure balance and compactness.

Hard rules (a plan breaking one is a bug, never an output):

``schema``       the grids layer follows :data:`gridgis.model.LAYERS` ``["grids"]``;
``codes``        grid codes are 15 digits, unique, the community id + a sequence
                 ``001..n`` numbered west to east, north to south (:mod:`gridgis.codes`);
``tiling``       the grids of a community cover it with no gap, no overlap and
                 nothing outside it (tolerance: a band ``tol_m`` wide along the
                 community boundary, for the millimetre snapping of vertices);
``contiguity``   every grid is one polygon; the only exception is an island of
                 the community without buildings joined to a grid (reported);
``buildings``    every building inside a community lies in exactly one grid
                 (by its representative point) and its ``grid_id`` names that grid;
``count``        the number of grids is the one asked for (when given).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from gridgis.codes import is_grid_code, reading_order
from gridgis.crs import to_local_metric
from gridgis.errors import GridgisError, SchemaError
from gridgis.model import validate_layer

#: longest segment (degrees, about 20 m) kept when projecting: a straight segment in lon/lat is
#: a curve in a metric CRS, so long edges are densified first
DENSIFY_DEG = 0.0002
#: width (metres) of the band along a community boundary whose area the tiling check tolerates as
#: gap, overlap or overflow: grid vertices are snapped to a millimetre grid
TOL_M = 0.001
_LIMIT = 20


@dataclass
class QualityReport:
    """Results of :func:`check_plan`: one entry per hard rule, plus metrics."""

    checks: dict[str, dict] = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c["ok"] for c in self.checks.values())

    def failures(self) -> list[str]:
        return [f"{name}: {c['detail']}" for name, c in self.checks.items() if not c["ok"]]

    def to_dict(self) -> dict:
        return {"ok": self.ok, "checks": self.checks, "metrics": self.metrics}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2, default=_plain)

    def summary(self) -> str:
        """A readable summary for the terminal."""
        lines = [f"plan {'OK' if self.ok else 'BROKEN'}: {self.metrics.get('grids', 0)} grids"]
        for name, c in self.checks.items():
            lines.append(f"  [{'ok' if c['ok'] else 'FAIL'}] {name:<11} {c['detail']}")
        m = self.metrics
        if "max_deviation" in m:
            lines.append(
                f"  balance     in community: max |load-mean|/mean {m['max_deviation']:.2%}, "
                f"mean {m['mean_deviation']:.2%}"
            )
        county = m.get("county")
        if county:
            lines.append(
                f"  county      grids hold {county['min']:,.0f}-{county['max']:,.0f} (mean {county['mean']:,.0f}, "
                f"std {county['std']:,.0f}); {county['outside_range']} outside "
                f"{county['range'][0]:,.0f}-{county['range'][1]:,.0f}"
            )
        if "mean_polsby_popper" in m:
            lines.append(
                f"  compactness Polsby-Popper mean {m['mean_polsby_popper']:.3f}, min {m['min_polsby_popper']:.3f}"
            )
        if m.get("island_grids"):
            lines.append(f"  note        grids holding an island without buildings: {m['island_grids']}")
        return "\n".join(lines)


def _plain(v):
    return v.item() if hasattr(v, "item") else str(v)


def _check(ok: bool, detail: str, items=None) -> dict:
    out = {"ok": bool(ok), "detail": detail}
    if items:
        out["items"] = [_plain(i) if not isinstance(i, str | int | float) else i for i in list(items)[:_LIMIT]]
    return out


def check_plan(
    grids: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame | None = None,
    communities: gpd.GeoDataFrame | None = None,
    *,
    n_grids: int | None = None,
    tol_m: float = TOL_M,
    tolerance: float = 0.10,
) -> QualityReport:
    """Check ``grids`` against every hard rule that the given layers allow.

    Parameters
    ----------
    grids
        The grids layer (EPSG:4326).
    buildings
        Buildings with a ``grid_id`` column (optional: the ``buildings`` rule).
    communities
        The communities (optional: the ``tiling`` rule; contiguity exceptions).
    n_grids
        The grid count asked for (optional: the ``count`` rule).
    tol_m
        Gaps, overlaps and overflow of a community may total the area of a
        band this wide (metres) along its boundary.
    tolerance
        The county-wide range of the metrics: basic grids further than this
        share from the county mean load are counted as outside it.

    Returns
    -------
    QualityReport
        ``.ok`` is True when every rule holds; ``.checks`` says why not.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> grids = gpd.GeoDataFrame({"grid_id": ["440784101001001"], "grid_code": ["440784101001001"],
    ...     "community_id": ["440784101001"], "town_id": ["440784101"]},
    ...     geometry=[box(112.9, 22.7, 112.91, 22.71)], crs="EPSG:4326")
    >>> check_plan(grids).ok
    True
    """
    report = QualityReport()
    try:
        validate_layer(grids, "grids")
        report.checks["schema"] = _check(True, "grids layer follows the data model")
    except GridgisError as exc:
        report.checks["schema"] = _check(False, exc.message)
        return report
    fwd = to_local_metric(grids)

    def metric(geoms):
        return project(geoms, fwd)

    g_m = metric(grids.geometry.values)
    report.checks["codes"] = _check_codes(grids, g_m)
    com_m = None
    if communities is not None:
        com_m = metric(communities.geometry.values)
        report.checks["tiling"] = _check_tiling(grids, g_m, communities, com_m, tol_m)
    b_pts = None
    if buildings is not None:
        b_pts = metric(shapely.point_on_surface(buildings.geometry.values))
        report.checks["buildings"] = _check_buildings(grids, g_m, buildings, b_pts, com_m)
    report.checks["contiguity"], islands = _check_contiguity(grids, g_m, b_pts, communities, com_m)
    if n_grids is not None:
        report.checks["count"] = _check(len(grids) == n_grids, f"{len(grids)} grids, {n_grids} asked for", None)
    report.metrics = _metrics(grids, g_m, tolerance)
    report.metrics["island_grids"] = islands
    return report


def project(geoms: np.ndarray, transformer: pyproj.Transformer) -> np.ndarray:
    """Project lon/lat geometries, densifying edges longer than :data:`DENSIFY_DEG` first.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> to_utm = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32649", always_xy=True)
    >>> shapely.get_num_coordinates(project(np.array([box(112.9, 22.7, 112.91, 22.71)]), to_utm)).tolist()
    [203]
    """
    dense = shapely.segmentize(geoms, DENSIFY_DEG)
    return shapely.transform(dense, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))


def check_plan_file(path: str | Path, *, n_grids: int | None = None) -> QualityReport:
    """:func:`check_plan` on a plan GeoPackage (layers ``grids``, ``buildings``, ``communities``)."""
    from gridgis.io import read_layers

    layers = read_layers(path)
    if "grids" not in layers:
        raise SchemaError(f"{path} has no 'grids' layer; it has {sorted(layers)}.", fix="pass a plan GeoPackage.")
    return check_plan(layers["grids"], layers.get("buildings"), layers.get("communities"), n_grids=n_grids)


def _check_codes(grids: gpd.GeoDataFrame, g_m: np.ndarray) -> dict:
    codes = grids["grid_code"].astype(str).to_numpy()
    cids = grids["community_id"].astype(str).to_numpy()
    bad = [c for c in codes if not is_grid_code(c)]
    if bad:
        return _check(False, f"{len(bad)} code(s) are not 15 digits, e.g. {bad[:3]}", bad)
    dup = sorted({c for c in codes if (codes == c).sum() > 1})
    if dup:
        return _check(False, f"{len(dup)} duplicate code(s), e.g. {dup[:3]}", dup)
    wrong_prefix = [c for c, cid in zip(codes, cids, strict=True) if not c.startswith(cid)]
    if wrong_prefix:
        return _check(False, f"{len(wrong_prefix)} code(s) do not start with their community id", wrong_prefix)
    wrong_town = grids.loc[grids["community_id"].str[:9] != grids["town_id"].astype(str), "grid_code"].tolist()
    if wrong_town:
        return _check(False, f"{len(wrong_town)} grid(s) whose town_id is not their community's town", wrong_town)
    cents = shapely.get_coordinates(shapely.centroid(g_m))
    misordered = []
    # a re-plan's communities keep their grids' codes (gridgis.lineage): reading order is for a first plan
    continued = set(cids[grids["previous_grid_id"].notna().to_numpy()]) if "previous_grid_id" in grids else set()
    for cid in np.unique(cids):
        if cid in continued:
            continue
        pos = np.flatnonzero(cids == cid)
        seqs = np.array([int(c[12:]) for c in codes[pos]])
        expected = np.empty(len(pos), dtype=np.int64)
        expected[reading_order(cents[pos, 0], cents[pos, 1])] = np.arange(1, len(pos) + 1)
        if not np.array_equal(np.sort(seqs), np.arange(1, len(pos) + 1)) or not np.array_equal(seqs, expected):
            misordered.append(cid)
    if misordered:
        return _check(False, f"{len(misordered)} communities not numbered 001..n west->east, north->south", misordered)
    return _check(True, f"{len(codes)} codes, 15 digits, unique, numbered west->east, north->south")


def _check_tiling(grids, g_m, communities, com_m, tol_m) -> dict:
    cids = grids["community_id"].astype(str).to_numpy()
    known = set(communities["community_id"].astype(str))
    problems = [f"grid {g} names unknown community {c}" for g, c in zip(grids["grid_id"], cids, strict=True)
                if c not in known]  # fmt: skip
    for cid, geom in zip(communities["community_id"].astype(str), com_m, strict=True):
        mine = g_m[cids == cid]
        area = shapely.area(geom)
        allowed = tol_m * shapely.length(geom)
        if not len(mine):
            problems.append(f"community {cid} has no grid")
            continue
        union = shapely.union_all(mine)
        gap = shapely.area(shapely.difference(geom, union))
        out = shapely.area(shapely.difference(union, geom))
        overlap = shapely.area(mine).sum() - shapely.area(union)
        for what, value in (("gap", gap), ("outside", out), ("overlap", overlap)):
            if value > allowed:
                problems.append(f"community {cid}: {what} of {value:.3g} m² ({value / area:.2e} of its area)")
    if problems:
        return _check(False, f"{len(problems)} problem(s): {problems[0]}", problems)
    return _check(True, f"grids tile all {len(communities)} communities (within {tol_m * 1000:g} mm)")


def _check_buildings(grids, g_m, buildings, b_pts, com_m) -> dict:
    bi, gi = shapely.STRtree(g_m).query(b_pts, predicate="intersects")
    hits = np.bincount(bi, minlength=len(buildings))
    ids = buildings["building_id"].to_numpy()
    in_com = np.ones(len(buildings), dtype=bool)
    if com_m is not None:
        in_com = np.zeros(len(buildings), dtype=bool)
        in_com[shapely.STRtree(com_m).query(b_pts, predicate="intersects")[0]] = True
    problems = []
    none = np.flatnonzero((hits == 0) & in_com)
    if len(none):
        problems.append(f"{len(none)} building(s) in no grid, e.g. ids {[_plain(v) for v in ids[none[:5]]]}")
    # a point on a shared edge touches two grids; only a point strictly inside two is an overlap
    inner = shapely.contains_properly(g_m[gi], b_pts[bi])
    many = np.flatnonzero(np.bincount(bi[inner], minlength=len(buildings)) > 1)
    if len(many):
        problems.append(f"{len(many)} building(s) inside several grids, e.g. ids {[_plain(v) for v in ids[many[:5]]]}")
    if "grid_id" in buildings.columns:
        gid = grids["grid_id"].astype(str).to_numpy()
        stated = buildings["grid_id"].astype("string").fillna("").to_numpy()
        ok = np.zeros(len(buildings), dtype=bool)
        ok[bi[gid[gi] == stated[bi]]] = True
        wrong = np.flatnonzero(~ok & (hits > 0))
        if len(wrong):
            problems.append(
                f"{len(wrong)} building(s) whose grid_id is not the grid holding them, "
                f"e.g. ids {[_plain(v) for v in ids[wrong[:5]]]}"
            )
    outside = int((~in_com).sum())
    if problems:
        return _check(False, "; ".join(problems), problems)
    note = f"; {outside} outside every community (listed in the partition report)" if outside else ""
    return _check(True, f"{int((hits > 0).sum())} buildings each in exactly one grid{note}")


def _check_contiguity(grids, g_m, b_pts, communities, com_m) -> tuple[dict, list]:
    parts = shapely.get_num_geometries(g_m)
    types = shapely.get_type_id(g_m)
    multi = np.flatnonzero((parts > 1) | ~np.isin(types, (3, 6)))
    bad, islands = [], []
    cids = grids["community_id"].astype(str).to_numpy()
    com_parts = {}
    if communities is not None:
        com_parts = dict(zip(communities["community_id"].astype(str), shapely.get_num_geometries(com_m), strict=True))
    for i in multi:
        gid = str(grids["grid_id"].iloc[i])
        pieces = shapely.get_parts(g_m[i])
        inhabited = (
            len(pieces)
            if b_pts is None
            else len(np.unique(shapely.STRtree(pieces).query(b_pts, predicate="intersects")[1]))
        )
        if com_parts.get(cids[i], 1) > 1 and inhabited <= 1:
            islands.append(gid)
        else:
            bad.append(gid)
    if bad:
        return _check(False, f"{len(bad)} grid(s) in several pieces, e.g. {bad[:3]}", bad), islands
    note = f" ({len(islands)} with an uninhabited island of their community)" if islands else ""
    return _check(True, f"every grid is one polygon{note}"), islands


#: bins of the county-wide load histogram
HISTOGRAM_BINS = 10


def county_distribution(grids: gpd.GeoDataFrame, tolerance: float, households=None) -> dict:
    """County-wide load of the basic grids: mean, min, max, std, a histogram and the count outside the range.

    The range is ``households`` when given, else the county mean +- ``tolerance``.

    Examples
    --------
    >>> import pandas as pd
    >>> g = pd.DataFrame({"kind": "basic", "load": [90.0, 100.0, 110.0, 200.0]})
    >>> d = county_distribution(g, 0.1)
    >>> d["mean"], d["max"], d["range"], d["outside_range"], sum(d["histogram"]["counts"])
    (125.0, 200.0, [112.5, 137.5], 4, 4)
    """
    load = grids.loc[grids["kind"] == "basic", "load"].to_numpy(dtype=float)
    if not len(load):
        return {"grids": 0}
    mean = float(load.mean())
    low, high = households if households is not None else (mean * (1 - tolerance), mean * (1 + tolerance))
    counts, edges = np.histogram(load, bins=HISTOGRAM_BINS)
    return {
        "grids": int(len(load)),
        "mean": mean,
        "min": float(load.min()),
        "max": float(load.max()),
        "std": float(load.std()),
        "max_deviation": float(np.abs(load - mean).max() / mean) if mean > 0 else 0.0,
        "range": [float(low), float(high)],
        "outside_range": int(((load < low - 1e-9) | (load > high + 1e-9)).sum()),
        "histogram": {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]},
    }


def _metrics(grids, g_m, tolerance: float) -> dict:
    """Compactness; with a ``load`` column, balance against each community's mean and the county's."""
    perimeter = shapely.length(g_m)
    pp = np.where(perimeter > 0, 4 * np.pi * shapely.area(g_m) / np.maximum(perimeter, 1e-12) ** 2, 0.0)
    out = {"grids": len(grids), "mean_polsby_popper": float(pp.mean()), "min_polsby_popper": float(pp.min())}
    if "load" in grids.columns:
        basic = np.isfinite(grids["load"].to_numpy(dtype=float))
        if "kind" in grids.columns:
            basic &= (grids["kind"] == "basic").to_numpy()
        if basic.any():
            frame = grids.loc[basic, ["community_id", "load"]].astype({"load": float})
            mean = frame.groupby("community_id")["load"].transform("mean").to_numpy()
            load = frame["load"].to_numpy()
            dev = np.where(mean > 0, np.abs(load - mean) / np.where(mean > 0, mean, 1.0), 0.0)
            out.update(max_deviation=float(dev.max()), mean_deviation=float(dev.mean()))
            out["county"] = county_distribution(grids.loc[basic].assign(kind="basic"), tolerance)
    return out
