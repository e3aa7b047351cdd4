"""OGC API Features beyond the core: the maximum limit served and stated, CRS Part 2 (CGCS2000), queryables and
property filters, HTML pages, and GDAL reading every collection at its default settings in few requests."""

from __future__ import annotations

import os
import shutil
import subprocess

import geopandas as gpd
import pytest
from shapely.geometry import box

from api.main import create_app
from tests.live import serving

CGCS2000 = "http://www.opengis.net/def/crs/EPSG/0/4490"


def test_a_limit_above_the_maximum_is_served_as_the_maximum(client, published):
    r = client.get("/ogc/collections/buildings/items?limit=10001")
    assert r.status_code == 200 and r.json()["numberReturned"] == 144
    page = client.get("/ogc/collections/buildings/items?limit=10").json()
    [nxt] = [link["href"] for link in page["links"] if link["rel"] == "next"]
    assert "limit=10000" in nxt and "offset=10" in nxt
    assert client.get(nxt).json()["numberReturned"] == 134
    spec = client.get("/openapi.json").json()
    [limit] = [p for p in spec["paths"]["/ogc/collections/{cid}/items"]["get"]["parameters"] if p["name"] == "limit"]
    assert limit["schema"]["maximum"] == 10_000 and limit["schema"]["default"] == 100


def test_cgcs2000_output_in_epsg_axis_order(client, published):
    plain = client.get("/ogc/collections/grids/items/440784101001001").json()
    r = client.get("/ogc/collections/grids/items/440784101001001", params={"crs": CGCS2000})
    assert r.status_code == 200 and r.headers["content-crs"] == f"<{CGCS2000}>"
    ring, swapped = plain["geometry"]["coordinates"][0], r.json()["geometry"]["coordinates"][0]
    assert swapped == [[y, x] for x, y in ring]
    fc = client.get("/ogc/collections/grids/items", params={"crs": CGCS2000, "limit": 1})
    assert (
        fc.headers["content-crs"] == f"<{CGCS2000}>"
        and fc.json()["features"][0]["geometry"]["coordinates"][0][0][0] < 90
    )
    # bbox in CGCS2000 is lat,lon
    west = client.get(
        "/ogc/collections/buildings/items", params={"bbox": "22.70,112.90,22.72,112.909", "bbox-crs": CGCS2000}
    )
    assert west.json()["numberMatched"] == 18
    assert CGCS2000 in client.get("/ogc/collections/grids").json()["crs"]
    r = client.get("/ogc/collections/grids/items", params={"crs": "EPSG:3857"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "unsupported_crs"


def test_queryables_and_property_filters(client, published):
    q = client.get("/ogc/collections/buildings/queryables")
    assert q.status_code == 200 and q.headers["content-type"].startswith("application/schema+json")
    props = q.json()["properties"]
    assert props["community_id"]["type"] == "string" and props["households"]["type"] == "integer"
    r = client.get("/ogc/collections/buildings/items", params={"community_id": "440784101001", "limit": 5})
    page = r.json()
    assert page["numberMatched"] == 36 and page["numberReturned"] == 5
    assert {f["properties"]["community_id"] for f in page["features"]} == {"440784101001"}
    both = client.get("/ogc/collections/grids/items", params={"community_id": "440784106002", "households": "72"})
    assert both.json()["numberMatched"] == 2
    r = client.get("/ogc/collections/buildings/items", params={"colour": "red"})
    err = r.json()["error"]
    assert r.status_code == 422 and err["code"] == "unknown_parameter" and "households" in err["details"]["allowed"]


def test_html_pages(client, published):
    for url in ("/ogc", "/ogc/collections", "/ogc/collections/grids", "/ogc/collections/grids/items"):
        r = client.get(url, params={"f": "html"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), url
        assert "<h1>" in r.text
    assert "440784101001001" in client.get("/ogc/collections/grids/items/440784101001001?f=html").text
    assert any(link["type"] == "text/html" for link in client.get("/ogc").json()["links"])


@pytest.fixture
def ogr2ogr() -> str:
    path = shutil.which("ogr2ogr")
    if not path:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("ogr2ogr is not installed in CI: scripts/system-deps installs gdal-bin.")
        pytest.skip("no ogr2ogr (Debian's gdal-bin)")
    return path


def test_gdal_copies_every_collection_at_default_settings(store, settings, published, ogr2ogr, tmp_path):
    beats = gpd.GeoDataFrame({"name": ["一中队"]}, geometry=[box(112.9, 22.7, 112.94, 22.72)], crs=4326)
    store.import_layer("police_beats", beats, name_field="name")
    out = tmp_path / "copy.gpkg"
    with serving(create_app(settings, store=store)) as base:
        run = subprocess.run(
            [ogr2ogr, "-f", "GPKG", str(out), f"OAPIF:{base}/ogc"],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "CPL_DEBUG": "ON"},
        )
    store.delete_layer("police_beats")
    assert run.returncode == 0, run.stderr[-2000:]
    copied = {name: len(gpd.read_file(out, layer=name)) for name in ("towns", "communities", "grids", "buildings")}
    assert copied == {"towns": 2, "communities": 4, "grids": 8, "buildings": 144}
    assert len(gpd.read_file(out, layer="police_beats")) == 1
    fetches = [line for line in run.stderr.splitlines() if "Fetch(" in line and "/buildings/items" in line]
    assert len(fetches) <= 3, fetches  # 10 first (GDAL's default), then the rest in one page of the maximum
