"""Geometry repair: invalid polygons made valid with a counted warning; empty geometries dropped by row."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from shapely.geometry import GeometryCollection, LineString, MultiPolygon, Point, Polygon, box

from gridgis.crs import local_metric_crs
from gridgis.errors import RepairWarning
from gridgis.io import read_layer
from gridgis.paths import GEO_DATA
from gridgis.repair import drop_empty, polygonal_parts, repair_geometries

JIANGMEN = GEO_DATA / "jiangmen_counties.geojson"
BOWTIE = Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])  # two unit-height triangles of area 1 each


def test_bowtie_is_split_into_its_two_triangles_with_a_warning():
    gdf = gpd.GeoDataFrame({"town_id": ["a", "b"]}, geometry=[box(5, 5, 6, 6), BOWTIE], crs="EPSG:4326")
    with pytest.warns(RepairWarning, match=r"t\.shp: repaired 1 invalid polygon\(s\) in layer 'towns' at row\(s\) 1"):
        out = repair_geometries(gdf, layer="towns", source="t.shp")
    assert out.geometry.is_valid.all()
    assert out.geometry[1].geom_type == "MultiPolygon" and out.geometry[1].area == pytest.approx(2.0)
    assert out.geometry[0].equals(box(5, 5, 6, 6))  # valid rows untouched
    assert gdf.geometry[1].equals(BOWTIE)  # input not modified


def test_valid_layers_pass_unchanged_and_silently():
    gdf = gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1), Point(3, 3)], crs="EPSG:4326")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert repair_geometries(gdf, layer="x", source="x") is gdf
        assert drop_empty(gdf, layer="x", source="x") is gdf


def test_polygonal_parts_drop_lines_and_points_and_flatten_collections():
    geoms = np.array(
        [
            GeometryCollection([box(0, 0, 1, 1), LineString([(1, 1), (2, 2)])]),
            GeometryCollection([MultiPolygon([box(0, 0, 1, 1), box(2, 2, 3, 3)]), Point(5, 5), box(4, 4, 5, 5)]),
            LineString([(0, 0), (1, 1)]),
        ],
        dtype=object,
    )
    out = polygonal_parts(geoms)
    assert out[0].geom_type == "Polygon" and out[0].area == 1
    assert out[1].geom_type == "MultiPolygon" and len(out[1].geoms) == 3 and out[1].area == 3
    assert out[2].is_empty


def test_a_polygon_with_no_area_left_is_reported_then_dropped():
    flat = Polygon([(0, 0), (1, 1), (2, 2), (0, 0)])  # collapses to a line
    gdf = gpd.GeoDataFrame({"shop_id": [1, 2]}, geometry=[flat, box(0, 0, 1, 1)], crs="EPSG:4326")
    with pytest.warns(RepairWarning, match="1 of them had no polygonal part left"):
        fixed = repair_geometries(gdf, layer="facilities", source="f.gpkg")
    with pytest.warns(RepairWarning, match=r"dropped 1 row\(s\) of layer 'facilities'.*row\(s\) 0"):
        kept = drop_empty(fixed, layer="facilities", source="f.gpkg")
    assert kept["shop_id"].tolist() == [2]


def test_jiangmen_file_loads_repaired_with_heshan_at_its_official_area():
    raw = pyogrio.read_dataframe(JIANGMEN)
    invalid = int((~shapely.is_valid(raw.geometry.values)).sum())
    assert invalid >= 2  # as published, several polygons are invalid
    with pytest.warns(RepairWarning, match=rf"repaired {invalid} invalid polygon\(s\)"):
        counties = read_layer(JIANGMEN)
    assert counties.geometry.is_valid.all() and len(counties) == len(raw) == 7
    heshan = counties[counties["division_code"] == "440784"]
    assert heshan["name"].tolist() == ["鹤山市"]
    area_km2 = heshan.to_crs(local_metric_crs(heshan)).area.sum() / 1e6
    assert 1082 <= area_km2 <= 1084  # official: 1,082.73 km2
