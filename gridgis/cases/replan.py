"""The case tables' publish hooks (:mod:`gridgis.store.replan`): open cases follow their location.

An open case whose point lies, in the new plan, in another grid than the one it is on is re-routed there
(its grid, community and town; a grid worker's or leader's case goes to the new grid's worker on duty, else
its leader, else its desk) with an audit event naming both grids. A case whose point lies outside every new
grid follows the grid that continues its own (or the planner's map); with neither it blocks the publish.
Closed and rejected cases keep the grid they were handled in: history is never rewritten.
"""

from __future__ import annotations

import json

from gridgis.cases.lifecycle import OPEN_STATUSES
from gridgis.cases.people import COMPONENT as PEOPLE
from gridgis.cases.routing import pick_staff
from gridgis.store.replan import HookResult, Replan

#: assignee kinds that belong to a grid (re-picked on the new grid); departments and desks keep theirs
_GRID_KINDS = ("worker", "leader", "grid")


def move_routing_rules(store, cur, replan: Replan) -> HookResult:
    """The routing table (``case_routes``) sends a category to a department layer; it names no grid, so a
    re-plan leaves it as it is. (A component whose rules name grids moves them here.)"""
    return HookResult()


def _has_component(store, cur, component: str) -> bool:
    cur.execute(store.dialect.q("SELECT version FROM schema_version WHERE component = ?"), (component,))
    row = cur.fetchone()
    return bool(row and row[0])


def _has_cases(store, cur) -> bool:
    return _has_component(store, cur, "cases")


def move_people(store, cur, replan: Replan) -> HookResult:
    """People's grid posts (:mod:`gridgis.cases.people`, the roster the public staff documents are written from)
    follow their grid like the staff documents do; a post on a retired grid stays there, listed as unattached
    until a planner maps the grid (the staff documents' hook already blocks the publish for it)."""
    result = HookResult()
    if not _has_component(store, cur, PEOPLE):
        return result
    q = store.dialect.q
    cur.execute("SELECT DISTINCT person_id, grid_id FROM person_posts WHERE level = 'grid' ORDER BY grid_id")
    posts = cur.fetchall()
    for person_id, grid_id in posts:
        if replan.mapping.get(grid_id) is None and grid_id in replan.retired:
            result.unattached_row("person", person_id, grid_id, replan.old_community(grid_id))
    moving = {g: replan.mapping[g] for _, g in posts if replan.mapping.get(g) not in (None, g)}
    # two steps, so a grid that takes another's id in a swap is not moved twice
    for old in moving:
        cur.execute(q("UPDATE person_posts SET grid_id = ? WHERE level = 'grid' AND grid_id = ?"), (f"~{old}", old))
    for old, new in moving.items():
        cur.execute(q("UPDATE person_posts SET grid_id = ? WHERE level = 'grid' AND grid_id = ?"), (new, f"~{old}"))
    return result


def move_open_cases(store, cur, replan: Replan) -> HookResult:
    """Re-route the open cases the new plan places in another grid (see the module docstring)."""
    result = HookResult()
    if not _has_cases(store, cur):
        return result
    q = store.dialect.q
    marks = ", ".join("?" * len(OPEN_STATUSES))
    cur.execute(
        q(
            "SELECT id, status, lon, lat, grid_id, assignee, assignee_kind, level FROM cases "
            f"WHERE status IN ({marks}) ORDER BY id{store.dialect.for_update}"
        ),
        OPEN_STATUSES,
    )
    cases = cur.fetchall()
    if not cases:
        return result
    pos = replan.locate([c[2] for c in cases], [c[3] for c in cases])
    grids = replan.new_grids
    ids = grids["grid_id"].astype(str).to_numpy()
    coms = grids["community_id"].astype(str).to_numpy()
    towns = grids["town_id"].astype(str).to_numpy()
    row_of = {g: i for i, g in reversed(list(enumerate(ids.tolist())))}
    cur.execute("SELECT grid_id, doc FROM staff")
    staff = {g: json.loads(d) if isinstance(d, str | bytes) else d for g, d in cur.fetchall()}
    stamp = store.dialect.ts(replan.now)
    for (case_id, status, _, _, old, assignee, kind, level), p in zip(cases, pos.tolist(), strict=True):
        if p >= 0:
            target = str(ids[p])
        elif old is not None and old in replan.mapping:
            target = replan.mapping[old]
        elif old is not None and old not in row_of:
            result.unattached_row("open_case", str(case_id), old, replan.old_community(old), blocks=True)
            result.count(replan.old_community(old), "cases_unrouted")
            continue
        else:
            continue
        if target == old:
            continue
        r = row_of[target]
        if kind in _GRID_KINDS and level == 0:
            assignee, kind = pick_staff(target, staff.get(target))
        cur.execute(
            q(
                "UPDATE cases SET grid_id = ?, community_id = ?, town_id = ?, assignee = ?, assignee_kind = ?, "
                "outside_coverage = ?, updated_at = ? WHERE id = ?"
            ),
            (target, str(coms[r]), str(towns[r]), assignee, kind, store.dialect.bool(False), stamp, case_id),
        )
        where = f"grid {old}" if old is not None else "outside every grid"
        cur.execute(
            q(
                "INSERT INTO case_events (case_id, at, actor, from_status, to_status, assignee, note) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)"
            ),
            (
                case_id,
                stamp,
                replan.actor,
                status,
                status,
                assignee,
                f"re-plan {replan.new_plan}: re-routed from {where} to grid {target}, which holds its point now",
            ),
        )
        result.count(str(coms[r]), "cases_rerouted")
    return result
