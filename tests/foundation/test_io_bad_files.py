"""Bad files give one clear gridgis error each; failed writes leave no output behind."""

from __future__ import annotations

import warnings

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point, box

from gridgis.errors import CRSError, CRSWarning, FileFormatError, SchemaError
from gridgis.io import read_layer, read_layers, write_layer, write_layers

FORMATS = ["gpkg", "geojson", "shp", "parquet", "csv"]


def _files(directory) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_file(tmp_path, fmt):
    path = tmp_path / f"buildings.{fmt}"
    path.touch()
    with pytest.raises(FileFormatError, match=r"buildings\.\w+ is empty \(0 bytes\)"):
        read_layer(path)


@pytest.mark.parametrize("fmt", ["gpkg", "geojson", "shp", "parquet", "csv"])
def test_truncated_file(tmp_path, toy_city, fmt):
    path = tmp_path / f"buildings.{fmt}"
    write_layer(toy_city["buildings"], path, "buildings")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    expected = r"buildings\.\w+ (cannot be read|is truncated|looks truncated)"
    with pytest.raises(FileFormatError, match=expected) as info, warnings.catch_warnings():
        warnings.simplefilter("ignore", CRSWarning)
        read_layer(path, "buildings")
    assert info.value.fix


def test_truncated_shapefile_geometry_part(tmp_path, toy_city):
    path = tmp_path / "buildings.shp"
    write_layer(toy_city["buildings"], path)
    data = path.read_bytes()
    path.write_bytes(data[:150])
    with pytest.raises(
        FileFormatError, match=r"buildings\.shp is truncated: its header promises [\d,]+ bytes, the file has 150"
    ):
        read_layer(path, "buildings")


def test_not_what_the_suffix_says(tmp_path):
    path = tmp_path / "towns.gpkg"
    path.write_text("this is not a geopackage")
    with pytest.raises(FileFormatError, match=r"towns\.gpkg cannot be read") as info:
        read_layer(path)
    assert "re-export" in info.value.fix


def test_missing_file_unknown_suffix_missing_layer(tmp_path, toy_city):
    with pytest.raises(FileFormatError, match="does not exist"):
        read_layer(tmp_path / "nope.gpkg")
    (tmp_path / "towns.xlsx").write_text("x")
    with pytest.raises(FileFormatError, match=r"unknown file type '\.xlsx'") as info:
        read_layer(tmp_path / "towns.xlsx")
    assert ".gpkg" in info.value.fix
    path = tmp_path / "city.gpkg"
    write_layers({"towns": toy_city["towns"], "roads": toy_city["roads"]}, path)
    with pytest.raises(FileFormatError, match=r"holds 2 layers \['towns', 'roads'\]; which one\?"):
        read_layer(path)
    with pytest.raises(FileFormatError, match=r"has no layer 'grids'; it has towns, roads"):
        read_layer(path, "grids")
    with pytest.raises(FileFormatError, match=r"no layer\(s\) grids; it has towns, roads"):
        read_layers(path, ["grids"])


def test_wrong_columns(tmp_path, toy_city):
    path = tmp_path / "buildings.geojson"
    write_layer(toy_city["buildings"].rename(columns={"households": "hh"}), path)
    with pytest.raises(SchemaError, match=r"buildings\.geojson lacks required column\(s\) \['households'\]"):
        read_layer(path, "buildings")


def test_csv_without_coordinate_columns_or_with_bad_values(tmp_path):
    path = tmp_path / "shops.csv"
    path.write_text("shop_id,x,y\n1,112.9,22.7\n")
    with pytest.raises(SchemaError, match=r"no 'lon'/'lat' columns.*it has shop_id, x, y") as info:
        read_layer(path)
    assert "--lon" in info.value.fix
    path.write_text("shop_id,lon,lat\n1,112.9,22.7\n2,,22.7\n3,east,22.7\n")
    with pytest.raises(SchemaError, match=r"not numbers at row\(s\) 1, 2 "):
        read_layer(path)


def test_duplicate_ids(tmp_path, toy_city):
    shops = toy_city["shops"]
    shops.loc[3, "shop_id"] = shops.loc[1, "shop_id"]
    path = tmp_path / "city.gpkg"
    write_layers({"shops": shops}, path)
    with pytest.raises(SchemaError, match=r"duplicate 'shop_id' values \['S001'\] at row\(s\) 1, 3"):
        read_layers(path)


def test_no_crs(tmp_path, toy_city):
    # a GeoPackage layer whose CRS is "undefined", as some tools write them (write_layer refuses to)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        pyogrio.write_dataframe(
            toy_city["towns"].set_crs(None, allow_override=True), tmp_path / "nocrs.gpkg", layer="towns"
        )
    with pytest.raises(CRSError, match=r"nocrs\.gpkg declares no CRS"):
        read_layer(tmp_path / "nocrs.gpkg", "towns")


def test_empty_geometries_are_dropped_by_row_with_a_warning(tmp_path, toy_city):
    shops = toy_city["shops"]
    shops.loc[2, "geometry"] = None
    path = tmp_path / "shops.gpkg"
    write_layer(shops, path, "shops")
    with pytest.warns(UserWarning, match=r"dropped 1 row\(s\) of layer 'shops'.*row\(s\) 2"):
        back = read_layer(path, "shops")
    assert len(back) == len(shops) - 1


def test_geometry_type_not_allowed(tmp_path, toy_city):
    shops = toy_city["shops"]
    shops["geometry"] = [box(112.9, 22.7, 112.91, 22.71)] * len(shops)
    path = tmp_path / "shops.parquet"
    write_layer(shops, path)
    with pytest.raises(SchemaError, match=r"geometry type\(s\) \['Polygon'\]"):
        read_layer(path, "shops")
    # validate=False skips the data-model check (as `gridgis inspect` does)
    assert len(read_layer(path, "shops", validate=False)) == len(shops)


def test_failed_write_leaves_nothing_behind(tmp_path, toy_city):
    towns = toy_city["towns"]
    bad = towns.set_crs(None, allow_override=True)
    with pytest.raises(CRSError, match="has no CRS"):
        write_layers({"towns": towns, "broken": bad}, tmp_path / "plan.gpkg")
    # a layer GDAL refuses half-way through a multi-layer GeoPackage write (no field type for durations)
    mixed = gpd.GeoDataFrame({"wait": [pd.Timedelta(1, "h")]}, geometry=[Point(112.9, 22.7)], crs="EPSG:4326")
    with pytest.raises(FileFormatError, match=r"plan\.gpkg: Cannot write layer 'broken'.*Nothing was written"):
        write_layers({"towns": towns, "broken": mixed}, tmp_path / "plan.gpkg")
    with pytest.raises(FileFormatError, match="holds one layer"):
        write_layers({"a": towns, "b": towns}, tmp_path / "two.geojson")
    assert _files(tmp_path) == []


def test_failed_write_keeps_the_previous_file(tmp_path, toy_city):
    path = tmp_path / "plan.gpkg"
    write_layers({"towns": toy_city["towns"]}, path)
    before = path.read_bytes()
    mixed = gpd.GeoDataFrame({"wait": [pd.Timedelta(1, "h")]}, geometry=[Point(112.9, 22.7)], crs="EPSG:4326")
    with pytest.raises(FileFormatError):
        write_layers({"towns": toy_city["towns"], "bad": mixed}, path)
    with pytest.raises(FileFormatError):
        write_layer(mixed, path, "bad")
    assert path.read_bytes() == before
    assert _files(tmp_path) == ["plan.gpkg"]


def test_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path):
    from gridgis.io.atomic import atomic_path

    path = tmp_path / "plan.gpkg"
    path.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt), atomic_path(path) as tmp:
        tmp.write_bytes(b"half of the new")
        raise KeyboardInterrupt
    assert path.read_bytes() == b"old"
    assert _files(tmp_path) == ["plan.gpkg"]


def test_shapefile_without_its_dbf_or_shx(tmp_path, toy_city):
    path = tmp_path / "shops.shp"
    write_layer(toy_city["shops"], path)
    path.with_suffix(".shx").unlink()
    with pytest.raises(FileFormatError, match=r"shops\.shp has no \.shx index file"):
        read_layer(path)
    write_layer(toy_city["shops"], path)
    path.with_suffix(".dbf").unlink()
    with pytest.raises(FileFormatError, match=r"has no \.dbf attribute file") as info:
        read_layer(path)
    assert ".shx" in info.value.fix


def test_unwritable_values_and_places_are_clear_errors(tmp_path, toy_city):
    mixed = toy_city["shops"].assign(floor=[1, "ground", 2, 3, 4, 5, 6, 7])
    with pytest.raises(FileFormatError, match=r"shops\.parquet: Cannot write layer 'shops' as GeoParquet"):
        write_layer(mixed, tmp_path / "shops.parquet")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(FileFormatError, match=r"Cannot write .*afile/shops\.gpkg") as info:
        write_layer(toy_city["shops"], tmp_path / "afile" / "shops.gpkg", "shops")
    assert "writable" in info.value.fix
    assert _files(tmp_path) == ["afile"]
