"""The embedded SQLite store (the default): one file, WAL mode, geometries as WKB with an R*Tree index.

No SpatiaLite is needed: bounding boxes go into SQLite's built-in R*Tree module
and exact tests run in shapely after the box filter.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import numpy as np
import shapely

from gridgis.errors import StoreError
from gridgis.store.base import FeaturePage, Store, _json, _now

sqlite3.register_adapter(datetime, lambda d: d.isoformat())

#: core schema, one step per version (never edit a released step: append a new one)
MIGRATIONS = [
    """
    CREATE TABLE plans (plan_id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, status TEXT NOT NULL,
        created_at TEXT NOT NULL, valid_from TEXT, valid_to TEXT, source TEXT);
    CREATE UNIQUE INDEX plans_one_published ON plans (status) WHERE status = 'published';
    CREATE TABLE features (id INTEGER PRIMARY KEY, plan_id INTEGER NOT NULL, layer TEXT NOT NULL,
        fid TEXT NOT NULL, props TEXT NOT NULL, geom BLOB NOT NULL,
        minx REAL NOT NULL, miny REAL NOT NULL, maxx REAL NOT NULL, maxy REAL NOT NULL,
        UNIQUE (plan_id, layer, fid));
    CREATE VIRTUAL TABLE features_rtree USING rtree (id, minx, maxx, miny, maxy);
    CREATE TRIGGER features_ins AFTER INSERT ON features BEGIN
        INSERT INTO features_rtree VALUES (new.id, new.minx, new.maxx, new.miny, new.maxy); END;
    CREATE TRIGGER features_del AFTER DELETE ON features BEGIN
        DELETE FROM features_rtree WHERE id = old.id; END;
    CREATE TABLE layers (name TEXT PRIMARY KEY, title TEXT NOT NULL, name_field TEXT,
        n_features INTEGER NOT NULL, created_at TEXT NOT NULL);
    CREATE TABLE staff (grid_id TEXT PRIMARY KEY, doc TEXT NOT NULL, updated_at TEXT NOT NULL);
    CREATE TABLE api_keys (key_hash TEXT PRIMARY KEY, prefix TEXT NOT NULL, name TEXT NOT NULL,
        role TEXT NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT);
    CREATE TABLE revision (id INTEGER PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO revision VALUES (1, 0)
    """,
    # 2: worker keys carry the grid ids they cover (a JSON list; [] for other roles)
    "ALTER TABLE api_keys ADD COLUMN grids TEXT NOT NULL DEFAULT '[]'",
]


class SQLiteStore(Store):
    """Store in one SQLite file (WAL mode: readers never wait for the writer)."""

    kind = "sqlite"
    paramstyle = "qmark"

    def __init__(self, path: str | Path, url: str | None = None):
        self.path = Path(path)
        self.url = url or f"sqlite:///{self.path}"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"Cannot create the folder of {self.path}: {exc}.", fix="choose a writable path.") from exc
        self._local = threading.local()
        with self._lock_free_connection() as con:
            con.execute("PRAGMA journal_mode=WAL")
        self.migrate_component("core", MIGRATIONS)

    @contextmanager
    def _lock_free_connection(self):
        try:
            con = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        except sqlite3.Error as exc:
            raise StoreError(f"Cannot open SQLite store {self.path}: {exc}.", fix="check the path and rights.") from exc
        try:
            yield con
        finally:
            con.close()

    def _connection(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
            con.execute("PRAGMA synchronous=NORMAL")
            con.execute("PRAGMA foreign_keys=ON")
            self._local.con = con
        return con

    @contextmanager
    def connect(self, *, readonly: bool = False):
        con = self._connection()
        try:
            con.execute("BEGIN" if readonly else "BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite store {self.path} is not usable: {exc}.", fix="check the file.") from exc
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        else:
            con.execute("COMMIT")

    def _insert_plan(self, cur, name, source) -> int:
        cur.execute(
            "INSERT INTO plans (name, status, created_at, source) VALUES (?, 'draft', ?, ?)", (name, _now(), source)
        )
        return int(cur.lastrowid)

    def _insert_features(self, cur, plan_id, layer, ids, props, geoms) -> None:
        wkb = shapely.to_wkb(geoms)
        bounds = shapely.bounds(geoms)
        cur.executemany(
            "INSERT INTO features (plan_id, layer, fid, props, geom, minx, miny, maxx, maxy) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ((plan_id, layer, fid, p, g, *map(float, b)) for fid, p, g, b in zip(ids, props, wkb, bounds, strict=True)),
        )

    def features(self, plan_id, layer, *, bbox=None, limit=100, offset=0, fid=None) -> FeaturePage:
        where, params = "f.plan_id = ? AND f.layer = ?", [plan_id, layer]
        if fid is not None:
            where += " AND f.fid = ?"
            params.append(fid)
        with self.connect(readonly=True) as con:
            if bbox is None:
                (total,) = con.execute(f"SELECT COUNT(*) FROM features f WHERE {where}", params).fetchone()
                page = " LIMIT ? OFFSET ?" if limit is not None else ""
                rows = con.execute(
                    f"SELECT f.fid, f.props, f.geom FROM features f WHERE {where} ORDER BY f.id{page}",
                    params + ([limit, offset] if limit is not None else []),
                ).fetchall()
                return FeaturePage.from_rows(rows, total)
            x0, y0, x1, y1 = bbox
            rows = con.execute(
                f"SELECT f.fid, f.props, f.geom FROM features f JOIN features_rtree r ON r.id = f.id "
                f"WHERE {where} AND r.minx <= ? AND r.maxx >= ? AND r.miny <= ? AND r.maxy >= ? ORDER BY f.id",
                params + [x1, x0, y1, y0],
            ).fetchall()
        geoms = shapely.from_wkb([r[2] for r in rows]) if rows else np.empty(0, dtype=object)
        keep = np.flatnonzero(shapely.intersects(geoms, shapely.box(x0, y0, x1, y1))) if rows else []
        end = None if limit is None else offset + limit
        chosen = keep[offset:end]
        return FeaturePage([rows[i][0] for i in chosen], [_json(rows[i][1]) for i in chosen], geoms[chosen], len(keep))

    def close(self) -> None:
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None
