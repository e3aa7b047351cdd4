"""GCJ-02/BD-09 conversions against published pairs, round trips, lon/lat checks, the metric CRS."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import pytest
from shapely.geometry import box

from gridgis.crs import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    check_lonlat,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    local_metric_crs,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from gridgis.errors import CRSError

GEOD = pyproj.Geod(ellps="WGS84")

# googollee/eviltransform go/transform_test.go and python/test.py: (wgs lat, wgs lng, gcj lat, gcj lng)
EVILTRANSFORM_GCJ = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]


def _metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    return np.atleast_1d(GEOD.inv(lon1, lat1, lon2, lat2)[2])


def test_wgs84_to_gcj02_matches_published_pairs():
    wlat, wlon, glat, glon = map(np.array, zip(*EVILTRANSFORM_GCJ, strict=True))
    lon, lat = wgs84_to_gcj02(wlon, wlat)
    np.testing.assert_allclose(lon, glon, atol=1e-9)
    np.testing.assert_allclose(lat, glat, atol=1e-9)


def test_gcj02_to_wgs84_recovers_published_pairs_within_a_centimetre():
    wlat, wlon, glat, glon = map(np.array, zip(*EVILTRANSFORM_GCJ, strict=True))
    lon, lat = gcj02_to_wgs84(glon, glat)
    assert _metres(lon, lat, wlon, wlat).max() < 0.01


def test_coordtransform_readme_pairs():
    # wandergis/coordtransform test/app.js, input (116.404, 39.915)
    lon, lat = gcj02_to_bd09([116.404], [39.915])
    np.testing.assert_allclose([lon[0], lat[0]], [116.41036949371029, 39.92133699351021], atol=1e-9)
    lon, lat = wgs84_to_gcj02([116.404], [39.915])
    np.testing.assert_allclose([lon[0], lat[0]], [116.41024449916938, 39.91640428150164], atol=1e-9)
    # its GCJ-02 -> WGS84 is the one-step approximation: within a metre of the exact inverse
    lon, lat = gcj02_to_wgs84([116.404], [39.915])
    assert _metres(lon, lat, 116.39775550083061, 39.91359571849836)[0] < 1.0
    # the published BD-09 -> GCJ-02 is the closed-form approximation: a few centimetres off the exact inverse
    lon, lat = bd09_to_gcj02([116.404], [39.915])
    assert _metres(lon, lat, 116.39762729119315, 39.90865673957631)[0] < 0.10


def test_beijing_railway_station_gcj02_bd09():
    # caijun/geoChina documentation: GCJ-02 (39.90245, 116.42703) <-> BD-09 (39.90851, 116.43351), 5 decimals
    lon, lat = gcj02_to_bd09([116.42703], [39.90245])
    np.testing.assert_allclose([lon[0], lat[0]], [116.43351, 39.90851], atol=1e-5)


@pytest.mark.parametrize(
    ("forward", "inverse"),
    [(wgs84_to_gcj02, gcj02_to_wgs84), (gcj02_to_bd09, bd09_to_gcj02), (wgs84_to_bd09, bd09_to_wgs84)],
)
def test_round_trips_under_a_centimetre_across_china(rng, forward, inverse):
    lon = rng.uniform(74, 135, 20_000)
    lat = rng.uniform(18, 53, 20_000)
    back_lon, back_lat = inverse(*forward(lon, lat))
    assert _metres(lon, lat, back_lon, back_lat).max() < 0.01
    # and the offsets are the hundreds of metres the systems are known for, not zero
    moved = _metres(lon, lat, *forward(lon, lat))
    assert np.median(moved) > 100


def test_to_wgs84_by_name():
    glon, glat = wgs84_to_gcj02([112.96], [22.76])
    lon, lat = to_wgs84(glon, glat, "gcj02")
    assert _metres(lon, lat, 112.96, 22.76)[0] < 0.01
    lon, lat = to_wgs84(*wgs84_to_bd09([112.96], [22.76]), "BD-09")
    assert _metres(lon, lat, 112.96, 22.76)[0] < 0.01
    assert to_wgs84([112.96], [22.76], "cgcs2000")[0][0] == 112.96
    with pytest.raises(CRSError, match="'mars'.*wgs84"):
        to_wgs84([112.96], [22.76], "mars")


def test_check_lonlat_accepts_china_and_names_swapped_rows():
    check_lonlat([112.96, 87.6, 126.6], [22.76, 43.8, 45.7], source="ok.csv")
    with pytest.raises(CRSError, match=r"shops\.csv: lon/lat look swapped at row\(s\) 1, 2") as info:
        check_lonlat([112.96, 22.77, 22.78], [22.76, 112.97, 112.98], source="shops.csv")
    assert info.value.details["rows"] == [1, 2]
    assert "--lon" in info.value.fix
    with pytest.raises(CRSError, match="look swapped") as info:
        check_lonlat([22.77], [112.97], source="query lon/lat", audience="api")
    assert "--" not in info.value.fix and "lon" in info.value.fix


def test_check_lonlat_outside_china_and_projected_metres():
    with pytest.raises(CRSError, match="outside China"):
        check_lonlat([2.35], [48.85], source="paris.csv")
    with pytest.raises(CRSError, match="projected metres"):
        check_lonlat([38_500_000.0], [2_517_000.0], source="gk.csv", rows=["a"])
    with pytest.raises(CRSError, match=r"row\(s\) 1"):
        check_lonlat([112.96, np.nan], [22.76, 22.7], source="gaps.csv")


def test_local_metric_crs_is_the_utm_zone_and_measures_area():
    assert local_metric_crs((112.3, 22.5, 113.0, 22.9)).to_epsg() == 32649  # UTM 49N, Heshan
    assert local_metric_crs((121.4, 31.1, 121.6, 31.3)).to_epsg() == 32651  # Shanghai
    # A 0.01-degree cell near Heshan, 1.96 degrees east of UTM 49N's central meridian (111 E): its UTM
    # area is the geodesic area times k^2, k = 0.9996 * (1 + (dlon * cos(lat))^2 / 2) the TM scale factor.
    cell = gpd.GeoSeries([box(112.96, 22.70, 112.97, 22.71)], crs="EPSG:4326")
    crs = local_metric_crs(cell)
    area = cell.to_crs(crs).area.iloc[0]
    geodesic = abs(GEOD.geometry_area_perimeter(cell.iloc[0])[0])
    k = 0.9996 * (1 + (np.radians(1.965) * np.cos(np.radians(22.705))) ** 2 / 2)
    assert area == pytest.approx(geodesic * k**2, rel=1e-5)
    assert area == pytest.approx(geodesic, rel=5e-4)
    assert local_metric_crs(cell.to_crs(32649)) == crs
