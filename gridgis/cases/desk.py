"""The case desk: what the API and the command line do with cases, over a store and a plan snapshot.

:class:`CaseRouter` prepares routing for one plan snapshot (cached per snapshot);
:func:`submit` checks, routes and durably stores a report; :func:`run_escalation`
is the background job (and ``gridgis cases escalate`` runs it once).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from gridgis.cases.intake import Report
from gridgis.cases.routing import DepartmentAreas, Route, Territory, route_case
from gridgis.cases.store import CaseStore, PlanChanged
from gridgis.errors import NotFoundError
from gridgis.times import utc_now

log = logging.getLogger("gridgis.cases")

Clock = Callable[[], datetime]


class CaseRouter:
    """Routing prepared for one plan snapshot (:class:`gridgis.store.snapshot.Snapshot`).

    Department areas are the snapshot's extra layers; an area is labelled by its name
    (``name_fields[layer]``, the layer's name field) or its 1-based position, as the locate answers do.
    """

    def __init__(self, snapshot, name_fields: dict[str, str | None] | None = None):
        self.snapshot = snapshot
        self.name_fields = name_fields or {}
        self.territory = Territory(snapshot.grids, snapshot.towns, locator=snapshot.locator)
        self._grid_pos = {gid: pos for pos, gid in reversed(list(enumerate(self.territory.grid_ids.tolist())))}
        self._areas: dict[str, DepartmentAreas] = {}
        self._lock = threading.Lock()

    def departments(self, layer: str) -> DepartmentAreas | None:
        frame = self.snapshot.layers.get(layer)
        if frame is None or frame.empty:
            return None
        with self._lock:
            if layer not in self._areas:
                field = self.name_fields.get(layer)
                if field and field in frame.columns:
                    labels = [str(v) if v is not None else str(i + 1) for i, v in enumerate(frame[field])]
                else:
                    labels = [str(i + 1) for i in range(len(frame))]
                self._areas[layer] = DepartmentAreas(frame, labels)
            return self._areas[layer]

    def staff_of(self, grid_id: str) -> dict[str, Any] | None:
        pos = self._grid_pos.get(grid_id)  # the first row of that id, as a scan would find
        return self.snapshot.answers[pos]["staff"] if pos is not None else None

    def route(self, report: Report, rules: dict, cases: CaseStore | None = None, now: datetime | None = None) -> Route:
        """Route ``report`` with the routing table ``rules`` and, given ``cases``, its people (the worker on
        duty at ``now``) and configured county."""
        handler_of, county = None, None
        if cases is not None:
            directory, when = cases.people.directory(), now or utc_now()
            handler_of = lambda grid_id: directory.handler_of(grid_id, when)  # noqa: E731
            towns = self.territory.town_ids
            county = cases.config().county_of(str(towns[0]) if len(towns) else None)
        rule = rules.get(report.category)
        departments = {}
        if rule is not None:
            areas = self.departments(rule.layer)
            if areas is not None:
                departments[rule.layer] = areas
        return route_case(
            self.territory,
            report.lon,
            report.lat,
            report.category,
            rules=rules,
            departments=departments,
            staff_of=self.staff_of,
            handler_of=handler_of,
            county=county,
        )


#: (plan_id, store revision) -> router, most recent last; replaced whole under the lock (never changed in
#: place), so a reader takes the current dict by one reference read, without the lock
_routers: OrderedDict[tuple[int, int], CaseRouter] = OrderedDict()
_routers_lock = threading.Lock()
_KEEP_ROUTERS = 4


def router_for(snapshot, store) -> CaseRouter:
    """The :class:`CaseRouter` of ``snapshot`` (built once per snapshot; ``store`` gives the layers' name fields)."""
    global _routers
    key = (snapshot.plan.plan_id, snapshot.revision)
    router = _ready_router(snapshot)
    if router is not None:
        return router
    with _routers_lock:  # held while building: concurrent first requests wait for one build
        router = _ready_router(snapshot)
        if router is None:
            names = {info.name: info.name_field for info in store.list_layers()}
            router = CaseRouter(snapshot, names)
            routers = OrderedDict(_routers)
            routers[key] = router
            while len(routers) > _KEEP_ROUTERS:
                routers.popitem(last=False)
            _routers = routers
        return router


def _ready_router(snapshot) -> CaseRouter | None:
    """The router already built for ``snapshot``, else None (never blocks)."""
    router = _routers.get((snapshot.plan.plan_id, snapshot.revision))
    return router if router is not None and router.snapshot is snapshot else None


def _no_plan() -> NotFoundError:
    return NotFoundError(
        "No plan is published, so cases cannot be routed.",
        fix="publish one: gridgis plan publish NAME (or POST /v1/plans/NAME/publish).",
    )


#: routings of one report at most, when publishes keep changing the plan under it
ROUTE_TRIES = 3


def submit(
    cases: CaseStore,
    snapshot,
    report: Report,
    *,
    client: str,
    client_id: str | None = None,
    idempotency_key: str | None = None,
    now: datetime | None = None,
    refresh: Callable[[], Any] | None = None,
    also: Callable[[Any, dict[str, Any]], None] | None = None,
) -> tuple[dict[str, Any], bool]:
    """Route a checked report on the plan ``snapshot`` and store it; return (case, replayed).

    ``client`` names the submitter, ``client_id`` identifies it, ``also`` writes the submission's other rows in
    the case's transaction (see :meth:`CaseStore.create`). When a plan
    is published between the routing and the write, ``refresh()`` (the service's) gives the new snapshot and
    the report is routed again, so every case lies in a grid of the plan published when it was committed.

    The case is committed (durably) when this returns.
    """
    now = now or utc_now()
    for attempt in range(ROUTE_TRIES):
        if snapshot is None:
            raise _no_plan()
        route = router_for(snapshot, cases.store).route(report, cases.rules(), cases, now)
        try:
            return cases.create(
                report, route, client=client, client_id=client_id, idempotency_key=idempotency_key, now=now,
                plan_id=snapshot.plan.plan_id, also=also,
            )  # fmt: skip
        except PlanChanged:
            if refresh is None or attempt == ROUTE_TRIES - 1:
                raise
            snapshot = refresh()
    raise AssertionError("unreachable")


def in_turn(*writes: Callable[[Any, dict[str, Any]], None] | None) -> Callable[[Any, dict[str, Any]], None] | None:
    """One ``also`` writer for :func:`submit` running ``writes`` (None ones left out) in turn; None for none."""
    writes = tuple(w for w in writes if w is not None)
    if len(writes) <= 1:
        return writes[0] if writes else None

    def write(cur, case: dict[str, Any]) -> None:
        for one in writes:
            one(cur, case)

    return write


async def submit_async(
    cases: CaseStore, snapshot, report: Report, *, refresh: Callable[[], Any] | None = None, **submitter: Any
) -> tuple[dict[str, Any], bool]:
    """:func:`submit` (same keywords) for an event loop: routes in the loop (a new plan's router is built
    off it), awaits the durable write without blocking it."""
    for attempt in range(ROUTE_TRIES):
        if snapshot is None:
            raise _no_plan()
        router = _ready_router(snapshot)
        if router is None:
            router = await asyncio.to_thread(router_for, snapshot, cases.store)
        route = router.route(report, cases.rules(), cases, submitter.get("now"))
        try:
            return await cases.acreate(report, route, plan_id=snapshot.plan.plan_id, **submitter)
        except PlanChanged:
            if refresh is None or attempt == ROUTE_TRIES - 1:
                raise
            snapshot = await asyncio.to_thread(refresh)
    raise AssertionError("unreachable")


def run_escalation(
    cases: CaseStore, *, clock: Clock = utc_now, interval_s: float = 60.0, stop: threading.Event
) -> threading.Thread:
    """Start a daemon thread escalating overdue cases every ``interval_s`` until ``stop`` is set."""

    def loop() -> None:
        while True:
            try:
                done = cases.escalate_overdue(clock())
                if done:
                    log.info("escalated %d overdue case(s): %s", len(done), done[:20])
            except Exception:  # keep the service up; the next round retries
                log.exception("case escalation failed")
            if stop.wait(interval_s):
                return

    thread = threading.Thread(target=loop, name="gridgis-case-escalation", daemon=True)
    thread.start()
    return thread


__all__ = ["CaseRouter", "in_turn", "router_for", "run_escalation", "submit"]
