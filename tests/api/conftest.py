"""API fixtures: every test here runs against both stores, SQLite (a temp file) and PostGIS (a fresh schema
per test module, dropped afterwards)."""

from __future__ import annotations

import itertools
import uuid
from urllib.parse import quote

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from gridgis.store import open_store

KEYS = {"admin": "test-admin", "planner": "test-planner", "dispatcher": "test-dispatcher", "reader": "test-reader"}
_names = itertools.count(1)


def schema_url(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options={quote(f'-csearch_path={schema},public')}"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def store_url(request, tmp_path_factory):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('store')}/gridgis.db"
        return
    base = request.getfixturevalue("pg_url")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    yield schema_url(base, schema)
    with psycopg.connect(base, autocommit=True) as con:
        con.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(scope="module")
def store(store_url):
    store = open_store(store_url)
    yield store
    store.close()


@pytest.fixture(scope="module")
def settings(store_url) -> Settings:
    keys = ",".join(f"{token}:{role}" for role, token in KEYS.items())
    return Settings(database_url=store_url, api_keys=keys, poll_seconds=0.2, max_body_bytes=2_000_000)


@pytest.fixture(scope="module")
def client(store, settings):
    app = create_app(settings, store=store)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def toy_layers(toy_city, toy_plan) -> dict:
    """The layers of a plan GeoPackage: grids, towns, communities, buildings."""
    city = toy_city
    return {
        "grids": toy_plan,
        "towns": city["towns"],
        "communities": city["communities"],
        "buildings": city["buildings"],
    }


@pytest.fixture
def toy_layers_b(toy_layers) -> dict:
    """A second plan: the same grids renumbered 901, 902 (so answers tell the plans apart)."""
    grids = toy_layers["grids"].copy()
    grids["grid_id"] = grids["grid_id"].str[:-3] + "9" + grids["grid_id"].str[-2:]
    grids["grid_code"] = grids["grid_id"]
    return {**toy_layers, "grids": grids}


@pytest.fixture
def published(store, client, toy_layers):
    """The toy plan imported under a new name and published (the service has switched to it)."""
    name = f"toy-{next(_names)}"
    store.import_plan(name, toy_layers)
    info = store.publish_plan(name)
    client.app.state.gridgis.refresh()
    return info


@pytest.fixture(scope="session")
def auth() -> dict[str, dict[str, str]]:
    """Request headers per role: auth["planner"] -> {"X-API-Key": ...}."""
    return {role: {"X-API-Key": token} for role, token in KEYS.items()}
