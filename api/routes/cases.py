"""Cases over HTTP: intake, queries, the ledger, transitions, the routing table, per-grid figures.

Who may do what (keys from ``X-API-Key`` or ``Authorization: Bearer``; roles in :data:`gridgis.store.ROLES`):

- no key: nothing here (Open311's read-only GETs stay public); 401 ``key_required``;
- a ``reader`` key (an app's): submit cases and read back the cases it submitted;
- a ``worker`` key (a grid worker's, created with the grids it covers:
  ``gridgis key create --role worker --grid ID``): submit, and list, read, export, count and move
  the cases of its own grids only. Another grid's case answers 403 ``forbidden`` (its grid named in
  the message), a case id that does not exist 404 ``not_found``; lists, the CSV ledger and the
  stats silently keep the worker's grids;
- ``dispatcher`` and above: every case, the routing table, escalation runs.

Errors have the service's one JSON shape: ``{"error": {"code", "message", "details": {"fix", ...}}}``.

``startup(state)`` opens the case tables and starts the escalation job (every
``GRIDGIS_CASES_ESCALATE_SECONDS`` seconds, default 60; 0 turns it off); ``shutdown(state)`` stops
the job and closes the case tables.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.deps import Caller, CallerDep, StateDep, caller_from_async, state_of
from api.errors import APIError
from gridgis.cases import CATEGORIES, CaseFilter, CaseStore, RouteRule, check_report, open_case_store
from gridgis.cases.desk import submit_async
from gridgis.cases.ledger import grid_stats, ledger_chunks
from gridgis.cases.lifecycle import LEVELS, OPEN_STATUSES, STATUSES, allowed_transitions
from gridgis.cases.store import utc_now
from gridgis.errors import InputError

router = APIRouter(prefix="/v1/cases", tags=["cases"])


def startup(state) -> None:
    """Open the case tables in the service's store and start the escalation job."""
    state.case_store = open_case_store(state.store)
    if state.snapshot is not None:  # prepare routing now rather than on the first report
        from gridgis.cases import router_for

        router_for(state.snapshot, state.store)
    state.case_escalation = None
    interval = state.settings.cases_escalate_seconds
    if interval > 0:
        from gridgis.cases import run_escalation

        state.case_escalation_stop = threading.Event()
        state.case_escalation = run_escalation(state.case_store, interval_s=interval, stop=state.case_escalation_stop)


def shutdown(state) -> None:
    """Stop the escalation job (waiting for a round in progress) and close the case tables."""
    thread = getattr(state, "case_escalation", None)
    if thread is not None:
        state.case_escalation_stop.set()
        thread.join(timeout=30)
        state.case_escalation = None
    cases = getattr(state, "case_store", None)
    if cases is not None:
        cases.close()


# Dependencies are ``async def`` (or one sync function doing all the blocking work): FastAPI runs
# every sync dependency in the thread pool, a hop that costs more than the work itself here.
async def get_cases(request: Request) -> CaseStore:
    return request.app.state.gridgis.case_store


CasesDep = Annotated[CaseStore, Depends(get_cases)]


async def get_clock() -> Callable[[], datetime]:
    """The clock of intake and escalation (tests override this dependency)."""
    return utc_now


ClockDep = Annotated[Callable[[], datetime], Depends(get_clock)]


def kind(caller: Caller) -> str:
    """How messages and the audit log name a caller: anonymous, app (reader), worker or dispatcher (and above)."""
    if caller.role is None:
        return "anonymous"
    if caller.at_least("dispatcher"):
        return "dispatcher"
    return "worker" if caller.role == "worker" else "app"


def actor(caller: Caller) -> str:
    """The audit log's name of a caller: ``worker:ggk_ab12cd`` (kind and key prefix)."""
    return f"{kind(caller)}:{caller.prefix}"


async def get_submitter(request: Request) -> str:
    """The submitting client (its key prefix); 401 without a key, for any role."""
    caller = await caller_from_async(request, state_of(request))
    _need_key(caller, "Submitting a case")
    return caller.prefix


SubmitterDep = Annotated[str, Depends(get_submitter)]


def _need_key(caller: Caller, what: str) -> None:
    if caller.role is None:
        raise APIError(
            401,
            "key_required",
            f"{what} needs an API key.",
            fix="send your app's key in the X-API-Key header (an admin creates one: gridgis key create --role reader).",
        )


def _need_staff(caller: Caller, what: str) -> None:
    _need_key(caller, what)
    if not caller.at_least("worker"):
        raise APIError(
            403,
            "forbidden",
            f"{what} is for grid staff; this key ({caller.prefix}...) belongs to an app.",
            fix="use a dispatcher's key, or a grid worker's key (gridgis key create --role worker --grid GRID_ID).",
            details={"required_role": "worker", "role": caller.role},
        )


def _need_dispatcher(caller: Caller, what: str) -> None:
    _need_key(caller, what)
    if not caller.at_least("dispatcher"):
        raise APIError(
            403,
            "forbidden",
            f"{what} needs a key with role dispatcher or higher.",
            fix="use a key with one of the roles ['dispatcher', 'planner', 'admin'].",
            details={"required_role": "dispatcher", "role": caller.role},
        )


def check_access(caller: Caller, case: dict[str, Any], *, write: bool = False) -> None:
    """403 unless ``caller`` may read (or, with ``write``, move) ``case``."""
    _need_key(caller, "Reading a case")
    if caller.at_least("dispatcher"):
        return
    if caller.role == "worker" and case["grid_id"] in caller.grids:
        return
    if caller.role == "reader" and not write and case["submitted_by"] == caller.prefix:
        return
    where = f"grid {case['grid_id']}" if case["grid_id"] else f"the desk of town {case['town_id']}"
    mine = f"grids {list(caller.grids)}" if caller.role == "worker" else "the cases it submitted"
    raise APIError(
        403,
        "forbidden",
        f"Case {case['id']} belongs to {where}; this key may {'move' if write else 'read'} only {mine}.",
        fix="ask a dispatcher, or use the key of that grid's worker.",
        details={"case_id": case["id"], "grid_id": case["grid_id"]},
    )


def case_json(case: dict[str, Any], now: datetime, *, contact: bool = False) -> dict[str, Any]:
    """A case as JSON (times ISO 8601 UTC); the reporter's contact only for staff."""
    out = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in case.items() if k != "contact"}
    out["level"] = LEVELS[case["level"]]
    out["overdue"] = case["status"] in OPEN_STATUSES and case["due_at"] < now
    out["category_name"] = CATEGORIES[case["category"]].name
    out["allowed_transitions"] = list(allowed_transitions(case["status"]))
    if contact:
        out["contact"] = case["contact"]
    return out


# --- intake ----------------------------------------------------------------------------------
class CaseIn(BaseModel):
    """A report. Location: lon/lat in ``crs`` (gcj02 for Amap/Tencent/WeChat points, bd09 for Baidu)."""

    model_config = ConfigDict(extra="forbid")
    category: str = Field(description=f"One of {list(CATEGORIES)}.")
    description: str = Field(description="What is wrong, 1 to 4,000 characters.")
    lon: float | None = None
    lat: float | None = None
    crs: str = "wgs84"
    channel: str = Field("app", description="app, hotline, patrol or wechat.")
    photo_urls: list[str] = Field(default_factory=list, description="Up to 10 http(s) URLs.")
    contact: dict[str, str | None] | None = Field(None, description="Reporter's name, phone, email (all optional).")


@router.post("", status_code=201, summary="Submit a case (any API key); routed to the grid's worker on duty")
async def create_case(
    request: Request,
    cases: CasesDep,
    client: SubmitterDep,
    clock: ClockDep,
    body: Annotated[
        CaseIn,
        Body(
            examples=[
                {"category": "river_chief", "description": "Oil on the river", "lon": 112.95, "lat": 22.71},
            ]
        ),
    ],
    idempotency_key: Annotated[
        str | None, Header(max_length=200, description="Retry-safe key: a retry returns the first case.")
    ] = None,
) -> JSONResponse:
    report = check_report(**body.model_dump())
    now = clock()
    snapshot = request.app.state.gridgis.snapshot or await run_in_threadpool(request.app.state.gridgis.current, None)
    case, replayed = await submit_async(
        cases, snapshot, report, client=client, idempotency_key=idempotency_key, now=now
    )
    headers = {"Location": f"/v1/cases/{case['id']}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(case_json(case, now, contact=True), status_code=201, headers=headers)


# --- queries -----------------------------------------------------------------------------------
def case_filter(
    caller: CallerDep,
    grid_id: str | None = None,
    community_id: str | None = None,
    town_id: str | None = None,
    status: Annotated[list[str] | None, Query(description=f"Repeat or comma-separate: {list(STATUSES)}.")] = None,
    category: str | None = None,
    since: Annotated[datetime | None, Query(description="Reported at or after (ISO 8601).")] = None,
    until: Annotated[datetime | None, Query(description="Reported before (ISO 8601).")] = None,
) -> CaseFilter:
    _need_staff(caller, "Listing cases")
    statuses = tuple(s for item in status or () for s in item.split(",") if s)
    return CaseFilter(
        grid_id=grid_id,
        community_id=community_id,
        town_id=town_id,
        status=statuses,
        category=category,
        since=_aware(since, "since"),
        until=_aware(until, "until"),
        grid_ids=caller.scope,
    )


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise InputError(
            f"{name}={value.isoformat()} has no time zone.",
            fix=f"add one, e.g. {name}={value.isoformat()}+08:00 (China) or Z (UTC).",
        )
    return value


FilterDep = Annotated[CaseFilter, Depends(case_filter)]


@router.get("", summary="Cases, newest first, by grid/community/town/status/category/time (staff)")
def list_cases(
    cases: CasesDep,
    f: FilterDep,
    clock: ClockDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> JSONResponse:
    rows, total = cases.list(f, limit=limit, offset=offset)
    now = clock()
    return JSONResponse(
        {
            "cases": [case_json(c, now, contact=True) for c in rows],
            "total": total,
            "limit": limit,
            "offset": offset,
            "next_offset": offset + limit if offset + limit < total else None,
        }
    )


@router.get(".csv", summary="The ledger (台账) of the matching cases as CSV (staff)", response_class=StreamingResponse)
def ledger(cases: CasesDep, f: FilterDep, clock: ClockDep) -> StreamingResponse:
    return StreamingResponse(
        ledger_chunks(cases.iter_cases(f), clock()),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="cases.csv"'},
    )


@router.get("/stats", summary="Per grid: counts by status, overdue, median hours to close (staff)")
def stats(cases: CasesDep, f: FilterDep, clock: ClockDep) -> dict:
    now = clock()
    return {"generated_at": now.isoformat(), "grids": grid_stats(cases, f, now)}


@router.get("/categories", summary="Categories with their deadlines")
def categories() -> list[dict]:
    return [
        {"code": c.code, "name": c.name, "name_zh": c.name_zh, "deadline_hours": c.deadline_hours}
        for c in CATEGORIES.values()
    ]


# --- routing table and escalation ------------------------------------------------------------------
class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    layer: str = Field(description="An extra layer of the store (e.g. river-chief sections).")
    department: str = Field(min_length=1, max_length=100)
    max_distance_m: float = Field(0.0, ge=0, le=10_000, description="Also take points this far outside an area.")


@router.get("/routes", summary="The routing table: category -> department layer")
def list_rules(cases: CasesDep, caller: CallerDep) -> list[dict]:
    _need_key(caller, "Reading the routing table")
    return [rule.as_dict() for rule in cases.rules().values()]


@router.put("/routes/{category}", summary="Send a category to a department layer (dispatcher)")
def put_rule(category: str, body: RuleIn, cases: CasesDep, state: StateDep, caller: CallerDep) -> dict:
    _need_dispatcher(caller, "Editing the routing table")
    rule = RouteRule(category, body.layer, body.department, body.max_distance_m)
    state.store.get_layer(body.layer)  # NotFoundError listing the layers
    return cases.set_rule(rule, actor=actor(caller)).as_dict()


@router.delete("/routes/{category}", status_code=204, summary="Route a category to grids again (dispatcher)")
def delete_rule(category: str, cases: CasesDep, caller: CallerDep) -> None:
    _need_dispatcher(caller, "Editing the routing table")
    cases.delete_rule(category)


@router.post("/escalations", summary="Escalate every overdue case now (dispatcher; the job does it on a timer)")
def escalate(cases: CasesDep, caller: CallerDep, clock: ClockDep) -> dict:
    _need_dispatcher(caller, "Running escalation")
    now = clock()
    return {"at": now.isoformat(), "escalated": cases.escalate_overdue(now)}


# --- one case ----------------------------------------------------------------------------------
@router.get("/{case_id}", summary="One case with its audit log")
def get_case(case_id: int, cases: CasesDep, caller: CallerDep, clock: ClockDep) -> JSONResponse:
    case = cases.get(case_id)
    check_access(caller, case)
    out = case_json(case, clock(), contact=caller.at_least("worker"))
    out["events"] = [{**e, "at": e["at"].isoformat()} for e in cases.events(case_id)]
    return JSONResponse(out)


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str = Field(description=f"One of {list(STATUSES)}.")
    note: str = Field("", max_length=4000)
    assignee: str | None = Field(None, max_length=200, description="Only when moving to 'assigned'.")


@router.post("/{case_id}/transitions", summary="Move a case (staff); 409 lists the allowed moves")
def transition(case_id: int, body: TransitionIn, cases: CasesDep, caller: CallerDep, clock: ClockDep) -> JSONResponse:
    _need_staff(caller, "Moving a case")
    # checked before the move's transaction: a case keeps the grid it was routed to for life
    check_access(caller, cases.get(case_id), write=True)
    now = clock()
    case = cases.transition(case_id, body.to, actor=actor(caller), note=body.note, assignee=body.assignee, now=now)
    return JSONResponse(case_json(case, now, contact=True))
