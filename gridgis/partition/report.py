"""The grids table and the partition report (balance, bound, compactness, barriers, footprints, moves).

Balance is measured two ways, never against a target redefined for part of a
community: ``deviation`` is a grid's load against its community's mean load per
basic grid, ``county_deviation`` against the county's (every basic grid of the
plan). The report is strict JSON (:func:`report_json`): no NaN, no Infinity.
"""

from __future__ import annotations

import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gridgis.model import STORAGE_CRS
from gridgis.quality import check_plan, county_distribution, project

#: distance (metres) within which a grid edge counts as lying on a barrier
BARRIER_SNAP_M = 1.0
#: how many unassigned building ids the report lists
LIST_LIMIT = 50

def polsby_popper(geoms: np.ndarray) -> np.ndarray:
    """4 pi area / perimeter^2 of metric polygons (1 for a disc, pi/4 for a square).

    Examples
    --------
    >>> round(float(polsby_popper(np.array([shapely.box(0, 0, 1, 1)]))[0]), 4)
    0.7854
    """
    perimeter = shapely.length(geoms)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(perimeter > 0, 4 * np.pi * shapely.area(geoms) / perimeter**2, 0.0)


def grid_names(communities: pd.DataFrame, com_pos: np.ndarray, grid_code: np.ndarray, given: list) -> list[str]:
    """Grid names: the name given (dedicated grids: the facility's), else community name + sequence of the code.

    Examples
    --------
    >>> com = pd.DataFrame({"community_id": ["440784101001"], "name": ["良村村"]})
    >>> grid_names(com, np.array([0, 0]), np.array(["440784101001002", "440784101001003"]), [None, "良村小学"])
    ['良村村第2网格', '良村小学']
    """
    names = communities["name"] if "name" in communities else communities["community_id"]
    names = names.where(names.notna() & (names.astype(str).str.strip() != ""), communities["community_id"])
    names = names.astype(str).to_numpy()
    return [
        g if g is not None and str(g).strip() else f"{names[c]}第{int(str(code)[-3:])}网格"
        for g, c, code in zip(given, com_pos, grid_code, strict=True)
    ]


def grid_table(inp, rows, geoms_m, grid_code, b_grid, back, previous=None) -> gpd.GeoDataFrame:
    """The grids layer of a :class:`~gridgis.partition.inputs.PartitionInput` ``inp`` and its grid ``rows``.

    ``target`` is the community's mean load per basic grid, ``deviation`` the
    load's relative difference from it (0 in a community without load),
    ``county_deviation`` from the county's mean over basic grids; both NaN for
    dedicated grids. ``previous``: the kept plan's grid (position) each grid
    continues (see :func:`match_previous`).
    """
    n = len(rows)
    inside = b_grid >= 0
    bg = b_grid[inside]
    b = inp.buildings
    households = np.bincount(bg, weights=b["households"].to_numpy(dtype=float)[inside], minlength=n)
    population = np.bincount(bg, weights=b["population"].to_numpy(dtype=float)[inside], minlength=n)
    load = np.bincount(bg, weights=inp.building_load[inside], minlength=n)
    n_buildings = np.bincount(bg, minlength=n)
    target = np.array([r["target"] for r in rows], dtype=float)
    basic = np.array([r["kind"] == "basic" for r in rows], dtype=bool)
    county = load[basic].mean() if basic.any() else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        deviation = np.where(target > 0, (load - target) / target, np.where(basic, 0.0, np.nan))
        county_dev = np.where(basic, (load - county) / county if county > 0 else 0.0, np.nan)
    com = inp.communities
    c = np.array([r["c"] for r in rows], dtype=np.int64)
    geoms = shapely.transform(geoms_m, lambda xy: np.column_stack(back.transform(xy[:, 0], xy[:, 1])))
    grids = gpd.GeoDataFrame(
        {
            "grid_id": grid_code.astype(str),
            "grid_code": grid_code.astype(str),
            "community_id": com["community_id"].to_numpy()[c].astype(str),
            "town_id": com["town_id"].to_numpy()[c].astype(str),
            "kind": [r["kind"] for r in rows],
            "name": grid_names(com, c, grid_code, [r["name"] for r in rows]),
            "households": households.round().astype(np.int64),
            "population": population.round().astype(np.int64),
            "buildings": n_buildings.astype(np.int64),
            "shops": np.zeros(n, dtype=np.int64),
            "area_m2": shapely.area(geoms_m),
            "polsby_popper": polsby_popper(geoms_m),
            "load": load,
            "target": target,
            "deviation": deviation,
            "county_deviation": county_dev,
            "note": [r["note"] for r in rows],
        },
        geometry=geoms,
        crs=STORAGE_CRS,
    )
    if previous is not None:
        grids.insert(
            grids.columns.get_loc("note"),
            "previous_grid_id",
            pd.array([inp.keep.grid_ids[p] if p >= 0 else None for p in previous], dtype="string"),
        )
    return grids


def match_previous(b_old: np.ndarray, b_grid: np.ndarray, n_new: int) -> np.ndarray:
    """The old grid (position) each new grid continues, -1 for none: one to one, most shared buildings first.

    Examples
    --------
    New grid 0 took 3 buildings of old grid 1; new grid 1 took 2 of old grid 1 and 1 of old grid 0:

    >>> match_previous(np.array([1, 1, 1, 1, 1, 0]), np.array([0, 0, 0, 1, 1, 1]), 2).tolist()
    [1, 0]
    """
    both = (b_old >= 0) & (b_grid >= 0)
    match = np.full(n_new, -1, dtype=np.int64)
    if not both.any():
        return match
    pairs, counts = np.unique(np.column_stack([b_grid[both], b_old[both]]), axis=0, return_counts=True)
    taken = set()
    for new, old in pairs[np.argsort(-counts, kind="stable")].tolist():
        if match[new] < 0 and old not in taken:
            match[new] = old
            taken.add(old)
    return match


def count_points(grids: gpd.GeoDataFrame, points: gpd.GeoSeries) -> np.ndarray:
    """Number of points inside each grid (a point on a shared edge counts once, for the first grid)."""
    pi, gi = shapely.STRtree(grids.geometry.values).query(points.values, predicate="intersects")
    first = np.unique(pi, return_index=True)[1]
    return np.bincount(gi[first], minlength=len(grids)).astype(np.int64)


def build_report(inp, grids, buildings, geoms_m, b_grid, results, counts, tolerance, households, previous=None) -> dict:
    """The partition report (a dict of plain JSON values) of a plan of :class:`PartitionInput` ``inp``."""

    if inp.shops is not None:
        grids["shops"] = count_points(grids, inp.shops.geometry)
    basic = (grids["kind"] == "basic").to_numpy()
    dev = np.abs(grids["deviation"].to_numpy()[basic])
    bounds = np.array([r.bound for r in results])
    cids = inp.communities["community_id"].astype(str).to_numpy()
    com_of = grids["community_id"].to_numpy()
    loads = inp.basic_loads()
    n_basic = np.array([len(r.geoms) for r in results], dtype=np.int64)
    per_community = []
    for c, res in enumerate(results):
        d = np.abs(grids["deviation"].to_numpy()[basic & (com_of == cids[c])])
        per_community.append(
            {
                "community_id": cids[c],
                "grids": int(counts[c]),
                "load": float(loads[c]),
                "mean_load": float(loads[c] / n_basic[c]) if n_basic[c] else 0.0,
                "max_deviation": float(d.max()) if len(d) else 0.0,
                "bound": float(res.bound),
                "whole_blocks": res.whole_blocks,
            }
        )
    unassigned = np.flatnonzero(inp.building_community < 0)
    ids = buildings["building_id"].to_numpy()
    footprint = _footprint_share(inp, geoms_m, b_grid)
    worst = float(dev.max()) if len(dev) else 0.0
    bound = float(bounds.max()) if len(bounds) else 0.0
    report = {
        "grids": len(grids),
        "basic_grids": int(basic.sum()),
        "dedicated_grids": int((grids["kind"] == "dedicated").sum()),
        "communities": len(inp.communities),
        "buildings": len(buildings),
        "balance": {
            "max_deviation": worst,
            "mean_deviation": float(dev.mean()) if len(dev) else 0.0,
            "bound": bound,
            "above_bound": max(0.0, worst - bound),
            "tolerance": tolerance,
            "within_tolerance": float((dev <= tolerance + 1e-9).mean()) if len(dev) else 1.0,
            "load_weights": inp.weights,
        },
        "county": county_distribution(grids, tolerance, households),
        "apportionment": _apportionment(loads, n_basic, households),
        "compactness": {
            "mean_polsby_popper": float(grids["polsby_popper"].mean()) if len(grids) else 0.0,
            "min_polsby_popper": float(grids["polsby_popper"].min()) if len(grids) else 0.0,
            # the community boundaries are given, and a one-grid community's grid is its boundary
            "communities_mean_polsby_popper": float(polsby_popper(inp.community_geoms).mean()),
            "smoothed_community_pieces": int(sum(r.smoothed for r in results)),
        },
        "barriers": _barrier_share(inp, grids, geoms_m),
        "street_blocks": _block_figures(results),
        "footprints_inside_grid": footprint,
        "unassigned_buildings": {
            "count": int(len(unassigned)),
            "building_ids": [_plain(v) for v in ids[unassigned[:LIST_LIMIT]]],
            "reason": "representative point outside every community",
        },
        "reconciled_buildings": {
            "count": int(len(inp.reconciled)),
            "building_ids": [_plain(v) for v in ids[inp.reconciled[:LIST_LIMIT]]],
            "reason": "community_id named another community than the one holding the building; set to that one",
        },
        "communities_without_buildings": sorted(grids.loc[grids["note"].str.contains("no_buildings"), "community_id"]),
        "island_grids": sorted(grids.loc[grids["note"].str.contains("island_parts"), "grid_id"]),
        "per_community": per_community,
    }
    if previous is not None:
        report["keep"] = _moves(inp.keep.building_grid, b_grid, previous)
    quality = check_plan(grids, buildings, inp.communities, n_grids=int(counts.sum()))
    report["quality"] = quality.to_dict()
    return strict(report)


def _apportionment(loads: np.ndarray, n_basic: np.ndarray, households) -> dict:
    """Largest and smallest community mean load per basic grid, next to the least largest mean the counts allow."""
    from gridgis.partition.apportion import largest_mean

    has = n_basic > 0
    means = loads[has] / n_basic[has]
    out = {
        "largest_community_mean": float(means.max()) if len(means) else 0.0,
        "smallest_community_mean": float(means.min()) if len(means) else 0.0,
    }
    if households is None and has.any():
        # the highest-averages count gives the least largest mean for this total (see apportion)
        from gridgis.partition.apportion import apportion

        best = apportion(loads[has], int(n_basic.sum()), np.ones(int(has.sum()), dtype=np.int64))
        out["bound"] = largest_mean(loads[has], best)
    return out


def _block_figures(results) -> dict:
    """How many grids are unions of whole street blocks, how many blocks were split, and how far the blocks let
    inner grid edges follow barriers.

    Over the tessellation's cells (before edges are smoothed): ``share_on_barriers_cells`` is the share of
    the inner grid edges' length on barriers; ``possible_share`` the share that is not inside a block whose
    load alone exceeds the community mean by more than the tolerance (such a block cannot be one grid, so an
    edge must cross it): "X % on barriers, of at most Y %" for this plan's cut. ``street_networks``: the same
    over the communities whose barriers enclose at least two blocks holding buildings (the target applies there).
    """
    grids = sum(len(r.geoms) for r in results)
    whole = sum(r.whole_blocks for r in results)
    out = {
        "grids": int(grids),
        "whole_block_grids": int(whole),
        "split_blocks": int(sum(r.split_blocks for r in results)),
        "blocks": int(sum(r.blocks for r in results)),
    }
    networked = [r for r in results if r.blocks >= 2]
    for key, group in (("all", results), ("street_networks", networked)):
        cut = sum(r.cut_m for r in group)
        on = sum(r.cut_on_barriers_m for r in group)
        forced = sum(r.cut_forced_m for r in group)
        figures = {
            "communities": len(group),
            "inner_edge_m": float(cut),
            "inside_oversized_blocks_m": float(forced),
            "share_on_barriers_cells": on / cut if cut else None,
            "possible_share": 1 - forced / cut if cut else None,
        }
        if key == "all":
            out.update({k: v for k, v in figures.items() if k != "communities"})
        else:
            out[key] = figures
    return out


def strict(value):
    """``value`` with numpy scalars made plain and NaN or infinite floats made None (strict JSON).

    Examples
    --------
    >>> strict({"a": float("nan"), "b": [np.float64(1.5), np.inf], "c": np.int64(2)})
    {'a': None, 'b': [1.5, None], 'c': 2}
    """
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def report_json(report: dict) -> str:
    """The report as strict JSON text (``JSON.parse`` takes it: no NaN, no Infinity)."""
    return json.dumps(strict(report), ensure_ascii=False, indent=2, allow_nan=False, default=str)


def _plain(v):
    return v.item() if hasattr(v, "item") else v


def _footprint_share(inp, geoms_m, b_grid) -> dict:
    """Share of polygon footprints lying wholly inside the grid holding their representative point.

    Judged over the footprints that lie inside their community and that no barrier crosses (a grid
    edge must cut those; a building on a community boundary is cut by the boundary), to the millimetre.
    """

    geoms = inp.buildings.geometry.values
    poly = np.isin(shapely.get_type_id(geoms), (3, 6)) & (b_grid >= 0)
    if not poly.any():
        return {"polygons": 0, "judged": 0, "share_inside": 1.0}
    fwd = pyproj.Transformer.from_crs(STORAGE_CRS, inp.crs, always_xy=True)
    fp = np.full(len(geoms), None, dtype=object)
    fp[poly] = project(geoms[poly], fwd)
    idx = np.flatnonzero(poly)
    com = inp.building_community[idx]
    snap = BARRIER_SNAP_M / 1000
    communities = shapely.buffer(inp.community_geoms, snap)
    shapely.prepare(communities)
    judged = shapely.covers(communities[com], fp[idx])
    if inp.barriers is not None:
        crossed = shapely.STRtree(shapely.get_parts(inp.barriers)).query(fp[idx], predicate="intersects")[0]
        judged[crossed] = False
    idx = idx[judged]
    if not len(idx):
        return {"polygons": int(poly.sum()), "judged": 0, "share_inside": 1.0}
    grids = shapely.buffer(geoms_m, snap)
    shapely.prepare(grids)
    inside = shapely.covers(grids[b_grid[idx]], fp[idx])
    return {"polygons": int(poly.sum()), "judged": int(len(idx)), "share_inside": float(inside.mean())}


def _barrier_share(inp, grids, geoms_m) -> dict:
    """Share of the grid edges inside communities (not their outer boundary) lying on a barrier.

    An edge lies on a barrier where it is within ``BARRIER_SNAP_M`` of one: the inner edges are cut
    into pieces of at most ``BARRIER_SNAP_M`` and a piece counts when its midpoint is that close
    (so the figure is exact to about a metre per edge end). ``share_on_barriers`` counts every inner
    edge; ``basic_share_on_barriers`` leaves out the outlines of dedicated grids (a school's or a
    market's outline is given, not drawn by the partition), i.e. only edges between basic grids.
    """
    if inp.barriers is None:
        return {"share_on_barriers": None}
    tree = shapely.STRtree(shapely.get_parts(inp.barriers))
    total = on = basic_total = basic_on = 0.0
    com_of = grids["community_id"].to_numpy()
    dedicated = (grids["kind"] == "dedicated").to_numpy()
    for c, cid in enumerate(inp.communities["community_id"]):
        mine = com_of == cid
        if mine.sum() < 2:
            continue
        inner = shapely.difference(
            shapely.union_all(shapely.boundary(geoms_m[mine])),
            shapely.buffer(shapely.boundary(inp.community_geoms[c]), BARRIER_SNAP_M),
        )
        xy, line = shapely.get_coordinates(
            shapely.segmentize(shapely.get_parts(inner), BARRIER_SNAP_M), return_index=True
        )
        same = line[1:] == line[:-1]
        a, b = xy[:-1][same], xy[1:][same]
        mid = shapely.points((a + b) / 2)
        length = np.hypot(*(b - a).T)
        near = np.zeros(len(a), dtype=bool)
        near[tree.query(mid, predicate="dwithin", distance=BARRIER_SNAP_M)[0]] = True
        total += float(length.sum())
        on += float(length[near].sum())
        basic = np.ones(len(a), dtype=bool)
        if (mine & dedicated).any():
            outlines = shapely.STRtree(shapely.boundary(geoms_m[mine & dedicated]))
            basic[outlines.query(mid, predicate="dwithin", distance=BARRIER_SNAP_M)[0]] = False
        basic_total += float(length[basic].sum())
        basic_on += float(length[basic & near].sum())
    return {
        "share_on_barriers": on / total if total else None,
        "inner_edge_m": total,
        "basic_share_on_barriers": basic_on / basic_total if basic_total else None,
        "basic_inner_edge_m": basic_total,
    }


def _moves(b_old: np.ndarray, b_grid: np.ndarray, match: np.ndarray) -> dict:
    """Buildings whose grid changed: not in the old grid ``match`` says their new grid continues."""
    both = (b_old >= 0) & (b_grid >= 0)
    moved = int((b_old[both] != match[b_grid[both]]).sum())
    return {"buildings_compared": int(both.sum()), "moved": moved, "share_moved": moved / max(int(both.sum()), 1)}


def summary(report: dict) -> str:
    """A readable summary of a partition report for the terminal."""
    b, c = report["balance"], report["compactness"]
    lines = [
        f"{report['grids']} grids ({report['basic_grids']} basic, {report['dedicated_grids']} dedicated) "
        f"in {report['communities']} communities, {report['buildings']:,} buildings, {report['seconds']:.1f} s",
        f"balance      in community: max |load-mean|/mean {b['max_deviation']:.2%}, mean {b['mean_deviation']:.2%}, "
        f"{b['within_tolerance']:.1%} of grids within {b['tolerance']:.0%} "
        f"(lower bound from indivisible buildings {b['bound']:.2%})",
    ]
    county = report.get("county", {})
    if county.get("grids"):
        lines.append(
            f"county       grids hold {county['min']:,.0f}-{county['max']:,.0f} (mean {county['mean']:,.0f}, "
            f"std {county['std']:,.0f}, max |load-mean|/mean {county['max_deviation']:.1%}); "
            f"{county['outside_range']} outside {county['range'][0]:,.0f}-{county['range'][1]:,.0f}"
        )
    a = report.get("apportionment", {})
    if a.get("bound"):
        lines.append(
            f"apportion    largest community mean {a['largest_community_mean']:,.0f} per grid "
            f"(least possible {a['bound']:,.0f}), smallest {a['smallest_community_mean']:,.0f}"
        )
    lines += [
        f"compactness  Polsby-Popper mean {c['mean_polsby_popper']:.3f}, min {c['min_polsby_popper']:.3f} "
        f"(the communities themselves: mean {c['communities_mean_polsby_popper'] or 0:.3f})",
        f"footprints   {report['footprints_inside_grid']['share_inside']:.2%} wholly inside their grid",
    ]
    share = report["barriers"].get("share_on_barriers")
    if share is not None:
        blocks = report.get("street_blocks", {})
        basic = report["barriers"].get("basic_share_on_barriers")
        between = "" if basic is None or basic == share else f" ({basic:.1%} between basic grids)"
        lines.append(
            f"barriers     {share:.1%} of inner grid edges on barriers{between}; "
            f"{blocks.get('whole_block_grids', 0)} of {blocks.get('grids', 0)} grids are whole street blocks, "
            f"{blocks.get('split_blocks', 0)} of "
            f"{blocks.get('blocks', 0)} blocks split (tolerance {b['tolerance']:.0%})"
        )
        if blocks.get("possible_share") is not None:
            lines.append(
                f"             over the cells {blocks['share_on_barriers_cells']:.1%} on barriers, of at most "
                f"{blocks['possible_share']:.1%}: {blocks['inside_oversized_blocks_m']:,.0f} of "
                f"{blocks['inner_edge_m']:,.0f} m lie inside blocks heavier than one grid may be"
            )
    if report["unassigned_buildings"]["count"]:
        u = report["unassigned_buildings"]
        lines.append(f"outside      {u['count']} building(s) outside every community, e.g. {u['building_ids'][:10]}")
    if report.get("reconciled_buildings", {}).get("count"):
        r = report["reconciled_buildings"]
        lines.append(f"community    {r['count']} building(s) named another community, e.g. {r['building_ids'][:10]}")
    if report["communities_without_buildings"]:
        lines.append(
            f"empty        communities without buildings (one grid each): {report['communities_without_buildings']}"[
                :400
            ]
        )
    if report["island_grids"]:
        lines.append(f"islands      grids holding an island without buildings: {report['island_grids']}")
    if "range" in report:
        r = report["range"]
        lines.append(
            f"range        {len(r['grids_outside'])} grid(s) outside {r['low']:g}-{r['high']:g}; "
            f"{len(r['infeasible'])} communities cannot fit the range"
        )
        for item in r["infeasible"][:5]:
            lines.append(f"             {item['community_id']}: {item['reason']}")
    if "keep" in report:
        k = report["keep"]
        lines.append(f"keep         {k['moved']:,} of {k['buildings_compared']:,} buildings changed grid")
        for row in k.get("per_community", []):
            if row["new"] or row["retired"] or row["buildings_moved"]:
                lines.append(
                    f"  {row['community_id']}  grids {row['kept']} kept, {row['new']} new, {row['retired']} retired; "
                    f"{row['buildings_moved']:,} buildings moved"
                )
    worst = sorted(report["per_community"], key=lambda d: -d["max_deviation"])[:3]
    if worst and worst[0]["max_deviation"] > 0.01:
        lines.append(
            "least balanced: "
            + ", ".join(
                f"{w['community_id']} {w['max_deviation']:.1%} ({w['grids']} grids, bound {w['bound']:.1%})"
                for w in worst
            )
        )
    return "\n".join(lines)
