"""Open311 GeoReport v2: raw form posts round-trip in JSON and XML, filters, errors in Open311's format."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tests.cases.conftest import APP, IN_G1, IN_G2

BASE = "/open311/v2"


def form(**extra):
    return {
        "api_key": APP,
        "service_code": "urban_management",
        "lat": str(IN_G1[1]),
        "long": str(IN_G1[0]),
        "description": "路灯不亮",
        "media_url": "https://img.example.cn/lamp.jpg",
        "email": "a@example.cn",
        "first_name": "Li",
        "attribute[urgency]": "urgent",
        **extra,
    }


def test_services_json_and_xml(service):
    services = service.client.get(f"{BASE}/services.json").json()
    codes = [s["service_code"] for s in services]
    assert "river_chief" in codes and "other" in codes and len(codes) == 9
    # issue 15: service names in Chinese (the configuration's names)
    assert {s["service_code"]: s["service_name"] for s in services}["river_chief"] == "河长制"
    assert all(s["metadata"] is True and s["type"] == "realtime" for s in services)
    root = ET.fromstring(service.client.get(f"{BASE}/services.xml").content)
    assert root.tag == "services" and [e.findtext("service_code") for e in root.findall("service")] == codes
    definition = service.client.get(f"{BASE}/services/fire.json").json()
    assert definition["service_code"] == "fire"
    assert [a["code"] for a in definition["attributes"]] == ["urgency", "landmark", "recurring"]
    root = ET.fromstring(service.client.get(f"{BASE}/services/fire.xml").content)
    assert root.tag == "service_definition" and root.findtext("service_code") == "fire"


def test_raw_form_post_round_trips_in_json(service):
    r = service.client.post(f"{BASE}/requests.json", data=form())
    assert r.status_code == 201, r.text
    assert r.headers["content-type"].startswith("application/json")
    [created] = r.json()
    rid = created["service_request_id"]
    [req] = service.client.get(f"{BASE}/requests/{rid}.json").json()
    assert (req["service_code"], req["status"], req["description"]) == ("urban_management", "open", "路灯不亮")
    assert (req["lat"], req["long"], req["media_url"]) == (IN_G1[1], IN_G1[0], "https://img.example.cn/lamp.jpg")
    assert req["address_id"] == "440784101001001" and req["status_notes"] == "已派遣给网格 440784101001001。"
    assert "email" not in req and "a@example.cn" not in r.text + str(req)
    # the same case through /v1 keeps the reporter's contact for staff
    case = service.get(f"/v1/cases/{rid}").json()
    assert case["contact"] == {"email": "a@example.cn", "name": "Li"} and case["channel"] == "app"
    # lifecycle -> open/closed with notes
    for to in ("accepted", "in_progress"):
        service.move(int(rid), to, key=service.worker)
    service.move(int(rid), "resolved", key=service.worker, note="已修复路灯")
    [req] = service.client.get(f"{BASE}/requests/{rid}.json").json()
    # issue 15: the handler's note reaches the reporter
    assert req["status"] == "open" and req["status_notes"] == "已处置：已修复路灯"
    service.move(int(rid), "verified")
    service.move(int(rid), "closed")
    [req] = service.client.get(f"{BASE}/requests/{rid}.json").json()
    assert req["status"] == "closed" and req["expected_datetime"] is None


def test_raw_form_post_round_trips_in_xml(service):
    r = service.client.post(
        f"{BASE}/requests.xml", data=form(service_code="fire", lat=str(IN_G2[1]), long=str(IN_G2[0]))
    )
    assert r.status_code == 201, r.text
    root = ET.fromstring(r.content)
    rid = root.find("request").findtext("service_request_id")
    req = ET.fromstring(service.client.get(f"{BASE}/requests/{rid}.xml").content).find("request")
    assert req.findtext("service_code") == "fire" and req.findtext("status") == "open"
    assert float(req.findtext("lat")) == IN_G2[1] and req.findtext("address_id") == "440784101001002"


def test_get_requests_filters(service):
    ids = [
        service.client.post(f"{BASE}/requests.json", data=form(service_code=c)).json()[0]["service_request_id"]
        for c in ("fire", "fire", "other")
    ]
    service.move(int(ids[0]), "rejected", note="重复上报")
    get = lambda **p: [r["service_request_id"] for r in service.client.get(f"{BASE}/requests.json", params=p).json()]  # noqa: E731
    assert get() == ids[::-1]
    assert get(service_code="fire") == ids[1::-1]
    assert get(status="closed") == [ids[0]]
    assert get(status="open", service_code="fire,other") == [ids[2], ids[1]]
    assert get(service_request_id=f"{ids[0]},{ids[2]}") == [ids[2], ids[0]]
    assert get(start_date="2000-01-01T00:00:00Z", end_date="2000-02-01T00:00:00Z") == []


def test_errors_are_in_open311_format(service):
    r = service.client.post(f"{BASE}/requests.json", data=form(api_key="wrong"))
    assert r.status_code == 403 and r.json()[0]["code"] == 403 and "api_key" in r.json()[0]["description"]
    r = service.client.post(f"{BASE}/requests.json", data={k: v for k, v in form().items() if k != "api_key"})
    assert r.status_code == 403
    r = service.client.post(f"{BASE}/requests.json", data=form(service_code="dogs"))
    assert r.status_code == 404 and "dogs" in r.json()[0]["description"]
    r = service.client.post(f"{BASE}/requests.xml", data=form(lat="", long=""))
    root = ET.fromstring(r.content)
    assert r.status_code == 400 and root.tag == "errors" and root.find("error").findtext("code") == "400"
    assert "lat and long" in root.find("error").findtext("description")
    # an address no address layer places is accepted with a token, into the dispatcher queue (not a case yet)
    r = service.client.post(f"{BASE}/requests.xml", data=form(lat="", long="", address_string="中山路1号"))
    assert r.status_code == 201 and ET.fromstring(r.content).find("request").findtext("token")
    r = service.client.post(f"{BASE}/requests.json", data=form(description="x" * 4001))
    assert r.status_code == 400 and "4,001" in r.json()[0]["description"]
    r = service.client.post(f"{BASE}/requests.json", data=form(media_url="javascript:alert(1)"))
    assert r.status_code == 400 and "photo URL" in r.json()[0]["description"]
    r = service.client.get(f"{BASE}/requests/999999.json")
    assert r.status_code == 404 and r.json() == [
        {"code": 404, "description": "No case 999999. Fix: check the case id."}
    ]
    r = service.client.get(f"{BASE}/requests.json", params={"status": "pending"})
    assert r.status_code == 400 and "pending" in r.json()[0]["description"]
    r = service.client.get(f"{BASE}/services.csv")
    assert r.status_code == 404 and ".xml" in r.json()[0]["description"]
    # nothing of the above was stored
    assert service.get("/v1/cases").json()["total"] == 0
