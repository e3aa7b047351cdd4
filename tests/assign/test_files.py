"""Chunked file assignment and the ``gridgis assign`` / ``gridgis coverage`` commands on the toy city."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from shapely.geometry import LineString, Point, box

from gridgis.assign import assign
from gridgis.assign.files import GRID_COLUMNS, assign_file, read_grids
from gridgis.cli import main
from gridgis.coverage import coverage
from gridgis.errors import FileFormatError, InputError, SchemaError
from gridgis.io import iter_features, read_layer

# 0.01 degree of longitude at 22.70 N, in metres (the toy city's outside shop lies this far east of it)
EAST_GAP_M = 111_320 * 0.01 * np.cos(np.radians(22.70))


@pytest.fixture
def files(tmp_path, toy_city, toy_plan):
    plan = tmp_path / "plan.gpkg"
    toy_plan.to_file(plan, layer="grids")
    city = tmp_path / "city.gpkg"
    toy_city["buildings"].to_file(city, layer="buildings")
    shops = toy_city["shops"].copy()
    shops.loc[len(shops)] = ["SX", "界外", "shop", None, Point(112.99, 22.70)]
    shops = gpd.GeoDataFrame(shops, crs="EPSG:4326")
    shops.to_file(city, layer="shops")
    shops.to_file(tmp_path / "shops.geojson")
    return {"plan": plan, "city": city, "shops": tmp_path / "shops.geojson", "dir": tmp_path, "shops_gdf": shops}


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result


def test_chunks_are_bounded_and_numbered_in_file_order(files):
    chunks = list(iter_features(files["city"], "buildings", chunk_size=50))
    assert [len(c) for c in chunks] == [50, 50, 44]
    assert np.array_equal(np.concatenate([c.index for c in chunks]), np.arange(144))
    assert all(c.crs == "EPSG:4326" for c in chunks)


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".parquet", ".csv", ".shp"])
def test_chunked_output_equals_whole_layer_assignment(files, toy_city, toy_plan, suffix):
    out = files["dir"] / f"out{suffix}"
    summary = assign_file(toy_plan, files["city"], out, layer="buildings", chunk_size=50)
    assert (summary.features, summary.assigned, summary.outside) == (144, 144, 0)
    got = read_layer(out, validate=False, crs="EPSG:4326" if suffix == ".csv" else None)
    positions = assign(toy_city["buildings"], toy_plan)
    assert got["grid_id"].astype(str).tolist() == toy_plan["grid_id"].to_numpy()[positions].tolist()
    assert got["building_id"].astype(int).tolist() == list(range(144))
    for col in GRID_COLUMNS:
        assert got[col].astype(str).tolist() == toy_plan[col].to_numpy()[positions].tolist()


def test_outside_features_are_listed_with_the_nearest_grid(files, toy_plan):
    summary = assign_file(toy_plan, files["shops"], files["dir"] / "s.gpkg", chunk_size=3)
    assert (summary.features, summary.assigned, summary.outside) == (9, 8, 1)
    (row,) = summary.outside_rows
    assert (row["row"], row["id"], row["nearest_grid_id"]) == (8, "SX", "440784106002002")
    assert row["distance_m"] == pytest.approx(EAST_GAP_M, rel=2e-3)
    out = gpd.read_file(files["dir"] / "s.gpkg")
    assert out["grid_id"].isna().tolist() == [False] * 8 + [True]


def test_a_failing_chunk_leaves_no_output(files, toy_plan):
    shops = files["shops_gdf"].copy()
    shops.loc[7, "geometry"] = LineString([(112.9, 22.7), (112.91, 22.71)])
    bad = files["dir"] / "bad.geojson"
    shops.to_file(bad)
    out = files["dir"] / "never.gpkg"
    before = set(files["dir"].iterdir())
    with pytest.raises(SchemaError, match=r"\['LineString'\] at row\(s\) 7"):
        assign_file(toy_plan, bad, out, chunk_size=3)
    assert set(files["dir"].iterdir()) == before  # no output, no temporary file


def test_an_empty_layer_is_an_error_and_writes_nothing(files, toy_plan):
    empty = files["dir"] / "empty.geojson"
    files["shops_gdf"].iloc[:0].to_file(empty)
    with pytest.raises(InputError, match="empty.geojson has no features to assign"):
        assign_file(toy_plan, empty, files["dir"] / "e.gpkg")
    assert not (files["dir"] / "e.gpkg").exists()


def test_cli_assign_writes_columns_and_reports(files):
    out = files["dir"] / "assigned.parquet"
    result = run("assign", files["plan"], files["city"], "--layer", "shops", "-o", out, "--chunk-size", "4")
    assert result.exit_code == 0, result.output
    assert "9 features: 8 assigned (88.9%), 1 outside every grid" in result.output
    assert "SX" in result.output and "440784106002002" in result.output
    got = gpd.read_parquet(out)
    assert got["grid_id"].notna().sum() == 8
    assert (got["community_id"].dropna().str.len() == 12).all()


def test_cli_assign_reports_overlapping_grids(files, toy_plan, toy_city):
    broken = toy_plan.copy()
    broken.loc[0, "geometry"] = box(112.90, 22.70, 112.915, 22.72)  # reaches into its east neighbour
    plan = files["dir"] / "broken.gpkg"
    broken.to_file(plan, layer="grids")
    result = run("assign", plan, files["city"], "--layer", "shops", "-o", files["dir"] / "o.gpkg", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [(o["grid_id_a"], o["grid_id_b"]) for o in report["grid_overlaps"]] == [
        ("440784101001001", "440784101001002")
    ]
    assert report["grid_overlaps"][0]["area_m2"] == pytest.approx(0.005 * 0.02 * EAST_GAP_M / 0.01 * 110_700, rel=0.01)
    # the east shop of that community (x = 112.913) now lies in both grids: reported, given the first
    assert report["in_several"] == 1
    assert report["several_rows"] == [{"row": 1, "id": "S001", "grid_ids": ["440784101001001", "440784101001002"]}]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("missing.gpkg",), "does not exist"),
        (("city.gpkg",), "holds 2 layers"),
        (("city.gpkg", "--layer", "roads"), "has no layer 'roads'"),
    ],
)
def test_cli_assign_bad_input_gives_a_message_not_a_traceback(files, args, message):
    features, *rest = args
    result = run("assign", files["plan"], files["dir"] / features, *rest, "-o", files["dir"] / "x.gpkg")
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (files["dir"] / "x.gpkg").exists()


def test_gbk_shapefile_and_plain_parquet(files, toy_plan):
    shops = files["shops_gdf"].drop(columns="community_id")  # a Shapefile cuts names at 10 characters
    shp = files["dir"] / "gbk.shp"
    shops.to_file(shp, encoding="GBK")
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    summary = assign_file(toy_plan, shp, files["dir"] / "gbk_out.gpkg", chunk_size=4)
    assert summary.assigned == 8
    assert gpd.read_file(files["dir"] / "gbk_out.gpkg")["name"].tolist()[:2] == ["商铺000", "商铺001"]
    plain = files["dir"] / "plain.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(plain)
    with pytest.raises(FileFormatError, match="without GeoParquet metadata"):
        assign_file(toy_plan, plain, files["dir"] / "p.gpkg")


def test_grids_without_grid_columns_are_rejected(files, toy_plan):
    bare = files["dir"] / "bare.geojson"
    toy_plan.drop(columns=["grid_code"]).to_file(bare)
    with pytest.raises(SchemaError, match="lacks required column"):
        read_grids(bare)
    result = run("assign", bare, files["shops"], "-o", files["dir"] / "y.gpkg")
    assert result.exit_code == 1 and "grid_code" in result.output


def test_coverage_counts_known_totals(toy_city, toy_plan, files):
    report = coverage({"buildings": toy_city["buildings"], "shops": files["shops_gdf"]}, toy_plan)
    # every toy grid holds 18 buildings of 4 households / 10 residents and one shop
    assert report.grids[["buildings", "households", "population", "shops"]].drop_duplicates().values.tolist() == [
        [18, 72, 180, 1]
    ]
    assert report.communities[["grids", "buildings", "households", "shops"]].drop_duplicates().values.tolist() == [
        [2, 36, 144, 2]
    ]
    assert report.towns[["communities", "grids", "buildings", "households", "population", "shops"]].values.tolist() == [
        [2, 4, 72, 288, 720, 4],
        [2, 4, 72, 288, 720, 4],
    ]
    assert report.totals[["layer", "features", "covered", "uncovered"]].values.tolist() == [
        ["buildings", 144, 144, 0],
        ["shops", 9, 8, 1],
    ]
    (row,) = report.uncovered.to_dict("records")
    assert (row["layer"], row["id"], row["nearest_grid_id"]) == ("shops", "SX", "440784106002002")
    assert row["distance_m"] == pytest.approx(EAST_GAP_M, rel=2e-3)


def test_coverage_of_chunks_equals_whole(toy_city, toy_plan):
    b = toy_city["buildings"]
    whole = coverage({"buildings": b}, toy_plan)
    chunked = coverage({"buildings": (b.iloc[i : i + 10] for i in range(0, len(b), 10))}, toy_plan)
    pd.testing.assert_frame_equal(whole.grids, chunked.grids)


def test_cli_coverage_table_csv_and_json(files):
    csv = files["dir"] / "cov.csv"
    result = run("coverage", files["plan"], files["city"], "--csv", csv)
    assert result.exit_code == 0, result.output
    assert "shops: 8 of 9 covered (88.9%), 1 not" in result.output
    assert "buildings: 144 of 144 covered (100.0%)" in result.output
    table = pd.read_csv(csv, dtype={"id": str})
    assert table["level"].value_counts().to_dict() == {"grid": 8, "community": 4, "town": 2}
    town = table[table["level"] == "town"].iloc[0]
    assert (town["id"], town["grids"], town["households"]) == ("440784101", 4, 288)
    result = run("coverage", files["plan"], files["shops"], "--layer", "shops", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["totals"] == [
        {"layer": "shops", "features": 9, "covered": 8, "uncovered": 1, "covered_share": 0.8889}
    ]
    assert [u["id"] for u in report["uncovered"]] == ["SX"]
