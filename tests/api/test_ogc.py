"""OGC API - Features Part 1 Core + GeoJSON under /ogc (in process; GDAL's client runs in test_server.py)."""

from __future__ import annotations

import pytest


def test_landing_and_conformance(client, published):
    landing = client.get("/ogc").json()
    rels = {link["rel"] for link in landing["links"]}
    assert {"self", "service-desc", "service-doc", "conformance", "data"} <= rels
    conf = client.get("/ogc/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conf
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in conf


def test_collections_list_plan_layers(client, published):
    cols = {c["id"]: c for c in client.get("/ogc/collections").json()["collections"]}
    assert {"towns", "communities", "grids", "buildings"} <= set(cols)
    # the toy city spans lon 112.90-112.98, lat 22.70-22.72
    assert cols["towns"]["extent"]["spatial"]["bbox"][0] == pytest.approx([112.90, 22.70, 112.98, 22.72])
    assert any(link["rel"] == "items" for link in cols["grids"]["links"])
    assert client.get("/ogc/collections/grids").json()["id"] == "grids"


def test_items_paging_follows_next_links_through_every_building(client, published):
    seen, url, pages = [], "/ogc/collections/buildings/items?limit=50", 0
    while url:
        r = client.get(url)
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
        page = r.json()
        assert page["numberMatched"] == 144 and page["numberReturned"] == len(page["features"])
        seen += [f["id"] for f in page["features"]]
        nxt = [link["href"] for link in page["links"] if link["rel"] == "next"]
        url = nxt[0] if nxt else None
        pages += 1
    assert pages == 2 and len(seen) == 144 and len(set(seen)) == 144  # 50, then the rest: next asks for the maximum


def test_items_bbox_and_item_by_id(client, published):
    # the first toy community's west half (112.90-112.91) holds 3 x 6 = 18 buildings; the bbox stops short
    # of the buildings of the east half (their west edge is at 112.91 + 1/18 * 0.02 * 1/2 ...)
    r = client.get("/ogc/collections/buildings/items", params={"bbox": "112.90,22.70,112.909,22.72", "limit": 1000})
    assert r.json()["numberMatched"] == 18
    grids = client.get("/ogc/collections/grids/items", params={"bbox": "112.9001,22.7001,112.9002,22.7002"}).json()
    assert [f["id"] for f in grids["features"]] == ["440784101001001"]
    one = client.get("/ogc/collections/grids/items/440784101001001").json()
    assert one["type"] == "Feature" and one["properties"]["households"] == 72
    assert one["geometry"]["type"] == "Polygon"


@pytest.mark.parametrize(
    ("url", "status", "code"),
    [
        ("/ogc/collections/nope/items", 404, "not_found"),
        ("/ogc/collections/grids/items/nope", 404, "not_found"),
        ("/ogc/collections/grids/items?limit=0", 422, "invalid_request"),
        ("/ogc/collections/grids/items?bbox=1,2,3", 422, "invalid_input"),
    ],
)
def test_ogc_errors(client, published, url, status, code):
    r = client.get(url)
    assert r.status_code == status and r.json()["error"]["code"] == code


def test_grids_api_geojson_bbox_and_stats(client, published):
    fc = client.get("/v1/grids").json()
    assert fc["numberMatched"] == 8
    assert sum(f["properties"]["households"] for f in fc["features"]) == 4 * 144
    west = client.get("/v1/grids", params={"bbox": "112.90,22.70,112.905,22.705"}).json()
    assert [f["id"] for f in west["features"]] == ["440784101001001"]
    town = client.get("/v1/grids", params={"town_id": "440784106"}).json()
    assert {f["properties"]["community_id"] for f in town["features"]} == {"440784106001", "440784106002"}
    assert client.get("/v1/grids/nope").status_code == 404
