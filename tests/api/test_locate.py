"""GET/POST /v1/locate: known answers on the toy plan, equality with gridgis.assign, CRS input, errors."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest

from gridgis.assign import assign
from gridgis.crs import wgs84_to_bd09, wgs84_to_gcj02

# toy plan: community 440784101001 spans lon 112.90-112.92, lat 22.70-22.72; its west half is grid ...001001
WEST_HALF = (112.905, 22.71)


def test_get_locate_full_answer(client, published):
    r = client.get("/v1/locate", params={"lon": WEST_HALF[0], "lat": WEST_HALF[1]})
    assert r.status_code == 200
    body = r.json()
    assert body["plan"] == published.name
    assert body["grid"]["grid_id"] == "440784101001001"
    assert len(body["grid"]["grid_code"]) == 15
    assert body["grid"]["households"] == 72  # 18 buildings of 4 households in a half community
    assert body["community"] == {"community_id": "440784101001", "name": "雅瑶东社区", "kind": "urban"}
    assert body["town"]["town_id"] == "440784101" and body["town"]["name"] == "雅瑶镇"
    assert body["point"]["wgs84"] == [WEST_HALF[0], WEST_HALF[1]]
    assert body["layers"] == []


@pytest.mark.parametrize(
    ("lon", "lat", "grid"),
    [
        (112.915, 22.71, "440784101001002"),  # east half of the first community
        (112.925, 22.719, "440784101002001"),
        (112.975, 22.701, "440784106002002"),  # last grid, south-east corner area
    ],
)
def test_get_locate_known_grids(client, published, lon, lat, grid):
    assert client.get("/v1/locate", params={"lon": lon, "lat": lat}).json()["grid"]["grid_id"] == grid


def test_outside_gives_404_with_nearest_grid_and_distance(client, published):
    # 0.01 degree east of the city's east edge (112.98) at 22.71: about 1,026 m (cos(22.71) * 111.32 km / 100)
    r = client.get("/v1/locate", params={"lon": 112.99, "lat": 22.71})
    assert r.status_code == 404
    err = r.json()["error"]
    assert err["code"] == "outside_coverage"
    assert err["details"]["nearest"]["grid_id"] == "440784106002002"
    assert err["details"]["distance_m"] == pytest.approx(1027, abs=10)


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_shifted_input_lands_in_the_same_grid_as_its_wgs84_original(client, published, rng, crs):
    lon = rng.uniform(112.901, 112.979, 40)
    lat = rng.uniform(22.701, 22.719, 40)
    slon, slat = (wgs84_to_gcj02 if crs == "gcj02" else wgs84_to_bd09)(lon, lat)
    assert np.hypot(slon - lon, slat - lat).min() > 0.002  # the shift (hundreds of metres) is real
    for i in range(0, 40, 8):
        plain = client.get("/v1/locate", params={"lon": lon[i], "lat": lat[i]}).json()
        shifted = client.get("/v1/locate", params={"lon": slon[i], "lat": slat[i], "crs": crs}).json()
        assert shifted["grid"] == plain["grid"]
        assert shifted["point"]["wgs84"] == pytest.approx(plain["point"]["wgs84"], abs=1e-7)
    batch = client.post("/v1/locate", json={"lon": slon.tolist(), "lat": slat.tolist(), "crs": crs}).json()
    plain = client.post("/v1/locate", json={"lon": lon.tolist(), "lat": lat.tolist()}).json()
    assert batch["grid_id"] == plain["grid_id"]


def test_batch_equals_gridgis_assign_for_10000_random_points(client, published, toy_plan, rng):
    # a box somewhat larger than the city, so some points fall outside
    lon = rng.uniform(112.895, 112.985, 10_000)
    lat = rng.uniform(22.695, 22.725, 10_000)
    r = client.post("/v1/locate", json={"lon": lon.tolist(), "lat": lat.tolist()})
    assert r.status_code == 200
    body = r.json()
    expected = assign(gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs="EPSG:4326"), toy_plan)
    ids = toy_plan["grid_id"].to_numpy()
    want = [ids[p] if p >= 0 else None for p in expected]
    assert body["grid_id"] == want
    assert body["count"] == 10_000 and body["located"] == int((expected >= 0).sum())
    assert 0 < body["located"] < 10_000
    assert set(body["grids"]) == {g for g in want if g is not None}
    # GET agrees with the batch on a sample
    for i in range(0, 10_000, 1_000):
        r = client.get("/v1/locate", params={"lon": lon[i], "lat": lat[i]})
        assert (r.json()["grid"]["grid_id"] if r.status_code == 200 else None) == want[i]


def test_batch_accepts_geojson(client, published):
    fc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [112.905, 22.71]}, "properties": {}},
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.5, 22.71]}, "properties": None},
        ],
    }
    assert client.post("/v1/locate", json=fc).json()["grid_id"] == ["440784101001001", None]
    mp = {"type": "MultiPoint", "coordinates": [[112.915, 22.71]]}
    assert client.post("/v1/locate", json=mp).json()["grid_id"] == ["440784101001002"]


@pytest.mark.parametrize(
    ("params", "code", "needle"),
    [
        ({"lat": 22.71}, "invalid_input", "'lon' is missing"),
        ({"lon": "abc", "lat": 22.71}, "invalid_input", "not a number"),
        ({"lon": "nan", "lat": 22.71}, "invalid_input", "not a number"),  # nor inf, 112_96, fullwidth digits
        ({"lon": 112.9, "lat": 95}, "bad_crs", "not degrees"),
        ({"lon": 22.71, "lat": 112.905}, "bad_crs", "swapped"),
        ({"lon": -74.0, "lat": 40.7}, "bad_crs", "outside China"),
        ({"lon": 112.905, "lat": 22.71, "crs": "epsg:3857"}, "invalid_input", "Unknown crs"),
    ],
)
def test_bad_points_get_422_with_their_reason(client, published, params, code, needle):
    r = client.get("/v1/locate", params=params)
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == code and needle in err["message"]
    assert err["details"].get("fix")
    assert "--" not in err["details"]["fix"], "an HTTP answer's fix names request fields, not CLI options"


def test_batch_limits(client, published):
    r = client.post("/v1/locate", json={"lon": [112.905] * 10_001, "lat": [22.71] * 10_001})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "batch_too_large" and "10,000" in r.json()["error"]["message"]
    r = client.post("/v1/locate", json={"lon": [112.905, 112.91], "lat": [22.71]})
    assert r.status_code == 422 and "lat has 1" in r.json()["error"]["message"]
    r = client.post("/v1/locate", json={"lon": [112.905], "lat": ["x"]})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"


def test_batch_answers_per_point_and_echoes_properties(client, published):
    r = client.post(
        "/v1/locate", json={"lon": [112.905, 22.71, -74.0, 112.5, 1e7], "lat": [22.71, 112.905, 40.7, 22.71, 1]}
    )
    assert r.status_code == 200
    out = r.json()
    assert out["grid_id"] == ["440784101001001", None, None, None, None] and out["located"] == 1
    assert [e and e["code"] for e in out["errors"]] == [None, "swapped", "outside", "outside_coverage", "projected"]
    assert all("Fix:" in out["errors"][i]["message"] for i in (1, 2, 4))
    assert out["errors"][3]["nearest_grid_id"] == "440784101001001" and out["errors"][3]["distance_m"] > 30_000
    fc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": c}, "properties": p}
            for c, p in (([112.905, 22.71], {"ticket": "A1", "n": 3}), ([0.0, 0.0], {"ticket": "A2"}))
        ],
    }
    out = client.post("/v1/locate", json=fc).json()
    assert out["properties"] == [{"ticket": "A1", "n": 3}, {"ticket": "A2"}]
    assert out["grid_id"] == ["440784101001001", None] and out["errors"][1]["code"] == "outside"


def test_body_over_the_size_limit_gets_413(client, published):
    # settings.max_body_bytes is 2,000,000 in these tests
    body = b'{"lon": [' + b"112.905," * 300_000 + b'112.9], "lat": [22.71]}'
    r = client.post("/v1/locate", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"


def test_chunked_body_over_the_limit_gets_413(client, published):
    def chunks():
        yield b'{"lon": ['
        for _ in range(30):
            yield b"112.905," * 10_000
        yield b'112.9], "lat": [22.71]}'

    r = client.post("/v1/locate", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["details"]["limit"] == 2_000_000


def test_bad_geojson_batch_names_the_field(client, published):
    fc = {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Point"}}]}
    r = client.post("/v1/locate", json=fc)
    assert r.status_code == 422
    fields = [p["field"] for p in r.json()["error"]["details"]["problems"]]
    assert any("coordinates" in f for f in fields)
    r = client.post("/v1/locate", json={"type": "Polygon", "coordinates": []})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize("crs", ["wgs84", "gcj02"])
def test_the_fast_path_answers_what_the_route_answers(client, published, monkeypatch, crs):
    from api.routes.locate import LocateFastPath

    lon, lat = WEST_HALF
    client.get("/v1/locate", params={"lon": lon, "lat": lat})  # the first request goes to the route
    answered = []
    plain_answer = LocateFastPath._plain_answer
    monkeypatch.setattr(
        LocateFastPath,
        "_plain_answer",
        staticmethod(lambda scope: answered.append(plain_answer(scope)) or answered[-1]),
    )
    if crs == "gcj02":
        lon, lat = (float(v[0]) for v in wgs84_to_gcj02(np.array([lon]), np.array([lat])))
    fast = client.get("/v1/locate", params={"lon": lon, "lat": lat, "crs": crs})
    routed = client.get("/v1/locate", params={"lon": lon, "lat": lat, "crs": crs, "plan": published.name})
    repeated = client.get(f"/v1/locate?lon=0&lon={lon}&lat={lat}&crs={crs}")  # refused: which lon was meant?
    assert answered[0] is not None and answered[1:] == [None, None]  # only the first took the fast path
    assert fast.status_code == routed.status_code == 200 and fast.content == routed.content
    assert repeated.status_code == 422 and repeated.json()["error"]["details"]["parameter"] == "lon"
    assert fast.headers == routed.headers
    assert fast.json()["grid"]["grid_id"] == "440784101001001"


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("lon=112.905&lat=22.71&x=1", 422, "unknown_parameter"),
        ("lon=112.905&lat=22.71&lat=22.72", 422, "invalid_input"),
        ("lon=112_905&lat=22.71", 422, "invalid_input"),
        ("lon=%EF%BC%91%EF%BC%91%EF%BC%92.905&lat=22.71", 422, "invalid_input"),
        ("lon=112.905&lat=22.71&plan=a&plan=b", 422, "invalid_input"),
        ("lon=112.905&lat=22.71%00", 422, "invalid_value"),
        ("lon=112.905&lat=", 422, "invalid_input"),
        ("lon=22.71&lat=112.905", 422, "bad_crs"),
        ("lon=112.99&lat=22.71", 404, "outside_coverage"),
        ("lon=112.905&lat=22.71&crs=utm", 422, "invalid_input"),
    ],
)
def test_what_the_fast_path_leaves_the_app_refuses_as_before(client, published, query, status, code):
    r = client.get(f"/v1/locate?{query}")
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
