"""`gridgis inspect FILE [--json]`: counts, CRS, bounds, totals and problems, without tracebacks."""

from __future__ import annotations

import json

import geopandas as gpd
from click.testing import CliRunner
from shapely.geometry import Point

from gridgis.cli import main
from gridgis.io import write_layer, write_layers
from gridgis.paths import GEO_DATA


def _inspect(*args: str):
    return CliRunner().invoke(main, ["inspect", *map(str, args)])


def test_json_report_of_a_multi_layer_geopackage(tmp_path, toy_city, toy_plan):
    path = tmp_path / "plan.gpkg"
    write_layers({**toy_city, "grids": toy_plan}, path)
    result = _inspect(path, "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    layers = {lay["layer"]: lay for lay in info["layers"]}
    assert info["format"] == "GeoPackage"
    assert layers["buildings"]["features"] == 144
    assert layers["buildings"]["totals"] == {"households": 576, "population": 1440}  # 144 x 4, 144 x 10
    assert layers["communities"]["kinds"] == {"urban": 2, "village": 2}
    assert layers["grids"]["totals"]["households"] == 576
    assert layers["towns"]["file_crs"] == "EPSG:4326"
    assert layers["towns"]["bounds"] == [112.9, 22.7, 112.98, 22.72]
    # 4 boxes of 0.02 x 0.02 degrees at 22.71 N: about 4 * 2.053 km * 2.213 km
    assert abs(layers["communities"]["area_km2"] - 4 * 2.053 * 2.213) < 0.2
    assert all(lay["problems"] == [] for lay in info["layers"])


def test_table_lists_layers_and_says_no_problems(tmp_path, toy_city):
    path = tmp_path / "city.gpkg"
    write_layers({"towns": toy_city["towns"], "shops": toy_city["shops"]}, path)
    result = _inspect(path)
    assert result.exit_code == 0, result.output
    assert "towns" in result.output and "shops" in result.output and "EPSG:4326" in result.output
    assert "no schema problems" in result.output


def test_problems_are_reported_not_raised(tmp_path, toy_city):
    shops = toy_city["shops"]
    shops.loc[3, "shop_id"] = shops.loc[1, "shop_id"]
    path = tmp_path / "city.gpkg"
    write_layers({"shops": shops, "towns": toy_city["towns"]}, path)
    result = _inspect(path, "--json")
    assert result.exit_code == 1
    layers = {lay["layer"]: lay for lay in json.loads(result.output)["layers"]}
    assert "duplicate 'shop_id'" in layers["shops"]["problems"][0]
    assert layers["towns"]["problems"] == []
    assert "Traceback" not in result.output


def test_repairs_and_swapped_coordinates_show_up(tmp_path):
    result = _inspect(GEO_DATA / "jiangmen_counties.geojson", "--json")
    assert result.exit_code == 0
    (lay,) = json.loads(result.output)["layers"]
    assert lay["features"] == 7 and "repaired" in lay["warnings"][0]
    swapped = gpd.GeoDataFrame({"shop_id": [1]}, geometry=[Point(22.76, 112.96)], crs="EPSG:4326")
    path = tmp_path / "shops.parquet"
    write_layer(swapped, path)
    result = _inspect(path)
    assert result.exit_code == 1 and "look swapped" in result.output


def test_encoding_and_crs_options(tmp_path):
    path = tmp_path / "shops.csv"
    path.write_bytes("shop_id,名称,x,y\n1,鹤山市人民医院,112.96,22.76\n".encode("gbk"))
    result = _inspect(path, "--lon", "x", "--lat", "y", "--encoding", "GBK", "--crs", "gcj02", "--json")
    assert result.exit_code == 0, result.output
    (lay,) = json.loads(result.output)["layers"]
    assert "名称" in lay["columns"]
    assert any("GCJ02" in w for w in lay["warnings"])
    assert lay["bounds"][0] < 112.96  # GCJ-02 -> WGS84 moves Heshan points west


def test_unreadable_file_is_a_clear_error(tmp_path):
    path = tmp_path / "empty.gpkg"
    path.touch()
    result = _inspect(path)
    assert result.exit_code == 1
    assert "empty.gpkg is empty (0 bytes)" in result.output and "Fix:" in result.output
    assert "Traceback" not in result.output
