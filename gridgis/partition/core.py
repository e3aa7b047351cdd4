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
from gridgis.errors import InputError, PartitionError, SchemaError
from gridgis.model import LAYERS, STORAGE_CRS, validate_layer
from gridgis.partition.apportion import apportion, highest_averages, range_count
from gridgis.partition.blocks import blocks_layer
from gridgis.partition.community import CommunityResult, CommunityTask, attach_loose, partition_community
from gridgis.partition.inputs import PartitionInput
from gridgis.progress import track

#: load columns a weight can name; ``shops`` counts shops, ``buildings`` counts buildings
LOAD_COLUMNS = ("households", "population", "shops", "buildings")
DEFAULT_WEIGHTS = {"households": 1.0}
#: relative deviation from the community mean planners accept for a grid that follows streets (10 %)
DEFAULT_TOLERANCE = 0.10


@dataclass
class PartitionResult:
    """A partition: the ``grids`` layer, the ``buildings`` layer with ``grid_id``, the report, and the street
    ``blocks`` the grids were cut from (:func:`gridgis.partition.blocks.blocks_layer`)."""

    grids: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    report: dict = field(default_factory=dict)
    blocks: gpd.GeoDataFrame | None = None


def partition(
    layers: dict[str, gpd.GeoDataFrame],
    *,
    n_grids: int | None = None,
    households: tuple[float, float] | None = None,
    weights: dict[str, float] | None = None,
    barriers: Sequence[str] = (),
    dedicated: str | gpd.GeoDataFrame | None = None,
    keep: gpd.GeoDataFrame | None = None,
    recount: bool = False,
    tolerance: float = DEFAULT_TOLERANCE,
    seed: int = 0,
    jobs: int = 1,
    engine: str = "local",
    scheduler: str | None = None,
    check: bool = True,
) -> PartitionResult:
    """Cut every community into grids of balanced load: contiguous, compact, coded.

    The grids are apportioned over communities so that the largest community
    mean load per grid is as small as the counts allow, then the smallest as
    large (see :func:`apportion`; at least one per community, dedicated grids
    counting in the total).
    Inside a community the area is tessellated into cells that follow the
    buildings' footprints, cut by the barriers into street blocks (see
    :mod:`gridgis.partition.tessellate`); a grid is a union of whole street
    blocks unless that misses the community mean by more than ``tolerance``,
    then the fewest blocks are split (see
    :func:`gridgis.partition.community.by_blocks`). Units are split by
    weighted recursive bisection, made contiguous and balanced by boundary
    moves, and the cells are dissolved per grid. A building belongs to the
    grid holding its representative point, and lies wholly inside it unless
    a barrier or the community boundary crosses it.

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
        buildings as the balance allows. A grid that continues an old one keeps
        its id and code, new grids take the next unused numbers
        (:mod:`gridgis.lineage`), and each community keeps its grid count while
        its load per grid stays in the range (:func:`gridgis.lineage.kept_counts`).
    recount
        With ``keep``: apportion the grid counts afresh instead.
    tolerance
        Relative deviation from the community mean load a grid may have to
        follow streets and keep its shape (default 0.10). Also the county-wide
        range in grid-count mode: grids outside the county mean +- tolerance
        are counted in the report.
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
    check
        Raise :class:`PartitionError` when the plan breaks a hard rule (see
        :mod:`gridgis.quality`); False returns it anyway (its report says what broke).

    Returns
    -------
    PartitionResult

    Raises
    ------
    PartitionError
        Fewer grids than communities (plus dedicated grids), more grids than
        buildings, both/neither of ``n_grids`` and ``households``, a tolerance
        outside 0-1, or (``check=True``) a plan breaking a hard rule.
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
    checked = _validate(layers, n_grids, households, weights, barriers, dedicated, tolerance)
    _validate_engine(engine, scheduler, jobs)
    with ExitStack() as stack:
        # connect before the heavy preparation, so a bad scheduler fails fast
        client = stack.enter_context(dask_client(scheduler)) if engine == "dask" else None
        inp = PartitionInput.build(layers, checked["weights"], tuple(barriers), dedicated, keep)
        counts, range_notes = _apportion(inp, n_grids, households)
        if inp.keep is not None and not recount:
            counts = _keep_counts(inp, counts, n_grids, households)
        tasks = [_task(inp, c, counts[c], seed, tolerance) for c in range(len(inp.communities))]
        results = _run(tasks, jobs, client)
    result = _assemble(inp, results, counts, tolerance, households)
    result.blocks = blocks_layer(inp, [r.street_blocks for r in results])
    result.report["seconds"] = round(time.perf_counter() - started, 3)
    result.report["request"] = {
        "n_grids": n_grids,
        "households": list(households) if households else None,
        "weights": checked["weights"],
        "barriers": list(barriers),
        "dedicated": dedicated if isinstance(dedicated, str) else (None if dedicated is None else "<frame>"),
        "keep": keep is not None,
        "recount": recount,
        "tolerance": tolerance,
        "seed": seed,
        "engine": engine,
    }
    if households is not None:
        result.report["range"] = range_report(result.grids, households, range_notes)
    if check and not result.report["quality"]["ok"]:
        failures = [f"{n}: {c['detail']}" for n, c in result.report["quality"]["checks"].items() if not c["ok"]]
        raise PartitionError(
            "The plan breaks a hard rule: " + "; ".join(failures),
            fix="report this with the input file; it is a bug (partition(check=False) returns the plan anyway).",
            details={"failures": failures},
        )
    return result


def range_report(grids: gpd.GeoDataFrame, households: tuple[float, float], notes: dict[str, str]) -> dict:
    """Which basic grids fall outside the load range, and each community that cannot fit it, with the reason.

    ``notes`` maps community ids to the reason found when counting their grids
    (see :func:`gridgis.partition.apportion.range_count`).

    Examples
    --------
    >>> import geopandas as gpd
    >>> g = gpd.GeoDataFrame({"grid_id": ["1", "2", "3"], "community_id": ["a", "b", "b"], "kind": "basic",
    ...                       "load": [250.0, 425.0, 425.0]})
    >>> r = range_report(g, (300, 400), {"a": "load 250 is below the range: one grid"})
    >>> r["grids_outside"], r["infeasible"][0]["reason"]
    (['1', '2', '3'], 'load 250 is below the range: one grid')
    """
    low, high = households
    basic = grids[grids["kind"] == "basic"]
    outside = basic[(basic["load"] < low) | (basic["load"] > high)]
    load = basic.groupby("community_id")["load"].sum()
    infeasible = [
        {"community_id": cid, "load": float(load.get(cid, 0.0)), "reason": reason} for cid, reason in notes.items()
    ]
    return {
        "low": low,
        "high": high,
        "grids_outside": sorted(outside["grid_id"].astype(str).tolist()),
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


def _validate(layers, n_grids, households, weights, barriers, dedicated, tolerance) -> dict:
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
    if not (isinstance(tolerance, int | float) and 0 <= tolerance < 1):
        raise PartitionError(
            f"Tolerance {tolerance!r} must be a share between 0 and 1.", fix="e.g. --tolerance 0.1 (10 %)."
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


# ---------------------------------------------------------------- apportionment


def _apportion(
    inp: PartitionInput, n_grids: int | None, households: tuple[float, float] | None
) -> tuple[np.ndarray, dict[str, str]]:
    """Grids per community (dedicated ones included), and why a community cannot fit the range (range mode)."""
    n_com = len(inp.communities)
    lo = np.array([inp.minimum(c) for c in range(n_com)], dtype=np.int64)
    hi = np.array([inp.maximum(c) for c in range(n_com)], dtype=np.int64)
    hi = np.maximum(hi, lo)
    n_ded = len(inp.dedicated)
    fixed = np.array([inp.n_dedicated(c) for c in range(n_com)], dtype=np.int64)
    if households is not None:
        low, high = households
        counts, notes = np.zeros(n_com, dtype=np.int64), {}
        for c in range(n_com):
            k, reason = range_count(inp.sites[c].load, low, high)
            counts[c] = fixed[c] + k
            if reason is not None:
                notes[str(inp.communities["community_id"].iloc[c])] = reason
        return np.clip(counts, lo, hi), notes
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
            f"({len(inp.buildings)} buildings; a grid needs at least one building, or a community without any).",
            fix=f"ask for at most {hi.sum()} grids.",
            details={"requested": n_grids, "maximum": int(hi.sum())},
        )
    # dedicated grids are fixed; the rest follow the basic load
    return fixed + apportion(inp.basic_loads(), n_grids - fixed.sum(), lo - fixed, hi - fixed), {}


def _keep_counts(inp, counts: np.ndarray, n_grids: int | None, households) -> np.ndarray:
    """``--keep``: each community keeps its old basic grid count while its load per grid stays in the planner's
    range (``--households``, else the county mean of ``--grids`` -/+ :data:`gridgis.lineage.KEEP_SPREAD`); see
    :func:`gridgis.lineage.kept_counts`."""
    from gridgis.lineage import KEEP_SPREAD, kept_counts

    n_com = len(inp.communities)
    fixed = np.array([inp.n_dedicated(c) for c in range(n_com)], dtype=np.int64)
    loads = np.asarray(inp.basic_loads(), dtype=float)
    old = np.array([len(np.unique(s[s >= 0])) for s in inp.keep.site_grid], dtype=np.int64)
    if households is not None:
        low, high = households
    else:
        mean = loads.sum() / max(int(counts.sum() - fixed.sum()), 1)
        low, high = mean * (1 - KEEP_SPREAD), mean * (1 + KEEP_SPREAD)
    lo = np.array([inp.minimum(c) for c in range(n_com)], dtype=np.int64)
    hi = np.maximum(np.array([inp.maximum(c) for c in range(n_com)], dtype=np.int64), lo)
    out = np.clip(fixed + kept_counts(old, counts - fixed, loads, low, high), lo, hi)
    return out if n_grids is None else _to_total(out, n_grids, loads, fixed, lo, hi)


def _to_total(counts: np.ndarray, n_grids: int, loads: np.ndarray, fixed: np.ndarray, lo, hi) -> np.ndarray:
    """Kept counts brought to the ``n_grids`` the planner asked for, one grid at a time: a grid more goes to the
    community with the largest load per basic grid, a grid less comes from the one with the smallest (the
    apportionment's rule, :mod:`gridgis.partition.apportion`), so every other community keeps its count."""
    counts = counts.copy()
    if counts.sum() < n_grids:
        return fixed + highest_averages(loads, counts - fixed, hi - fixed, n_grids - int(fixed.sum()))
    while counts.sum() > n_grids:
        basic = np.maximum(counts - fixed, 0)
        per = np.where(basic > 0, loads / np.maximum(basic, 1), np.where(loads > 0, np.inf, 0.0))
        open_ = counts > lo
        if not open_.any():
            break
        counts[int(np.argmin(np.where(open_, per, np.inf)))] -= 1
    return counts


def _task(inp: PartitionInput, c: int, k_total: int, seed: int, tolerance: float) -> CommunityTask:
    """Community ``c`` as a unit of parallel work: its area, sites and their loads, its barriers."""
    barriers = None
    if inp.barriers is not None:
        barriers = shapely.intersection(inp.barriers, inp.areas[c])
        if shapely.is_empty(barriers):
            barriers = None
    sites = inp.sites[c]
    return CommunityTask(
        community_id=inp.communities["community_id"].iloc[c],
        area=inp.areas[c],
        xy=sites.xy,
        weights=sites.load,
        k=k_total - inp.n_dedicated(c),
        barriers=barriers,
        initial=None if inp.keep is None else inp.keep.site_grid[c],
        seed=seed,
        shapes=sites.shapes,
        tolerance=tolerance,
    )


# ---------------------------------------------------------------- run and assemble


def _run(tasks: list[CommunityTask], jobs: int, client=None) -> list[CommunityResult]:
    """Results in community order: on the Dask ``client`` (one task each), ``jobs`` processes, or here."""
    if client is not None:
        # biggest first; gather keeps the order of the futures
        from distributed import as_completed

        futures = [client.submit(partition_community, t, pure=False, priority=len(t.xy)) for t in tasks]
        for _ in track(as_completed(futures), "partitioning communities", len(futures)):
            pass
        return client.gather(futures)
    if jobs <= 1 or len(tasks) <= 1:
        return [partition_community(t) for t in track(tasks, "partitioning communities")]
    # biggest first so the pool stays busy
    order = sorted(range(len(tasks)), key=lambda i: -len(tasks[i].xy))
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        results = pool.map(partition_community, [tasks[i] for i in order], chunksize=1)
        done = dict(zip(order, track(results, "partitioning communities", len(tasks)), strict=True))
    return [done[i] for i in range(len(tasks))]


def _assemble(
    inp: PartitionInput,
    results: list[CommunityResult],
    counts: np.ndarray,
    tolerance: float,
    households: tuple[float, float] | None,
) -> PartitionResult:
    from gridgis.lineage import keep_identity, keep_table
    from gridgis.partition.report import build_report, grid_table, match_previous

    back = pyproj.Transformer.from_crs(inp.crs, STORAGE_CRS, always_xy=True)
    rows = []
    b_grid = np.full(len(inp.buildings), -1, dtype=np.int64)
    for c, res in enumerate(results):
        start = len(rows)
        # every basic grid is measured against its community's mean, islands or not
        mean = inp.sites[c].load.sum() / len(res.geoms) if len(res.geoms) else 0.0
        for geom, flags in zip(res.geoms, res.flags, strict=True):
            rows.append({"c": c, "kind": "basic", "geom": geom, "target": mean, "note": flags, "name": None})
        members = np.flatnonzero((inp.building_community == c) & (inp.building_dedicated < 0))
        if res.site_grid is not None and len(members):
            b_grid[members] = start + res.site_grid[inp.building_site[members]]
        for d, ded in enumerate(inp.dedicated):
            if ded.community != c:
                continue
            b_grid[np.flatnonzero(inp.building_dedicated == d)] = len(rows)
            rows.append(
                {"c": c, "kind": "dedicated", "geom": ded.geometry, "target": np.nan, "note": "", "name": ded.label}
            )
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
        grid_code[pos] = grid_codes(inp.communities["community_id"].iloc[c], cents[pos, 0], cents[pos, 1])
    previous = None if inp.keep is None else match_previous(inp.keep.building_grid, b_grid, len(rows))
    identity = None
    if previous is not None:  # a grid that continues an old one keeps its id and code (gridgis.lineage)
        coms = inp.communities["community_id"].to_numpy()[com_of]
        identity = keep_identity(coms, grid_code, previous, inp.keep.grid_ids)
        grid_code = identity.grid_codes
    grids = grid_table(inp, rows, geoms_m, grid_code, b_grid, back, previous)
    buildings = inp.buildings.copy()
    buildings["grid_id"] = pd.array([grid_code[g] if g >= 0 else None for g in b_grid], dtype="string")
    if len(inp.reconciled):
        ids = buildings["community_id"].astype("string").to_numpy()
        ids[inp.reconciled] = (
            inp.communities["community_id"].astype(str).to_numpy()[inp.building_community[inp.reconciled]]
        )
        buildings["community_id"] = pd.array(ids, dtype="string")
    report = build_report(inp, grids, buildings, geoms_m, b_grid, results, counts, tolerance, households, previous)
    if identity is not None:
        table = keep_table(identity, coms, inp.keep.grid_ids, inp.keep.building_grid, b_grid)
        report["keep"].update(moved=sum(r["buildings_moved"] for r in table), per_community=table)
    order = np.lexsort((grids["grid_code"].to_numpy(),))
    grids = grids.iloc[order].reset_index(drop=True)
    return PartitionResult(grids=grids, buildings=buildings, report=report)
