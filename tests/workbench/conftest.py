"""Fixtures of the workbench tests: the toy plan as a plan GeoPackage's layers, and a partitioned one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from gridgis.planedit import Plan

#: the toy city's first community and its two grids (west, east halves); building b of a community
#: stands in column b // 6 (west to east) and row b % 6 (south to north), columns 0-2 in the west grid
COMMUNITY = "440784101001"
WEST, EAST = f"{COMMUNITY}001", f"{COMMUNITY}002"


def toy_layers(city, grids) -> dict:
    b = city["buildings"].copy()
    b["grid_id"] = [f"{c}{1 + (i % 36) // 18:03d}" for i, c in zip(b["building_id"], b["community_id"], strict=True)]
    return {"grids": grids, "buildings": b, "communities": city["communities"], "towns": city["towns"],
            "shops": city["shops"]}  # fmt: skip


@pytest.fixture
def plan(toy_city, toy_plan) -> Plan:
    """The toy plan (8 grids of 18 buildings, 72 households) with its buildings' grid_id."""
    return Plan(toy_layers(toy_city, toy_plan))


@pytest.fixture(scope="session")
def partitioned() -> Plan:
    """A real partition of the toy city into 12 grids (3 per community, 48 households each)."""
    from gridgis.partition import partition
    from tests.conftest import _toy_city

    city = _toy_city()
    result = partition(city, n_grids=12)
    return Plan({"grids": result.grids, "buildings": result.buildings, "communities": city["communities"],
                 "towns": city["towns"]})  # fmt: skip


# the API fixtures (both stores: SQLite and PostGIS) of tests/api
from tests.api.conftest import auth, client, settings, store, store_url  # noqa: E402, F401


@contextmanager
def workbench_store(tmp_path_factory, draft: Plan, api_keys: str, **options) -> Iterator[tuple]:
    """A SQLite store holding the toy plan published as ``now`` and ``draft`` as plan ``draft``, with the
    service settings of the page tests: ``(store, settings)``, closed afterwards."""
    from api.settings import Settings
    from gridgis.store import open_store
    from tests.conftest import _toy_city, _toy_plan

    db = open_store(f"sqlite:///{tmp_path_factory.mktemp('workbench')}/gridgis.db")
    city = _toy_city()
    db.import_plan("now", {"grids": _toy_plan(city), "communities": city["communities"]})
    db.publish_plan("now")
    db.import_plan("draft", dict(draft.layers))
    try:
        yield db, Settings(database_url=db.url, api_keys=api_keys, poll_seconds=0.2,
                           upload_dir=str(tmp_path_factory.mktemp("uploads")), **options)  # fmt: skip
    finally:
        db.close()
