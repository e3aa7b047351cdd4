"""Point-in-grid assignment: gridgis.GridIndex against geopandas.sjoin, shapely STRtree and rtree + shapely.

Grids: 379 cells of a seeded Voronoi tessellation of Heshan's real outline
(data/geo/heshan.geojson), edges densified and bent by a smooth displacement
field (60-150 vertices a grid, shared edges kept shared). Points: uniform over
the outline's bounding box (about 40% fall inside a grid). Every method answers
"lowest grid position covering the point, else -1"; the script checks that all
agree point for point.

The slow peers run on 1 M points only (sjoin alone takes several seconds there);
gridgis also runs on 10 M, checked against STRtree on a 200,000-point sample.
Peak memory is the tracemalloc peak (NumPy and Python allocations; GEOS's own
C++ allocations are not seen) during a separate 1 M-point run of each method.

End to end: ``gridgis.assign(points, grids)`` on a GeoDataFrame of 1 M points against
``geopandas.sjoin(points, grids, predicate=...)`` reduced to the same answer (lowest grid
position), for both predicates: gridgis with a cold index (built in the call) and with the
index kept beside the plan (read from its ``.gridindex.npz`` in the call). Best of 3 runs,
wall and CPU seconds (on a loaded machine the CPU ratio is the steadier one); the answers must
be equal point for point.

Run: ``.venv/bin/python benchmarks/assign.py [--seed 0] [--big 10000000]``
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import rtree.index
import shapely

from gridgis.assign import GridIndex, assign
from gridgis.assign.saved import load_index, save_index
from gridgis.paths import HESHAN_OUTLINE

N_GRIDS = 379
SEGMENT = 0.0007  # degrees, about 70 m: 60-150 vertices a grid (a few border ones more)


def heshan_grids(seed: int = 0, n: int = N_GRIDS) -> gpd.GeoSeries:
    """``n`` bent Voronoi cells tiling Heshan's outline (EPSG:4326)."""
    rng = np.random.default_rng(seed)
    outline = shapely.make_valid(gpd.read_file(HESHAN_OUTLINE).geometry.union_all())
    outline = shapely.simplify(outline, 0.002)  # the published outline has 2,400 vertices: keep cells at 60-150
    minx, miny, maxx, maxy = outline.bounds
    seeds: list = []
    while len(seeds) < n:
        pts = shapely.points(rng.uniform(minx, maxx, 4 * n), rng.uniform(miny, maxy, 4 * n))
        seeds.extend(pts[shapely.contains(outline, pts)])
    seeds = np.array(seeds[:n])
    for _ in range(3):  # Lloyd relaxation: cells of similar size, as planners draw them
        cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=outline))
        cells = shapely.intersection(cells, outline)
        seeds = shapely.point_on_surface(shapely.centroid(cells[~shapely.is_empty(cells)]))
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=outline))
    cells = shapely.intersection(cells, outline)
    cells = cells[~shapely.is_empty(cells)]
    cells = shapely.segmentize(cells, SEGMENT)

    def bend(c: np.ndarray) -> np.ndarray:
        # smooth (gradient < 1) displacement: the same vertex moves the same way in every cell
        dx = 0.0006 * np.sin(c[:, 1] * 700.0) + 0.0003 * np.sin(c[:, 1] * 1900.0 + 1.0)
        dy = 0.0006 * np.sin(c[:, 0] * 650.0) + 0.0003 * np.sin(c[:, 0] * 2100.0 + 2.0)
        return c + np.column_stack([dx, dy])

    cells = shapely.transform(cells, bend)
    # snap to 1e-9 degrees so that vertices shared by two cells are equal to the last bit: an exact tiling
    cells = shapely.set_precision(cells, 1e-9)
    cells = np.array([shapely.make_valid(c) if not c.is_valid else c for c in cells], dtype=object)
    cells = np.array([g if g.geom_type in ("Polygon", "MultiPolygon") else polygonal(g) for g in cells], dtype=object)
    return gpd.GeoSeries(cells, crs="EPSG:4326")


def polygonal(geom):
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts)


def lowest(point: np.ndarray, grid: np.ndarray, n: int) -> np.ndarray:
    """Lowest grid per point from (point, grid) pairs; -1 where there is none."""
    out = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(out, point, grid)
    out[out == np.iinfo(np.int64).max] = -1
    return out


def run_sjoin(grids: gpd.GeoSeries, x, y) -> np.ndarray:
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=grids.crs)
    joined = gpd.sjoin(pts, gpd.GeoDataFrame(geometry=grids), predicate="intersects", how="inner")
    return lowest(joined.index.to_numpy(), joined["index_right"].to_numpy(), len(x))


def run_strtree(grids: gpd.GeoSeries, x, y) -> np.ndarray:
    tree = shapely.STRtree(grids.values)
    point, grid = tree.query(shapely.points(x, y), predicate="intersects")
    return lowest(point, grid, len(x))


def run_rtree(grids: gpd.GeoSeries, x, y) -> np.ndarray:
    geoms = np.asarray(grids.values, dtype=object)
    index = rtree.index.Index(((i, tuple(b), None) for i, b in enumerate(shapely.bounds(geoms))))
    for g in geoms:
        shapely.prepare(g)
    ids, counts = index.intersection_v(np.column_stack([x, y]), np.column_stack([x, y]))
    point = np.repeat(np.arange(len(x)), counts.astype(np.int64))
    ids = ids.astype(np.int64)
    hit = shapely.intersects_xy(geoms[ids], x[point], y[point])
    return lowest(point[hit], ids[hit], len(x))


def run_gridgis(grids: gpd.GeoSeries, x, y) -> np.ndarray:
    return GridIndex(grids).locate(x, y)


def sjoin_lowest(points: gpd.GeoDataFrame, grids: gpd.GeoDataFrame, predicate: str) -> np.ndarray:
    joined = gpd.sjoin(points, grids, predicate=predicate, how="inner")
    return lowest(joined.index.to_numpy(), joined["index_right"].to_numpy(), len(points))


def best_of(runs: int, fn: Callable, *args) -> tuple[np.ndarray, float, float]:
    """Answer, best wall seconds, best CPU seconds (this process) of ``runs`` runs."""
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn(*args)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return out, min(walls), min(cpus)


def end_to_end(grids: gpd.GeoSeries, x: np.ndarray, y: np.ndarray, runs: int = 3) -> bool:
    """assign() against geopandas.sjoin on one GeoDataFrame of points; True when all answers agree."""
    frame = gpd.GeoDataFrame({"grid_id": np.arange(len(grids)).astype(str)}, geometry=grids)
    points = gpd.GeoDataFrame({"n": np.arange(len(x))}, geometry=gpd.points_from_xy(x, y), crs=grids.crs)
    with tempfile.TemporaryDirectory() as tmp:
        kept = Path(tmp) / "plan.gridindex.npz"
        save_index(GridIndex(frame), kept)
        size = kept.stat().st_size
        print(
            f"\nassign() end to end on a GeoDataFrame of {len(x):,} points (best of {runs}; "
            f"kept index file {size / 2**20:.1f} MiB; load average {os.getloadavg()[0]:.1f})"
        )
        print(f"{'method':<44}{'wall s':>9}{'CPU s':>9}{'vs sjoin (wall)':>17}{'(CPU)':>8}")
        same = True
        for predicate in ("intersects", "within"):
            want, base, base_cpu = best_of(runs, sjoin_lowest, points, frame, predicate)
            print(f"{'geopandas.sjoin ' + predicate:<44}{base:>9.3f}{base_cpu:>9.3f}{'1.0x':>17}{'1.0x':>8}")
            methods = {
                "gridgis assign, index built in the call": lambda p=predicate: assign(points, frame, predicate=p),
                "gridgis assign, index kept with the plan": lambda p=predicate: assign(
                    points, load_index(kept, frame), predicate=p
                ),
            }
            for name, fn in methods.items():
                got, wall, cpu = best_of(runs, fn)
                same &= bool(np.array_equal(got, want))
                print(f"{'  ' + name:<44}{wall:>9.3f}{cpu:>9.3f}{base / wall:>16.1f}x{base_cpu / cpu:>7.1f}x")
    print(f"answers equal to sjoin's point for point: {same}")
    return same


def timed(fn: Callable, *args) -> tuple[np.ndarray, float]:
    t = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t


def traced_peak_mb(fn: Callable, *args) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn(*args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--small", type=int, default=1_000_000, help="points for every method")
    parser.add_argument("--big", type=int, default=10_000_000, help="points for gridgis only")
    args = parser.parse_args()

    grids = heshan_grids(args.seed)
    vertices = shapely.get_num_coordinates(grids.values)
    print(
        f"{len(grids)} grids over Heshan, vertices per grid: min {vertices.min()}, median {int(np.median(vertices))}, "
        f"max {vertices.max()}; valid: {shapely.is_valid(grids.values).all()}"
    )
    rng = np.random.default_rng(args.seed)
    minx, miny, maxx, maxy = grids.total_bounds
    x = rng.uniform(minx, maxx, args.big)
    y = rng.uniform(miny, maxy, args.big)
    xs, ys = x[: args.small], y[: args.small]

    builds = [timed(GridIndex, grids) for _ in range(3)]
    index, build = builds[-1][0], min(b for _, b in builds)
    rows, cols = index.shape
    print(
        f"gridgis index: built in {build:.2f} s (best of 3), {rows} x {cols} cells, "
        f"{index.boundary_cells:,} on an edge; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )

    methods = {
        "geopandas.sjoin": run_sjoin,
        "shapely STRtree query": run_strtree,
        "rtree + shapely": run_rtree,
        "gridgis (incl. build)": run_gridgis,
    }
    results, rates = {}, {}
    print(f"\n{'method':<26}{'points':>12}{'seconds':>10}{'M points/s':>12}{'peak MiB (1M)':>15}")
    for name, fn in methods.items():
        out, secs = timed(fn, grids, xs, ys)
        results[name] = out
        rates[name] = len(xs) / secs
        peak = traced_peak_mb(fn, grids, xs, ys)
        print(f"{name:<26}{len(xs):>12,}{secs:>10.2f}{rates[name] / 1e6:>12.2f}{peak:>15.0f}")
    out, secs = timed(index.locate, xs, ys)
    results["gridgis locate"] = out
    rates["gridgis locate"] = len(xs) / secs
    peak = traced_peak_mb(index.locate, xs, ys)
    print(f"{'gridgis locate':<26}{len(xs):>12,}{secs:>10.2f}{rates['gridgis locate'] / 1e6:>12.2f}{peak:>15.0f}")
    runs = [timed(index.locate, x, y) for _ in range(3)]
    big, secs = runs[0][0], min(t for _, t in runs)
    rates["gridgis locate 10M"] = len(x) / secs
    print(f"{'gridgis locate (best of 3)':<26}{len(x):>12,}{secs:>10.2f}{len(x) / secs / 1e6:>12.2f}{'':>15}")

    reference = results["shapely STRtree query"]
    agree = {name: int((out != reference).sum()) for name, out in results.items()}
    sample = rng.choice(len(x), size=min(200_000, len(x)), replace=False)
    agree[f"gridgis on {len(x):,} (sample)"] = int((big[sample] != run_strtree(grids, x[sample], y[sample])).sum())
    print("\npoints differing from STRtree:", ", ".join(f"{k}: {v}" for k, v in agree.items()))
    print(f"covered share: {(reference >= 0).mean():.1%}")

    one = [(float(x[i]), float(y[i])) for i in range(20_000)]
    t = time.perf_counter()
    for px, py in one:
        index.locate_point(px, py)
    print(f"one point (locate_point): {(time.perf_counter() - t) / len(one) * 1e6:.1f} µs")
    print(
        f"gridgis locate on {len(x):,} vs geopandas.sjoin on {len(xs):,}: "
        f"{rates['gridgis locate 10M'] / rates['geopandas.sjoin']:.0f}x points/s; "
        f"vs STRtree: {rates['gridgis locate 10M'] / rates['shapely STRtree query']:.0f}x"
    )
    same = end_to_end(grids, xs, ys)
    if any(agree.values()) or not same:
        raise SystemExit("methods disagree")


if __name__ == "__main__":
    main()
