"""GridIndex and assign(): exact against a slow shapely reference, the edge rule, overlaps, bad input."""

from __future__ import annotations

import doctest
import pickle
import warnings

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box

import gridgis.assign.features
import gridgis.assign.index
import gridgis.assign.overlaps
from gridgis.assign import GridIndex, assign, grid_overlaps, points_in_several_grids
from gridgis.errors import CRSError, CRSWarning, GeometryError, InputError, SchemaError


def reference(geoms, x, y) -> np.ndarray:
    """The definition: lowest position among the grids that cover the point, one point at a time."""
    out = []
    for px, py in zip(x, y, strict=True):
        p = Point(px, py)
        hits = [i for i, g in enumerate(geoms) if not np.isnan(px + py) and g.covers(p)]
        out.append(min(hits) if hits else -1)
    return np.array(out)


def tricky_grids() -> gpd.GeoSeries:
    """A 3 x 2 lattice of unit squares, one with a hole holding an island grid, plus a two-part grid."""
    cells = [box(i, j, i + 1, j + 1) for j in range(2) for i in range(3)]
    cells[4] = Polygon(cells[4].exterior.coords, [[(1.3, 1.3), (1.7, 1.3), (1.7, 1.7), (1.3, 1.7)]])
    island = box(1.3, 1.3, 1.7, 1.7)
    two_parts = MultiPolygon([box(3, 0, 3.5, 0.5), box(3.2, 1.2, 3.8, 1.9)])
    slanted = Polygon([(0, 2), (3, 2), (2.2, 2.7), (0.3, 2.9)])  # shares the lattice's top edge
    return gpd.GeoSeries([*cells, island, two_parts, slanted], crs="EPSG:4326")


def voronoi_grids(rng, n=40) -> gpd.GeoSeries:
    """Seeded Voronoi cells with densified, slightly bent edges, in degrees near Heshan."""
    frame = box(112.8, 22.6, 113.0, 22.8)
    seeds = shapely.points(rng.uniform(112.8, 113.0, n), rng.uniform(22.6, 22.8, n))
    cells = shapely.intersection(shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds))), frame)
    cells = shapely.segmentize(cells, 0.004)
    # a smooth displacement field applied to shared vertices keeps the tiling a tiling
    bend = lambda c: c + 0.002 * np.sin(c[:, ::-1] * 300.0)  # noqa: E731
    return gpd.GeoSeries(shapely.transform(cells, bend), crs="EPSG:4326")


def adversarial_points(geoms, rng, n_random=3000):
    coords = shapely.get_coordinates(geoms)
    a, b = coords[:-1], coords[1:]
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    pad = 0.1 * max(maxx - minx, maxy - miny)
    xs = [
        coords[:, 0],  # every vertex
        (a[:, 0] + b[:, 0]) / 2,  # edge midpoints (on or a rounding off the edge)
        a[:, 0] + 1e-12,  # a hair off the vertices
        rng.uniform(minx - pad, maxx + pad, n_random),
        np.array([np.nan, np.inf, -np.inf, 1e300, minx, maxx]),
    ]
    ys = [
        coords[:, 1],
        (a[:, 1] + b[:, 1]) / 2,
        a[:, 1] - 1e-12,
        rng.uniform(miny - pad, maxy + pad, n_random),
        np.array([0.0, 0.0, 0.0, 0.0, miny, maxy]),
    ]
    return np.concatenate(xs), np.concatenate(ys)


@pytest.mark.parametrize("cells", [64, 4096, 1 << 20])
def test_locate_matches_reference_on_tricky_grids(cells, rng):
    grids = tricky_grids()
    index = GridIndex(grids, cells=cells)
    x, y = adversarial_points(grids.values, rng)
    # points on every cell line of the lookup table too
    rows, cols = index.shape
    size = 1 / index._inv
    gx = index._x0 + size * np.arange(cols + 1)
    gy = index._y0 + size * np.arange(rows + 1)
    x = np.r_[x, gx[: len(gy)], rng.uniform(0, 3, len(gy))]
    y = np.r_[y, rng.uniform(0, 3, min(len(gx), len(gy))), gy[: len(gy)]][: len(x)]
    got = index.locate(x, y)
    assert np.array_equal(got, reference(grids.values, x, y))
    assert [index.locate_point(px, py) for px, py in zip(x[:500], y[:500], strict=True)] == got[:500].tolist()


def test_locate_matches_reference_on_bent_voronoi_grids(rng):
    grids = voronoi_grids(rng)
    assert shapely.is_valid(grids.values).all()
    index = GridIndex(grids, cells=1 << 16)
    x, y = adversarial_points(grids.values, rng, n_random=5000)
    assert np.array_equal(index.locate(x, y), reference(grids.values, x, y))


def test_edge_rule_lowest_position_among_covering_grids():
    left, right = box(0, 0, 1, 1), box(1, 0, 2, 1)
    on_edge, corner = (1.0, 0.5), (1.0, 1.0)
    index = GridIndex(gpd.GeoSeries([left, right], crs="EPSG:4326"))
    assert index.locate([on_edge[0], corner[0]], [on_edge[1], corner[1]]).tolist() == [0, 0]
    # the same shapes in the other order: the rule follows the position, not the shape
    swapped = GridIndex(gpd.GeoSeries([right, left], crs="EPSG:4326"))
    assert swapped.locate_point(*on_edge) == 0
    assert swapped.locate([0.5, 1.5], [0.5, 0.5]).tolist() == [1, 0]
    # four grids meeting at a corner: the point goes to position 0 whichever grid that is
    quads = [box(1, 1, 2, 2), box(0, 1, 1, 2), box(1, 0, 2, 1), box(0, 0, 1, 1)]
    assert GridIndex(gpd.GeoSeries(quads, crs="EPSG:4326")).locate_point(1.0, 1.0) == 0


def test_overlapping_grids_are_resolved_and_reported():
    grids = gpd.GeoSeries([box(0, 0, 2, 1), box(3, 0, 4, 1), box(1, 0, 3, 1)], crs="EPSG:32649")
    index = GridIndex(grids, cells=256)
    x = np.array([0.5, 1.5, 2.5, 3.5, 2.0, 5.0])
    y = np.full(6, 0.5)
    # 1.5 lies in grids 0 and 2 -> 0; 2.0 is on grid 0's edge inside grid 2 -> 0; 2.5 in 2 only; 3.5 in 1 only
    assert index.locate(x, y).tolist() == reference(grids.values, x, y).tolist() == [0, 0, 2, 1, 0, -1]
    overlaps = grid_overlaps(index)
    # grids 1 and 2 only share the edge x = 3: not an overlap
    assert overlaps.to_dict("records") == [{"grid_a": 0, "grid_b": 2, "area_m2": 1.0}]
    assert index.locate_point(3.0, 0.5) == 1
    point, grid = points_in_several_grids(index, x, y, overlaps=overlaps)
    # interiors only: 1.5 lies inside 0 and 2; 2.0 is on grid 0's edge, so it is not counted
    assert point.tolist() == [1, 1] and grid.tolist() == [0, 2]


def test_grid_overlaps_ignores_shared_edges_slivers_and_measures_area():
    tiling = gpd.GeoSeries([box(0, 0, 10, 10), box(10, 0, 20, 10), box(0, 10, 20, 20)], crs="EPSG:32649")
    assert grid_overlaps(tiling).empty
    broken = gpd.GeoSeries([box(0, 0, 10, 10), box(8, 0, 20, 10)], crs="EPSG:32649")
    assert grid_overlaps(broken).to_dict("records") == [{"grid_a": 0, "grid_b": 1, "area_m2": 20.0}]
    sliver = gpd.GeoSeries([box(0, 0, 10, 10), box(9.99, 0, 20, 10)], crs="EPSG:32649")  # 0.1 m² of rounding
    assert grid_overlaps(sliver).empty
    assert grid_overlaps(sliver, min_area_m2=0).to_dict("records") == [
        {"grid_a": 0, "grid_b": 1, "area_m2": pytest.approx(0.1)}
    ]
    assert points_in_several_grids(GridIndex(tiling), [10.0, 5.0], [5.0, 5.0])[0].size == 0


def test_nearest_distance_in_metres():
    grids = gpd.GeoSeries([box(500_000, 2_500_000, 501_000, 2_501_000), box(503_000, 2_500_000, 504_000, 2_501_000)])
    index = GridIndex(grids.set_crs("EPSG:32649"))
    grid, dist = index.nearest([502_000.0, 502_500.0, 500_500.0, np.nan], [2_500_500.0, 2_500_500.0, 2_500_500.0, 0])
    # 502000 is 1000 m from both: the tie goes to the lower position
    assert grid.tolist() == [0, 1, 0, -1]
    assert dist[:3].tolist() == pytest.approx([1000.0, 500.0, 0.0])
    assert np.isnan(dist[3])


def test_nearest_in_lonlat_uses_a_metric_crs():
    index = GridIndex(gpd.GeoSeries([box(112.90, 22.70, 112.91, 22.71)], crs="EPSG:4326"))
    _, dist = index.nearest([112.92], [22.705])
    # 0.01 degree of longitude at 22.7 N is about 1,026 m (111.32 km * cos 22.7)
    assert dist[0] == pytest.approx(111_320 * 0.01 * np.cos(np.radians(22.705)), rel=2e-3)


def test_pickled_index_answers_the_same(rng):
    grids = tricky_grids()
    index = GridIndex(grids, cells=1024)
    x, y = rng.uniform(-0.2, 4, 2000), rng.uniform(-0.2, 3, 2000)
    again = pickle.loads(pickle.dumps(index))
    assert np.array_equal(again.locate(x, y), index.locate(x, y))


def test_locate_keeps_shape_and_checks_lengths():
    index = GridIndex(tricky_grids())
    assert index.locate(0.5, 0.5).shape == ()
    assert [index.locate_point(v, 0.5) for v in (np.nan, np.inf, -1e300, 0.5)] == [-1, -1, -1, 0]
    assert index.locate(np.full((2, 3), 0.5), np.full((2, 3), 0.5)).shape == (2, 3)
    with pytest.raises(InputError, match=r"differ in shape: \(2,\) vs \(3,\)"):
        index.locate([0, 1], [0, 1, 2])


def test_polygons_go_to_the_grid_holding_their_largest_part():
    grids = gpd.GeoDataFrame(
        {"grid_id": ["w", "e"]}, geometry=[box(112.90, 22.70, 112.91, 22.71), box(112.91, 22.70, 112.92, 22.71)]
    ).set_crs("EPSG:4326")
    buildings = gpd.GeoSeries(
        [
            box(112.9095, 22.705, 112.9101, 22.7052),  # 5/6 west
            box(112.9099, 22.705, 112.9105, 22.7052),  # 1/6 west, 5/6 east
            box(112.9098, 22.705, 112.9102, 22.7052),  # split in half: lowest position
            box(112.92, 22.705, 112.93, 22.706),  # touches the east grid from outside
            box(112.95, 22.705, 112.96, 22.706),  # far outside
            MultiPolygon([box(112.901, 22.701, 112.9011, 22.7011), box(112.911, 22.701, 112.9115, 22.7015)]),
            box(112.9051, 22.7051, 112.9052, 22.7052),  # small, well inside west
        ],
        crs="EPSG:4326",
    )
    assert assign(buildings, grids).tolist() == [0, 1, 0, -1, -1, 1, 0]


def test_assign_points_and_polygons_on_the_toy_plan(toy_city, toy_plan):
    got = assign(toy_city["buildings"], toy_plan)
    # the toy plan cuts every community in half between lattice columns: buildings never straddle
    centres = shapely.centroid(toy_city["buildings"].geometry.values)
    want = reference(toy_plan.geometry.values, shapely.get_x(centres), shapely.get_y(centres))
    assert np.array_equal(got, want)
    assert np.bincount(got).tolist() == toy_plan["buildings"].tolist()
    assert np.bincount(assign(toy_city["shops"], toy_plan), minlength=8).tolist() == toy_plan["shops"].tolist()


def test_mismatched_crs_is_reprojected_with_a_warning(toy_city, toy_plan):
    shops = toy_city["shops"]
    with pytest.warns(CRSWarning, match="EPSG:3857; reprojected"):
        got = assign(shops.to_crs("EPSG:3857"), toy_plan)
    assert np.array_equal(got, assign(shops, toy_plan))
    with pytest.warns(CRSWarning, match="taken as equal"):
        assign(shops.set_crs("EPSG:4490", allow_override=True), toy_plan)


def test_bad_input_gives_clear_errors(toy_city, toy_plan):
    shops = toy_city["shops"]
    with pytest.raises(CRSError, match="features have no CRS"):
        assign(shops.set_crs(None, allow_override=True), toy_plan)
    with pytest.raises(CRSError, match="grids layer has no CRS"):
        assign(shops, toy_plan.set_crs(None, allow_override=True))
    with pytest.raises(InputError, match="grids layer is empty"):
        assign(shops, toy_plan.iloc[:0])
    assert assign(shops.iloc[:0], toy_plan).tolist() == []
    lines = shops.copy()
    lines.loc[3, "geometry"] = LineString([(112.9, 22.7), (112.91, 22.71)])
    with pytest.raises(SchemaError, match=r"\['LineString'\] at row\(s\) 3"):
        assign(lines, toy_plan)
    nulls = shops.copy()
    nulls.loc[[1, 5], "geometry"] = None
    with pytest.raises(GeometryError, match=r"null or empty geometries at row\(s\) 1, 5"):
        assign(nulls, toy_plan)
    bowtie = toy_plan.copy()
    bowtie.loc[2, "geometry"] = Polygon([(112.90, 22.70), (112.91, 22.71), (112.91, 22.70), (112.90, 22.71)])
    with pytest.raises(GeometryError, match=r"invalid polygons at row\(s\) 2 \(first: Self-intersection"):
        assign(shops, bowtie)
    with pytest.raises(SchemaError, match="must be Polygon or MultiPolygon"):
        GridIndex(shops)


def test_docstring_examples_hold():
    for module in (gridgis.assign.index, gridgis.assign.features, gridgis.assign.overlaps):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__
