"""Open311 GeoReport v2 to the letter: every field kept and returned, crs honoured, discovery, service
definitions, jurisdiction_id, a JSON body refused with a clear error; read by the georeport client library."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from georeport import GeoReport

from api.main import create_app
from api.settings import Settings
from gridgis.crs import wgs84_to_gcj02
from tests.cases.conftest import APP, DISPATCHER, IN_G1, IN_G2, KEYS, failing_inserts, mended
from tests.live import serving

BASE = "/open311/v2"


def full_form(**extra) -> dict[str, str]:
    return {
        "api_key": APP,
        "jurisdiction_id": "heshan",
        "service_code": "urban_management",
        "lat": str(IN_G1[1]),
        "long": str(IN_G1[0]),
        "address_string": "沙坪街道中山路12号",
        "address_id": "door-4401",
        "email": "li@example.cn",
        "device_id": "wx-device-7",
        "account_id": "wx-openid-9",
        "first_name": "小明",
        "last_name": "李",
        "phone": "13800000000",
        "description": "路灯不亮",
        "media_url": "https://img.example.cn/lamp.jpg",
        "attribute[urgency]": "urgent",
        "attribute[landmark]": "农商银行对面",
        **extra,
    }


def test_every_field_is_kept_and_returned(service):
    r = service.client.post(f"{BASE}/requests.json", data=full_form())
    assert r.status_code == 201, r.text
    [created] = r.json()
    assert created["account_id"] == "wx-openid-9"
    rid = created["service_request_id"]
    # public: the address, the address id and the attributes; no reporter fields
    [public] = service.client.get(f"{BASE}/requests/{rid}.json").json()
    assert public["address"] == "沙坪街道中山路12号" and public["address_id"] == "door-4401"
    assert public["attributes"] == [
        {"code": "urgency", "value": "urgent"},
        {"code": "landmark", "value": "农商银行对面"},
    ]
    assert "13800000000" not in str(public) and "email" not in public
    # staff: every reporter field as sent
    [staff] = service.client.get(f"{BASE}/requests/{rid}.json", headers={"X-API-Key": DISPATCHER}).json()
    assert {k: staff[k] for k in ("email", "device_id", "account_id", "first_name", "last_name", "phone")} == {
        "email": "li@example.cn",
        "device_id": "wx-device-7",
        "account_id": "wx-openid-9",
        "first_name": "小明",
        "last_name": "李",
        "phone": "13800000000",
    }
    assert staff["jurisdiction_id"] == "heshan"
    # the list and XML carry them too
    [listed] = service.client.get(f"{BASE}/requests.json", params={"service_request_id": rid}).json()
    assert listed["address"] == "沙坪街道中山路12号"
    req = ET.fromstring(service.client.get(f"{BASE}/requests/{rid}.xml").content).find("request")
    assert req.findtext("address") == "沙坪街道中山路12号"
    assert req.find("attributes").find("attribute").findtext("value") == "urgent"
    # the case keeps the contact for staff
    assert service.get(f"/v1/cases/{rid}").json()["contact"]["name"] == "李 小明"


def test_crs_gcj02_is_converted_before_routing(service):
    # the G2 point as Amap/WeChat would give it (GCJ-02 is shifted by a few hundred metres)
    glon, glat = (float(v) for v in wgs84_to_gcj02(IN_G2[0], IN_G2[1]))
    r = service.client.post(f"{BASE}/requests.json", data=full_form(lat=str(glat), long=str(glon), crs="gcj02"))
    assert r.status_code == 201, r.text
    [req] = service.client.get(f"{BASE}/requests/{r.json()[0]['service_request_id']}.json").json()
    assert req["address_id"] == "door-4401"
    case = service.get(f"/v1/cases/{r.json()[0]['service_request_id']}").json()
    assert case["grid_id"] == "440784101001002" and case["source_crs"] == "gcj02"
    assert case["lon"] == pytest.approx(IN_G2[0], abs=1e-5) and case["lat"] == pytest.approx(IN_G2[1], abs=1e-5)
    r = service.client.post(f"{BASE}/requests.json", data=full_form(crs="mercator"))
    assert r.status_code == 400 and "mercator" in r.json()[0]["description"]


@pytest.mark.parametrize(
    ("data", "status", "text"),
    [
        ({"attribute[colour]": "red"}, 400, "attribute[colour]"),
        ({"attribute[urgency]": "tomorrow"}, 400, "normal"),
        ({"nickname": "x"}, 400, "nickname"),
        ({"email": "x" * 201}, 400, "email"),
        ({"description": "a\x00b"}, 400, "NUL"),
    ],
)
def test_a_field_is_kept_or_refused_never_dropped(service, data, status, text):
    r = service.client.post(f"{BASE}/requests.json", data=full_form(**data))
    assert r.status_code == status and text in r.json()[0]["description"]
    assert service.get("/v1/cases").json()["total"] == 0


def test_json_body_is_refused_saying_form_encoded(service):
    r = service.client.post(f"{BASE}/requests.json", json=full_form())
    assert r.status_code == 400 and "form-encoded" in r.json()[0]["description"]


def test_discovery_definitions_and_jurisdiction(service):
    disc = service.client.get("/open311/discovery.json").json()
    [endpoint] = disc["endpoints"]
    assert endpoint["url"].endswith("/open311/v2") and "GeoReport_v2" in endpoint["specification"]
    root = ET.fromstring(service.client.get("/open311/discovery.xml").content)
    assert root.tag == "discovery" and root.find("endpoints/endpoint/formats/format") is not None
    definition = ET.fromstring(service.client.get(f"{BASE}/services/fire.xml").content)
    urgency = definition.find("attributes/attribute")
    assert urgency.findtext("code") == "urgency" and urgency.find("values/value").findtext("key") == "normal"
    assert service.client.get(f"{BASE}/services.json", params={"jurisdiction_id": "heshan"}).status_code == 200


def test_jurisdiction_setting_refuses_others(store_url, service):
    settings = Settings(database_url=store_url, api_keys=KEYS, open311_jurisdiction="heshan", poll_seconds=0.2)
    from fastapi.testclient import TestClient

    with TestClient(create_app(settings)) as client:
        assert client.get(f"{BASE}/services.json", params={"jurisdiction_id": "heshan"}).status_code == 200
        r = client.get(f"{BASE}/services.json", params={"jurisdiction_id": "foshan"})
        assert r.status_code == 404 and "foshan" in r.json()[0]["description"]


@pytest.mark.parametrize(
    "url",
    [
        f"{BASE}/requests.json?service_request_id=99999999999999999999",
        f"{BASE}/requests/99999999999999999999.json",
        f"{BASE}/requests.json?end_date=0001-01-01T00:00:00Z",
        f"{BASE}/requests.json?start_date=0001-01-01T00:00:00%2B14:00",
    ],
)
def test_edges_are_4xx(service, url):
    r = service.client.get(url)
    assert 400 <= r.status_code < 500 or r.status_code == 200, r.text
    assert r.status_code != 500


def test_the_georeport_client_library_reads_us(store_url, service):
    service.client.post(f"{BASE}/requests.json", data=full_form())
    app = create_app(Settings(database_url=store_url, api_keys=KEYS, poll_seconds=0.2))
    with serving(app) as base:
        for fmt in ("json", "xml"):
            client = GeoReport(f"{base}/open311/v2", jurisdiction="heshan", output_format=fmt)
            services = client.get_service_list()
            assert len(services) == 9
            definition = client.get_service_definition("fire")
            assert definition["service_code"] == "fire"
            requests = client.get_service_requests(service_code="urban_management")
            one = requests if isinstance(requests, dict) else requests[0]  # xmltodict: a dict for one item
            assert one["address"] == "沙坪街道中山路12号"
            single = client.get_service_request(one["service_request_id"])
            assert single["description"] == "路灯不亮"


def test_a_request_whose_open311_row_fails_leaves_no_case(service):
    """The case and its Open311 row are one transaction: when the row cannot be written, no case is kept either
    (no case without its reporter's fields), and the same request sent again afterwards makes the case."""
    before = service.cases.list()[1]
    failing_inserts(service, "georeport_requests")
    headers = {"Idempotency-Key": "wx-req-1"}
    r = service.client.post(f"{BASE}/requests.json", data=full_form(), headers=headers)
    assert r.status_code == 500 and r.json()["error"]["code"] == "internal"
    assert service.cases.list()[1] == before  # nothing half-written
    mended(service, "georeport_requests")
    r = service.client.post(f"{BASE}/requests.json", data=full_form(), headers=headers)
    assert r.status_code == 201, r.text
    rid = r.json()[0]["service_request_id"]
    assert service.cases.list()[1] == before + 1
    [staff] = service.client.get(f"{BASE}/requests/{rid}.json", headers={"X-API-Key": DISPATCHER}).json()
    assert staff["phone"] == "13800000000" and staff["address"] == "沙坪街道中山路12号"
