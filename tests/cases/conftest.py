"""Fixtures of the case tests: a store (SQLite file or a fresh PostGIS schema) holding the toy plan,
published, with staff, and the service app over it with four keys.

Keys: ``APP`` (reader: an app that submits) and ``DISPATCHER``, given through GRIDGIS_API_KEYS; two
grid workers' keys created in the store as the service's users get them (role ``worker`` with their
grids): ``service.worker`` (grid G1 = 440784101001001) and ``service.other_worker`` (grid G2).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient

APP = "ggk_app0000000000000000"
DISPATCHER = "ggk_dsp3333333333333333"
#: two apps' keys that share their first 10 characters (the prefix that names a key): two callers all the same
HOTLINE_ONE = "hotline-app-one-5d1c0e9a"
HOTLINE_TWO = "hotline-app-two-77b3f402"
ADMIN = "ggk_adm4444444444444444"
KEYS = f"{APP}:reader,{DISPATCHER}:dispatcher,{HOTLINE_ONE}:reader,{HOTLINE_TWO}:reader,{ADMIN}:admin"
G1 = "440784101001001"  # west half of community 440784101001 (town 440784101)
G2 = "440784101001002"
COMMUNITY = "440784101001"
TOWN = "440784101"
COUNTY = "440784"
#: a point inside G1 (community 440784101001 spans lon 112.90-112.92, lat 22.70-22.72)
IN_G1 = (112.905, 22.705)
IN_G2 = (112.915, 22.705)
#: west of every grid, 0.01 deg (about 1 km) from town 440784101
OUTSIDE = (112.89, 22.71)
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def pg_schema_url(pg_url: str) -> tuple[str, str]:
    """A fresh schema in the test server and a URL whose search_path starts with it."""
    import psycopg

    schema = f"cases_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in pg_url else "?"
    return f"{pg_url}{sep}options=-csearch_path%3D{schema},public", schema


def drop_schema(pg_url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def store_url(request, tmp_path):
    """The URL of an empty store: a SQLite file, or a fresh schema of the test PostGIS server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'gridgis.db'}"
        return
    pg_url = request.getfixturevalue("pg_url")
    url, schema = pg_schema_url(pg_url)
    yield url
    drop_schema(pg_url, schema)


def load_toy(store, city: dict[str, gpd.GeoDataFrame], plan: gpd.GeoDataFrame) -> None:
    """The toy plan, published, with staff: G1 has a worker on duty, G2 only a leader on duty."""
    store.import_plan(
        "toy",
        {"towns": city["towns"], "communities": city["communities"], "grids": plan, "buildings": city["buildings"]},
    )
    store.publish_plan("toy")
    store.set_staff(G1, {"leader": {"name": "李长"}, "workers": [{"name": "王五", "on_duty": True}]})
    store.set_staff(G2, {"leader": {"name": "陈长"}, "workers": [{"name": "赵六", "on_duty": False}]})


@dataclass
class Service:
    client: TestClient
    store: object
    cases: object
    url: str
    #: a worker key of grid G1, and one of grid G2 (tokens from the store)
    worker: str
    other_worker: str

    def post_case(self, key: str | None = APP, *, headers: dict | None = None, **body):
        body = {"category": "urban_management", "description": "垃圾堆放", "lon": IN_G1[0], "lat": IN_G1[1], **body}
        return self.client.post("/v1/cases", json=body, headers={**_key(key), **(headers or {})})

    def get(self, path: str, key: str | None = DISPATCHER, **params):
        return self.client.get(path, params=params, headers=_key(key))

    def move(self, case_id: int, to: str, key: str | None = DISPATCHER, **body):
        return self.client.post(f"/v1/cases/{case_id}/transitions", json={"to": to, **body}, headers=_key(key))


def _key(key: str | None) -> dict:
    return {"X-API-Key": key} if key else {}


@pytest.fixture
def service(store_url, toy_city, toy_plan, monkeypatch):
    """The service app on the toy plan; the escalation job is off (tests run it on their own clock)."""
    from api.main import create_app
    from api.settings import Settings
    from gridgis.store import open_store

    monkeypatch.setenv("GRIDGIS_CASES_ESCALATE_SECONDS", "0")
    store = open_store(store_url)
    load_toy(store, toy_city, toy_plan)
    worker = store.create_key("worker", "王五", grids=[G1])
    other_worker = store.create_key("worker", "赵六", grids=[G2])
    store.close()
    app = create_app(Settings(database_url=store_url, api_keys=KEYS, poll_seconds=0.2))
    with TestClient(app) as client:
        state = app.state.gridgis
        yield Service(client, state.store, state.cases, store_url, worker, other_worker)


def failing_inserts(service, table: str) -> None:
    """Make every insert into ``table`` fail in the database (a full disk, a broken constraint) from now on."""
    if service.store.kind == "sqlite":
        sql = [f"CREATE TRIGGER fail_{table} BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, 'disk full'); END"]
    else:
        sql = [
            f"CREATE FUNCTION fail_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE 'disk full'; END $$",
            f"CREATE TRIGGER fail_{table} BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION fail_{table}()",
        ]
    service.store.write(lambda cur: [cur.execute(s) for s in sql])


def mended(service, table: str) -> None:
    """Undo :func:`failing_inserts`."""
    service.store.write(
        lambda cur: cur.execute(
            f"DROP TRIGGER fail_{table}" + ("" if service.store.kind == "sqlite" else f" ON {table}")
        )
    )
