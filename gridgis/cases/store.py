"""The case tables: cases, their audit log, the routing table, the configuration and idempotency keys.

The tables live in the service's database (:func:`gridgis.store.open_store`), migrated as component
``cases`` (its own tables only). Queries go through the store: reads on :meth:`Store.cursor`, writes
through :meth:`Store.write`, which returns only once the commit is durable (SQLite: ``synchronous=FULL``
with group commit; PostGIS: ``synchronous_commit`` on). SQL is written once, with ``?`` placeholders,
and the store's dialect fills in placeholders, types, times (UTC) and booleans. On PostGIS the point
also gets a geometry column with a GiST index for maps and analysts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from gridgis.access import UNIT_COLUMNS
from gridgis.cases import lifecycle
from gridgis.cases.categories import get_category
from gridgis.cases.config import DEFAULT, CaseConfig, parse_config
from gridgis.cases.intake import Report
from gridgis.cases.lifecycle import OPEN_STATUSES, check_status
from gridgis.cases.people import PeopleStore
from gridgis.cases.routing import Route, RouteRule
from gridgis.errors import ConflictError, InputError, NotFoundError
from gridgis.store import Store, open_store
from gridgis.store.dialect import POSTGIS, SQLITE, from_stored
from gridgis.times import utc_now

COMPONENT = "cases"
log = logging.getLogger("gridgis.cases")
T = TypeVar("T")
MAX_PAGE = 1000

#: columns of a case, in the order the queries return them
CASE_COLUMNS = (
    "id",
    "status",
    "category",
    "channel",
    "description",
    "lon",
    "lat",
    "source_crs",
    "photo_urls",
    "contact",
    "grid_id",
    "community_id",
    "town_id",
    "assignee",
    "assignee_kind",
    "department",
    "level",
    "outside_coverage",
    "submitted_by",
    "submitter_id",
    "created_at",
    "updated_at",
    "due_at",
    "resolved_at",
    "closed_at",
    "result",
    "resolved_by",
    "verified_at",
    "verified_by",
    "check_note",
    "return_reason",
    "reject_reason",
    "callback_note",
    "callback_at",
    "callback_by",
    "rating",
    "alerts",
    "alerted_at",
)
#: the columns intake sets; the others (the chain's) start empty
NEW_CASE_COLUMNS = CASE_COLUMNS[: CASE_COLUMNS.index("result")]
_EMPTY_CHAIN = tuple(0 if c == "alerts" else None for c in CASE_COLUMNS[len(NEW_CASE_COLUMNS) :])
_TIME_COLUMNS = (
    "created_at",
    "updated_at",
    "due_at",
    "resolved_at",
    "closed_at",
    "verified_at",
    "callback_at",
    "alerted_at",
)
EVENT_COLUMNS = ("id", "case_id", "at", "actor", "from_status", "to_status", "assignee", "note", "person_id", "photos")

#: step 1, with the dialect's type names
_CASES_SQL = """
    CREATE TABLE cases (id {serial} PRIMARY KEY, status TEXT NOT NULL, category TEXT NOT NULL,
        channel TEXT NOT NULL, description TEXT NOT NULL, lon {real} NOT NULL, lat {real} NOT NULL,
        source_crs TEXT NOT NULL, photo_urls TEXT NOT NULL, contact TEXT NOT NULL,
        grid_id TEXT, community_id TEXT, town_id TEXT, assignee TEXT NOT NULL, assignee_kind TEXT NOT NULL,
        department TEXT, level INTEGER NOT NULL, outside_coverage {bool} NOT NULL, submitted_by TEXT NOT NULL,
        created_at {ts} NOT NULL, updated_at {ts} NOT NULL, due_at {ts} NOT NULL,
        resolved_at {ts}, closed_at {ts});
    CREATE INDEX cases_grid ON cases (grid_id, id);
    CREATE INDEX cases_community ON cases (community_id, id);
    CREATE INDEX cases_town ON cases (town_id, id);
    CREATE INDEX cases_status_due ON cases (status, due_at);
    CREATE INDEX cases_created ON cases (created_at);
    CREATE TABLE case_events (id {serial} PRIMARY KEY, case_id BIGINT NOT NULL REFERENCES cases (id),
        at {ts} NOT NULL, actor TEXT NOT NULL, from_status TEXT, to_status TEXT NOT NULL,
        assignee TEXT, note TEXT NOT NULL);
    CREATE INDEX case_events_case ON case_events (case_id, id);
    CREATE TABLE case_routes (category TEXT PRIMARY KEY, layer TEXT NOT NULL, department TEXT NOT NULL,
        max_distance_m {real} NOT NULL, updated_at {ts} NOT NULL, updated_by TEXT NOT NULL);
    CREATE TABLE case_scopes (key_prefix TEXT NOT NULL, grid_id TEXT NOT NULL, PRIMARY KEY (key_prefix, grid_id));
    CREATE TABLE case_idempotency (client TEXT NOT NULL, key TEXT NOT NULL, request_hash TEXT NOT NULL,
        case_id BIGINT, created_at {ts} NOT NULL, PRIMARY KEY (client, key))
"""


def _scopes_to_worker_keys(store: Store, cur) -> None:
    """Step 2: grid workers' keys carry their grids in the store's api_keys (role ``worker``); a reader key
    given grids in the old case_scopes table becomes a worker key of those grids (through the core
    store, which owns api_keys), and the table goes."""
    cur.execute("SELECT key_prefix, grid_id FROM case_scopes")
    scopes: dict[str, list[str]] = {}
    for prefix, grid in cur.fetchall():
        scopes.setdefault(prefix, []).append(grid)
    store.make_worker_keys(cur, scopes)
    cur.execute("DROP TABLE case_scopes")


#: step 3: a case keeps the id of the key that submitted it (``submitted_by`` is that key's prefix, which two
#: keys may share); older cases get it when exactly one stored key has their prefix
_SUBMITTER_ID_SQL = """
    ALTER TABLE cases ADD COLUMN submitter_id TEXT;
    UPDATE cases SET submitter_id = (SELECT MIN(k.key_hash) FROM api_keys k WHERE k.prefix = cases.submitted_by)
        WHERE (SELECT COUNT(*) FROM api_keys k WHERE k.prefix = cases.submitted_by) = 1
"""

#: step 4 (issue 15): the check (核查), the call-back (回访), reasons, alerts past the top; events name the
#: person and carry photo references; the configuration of the grid centre
_CHAIN_SQL = """
    ALTER TABLE cases ADD COLUMN result TEXT;
    ALTER TABLE cases ADD COLUMN resolved_by TEXT;
    ALTER TABLE cases ADD COLUMN verified_at {ts};
    ALTER TABLE cases ADD COLUMN verified_by TEXT;
    ALTER TABLE cases ADD COLUMN check_note TEXT;
    ALTER TABLE cases ADD COLUMN return_reason TEXT;
    ALTER TABLE cases ADD COLUMN reject_reason TEXT;
    ALTER TABLE cases ADD COLUMN callback_note TEXT;
    ALTER TABLE cases ADD COLUMN callback_at {ts};
    ALTER TABLE cases ADD COLUMN callback_by TEXT;
    ALTER TABLE cases ADD COLUMN rating INTEGER;
    ALTER TABLE cases ADD COLUMN alerts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE cases ADD COLUMN alerted_at {ts};
    ALTER TABLE case_events ADD COLUMN person_id TEXT;
    ALTER TABLE case_events ADD COLUMN photos TEXT NOT NULL DEFAULT '[]';
    CREATE TABLE case_config (id INTEGER PRIMARY KEY, doc TEXT NOT NULL, updated_at {ts} NOT NULL,
        updated_by TEXT NOT NULL)
"""

SQLITE_MIGRATIONS = [
    SQLITE.schema(_CASES_SQL),
    _scopes_to_worker_keys,
    _SUBMITTER_ID_SQL,
    SQLITE.schema(_CHAIN_SQL),
]
POSTGIS_MIGRATIONS = [
    POSTGIS.schema(_CASES_SQL)
    + """;
    ALTER TABLE cases ADD COLUMN geom geometry(Point, 4326)
        GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED;
    CREATE INDEX cases_geom ON cases USING GIST (geom)
    """,
    _scopes_to_worker_keys,
    _SUBMITTER_ID_SQL,
    POSTGIS.schema(_CHAIN_SQL),
]


def scope_sql(grid_ids: tuple[str, ...] | None, units: Sequence[tuple[str, str]] = ()) -> tuple[str | None, list[Any]]:
    """The SQL condition (``?`` placeholders) and parameters keeping the cases of a caller's scope: its
    ``grid_ids`` or its ``units`` ((level, id) of :data:`gridgis.access.UNIT_COLUMNS`); None for no limit
    (``grid_ids`` None: a dispatcher), ``1 = 0`` for an empty scope."""
    if grid_ids is None:
        return None, []
    parts, params = [], []
    if grid_ids:
        parts.append(f"grid_id IN ({', '.join('?' * len(grid_ids))})")
        params.extend(grid_ids)
    for level, unit in units:
        parts.append(f"{UNIT_COLUMNS[level]} = ?")
        params.append(unit)
    return ("(" + " OR ".join(parts) + ")" if parts else "1 = 0"), params


@dataclass(frozen=True)
class CaseFilter:
    """What a case query keeps. ``grid_ids`` is the caller's scope (a grid worker's grids), None for all;
    ``units`` widens that scope by a person's communities, towns and departments (:func:`scope_sql`)."""

    grid_id: str | None = None
    community_id: str | None = None
    town_id: str | None = None
    status: tuple[str, ...] = ()
    category: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    ids: tuple[int, ...] = ()
    grid_ids: tuple[str, ...] | None = None
    units: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        for s in self.status:
            check_status(s)


def request_hash(report: Report) -> str:
    """Fingerprint of a report: an idempotency key replayed with a different report is a conflict."""
    # the JSON of asdict(report), built without asdict's deep copy (the same text, so stored hashes still match)
    fields = {f: getattr(report, f) for f in _REPORT_FIELDS}
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=list).encode()).hexdigest()


_REPORT_FIELDS = tuple(f.name for f in dataclass_fields(Report))


class CaseStore:
    """The case tables of ``store``, created or migrated on first use. Open one with :func:`open_case_store`.

    ``owns_store``: :meth:`close` closes ``store`` too (when this object opened it).
    """

    def __init__(self, store: Store, *, owns_store: bool = False):
        self.store = store
        self.dialect = store.dialect
        self._owns_store = owns_store
        self._rules_cache: tuple[float, dict[str, RouteRule]] | None = None
        self._config_cache: tuple[float, CaseConfig] | None = None
        store.migrate_component(COMPONENT, SQLITE_MIGRATIONS if store.kind == "sqlite" else POSTGIS_MIGRATIONS)
        #: the people of the grid centre (component ``people``)
        self.people = PeopleStore(store)

    @property
    def kind(self) -> str:
        """The store's kind: "sqlite" or "postgis"."""
        return self.store.kind

    def _tx(self, *, readonly: bool = True) -> AbstractContextManager[Any]:
        """A cursor in a transaction of the store (writes go through :meth:`_write`)."""
        return self.store.cursor(readonly=readonly)

    def _write(self, work: Callable[[Any], T]) -> T:
        """Run ``work(cursor)`` in a write transaction; return its result once durably committed."""
        return self.store.write(work)

    async def _awrite(self, work: Callable[[Any], T]) -> T:
        return await self.store.awrite(work)

    def _q(self, sql: str) -> str:
        return self.dialect.q(sql)

    def _ts(self, value: datetime | None) -> Any:
        return self.dialect.ts(value)

    def close(self) -> None:
        """Close the store when this object opened it (the service's store stays open otherwise)."""
        if self._owns_store:
            self.store.close()

    # --- intake ----------------------------------------------------------------------------
    def create(self, report: Report, route: Route, **submitter: Any) -> tuple[dict[str, Any], bool]:
        """Insert a case (status ``assigned``, two audit events) and commit it; return (case, replayed).

        Keywords: ``client`` (required) names the submitter (``submitted_by``, the audit log),
        ``client_id`` identifies it (``submitter_id``; default ``client``; :func:`gridgis.access.key_id`
        for an API key), ``now`` (default: the UTC clock), ``plan_id`` (the plan it was routed on: when
        another plan was published meanwhile, :class:`PlanChanged` is raised and nothing written),
        ``idempotency_key``: a second call by the
        same ``client_id`` with that key returns the first case and ``replayed=True``; the same key with
        a different report raises :class:`ConflictError`; and ``also(cursor, case)``: the submission's other
        rows (Open311's fields, the address it was placed by), written in the case's transaction once the new
        case is inserted (not on a replay), so the case and they are committed together or not at all.
        """
        return self._write(self._create_work(report, route, **submitter))

    async def acreate(self, report: Report, route: Route, **submitter: Any) -> tuple[dict[str, Any], bool]:
        """:meth:`create` (same keywords) for an event loop: the write runs off the loop; the answer comes
        after the commit."""
        return await self._awrite(self._create_work(report, route, **submitter))

    def _create_work(
        self,
        report: Report,
        route: Route,
        *,
        client: str,
        client_id: str | None = None,
        now: datetime | None = None,
        idempotency_key: str | None = None,
        plan_id: int | None = None,
        also: Callable[[Any, dict[str, Any]], None] | None = None,
    ) -> Callable[[Any], tuple[dict[str, Any], bool]]:
        now = now or utc_now()
        who = (client, client_id or client)
        due = now + get_category(report.category, self.config().categories).deadline
        digest = request_hash(report) if idempotency_key else None

        def work(cur):
            if plan_id is not None:
                self._check_plan(cur, plan_id)
            if idempotency_key:
                cur.execute(
                    self._q(
                        "INSERT INTO case_idempotency (client, key, request_hash, created_at) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT DO NOTHING RETURNING key"
                    ),
                    (who[1], idempotency_key, digest, self._ts(now)),
                )
                if cur.fetchone() is None:
                    cur.execute(
                        self._q("SELECT case_id, request_hash FROM case_idempotency WHERE client = ? AND key = ?"),
                        (who[1], idempotency_key),
                    )
                    case_id, old_digest = cur.fetchone()
                    if old_digest != digest:
                        raise ConflictError(
                            f"Idempotency-Key {idempotency_key!r} was used for another report (case {case_id}).",
                            fix="use a new key for a new report; reuse a key only to retry the same request.",
                            details={"case_id": case_id},
                        )
                    return self._get(cur, case_id), True
            case = self._insert_case(cur, report, route, who, now, due, idempotency_key)
            if also is not None:
                also(cur, case)
            return case, False

        return work

    def _check_plan(self, cur, plan_id: int) -> None:
        """Raise :class:`PlanChanged` unless ``plan_id`` is still the published plan. On PostGIS the published
        row is share-locked until the case commits, so a publish (which updates that row first) waits for it and
        then re-routes it, and an intake after the publish sees the new plan."""
        lock = " FOR SHARE" if self.dialect is POSTGIS else ""
        cur.execute(f"SELECT plan_id FROM plans WHERE status = 'published'{lock}")
        row = cur.fetchone()
        if row is None or int(row[0]) != plan_id:
            raise PlanChanged("The published plan changed while the case was routed.", fix="route it again.")

    _INSERT_CASE = (
        "INSERT INTO cases (status, category, channel, description, lon, lat, source_crs, photo_urls, "
        "contact, grid_id, community_id, town_id, assignee, assignee_kind, department, level, "
        "outside_coverage, submitted_by, submitter_id, created_at, updated_at, due_at) "
        "VALUES ('assigned', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        f"RETURNING {', '.join(NEW_CASE_COLUMNS)}"  # the new case as _get reads it, without a SELECT
    )
    _EVENT_COLUMNS = "case_id, at, actor, from_status, to_status, assignee, note"
    _INSERT_EVENT = f"INSERT INTO case_events ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
    _LINK_KEY = "UPDATE case_idempotency SET case_id = ? WHERE client = ? AND key = ?"

    def _case_row(self, report: Report, route: Route, who: tuple[str, str], now: datetime, due: datetime) -> tuple:
        return (
            report.category,
            report.channel,
            report.description,
            report.lon,
            report.lat,
            report.source_crs,
            json.dumps(list(report.photo_urls)),
            json.dumps(report.contact, ensure_ascii=False),
            route.grid_id,
            route.community_id,
            route.town_id,
            route.assignee,
            route.assignee_kind,
            route.department,
            route.level,
            self.dialect.bool(route.outside_coverage),
            *who,
            self._ts(now),
            self._ts(now),
            self._ts(due),
        )

    def _first_events(self, report: Report, route: Route, who: tuple[str, str], now: datetime) -> list[tuple]:
        """The audit events of a new case, without the case id: reported by the client, assigned by the router."""
        where = "outside every grid: sent to the county's desk" if route.outside_coverage else "routed"
        return [
            (self._ts(now), who[0], None, "reported", None, f"via {report.channel}"),
            (self._ts(now), "system:router", "reported", "assigned", route.assignee, where),
        ]

    def _insert_case(self, cur, report, route, who, now, due, idempotency_key) -> dict[str, Any]:
        """Insert the case and its first events, link the idempotency key to it; return the case.

        ``who`` is (name, id) of the submitter."""
        if self.dialect is POSTGIS:
            return self._insert_case_at_once(cur, report, route, who, now, due, idempotency_key)
        cur.execute(self._q(self._INSERT_CASE), self._case_row(report, route, who, now, due))
        case = self._new_case(cur.fetchone())
        events = [(case["id"], *e) for e in self._first_events(report, route, who, now)]
        cur.executemany(self._q(self._INSERT_EVENT), events)
        if idempotency_key:
            cur.execute(self._q(self._LINK_KEY), (case["id"], who[1], idempotency_key))
        return case

    def _insert_case_at_once(self, cur, report, route, who, now, due, idempotency_key) -> dict[str, Any]:
        """PostGIS: the case, its events and the key's link in one round trip instead of three."""
        # one round trip instead of three: data-modifying CTEs (the key's row, inserted by the statement
        # before, is visible to the UPDATE here)
        events = self._first_events(report, route, who, now)
        link = (
            ", k AS (UPDATE case_idempotency SET case_id = (SELECT id FROM c) WHERE client = %s AND key = %s)"
            if idempotency_key
            else ""
        )
        sql = (
            f"WITH c AS ({self._q(self._INSERT_CASE)}), "
            f"e AS (INSERT INTO case_events ({self._EVENT_COLUMNS}) "
            "SELECT c.id, v.at::timestamptz, v.actor, v.from_status, v.to_status, v.assignee, v.note "
            "FROM c, (VALUES (1, %s, %s, %s, %s, %s, %s), (2, %s, %s, %s, %s, %s, %s)) "
            f"AS v (ord, at, actor, from_status, to_status, assignee, note) ORDER BY v.ord){link} "
            f"SELECT {', '.join(NEW_CASE_COLUMNS)} FROM c"
        )
        params = [*self._case_row(report, route, who, now, due), *events[0], *events[1]]
        if idempotency_key:
            params += [who[1], idempotency_key]
        cur.execute(sql, params)
        return self._new_case(cur.fetchone())

    # --- reads -----------------------------------------------------------------------------
    def get(self, case_id: int) -> dict[str, Any]:
        """One case; :class:`NotFoundError` when there is none with that id."""
        with self._tx(readonly=True) as cur:
            return self._get(cur, case_id)

    def _get(self, cur, case_id: int, *, lock: bool = False) -> dict[str, Any]:
        lock_sql = self.dialect.for_update if lock else ""
        cur.execute(self._q(f"SELECT {', '.join(CASE_COLUMNS)} FROM cases WHERE id = ?{lock_sql}"), (case_id,))
        row = cur.fetchone()
        if row is None:
            raise NotFoundError(f"No case {case_id}.", fix="check the case id.", details={"case_id": case_id})
        return self._case(row)

    def _new_case(self, row: Sequence[Any]) -> dict[str, Any]:
        """A case just inserted, from the columns intake sets (the chain's columns are still empty)."""
        return self._case((*row, *_EMPTY_CHAIN))

    def _case(self, row: Sequence[Any]) -> dict[str, Any]:
        case = dict(zip(CASE_COLUMNS, row, strict=True))
        case["id"] = int(case["id"])
        case["photo_urls"] = json.loads(case["photo_urls"])
        case["contact"] = json.loads(case["contact"])
        case["outside_coverage"] = bool(case["outside_coverage"])
        case["alerts"] = int(case["alerts"] or 0)
        for col in _TIME_COLUMNS:
            case[col] = from_stored(case[col])
        return case

    def _where(self, f: CaseFilter) -> tuple[str, list[Any]]:
        clauses, params = [], []
        for col in ("grid_id", "community_id", "town_id", "category"):
            value = getattr(f, col)
            if value is not None:
                clauses.append(f"{col} = ?")
                params.append(value)
        for col, values in (("status", f.status), ("id", f.ids)):
            if values:
                clauses.append(f"{col} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        scope, scope_params = scope_sql(f.grid_ids, f.units)
        if scope is not None:
            clauses.append(scope)
            params.extend(scope_params)
        if f.since is not None:
            clauses.append("created_at >= ?")
            params.append(self._ts(f.since))
        if f.until is not None:
            clauses.append("created_at < ?")
            params.append(self._ts(f.until))
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def list(self, f: CaseFilter = CaseFilter(), *, limit: int = 100, offset: int = 0) -> tuple[list[dict], int]:
        """(cases newest first, total matching) for one page."""
        if not (1 <= limit <= MAX_PAGE) or offset < 0:
            raise InputError(
                f"Bad page: limit={limit}, offset={offset}.", fix=f"use 1 <= limit <= {MAX_PAGE} and offset >= 0."
            )
        where, params = self._where(f)
        with self._tx(readonly=True) as cur:
            cur.execute(self._q(f"SELECT COUNT(*) FROM cases{where}"), params)
            total = int(cur.fetchone()[0])
            cur.execute(
                self._q(f"SELECT {', '.join(CASE_COLUMNS)} FROM cases{where} ORDER BY id DESC LIMIT ? OFFSET ?"),
                [*params, limit, offset],
            )
            return [self._case(r) for r in cur.fetchall()], total

    def iter_cases(self, f: CaseFilter = CaseFilter(), *, chunk: int = 2000) -> Iterator[dict[str, Any]]:
        """Every matching case, oldest first, read in chunks (for the ledger)."""
        last = 0
        where, params = self._where(f)
        glue = " AND " if where else " WHERE "
        while True:
            with self._tx(readonly=True) as cur:
                cur.execute(
                    self._q(f"SELECT {', '.join(CASE_COLUMNS)} FROM cases{where}{glue}id > ? ORDER BY id LIMIT ?"),
                    [*params, last, chunk],
                )
                rows = [self._case(r) for r in cur.fetchall()]
            yield from rows
            if len(rows) < chunk:
                return
            last = rows[-1]["id"]

    def events(self, case_id: int) -> list[dict[str, Any]]:
        """The audit log of a case, oldest first."""
        with self._tx(readonly=True) as cur:
            self._get(cur, case_id)
            cur.execute(
                self._q(f"SELECT {', '.join(EVENT_COLUMNS)} FROM case_events WHERE case_id = ? ORDER BY id"),
                (case_id,),
            )
            out = []
            for row in cur.fetchall():
                event = dict(zip(EVENT_COLUMNS, row, strict=True))
                event["at"] = from_stored(event["at"])
                event["photos"] = json.loads(event["photos"] or "[]")
                out.append(event)
            return out

    # --- lifecycle: the moves are decided by gridgis.cases.lifecycle; here they are written -------------
    def actor(self, caller, case: dict[str, Any]) -> lifecycle.Actor:
        """The :class:`~gridgis.cases.lifecycle.Actor` of an API caller (:class:`gridgis.access.Caller`) on
        ``case``: named by the person holding its key when there is one (``王五 [worker:ggk_yMbX06]``)."""
        d = self.people.directory()
        person = d.person_of(caller)
        posts = [(p.level, p.unit_id) for p in d.posts_of(person.person_id)] if person else []
        roles = set(lifecycle.chain_roles(case, key_role=caller.role, key_grids=caller.grids, posts=posts))
        held = (f"person:{person.person_id}", *(f"{lv}:{u}" for lv, u in posts if lv in UNIT_COLUMNS)) if person else ()
        if caller.role is not None and case.get("assignee") in held:
            # the person, or the desk of a unit they are posted to (community:ID, town:ID, department:NAME),
            # holding the case handles it, wherever it is
            roles.add(lifecycle.H)
        name = f"{person.name} [{caller.actor}]" if person else caller.actor
        return lifecycle.Actor(
            name, frozenset(roles), person.person_id if person else caller.key_id, person.person_id if person else None
        )

    def allowed_moves(self, case: dict[str, Any], caller) -> list[str]:
        """The targets an API caller may move ``case`` to now (what a console offers):
        :func:`gridgis.cases.lifecycle.allowed_moves` of :meth:`actor`."""
        return lifecycle.allowed_moves(case, self.actor(caller, case))

    def assignment(self, assignee: str, case: dict[str, Any] | None = None) -> lifecycle.Assignment:
        """Check an assignee: ``person:ID`` of a known person (the level of its post nearest the case; a plain
        name is the one person of that name) or ``department:NAME`` of a configured department;
        :class:`InputError` naming what exists otherwise."""
        kind, _, ref = assignee.partition(":")
        if not ref:  # a plain name: the one person of that name
            d = self.people.directory()
            named = [p.person_id for p in d.people.values() if p.name == assignee.strip()]
            if len(named) == 1:
                kind, ref, assignee = "person", named[0], f"person:{named[0]}"
            elif named:
                raise InputError(
                    f"{len(named)} people are named {assignee!r}.",
                    fix=f"assign to one of {[f'person:{n}' for n in named]}.",
                    details={"field": "assignee"},
                )
        if kind == "person":
            d = self.people.directory()
            if ref not in d.people:
                raise InputError(
                    f"No person {ref!r} to assign to.",
                    fix="pick one from GET /v1/people.",
                    details={"field": "assignee"},
                )
            units = {
                "grid": (case or {}).get("grid_id"),
                "community": (case or {}).get("community_id"),
                "town": (case or {}).get("town_id"),
            }
            level, dept = 0, None
            levels = [p for p in d.posts_of(ref)]
            for lv in ("grid", "community", "town", "county"):
                if any(p.level == lv and (lv == "county" or p.unit_id == units.get(lv)) for p in levels):
                    level = lifecycle.LEVELS.index(lv)
                    break
            else:
                depts = [p.unit_id for p in levels if p.level == "department"]
                dept = depts[0] if depts else None
                tops = [lifecycle.LEVELS.index(p.level) for p in levels if p.level in lifecycle.LEVELS]
                level = max(tops) if tops else 0
            return lifecycle.Assignment(assignee, "person", level, dept)
        if kind == "department":
            config = self.config()
            if ref not in config.departments:
                raise InputError(
                    f"No department {ref!r}.",
                    fix=f"use one of {list(config.departments)} (departments are configuration: PUT /v1/cases/config).",
                    details={"field": "assignee", "allowed": list(config.departments)},
                )
            return lifecycle.Assignment(assignee, "department", 0, ref)
        raise InputError(
            f"Assignee {assignee!r} is neither a person nor a department.",
            fix='use "person:ID" (GET /v1/people) or "department:NAME".',
            details={"field": "assignee"},
        )

    def transition(
        self,
        case_id: int,
        target: str,
        *,
        actor: lifecycle.Actor,
        note: str = "",
        assignee: str | None = None,
        photos: Sequence[str] = (),
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Move a case to ``target`` as ``actor`` and append the audit event, in one transaction; return the case.

        The change is :func:`gridgis.cases.lifecycle.transition`'s (errors: :class:`ConflictError` listing
        the allowed moves, :class:`ForbiddenError`, :class:`InputError`); :class:`NotFoundError` for an
        unknown case id; an assignee is checked by :meth:`assignment`.
        """
        now = now or utc_now()
        lifecycle.check_note(note)  # a long note: refused before the write
        config = self.config()
        leaders = self.people.directory().leader_of

        def work(cur):
            case = self._get(cur, case_id, lock=True)
            move = lifecycle.Move(
                target, note, self.assignment(assignee, case) if assignee is not None else None, tuple(photos)
            )
            up = lambda c: lifecycle.escalation_step(c, now, config, leaders)  # noqa: E731
            self._apply(cur, case_id, lifecycle.transition(case, move, actor, now, config, up))
            return self._get(cur, case_id)

        return self._write(work)

    def note(
        self, case_id: int, text: str, photos: Sequence[str], *, actor: lifecycle.Actor, now: datetime | None = None
    ) -> dict[str, Any]:
        """Add a note and/or photo references to a case without moving it; return the case."""
        now = now or utc_now()

        def work(cur):
            case = self._get(cur, case_id, lock=True)
            self._apply(cur, case_id, lifecycle.note(case, text, tuple(photos), actor, now))
            return self._get(cur, case_id)

        return self._write(work)

    def feedback(
        self, case_id: int, *, callback: str, rating: int | None, actor: lifecycle.Actor, now: datetime | None = None
    ) -> dict[str, Any]:
        """Record the call-back to the reporter (回访) and their rating (1-5) on a resolved, verified or closed
        case; :class:`ConflictError` before it is resolved."""
        now = now or utc_now()
        lifecycle.check_note(callback)
        if rating is not None and not (isinstance(rating, int) and 1 <= rating <= 5):
            raise InputError(
                f"rating {rating!r} must be 1 to 5.",
                fix="1 very unhappy ... 5 very happy.",
                details={"field": "rating"},
            )

        def work(cur):
            case = self._get(cur, case_id, lock=True)
            if case["status"] not in ("resolved", "verified", "closed"):
                raise ConflictError(
                    f"Case {case_id} is {case['status']!r}; the call-back comes once it is resolved.",
                    fix="resolve it first.",
                    details={"status": case["status"]},
                )
            sets = {
                "callback_note": callback,
                "callback_at": now,
                "callback_by": actor.name,
                "rating": rating,
                "updated_at": now,
            }
            text = f"回访: {callback}" + (f" (评价 {rating}/5)" if rating is not None else "")
            event = {
                "from_status": case["status"],
                "to_status": case["status"],
                "assignee": None,
                "note": text,
                "actor": actor.name,
                "person_id": actor.person_id,
                "photos": [],
                "at": now,
            }
            self._apply(cur, case_id, lifecycle.Change(sets, event))
            return self._get(cur, case_id)

        return self._write(work)

    def escalate_overdue(self, now: datetime | None = None, *, actor: lifecycle.Actor = lifecycle.SYSTEM) -> list[int]:
        """Escalate every open case past its deadline one level up, or raise an alert on those at the top
        (:func:`gridgis.cases.lifecycle.escalation`); return the ids of the cases escalated or alerted.

        Safe to run from several processes at once: each write checks the case did not move meanwhile,
        so a case moves once per deadline.
        """
        now = now or utc_now()
        config = self.config()
        leaders = self.people.directory().leader_of
        with self._tx(readonly=True) as cur:
            placeholders = ", ".join("?" * len(OPEN_STATUSES))
            cur.execute(
                self._q(
                    f"SELECT {', '.join(CASE_COLUMNS)} FROM cases "
                    f"WHERE status IN ({placeholders}) AND due_at < ? ORDER BY id"
                ),
                (*OPEN_STATUSES, self._ts(now)),
            )
            overdue = [self._case(r) for r in cur.fetchall()]
        done = []
        for case in overdue:
            change = lifecycle.escalation(case, now, config, leaders, actor)
            if change is None:
                continue
            unmoved = (("status = ?", case["status"]), ("level = ?", case["level"]), ("due_at < ?", self._ts(now)))
            if self._write(partial(self._apply, case_id=case["id"], change=change, unless_moved=unmoved)):
                done.append(case["id"])
                if "alerts" in change.sets:
                    log.warning("ALERT case %s overdue at the top of the chain (%s)", case["id"], case["assignee"])
        return done

    def _apply(self, cur, case_id: int, change: lifecycle.Change, unless_moved: Sequence[tuple[str, Any]] = ()) -> bool:
        """Write ``change`` to case ``case_id`` and its audit event; with ``unless_moved`` (conditions with one
        ``?`` each and their values), only while they hold. Return whether the case was written."""
        sets = {k: self._stored(v) for k, v in change.sets.items()}
        where = "".join(f" AND {cond}" for cond, _ in unless_moved)
        cur.execute(
            self._q(f"UPDATE cases SET {', '.join(f'{k} = ?' for k in sets)} WHERE id = ?{where}"),
            [*sets.values(), case_id, *(value for _, value in unless_moved)],
        )
        if cur.rowcount != 1:
            return False  # another escalator or a handler got there first
        e = change.event
        cur.execute(
            self._q(self._INSERT_FULL_EVENT),
            (
                case_id,
                self._ts(e["at"]),
                e["actor"],
                e["from_status"],
                e["to_status"],
                e["assignee"],
                e["note"],
                e.get("person_id"),
                json.dumps(e.get("photos") or [], ensure_ascii=False),
            ),
        )
        return True

    _INSERT_FULL_EVENT = (
        "INSERT INTO case_events (case_id, at, actor, from_status, to_status, assignee, note, person_id, photos) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )

    # --- configuration ---------------------------------------------------------------------------
    def config(self) -> CaseConfig:
        """The grid centre's configuration (read at most once a second per process; the defaults when none
        was stored)."""
        cached = self._config_cache
        if cached is not None and time.monotonic() - cached[0] < self.RULES_TTL:
            return cached[1]
        with self._tx(readonly=True) as cur:
            cur.execute("SELECT doc FROM case_config WHERE id = 1")
            row = cur.fetchone()
        config = parse_config(json.loads(row[0]), "stored configuration") if row else DEFAULT
        self._config_cache = (time.monotonic(), config)
        return config

    def set_config(
        self, doc: dict[str, Any], *, actor: str, source: str = "configuration", now: datetime | None = None
    ) -> CaseConfig:
        """Check and store a configuration document (see :mod:`gridgis.cases.config`); its ``routes``, when
        given, replace the routing table in the same transaction. Layers of the routes must exist."""
        config = parse_config(doc, source)
        stamp = self._ts(now or utc_now())
        for rule in config.routes or ():
            self.store.get_layer(rule["layer"])  # NotFoundError listing the layers
        stored = {k: v for k, v in doc.items() if k != "routes"}

        def work(cur):
            cur.execute("DELETE FROM case_config WHERE id = 1")
            cur.execute(
                self._q("INSERT INTO case_config (id, doc, updated_at, updated_by) VALUES (1, ?, ?, ?)"),
                (json.dumps(stored, ensure_ascii=False), stamp, actor),
            )
            if config.routes is not None:
                cur.execute("DELETE FROM case_routes")
                for r in config.routes:
                    cur.execute(
                        self._q(
                            "INSERT INTO case_routes (category, layer, department, max_distance_m, "
                            "updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?)"
                        ),
                        (r["category"], r["layer"], r["department"], r["max_distance_m"], stamp, actor),
                    )

        self._write(work)
        self._config_cache = self._rules_cache = None
        return config

    def _stored(self, value: Any) -> Any:
        """A Python value as the dialect stores it (datetimes, booleans)."""
        if isinstance(value, datetime):
            return self._ts(value)
        if isinstance(value, bool):
            return self.dialect.bool(value)
        return value

    # --- routing table -----------------------------------------------------------------------
    #: seconds a process keeps the routing table before reading it again (edits by other workers)
    RULES_TTL = 1.0

    def rules(self) -> dict[str, RouteRule]:
        """The routing table (read at most once a second per process; at once after an edit here)."""
        cached = self._rules_cache
        if cached is not None and time.monotonic() - cached[0] < self.RULES_TTL:
            return cached[1]
        with self._tx(readonly=True) as cur:
            cur.execute("SELECT category, layer, department, max_distance_m FROM case_routes ORDER BY category")
            rows = cur.fetchall()
        categories = self.config().categories
        rules = {r[0]: RouteRule(r[0], r[1], r[2], float(r[3]), categories=categories) for r in rows}
        self._rules_cache = (time.monotonic(), rules)
        return rules

    def set_rule(self, rule: RouteRule, *, actor: str, now: datetime | None = None) -> RouteRule:
        """Add or replace the rule of ``rule.category``."""

        def work(cur):
            cur.execute(self._q("DELETE FROM case_routes WHERE category = ?"), (rule.category,))
            cur.execute(
                self._q(
                    "INSERT INTO case_routes (category, layer, department, max_distance_m, updated_at, updated_by) "
                    "VALUES (?, ?, ?, ?, ?, ?)"
                ),
                (
                    rule.category,
                    rule.layer,
                    rule.department,
                    float(rule.max_distance_m),
                    self._ts(now or utc_now()),
                    actor,
                ),
            )

        self._write(work)
        self._rules_cache = None
        return rule

    def delete_rule(self, category: str) -> None:
        """Route ``category`` to grids again; :class:`NotFoundError` when it has no rule."""

        def work(cur):
            cur.execute(self._q("DELETE FROM case_routes WHERE category = ?"), (category,))
            if cur.rowcount == 0:
                raise NotFoundError(
                    f"No routing rule for category {category!r}.", fix="list them: GET /v1/cases/routes."
                )

        self._write(work)
        self._rules_cache = None

    # --- figures ----------------------------------------------------------------------------
    def timings(self, f: CaseFilter = CaseFilter()) -> list[tuple]:
        """(grid_id, community_id, town_id, status, level, created_at, closed_at, due_at) of matching cases."""
        where, params = self._where(f)
        with self._tx(readonly=True) as cur:
            cur.execute(
                self._q(
                    f"SELECT grid_id, community_id, town_id, status, level, created_at, closed_at, due_at "
                    f"FROM cases{where}"
                ),
                params,
            )
            return [(*r[:5], from_stored(r[5]), from_stored(r[6]), from_stored(r[7])) for r in cur.fetchall()]


class PlanChanged(ConflictError):
    """A case was routed on a plan that is no longer published (a publish committed meanwhile)."""

    code = "plan_changed"


def open_case_store(store_or_url=None) -> CaseStore:
    """The case tables of a store (an open :class:`gridgis.store.Store` or its URL), created on first use.

    Examples
    --------
    >>> import tempfile
    >>> cases = open_case_store(f"sqlite:///{tempfile.mkdtemp()}/cases.db")
    >>> cases.kind
    'sqlite'
    """
    if isinstance(store_or_url, Store):
        return CaseStore(store_or_url)
    return CaseStore(open_store(store_or_url), owns_store=True)
