"""OGC API - Tiles: tile matrix sets, tilesets, Mapbox Vector Tiles of the plan layers on both stores."""

from __future__ import annotations

import uuid

import mapbox_vector_tile
import psycopg
import pytest
import shapely
from shapely.geometry import shape

from gridgis.store import open_store
from gridgis.tiles import MIN_ZOOMS, MVT, SIMPLIFY, tile_index
from tests.api.conftest import schema_url

#: a point inside the toy city (雅瑶 east community) and the zoom whose tile holds the whole toy city
INSIDE = (112.905, 22.705)


def _tile_url(cid: str, lon: float, lat: float, z: int, plan: str | None = None) -> str:
    x, y = tile_index(lon, lat, z)
    return f"/ogc/collections/{cid}/tiles/WebMercatorQuad/{z}/{y}/{x}" + (f"?plan={plan}" if plan else "")


def _features(data: bytes, layer: str) -> list[dict]:
    return mapbox_vector_tile.decode(data)[layer]["features"] if data else []


def test_tiling_scheme_tilesets_and_conformance(client, published):
    assert any("ogcapi-tiles-1/1.0/conf/mvt" in c for c in client.get("/ogc/conformance").json()["conformsTo"])
    landing = client.get("/ogc").json()
    assert any(link["href"].endswith("/ogc/tileMatrixSets") for link in landing["links"])
    sets = client.get("/ogc/tileMatrixSets").json()["tileMatrixSets"]
    assert [s["id"] for s in sets] == ["WebMercatorQuad"]
    tms = client.get("/ogc/tileMatrixSets/WebMercatorQuad").json()
    assert tms["crs"].endswith("EPSG/0/3857") and len(tms["tileMatrices"]) == 25
    assert tms["tileMatrices"][3]["matrixWidth"] == 8
    # a plan layer links to its tilesets; an extra layer or the cases do not
    grids = client.get("/ogc/collections/grids").json()
    tilesets = [link for link in grids["links"] if link["rel"].endswith("tilesets-vector")]
    assert tilesets and tilesets[0]["href"].endswith("/ogc/collections/grids/tiles")
    listing = client.get("/ogc/collections/grids/tiles").json()
    assert listing["tilesets"][0]["dataType"] == "vector"
    meta = client.get("/ogc/collections/buildings/tiles/WebMercatorQuad").json()
    template = next(link for link in meta["links"] if link["rel"] == "item")
    assert template["type"] == MVT and template["href"].endswith("/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}")
    assert meta["layers"][0]["featureCount"] == 144 and meta["tileMatrixSetLimits"][0]["tileMatrix"] == "13"
    x, y = tile_index(*INSIDE, 13)
    first = meta["tileMatrixSetLimits"][0]
    assert first["minTileCol"] <= x <= first["maxTileCol"] and first["minTileRow"] <= y <= first["maxTileRow"]


def test_a_tile_holds_the_features_it_meets(client, published):
    r = client.get(_tile_url("grids", *INSIDE, 10))
    assert r.status_code == 200 and r.headers["content-type"] == MVT
    feats = _features(r.content, "grids")
    assert sorted(f["properties"]["grid_id"] for f in feats) == sorted(
        client.get("/ogc/collections/grids/items?limit=100").json()["features"][i]["properties"]["grid_id"]
        for i in range(8)
    )
    assert {"households", "community_id", "name"} <= set(feats[0]["properties"])
    # a building tile at z16 holds only the buildings meeting it, each once
    r = client.get(_tile_url("buildings", *INSIDE, 16))
    ids = [f["properties"]["building_id"] for f in _features(r.content, "buildings")]
    assert ids and len(ids) == len(set(ids)) < 144
    # clipped to the tile and its buffer of 256 units
    assert all(
        -256 <= xy[0] <= 4352 and -256 <= xy[1] <= 4352
        for f in _features(r.content, "buildings")
        for xy in f["geometry"]["coordinates"][0]
    )


def test_etag_and_cache_headers(client, published):
    url = _tile_url("communities", *INSIDE, 12)
    r = client.get(url)
    etag = r.headers["etag"]
    assert r.headers["cache-control"] == "public, no-cache"
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    named = client.get(_tile_url("communities", *INSIDE, 12, plan=published.name))
    assert named.content == r.content and "max-age=3600" in named.headers["cache-control"]


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("grids/tiles/WebMercatorQuad/abc/1/1", 400, "invalid_tile"),
        ("grids/tiles/WebMercatorQuad/25/0/0", 400, "invalid_tile"),
        ("grids/tiles/WebMercatorQuad/3/8/0", 400, "invalid_tile"),
        ("grids/tiles/WebMercatorQuad/3/0/-1", 400, "invalid_tile"),
        ("grids/tiles/WorldCRS84Quad/3/0/0", 404, "not_found"),
        ("buildings/tiles/WebMercatorQuad/5/0/0", 404, "not_found"),  # under the buildings' minimum zoom
        ("grids/tiles/WebMercatorQuad/12/0/0", 404, "not_found"),  # far from the plan
        ("nowhere/tiles/WebMercatorQuad/12/0/0", 404, "not_found"),
        ("nowhere/tiles", 404, "not_found"),
        ("grids/tiles/Nope", 404, "not_found"),
    ],
)
def test_bad_tiles_answer_one_error_shape(client, published, path, status, code):
    r = client.get(f"/ogc/collections/{path}")
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code and error["message"] and "fix" in error["details"]


def test_an_empty_tile_inside_the_limits_is_204(client, published):
    # on the corner shared by four buildings' cells of the toy lattice, in the gap between them, at zoom 18
    gap = client.get(_tile_url("buildings", 112.90 + 0.02 / 6, 22.70 + 0.02 / 6, 18))
    assert gap.status_code == 204 and gap.content == b""


def test_a_publish_invalidates_the_cached_tiles(client, store, toy_layers, toy_layers_b, published):
    url = _tile_url("grids", *INSIDE, 10)
    before = {f["properties"]["grid_id"] for f in _features(client.get(url).content, "grids")}
    name = f"tiles-b-{uuid.uuid4().hex[:6]}"
    store.import_plan(name, toy_layers_b)
    store.publish_plan(name, force=True)
    client.app.state.gridgis.refresh()
    after = {f["properties"]["grid_id"] for f in _features(client.get(url).content, "grids")}
    assert after and after.isdisjoint(before)
    assert {g[-3] for g in after} == {"9"}


# --- the same tile from both stores ---------------------------------------------------------------


@pytest.fixture(scope="module")
def both_stores(tmp_path_factory, request):
    pg = request.getfixturevalue("pg_url")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    stores = [open_store(f"sqlite:///{tmp_path_factory.mktemp('tiles')}/t.db"), open_store(schema_url(pg, schema))]
    yield stores
    for s in stores:
        s.close()
    with psycopg.connect(pg, autocommit=True) as con:
        con.execute(f"DROP SCHEMA {schema} CASCADE")


def _keyed(data: bytes, layer: str, id_field: str) -> dict:
    return {f["properties"][id_field]: f for f in _features(data, layer)}


@pytest.mark.postgis
@pytest.mark.parametrize("z", [6, 9, 12, 13, 14, 17])
def test_sqlite_and_postgis_tiles_decode_to_the_same_features(both_stores, toy_layers, z):
    for s in both_stores:
        if not any(p.name == "same" for p in s.list_plans()):
            s.import_plan("same", toy_layers)
    lite, pg = both_stores
    x, y = tile_index(112.921, 22.711, z)
    close = total = 0
    for layer, id_field in (
        ("towns", "town_id"),
        ("communities", "community_id"),
        ("grids", "grid_id"),
        ("buildings", "building_id"),
    ):
        if z < MIN_ZOOMS[layer]:  # not served (the tileset's limits)
            continue
        a = _keyed(lite.tile(lite.get_plan("same").plan_id, layer, z, x, y), layer, id_field)
        b = _keyed(pg.tile(pg.get_plan("same").plan_id, layer, z, x, y), layer, id_field)
        assert a.keys() == b.keys() and a, (layer, z)
        total += len(a)
        for key in a:
            assert a[key]["properties"] == b[key]["properties"]
            ga, gb = shape(a[key]["geometry"]), shape(b[key]["geometry"])
            assert ga.geom_type == gb.geom_type
            # within the quantisation (a unit of the 4096 grid) and the simplification on each side
            assert shapely.hausdorff_distance(ga, gb) <= 1.5 + 2 * SIMPLIFY, (layer, key, z)
            close += shapely.hausdorff_distance(ga, gb) <= 1.5
    assert close >= total * 0.9  # most outlines agree to the unit


def test_tile_cache_renders_each_tile_once_and_forgets_old_revisions():
    import threading
    import time

    from gridgis.tiles import TileCache

    cache, calls = TileCache(max_bytes=100), []

    def render():
        calls.append(1)
        time.sleep(0.05)
        return b"x" * 40

    threads = [threading.Thread(target=cache.get_or_render, args=(1, ("t",), render)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and cache.get(1, ("t",)) == b"x" * 40
    cache.put(1, ("u",), b"y" * 40)
    cache.put(1, ("v",), b"z" * 40)  # over 100 bytes: the least recently used goes
    assert cache.get(1, ("t",)) is None and cache.get(1, ("v",)) is not None
    assert cache.get(2, ("v",)) is None and len(cache) == 0  # a new revision (a publish) empties it
    cache.put(2, ("v",), b"z")
    assert cache.get(1, ("v",)) is None and cache.get(2, ("v",)) == b"z"  # a late warm-up of the old one: no wipe
    empties = TileCache(max_tiles=3)
    empties.get(1, ("any",))  # lookups come first (get_or_render): they set the revision
    for i in range(10):  # empty tiles (204) weigh nothing; the count still bounds them
        empties.put(1, (i,), b"")
    assert len(empties) == 3 and empties.get(1, (9,)) == b""


def test_sqlite_bbox_query_from_either_index(tmp_path, toy_layers, monkeypatch):
    from gridgis.store import sqlite

    store = open_store(f"sqlite:///{tmp_path}/b.db")
    pid = store.import_plan("p", toy_layers).plan_id
    box = (112.905, 22.705, 112.925, 22.712)
    first = store.features(pid, "buildings", bbox=box, limit=None)
    monkeypatch.setattr(sqlite, "RTREE_FIRST", 0)  # as when the box meets more boxes than RTREE_FIRST
    second = store.features(pid, "buildings", bbox=box, limit=None)
    assert first.ids == second.ids and 0 < len(first.ids) < 144
    store.close()
