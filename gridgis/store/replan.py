"""Publishing a plan as a migration: what refers to grids follows the grid that continues it.

A publish runs, in its one transaction, a **hook per store component that owns rows referring to grids**.
Each hook gets the open cursor and a :class:`Replan`: the old plan's grid id -> new grid id mapping
(lineage, :mod:`gridgis.lineage`, plus the planner's ``--map OLD=NEW``), the old grids left without a new
one (retired), and the new plan's grids with a point locator. It moves its rows and returns a
:class:`HookResult`: counts per community for the publish table, rows left unattached (listed until a
planner maps them) and rows that block the publish unless mapped or forced. A hook must not commit.

Hooks of today's tables: ``staff`` and ``worker_keys`` (here, the core store's tables), ``people`` (the
roster's grid posts), ``routing_rules`` and ``open_cases`` (:mod:`gridgis.cases.replan`). A component adds
its own by naming it in :data:`PUBLISH_HOOKS` (``"module:function"``, imported when a publish runs, so the
command line and every API worker run the same hooks) or, for a component loaded at run time,
:func:`register_publish_hook`::

    def move_people(store, cur, replan: Replan) -> HookResult:
        result = HookResult()
        for person_id, grid_id in ...:                    # rows attached to grids
            new = replan.mapping.get(grid_id)
            if new is None and grid_id in replan.retired:
                result.unattached_row("person", person_id, grid_id, replan.old_community(grid_id))
            elif new is not None and new != grid_id:
                ...                                       # UPDATE through cur
                result.count(replan.new_community(new), "people_moved")
        return result

A dry run (``dry_run=True``) runs the very same hooks in the transaction and rolls it back.

The component ``plans`` owns one table, ``grid_code_register``: every grid code ever published, the plan
that first published it and, once a publish dropped it, when and by which plan it was retired. A retired
code is never given to another grid: :func:`gridgis.lineage.continue_identity` numbers new grids after
every code in it, and a publish lists a new grid that carries a retired code.
"""

from __future__ import annotations

import csv
import importlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gridgis import lineage
from gridgis.errors import ConflictError, InputError
from gridgis.store.dialect import Dialect
from gridgis.times import utc_now

COMPONENT = "plans"

#: columns of the per-community publish table, in order
TABLE_COLUMNS = (
    "grids_old",
    "grids_new",
    "kept",
    "new",
    "retired",
    "buildings_moved",
    "staff_kept",
    "staff_moved",
    "staff_unattached",
    "keys_moved",
    "keys_unattached",
    "cases_rerouted",
    "cases_unrouted",
)

#: the publish hooks, in the order they run: name -> "module:function" (see the module docstring)
PUBLISH_HOOKS: dict[str, str] = {
    "staff": "gridgis.store.replan:move_staff",
    "worker_keys": "gridgis.store.replan:move_worker_keys",
    "people": "gridgis.cases.replan:move_people",
    "routing_rules": "gridgis.cases.replan:move_routing_rules",
    "open_cases": "gridgis.cases.replan:move_open_cases",
}
_registered: dict[str, Callable] = {}

_REGISTER_SQL = """
    CREATE TABLE grid_code_register (grid_code TEXT PRIMARY KEY, grid_id TEXT NOT NULL,
        community_id TEXT NOT NULL, first_plan TEXT NOT NULL, first_published_at {ts} NOT NULL,
        retired_by TEXT, retired_at {ts});
    CREATE INDEX grid_code_register_community ON grid_code_register (community_id)
"""


def _backfill_register(store, cur) -> None:
    """Step 2: the codes of every plan published so far (the published one's live; the others' retired)."""
    cur.execute("SELECT plan_id, name, status, valid_from FROM plans WHERE valid_from IS NOT NULL ORDER BY valid_from")
    plans = cur.fetchall()
    live: set[str] = set()
    now = store.dialect.ts(utc_now())
    for plan_id, name, status, valid_from in plans:
        grids = _grid_rows(store, cur, plan_id)
        _register(store, cur, grids, name, valid_from)
        if status == "published":
            live = {g["grid_code"] for g in grids}
    cur.execute("SELECT grid_code FROM grid_code_register")
    gone = [r[0] for r in cur.fetchall() if r[0] not in live]
    for code in gone:
        cur.execute(
            store.dialect.q("UPDATE grid_code_register SET retired_at = ? WHERE grid_code = ? AND retired_at IS NULL"),
            (now, code),
        )


def plans_migrations(dialect: Dialect) -> list:
    """The ``plans`` component's schema steps (the code register) for ``dialect``."""
    return [dialect.schema(_REGISTER_SQL), _backfill_register]


def register_publish_hook(name: str, hook: Callable[[Any, Any, Replan], HookResult]) -> None:
    """Run ``hook(store, cursor, replan)`` in every publish of this process, after :data:`PUBLISH_HOOKS`."""
    _registered[name] = hook


def publish_hooks() -> dict[str, Callable]:
    """name -> hook function, in the order they run."""
    hooks = {}
    for name, target in PUBLISH_HOOKS.items():
        module, _, attr = target.partition(":")
        hooks[name] = getattr(importlib.import_module(module), attr)
    return {**hooks, **_registered}


@dataclass(frozen=True)
class Replan:
    """What a publish changes, handed to every hook.

    Attributes
    ----------
    old_plan, new_plan
        Names of the plan published until now (None: the first publish) and of the plan being published.
    mapping
        Old grid id -> new grid id: each continuing grid (itself, when it kept its id) and the planner's map.
    retired
        Old grid ids (or ids of grids retired earlier) that no new grid continues and nobody mapped.
    new_grids
        The new plan's grids (``grid_id``, ``community_id``, ``town_id``, geometry in EPSG:4326).
    locator
        Point locator over ``new_grids``: ``locate(lon, lat)`` -> row positions, -1 outside
        (:class:`gridgis.assign.GridIndex`).
    old_communities
        Old (and earlier retired) grid id -> community id.
    now, actor
        When, and who publishes (for audit events).
    """

    old_plan: str | None
    new_plan: str
    mapping: Mapping[str, str]
    retired: frozenset[str]
    new_grids: gpd.GeoDataFrame
    locator: Any
    old_communities: Mapping[str, str]
    now: datetime
    actor: str

    def new_community(self, grid_id: str) -> str:
        """Community of a new grid."""
        return self._new_coms.get(grid_id, grid_id[:12])

    def old_community(self, grid_id: str) -> str:
        """Community of an old grid."""
        return self.old_communities.get(grid_id, grid_id[:12])

    @property
    def _new_coms(self) -> dict[str, str]:
        coms = self.__dict__.get("_coms")
        if coms is None:
            grids = self.new_grids
            coms = dict(zip(grids["grid_id"].astype(str), grids["community_id"].astype(str), strict=True))
            object.__setattr__(self, "_coms", coms)
        return coms

    def locate(self, lon: Iterable[float], lat: Iterable[float]) -> np.ndarray:
        """Row positions in :attr:`new_grids` of WGS84 points (-1 outside every grid)."""
        return np.asarray(self.locator.locate(np.asarray(lon, float), np.asarray(lat, float)), dtype=np.int64)


@dataclass
class HookResult:
    """What one hook did: counts per community, rows left unattached, rows that block the publish."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    unattached: list[dict[str, Any]] = field(default_factory=list)
    blocking: list[dict[str, Any]] = field(default_factory=list)

    def count(self, community_id: str, column: str, n: int = 1) -> None:
        """Add ``n`` to ``column`` (one of :data:`TABLE_COLUMNS`) of ``community_id``."""
        row = self.counts.setdefault(community_id, {})
        row[column] = row.get(column, 0) + n

    def unattached_row(self, kind: str, row_id: str, grid_id: str, community_id: str, *, blocks: bool = False) -> None:
        """List a row left on a retired grid; ``blocks``: the publish is refused unless it is mapped or forced."""
        item = {"kind": kind, "id": row_id, "grid_id": grid_id, "community_id": community_id}
        self.unattached.append(item)
        if blocks:
            self.blocking.append(item)


@dataclass(frozen=True)
class PublishReport:
    """The outcome (or, for a dry run, the forecast) of a publish: the per-community table and what is left."""

    plan: str
    previous: str | None
    dry_run: bool
    forced: bool
    published: bool
    table: list[dict[str, Any]]
    totals: dict[str, int]
    unattached: list[dict[str, Any]]
    blocking: list[dict[str, Any]]
    reused_codes: list[str]

    @property
    def refused(self) -> bool:
        """True when this publish is (or, dry, would be) refused without ``force``."""
        return bool(self.blocking) and not self.forced

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the body of the HTTP answer and of ``--json``)."""
        return {
            "plan": self.plan,
            "previous": self.previous,
            "dry_run": self.dry_run,
            "forced": self.forced,
            "published": self.published,
            "refused": self.refused,
            "totals": dict(self.totals),
            "communities": list(self.table),
            "unattached": list(self.unattached),
            "blocking": list(self.blocking),
            "reused_codes": list(self.reused_codes),
        }


class PublishRefused(ConflictError):
    """A publish that would leave open cases or staff on retired grids without a mapping."""

    code = "publish_refused"


class _DryRun(Exception):
    def __init__(self, report: PublishReport):
        self.report = report


# --- reading plans ------------------------------------------------------------------------------------
def _props(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str | bytes) else dict(value)


def _grid_rows(store, cur, plan_id: int) -> list[dict[str, Any]]:
    cur.execute(store.dialect.q("SELECT fid, props FROM features WHERE plan_id = ? AND layer = 'grids'"), (plan_id,))
    rows = []
    for fid, props in cur.fetchall():
        p = _props(props)
        code = str(p.get("grid_code") or fid)
        row = {"grid_id": str(fid), "grid_code": code, "community_id": str(p.get("community_id") or code[:12])}
        if "previous_grid_id" in p:  # a plan without the column continues grids by id (gridgis.lineage)
            row["previous_grid_id"] = p["previous_grid_id"]
        rows.append(row)
    return rows


def _register(store, cur, grids: list[dict[str, Any]], plan: str, at: Any) -> None:
    sql = store.dialect.q(
        "INSERT INTO grid_code_register (grid_code, grid_id, community_id, first_plan, first_published_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (grid_code) DO NOTHING"
    )
    cur.executemany(sql, [(g["grid_code"], g["grid_id"], g["community_id"], plan, at) for g in grids])


def register_codes(store) -> pd.DataFrame:
    """The register: every code ever published (grid_code, grid_id, community_id, first_plan, retired_by,
    retired_at); empty when nothing was published."""
    store.migrate_component(COMPONENT, plans_migrations(store.dialect))
    with store.cursor(readonly=True) as cur:
        cur.execute(
            "SELECT grid_code, grid_id, community_id, first_plan, retired_by, retired_at FROM grid_code_register "
            "ORDER BY grid_code"
        )
        rows = cur.fetchall()
    columns = ["grid_code", "grid_id", "community_id", "first_plan", "retired_by", "retired_at"]
    return pd.DataFrame(rows, columns=columns)


def _buildings(store, plan_id: int) -> pd.DataFrame | None:
    """building_id -> grid_id of a stored plan's buildings (None when it has none)."""
    with store.cursor(readonly=True) as cur:
        cur.execute(store.dialect.q("SELECT props FROM features WHERE plan_id = ? AND layer = 'buildings'"), (plan_id,))
        rows = [_props(r[0]) for r in cur.fetchall()]
    if not rows:
        return None
    frame = pd.DataFrame({"building_id": [str(r.get("building_id")) for r in rows]})
    frame["grid_id"] = [None if r.get("grid_id") is None else str(r["grid_id"]) for r in rows]
    return frame


# --- the planner's map --------------------------------------------------------------------------------
def parse_map(pairs: Iterable[str] = (), csv_path: str | Path | None = None) -> dict[str, str]:
    """OLD -> NEW grid ids from ``OLD=NEW`` strings and a CSV file (columns ``old``/``new``, or the first two).

    Raises :class:`InputError` naming the bad pair or CSV row.

    Examples
    --------
    >>> parse_map(["440784101001002=440784101001005"])
    {'440784101001002': '440784101001005'}
    """
    out: dict[str, str] = {}
    for pair in pairs:
        old, sep, new = str(pair).partition("=")
        if not sep or not old.strip() or not new.strip():
            raise InputError(f"--map {pair!r} is not OLD=NEW.", fix="give --map 440784101001002=440784101001005.")
        out[old.strip()] = new.strip()
    if csv_path is not None:
        try:
            with open(csv_path, newline="", encoding="utf-8-sig") as fh:
                rows = list(csv.reader(fh))
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"Cannot read map file {csv_path}: {exc}.", fix="give a UTF-8 CSV: old,new.") from exc
        start = 1 if rows and [c.strip().lower() for c in rows[0][:2]] == ["old", "new"] else 0
        for n, row in enumerate(rows[start:], start=start + 1):
            if not any(c.strip() for c in row):
                continue
            if len(row) < 2 or not row[0].strip() or not row[1].strip():
                raise InputError(
                    f"{csv_path}, row {n}: {row!r} is not OLD,NEW.", fix="give two grid ids per row (header old,new)."
                )
            out[row[0].strip()] = row[1].strip()
    return out


# --- the publish --------------------------------------------------------------------------------------
def publish(
    store,
    name: str,
    *,
    mapping: Mapping[str, str] | None = None,
    force: bool = False,
    dry_run: bool = False,
    actor: str = "planner",
    against: str | None = None,
) -> PublishReport:
    """Publish plan ``name`` as a migration (see the module docstring); return the per-community report.

    Raises
    ------
    NotFoundError
        No plan ``name``.
    InputError
        A map names a grid that is not in the old plan (or retired) or not in the new plan.
    PublishRefused
        Staff or open cases would be left on retired grids without a mapping (``details`` holds the report);
        pass ``force`` to publish anyway (they stay unattached). A new grid carrying a retired code (a plan
        published before coming back) does not block: the report lists it in ``reused_codes``.
    ConflictError
        Another publish committed meanwhile (retry).

    ``against`` (a diff, always dry): compare with that plan instead of the published one; only against the
    published plan do the hooks run (staff, keys, cases), otherwise the table has grids and buildings only.
    """
    store.migrate_component(COMPONENT, plans_migrations(store.dialect))
    new_info = store.get_plan(name)
    plans = store.list_plans()
    old_info = next((p for p in plans if p.status == "published" and p.name != name), None)
    if old_info is None and new_info.status == "published":
        old_info = new_info  # publishing the published plan again: only the planner's map does something
    diff_only = False
    if against is not None:  # a diff: against the published plan it is a dry run, else grids and buildings only
        other = store.get_plan(against)
        diff_only = other.status != "published" or other.name == name
        old_info, dry_run = other, True
    with store.cursor(readonly=True) as cur:
        new_rows = _grid_rows(store, cur, new_info.plan_id)
        old_rows = _grid_rows(store, cur, old_info.plan_id) if old_info else []
        cur.execute("SELECT grid_code, grid_id, community_id, retired_at FROM grid_code_register")
        register = cur.fetchall()
    new_grids = store.load_layer(new_info.plan_id, "grids")
    old_ids = [g["grid_id"] for g in old_rows]
    new_frame = pd.DataFrame(new_rows)
    line = lineage.continues(new_frame, old_ids) if len(new_frame) else {}
    if old_info is new_info and against is None:
        line = {g: g for g in old_ids}
    mapping = dict(mapping or {})
    earlier = {r[1]: r[2] for r in register if r[3] is not None}  # grids retired by earlier publishes
    old_coms = {**earlier, **{g["grid_id"]: g["community_id"] for g in old_rows}}
    new_ids = set(new_frame["grid_id"]) if len(new_frame) else set()
    _check_map(mapping, old_coms, new_ids, name)
    full = {p: n for n, p in line.items() if p is not None}
    full.update(mapping)
    retired = frozenset((set(old_ids) | set(earlier)) - set(full))
    moves = None
    table = lineage.community_table(pd.DataFrame(old_rows, columns=["grid_id", "community_id"]), new_frame, line)
    if old_info is not None and old_info is not new_info:
        old_b, new_b = _buildings(store, old_info.plan_id), _buildings(store, new_info.plan_id)
        if old_b is not None and new_b is not None:
            pairs = old_b.merge(new_b, on="building_id", suffixes=("_old", "_new"))
            moves = pd.DataFrame({"old_grid": pairs["grid_id_old"], "new_grid": pairs["grid_id_new"]})
            moves["moved"] = lineage.moved(moves["old_grid"], moves["new_grid"], line)
            table = lineage.community_table(
                pd.DataFrame(old_rows, columns=["grid_id", "community_id"]), new_frame, line, moves
            )
    retired_codes = {r[0] for r in register if r[3] is not None}
    kept_codes = {g["grid_code"] for g in new_rows if line.get(g["grid_id"]) is not None}
    reused = sorted({g["grid_code"] for g in new_rows} & retired_codes - kept_codes)
    from gridgis.assign import GridIndex
    from gridgis.store.gridindex import plan_index

    replan = Replan(
        old_plan=None if old_info is None else old_info.name,
        new_plan=name,
        mapping=full,
        retired=retired,
        new_grids=new_grids,
        # a publish keeps the index in the store, so every API worker reads it instead of building it
        locator=GridIndex(new_grids) if dry_run else plan_index(store, new_info.plan_id, new_grids),
        old_communities=old_coms,
        now=utc_now(),
        actor=actor,
    )
    hooks = publish_hooks()
    if diff_only:
        return _report(name, old_info.name, True, force, table, [], reused)
    try:
        with store.connect() as con:
            cur = con.cursor()
            store._lock_plans(cur)
            cur.execute("SELECT name FROM plans WHERE status = 'published'")
            row = cur.fetchone()
            if (row[0] if row else None) != (None if old_info is None else old_info.name):
                raise ConflictError(
                    f"Plan {row[0] if row else None!r} was published meanwhile.",
                    fix=f"run the publish of {name!r} again (its table is computed against the plan published now).",
                )
            if not dry_run:
                store._switch_plan(cur, name)  # first: intake waiting on the published plan then sees the new one
            results = [hook(store, cur, replan) for hook in hooks.values()]
            report = _report(name, replan.old_plan, dry_run, force, table, results, reused)
            if report.refused and not dry_run:
                raise PublishRefused(
                    _refusal_message(report),
                    fix="map each retired grid to a grid of the new plan (--map OLD=NEW or --map-file map.csv; "
                    '"map" in POST /v1/plans/NAME/publish), or publish anyway with --force (?force=true): they '
                    "stay unattached and are listed by gridgis plan unattached.",
                    details=report.as_dict(),
                )
            if dry_run:
                raise _DryRun(report)
            now = store.dialect.ts(replan.now)
            _register(store, cur, [g for g in new_rows], name, now)
            dropped = [g["grid_code"] for g in old_rows if g["grid_id"] in retired]
            cur.executemany(
                store.dialect.q(
                    "UPDATE grid_code_register SET retired_at = ?, retired_by = ? "
                    "WHERE grid_code = ? AND retired_at IS NULL"
                ),
                [(now, name, c) for c in dropped],
            )
            cur.executemany(
                store.dialect.q(
                    "UPDATE grid_code_register SET retired_at = NULL, retired_by = NULL WHERE grid_code = ?"
                ),
                [(c,) for c in reused],
            )
            store._bump(cur)
    except _DryRun as dry:
        return dry.report
    return PublishReport(**{**report.__dict__, "published": True})


def _check_map(mapping: Mapping[str, str], old_coms: Mapping[str, str], new_ids: set[str], name: str) -> None:
    bad_old = sorted(o for o in mapping if o not in old_coms)
    bad_new = sorted(n for n in mapping.values() if n not in new_ids)
    if bad_old or bad_new:
        parts = []
        if bad_old:
            parts.append(f"{bad_old[:10]} are not grids of the published plan (nor retired grids)")
        if bad_new:
            parts.append(f"{bad_new[:10]} are not grids of plan {name!r}")
        raise InputError(
            "Bad grid map: " + "; ".join(parts) + ".",
            fix="map OLD=NEW with OLD a retired grid (gridgis plan diff / plan unattached) and NEW a grid of "
            f"{name!r}.",
            details={"unknown_old": bad_old[:100], "unknown_new": bad_new[:100]},
        )


def _report(name, previous, dry_run, force, table, results, reused) -> PublishReport:
    counts: dict[str, dict[str, int]] = {}
    unattached, blocking = [], []
    for res in results:
        for com, row in res.counts.items():
            target = counts.setdefault(com, {})
            for k, v in row.items():
                target[k] = target.get(k, 0) + v
        unattached += res.unattached
        blocking += res.blocking
    rows = []
    coms = sorted(set(table.index) | set(counts))
    for com in coms:
        row = {"community_id": com}
        for col in TABLE_COLUMNS:
            if col in table.columns and com in table.index:
                row[col] = int(table.at[com, col])
            else:
                row[col] = int(counts.get(com, {}).get(col, 0))
        rows.append(row)
    totals = {col: sum(r[col] for r in rows) for col in TABLE_COLUMNS}
    return PublishReport(name, previous, dry_run, force, False, rows, totals, unattached, blocking, reused)


def _refusal_message(report: PublishReport) -> str:
    parts = []
    kinds: dict[str, int] = {}
    for item in report.blocking:
        kinds[item["kind"]] = kinds.get(item["kind"], 0) + 1
    if kinds:
        grids = sorted({i["grid_id"] for i in report.blocking})
        what = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        parts.append(f"it would leave {what} on {len(grids)} retired grid(s) without a mapping: {grids[:10]}")
    return f"Publishing {report.plan!r} was refused: " + "; ".join(parts) + "."


def table_text(report: PublishReport, *, changed_only: bool = True) -> str:
    """The per-community table as aligned text (communities where something changes, then the totals)."""
    short = {
        "grids_old": "old",
        "grids_new": "new_n",
        "kept": "kept",
        "new": "new",
        "retired": "retired",
        "buildings_moved": "bldg_moved",
        "staff_kept": "staff_kept",
        "staff_moved": "staff_moved",
        "staff_unattached": "staff_left",
        "keys_moved": "keys_moved",
        "keys_unattached": "keys_left",
        "cases_rerouted": "cases_rerouted",
        "cases_unrouted": "cases_left",
    }
    cols = [c for c in TABLE_COLUMNS if c != "grids_old" and c != "grids_new"]
    head = ["community".ljust(12)] + [short[c] for c in cols]
    lines = ["  ".join(head)]
    quiet = ("staff_kept",)
    for row in report.table:
        if changed_only and not any(row[c] for c in cols if c not in quiet and c != "kept"):
            continue
        lines.append("  ".join([row["community_id"].ljust(12)] + [str(row[c]).rjust(len(short[c])) for c in cols]))
    lines.append("  ".join(["total".ljust(12)] + [str(report.totals[c]).rjust(len(short[c])) for c in cols]))
    return "\n".join(lines)


# --- the core store's hooks -----------------------------------------------------------------------------
def _people(doc: Mapping[str, Any]) -> int:
    return (1 if doc.get("leader") else 0) + len(doc.get("workers") or [])


def merge_staff(into: Mapping[str, Any] | None, moved: Mapping[str, Any]) -> dict[str, Any]:
    """The staff of a grid that takes ``moved`` over: its own leader if it has one, else the moved leader; the
    workers of both (a name only once).

    Examples
    --------
    >>> merge_staff({"leader": {"name": "Li"}, "workers": [{"name": "Wu"}]},
    ...             {"leader": {"name": "Ma"}, "workers": [{"name": "Wu"}, {"name": "Zhao"}]})
    {'leader': {'name': 'Li'}, 'workers': [{'name': 'Wu'}, {'name': 'Zhao'}]}
    """
    into = dict(into or {})
    out = {**moved, **into}
    out["leader"] = into.get("leader") or moved.get("leader")
    workers = list(into.get("workers") or [])
    names = {w.get("name") for w in workers if isinstance(w, Mapping)}
    workers += [w for w in moved.get("workers") or [] if not (isinstance(w, Mapping) and w.get("name") in names)]
    out["workers"] = workers
    return out


def move_staff(store, cur, replan: Replan) -> HookResult:
    """Staff follow their grid: to the grid that continues it (or the planner's map); a retired grid's staff stay
    where they are, unattached (blocking the publish) and listed."""
    q = store.dialect.q
    result = HookResult()
    cur.execute("SELECT grid_id, doc FROM staff ORDER BY grid_id")
    docs = {gid: _props(doc) for gid, doc in cur.fetchall()}
    stamp = store.dialect.ts(replan.now)
    out: dict[str, dict[str, Any]] = {}
    moving: list[tuple[str, str, dict[str, Any]]] = []
    for gid, doc in docs.items():
        target = replan.mapping.get(gid)
        if target is None:
            out[gid] = doc
            if gid in replan.retired and _people(doc):
                result.unattached_row("staff", gid, gid, replan.old_community(gid), blocks=True)
                result.count(replan.old_community(gid), "staff_unattached", _people(doc))
        elif target == gid:
            out[gid] = doc
            result.count(replan.new_community(gid), "staff_kept", _people(doc))
        else:
            moving.append((gid, target, doc))
    for _, target, doc in moving:  # after the staying ones: a grid's own leader stays its leader
        out[target] = merge_staff(out.get(target), doc)
        result.count(replan.new_community(target), "staff_moved", _people(doc))
    changed = {g for g, _, _ in moving} | {t for _, t, _ in moving}
    for gid in sorted(changed):
        cur.execute(q("DELETE FROM staff WHERE grid_id = ?"), (gid,))
        if gid in out:
            cur.execute(
                q("INSERT INTO staff (grid_id, doc, updated_at) VALUES (?, ?, ?)"),
                (gid, json.dumps(out[gid], ensure_ascii=False), stamp),
            )
    return result


def move_worker_keys(store, cur, replan: Replan) -> HookResult:
    """A worker key's grid scopes follow the grids; a retired grid stays in the scope (it covers nothing, and
    its id is never reused) and is listed until mapped."""
    q = store.dialect.q
    result = HookResult()
    cur.execute("SELECT key_hash, prefix, grids FROM api_keys WHERE role = 'worker' AND revoked_at IS NULL")
    for key_hash, prefix, grids in cur.fetchall():
        grids = list(_props_list(grids))
        out = []
        for g in grids:
            target = replan.mapping.get(g)
            if target is None:
                out.append(g)
                if g in replan.retired:
                    result.unattached_row("worker_key", prefix, g, replan.old_community(g))
                    result.count(replan.old_community(g), "keys_unattached")
            else:
                out.append(target)
                if target != g:
                    result.count(replan.new_community(target), "keys_moved")
        out = sorted(set(out))
        if out != sorted(set(grids)):
            cur.execute(q("UPDATE api_keys SET grids = ? WHERE key_hash = ?"), (json.dumps(out), key_hash))
    return result


def _props_list(value: Any) -> list:
    return json.loads(value) if isinstance(value, str | bytes) else list(value)


def unattached(store) -> list[dict[str, Any]]:
    """Staff and worker-key scopes on grids that are not in the published plan (kind, id, grid_id,
    community_id), so a planner can map them (``gridgis plan map``)."""
    store.migrate_component(COMPONENT, plans_migrations(store.dialect))
    info = store.get_plan(None)
    with store.cursor(readonly=True) as cur:
        live = {g["grid_id"] for g in _grid_rows(store, cur, info.plan_id)}
        cur.execute("SELECT grid_id, doc FROM staff ORDER BY grid_id")
        staff = cur.fetchall()
        cur.execute("SELECT prefix, grids FROM api_keys WHERE role = 'worker' AND revoked_at IS NULL ORDER BY prefix")
        keys = cur.fetchall()
    out = []
    for gid, doc in staff:
        if gid not in live and _people(_props(doc)):
            out.append({"kind": "staff", "id": gid, "grid_id": gid, "community_id": gid[:12]})
    for prefix, grids in keys:
        for g in _props_list(grids):
            if g not in live:
                out.append({"kind": "worker_key", "id": prefix, "grid_id": g, "community_id": g[:12]})
    return out
