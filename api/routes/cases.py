"""Cases over HTTP: intake, queries, the ledger, transitions, the routing table, per-grid figures.

Who may do what (keys from ``X-API-Key`` or ``Authorization: Bearer``; the rules are :mod:`gridgis.access`):

- no key: nothing here (Open311's read-only GETs stay public); 401 ``key_required``;
- a ``reader`` key (an app's): submit cases and read back the cases it submitted;
- a ``worker`` key (a grid worker's, created with the grids it covers:
  ``gridgis key create --role worker --grid ID``): submit, and list, read, export, count and move
  the cases of its own grids only. Another grid's case answers 403 ``forbidden`` (its grid named in
  the message), a case id that does not exist 404 ``not_found``; lists, the CSV ledger and the
  stats silently keep the worker's grids;
- ``dispatcher`` and above: every case, the routing table, escalation runs.

Errors have the service's one JSON shape: ``{"error": {"code", "message", "details": {"fix", ...}}}``.

The case tables and the escalation job (every ``GRIDGIS_CASES_ESCALATE_SECONDS`` seconds, default 60;
0 turns it off) belong to the worker's :class:`gridgis.service.Service`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.deps import CallerDep, DispatcherDep, KeyDep, ServiceDep, StaffDep
from gridgis.access import check_case
from gridgis.cases import CATEGORIES, CaseFilter, CaseStore, RouteRule, check_report
from gridgis.cases.desk import submit_async
from gridgis.cases.ledger import grid_stats, ledger_chunks
from gridgis.cases.lifecycle import LEVELS, OPEN_STATUSES, STATUSES, allowed_transitions
from gridgis.errors import InputError
from gridgis.times import utc_now

router = APIRouter(prefix="/v1/cases", tags=["cases"])


# Dependencies are ``async def`` (or one sync function doing all the blocking work): FastAPI runs
# every sync dependency in the thread pool, a hop that costs more than the work itself here.
async def get_cases(service: ServiceDep) -> CaseStore:
    """What ``CasesDep`` injects: the service's case tables."""
    return service.cases


CasesDep = Annotated[CaseStore, Depends(get_cases)]


async def get_clock() -> Callable[[], datetime]:
    """The clock of intake and escalation (tests override this dependency)."""
    return utc_now


ClockDep = Annotated[Callable[[], datetime], Depends(get_clock)]


def case_json(case: dict[str, Any], now: datetime, *, contact: bool = False) -> dict[str, Any]:
    """A case as JSON (times ISO 8601 UTC); the reporter's contact only for staff."""
    out = {
        k: (v.isoformat() if isinstance(v, datetime) else v)
        for k, v in case.items()
        if k not in ("contact", "submitter_id")
    }
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
    address: str | None = Field(
        None,
        max_length=200,
        description="Where, as text (a hotline ticket): placed by the address layers when "
        "lon/lat are absent; one that matches nothing is answered 202 and waits for a dispatcher.",
    )


@router.post("", status_code=201, summary="Submit a case (any API key); routed to the grid's worker on duty")
async def create_case(
    request: Request,
    service: ServiceDep,
    cases: CasesDep,
    client: KeyDep,
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
    """Submit a case (any key); routed to the grid's worker on duty. 201 (``Idempotent-Replayed: true`` on a
    retry); 202: an address that matches no address layer, queued for a dispatcher; 401: no or bad key; 404: no
    plan published; 409: Idempotency-Key reused for another report; 422: bad
    field."""
    fields = body.model_dump()
    address, placement = fields.pop("address"), None
    if address and fields["lon"] is None and fields["lat"] is None:  # the offline geocoder
        from api.routes import addresses  # (imports this module)

        placement = await addresses.place_report(request, fields, address, client)
        if isinstance(placement, JSONResponse):
            return placement  # 202: queued for a dispatcher to place by hand
    report = check_report(**fields)
    now = clock()
    snapshot = service.snapshot or await run_in_threadpool(service.current, None)
    case, replayed = await submit_async(
        cases, snapshot, report, client=client.prefix, client_id=client.key_id, idempotency_key=idempotency_key, now=now
    )
    headers = {"Location": f"/v1/cases/{case['id']}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    out = case_json(case, now, contact=True)
    if address:
        from api.routes import addresses

        await addresses.keep_address(request, case["id"], address, placement)
        out.update(address=address, address_placement=placement)
    return JSONResponse(out, status_code=201, headers=headers)


# --- queries -----------------------------------------------------------------------------------
def case_filter(
    caller: StaffDep,
    grid_id: str | None = None,
    community_id: str | None = None,
    town_id: str | None = None,
    status: Annotated[list[str] | None, Query(description=f"Repeat or comma-separate: {list(STATUSES)}.")] = None,
    category: str | None = None,
    since: Annotated[datetime | None, Query(description="Reported at or after (ISO 8601).")] = None,
    until: Annotated[datetime | None, Query(description="Reported before (ISO 8601).")] = None,
) -> CaseFilter:
    """The case filter of the query, limited to the caller's grids. 401: no key; 403: an app's key; 422: bad
    status, category or a time without zone."""
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
    """A page of matching cases, newest first. 401/403: not staff; 422: bad filter or page."""
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
    """The matching cases as CSV, oldest first, streamed. 401/403: not staff."""
    return StreamingResponse(
        ledger_chunks(cases.iter_cases(f), clock()),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="cases.csv"'},
    )


@router.get("/stats", summary="Per grid: counts by status, overdue, median hours to close (staff)")
def stats(cases: CasesDep, f: FilterDep, clock: ClockDep) -> dict:
    """Per grid: counts by status, overdue, median hours to close. 401/403: not staff."""
    now = clock()
    return {"generated_at": now.isoformat(), "grids": grid_stats(cases, f, now)}


@router.get("/categories", summary="Categories with their deadlines")
def categories() -> list[dict]:
    """The case categories with their deadlines (public)."""
    return [
        {"code": c.code, "name": c.name, "name_zh": c.name_zh, "deadline_hours": c.deadline_hours}
        for c in CATEGORIES.values()
    ]


# --- routing table and escalation ------------------------------------------------------------------
class RuleIn(BaseModel):
    """A routing rule's body: the department layer and the department's name."""

    model_config = ConfigDict(extra="forbid")
    layer: str = Field(description="An extra layer of the store (e.g. river-chief sections).")
    department: str = Field(min_length=1, max_length=100)
    max_distance_m: float = Field(0.0, ge=0, le=10_000, description="Also take points this far outside an area.")


@router.get("/routes", summary="The routing table: category -> department layer")
def list_rules(cases: CasesDep, caller: KeyDep) -> list[dict]:
    """The routing table. 401: no key."""
    return [rule.as_dict() for rule in cases.rules().values()]


@router.put("/routes/{category}", summary="Send a category to a department layer (dispatcher)")
def put_rule(category: str, body: RuleIn, cases: CasesDep, service: ServiceDep, caller: DispatcherDep) -> dict:
    """Send a category to a department layer. 401/403: no dispatcher key; 404: no such layer; 422: bad category."""
    rule = RouteRule(category, body.layer, body.department, body.max_distance_m)
    service.store.get_layer(body.layer)  # NotFoundError listing the layers
    return cases.set_rule(rule, actor=caller.actor).as_dict()


@router.delete("/routes/{category}", status_code=204, summary="Route a category to grids again (dispatcher)")
def delete_rule(category: str, cases: CasesDep, caller: DispatcherDep) -> None:
    """Route a category to grids again. 204; 401/403: no dispatcher key; 404: no rule."""
    cases.delete_rule(category)


@router.post("/escalations", summary="Escalate every overdue case now (dispatcher; the job does it on a timer)")
def escalate(cases: CasesDep, caller: DispatcherDep, clock: ClockDep) -> dict:
    """Escalate every overdue case now; the ids escalated. 401/403: no dispatcher key."""
    now = clock()
    return {"at": now.isoformat(), "escalated": cases.escalate_overdue(now)}


# --- one case ----------------------------------------------------------------------------------
@router.get("/{case_id}", summary="One case with its audit log")
def get_case(case_id: int, request: Request, cases: CasesDep, caller: CallerDep, clock: ClockDep) -> JSONResponse:
    """One case with its audit log; the reporter's contact for staff. 401: no key; 403: another grid's or app's
    case; 404: no such case."""
    case = cases.get(case_id)
    check_case(caller, case)
    out = case_json(case, clock(), contact=caller.at_least("worker"))
    out["events"] = [{**e, "at": e["at"].isoformat()} for e in cases.events(case_id)]
    from api.routes.open311 import geocoder_of  # (imports this module)

    kept = geocoder_of(request).address_of(case_id)
    if kept:
        out.update(address=kept["address"], address_placement=kept["placement"])
    return JSONResponse(out)


class TransitionIn(BaseModel):
    """A move: the target status, a note and, when assigning, the assignee."""

    model_config = ConfigDict(extra="forbid")
    to: str = Field(description=f"One of {list(STATUSES)}.")
    note: str = Field("", max_length=4000)
    assignee: str | None = Field(None, max_length=200, description="Only when moving to 'assigned'.")


@router.post("/{case_id}/transitions", summary="Move a case (staff); 409 lists the allowed moves")
def transition(case_id: int, body: TransitionIn, cases: CasesDep, caller: StaffDep, clock: ClockDep) -> JSONResponse:
    # checked before the move's transaction: a case keeps the grid it was routed to for life
    """Move a case. 401/403: not staff, or another grid's case; 404: no such case; 409: move not allowed (the
    allowed moves listed); 422: bad body."""
    check_case(caller, cases.get(case_id), act=True)
    now = clock()
    case = cases.transition(case_id, body.to, actor=caller.actor, note=body.note, assignee=body.assignee, now=now)
    return JSONResponse(case_json(case, now, contact=True))
