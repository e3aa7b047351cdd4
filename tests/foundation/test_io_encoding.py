"""GBK/GB18030 attribute tables: detected without a .cpg, honoured with one, overridable."""

from __future__ import annotations

import json
import warnings

import geopandas as gpd
import pytest
from click.testing import CliRunner
from shapely.geometry import Point

from gridgis.cli import main
from gridgis.errors import CRSWarning
from gridgis.io import read_layer
from gridgis.io.encoding import detect_encoding

NAMES = ["沙坪街道", "雅瑶镇", "古劳镇", "鹤城镇"]


def _gbk_shapefile(tmp_path, *, keep_cpg: bool):
    gdf = gpd.GeoDataFrame(
        {"town_id": ["440784001", "440784101", "440784102", "440784107"], "name": NAMES},
        geometry=[Point(112.96 + i / 100, 22.76) for i in range(4)],
        crs="EPSG:4326",
    )
    path = tmp_path / "towns_gbk.shp"
    gdf.to_file(path, encoding="GBK", engine="pyogrio")
    if not keep_cpg:
        path.with_suffix(".cpg").unlink()
    dbf = path.with_suffix(".dbf").read_bytes()
    assert "雅瑶镇".encode("gbk") in dbf and "雅瑶镇".encode() not in dbf  # really GBK bytes
    return path


def test_gbk_shapefile_without_cpg_is_detected(tmp_path):
    path = _gbk_shapefile(tmp_path, keep_cpg=False)
    assert detect_encoding(path) == "GB18030"
    assert read_layer(path)["name"].tolist() == NAMES


def test_gbk_shapefile_with_cpg_uses_it(tmp_path):
    path = _gbk_shapefile(tmp_path, keep_cpg=True)
    assert detect_encoding(path) == "GBK"
    assert read_layer(path)["name"].tolist() == NAMES


def test_encoding_override(tmp_path):
    path = _gbk_shapefile(tmp_path, keep_cpg=False)
    assert read_layer(path, encoding="GBK")["name"].tolist() == NAMES
    # a wrong override is obeyed (and visibly wrong), not silently replaced by the detection
    assert read_layer(path, encoding="latin1")["name"].tolist() != NAMES


def test_utf8_shapefile_without_cpg(tmp_path):
    gdf = gpd.GeoDataFrame({"name": NAMES[:1]}, geometry=[Point(112.96, 22.76)], crs="EPSG:4326")
    path = tmp_path / "utf8.shp"
    gdf.to_file(path, encoding="UTF-8", engine="pyogrio")
    path.with_suffix(".cpg").unlink()
    assert detect_encoding(path) == "UTF-8"
    assert read_layer(path)["name"].tolist() == NAMES[:1]


@pytest.mark.parametrize("codec", ["gbk", "utf-8"])
def test_csv_encoding_detected(tmp_path, codec):
    path = tmp_path / "shops.csv"
    path.write_bytes("shop_id,name,lon,lat\n1,鹤山市人民医院,112.96,22.76\n".encode(codec))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CRSWarning)
        assert read_layer(path)["name"].tolist() == ["鹤山市人民医院"]


@pytest.mark.parametrize("extra", [[], ["--encoding", "GBK"]])
def test_gbk_column_names_are_decoded_too(tmp_path, extra):
    # ASCII values but a Chinese column name: the name in the .dbf header is GBK as well
    gdf = gpd.GeoDataFrame({"名称": ["a"], "shop_id": [1]}, geometry=[Point(112.96, 22.76)], crs="EPSG:4326")
    path = tmp_path / "shops.shp"
    gdf.to_file(path, encoding="GBK", engine="pyogrio")
    path.with_suffix(".cpg").unlink()
    result = CliRunner().invoke(main, ["inspect", str(path), "--json", *extra])
    assert result.exit_code == 0, result.output
    (layer,) = json.loads(result.output)["layers"]
    assert layer["columns"] == ["名称", "shop_id"] and layer["problems"] == []
