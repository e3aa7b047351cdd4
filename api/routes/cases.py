"""Cases over HTTP: intake, queries, the ledger, the chain's moves, notes, the call-back, the configuration,
the routing table, per-grid figures.

Who may do what (keys from ``X-API-Key`` or ``Authorization: Bearer``; the rules are :mod:`gridgis.access`
for reading and :data:`gridgis.cases.lifecycle.MOVES` for moving):

- no key: nothing here (Open311's read-only GETs and the categories stay public); 401 ``key_required``;
- a ``reader`` key (an app's): submit cases and read back the cases it submitted;
- a ``worker`` key (a grid worker's, created with the grids it covers): submit, and list, read, export,
  count the cases of its own grids, and make the handler's moves on them (accept, return, start,
  resolve); a key held by a person posted to the case's community also verifies, reopens and closes
  (someone other than the resolver). Another grid's case answers 403 ``forbidden``, a case id that
  does not exist 404 ``not_found``; lists, the ledger and the stats silently keep the worker's grids;
- ``dispatcher`` and above: every case and move, reassignment, the call-back, the configuration,
  the routing table, escalation runs.

The audit log names the person holding the key (``王五 [worker:ggk_yMbX06]``). Every case answer carries
``allowed_moves``: the targets the caller may move it to now. Errors have the service's one JSON shape:
``{"error": {"code", "message", "details": {"fix", ...}}}``.

The case tables and the escalation job (every ``GRIDGIS_CASES_ESCALATE_SECONDS`` seconds, default 60;
0 turns it off) belong to the worker's :class:`gridgis.service.Service`.
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from api.case_views import case_json, case_view
from api.deps import (
    CallerDep,
    CasesDep,
    ClockDep,
    DispatcherDep,
    KeyDep,
    ServiceDep,
    StaffDep,
    clock_of,
    geocoder_of,
    key_caller,
    service_of,
)
from api.inputs import body_model, json_body
from api.routes import addresses
from gridgis.access import Caller, check_case, may_read
from gridgis.cases import CATEGORIES, CaseFilter, CaseStore, RouteRule, check_report
from gridgis.cases.categories import check_lang, get_category
from gridgis.cases.desk import submit_async
from gridgis.cases.intake import check_photo_refs
from gridgis.cases.ledger import grid_stats, ledger_chunks, unit_names, write_xlsx
from gridgis.cases.lifecycle import (
    MOVES,
    STATUS_NAMES_ZH,
    STATUSES,
    Actor,
)
from gridgis.errors import InputError

router = APIRouter(prefix="/v1/cases", tags=["cases"])
LangQuery = Annotated[str, Query(description="zh (default) or en: the language of names.")]


def _check(cases: CaseStore, caller: Caller, case: dict[str, Any], *, act: bool = False) -> Actor:
    """The caller's actor on ``case``, once it may read (``act``: move) it: by the access rules or because its
    person holds the case; else 401/403 as :func:`gridgis.access.check_case` says."""
    actor = cases.actor(caller, case)
    if not actor.roles and not (not act and caller.role is not None and may_read(caller, case)):
        check_case(caller, case, act=act)
    return actor


# --- intake ----------------------------------------------------------------------------------
class CaseIn(BaseModel):
    """A report. Location: lon/lat in ``crs`` (gcj02 for Amap/Tencent/WeChat points, bd09 for Baidu)."""

    model_config = ConfigDict(extra="forbid")
    category: str = Field(description=f"A configured category, by default one of {list(CATEGORIES)}.")
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


#: the body and header of :func:`create_case` in the OpenAPI (the route reads its request itself)
_IDEMPOTENCY_KEY = "Retry-safe key: a retry returns the first case."
_IDEMPOTENCY = TypeAdapter(Annotated[str, Field(max_length=200)])
_INTAKE_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    **CaseIn.model_json_schema(),
                    "examples": [
                        {"category": "river_chief", "description": "Oil on the river", "lon": 112.95, "lat": 22.71}
                    ],
                }
            }
        },
    },
    "parameters": [
        {
            "name": "idempotency-key",
            "in": "header",
            "required": False,
            "description": _IDEMPOTENCY_KEY,
            "schema": {
                "anyOf": [{"type": "string", "maxLength": 200}, {"type": "null"}],
                "title": "Idempotency-Key",
                "description": _IDEMPOTENCY_KEY,
            },
        }
    ],
    "security": [{"APIKeyHeader": []}],
}


# The request is read by hand (documented through openapi_extra), as FastAPI would read the parameters
# `body: CaseIn`, `idempotency_key: Header(max_length=200)` and `KeyDep`: this is the busiest write, and
# FastAPI's per-parameter machinery cost about a fifth of the request.
@router.post(
    "",
    status_code=201,
    summary="Submit a case (any API key); routed to the grid's worker on duty",
    openapi_extra=_INTAKE_DOC,
)
async def create_case(request: Request) -> JSONResponse:
    """Submit a case (any key); routed to the grid's worker on duty. 201 (``Idempotent-Replayed: true`` on a
    retry); 202: an address that matches no address layer, queued for a dispatcher; 401: no or bad key; 403: a
    console session's request without its CSRF token; 404: no plan published; 409: Idempotency-Key reused for
    another report; 422: bad field."""
    data = await json_body(request)
    client = await key_caller(request)
    idempotency_key = request.headers.get("idempotency-key")
    problems = []
    if idempotency_key is not None:
        try:
            _IDEMPOTENCY.validate_python(idempotency_key)
        except ValidationError as exc:
            problems = [{**e, "loc": ("header", "idempotency-key")} for e in exc.errors(include_url=False)]
    body = body_model(data, CaseIn, problems)
    service = service_of(request)
    cases = service.cases
    config = cases.config()
    fields = body.model_dump()
    address, placement = fields.pop("address"), None
    if address and fields["lon"] is None and fields["lat"] is None:  # the offline geocoder
        placement = await addresses.place_report(request, fields, address, client)
        if isinstance(placement, JSONResponse):
            return placement  # 202: queued for a dispatcher to place by hand
    report = check_report(**fields, categories=config.categories)
    now = clock_of(request)()
    snapshot = service.snapshot or await run_in_threadpool(service.current, None)
    case, replayed = await submit_async(
        cases,
        snapshot,
        report,
        client=client.prefix,
        client_id=client.key_id,
        idempotency_key=idempotency_key,
        now=now,
        refresh=service.refresh,
        also=service.geocoder.address_writer(address, placement) if address else None,
    )
    headers = {"Location": f"/v1/cases/{case['id']}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    out = case_json(case, now, contact=True, config=config)
    if address:
        out.update(address=address, address_placement=placement)
    return JSONResponse(out, status_code=201, headers=headers)


# --- queries -----------------------------------------------------------------------------------
async def case_filter(
    caller: StaffDep,
    cases: CasesDep,
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
    if category is not None:
        get_category(category, cases.config().categories)
    return CaseFilter(
        grid_id=grid_id,
        community_id=community_id,
        town_id=town_id,
        status=statuses,
        category=category,
        since=_aware(since, "since"),
        until=_aware(until, "until"),
        grid_ids=caller.scope,
        units=caller.units,
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
    caller: StaffDep,
    clock: ClockDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> JSONResponse:
    """A page of matching cases, newest first, each with the caller's ``allowed_moves``. 401/403: not staff;
    422: bad filter or page."""
    rows, total = cases.list(f, limit=limit, offset=offset)
    now = clock()
    return JSONResponse(
        {
            "cases": [case_view(cases, caller, c, now) for c in rows],
            "total": total,
            "limit": limit,
            "offset": offset,
            "next_offset": offset + limit if offset + limit < total else None,
        }
    )


def _ledger_options(service, cases: CaseStore, lang: str) -> dict[str, Any]:
    return {
        "config": cases.config(),
        "names": unit_names(service.snapshot),
        "handler_name": cases.people.directory().name_of,
        "lang": check_lang(lang),
    }


@router.get(
    ".csv", summary="The ledger (台账) of the matching cases as CSV for Excel (staff)", response_class=StreamingResponse
)
def ledger(
    cases: CasesDep, service: ServiceDep, f: FilterDep, clock: ClockDep, lang: LangQuery = "zh"
) -> StreamingResponse:
    """The matching cases as CSV, oldest first, streamed: Chinese headers and statuses (``lang=en``: English),
    Beijing time, codes as text, unit names, handler, result, check, call-back. 401/403: not staff."""
    options = _ledger_options(service, cases, lang)
    return StreamingResponse(
        ledger_chunks(cases.iter_cases(f), clock(), **options),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="cases.csv"'},
    )


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get(
    ".xlsx",
    summary="The ledger (台账) as an Excel workbook (staff)",
    response_class=FileResponse,
    responses={200: {"content": {XLSX: {}}}},
)
def ledger_xlsx(
    cases: CasesDep, service: ServiceDep, f: FilterDep, clock: ClockDep, lang: LangQuery = "zh"
) -> FileResponse:
    """The ledger of :func:`ledger` as XLSX (codes as text cells); written whole, then sent. 401/403: not staff."""
    options = _ledger_options(service, cases, lang)
    tmp = tempfile.NamedTemporaryFile(prefix="gridgis-ledger-", suffix=".xlsx", delete=False)  # noqa: SIM115
    try:
        write_xlsx(cases.iter_cases(f), tmp, clock(), **options)
    finally:
        tmp.close()
    import os

    return FileResponse(
        tmp.name, media_type=XLSX, filename="cases.xlsx", background=BackgroundTask(os.unlink, tmp.name)
    )


@router.get("/stats", summary="Per grid: counts by status, overdue, median hours to close (staff)")
def stats(cases: CasesDep, f: FilterDep, clock: ClockDep) -> dict:
    """Per grid: counts by status, overdue, median hours to close. 401/403: not staff."""
    now = clock()
    return {"generated_at": now.isoformat(), "grids": grid_stats(cases, f, now)}


@router.get("/categories", summary="Categories with their deadlines and warning times (public)")
def categories(cases: CasesDep, lang: LangQuery = "zh") -> list[dict]:
    """The case categories with their deadlines; ``name`` in ``lang`` (Chinese by default). 422: bad lang."""
    return cases.config().as_dict(check_lang(lang))["categories"]


@router.get("/chain", summary="The chain: statuses (with Chinese names) and who may make each move (public)")
def chain() -> dict:
    """The one table of the chain: for each status its Chinese name and, per target, the chain roles
    (dispatcher, handler, community, system) that may make the move."""
    return {
        "statuses": [
            {"status": s, "name": STATUS_NAMES_ZH[s], "moves": {t: list(r) for t, r in MOVES[s].items()}}
            for s in STATUSES
        ]
    }


# --- configuration, routing table and escalation ------------------------------------------------------
@router.get("/config", summary="The configuration: categories, deadlines, warnings, departments, escalation")
def get_config(cases: CasesDep, caller: KeyDep, lang: LangQuery = "zh") -> dict:
    """The configuration document (names in ``lang``) with the routing table. 401: no key."""
    doc = cases.config().as_dict(check_lang(lang))
    doc["routes"] = [rule.as_dict() for rule in cases.rules().values()]
    return doc


@router.put("/config", summary="Replace the configuration (dispatcher)")
def put_config(body: Annotated[dict[str, Any], Body()], cases: CasesDep, caller: DispatcherDep) -> dict:
    """Check and store the configuration; ``routes``, when given, replace the routing table. 401/403: no
    dispatcher key; 404: a route's layer does not exist; 422: bad document (the field named)."""
    cases.set_config(body, actor=caller.actor, source="PUT /v1/cases/config")
    return get_config(cases, caller)


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
    rule = RouteRule(category, body.layer, body.department, body.max_distance_m, categories=cases.config().categories)
    service.store.get_layer(body.layer)  # NotFoundError listing the layers
    return cases.set_rule(rule, actor=caller.actor).as_dict()


@router.delete("/routes/{category}", status_code=204, summary="Route a category to grids again (dispatcher)")
def delete_rule(category: str, cases: CasesDep, caller: DispatcherDep) -> None:
    """Route a category to grids again. 204; 401/403: no dispatcher key; 404: no rule."""
    cases.delete_rule(category)


@router.post("/escalations", summary="Escalate every overdue case now (dispatcher; the job does it on a timer)")
def escalate(cases: CasesDep, caller: DispatcherDep, clock: ClockDep) -> dict:
    """Escalate every overdue case now (an alert for those at the top); the ids. 401/403: no dispatcher key."""
    now = clock()
    return {"at": now.isoformat(), "escalated": cases.escalate_overdue(now)}


# --- one case ----------------------------------------------------------------------------------
@router.get("/{case_id}", summary="One case with its audit log, photos and the caller's allowed moves")
def get_case(case_id: int, request: Request, cases: CasesDep, caller: CallerDep, clock: ClockDep) -> JSONResponse:
    """One case with its audit log, ``photos`` (the reporter's and those of each move or note, as
    ``{"ref", "stage", "at", "by"}``), ``allowed_moves`` and a kept address; the reporter's contact for staff.
    401: no key; 403: another grid's or app's case; 404: no such case."""
    case = cases.get(case_id)
    _check(cases, caller, case)
    out = case_view(cases, caller, case, clock())
    events = cases.events(case_id)
    out["events"] = [{**e, "at": e["at"].isoformat()} for e in events]
    created = case["created_at"].isoformat()
    out["photos"] = [
        {"ref": u, "stage": "reported", "at": created, "by": case["submitted_by"]} for u in case["photo_urls"]
    ]
    out["photos"] += [
        {"ref": ref, "stage": e["to_status"], "at": e["at"].isoformat(), "by": e["actor"]}
        for e in events
        for ref in e["photos"]
    ]
    kept = geocoder_of(request).address_of(case_id)
    if kept:
        out.update(address=kept["address"], address_placement=kept["placement"])
    return JSONResponse(out)


class TransitionIn(BaseModel):
    """A move: the target status, a note (the reason or the result when required), photo references and,
    when assigning, the assignee."""

    model_config = ConfigDict(extra="forbid")
    to: str = Field(description=f"One of {list(STATUSES)}.")
    note: str = Field("", max_length=4000)
    assignee: str | None = Field(
        None, max_length=200, description='Only when moving to "assigned": "person:ID" or "department:NAME".'
    )
    photos: list[str] = Field(default_factory=list, max_length=10, description="Photo URLs or upload ids.")


@router.post("/{case_id}/transitions", summary="Move a case; 409 lists the allowed moves, 403 says who may")
def transition(case_id: int, body: TransitionIn, cases: CasesDep, caller: KeyDep, clock: ClockDep) -> JSONResponse:
    """Move a case. 401: no key; 403: another grid's case, or the move needs another chain role (or someone
    other than the resolver); 404: no such case; 409: move not allowed from this status (the allowed moves
    listed); 422: bad body, missing reason or result, unknown assignee."""
    # checked before the move's transaction: a case keeps the grid it was routed to for life
    actor = _check(cases, caller, cases.get(case_id), act=True)
    now = clock()
    case = cases.transition(
        case_id,
        body.to,
        actor=actor,
        note=body.note,
        assignee=body.assignee,
        photos=check_photo_refs(body.photos),
        now=now,
    )
    return JSONResponse(case_view(cases, caller, case, now))


class NoteIn(BaseModel):
    """A note and/or photo references added to a case without moving it."""

    model_config = ConfigDict(extra="forbid")
    note: str = Field("", max_length=4000)
    photos: list[str] = Field(default_factory=list, max_length=10, description="Photo URLs or upload ids.")


@router.post("/{case_id}/notes", status_code=201, summary="Add a note and/or photos to a case (who may move it)")
def add_note(case_id: int, body: NoteIn, cases: CasesDep, caller: KeyDep, clock: ClockDep) -> JSONResponse:
    """Add a note and/or photos (an audit event, the status unchanged). 201; 401/403: may not move this case;
    404: no such case; 422: empty note without photos, bad photo reference."""
    actor = _check(cases, caller, cases.get(case_id), act=True)
    now = clock()
    case = cases.note(case_id, body.note, check_photo_refs(body.photos), actor=actor, now=now)
    return JSONResponse(case_view(cases, caller, case, now), status_code=201)


class FeedbackIn(BaseModel):
    """The call-back to the reporter (回访) and their rating."""

    model_config = ConfigDict(extra="forbid")
    callback: str = Field(min_length=1, max_length=4000, description="What the reporter said on the call-back.")
    rating: int | None = Field(None, ge=1, le=5, description="The reporter's rating, 1 (very unhappy) to 5.")


@router.post("/{case_id}/feedback", summary="Record the call-back (回访) and the reporter's rating (dispatcher)")
def feedback(case_id: int, body: FeedbackIn, cases: CasesDep, caller: DispatcherDep, clock: ClockDep) -> JSONResponse:
    """Record the call-back and rating on a resolved, verified or closed case. 401/403: no dispatcher key;
    404: no such case; 409: not resolved yet; 422: bad body."""
    actor = cases.actor(caller, cases.get(case_id))
    now = clock()
    case = cases.feedback(case_id, callback=body.callback, rating=body.rating, actor=actor, now=now)
    return JSONResponse(case_view(cases, caller, case, now))
