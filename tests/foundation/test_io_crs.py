"""CRS handling on read: declared, reprojected, converted (GCJ-02/BD-09), missing, contradictory, implausible."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
from shapely.geometry import Point

from gridgis.crs import wgs84_to_bd09, wgs84_to_gcj02
from gridgis.errors import CRSError, CRSWarning
from gridgis.io import read_layer, write_layer

GEOD = pyproj.Geod(ellps="WGS84")
LON = np.array([112.96, 112.60, 112.85])  # Shaping, Zhaiwu, Gonghe (Heshan)
LAT = np.array([22.76, 22.66, 22.57])


def _points(crs="EPSG:4326", lon=LON, lat=LAT):
    return gpd.GeoDataFrame({"shop_id": [1, 2, 3]}, geometry=gpd.points_from_xy(lon, lat), crs=crs)


def _metres(gdf, lon=LON, lat=LAT) -> np.ndarray:
    return np.asarray(GEOD.inv(gdf.geometry.x.values, gdf.geometry.y.values, lon, lat)[2])


@pytest.mark.parametrize("epsg", [4547, 4526, 32649])
def test_projected_input_is_reprojected_with_a_warning(tmp_path, epsg):
    # 4547: CGCS2000 3-degree GK CM 114E; 4526: the same with the zone number (38) in the easting
    path = tmp_path / "shops.shp"
    write_layer(_points().to_crs(epsg), path)
    with pytest.warns(CRSWarning, match=f"reprojected from EPSG:{epsg}"):
        back = read_layer(path, "shops")
    assert back.crs.to_epsg() == 4326
    assert _metres(back).max() < 0.001


def test_cgcs2000_is_taken_as_wgs84_with_a_warning(tmp_path):
    path = tmp_path / "shops.gpkg"
    write_layer(_points("EPSG:4490"), path, "shops")
    with pytest.warns(CRSWarning, match="CGCS2000"):
        back = read_layer(path, "shops")
    assert back.crs.to_epsg() == 4326
    assert _metres(back).max() == 0


@pytest.mark.parametrize(("name", "forward"), [("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)])
def test_gcj02_and_bd09_are_converted_only_when_declared(tmp_path, name, forward):
    path = tmp_path / "shops.csv"
    lon, lat = forward(LON, LAT)
    pd.DataFrame({"shop_id": [1, 2, 3], "lon": lon, "lat": lat}).to_csv(path, index=False)
    with pytest.warns(CRSWarning, match=name.upper()):
        back = read_layer(path, crs=name)
    assert _metres(back).max() < 0.01
    # undeclared, the same file is not converted (never guessed): it stays hundreds of metres off
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CRSWarning)
        raw = read_layer(path)
    assert _metres(raw).min() > 100


def test_gcj02_polygons_are_converted_vertex_by_vertex(tmp_path, toy_city):
    towns = toy_city["towns"]
    gcj = towns.copy()
    gcj["geometry"] = gcj.geometry.apply(
        lambda g: type(g)(np.column_stack(wgs84_to_gcj02(*np.asarray(g.exterior.coords).T)))
    )
    path = tmp_path / "towns.geojson"
    write_layer(gcj, path)
    with pytest.warns(CRSWarning):
        back = read_layer(path, "towns", crs="gcj02")
    assert back.geometry.geom_equals_exact(towns.geometry, 1e-9).all()


def test_file_without_crs_needs_one_declared(tmp_path):
    path = tmp_path / "shops.shp"
    write_layer(_points(), path)
    path.with_suffix(".prj").unlink()
    with pytest.raises(CRSError, match=r"shops\.shp has no \.prj file, so its CRS is unknown") as info:
        read_layer(path)
    assert "--crs" in info.value.fix
    assert read_layer(path, crs="EPSG:4326").crs.to_epsg() == 4326


def test_declared_crs_overrides_the_file_with_a_warning(tmp_path):
    path = tmp_path / "shops.gpkg"
    write_layer(_points().to_crs(4547), path, "shops")
    with pytest.warns(CRSWarning, match=r"declares EPSG:4547 .*; --crs EPSG:32649 .* is used instead"):
        out = read_layer(path, "shops", crs="EPSG:32649")
    assert out.crs.to_epsg() == 4326
    with pytest.warns(CRSWarning, match="used instead"), pytest.raises(CRSError, match="not degrees"):
        read_layer(path, "shops", crs="gcj02")


def test_degrees_labelled_as_a_gauss_kruger_zone_are_refused(tmp_path):
    path = tmp_path / "shops.gpkg"
    write_layer(_points().set_crs(4547, allow_override=True), path, "shops")
    with pytest.raises(CRSError, match="outside the area of use of EPSG:4547.*look like lon/lat"):
        read_layer(path, "shops")


def test_wrong_gauss_kruger_zone_is_refused(tmp_path):
    # eastings of zone 38 (CM 114E) declared as zone 37 (CM 111E): 3 degrees too far west... and beyond its area
    path = tmp_path / "shops.gpkg"
    write_layer(_points().to_crs(4526).set_crs(4525, allow_override=True), path, "shops")
    with pytest.raises(CRSError, match="EPSG:4525"):
        read_layer(path, "shops")


def test_swapped_lonlat_csv_is_refused_naming_rows(tmp_path):
    path = tmp_path / "shops.csv"
    pd.DataFrame({"shop_id": [1, 2], "lon": [112.96, 22.66], "lat": [22.76, 112.60]}).to_csv(path, index=False)
    with pytest.raises(CRSError, match=r"shops\.csv: lon/lat look swapped at row\(s\) 1"):
        read_layer(path, crs="wgs84")


def test_points_outside_china_are_refused(tmp_path):
    path = tmp_path / "shops.geojson"
    write_layer(_points(lon=[112.96, 2.35, 112.85], lat=[22.76, 48.85, 22.57]), path)
    with pytest.raises(CRSError, match=r"outside China") as info:
        read_layer(path)
    assert info.value.details["rows"] == [1]


def test_unknown_crs_name(tmp_path):
    path = tmp_path / "shops.csv"
    pd.DataFrame({"shop_id": [1], "lon": [112.96], "lat": [22.76]}).to_csv(path, index=False)
    with pytest.raises(CRSError, match="Unknown CRS 'mars'"):
        read_layer(path, crs="mars")


def test_point_geometry_columns_survive_conversion(tmp_path):
    # a GCJ-02 conversion keeps the attribute columns and the index
    path = tmp_path / "shops.csv"
    lon, lat = wgs84_to_gcj02(LON, LAT)
    pd.DataFrame({"shop_id": [7, 8, 9], "name": ["a", "b", "c"], "lon": lon, "lat": lat}).to_csv(path, index=False)
    with pytest.warns(CRSWarning):
        back = read_layer(path, "shops", crs="gcj02")
    assert back["shop_id"].tolist() == [7, 8, 9] and back["name"].tolist() == ["a", "b", "c"]
    assert isinstance(back.geometry.iloc[0], Point)
