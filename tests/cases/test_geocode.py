"""The offline geocoder: an address layer imported with `gridgis layer import --address-field` places
address-only Open311 requests (exact, normalized, fuzzy; the quality recorded); one that matches nothing waits,
with its token, in the dispatcher queue until placed by hand."""

from __future__ import annotations

import geopandas as gpd
from click.testing import CliRunner
from shapely.geometry import Point

from gridgis.cli import main
from tests.cases.conftest import APP, DISPATCHER, G1, G2, IN_G1, IN_G2, failing_inserts, mended

BASE = "/open311/v2"
DOORS = [("沙坪街道中山路12号", IN_G1), ("沙坪街道中山路13号", IN_G2), ("沙坪街道人民路105号", IN_G2)]


def _import(service, tmp_path) -> None:
    path = tmp_path / "doorplates.geojson"
    gpd.GeoDataFrame({"address": [a for a, _ in DOORS]}, geometry=[Point(p) for _, p in DOORS], crs=4326).to_file(path)
    result = CliRunner().invoke(
        main,
        ["layer", "import", str(path), "--name", "doorplates", "--address-field", "address", "--db", service.url],
    )
    assert result.exit_code == 0, result.output
    assert "3 addresses" in result.output


def _post(service, address: str):
    data = {"api_key": APP, "service_code": "urban_management", "description": "井盖缺失", "address_string": address}
    return service.client.post(f"{BASE}/requests.json", data=data)


def _case(service, r) -> dict:
    assert r.status_code == 201, r.text
    return service.get(f"/v1/cases/{r.json()[0]['service_request_id']}").json()


def test_address_only_requests_are_placed_with_their_match_quality(service, tmp_path):
    _import(service, tmp_path)
    assert _case(service, _post(service, "沙坪街道中山路12号"))["grid_id"] == G1
    # a province/city prefix, full-width digits and spaces: normalized
    r = _post(service, "广东省江门市鹤山市 沙坪街道中山路１３号")
    assert _case(service, r)["grid_id"] == G2
    [req] = service.client.get(f"{BASE}/requests/{r.json()[0]['service_request_id']}.json").json()
    assert (
        req["address_placement"]["method"] == "normalized"
        and req["address_placement"]["matched"] == "沙坪街道中山路13号"
    )
    assert req["address"] == "广东省江门市鹤山市 沙坪街道中山路１３号"
    # Chinese numerals and a typo in the street name: fuzzy, same house number only
    r = _post(service, "沙坪街到人民路一百零五号")
    case = _case(service, r)
    [req] = service.client.get(f"{BASE}/requests/{case['id']}.json").json()
    assert case["grid_id"] == G2 and req["address_placement"]["method"] == "fuzzy"
    assert 85 <= req["address_placement"]["score"] < 100
    geo = service.client.get("/v1/addresses/geocode", params={"address": "中山路12号"}, headers={"X-API-Key": APP})
    assert geo.json()["lon"] == IN_G1[0] and geo.json()["method"] == "normalized"


def test_an_unmatched_address_waits_for_a_dispatcher(service, tmp_path):
    _import(service, tmp_path)
    r = _post(service, "沙坪街道中山路14号")  # no door plate 14: never placed at 12 or 13
    assert r.status_code == 201
    [answer] = r.json()
    token = answer["token"]
    assert "service_request_id" not in answer and "dispatcher" in answer["service_notice"]
    assert service.client.get(f"{BASE}/tokens/{token}.json").json() == [{"service_request_id": None, "token": token}]
    assert service.get("/v1/cases").json()["total"] == 0
    queue = service.get("/v1/addresses/queue").json()
    assert [q["address"] for q in queue] == ["沙坪街道中山路14号"] and queue[0]["report"]["fields"][
        "description"
    ] == "井盖缺失"
    assert "api_key" not in queue[0]["report"]["fields"]
    assert service.client.get("/v1/addresses/queue", headers={"X-API-Key": APP}).status_code == 403
    placed = service.client.post(
        f"/v1/addresses/queue/{token}/place",
        json={"lon": IN_G2[0], "lat": IN_G2[1]},
        headers={"X-API-Key": DISPATCHER},
    )
    assert placed.status_code == 201 and placed.json()["grid_id"] == G2
    assert placed.json()["submitted_by"] == APP[:10]
    [tok] = service.client.get(f"{BASE}/tokens/{token}.json").json()
    assert tok["service_request_id"] == str(placed.json()["id"])
    [req] = service.client.get(f"{BASE}/requests/{tok['service_request_id']}.json").json()
    assert req["address"] == "沙坪街道中山路14号" and req["address_placement"]["method"] == "by_hand"
    assert service.get("/v1/addresses/queue").json() == []
    again = service.client.post(
        f"/v1/addresses/queue/{token}/place", json={"lon": IN_G2[0], "lat": IN_G2[1]}, headers={"X-API-Key": DISPATCHER}
    )
    assert again.status_code == 409


def test_address_layer_errors_name_the_rows(service, tmp_path):
    path = tmp_path / "bad.geojson"
    gpd.GeoDataFrame({"address": ["中山路1号", None]}, geometry=[Point(IN_G1), Point(IN_G2)], crs=4326).to_file(path)
    args = ["layer", "import", str(path), "--name", "doors", "--db", service.url]
    result = CliRunner().invoke(main, [*args, "--address-field", "address"])
    assert result.exit_code != 0 and "row(s) [1]" in result.output
    result = CliRunner().invoke(main, [*args, "--address-field", "addr"])
    assert result.exit_code != 0 and "--address-field" in result.output


def test_post_v1_cases_by_address_only(service, tmp_path):
    _import(service, tmp_path)
    r = service.post_case(lon=None, lat=None, address="鹤山市沙坪街道中山路13号", channel="hotline")
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["grid_id"] == G2 and case["address_placement"]["method"] == "normalized"
    again = service.get(f"/v1/cases/{case['id']}").json()
    assert (
        again["address"] == "鹤山市沙坪街道中山路13号" and again["address_placement"]["matched"] == "沙坪街道中山路13号"
    )
    # nothing matches: accepted (202), waits for a dispatcher, then becomes a case where placed
    r = service.post_case(lon=None, lat=None, address="共和镇无名村", channel="hotline")
    assert r.status_code == 202 and r.json()["status"] == "awaiting_placement"
    token = r.json()["token"]
    placed = service.client.post(
        f"/v1/addresses/queue/{token}/place", json={"lon": IN_G1[0], "lat": IN_G1[1]}, headers={"X-API-Key": DISPATCHER}
    )
    assert placed.status_code == 201 and placed.json()["grid_id"] == G1 and placed.json()["channel"] == "hotline"
    assert service.get(f"/v1/cases/{placed.json()['id']}").json()["address"] == "共和镇无名村"
    # a bad report is refused before it is queued
    r = service.post_case(lon=None, lat=None, address="共和镇无名村", category="nope")
    assert r.status_code == 422 and service.get("/v1/addresses/queue").json() == []


def test_a_case_by_address_is_kept_with_its_address_or_not_at_all(service, tmp_path):
    """The case and the address it was placed by are one transaction (POST /v1/cases and a dispatcher's
    placing): when the address row cannot be written, no case is kept, and the queued report still waits."""
    _import(service, tmp_path)
    failing_inserts(service, "geocode_cases")
    r = service.post_case(lon=None, lat=None, address="鹤山市沙坪街道中山路13号", channel="hotline")
    assert r.status_code == 500 and service.cases.list()[1] == 0
    token = service.post_case(lon=None, lat=None, address="共和镇无名村", channel="hotline").json()["token"]
    place = f"/v1/addresses/queue/{token}/place"
    r = service.client.post(place, json={"lon": IN_G1[0], "lat": IN_G1[1]}, headers={"X-API-Key": DISPATCHER})
    assert r.status_code == 500 and service.cases.list()[1] == 0
    assert [t["token"] for t in service.get("/v1/addresses/queue").json()] == [token]
    mended(service, "geocode_cases")
    r = service.client.post(place, json={"lon": IN_G1[0], "lat": IN_G1[1]}, headers={"X-API-Key": DISPATCHER})
    assert r.status_code == 201 and service.cases.list()[1] == 1
    again = service.client.post(place, json={"lon": IN_G1[0], "lat": IN_G1[1]}, headers={"X-API-Key": DISPATCHER})
    assert again.status_code == 409 and service.cases.list()[1] == 1
