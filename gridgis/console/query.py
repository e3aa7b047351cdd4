"""The console's view of the case tables: one filter for the list, its map and its figures (read only).

:class:`Selection` holds what a dispatcher picks (status, level, overdue, category, town, community,
grid, assignee, reporting time, a search text) plus the caller's scope; :func:`page` returns a
sorted page of it, :func:`points` the map's points of the same selection, :func:`stamp` a cheap
value that changes whenever any case in the tables changes (the page polls it).

Examples
--------
>>> import tempfile
>>> from gridgis.cases import open_case_store
>>> cases = open_case_store(f"sqlite:///{tempfile.mkdtemp()}/c.db")
>>> page(cases, Selection(status=("assigned",), search="oil"), sort="due_at", limit=10)
([], 0)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gridgis.cases.lifecycle import LEVELS, OPEN_STATUSES, check_status
from gridgis.cases.store import CASE_COLUMNS, CaseStore, scope_sql
from gridgis.errors import InputError
from gridgis.times import utc_now

#: sort keys: name -> SQL order (the id breaks ties, so paging is stable)
SORTS = {
    "newest": "id DESC",
    "oldest": "id ASC",
    "due_at": "due_at ASC, id ASC",
    "updated": "updated_at DESC, id DESC",
    "level": "level DESC, due_at ASC, id ASC",
}
#: most points a map gets (the newest first); the page says when there are more
MAX_POINTS = 5_000


@dataclass(frozen=True)
class Selection:
    """What the console lists. ``level`` is one of :data:`gridgis.cases.lifecycle.LEVELS`; ``overdue``
    True keeps open cases past their deadline (``now`` of the query); ``assignee`` matches exactly;
    ``search`` matches the case id or a part of the description or assignee; ``held_by`` keeps the cases
    held by one of these assignees (a handler's "mine": ``person:ID``, ``community:ID``...), and with
    ``to_check`` also the resolved and verified cases of the scope (a community's 核查 and 销号); ``grid_ids``
    and ``units`` are the caller's scope (:func:`gridgis.cases.store.scope_sql`; ``grid_ids`` None: all)."""

    status: tuple[str, ...] = ()
    level: str | None = None
    overdue: bool = False
    category: str | None = None
    town_id: str | None = None
    community_id: str | None = None
    grid_id: str | None = None
    assignee: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    search: str | None = None
    held_by: tuple[str, ...] = ()
    to_check: bool = False
    grid_ids: tuple[str, ...] | None = None
    units: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        for s in self.status:
            check_status(s)
        if self.level is not None and self.level not in LEVELS:
            raise InputError(f"Unknown level {self.level!r}.", fix=f"use one of {list(LEVELS)}.")


def _where(cases: CaseStore, s: Selection, now: datetime) -> tuple[str, list[Any]]:
    ts = cases.dialect.ts
    clauses: list[str] = []
    params: list[Any] = []
    for col in ("category", "town_id", "community_id", "grid_id", "assignee"):
        value = getattr(s, col)
        if value:
            clauses.append(f"{col} = ?")
            params.append(value)
    if s.status:
        clauses.append(f"status IN ({', '.join('?' * len(s.status))})")
        params.extend(s.status)
    if s.level is not None:
        clauses.append("level = ?")
        params.append(LEVELS.index(s.level))
    if s.overdue:
        clauses.append(f"status IN ({', '.join('?' * len(OPEN_STATUSES))}) AND due_at < ?")
        params.extend([*OPEN_STATUSES, ts(now)])
    if s.since is not None:
        clauses.append("created_at >= ?")
        params.append(ts(s.since))
    if s.until is not None:
        clauses.append("created_at < ?")
        params.append(ts(s.until))
    if s.search:
        text = s.search.strip()
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        clause = "(description LIKE ? ESCAPE '\\' OR assignee LIKE ? ESCAPE '\\'"
        params.extend([like, like])
        if text.isdigit() and len(text) < 18:
            clause += " OR id = ?"
            params.append(int(text))
        clauses.append(clause + ")")
    if s.held_by:
        held = f"assignee IN ({', '.join('?' * len(s.held_by))})"
        clauses.append(f"({held} OR status IN ('resolved', 'verified'))" if s.to_check else held)
        params.extend(s.held_by)
    scope, scope_params = scope_sql(s.grid_ids, s.units)
    if scope is not None:
        clauses.append(scope)
        params.extend(scope_params)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def page(
    cases: CaseStore,
    s: Selection,
    *,
    sort: str = "newest",
    limit: int = 50,
    offset: int = 0,
    now: datetime | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """(one page of the selected cases in ``sort`` order, how many are selected). :class:`InputError` for an
    unknown sort or a bad page (1 <= limit <= 500, offset >= 0)."""
    if sort not in SORTS:
        raise InputError(f"Unknown sort {sort!r}.", fix=f"use one of {list(SORTS)}.")
    if not (1 <= limit <= 500) or offset < 0:
        raise InputError(f"Bad page: limit={limit}, offset={offset}.", fix="use 1 <= limit <= 500 and offset >= 0.")
    where, params = _where(cases, s, now or utc_now())
    q = cases.dialect.q
    with cases.store.cursor(readonly=True) as cur:
        cur.execute(q(f"SELECT COUNT(*) FROM cases{where}"), params)
        total = int(cur.fetchone()[0])
        cur.execute(
            # ids first (an index can often answer and sort them), then the page's rows by id: sorting whole
            # rows of a large selection costs several times more
            q(
                f"SELECT {', '.join('c.' + col for col in CASE_COLUMNS)} FROM "
                f"(SELECT id FROM cases{where} ORDER BY {SORTS[sort]} LIMIT ? OFFSET ?) AS s "
                f"JOIN cases c ON c.id = s.id ORDER BY {', '.join('c.' + o for o in SORTS[sort].split(', '))}"
            ),
            [*params, limit, offset],
        )
        return [cases._case(r) for r in cur.fetchall()], total


def points(cases: CaseStore, s: Selection, *, now: datetime | None = None) -> list[tuple[int, float, float, str, bool]]:
    """The map of the selection: (id, lon, lat, status, overdue) of at most :data:`MAX_POINTS` cases, newest
    first (lon/lat WGS 84)."""
    now = now or utc_now()
    where, params = _where(cases, s, now)
    q = cases.dialect.q
    with cases.store.cursor(readonly=True) as cur:
        cur.execute(
            q(
                "SELECT c.id, c.lon, c.lat, c.status, c.due_at FROM "
                f"(SELECT id FROM cases{where} ORDER BY id DESC LIMIT ?) AS s JOIN cases c ON c.id = s.id "
                "ORDER BY c.id DESC"
            ),
            [*params, MAX_POINTS],
        )
        rows = cur.fetchall()
    cutoff = cases.dialect.ts(now)
    return [(int(r[0]), float(r[1]), float(r[2]), r[3], r[3] in OPEN_STATUSES and r[4] < cutoff) for r in rows]


def stamp(cases: CaseStore) -> str:
    """A value that changes when a case is added or moved: the highest case id and audit event id (every
    intake and move appends an event; both are primary keys, so this reads two index ends)."""
    with cases.store.cursor(readonly=True) as cur:
        cur.execute("SELECT (SELECT MAX(id) FROM cases), (SELECT MAX(id) FROM case_events)")
        top, event = cur.fetchone()
    return f"{top or 0}:{event or 0}"
