"""The grid index of each stored plan, kept in the store beside the plan (table ``grid_indexes``).

Stored plans never change, so the :class:`~gridgis.assign.GridIndex` of a plan's grids is built
once, on first use, and kept as the bytes of a ``.gridindex.npz`` (:mod:`gridgis.assign.saved`:
its format version and the fingerprint of the grids it indexes). A snapshot load (a server
start, a plan published) then reads it instead of building it. A stale or unreadable row is
rebuilt and replaced; a store that refuses the write (a read-only replica) only costs the build.
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import TYPE_CHECKING

import geopandas as gpd

from gridgis.assign import GridIndex
from gridgis.assign.saved import index_bytes, index_from_bytes

if TYPE_CHECKING:  # the publish (gridgis.store.replan, reached from base) uses this module
    from gridgis.store.base import Store

__all__ = ["COMPONENT", "plan_index"]

COMPONENT = "grid_index"
MIGRATIONS = ("CREATE TABLE grid_indexes (plan_id {bigint} PRIMARY KEY, data {bytes} NOT NULL);\n",)


def plan_index(store: Store, plan_id: int, grids: gpd.GeoDataFrame) -> GridIndex:
    """The :class:`GridIndex` of stored plan ``plan_id`` whose grids layer is ``grids``: read from the
    store when it is there and fresh, else built and kept there.

    Raises what :class:`GridIndex` raises for bad grids.
    """
    refused = _database_errors()
    try:
        store.migrate_component(COMPONENT, [store.dialect.schema(step) for step in MIGRATIONS])
        with store.cursor(readonly=True) as cur:
            cur.execute(store.dialect.q("SELECT data FROM grid_indexes WHERE plan_id = ?"), (int(plan_id),))
            row = cur.fetchone()
    except refused:  # a read-only store without the table: build, as without a store
        row = None
    index = index_from_bytes(bytes(row[0]), grids) if row else None
    if index is not None:
        return index
    index = GridIndex(grids)
    data = index_bytes(index)

    def keep(cur) -> None:
        cur.execute(
            store.dialect.q(
                "INSERT INTO grid_indexes (plan_id, data) VALUES (?, ?) "
                "ON CONFLICT (plan_id) DO UPDATE SET data = excluded.data"
            ),
            (int(plan_id), data),
        )

    with contextlib.suppress(*refused):
        store.write(keep)
    return index


def _database_errors() -> tuple[type[Exception], ...]:
    """The errors of a store refusing the table or the write (read-only database, no privilege)."""
    try:
        import psycopg
    except ImportError:
        return (sqlite3.Error,)
    return (sqlite3.Error, psycopg.Error)
