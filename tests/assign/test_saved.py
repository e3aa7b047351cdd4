"""The grid index kept beside its plan, and assign() against geopandas.sjoin on edges and vertices."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from shapely.geometry import LineString, Point, Polygon, box

from gridgis.assign import GridIndex, assign
from gridgis.assign.saved import FORMAT, kept_index, load_index, save_index, sidecar
from gridgis.cli import main
from gridgis.errors import GeometryError, InputError, SchemaError
from tests.assign.test_index import adversarial_points, tricky_grids, voronoi_grids


def sjoin_lowest(points: gpd.GeoDataFrame, grids: gpd.GeoSeries, predicate: str) -> np.ndarray:
    """geopandas' answer: the lowest grid position among the grids the predicate joins, else -1."""
    joined = gpd.sjoin(points, gpd.GeoDataFrame(geometry=grids.reset_index(drop=True)), predicate=predicate)
    out = np.full(len(points), np.iinfo(np.int64).max)
    np.minimum.at(out, joined.index.to_numpy(), joined["index_right"].to_numpy())
    out[out == np.iinfo(np.int64).max] = -1
    return out


@pytest.mark.parametrize("make", [tricky_grids, voronoi_grids])
@pytest.mark.parametrize("predicate", ["intersects", "within"])
def test_assign_equals_sjoin_on_vertices_edges_and_around(make, predicate, rng, tmp_path):
    grids = make(rng) if make is voronoi_grids else make()
    x, y = adversarial_points(grids.values, rng, n_random=2000)
    finite = np.isfinite(x) & np.isfinite(y) & (np.abs(x) < 1e100)
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x[finite], y[finite]), crs=grids.crs)
    want = sjoin_lowest(points, grids, predicate)
    # points on edges and vertices get other answers under the other rule: a mix-up would show
    other = sjoin_lowest(points, grids, "within" if predicate == "intersects" else "intersects")
    assert (want != other).sum() > 100 and (want >= 0).sum() > 1000
    built = GridIndex(grids, cells=4096)
    save_index(built, tmp_path / "g.gridindex.npz")
    kept = load_index(tmp_path / "g.gridindex.npz", grids, cells=4096)
    assert kept is not None
    for index in (grids, built, kept):
        assert np.array_equal(assign(points, index, predicate=predicate), want)


def test_the_two_rules_differ_exactly_on_edges():
    grids = gpd.GeoSeries([box(0, 0, 1, 1), box(1, 0, 2, 1)], crs="EPSG:4326")
    points = gpd.GeoSeries(gpd.points_from_xy([1.0, 0.5, 1.5, 0.0, 3.0], [0.5, 0.5, 0.5, 0.0, 0.5]), crs="EPSG:4326")
    assert assign(points, grids).tolist() == [0, 0, 1, 0, -1]
    assert assign(points, grids, predicate="within").tolist() == [-1, 0, 1, -1, -1]
    with pytest.raises(InputError, match="Unknown predicate 'touches'"):
        assign(points, grids, predicate="touches")


def test_kept_index_is_written_once_and_read_back(tmp_path, rng):
    grids = voronoi_grids(rng)
    plan = tmp_path / "plan.gpkg"
    first = kept_index(grids, plan)
    path = sidecar(plan)
    assert path == tmp_path / "plan.gridindex.npz" and path.is_file()
    stamp = path.stat().st_mtime_ns
    again = kept_index(grids, plan)
    assert path.stat().st_mtime_ns == stamp  # read, not rebuilt and rewritten
    assert np.array_equal(again._table, first._table)
    x, y = adversarial_points(grids.values, rng)
    assert np.array_equal(again.locate(x, y), GridIndex(grids).locate(x, y))
    assert again.fingerprint == first.fingerprint


def test_a_stale_or_damaged_index_is_rebuilt(tmp_path, rng):
    grids = voronoi_grids(rng)
    path = tmp_path / "plan.gridindex.npz"
    save_index(GridIndex(grids), path)
    assert load_index(path, grids) is not None
    # the plan changed: one vertex moved, or the grids reordered, or other cells asked for
    moved = grids.copy()
    moved.iloc[3] = shapely.transform(moved.iloc[3], lambda c: c + np.r_[1e-9, 0.0])
    assert load_index(path, moved) is None
    assert load_index(path, grids.iloc[::-1]) is None
    assert load_index(path, grids, cells=1 << 16) is None
    # the file is damaged, of another format, or not an index at all
    data = dict(np.load(path))
    for name, value in (("format", np.array(FORMAT + 1)), ("cand_grid", data["cand_grid"] + len(grids))):
        np.savez(tmp_path / "bad.npz", **{**data, name: value})
        assert load_index(tmp_path / "bad.npz", grids) is None
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not a zip")
    assert load_index(tmp_path / "junk.npz", grids) is None
    path.write_bytes(path.read_bytes()[:1000])
    assert load_index(path, grids) is None
    rebuilt = kept_index(moved, tmp_path / "plan.gpkg")
    assert rebuilt.fingerprint == GridIndex(moved).fingerprint
    assert load_index(path, moved) is not None  # rewritten for the new grids


def test_kept_index_without_a_writable_directory_still_answers(tmp_path):
    (tmp_path / "file").write_text("")
    grids = tricky_grids()
    index = kept_index(grids, tmp_path / "file" / "plan.gpkg")
    assert index.locate_point(0.5, 0.5) == 0


def test_cli_assign_keeps_the_index_beside_the_plan(tmp_path, toy_city, toy_plan):
    plan = tmp_path / "plan.gpkg"
    toy_plan.to_file(plan, layer="grids")
    toy_city["shops"].to_file(tmp_path / "shops.geojson")
    runs = []
    for name in ("a", "b"):
        result = CliRunner().invoke(main, ["assign", str(plan), str(tmp_path / "shops.geojson"), "-o",
                                           str(tmp_path / f"{name}.csv"), "--json"])  # fmt: skip
        assert result.exit_code == 0, result.output
        runs.append((tmp_path / f"{name}.csv").read_text(encoding="utf-8-sig"))
    assert sidecar(plan).is_file()
    assert runs[0] == runs[1]
    assert load_index(sidecar(plan), gpd.read_file(plan, layer="grids")) is not None


def test_the_single_walk_still_refuses_every_bad_row():
    grids = gpd.GeoSeries([box(0, 0, 1, 1)], crs="EPSG:4326")
    rows = [Point(0.5, 0.5), Point(), None, box(0, 0, 0.5, 0.5), Polygon(), Point(np.nan, np.nan)]
    with pytest.raises(GeometryError, match=r"null or empty geometries at row\(s\) 1, 2, 4"):
        assign(gpd.GeoSeries(rows, crs="EPSG:4326"), grids)
    for empty in (Point(), Polygon()):
        with pytest.raises(GeometryError, match=r"at row\(s\) 1\."):
            assign(gpd.GeoSeries([Point(0.5, 0.5), empty], crs="EPSG:4326"), grids)
    mixed = gpd.GeoSeries([Point(0.5, 0.5), LineString([(0, 0), (1, 1)]), Point(2, 2)], crs="EPSG:4326")
    with pytest.raises(SchemaError, match=r"\['LineString'\] at row\(s\) 1;"):
        assign(mixed, grids)
    nan = gpd.GeoSeries([rows[0], rows[3], rows[5]], crs="EPSG:4326")
    assert assign(nan, grids).tolist() == [0, 0, -1]
