"""``partition``: redraw communities into balanced, contiguous, compact grids."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gridgis.cluster import check_engine, dask_client
from gridgis.codes import check_community_id, grid_codes
from gridgis.crs import to_local_metric
from gridgis.errors import InputError, PartitionError, SchemaError
from gridgis.model import LAYERS, STORAGE_CRS, validate_layer
from gridgis.partition.apportion import apportion
from gridgis.partition.community import CommunityResult, CommunityTask, attach_loose, partition_community
from gridgis.partition.tessellate import PRECISION_M
from gridgis.quality import project

#: load columns a weight can name; ``shops`` counts shops, ``buildings`` counts buildings
LOAD_COLUMNS = ("households", "population", "shops", "buildings")
DEFAULT_WEIGHTS = {"households": 1.0}


@dataclass
class PartitionResult:
    """A partition: the ``grids`` layer, the ``buildings`` layer with ``grid_id``, and the report."""

    grids: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    report: dict = field(default_factory=dict)


def partition(
    layers: dict[str, gpd.GeoDataFrame],
    *,
    n_grids: int | None = None,
    households: tuple[float, float] | None = None,
    weights: dict[str, float] | None = None,
    barriers: Sequence[str] = (),
    dedicated: str | gpd.GeoDataFrame | None = None,
    keep: gpd.GeoDataFrame | None = None,
    seed: int = 0,
    jobs: int = 1,
    engine: str = "local",
    scheduler: str | None = None,
) -> PartitionResult:
    """Cut every community into grids of balanced load: contiguous, compact, coded.

    The grids are apportioned over communities by load (largest remainder,
    at least one per community, dedicated grids counting in the total).
    Inside a community the buildings' representative points are split by
    weighted recursive bisection, parts are made contiguous and balanced by
    moving boundary buildings, and the community is tessellated by Voronoi
    cells of the points (clipped to it, cut by barriers) that are dissolved
    per grid. A building belongs to the grid holding its representative point.

    Parameters
    ----------
    layers
        ``communities`` and ``buildings`` (required), ``shops``, the barrier
        layers and the dedicated layer (optional), as in :data:`gridgis.model.LAYERS`.
    n_grids
        Total number of grids, dedicated ones included.
    households
        ``(low, high)`` load range per grid instead of ``n_grids``: each
        community gets the grid count whose target falls in the range.
    weights
        Load per unit of each column (``households``, ``population``,
        ``shops``, ``buildings``); default ``{"households": 1}``. A community
        whose load is zero is balanced by building count.
    barriers
        Names of line layers (``roads``, ``rivers``...) that grid edges should follow.
    dedicated
        Name of a polygon layer (or the frame) whose features each become one
        dedicated grid (schools, hospitals, industrial parks, markets).
    keep
        An old ``grids`` layer: re-divide starting from it, moving as few
        buildings as the balance allows.
    seed
        Seed of the cut directions (same seed, same plan).
    jobs
        Worker processes over communities (local engine).
    engine
        ``"local"``: this machine, ``jobs`` processes; ``"dask"``: one task per
        community on a dask.distributed cluster (see :func:`gridgis.cluster.dask_client`).
        Both give the same plan.
    scheduler
        Dask scheduler address ``tcp://HOST:PORT``; default: a local cluster of 2 worker processes.

    Returns
    -------
    PartitionResult

    Raises
    ------
    PartitionError
        Fewer grids than communities (plus dedicated grids), more grids than
        buildings, or both/neither of ``n_grids`` and ``households``.
    SchemaError
        Missing layers, unknown weights or barrier layers, bad community ids.
    InputError
        Unknown engine, ``jobs`` with the dask engine, an unreachable scheduler.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> com = gpd.GeoDataFrame({"community_id": ["440784101001"], "town_id": ["440784101"], "name": ["a"]},
    ...                        geometry=[box(112.9, 22.7, 112.92, 22.72)], crs="EPSG:4326")
    >>> pts = [box(112.9 + 0.005 * i + 0.002, 22.7 + 0.005 * j + 0.002, 112.9 + 0.005 * i + 0.003,
    ...            22.7 + 0.005 * j + 0.003) for i in range(4) for j in range(4)]
    >>> bld = gpd.GeoDataFrame({"building_id": range(16), "households": 10, "population": 30},
    ...                        geometry=pts, crs="EPSG:4326")
    >>> result = partition({"communities": com, "buildings": bld}, n_grids=4)
    >>> result.grids["households"].tolist()
    [40, 40, 40, 40]
    """
    started = time.perf_counter()
    inputs = _validate(layers, n_grids, households, weights, barriers, dedicated)
    _validate_engine(engine, scheduler, jobs)
    with ExitStack() as stack:
        # connect before the heavy preparation, so a bad scheduler fails fast
        client = stack.enter_context(dask_client(scheduler)) if engine == "dask" else None
        ctx = _Context.build(inputs, layers, barriers, dedicated, keep)
        counts = _apportion(ctx, n_grids, households)
        tasks = [ctx.task(c, counts[c], seed) for c in range(len(ctx.communities))]
        results = _run(tasks, jobs, client)
    result = _assemble(ctx, results, counts)
    result.report["seconds"] = round(time.perf_counter() - started, 3)
    result.report["request"] = {
        "n_grids": n_grids,
        "households": list(households) if households else None,
        "weights": inputs["weights"],
        "barriers": list(barriers),
        "dedicated": dedicated if isinstance(dedicated, str) else (None if dedicated is None else "<frame>"),
        "keep": keep is not None,
        "seed": seed,
        "engine": engine,
    }
    if households is not None:
        result.report["range"] = range_report(result.grids, households)
    return result


def range_report(grids: gpd.GeoDataFrame, households: tuple[float, float]) -> dict:
    """Which basic grids fall outside the load range, and why (a community whose load no grid count fits).

    Examples
    --------
    >>> import geopandas as gpd
    >>> g = gpd.GeoDataFrame({"community_id": ["a", "b", "b"], "kind": "basic", "load": [250.0, 425.0, 425.0]})
    >>> range_report(g, (300, 400))["infeasible"][0]["reason"]
    'load 250 is below the range: one grid'
    """
    low, high = households
    basic = grids[grids["kind"] == "basic"]
    outside = basic[(basic["load"] < low) | (basic["load"] > high)]
    infeasible = []
    for cid, load in basic.groupby("community_id")["load"].sum().items():
        if load < low:
            infeasible.append(
                {"community_id": cid, "load": float(load), "reason": f"load {load:g} is below the range: one grid"}
            )
        elif np.ceil(load / high) > np.floor(load / low):
            infeasible.append(
                {
                    "community_id": cid,
                    "load": float(load),
                    "reason": f"no grid count splits load {load:g} into grids of {low:g}-{high:g}",
                }
            )
    return {
        "low": low,
        "high": high,
        "grids_outside": sorted(outside.get("grid_id", outside.index.astype(str)).tolist()),
        "infeasible": infeasible,
    }


class Partitioner:
    """spopt-style wrapper: configure, then :meth:`solve` sets ``labels_`` (grid id of each building).

    Examples
    --------
    With ``layers`` from :func:`gridgis.io.read_layers` (tests/partition/test_partition.py runs it)::

        model = Partitioner(layers, n_grids=8).solve()
        model.labels_[:3]  # grid ids of the first three buildings
    """

    def __init__(self, layers: dict[str, gpd.GeoDataFrame], **options):
        self.layers = layers
        self.options = options
        self.labels_: np.ndarray | None = None
        self.result_: PartitionResult | None = None

    def solve(self) -> Partitioner:
        self.result_ = partition(self.layers, **self.options)
        self.labels_ = self.result_.buildings["grid_id"].to_numpy()
        return self


# ---------------------------------------------------------------- validation


def _validate(layers, n_grids, households, weights, barriers, dedicated) -> dict:
    for name in ("communities", "buildings"):
        if name not in layers:
            raise SchemaError(
                f"The input has no {name!r} layer; it has {sorted(layers)}.",
                fix="partition needs 'communities' and 'buildings' layers.",
            )
    for name, gdf in layers.items():
        if name in LAYERS and name != "grids":
            validate_layer(gdf, name)
    if (n_grids is None) == (households is None):
        raise PartitionError(
            f"Give exactly one of a grid count or a household range (got grids={n_grids}, households={households}).",
            fix="use --grids N or --households LOW-HIGH.",
        )
    if n_grids is not None and (not isinstance(n_grids, int | np.integer) or n_grids < 1):
        raise PartitionError(f"Grid count {n_grids!r} must be a positive whole number.", fix="e.g. --grids 379.")
    if households is not None:
        lo, hi = households
        if not 0 < lo <= hi:
            raise PartitionError(
                f"Household range {lo}-{hi} must satisfy 0 < low <= high.", fix="e.g. --households 300-500."
            )
    weights = dict(weights or DEFAULT_WEIGHTS)
    bad = [c for c in weights if c not in LOAD_COLUMNS]
    if bad:
        raise SchemaError(f"Unknown load column(s) {bad} in the weights.", fix=f"use {list(LOAD_COLUMNS)}.")
    if any((not np.isfinite(v)) or v < 0 for v in weights.values()):
        raise SchemaError(f"Weights {weights} must be numbers >= 0.", fix="e.g. --weights households=1,shops=0.2.")
    if "shops" in weights and "shops" not in layers:
        raise SchemaError("The weights name 'shops' but the input has no 'shops' layer.", fix="add it or drop it.")
    for name in barriers:
        if name not in layers:
            raise SchemaError(
                f"Barrier layer {name!r} is not in the input; it has {sorted(layers)}.",
                fix="name line layers such as roads, rivers.",
            )
        types = set(layers[name].geometry.geom_type)
        if not types <= {"LineString", "MultiLineString", "Polygon", "MultiPolygon"}:
            raise SchemaError(
                f"Barrier layer {name!r} holds {sorted(types)}.", fix="barriers must be lines (or polygons)."
            )
    if isinstance(dedicated, str) and dedicated not in layers:
        raise SchemaError(
            f"Dedicated layer {dedicated!r} is not in the input; it has {sorted(layers)}.",
            fix="name a polygon layer such as facilities.",
        )
    communities = layers["communities"]
    for cid, tid in zip(communities["community_id"], communities["town_id"], strict=True):
        check_community_id(cid)
        if not cid.startswith(str(tid)):
            raise SchemaError(
                f"Community {cid} does not start with its town id {tid!r}.",
                fix="community ids are the 9-digit town id followed by 3 digits.",
            )
    return {"weights": {k: float(v) for k, v in weights.items()}}


def _validate_engine(engine: str, scheduler: str | None, jobs: int) -> None:
    check_engine(engine, scheduler)
    if engine == "dask" and jobs != 1:
        raise InputError(
            f"jobs={jobs} is for the local engine; the dask engine runs on the cluster's workers.",
            fix="drop --jobs, or use --engine local.",
        )


# ---------------------------------------------------------------- context


@dataclass
class _Context:
    """Everything projected to one metric CRS, with buildings grouped into sites per community."""

    crs: pyproj.CRS
    communities: gpd.GeoDataFrame  # input order
    communities_m: np.ndarray  # metric community geometries
    areas: np.ndarray  # the same without dedicated grids
    buildings: gpd.GeoDataFrame  # input buildings
    b_xy: np.ndarray  # metric representative points
    b_community: np.ndarray  # community position or -1
    b_load: np.ndarray
    b_dedicated: np.ndarray  # dedicated grid position or -1
    b_site: np.ndarray  # site (unique point within its community) or -1
    site_xy: list  # per community
    site_load: list
    site_shape: list  # per community: footprints of each site's buildings (None for point buildings)
    dedicated: list  # (community position, metric geometry, label)
    barriers: shapely.Geometry | None
    old_site_grid: list | None
    b_old: np.ndarray | None
    weights: dict
    shops: gpd.GeoDataFrame | None
    old_ids: np.ndarray | None = None  # grid_id of each grid of the kept plan

    @classmethod
    def build(cls, inputs, layers, barrier_names, dedicated, keep) -> _Context:
        communities = layers["communities"].reset_index(drop=True)
        buildings = layers["buildings"].reset_index(drop=True)
        fwd = to_local_metric(communities)
        crs = fwd.target_crs
        com_m = project(communities.geometry.values, fwd)
        b_pts = project(shapely.point_on_surface(buildings.geometry.values), fwd)
        b_xy = shapely.get_coordinates(b_pts)
        tree = shapely.STRtree(com_m)
        bi, ci = tree.query(b_pts, predicate="intersects")
        b_community = np.full(len(buildings), -1, dtype=np.int64)
        b_community[bi[::-1]] = ci[::-1]
        weights = inputs["weights"]
        load = np.zeros(len(buildings))
        for col in ("households", "population"):
            if col in weights:
                load += weights[col] * buildings[col].to_numpy(dtype=float)
        if "buildings" in weights:
            load += weights["buildings"]
        if "shops" in weights:
            load += weights["shops"] * _shops_per_building(layers["shops"], fwd, b_xy, b_community, com_m)
        # dedicated grids: one per feature, cut out of the community holding its representative point
        ded_list = []
        areas = com_m.copy()
        if dedicated is not None:
            ded = layers[dedicated] if isinstance(dedicated, str) else dedicated
            ded_m = project(ded.geometry.values, fwd)
            di, dc = tree.query(shapely.point_on_surface(ded_m), predicate="intersects")
            first = np.unique(di, return_index=True)[1]
            label_col = next((c for c in ("name", "kind") if c in ded.columns), None)
            for d, c in zip(di[first], dc[first], strict=True):
                geom = shapely.intersection(ded_m[d], areas[c])
                geom = _polygonal(shapely.set_precision(geom, PRECISION_M))
                if shapely.is_empty(geom) or shapely.area(geom) <= 0:
                    continue
                areas[c] = _polygonal(shapely.difference(areas[c], geom))
                ded_list.append((int(c), geom, None if label_col is None else str(ded[label_col].iloc[d])))
        b_dedicated = np.full(len(buildings), -1, dtype=np.int64)
        if ded_list:
            ded_geoms = np.array([g for _, g, _ in ded_list], dtype=object)
            hb, hd = shapely.STRtree(ded_geoms).query(b_pts, predicate="intersects")
            same = np.array([ded_list[d][0] for d in hd], dtype=np.int64) == b_community[hb] if len(hb) else []
            b_dedicated[hb[same][::-1]] = hd[same][::-1]
        # sites: buildings of a community sharing one point are one site
        b_site = np.full(len(buildings), -1, dtype=np.int64)
        site_xy, site_load, site_shape = [], [], []
        basic = (b_community >= 0) & (b_dedicated < 0)
        footprints = project(buildings.geometry.values, fwd)
        footprints[shapely.get_dimensions(footprints) < 2] = None
        for c in range(len(communities)):
            members = np.flatnonzero(basic & (b_community == c))
            xy, inv = np.unique(b_xy[members], axis=0, return_inverse=True)
            b_site[members] = inv.ravel()
            site_xy.append(xy)
            site_load.append(np.bincount(inv.ravel(), weights=load[members], minlength=len(xy)))
            site_shape.append(_site_shapes(footprints[members], inv.ravel(), len(xy)))
        barrier_geom = None
        if barrier_names:
            lines = np.concatenate([project(layers[n].geometry.values, fwd) for n in barrier_names])
            lines = shapely.boundary(lines[shapely.get_dimensions(lines) == 2]).tolist() + [
                g for g in lines if shapely.get_dimensions(g) == 1
            ]
            barrier_geom = shapely.union_all(np.array(lines, dtype=object)) if lines else None
        old, b_old = None, None
        if keep is not None:
            old, b_old = _old_sites(keep, fwd, b_pts, b_site, b_community, basic, len(communities))
        return cls(
            crs, communities, com_m, areas, buildings, b_xy, b_community, load, b_dedicated, b_site,
            site_xy, site_load, site_shape, ded_list, barrier_geom, old, b_old, weights, layers.get("shops"),
            None if keep is None else keep["grid_id"].astype(str).to_numpy(),
        )  # fmt: skip

    def task(self, c: int, k_total: int, seed: int) -> CommunityTask:
        n_ded = sum(1 for dc, _, _ in self.dedicated if dc == c)
        barriers = None
        if self.barriers is not None:
            barriers = shapely.intersection(self.barriers, self.areas[c])
            if shapely.is_empty(barriers):
                barriers = None
        return CommunityTask(
            community_id=self.communities["community_id"].iloc[c],
            area=self.areas[c],
            xy=self.site_xy[c],
            weights=self.site_load[c],
            k=k_total - n_ded,
            barriers=barriers,
            initial=None if self.old_site_grid is None else self.old_site_grid[c],
            seed=seed,
            shapes=self.site_shape[c],
        )

    def minimum(self, c: int) -> int:
        """Grids community ``c`` needs at least: its dedicated grids + one per inhabited piece (or one)."""
        n_ded = sum(1 for dc, _, _ in self.dedicated if dc == c)
        parts = shapely.get_parts(self.areas[c])
        parts = parts[shapely.area(parts) > 0]
        if not len(parts):
            return n_ded
        xy = self.site_xy[c]
        if not len(xy):
            return n_ded + 1
        inhabited = np.unique(shapely.STRtree(parts).query(shapely.points(xy), predicate="intersects")[1])
        return n_ded + max(1, len(inhabited))

    def maximum(self, c: int) -> int:
        n_ded = sum(1 for dc, _, _ in self.dedicated if dc == c)
        return n_ded + max(len(self.site_xy[c]), 1 if shapely.area(self.areas[c]) > 0 else 0)


def _site_shapes(footprints: np.ndarray, site: np.ndarray, n_sites: int) -> np.ndarray:
    """The union of the footprints of each site's buildings (buildings sharing a point are one site).

    Examples
    --------
    >>> boxes = np.array([shapely.box(i, 0, i + 0.5, 1) for i in range(3)])
    >>> [round(g.area, 2) for g in _site_shapes(boxes, np.array([1, 0, 1]), 2)]
    [0.5, 1.0]
    """
    out = np.full(n_sites, None, dtype=object)
    counts = np.bincount(site, minlength=n_sites)
    alone = counts[site] == 1
    out[site[alone]] = footprints[alone]
    order = np.argsort(site, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)])
    for s in np.flatnonzero(counts > 1).tolist():
        out[s] = shapely.union_all(footprints[order[starts[s] : starts[s + 1]]])
    return out


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    parts = shapely.get_parts(geom)
    parts = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
    if len(parts) == 0:
        return shapely.Polygon()
    return shapely.multipolygons(parts) if len(parts) > 1 else parts[0]


def _shops_per_building(shops, fwd, b_xy, b_community, com_m) -> np.ndarray:
    """Each shop counts on the nearest building of the community it lies in."""
    from scipy.spatial import cKDTree

    s_pts = project(shops.geometry.values, fwd)
    si, sc = shapely.STRtree(com_m).query(s_pts, predicate="intersects")
    counts = np.zeros(len(b_xy))
    s_xy = shapely.get_coordinates(s_pts)
    for c in np.unique(sc):
        members = np.flatnonzero(b_community == c)
        if not len(members):
            continue
        _, nearest = cKDTree(b_xy[members]).query(s_xy[si[sc == c]])
        np.add.at(counts, members[nearest], 1)
    return counts


def _old_sites(keep, fwd, b_pts, b_site, b_community, basic, n_com) -> tuple[list, np.ndarray]:
    """Old grid (position in ``keep``) of each building, and of each site per community; -1 where none."""
    old_m = project(keep.geometry.values, fwd)
    hb, hg = shapely.STRtree(old_m).query(b_pts, predicate="intersects")
    b_old = np.full(len(b_pts), -1, dtype=np.int64)
    b_old[hb[::-1]] = hg[::-1]
    out = []
    for c in range(n_com):
        members = np.flatnonzero(basic & (b_community == c))
        n_sites = int(b_site[members].max()) + 1 if len(members) else 0
        site_old = np.full(n_sites, -1, dtype=np.int64)
        site_old[b_site[members]] = b_old[members]
        out.append(site_old)
    return out, b_old


# ---------------------------------------------------------------- apportionment


def _apportion(ctx: _Context, n_grids: int | None, households: tuple[float, float] | None) -> np.ndarray:
    n_com = len(ctx.communities)
    lo = np.array([ctx.minimum(c) for c in range(n_com)], dtype=np.int64)
    hi = np.array([ctx.maximum(c) for c in range(n_com)], dtype=np.int64)
    hi = np.maximum(hi, lo)
    n_ded = len(ctx.dedicated)
    loads = np.array([w.sum() for w in ctx.site_load])
    fixed = np.array([sum(1 for dc, _, _ in ctx.dedicated if dc == c) for c in range(n_com)], dtype=np.int64)
    if households is not None:
        low, high = households
        k_basic = np.maximum(1, np.round(loads / ((low + high) / 2))).astype(np.int64)
        k_min, k_max = np.ceil(loads / high), np.floor(loads / low)
        ok = k_min <= k_max
        k_basic[ok] = np.clip(k_basic[ok], k_min[ok], k_max[ok]).astype(np.int64)
        return np.clip(fixed + k_basic, lo, hi)
    if n_grids < lo.sum():
        raise PartitionError(
            f"{n_grids} grids are fewer than the {lo.sum()} needed: {n_com} communities each need one "
            f"(one per inhabited island){f', plus {n_ded} dedicated grids' if n_ded else ''}.",
            fix=f"ask for at least {lo.sum()} grids.",
            details={"requested": n_grids, "minimum": int(lo.sum())},
        )
    if n_grids > hi.sum():
        raise PartitionError(
            f"{n_grids} grids are more than the {hi.sum()} buildings can fill "
            f"({len(ctx.buildings)} buildings; a grid needs at least one building, or a community without any).",
            fix=f"ask for at most {hi.sum()} grids.",
            details={"requested": n_grids, "maximum": int(hi.sum())},
        )
    # dedicated grids are fixed; the rest follow the basic load
    return fixed + apportion(loads, n_grids - fixed.sum(), lo - fixed, hi - fixed)


# ---------------------------------------------------------------- run and assemble


def _run(tasks: list[CommunityTask], jobs: int, client=None) -> list[CommunityResult]:
    """Results in community order: on the Dask ``client`` (one task each), ``jobs`` processes, or here."""
    if client is not None:
        # biggest first; gather keeps the order of the futures
        futures = [client.submit(partition_community, t, pure=False, priority=len(t.xy)) for t in tasks]
        return client.gather(futures)
    if jobs <= 1 or len(tasks) <= 1:
        return [partition_community(t) for t in tasks]
    # biggest first so the pool stays busy
    order = sorted(range(len(tasks)), key=lambda i: -len(tasks[i].xy))
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        done = dict(zip(order, pool.map(partition_community, [tasks[i] for i in order], chunksize=1), strict=True))
    return [done[i] for i in range(len(tasks))]


def _assemble(ctx: _Context, results: list[CommunityResult], counts: np.ndarray) -> PartitionResult:
    from gridgis.lineage import keep_identity, keep_table
    from gridgis.partition.report import build_report, grid_table, match_previous

    back = pyproj.Transformer.from_crs(ctx.crs, STORAGE_CRS, always_xy=True)
    rows = []
    b_grid = np.full(len(ctx.buildings), -1, dtype=np.int64)
    for c, res in enumerate(results):
        start = len(rows)
        for geom, target, flags in zip(res.geoms, res.targets, res.flags, strict=True):
            rows.append({"c": c, "kind": "basic", "geom": geom, "target": target, "note": flags, "name": None})
        members = np.flatnonzero((ctx.b_community == c) & (ctx.b_dedicated < 0))
        if res.site_grid is not None and len(members):
            b_grid[members] = start + res.site_grid[ctx.b_site[members]]
        for d, (dc, geom, label) in enumerate(ctx.dedicated):
            if dc != c:
                continue
            in_d = np.flatnonzero(ctx.b_dedicated == d)
            b_grid[in_d] = len(rows)
            rows.append({"c": c, "kind": "dedicated", "geom": geom, "target": np.nan, "note": "", "name": label})
        mine = list(range(start, len(rows)))
        geoms = [rows[i]["geom"] for i in mine]
        flags = [rows[i]["note"] for i in mine]
        attach_loose(geoms, flags, res.loose)
        for i, geom, flag in zip(mine, geoms, flags, strict=True):
            rows[i]["geom"], rows[i]["note"] = geom, flag
    geoms_m = np.array([r["geom"] for r in rows], dtype=object)
    cents = shapely.get_coordinates(shapely.centroid(geoms_m))
    grid_code = np.empty(len(rows), dtype=object)
    com_of = np.array([r["c"] for r in rows], dtype=np.int64)
    for c in np.unique(com_of):
        pos = np.flatnonzero(com_of == c)
        grid_code[pos] = grid_codes(ctx.communities["community_id"].iloc[c], cents[pos, 0], cents[pos, 1])
    previous = None if ctx.b_old is None else match_previous(ctx.b_old, b_grid, len(rows))
    identity = None
    if previous is not None:  # a grid that continues an old one keeps its id and code (gridgis.lineage)
        identity = keep_identity(ctx.communities["community_id"].to_numpy()[com_of], grid_code, previous, ctx.old_ids)
        grid_code = identity.grid_codes
    grids = grid_table(ctx, rows, geoms_m, grid_code, b_grid, back, previous)
    buildings = ctx.buildings.copy()
    buildings["grid_id"] = pd.array([grid_code[g] if g >= 0 else None for g in b_grid], dtype="string")
    report = build_report(ctx, grids, buildings, geoms_m, b_grid, results, counts, previous)
    if identity is not None:
        coms = ctx.communities["community_id"].to_numpy()[com_of]
        table = keep_table(identity, coms, ctx.old_ids, ctx.b_old, b_grid)
        report["keep"].update(moved=sum(r["buildings_moved"] for r in table), per_community=table)
    order = np.lexsort((grids["grid_code"].to_numpy(),))
    grids = grids.iloc[order].reset_index(drop=True)
    return PartitionResult(grids=grids, buildings=buildings, report=report)
