"""The store interface on both backends: schema versions, plans, features, keys, snapshots."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point

from gridgis.errors import InputError, NotFoundError
from gridgis.store import open_store
from gridgis.store.snapshot import load_snapshot


def test_schema_is_versioned_and_components_migrate_their_own_tables(store, store_url):
    assert store.schema_version("core") == 2  # step 2 gave keys their grids (worker keys)
    again = open_store(store_url)  # reopening migrates nothing twice
    assert again.schema_version("core") == 2
    steps = ["CREATE TABLE bench_notes (id INTEGER PRIMARY KEY, body TEXT)", "ALTER TABLE bench_notes ADD note2 TEXT"]
    assert store.migrate_component("notes", steps[:1]) == 1
    assert store.migrate_component("notes", steps) == 2
    assert store.migrate_component("notes", steps) == 2
    with store.connect() as con:
        con.cursor().execute(store._q("INSERT INTO bench_notes (id, body, note2) VALUES (?, ?, ?)"), (1, "a", "b"))
    with store.connect(readonly=True) as con:
        cur = con.cursor()
        cur.execute("SELECT body, note2 FROM bench_notes")
        assert cur.fetchall() == [("a", "b")]
    if store.kind == "sqlite":
        with store.connect(readonly=True) as con:
            assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again.close()


def test_one_published_plan_and_validity(store, toy_layers, toy_layers_b):
    store.import_plan("s-a", toy_layers)
    store.import_plan("s-b", toy_layers_b)
    with pytest.raises(InputError, match="exists already"):
        store.import_plan("s-a", toy_layers)
    a = store.publish_plan("s-a")
    b = store.publish_plan("s-b")
    plans = {p.name: p for p in store.list_plans()}
    assert [p.name for p in plans.values() if p.status == "published"] == ["s-b"]
    assert plans["s-a"].valid_from == a.valid_from and plans["s-a"].valid_to == b.valid_from
    assert store.publish_plan("s-b").valid_from == b.valid_from  # publishing again changes nothing
    with pytest.raises(NotFoundError, match="s-a"):
        store.publish_plan("nope")


def test_features_bbox_paging_and_ids(store, toy_layers):
    info = store.import_plan("s-f", toy_layers)
    page = store.features(info.plan_id, "buildings", limit=10, offset=140)
    assert page.number_matched == 144 and page.ids == ["140", "141", "142", "143"]
    # bbox touching only the south-west building's corner region (buildings are 1/3 of a 1/6 community cell)
    page = store.features(info.plan_id, "buildings", bbox=(112.9011, 22.7011, 112.9012, 22.7012))
    assert page.ids == ["0"] and page.properties[0]["households"] == 4
    page = store.features(info.plan_id, "grids", fid="440784106002002")
    assert page.ids == ["440784106002002"] and page.geometries[0].bounds == pytest.approx(
        (112.97, 22.70, 112.98, 22.72)
    )


def test_keys_are_stored_hashed(store):
    token = store.create_key("dispatcher", "patrol-app")
    assert store.key_role(token) == "dispatcher" and store.key_role(token + "x") is None
    with store.connect(readonly=True) as con:
        cur = con.cursor()
        cur.execute("SELECT key_hash, prefix FROM api_keys")
        rows = cur.fetchall()
    assert all(token != h and token[10:] not in h for h, _ in rows)
    with pytest.raises(InputError, match="Unknown role"):
        store.create_key("root")


def test_snapshot_reuses_the_index_when_only_staff_changes(store, toy_layers):
    store.import_plan("s-snap", toy_layers)
    store.publish_plan("s-snap")
    first = load_snapshot(store)
    store.set_staff("440784101001001", {"leader": {"name": "赵"}, "workers": []})
    second = load_snapshot(store, previous=first)
    assert second.locator is first.locator and second.revision > first.revision
    assert second.answers[0]["staff"]["leader"] == {"name": "赵"}


def test_snapshot_answer_dict_and_bytes_agree(store, toy_layers):
    import json

    import geopandas as gpd
    from shapely.geometry import box

    store.import_plan("s-json", toy_layers)
    store.publish_plan("s-json")
    # an area whose edge (lon 112.905) splits grid 0 (lon 112.90-112.91)
    halves = gpd.GeoDataFrame({"name": ["西"]}, geometry=[box(112.8, 22.6, 112.905, 22.8)], crs=4326)
    store.import_layer("halves", halves, name_field="name")
    snap = load_snapshot(store)
    for lon, expected in [(112.902, [{"layer": "halves", "id": 1, "name": "西"}]), (112.908, []), (112.905, None)]:
        body = json.loads(snap.answer_json(0, lon, 22.71, b'{"lon":0}'))
        assert body["layers"] == snap.answer(0, lon, 22.71)["layers"]
        if expected is not None:
            assert body["layers"] == expected
        else:  # on the edge: inside, as for grids
            assert len(body["layers"]) == 1
    store.delete_layer("halves")


def test_import_checks_the_layers_against_the_data_model(store, toy_layers):
    grids = toy_layers["grids"].copy()
    grids.loc[3, "grid_id"] = grids.loc[2, "grid_id"]
    with pytest.raises(InputError, match="duplicate 'grid_id'"):
        store.import_plan("s-dup", {**toy_layers, "grids": grids})
    assert "s-dup" not in [p.name for p in store.list_plans()]


def test_bad_store_urls():
    from gridgis.errors import StoreError

    with pytest.raises(StoreError, match="Cannot connect to PostGIS"):
        open_store("postgresql://nobody@127.0.0.1:1/x")
    with pytest.raises(InputError, match="Unknown store URL"):
        open_store("mysql://x")


def test_each_plan_keeps_its_grid_index_in_the_store(store, toy_layers, rng):
    import numpy as np

    from gridgis.assign import GridIndex
    from gridgis.store.gridindex import plan_index

    info = store.import_plan("s-index", toy_layers)
    grids = store.load_layer(info.plan_id, "grids")
    built = plan_index(store, info.plan_id, grids)  # first use: built, kept
    with store.cursor(readonly=True) as cur:
        cur.execute(store.dialect.q("SELECT data FROM grid_indexes WHERE plan_id = ?"), (info.plan_id,))
        kept = bytes(cur.fetchone()[0])
    again = plan_index(store, info.plan_id, grids)
    assert again is not built and np.array_equal(again._table, built._table)
    x, y = rng.uniform(112.89, 112.99, 2000), rng.uniform(22.69, 22.73, 2000)
    assert np.array_equal(again.locate(x, y), GridIndex(grids).locate(x, y))
    # a row that is not this plan's index (damaged, or another plan's) is rebuilt and replaced
    other = grids.iloc[::-1]
    assert np.array_equal(plan_index(store, info.plan_id, other).locate(x, y), GridIndex(other).locate(x, y))
    with store.cursor(readonly=True) as cur:
        cur.execute(store.dialect.q("SELECT data FROM grid_indexes WHERE plan_id = ?"), (info.plan_id,))
        assert bytes(cur.fetchone()[0]) != kept


def test_layer_properties_become_json_values_column_by_column():
    from gridgis.store.base import frame_records

    frame = gpd.GeoDataFrame(
        {
            "grid_id": ["g1", "g2"],
            "households": np.array([300, 412], dtype=np.int64),
            "share": [0.5, np.nan],
            "seats": pd.array([3, None], dtype="Int64"),
            "open": [True, False],
            "name": ["雅瑶", None],
            "since": pd.to_datetime(["2026-01-01 08:00", None]).tz_localize("Asia/Shanghai"),
            "mixed": [np.float32(2.5), "x"],
        },
        geometry=[Point(0, 0), Point(1, 1)],
        crs=4326,
    )
    ids, props, geoms = frame_records(frame, "grid_id")
    assert ids == ["g1", "g2"] and len(geoms) == 2
    assert json.loads(props[0]) == {
        "grid_id": "g1", "households": 300, "share": 0.5, "seats": 3, "open": True, "name": "雅瑶",
        "since": "2026-01-01T08:00:00+08:00", "mixed": 2.5,
    }  # fmt: skip
    assert json.loads(props[1]) == {
        "grid_id": "g2", "households": 412, "share": None, "seats": None, "open": False, "name": None,
        "since": None, "mixed": "x",
    }  # fmt: skip
    assert "雅瑶" in props[0]  # kept as text, not \\u escapes
    assert frame_records(frame[["geometry"]], None)[:2] == (["1", "2"], ["{}", "{}"])
