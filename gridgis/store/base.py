"""The store interface: one small abstract class, two implementations (SQLite, PostGIS).

A store keeps versioned plans (layers towns, communities, grids, buildings per
plan), the staff of each grid, extra layers (police beats, school districts...)
and hashed API keys. Plans are versioned like MapIt generations: at most one is
published; publishing closes the validity period of the previous one.

Other components (cases, maps) keep their own tables in the same database:
they call :meth:`Store.migrate_component` with their own ordered list of SQL
steps (each migrates only its own tables), and query through :meth:`Store.cursor`
(reads) and :meth:`Store.write` (durable writes), writing their SQL once with
``?`` placeholders and type names the store's :attr:`Store.dialect` fills in.
Times are stored in UTC (:mod:`gridgis.times`).
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridgis.access import PREFIX_LENGTH, ROLES, key_id
from gridgis.errors import GridgisWarning, InputError, NotFoundError
from gridgis.model import validate_layer
from gridgis.store.dialect import Dialect, from_stored
from gridgis.times import shown, utc_now

T = TypeVar("T")

#: layers a plan holds, in import order; ``grids`` is required
PLAN_LAYERS = ("towns", "communities", "grids", "buildings", "blocks")
#: id column of each plan layer
ID_COLUMNS = {
    "towns": "town_id",
    "communities": "community_id",
    "grids": "grid_id",
    "buildings": "building_id",
    "blocks": "block_id",
}
#: plan_id under which extra layers' features are stored (they are not plan-versioned)
EXTRA_PLAN_ID = 0


#: the core tables but ``features`` (whose spatial index differs), for both databases: step 1 of the core
#: schema, with the dialect's type names (never edit a released step: append one to :func:`core_migrations`)
CORE_TABLES = """
    CREATE TABLE plans (plan_id {serial} PRIMARY KEY, name TEXT NOT NULL UNIQUE, status TEXT NOT NULL,
        created_at {ts} NOT NULL, valid_from {ts}, valid_to {ts}, source TEXT);
    CREATE UNIQUE INDEX plans_one_published ON plans (status) WHERE status = 'published';
    CREATE TABLE layers (name TEXT PRIMARY KEY, title TEXT NOT NULL, name_field TEXT,
        n_features INTEGER NOT NULL, created_at {ts} NOT NULL);
    CREATE TABLE staff (grid_id TEXT PRIMARY KEY, doc TEXT NOT NULL, updated_at {ts} NOT NULL);
    CREATE TABLE api_keys (key_hash TEXT PRIMARY KEY, prefix TEXT NOT NULL, name TEXT NOT NULL,
        role TEXT NOT NULL, created_at {ts} NOT NULL, revoked_at {ts});
    CREATE TABLE revision (id INTEGER PRIMARY KEY, value {bigint} NOT NULL);
    INSERT INTO revision VALUES (1, 0)
"""


def core_migrations(dialect: Dialect, features_sql: str) -> list[str]:
    """The core schema's steps for ``dialect``; ``features_sql`` creates that database's ``features`` table
    and its spatial index (statements ending with ';' at the end of a line)."""
    return [
        features_sql.strip() + "\n" + dialect.schema(CORE_TABLES),
        # 2: worker keys carry the grid ids they cover (a JSON list; [] for other roles)
        "ALTER TABLE api_keys ADD COLUMN grids TEXT NOT NULL DEFAULT '[]'",
    ]


@dataclass(frozen=True)
class PlanInfo:
    """One plan (a MapIt-style generation)."""

    plan_id: int
    name: str
    status: str  # draft | published | retired
    created_at: datetime
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    counts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The plan as JSON-ready values; times ISO 8601 in Asia/Shanghai."""
        iso = lambda d: shown(d).isoformat() if d else None  # noqa: E731
        return {
            "plan_id": self.plan_id,
            "name": self.name,
            "status": self.status,
            "created_at": iso(self.created_at),
            "valid_from": iso(self.valid_from),
            "valid_to": iso(self.valid_to),
            "counts": dict(self.counts),
        }


@dataclass(frozen=True)
class LayerInfo:
    """One extra layer reported by locate (MapIt-style area type)."""

    name: str
    title: str
    name_field: str | None
    n_features: int
    created_at: datetime


@dataclass(frozen=True)
class FeaturePage:
    """Features of one collection: ids, properties, geometries and how many match in all."""

    ids: list[str]
    properties: list[dict[str, Any]]
    geometries: np.ndarray  # shapely geometries
    number_matched: int

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence], total: int) -> FeaturePage:
        """A page from database rows ``(fid, props JSON, WKB)``."""
        geoms = shapely.from_wkb([bytes(r[2]) for r in rows]) if rows else np.empty(0, dtype=object)
        return cls([r[0] for r in rows], [_json(r[1]) for r in rows], geoms, int(total))


#: the stored form of an API key, which is also its id (keys are random 32-byte tokens: a plain SHA-256 suffices)
hash_key = key_id


def new_key_token() -> str:
    """A new random API key (``ggk_`` + 32 random bytes, URL-safe); only its hash is stored."""
    return "ggk_" + secrets.token_urlsafe(32)


def check_role(role: str) -> str:
    """Return ``role`` if it is one of :data:`ROLES`, else :class:`InputError` listing them."""
    if role not in ROLES:
        raise InputError(f"Unknown role {role!r}.", fix=f"use one of {list(ROLES)}.", details={"allowed": list(ROLES)})
    return role


def check_key_grids(role: str, grids: Sequence[str]) -> tuple[str, ...]:
    """The sorted distinct grid ids of a key: a ``worker`` key needs at least one, other roles none."""
    check_role(role)
    ids = tuple(sorted({str(g).strip() for g in grids}))
    if "" in ids:
        raise InputError("An empty grid id was given for a key.", fix="give grid ids such as 440784101001001.")
    if role == "worker" and not ids:
        raise InputError(
            "A worker key needs the grid ids it covers.",
            fix='give them: gridgis key create --role worker --grid GRID_ID [--grid ...] ("grids" in POST /v1/keys).',
        )
    if role != "worker" and ids:
        raise InputError(
            f"Only worker keys carry grids; a {role!r} key was given grids {list(ids[:10])}.",
            fix='drop the grids, or make it a worker key (--role worker; "role": "worker" in POST /v1/keys).',
        )
    return ids


def check_name(name: str, what: str) -> str:
    """Plan and layer names: 1-64 ASCII letters, digits, '-', '_' or '.', starting with a letter or digit
    (so never ``.`` or ``..``)."""
    ok = 0 < len(name) <= 64 and name.isascii() and name[0].isalnum() and all(c.isalnum() or c in "-_." for c in name)
    if not ok:
        raise InputError(
            f"Bad {what} name {name!r}.",
            fix="use 1-64 ASCII letters, digits, '-', '_' or '.', starting with a letter or digit (e.g. 2026-heshan).",
        )
    return name


def frame_records(gdf: gpd.GeoDataFrame, id_column: str | None) -> tuple[list[str], list[str], np.ndarray]:
    """(ids as strings, properties as JSON strings, geometries) of a layer, ready to insert.

    Missing values (NaN, NaT, None, pd.NA) become ``null``, numpy scalars Python numbers, times ISO 8601.
    Converted a column at a time (a prefecture's 455,000 buildings: 1 s instead of 4 s row by row).
    """
    props = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    ids = [str(i) for i in range(1, len(gdf) + 1)] if id_column is None else props[id_column].astype(str).tolist()
    names = [str(c) for c in props.columns]
    encode = json.JSONEncoder(ensure_ascii=False).encode
    if names:
        columns = [_plain_column(props.iloc[:, i]) for i in range(len(names))]
        rows = [encode(dict(zip(names, values, strict=True))) for values in zip(*columns, strict=True)]
    else:
        rows = ["{}"] * len(props)
    return ids, rows, np.asarray(gdf.geometry.values)


def _plain_column(column: pd.Series) -> list[Any]:
    """The values of ``column`` as JSON-ready Python values (see :func:`frame_records`)."""
    missing = column.isna().to_numpy()
    if column.dtype.kind in "biuf" or pd.api.types.infer_dtype(column, skipna=True) == "string":
        values = column.tolist()  # numpy numbers and booleans become Python's; strings stay
    else:
        values = [_plain(v) for v in column.astype(object).tolist()]
    if missing.any():
        values = [None if m else v for v, m in zip(values, missing.tolist(), strict=True)]
    return values


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp | datetime):
        return value.isoformat()
    return value


def _check_geometries(gdf: gpd.GeoDataFrame, what: str) -> None:
    geoms = np.asarray(gdf.geometry.values)
    bad = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if bad.any():
        rows = list(gdf.index[bad][:10])
        raise InputError(f"{what} has null or empty geometries at row(s) {rows}.", fix="drop or fix those rows.")


class Store(ABC):
    """What the service needs from a database. Open one with :func:`gridgis.store.open_store`."""

    #: placeholders, column types, stored times and booleans of this database
    dialect: Dialect
    url: str

    @property
    def kind(self) -> str:
        """ "sqlite" or "postgis"."""
        return self.dialect.kind

    @property
    def paramstyle(self) -> str:
        """DB-API placeholder style of :meth:`connect`: "qmark" (SQLite) or "format" (psycopg)."""
        return self.dialect.paramstyle

    # --- schema -------------------------------------------------------------------------
    @abstractmethod
    def connect(self, *, readonly: bool = False) -> AbstractContextManager[Any]:
        """A DB-API connection in a transaction: commits on success, rolls back on error.

        ``readonly=True`` for pure reads (on SQLite, they then never wait for a writer).
        """

    @contextmanager
    def cursor(self, *, readonly: bool = False) -> Iterator[Any]:
        """A DB-API cursor in a transaction of :meth:`connect` (committed on success, rolled back on error)."""
        with self.connect(readonly=readonly) as con:
            yield con.cursor()

    def write(self, work: Callable[[Any], T]) -> T:
        """Run ``work(cursor)`` in a write transaction; return its result once durably committed.

        An exception raised by ``work`` rolls its writes back and propagates.
        """
        with self.cursor() as cur:
            return work(cur)

    async def awrite(self, work: Callable[[Any], T]) -> T:
        """:meth:`write` for an event loop: the write runs off the loop; the result comes after the commit."""
        return await asyncio.to_thread(self.write, work)

    def migrate_component(self, component: str, steps: Sequence[str | Callable[[Store, Any], None]]) -> int:
        """Apply the ``steps`` of ``component`` not applied yet, in one transaction; return its schema version.

        Version n means steps[:n] were applied. A step is SQL (several statements, each ending with ';' at the
        end of a line, so ';' inside a line, as in a trigger body, does not split) or a function
        ``step(store, cursor)`` for a data move that needs another component's methods. A component creates
        and changes only its own tables.
        """
        with self.connect() as con:
            cur = con.cursor()
            self._lock_schema(cur)
            cur.execute("CREATE TABLE IF NOT EXISTS schema_version (component TEXT PRIMARY KEY, version INTEGER)")
            cur.execute(self._q("SELECT version FROM schema_version WHERE component = ?"), (component,))
            row = cur.fetchone()
            version = row[0] if row else 0
            for step in steps[version:]:
                if callable(step):
                    step(self, cur)
                    continue
                for statement in (s.strip() for s in re.split(r";[ \t]*\n", step)):
                    if statement:
                        cur.execute(statement)
            if len(steps) > version:
                if row:
                    cur.execute(
                        self._q("UPDATE schema_version SET version = ? WHERE component = ?"), (len(steps), component)
                    )
                else:
                    cur.execute(
                        self._q("INSERT INTO schema_version (component, version) VALUES (?, ?)"),
                        (component, len(steps)),
                    )
            return max(version, len(steps))

    def schema_version(self, component: str = "core") -> int:
        """The schema version of ``component`` (0 when it has no tables yet)."""
        with self.connect(readonly=True) as con:
            cur = con.cursor()
            cur.execute(self._q("SELECT version FROM schema_version WHERE component = ?"), (component,))
            row = cur.fetchone()
            return row[0] if row else 0

    def _lock_schema(self, cur) -> None:  # noqa: B027 - optional hook
        """Serialize concurrent migrations (PostGIS takes an advisory lock)."""

    def _q(self, sql: str) -> str:
        """``sql`` written with ``?`` placeholders, in this store's style."""
        return self.dialect.q(sql)

    def _stamp(self) -> Any:
        """The stored form of now."""
        return self.dialect.ts(utc_now())

    # --- revision: a cheap number that changes whenever what locate answers changes ----
    def revision(self) -> int:
        """A number that changes whenever what locate answers changes (a publish, staff or layer edit)."""
        with self.connect(readonly=True) as con:
            cur = con.cursor()
            cur.execute("SELECT value FROM revision WHERE id = 1")
            return int(cur.fetchone()[0])

    @staticmethod
    def _bump(cur) -> None:
        cur.execute("UPDATE revision SET value = value + 1 WHERE id = 1")

    # --- plans --------------------------------------------------------------------------
    def import_plan(self, name: str, layers: dict[str, gpd.GeoDataFrame], *, source: str | None = None) -> PlanInfo:
        """Store ``layers`` (grids required; towns, communities, buildings when present) as draft plan ``name``."""
        check_name(name, "plan")
        if "grids" not in layers:
            raise InputError(
                f"Plan {name!r} has no 'grids' layer (layers: {sorted(layers)}).",
                fix="import a plan GeoPackage written by `gridgis partition` (layers grids, buildings, ...).",
            )
        if any(p.name == name for p in self.list_plans()):
            raise InputError(f"A plan named {name!r} exists already.", fix="choose another name.")
        for layer in PLAN_LAYERS:
            if layer in layers:
                validate_layer(layers[layer], layer, source=source or f"plan {name!r}")
        layers = self._unused_codes(layers)
        with self.connect() as con:
            cur = con.cursor()
            plan_id = self._insert_plan(cur, name, source)
            for layer in PLAN_LAYERS:
                if layer in layers:
                    self._insert_features(cur, plan_id, layer, *frame_records(layers[layer], ID_COLUMNS[layer]))
        return self.get_plan(name)

    def _unused_codes(self, layers: dict[str, gpd.GeoDataFrame]) -> dict[str, gpd.GeoDataFrame]:
        """A re-plan's layers (grids with ``previous_grid_id``) where a new grid carrying a code published before
        takes the next unused number of its community instead (its buildings follow), with a warning."""
        grids = layers["grids"]
        if "previous_grid_id" not in grids.columns:
            return layers
        from gridgis import lineage
        from gridgis.store.replan import register_codes

        used = register_codes(self)["grid_code"].tolist()
        if not used:
            return layers
        codes = grids["grid_code"].astype(str) if "grid_code" in grids else grids["grid_id"].astype(str)
        fresh = grids["previous_grid_id"].isna().to_numpy()
        new = lineage.avoid_used(grids["community_id"].astype(str), codes, fresh, used)
        renamed = {a: b for a, b in zip(grids["grid_id"].astype(str), new, strict=True) if a != b}
        if not renamed:
            return layers
        grids = grids.copy()
        grids["grid_id"] = grids["grid_id"].astype(str).replace(renamed)
        if "grid_code" in grids:
            grids["grid_code"] = new
        if "name" in grids:  # "…第4网格" follows its number
            grids["name"] = [
                str(n).replace(f"第{int(a[-3:])}网格", f"第{int(renamed[a][-3:])}网格") if a in renamed else n
                for a, n in zip(codes, grids["name"], strict=True)
            ]
        out = {**layers, "grids": grids}
        if "buildings" in layers and "grid_id" in layers["buildings"]:
            out["buildings"] = layers["buildings"].copy()
            out["buildings"]["grid_id"] = out["buildings"]["grid_id"].replace(renamed)
        pairs = ", ".join(f"{a} -> {b}" for a, b in list(renamed.items())[:10])
        warnings.warn(
            GridgisWarning(f"{len(renamed)} new grid(s) carried codes published before and were renumbered: {pairs}."),
            stacklevel=3,
        )
        return out

    def publish_plan(
        self, name: str, *, mapping: dict[str, str] | None = None, force: bool = False, actor: str = "planner"
    ) -> PlanInfo:
        """Make ``name`` the published plan, closing the validity of the previous one, in one transaction that
        also moves staff, worker keys and open cases to the grids that continue theirs
        (:func:`gridgis.store.replan.publish`, which returns the per-community table; ``mapping``: the planner's
        OLD -> NEW grid ids; ``force``: publish even when staff or open cases would be left on retired grids)."""
        from gridgis.store.replan import publish

        publish(self, name, mapping=mapping, force=force, actor=actor)
        return self.get_plan(name)

    def _switch_plan(self, cur, name: str) -> None:
        """Within the publish transaction: retire the published plan and publish ``name``."""
        cur.execute(self._q("SELECT plan_id FROM plans WHERE name = ?"), (name,))
        if cur.fetchone() is None:
            raise self._plan_missing(name, cur)
        now = self._stamp()
        cur.execute(
            self._q("UPDATE plans SET status = 'retired', valid_to = ? WHERE status = 'published' AND name <> ?"),
            (now, name),
        )
        cur.execute(
            self._q(
                "UPDATE plans SET status = 'published', valid_from = ?, valid_to = NULL "
                "WHERE name = ? AND status <> 'published'"
            ),
            (now, name),
        )

    def _plan_missing(self, name: str, cur) -> NotFoundError:
        cur.execute("SELECT name FROM plans ORDER BY plan_id")
        names = [r[0] for r in cur.fetchall()]
        return NotFoundError(
            f"No plan named {name!r}.",
            fix=f"use one of {names}"
            if names
            else "import one first: gridgis plan import PLAN.gpkg --name NAME (or POST /v1/plans?name=NAME)",
            details={"plans": names},
        )

    def _lock_plans(self, cur) -> None:  # noqa: B027 - optional hook
        """Serialize publishes (SQLite's write lock already does)."""

    def list_plans(self) -> list[PlanInfo]:
        """Every plan, oldest first, with its feature counts per layer; times aware UTC."""
        with self.connect(readonly=True) as con:
            cur = con.cursor()
            cur.execute(
                "SELECT p.plan_id, p.name, p.status, p.created_at, p.valid_from, p.valid_to, f.layer, COUNT(f.fid) "
                "FROM plans p LEFT JOIN features f ON f.plan_id = p.plan_id "
                "GROUP BY p.plan_id, p.name, p.status, p.created_at, p.valid_from, p.valid_to, f.layer "
                "ORDER BY p.plan_id"
            )
            plans: dict[int, PlanInfo] = {}
            for pid, name, status, created, vfrom, vto, layer, n in cur.fetchall():
                if pid not in plans:
                    plans[pid] = PlanInfo(
                        pid, name, status, from_stored(created), from_stored(vfrom), from_stored(vto), {}
                    )
                if layer:
                    plans[pid].counts[layer] = int(n)
            return list(plans.values())

    def get_plan(self, name: str | None = None) -> PlanInfo:
        """Plan ``name``, or the published plan when ``name`` is None."""
        plans = self.list_plans()
        for p in plans:
            if (name is None and p.status == "published") or (name is not None and p.name == name):
                return p
        names = [p.name for p in plans]
        if name is None:
            raise NotFoundError(
                "No plan is published.",
                fix="publish one: gridgis plan publish NAME (plans: " + (", ".join(names) or "none yet") + ").",
                details={"plans": names},
            )
        raise NotFoundError(f"No plan named {name!r}.", fix=f"use one of {names}.", details={"plans": names})

    def load_layer(self, plan_id: int, layer: str) -> gpd.GeoDataFrame:
        """A whole stored layer as a GeoDataFrame (columns from the stored properties)."""
        page = self.features(plan_id, layer, limit=None)
        frame = pd.DataFrame(page.properties)
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(page.geometries, crs="EPSG:4326").values, crs=4326)

    # --- extra layers ---------------------------------------------------------------------
    def import_layer(
        self, name: str, gdf: gpd.GeoDataFrame, *, title: str | None = None, name_field: str | None = None
    ) -> LayerInfo:
        """Store (or replace) extra layer ``name``; ``name_field`` is the column locate reports as the area name."""
        check_name(name, "layer")
        if name in PLAN_LAYERS:
            raise InputError(f"Layer name {name!r} is taken by a plan layer.", fix=f"avoid {list(PLAN_LAYERS)}.")
        if name_field is not None and name_field not in gdf.columns:
            raise InputError(
                f"Layer {name!r} has no column {name_field!r}.",
                fix=f"use one of {[c for c in gdf.columns if c != gdf.geometry.name]}.",
            )
        polys = gdf.geometry.geom_type.isin(["Polygon", "MultiPolygon"])
        if not polys.all():
            rows = list(gdf.index[~polys.to_numpy()][:10])
            raise InputError(
                f"Layer {name!r} has non-polygon geometries at row(s) {rows}; locate needs areas.",
                fix="import polygon layers only (police beats, school districts, river-chief sections).",
            )
        _check_geometries(gdf, f"Layer {name!r}")
        ids, props, geoms = frame_records(gdf, None)
        with self.connect() as con:
            cur = con.cursor()
            cur.execute(self._q("DELETE FROM features WHERE plan_id = ? AND layer = ?"), (EXTRA_PLAN_ID, name))
            cur.execute(self._q("DELETE FROM layers WHERE name = ?"), (name,))
            cur.execute(
                self._q("INSERT INTO layers (name, title, name_field, n_features, created_at) VALUES (?, ?, ?, ?, ?)"),
                (name, title or name, name_field, len(ids), self._stamp()),
            )
            self._insert_features(cur, EXTRA_PLAN_ID, name, ids, props, geoms)
            self._bump(cur)
        return self.get_layer(name)

    def list_layers(self) -> list[LayerInfo]:
        """Every extra layer, by name."""
        with self.connect(readonly=True) as con:
            cur = con.cursor()
            cur.execute("SELECT name, title, name_field, n_features, created_at FROM layers ORDER BY name")
            return [LayerInfo(r[0], r[1], r[2], int(r[3]), from_stored(r[4])) for r in cur.fetchall()]

    def get_layer(self, name: str) -> LayerInfo:
        """Extra layer ``name``; :class:`NotFoundError` listing the layers when there is none."""
        layers = self.list_layers()
        for info in layers:
            if info.name == name:
                return info
        names = [i.name for i in layers]
        raise NotFoundError(f"No layer named {name!r}.", fix=f"use one of {names}.", details={"layers": names})

    def delete_layer(self, name: str) -> None:
        """Delete extra layer ``name`` and its features; :class:`NotFoundError` when there is none."""
        self.get_layer(name)
        with self.connect() as con:
            cur = con.cursor()
            cur.execute(self._q("DELETE FROM features WHERE plan_id = ? AND layer = ?"), (EXTRA_PLAN_ID, name))
            cur.execute(self._q("DELETE FROM layers WHERE name = ?"), (name,))
            self._bump(cur)

    # --- staff ----------------------------------------------------------------------------
    def get_staff(self, grid_id: str) -> dict[str, Any] | None:
        """Staff of a grid: {"leader": {...}, "workers": [...]}, or None when none was set."""
        with self.connect(readonly=True) as con:
            cur = con.cursor()
            cur.execute(self._q("SELECT doc FROM staff WHERE grid_id = ?"), (grid_id,))
            row = cur.fetchone()
            return _json(row[0]) if row else None

    def all_staff(self) -> dict[str, dict[str, Any]]:
        """grid_id -> staff document of every grid with staff."""
        with self.connect(readonly=True) as con:
            cur = con.cursor()
            cur.execute("SELECT grid_id, doc FROM staff")
            return {gid: _json(doc) for gid, doc in cur.fetchall()}

    def set_staff(self, grid_id: str, doc: dict[str, Any]) -> None:
        """Replace the staff of ``grid_id`` (staff follow the grid id across plans)."""
        with self.connect() as con:
            cur = con.cursor()
            text = json.dumps(doc, ensure_ascii=False)
            cur.execute(self._q("DELETE FROM staff WHERE grid_id = ?"), (grid_id,))
            cur.execute(
                self._q("INSERT INTO staff (grid_id, doc, updated_at) VALUES (?, ?, ?)"), (grid_id, text, self._stamp())
            )
            self._bump(cur)

    def set_staff_docs(self, docs: dict[str, dict[str, Any]]) -> None:
        """Replace the staff documents of several grids (grid id -> document) in one transaction."""
        with self.connect() as con:
            cur = con.cursor()
            stamp = self._stamp()
            for grid_id, doc in docs.items():
                cur.execute(self._q("DELETE FROM staff WHERE grid_id = ?"), (grid_id,))
                cur.execute(
                    self._q("INSERT INTO staff (grid_id, doc, updated_at) VALUES (?, ?, ?)"),
                    (grid_id, json.dumps(doc, ensure_ascii=False), stamp),
                )
            self._bump(cur)

    # --- API keys -------------------------------------------------------------------------
    def create_key(self, role: str, name: str = "", *, grids: Sequence[str] = ()) -> str:
        """Create an API key with ``role``; return the token (shown once, stored hashed).

        A ``worker`` key carries the ``grids`` it covers (at least one; other roles none). While a plan
        is published, each grid id must be one of its grids.

        Examples
        --------
        >>> import tempfile
        >>> from gridgis.store import open_store
        >>> store = open_store(f"sqlite:///{tempfile.mkdtemp()}/keys.db")
        >>> token = store.create_key("worker", "王五", grids=["440784101001001"])
        >>> store.lookup_key(token)["grids"]
        ('440784101001001',)
        """
        ids = check_key_grids(role, grids)
        token = new_key_token()
        with self.connect() as con:
            cur = con.cursor()
            if ids:
                self._check_published_grids(cur, ids)
            cur.execute(
                self._q(
                    "INSERT INTO api_keys (key_hash, prefix, name, role, created_at, grids) VALUES (?, ?, ?, ?, ?, ?)"
                ),
                (hash_key(token), token[:PREFIX_LENGTH], name, role, self._stamp(), json.dumps(list(ids))),
            )
        return token

    def _check_published_grids(self, cur, ids: tuple[str, ...]) -> None:
        cur.execute("SELECT plan_id, name FROM plans WHERE status = 'published'")
        plan = cur.fetchone()
        if plan is None:  # nothing to check against yet
            return
        marks = ", ".join("?" * len(ids))
        cur.execute(
            self._q(f"SELECT fid FROM features WHERE plan_id = ? AND layer = 'grids' AND fid IN ({marks})"),
            (plan[0], *ids),
        )
        unknown = sorted(set(ids) - {r[0] for r in cur.fetchall()})
        if unknown:
            raise InputError(
                f"Grid id(s) {unknown[:10]} are not grids of the published plan {plan[1]!r}.",
                fix="use grid ids from GET /v1/grids (or the plan's grids layer).",
                details={"unknown": unknown[:100]},
            )

    def make_worker_keys(self, cur, grids_by_prefix: dict[str, Sequence[str]]) -> None:
        """Within the transaction of ``cur``: turn the ``reader`` keys of each prefix into ``worker`` keys of
        those grids (the upgrade of keys once given grid scopes by the case tables)."""
        for prefix, grids in grids_by_prefix.items():
            cur.execute(
                self._q("UPDATE api_keys SET role = 'worker', grids = ? WHERE role = 'reader' AND prefix = ?"),
                (json.dumps(sorted(grids)), prefix),
            )

    def lookup_key(self, token: str) -> dict[str, Any] | None:
        """A valid (not revoked) key's prefix, name, role and grids (a tuple), else None."""
        with self.connect(readonly=True) as con:
            cur = con.cursor()
            cur.execute(
                self._q("SELECT prefix, name, role, grids FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL"),
                (hash_key(token),),
            )
            row = cur.fetchone()
        if row is None:
            return None
        return {"prefix": row[0], "name": row[1], "role": row[2], "grids": tuple(_json(row[3]))}

    def key_role(self, token: str) -> str | None:
        """The role of a valid (not revoked) key, else None."""
        key = self.lookup_key(token)
        return key["role"] if key else None

    def list_keys(self) -> list[dict[str, Any]]:
        """Every key (prefix, name, role, grids, created_at, revoked_at as aware UTC datetimes), oldest first;
        never the token or its hash."""
        with self.connect(readonly=True) as con:
            cur = con.cursor()
            cur.execute("SELECT prefix, name, role, grids, created_at, revoked_at FROM api_keys ORDER BY created_at")
            cols = ("prefix", "name", "role", "grids", "created_at", "revoked_at")
            rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
        for row in rows:
            row["grids"] = list(_json(row["grids"]))
            row["created_at"], row["revoked_at"] = from_stored(row["created_at"]), from_stored(row["revoked_at"])
        return rows

    def revoke_key(self, prefix: str) -> int:
        """Revoke the active key(s) whose prefix is ``prefix``; return how many."""
        with self.connect() as con:
            cur = con.cursor()
            cur.execute(
                self._q("UPDATE api_keys SET revoked_at = ? WHERE prefix = ? AND revoked_at IS NULL"),
                (self._stamp(), prefix),
            )
            return cur.rowcount

    # --- features -------------------------------------------------------------------------
    def _insert_plan(self, cur, name: str, source: str | None) -> int:
        cur.execute(
            self._q("INSERT INTO plans (name, status, created_at, source) VALUES (?, 'draft', ?, ?) RETURNING plan_id"),
            (name, self._stamp(), source),
        )
        return int(cur.fetchone()[0])

    @abstractmethod
    def _insert_features(
        self, cur, plan_id: int, layer: str, ids: list[str], props: list[str], geoms: np.ndarray
    ) -> None: ...

    @abstractmethod
    def features(
        self,
        plan_id: int,
        layer: str,
        *,
        bbox: tuple[float, float, float, float] | None = None,
        limit: int | None = 100,
        offset: int = 0,
        fid: str | None = None,
    ) -> FeaturePage:
        """Features of ``layer`` (of plan ``plan_id``; EXTRA_PLAN_ID for extra layers) ordered by id.

        ``bbox`` keeps those whose geometry intersects the box; ``fid`` selects one feature.
        """

    def tile(self, plan_id: int, layer: str, z: int, x: int, y: int) -> bytes:
        """Tile z/x/y (WebMercatorQuad: zoom, column, row from the top) of ``layer`` as a Mapbox Vector Tile
        with one layer named ``layer``; ``b""`` when no feature meets it. See :mod:`gridgis.tiles`."""
        from gridgis.tiles import BUFFER, encode_tile, lonlat_bounds

        page = self.features(plan_id, layer, bbox=lonlat_bounds(z, x, y, BUFFER), limit=None)
        return encode_tile(layer, page.properties, page.geometries, z, x, y)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value
