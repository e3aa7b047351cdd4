"""Round trips of the toy city through every format gridgis.io writes."""

from __future__ import annotations

import warnings

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from gridgis.errors import CRSWarning
from gridgis.io import list_layers, read_layer, read_layers, write_layer, write_layers
from gridgis.model import LAYERS

FORMATS = ["gpkg", "geojson", "shp", "parquet", "csv"]


def _same_geometries(a: gpd.GeoSeries, b: gpd.GeoSeries) -> bool:
    # Shapefiles re-orient rings, so compare normalized shapes, to 1e-9 degrees (0.1 mm).
    return bool(shapely.equals_exact(shapely.normalize(a.values), shapely.normalize(b.values), 1e-9).all())


def _read_quietly(path, layer=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CRSWarning)  # CSV: "taken as WGS84"
        return read_layer(path, layer)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", ["communities", "buildings", "shops", "roads"])
def test_round_trip_keeps_columns_values_and_geometries(tmp_path, toy_city, fmt, name):
    original = toy_city[name]
    path = tmp_path / f"{name}.{fmt}"
    write_layer(original, path)
    back = _read_quietly(path, name)
    assert back.crs.to_epsg() == 4326
    assert list(back.columns) == list(original.columns)
    assert len(back) == len(original)
    assert _same_geometries(back.geometry, original.geometry)
    for col in original.columns.drop("geometry"):
        assert back[col].astype(str).tolist() == original[col].astype(str).tolist(), col
    # division codes come back as text whatever the format did with them
    for col in ("community_id", "town_id"):
        if col in back.columns:
            assert all(isinstance(v, str) for v in back[col])


def test_geopackage_holds_every_layer_and_reads_back_validated(tmp_path, toy_city, toy_plan):
    com = toy_city["communities"]
    blocks = com[["community_id", "geometry"]].assign(block_id=com["community_id"] + "B0001")  # one block each
    layers = {**toy_city, "grids": toy_plan, "blocks": blocks}
    assert set(layers) == set(LAYERS)  # every layer of the data model is covered
    path = tmp_path / "plan.gpkg"
    write_layers(layers, path)
    assert sorted(list_layers(path)) == sorted(layers)
    back = read_layers(path)
    assert set(back) == set(layers)
    for name, gdf in layers.items():
        assert len(back[name]) == len(gdf)
        assert _same_geometries(back[name].geometry, gdf.geometry)
    assert back["grids"]["households"].sum() == 8 * 72
    assert read_layers(path, ["towns"]).keys() == {"towns"}


def test_write_layer_adds_to_and_replaces_in_a_geopackage(tmp_path, toy_city):
    path = tmp_path / "city.gpkg"
    write_layers({"towns": toy_city["towns"], "shops": toy_city["shops"]}, path)
    write_layer(toy_city["roads"], path, "roads")
    write_layer(toy_city["shops"].iloc[:3], path, "shops")
    assert sorted(list_layers(path)) == ["roads", "shops", "towns"]
    assert len(read_layer(path, "shops")) == 3
    assert len(read_layer(path, "towns")) == 2


def test_shapefile_restores_model_column_names_cut_to_ten_characters(tmp_path, toy_plan):
    toy_plan["polsby_popper"] = 0.785
    path = tmp_path / "grids.shp"
    write_layer(toy_plan, path)
    assert "community_" in gpd.read_file(path).columns  # what the file really holds
    back = read_layer(path, "grids")
    assert {"community_id", "polsby_popper"} <= set(back.columns)


def test_csv_of_polygons_uses_a_wkt_column(tmp_path, toy_city):
    path = tmp_path / "towns.csv"
    write_layer(toy_city["towns"], path)
    assert "wkt" in pd.read_csv(path, encoding="utf-8-sig").columns
    assert _same_geometries(_read_quietly(path).geometry, toy_city["towns"].geometry)


def test_csv_with_named_coordinate_columns_and_utf8_bom(tmp_path):
    path = tmp_path / "shops.csv"
    path.write_text("shop_id,名称,经度,纬度\n1,鹤山一中,112.96,22.76\n2,沙坪市场,112.97,22.77\n", encoding="utf-8-sig")
    with pytest.warns(CRSWarning, match="taken as WGS84"):
        shops = read_layer(path, lon="经度", lat="纬度")
    assert shops["名称"].tolist() == ["鹤山一中", "沙坪市场"]
    assert shops.geometry.x.tolist() == [112.96, 112.97]
    assert shops.geometry.y.tolist() == [22.76, 22.77]


def test_codes_stored_as_numbers_come_back_as_text(tmp_path, toy_city):
    towns = toy_city["towns"].assign(town_id=lambda d: d["town_id"].astype("int64"))
    path = tmp_path / "towns.geojson"
    write_layer(towns, path)
    back = read_layer(path, "towns")
    assert back["town_id"].tolist() == ["440784101", "440784106"]
