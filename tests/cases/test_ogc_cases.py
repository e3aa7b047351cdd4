"""The cases as an OGC API Features collection, for staff only: a grid worker sees its grids' cases."""

from __future__ import annotations

from tests.cases.conftest import APP, DISPATCHER, G1, IN_G1, IN_G2


def test_cases_collection_for_staff_only(service):
    service.post_case(lon=IN_G1[0], lat=IN_G1[1])
    service.post_case(lon=IN_G2[0], lat=IN_G2[1], category="fire")
    anonymous = {c["id"] for c in service.client.get("/ogc/collections").json()["collections"]}
    assert "cases" not in anonymous and "grids" in anonymous
    assert service.client.get("/ogc/collections/cases/items").status_code == 401
    assert service.client.get("/ogc/collections/cases/items", headers={"X-API-Key": APP}).status_code == 403
    staff = {"X-API-Key": DISPATCHER}
    assert "cases" in {c["id"] for c in service.client.get("/ogc/collections", headers=staff).json()["collections"]}
    fc = service.client.get("/ogc/collections/cases/items", headers=staff).json()
    assert fc["numberMatched"] == 2 and fc["features"][0]["geometry"]["type"] == "Point"
    assert "contact" not in fc["features"][0]["properties"]
    fire = service.client.get("/ogc/collections/cases/items", params={"category": "fire"}, headers=staff).json()
    assert fire["numberMatched"] == 1 and fire["features"][0]["geometry"]["coordinates"] == list(IN_G2)
    # a grid worker: only its grid's case
    mine = service.client.get("/ogc/collections/cases/items", headers={"X-API-Key": service.worker}).json()
    assert [f["properties"]["grid_id"] for f in mine["features"]] == [G1]
    one = service.client.get(f"/ogc/collections/cases/items/{mine['features'][0]['id']}", headers=staff)
    assert one.status_code == 200 and one.json()["properties"]["grid_id"] == G1
