"""The cases as an OGC API Features collection, for staff only: a grid worker sees its grids' cases."""

from __future__ import annotations

import geopandas as gpd
from click.testing import CliRunner
from shapely.geometry import Point

from gridgis.cli import main
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


def test_address_layers_such_as_shops_are_collections(service, tmp_path):
    path = tmp_path / "shops.geojson"
    shops = gpd.GeoDataFrame({"name": ["好又多超市", "鹤山药店"]}, geometry=[Point(IN_G1), Point(IN_G2)], crs=4326)
    shops.to_file(path)
    args = ["layer", "import", str(path), "--name", "shops", "--address-field", "name", "--db", service.url]
    assert CliRunner().invoke(main, args).exit_code == 0
    assert "shops" in {c["id"] for c in service.client.get("/ogc/collections").json()["collections"]}
    fc = service.client.get("/ogc/collections/shops/items", params={"address": "鹤山药店"}).json()
    assert fc["numberMatched"] == 1 and fc["features"][0]["geometry"]["coordinates"] == list(IN_G2)
    assert service.client.get("/ogc/collections/shops/items/1").json()["properties"]["address"] == "好又多超市"
    # and the geocoder places a report by a shop's name
    r = service.client.get("/v1/addresses/geocode", params={"address": "好又多超市"}, headers={"X-API-Key": APP})
    assert r.json()["method"] == "exact" and r.json()["lon"] == IN_G1[0]
