"""The staff console (``/console``): sign-in, the dispatcher's case list and map, the grid worker's phone
view, the monthly review; pages in Chinese (``?lang=en``: English), offline (Leaflet from /maps/assets).

Who sees what is :mod:`gridgis.access`'s: a dispatcher (and above) every case, a worker its grids' cases.
Sign-in takes a staff key, or a person's phone number (or person id) and password
(:mod:`gridgis.console.logins`: Argon2id hashes; failed attempts per account and per client back off
exponentially, answered 429 with ``Retry-After``). Community, town and department handlers (people
posted there, signed in with a password) use the dispatcher's page limited to their units' cases, with
"held by me" on by default, and act as the chain's table allows them.
The pages identify the caller by the session cookie set at sign-in (HttpOnly, SameSite=Strict, 12 h),
through the same dependency chain as the API (``api.deps``); their scripts call the JSON routes here and
``POST /v1/cases/{id}/transitions`` with the session's CSRF token. The moves a page offers are the
case's, as the server answers them (``allowed_moves``, else ``allowed_transitions``).

JSON errors have the service's one shape; a page asked for without a session redirects to sign-in (303).
"""

from __future__ import annotations

import json
from datetime import datetime
from math import ceil
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.case_views import case_json
from api.deps import (
    SESSION_COOKIE,
    CallerDep,
    CasesDep,
    ClockDep,
    ConsoleDep,
    ServiceDep,
    SettingsDep,
    caller_of,
    require,
)
from api.routes.console_text import STATUS_COLOURS, text
from api.routes.tiles import page_tiles
from gridgis.access import Caller, check_case, may_act, may_read
from gridgis.cases import CATEGORIES, CaseStore, check_report
from gridgis.cases.desk import submit_async
from gridgis.cases.ledger import unit_names
from gridgis.cases.lifecycle import DISPATCH_DESK, LEVELS, STATUSES
from gridgis.cases.people import ROLE_NAMES_ZH
from gridgis.console import query, review
from gridgis.console.logins import account_of, caller_of_person, find_person
from gridgis.console.photos import MAX_PHOTO_BYTES
from gridgis.console.sessions import SESSION_TTL
from gridgis.crs import wgs84_to_gcj02
from gridgis.errors import GridgisError, InputError
from gridgis.service import Service
from gridgis.times import shown

router = APIRouter(prefix="/console", tags=["console"])
HERE = Path(__file__).resolve().parent.parent / "console"
templates = Jinja2Templates(directory=HERE / "templates")
STATIC = {"console.css": "text/css", "console.js": "text/javascript"}
LangQuery = Annotated[str, Query(pattern="^(zh|en)$", description="zh (default) or en.")]


def _who(request: Request, caller: Caller | None) -> str:
    """How the header names the caller: the person's name (a password session, a person's key), else the key prefix."""
    if caller is None:
        return ""
    d = request.app.state.gridgis.cases.people.directory()
    person = d.person_of(caller)
    return person.name if person else (caller.prefix or "")


def _page(request: Request, name: str, caller: Caller | None, lang: str, **context: Any) -> HTMLResponse:
    t = text(lang)
    boot = {
        "lang": lang,
        "text": t,
        "colours": STATUS_COLOURS,
        "csrf": getattr(request.state, "csrf", ""),
        "role": caller.role if caller else None,
        "dispatcher": bool(caller and caller.at_least("dispatcher")),
        "handler": bool(caller and _handler(caller)),
        "categories": {c.code: (c.name_zh if lang == "zh" else c.name) for c in CATEGORIES.values()},
        "levels": list(LEVELS),
        "max_photo_bytes": MAX_PHOTO_BYTES,
        "statuses": list(STATUSES),
        # a plan past GRIDGIS_TILES_ABOVE features: its map draws vector tiles (gridgis-tiles.js)
        "tiles": page_tiles(request) if caller is not None and caller.role is not None else None,
    }
    return templates.TemplateResponse(
        request,
        name,
        {
            "t": t,
            "lang": lang,
            "other_lang": "en" if lang == "zh" else "zh",
            "caller": caller,
            "who": _who(request, caller),
            "handler": bool(caller and _handler(caller)),
            "colours": STATUS_COLOURS,
            "statuses": [s for s in STATUSES],
            "boot": json.dumps(boot, ensure_ascii=False).replace("</", "<\\/"),
            "csrf": boot["csrf"],
            **context,
        },
        headers={"Cache-Control": "no-store", "Content-Security-Policy": CSP},
    )


#: pages load only their own scripts, styles and images (the worker's navigate link opens the map app)
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'"
)


def _handler(caller: Caller) -> bool:
    """A community, town or department handler: uses the case list (its units' cases), not only the phone view."""
    return caller.role == "worker" and bool(caller.units)


def _home(caller: Caller, lang: str) -> str:
    return f"/console/{'cases' if caller.at_least('dispatcher') or _handler(caller) else 'worker'}?lang={lang}"


def _sign_in_first(lang: str) -> RedirectResponse:
    return RedirectResponse(f"/console?lang={lang}", status_code=303)


# --- sign-in -------------------------------------------------------------------------------------
@router.get("", response_class=HTMLResponse, summary="Sign-in page (or, signed in, to one's console)")
def sign_in_page(request: Request, caller: CallerDep, lang: LangQuery = "zh") -> Response:
    """The sign-in form; a signed-in caller is sent on to its view (303)."""
    if caller.role in ("worker",) or caller.at_least("dispatcher"):
        return RedirectResponse(_home(caller, lang), status_code=303)
    return _page(request, "sign_in.html", None, lang, error=None, account="")


def _client(request: Request) -> str:
    """The client a sign-in attempt is counted against: its IP address (as the server sees it)."""
    return request.client.host if request.client else "unknown"


@router.post(
    "/sign-in",
    summary="Open a console session: a staff key, or an account (phone or person id) and its password",
)
async def sign_in(
    request: Request,
    service: ServiceDep,
    console: ConsoleDep,
    settings: SettingsDep,
    secret: Annotated[str, Form(max_length=500, description="The staff key, or the account's password.")],
    account: Annotated[str, Form(max_length=100, description="Phone number or person id (password sign-in).")] = "",
    lang: Annotated[str, Form(pattern="^(zh|en)$")] = "zh",
) -> Response:
    """Check the key (no account) or the account's password, open a session, set its cookie and go to the caller's
    view (303). 401 (the form again, with a message): unknown, revoked or non-staff key, unknown account or wrong
    password. 429 (with Retry-After): too many failures of this account or client; the attempt is not checked."""
    t = text(lang)
    origin = request.headers.get("origin")
    if origin and origin.split("://", 1)[-1] != request.headers.get("host", ""):
        return _page(request, "sign_in.html", None, lang, error=t["bad_key"], account=account)
    name, client = account_of(account) or None, _client(request)
    person_id = find_person(service.cases.people, name) if name else None
    name = person_id or name  # one account whether typed as phone or person id
    wait = await run_in_threadpool(console.logins.wait, name, client)
    if wait > 0:
        page = _page(
            request, "sign_in.html", None, lang, error=t["too_many"].format(seconds=ceil(wait)), account=account
        )
        page.status_code = 429
        page.headers["Retry-After"] = str(ceil(wait))
        return page
    caller: Caller | None = None
    if name is not None:  # a person's password
        if await run_in_threadpool(console.logins.verify, person_id, secret):
            caller = caller_of_person(service.cases.people, person_id)
    else:
        try:
            caller = await caller_of(service, secret.strip() or None)
        except GridgisError:
            caller = None
    if caller is None or not (caller.role == "worker" or caller.at_least("dispatcher")):
        await run_in_threadpool(console.logins.failed, name, client)
        page = _page(
            request, "sign_in.html", None, lang, error=t["bad_password" if name else "bad_key"], account=account
        )
        page.status_code = 401
        return page
    if name is not None:
        await run_in_threadpool(console.logins.succeeded, name)
    token, _ = await run_in_threadpool(console.sessions.open, caller)
    out = RedirectResponse(_home(caller, lang), status_code=303)
    out.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_TTL.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure,
        path="/",
    )
    return out


@router.post("/sign-out", summary="End the console session (form: csrf)")
async def sign_out(request: Request, console: ConsoleDep, caller: CallerDep, lang: LangQuery = "zh") -> Response:
    """End the session (the CSRF token is checked by the caller dependency) and go to sign-in (303)."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await run_in_threadpool(console.sessions.close, token)
    out = _sign_in_first(lang)
    out.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return out


# --- pages ---------------------------------------------------------------------------------------
@router.get("/cases", response_class=HTMLResponse, summary="Dispatcher console: case list, map, detail, actions")
def cases_page(request: Request, service: ServiceDep, caller: CallerDep, lang: LangQuery = "zh") -> Response:
    """The dispatcher's page (HTML), also a community/town/department handler's (their units' cases); a grid
    worker is sent to its own view, no session to sign-in (303)."""
    if not (caller.at_least("dispatcher") or _handler(caller)):
        return RedirectResponse(_home(caller, lang), 303) if caller.role == "worker" else _sign_in_first(lang)
    assignees = assignee_options(service.cases) if caller.at_least("dispatcher") else []
    return _page(
        request,
        "cases.html",
        caller,
        lang,
        sorts=list(query.SORTS),
        units=filter_units(service, caller),
        assignees=assignees,
    )


def assignee_options(cases: CaseStore) -> list[tuple[str, str]]:
    """What a dispatcher may assign to, as (value, label): each person (by name, or ``person:ID`` when the name is
    not unique; labelled with role and posts) and each configured department (``department:NAME``)."""
    d = cases.people.directory()
    counts: dict[str, int] = {}
    for person in d.people.values():
        counts[person.name] = counts.get(person.name, 0) + 1
    out = []
    for pid, person in sorted(d.people.items(), key=lambda item: item[1].name):
        posts = ", ".join(p.unit_id for p in d.posts_of(pid))
        value = person.name if counts[person.name] == 1 else f"person:{pid}"
        out.append((value, f"{person.name} · {ROLE_NAMES_ZH.get(person.role, person.role)} · {posts}"))
    out += [(f"department:{name}", name) for name in cases.config().departments]
    return out


def filter_units(service: Service, caller: Caller) -> dict[str, list[tuple[str, str]]]:
    """The towns, communities and grids the page's filters offer, as (code, name) sorted by code: the published
    plan's, limited to the caller's grids and units."""
    snap = service.snapshot
    out: dict[str, dict[str, str]] = {"town": {}, "community": {}, "grid": {}}
    for answer in snap.answers if snap is not None else ():
        town, community, grid = (answer.get(k) or {} for k in ("town", "community", "grid"))
        case = {"grid_id": str(grid.get("grid_id")), "community_id": community.get("community_id")}
        case["town_id"], case["department"] = town.get("town_id"), None
        if not (caller.at_least("dispatcher") or may_read(caller, case)):
            continue
        for level, unit in (("town", town), ("community", community), ("grid", grid)):
            code = unit.get(f"{level}_id")
            if code is not None:
                out[level][str(code)] = str(unit.get("name") or code)
    return {level: sorted(units.items()) for level, units in out.items()}


@router.get("/worker", response_class=HTMLResponse, summary="Grid worker's phone view: my cases by deadline")
def worker_page(request: Request, caller: CallerDep, lang: LangQuery = "zh") -> Response:
    """The grid worker's page (HTML); without a session, sign-in (303)."""
    if caller.role is None or not caller.at_least("worker"):
        return _sign_in_first(lang)
    return _page(request, "worker.html", caller, lang)


@router.get("/review", response_class=HTMLResponse, summary="Monthly review (考核) figures")
def review_page(
    request: Request,
    service: ServiceDep,
    caller: CallerDep,
    cases: CasesDep,
    clock: ClockDep,
    lang: LangQuery = "zh",
    month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None,
    unit: Annotated[str, Query(pattern="^(grid|community|town)$")] = "grid",
) -> Response:
    """Counts, on-time rate and median time to close per unit for a month (HTML). No session: sign-in (303)."""
    if caller.role is None or not caller.at_least("worker"):
        return _sign_in_first(lang)
    month = month or shown(clock()).strftime("%Y-%m")
    rows = _review_rows(service, caller, cases, clock, unit, month)
    return _page(request, "review.html", caller, lang, rows=rows, month=month, unit=unit)


def _review_rows(service, caller: Caller, cases, clock, unit: str, month: str) -> list:
    """The review of ``month`` per ``unit``, over the cases the caller may read, with unit names."""
    return review.review(
        cases,
        unit,
        review.month_range(month),
        grid_ids=caller.scope,
        units=caller.units,
        names=unit_names_of(service)[unit],
        now=clock(),
    )


@router.get("/review.xlsx", summary="Monthly review as XLSX (staff)")
def review_xlsx(
    service: ServiceDep,
    caller: Annotated[Caller, require("worker")],
    cases: CasesDep,
    clock: ClockDep,
    month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$")],
    unit: Annotated[str, Query(pattern="^(grid|community|town)$")] = "grid",
    lang: LangQuery = "zh",
) -> Response:
    """The review of ``month`` per ``unit`` as a workbook. 401/403: not staff; 422: bad month or unit."""
    t = text(lang)
    rows = _review_rows(service, caller, cases, clock, unit, month)
    headers = [
        t["code"],
        t[unit],
        t["cases_n"],
        t["closed_n"],
        t["open_n"],
        t["overdue"],
        t["escalated_n"],
        t["on_time"],
        t["median_hours"],
    ]
    body = review.review_xlsx(rows, headers, f"{month} {unit}")
    return Response(
        body,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="review-{month}-{unit}.xlsx"'},
    )


@router.get("/static/{name}", include_in_schema=False)
def static(name: str) -> FileResponse:
    """The console's script and style sheet."""
    if name not in STATIC:
        raise InputError(f"No console file {name!r}.", fix=f"use one of {list(STATIC)}.")
    return FileResponse(HERE / "static" / name, media_type=STATIC[name], headers={"Cache-Control": "no-cache"})


# --- JSON for the pages ---------------------------------------------------------------------------
def selection(
    caller: Annotated[Caller, require("worker")],
    cases: CasesDep,
    status: Annotated[list[str] | None, Query(description=f"Repeat or comma-separate: {list(STATUSES)}.")] = None,
    level: Annotated[str | None, Query(description=f"One of {list(LEVELS)}.")] = None,
    overdue: bool = False,
    category: str | None = None,
    town_id: str | None = None,
    community_id: str | None = None,
    grid_id: str | None = None,
    assignee: Annotated[str | None, Query(max_length=200)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Case id or words of the description/assignee.")] = None,
    mine: Annotated[bool, Query(description="Only the cases held by the caller, or by a desk of its units.")] = False,
) -> query.Selection:
    """The console's filter from the query, limited to the caller's grids. 401/403: not staff; 422: bad value."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise InputError(f"{name} has no time zone.", fix=f"add one, e.g. {name}=2026-11-01T00:00+08:00.")
    if category is not None and category not in CATEGORIES:
        raise InputError(f"Unknown category {category!r}.", fix=f"use one of {list(CATEGORIES)}.")
    return query.Selection(
        status=tuple(s for item in status or () for s in item.split(",") if s),
        level=level or None,
        overdue=overdue,
        category=category or None,
        town_id=town_id or None,
        community_id=community_id or None,
        grid_id=grid_id or None,
        assignee=assignee or None,
        since=since,
        until=until,
        search=q or None,
        held_by=held_by(cases, caller) if mine else (),
        to_check=any(level == "community" for level, _ in caller.units),  # the community checks and closes
        grid_ids=caller.scope,
        units=caller.units,
    )


def held_by(cases: CaseStore, caller: Caller) -> tuple[str, ...]:
    """The assignees whose cases are the caller's own: its person, the desks of its grids and units, and for a
    dispatcher the dispatch desk (returned cases)."""
    d = cases.people.directory()
    person = d.person_of(caller)
    out = [f"person:{person.person_id}"] if person else []
    out += [f"grid:{g}" for g in caller.grids] + [f"{level}:{unit}" for level, unit in caller.units]
    if caller.at_least("dispatcher"):
        out.append(DISPATCH_DESK)
    return tuple(out)


SelectionDep = Annotated[query.Selection, Depends(selection)]


def nav_url(lon: float, lat: float, name: str) -> str:
    """A link opening Amap (高德) at a WGS 84 point, converted to GCJ-02 as Amap expects."""
    glon, glat = wgs84_to_gcj02(lon, lat)
    return (
        f"https://uri.amap.com/marker?position={float(glon):.6f},{float(glat):.6f}"
        f"&name={name}&coordinate=gaode&callnative=1"
    )


def unit_names_of(service: Service) -> dict[str, dict[str, str]]:
    """``grid``/``community``/``town`` -> code -> name of the published plan (:func:`gridgis.cases.ledger.unit_names`),
    built once per snapshot."""
    snap = service.snapshot
    cached = _NAMES.get("key")
    if cached is None or cached[0] is not snap:  # the snapshot itself: two apps' stores may share plan ids
        cached = (snap, unit_names(snap))
        _NAMES["key"] = cached
    return cached[1]


#: the unit names of the last snapshot asked for: (snapshot, names)
_NAMES: dict[str, tuple] = {}


def assignee_name(cases: CaseStore, names: dict[str, dict[str, str]], assignee: str | None) -> str | None:
    """The name of who holds a case: a person's name, or the name of the grid, community or town whose desk
    (``grid:ID``...) holds it; None for another assignee (a department is named by its name already)."""
    if not assignee:
        return None
    kind, _, ref = assignee.partition(":")
    if kind in names:
        return names[kind].get(ref)
    return cases.people.directory().name_of(assignee)


def _listed(cases: CaseStore, case: dict[str, Any], now: datetime, names: dict[str, dict[str, str]]) -> dict[str, Any]:
    out = case_json(case, now, contact=True, names=cases.people.directory().name_of)
    out["assignee_name"] = out.get("assignee_name") or assignee_name(cases, names, case["assignee"])
    for level in ("grid", "community", "town"):
        code = case[f"{level}_id"]
        out[f"{level}_name"] = names[level].get(str(code)) if code is not None else None
    out["due_shown"] = shown(case["due_at"]).strftime("%m-%d %H:%M")
    out["created_shown"] = shown(case["created_at"]).strftime("%m-%d %H:%M")
    out["nav_url"] = nav_url(case["lon"], case["lat"], f"case {case['id']}")
    return out


@router.get("/api/cases", summary="A page of the console's selection and its map points (staff)")
def list_cases(
    service: ServiceDep,
    cases: CasesDep,
    s: SelectionDep,
    clock: ClockDep,
    caller: Annotated[Caller, require("worker")],
    sort: str = "newest",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    map: bool = True,  # noqa: A002 - the query parameter's name
) -> JSONResponse:
    """``{"cases", "total", "points": [[id, lon, lat, status, overdue]...], "points_capped", "stamp"}``.
    401/403: not staff; 422: bad filter, sort or page."""
    now = clock()
    stamp = query.stamp(cases)
    rows, total = query.page(cases, s, sort=sort, limit=limit, offset=offset, now=now)
    names = unit_names_of(service)
    out: dict[str, Any] = {
        "cases": [{**_listed(cases, c, now, names), "allowed_moves": cases.allowed_moves(c, caller)} for c in rows],
        "total": total,
        "limit": limit,
        "offset": offset,
        "stamp": stamp,
    }
    if map:
        pts = query.points(cases, s, now=now)
        out["points"] = pts
        out["points_capped"] = len(pts) < total
    return JSONResponse(out)


@router.get("/api/stamp", summary="A value that changes when any case changes (the pages poll it)")
def stamp(cases: CasesDep, caller: Annotated[Caller, require("worker")]) -> dict:
    """``{"stamp": str}``. 401/403: not staff."""
    return {"stamp": query.stamp(cases)}


@router.get("/api/cases/{case_id}", summary="One case for the console: history, photos, moves (staff)")
def case_detail(
    case_id: int,
    service: ServiceDep,
    cases: CasesDep,
    console: ConsoleDep,
    caller: Annotated[Caller, require("worker")],
    clock: ClockDep,
) -> JSONResponse:
    """The case (as /v1/cases/{id}) with ``events``, ``photos`` and ``moves`` (the server's allowed moves
    for this caller; empty when it may not act). 401/403: not staff or another grid's case; 404: no case."""
    case = cases.get(case_id)
    check_case(caller, case)
    now = clock()
    names = unit_names_of(service)
    out = _listed(cases, case, now, names)
    out["events"] = [
        {
            **e,
            "at": e["at"].isoformat(),
            "at_shown": shown(e["at"]).strftime("%m-%d %H:%M"),
            "assignee_name": assignee_name(cases, names, e["assignee"]),
        }
        for e in cases.events(case_id)
    ]
    out["photos"] = [
        {"id": p["id"], "url": f"/console/photos/{p['id']}", "name": p["name"], "uploaded_by": p["uploaded_by"]}
        for p in console.photos.list(case_id)
    ]
    out["moves"] = cases.allowed_moves(case, caller)  # the chain's one table, for this caller
    # as POST /v1/cases/{id}/notes allows: a chain role on the case, or the access rules' right to move it
    out["may_note"] = bool(cases.actor(caller, case).roles) or may_act(caller, case)
    return JSONResponse(out)


class AssignIn(BaseModel):
    """A bulk assignment: case ids, the assignee and a note."""

    model_config = ConfigDict(extra="forbid")
    ids: list[int] = Field(min_length=1, max_length=500)
    assignee: str = Field(min_length=1, max_length=200)
    note: str = Field("", max_length=4000)


@router.post("/api/assign", summary="Assign several cases to one assignee (dispatcher)")
def bulk_assign(
    body: AssignIn, cases: CasesDep, caller: Annotated[Caller, require("dispatcher")], clock: ClockDep
) -> dict:
    """Each case moved to ``assigned`` on its own: ``{"assigned": [ids], "failed": [{"id", "code", "message"}]}``.
    401/403: no dispatcher; 422: bad body."""
    done, failed = [], []
    for case_id in dict.fromkeys(body.ids):
        try:
            actor = cases.actor(caller, cases.get(case_id))
            cases.transition(
                case_id, "assigned", actor=actor, note=body.note, assignee=body.assignee.strip(), now=clock()
            )
            done.append(case_id)
        except GridgisError as exc:
            failed.append({"id": case_id, "code": exc.code, "message": str(exc)})
    return {"assigned": done, "failed": failed}


@router.post("/api/cases/{case_id}/photos", status_code=201, summary="Add a photo to a case (staff; JPEG/PNG/WebP)")
async def add_photo(
    case_id: int,
    cases: CasesDep,
    console: ConsoleDep,
    caller: Annotated[Caller, require("worker")],
    photo: Annotated[UploadFile, File(description=f"JPEG, PNG or WebP, at most {MAX_PHOTO_BYTES // 2**20} MiB.")],
) -> JSONResponse:
    """Keep the photo with the case: ``{"id", "url", "name", ...}``. 401/403: not staff or another grid's case;
    404: no case; 422: empty, too large (over the limit) or not an image."""
    case = await run_in_threadpool(cases.get, case_id)
    check_case(caller, case, act=True)
    data = await photo.read(MAX_PHOTO_BYTES + 1)
    actor = await run_in_threadpool(cases.actor, caller, case)
    row = await run_in_threadpool(console.photos.add, case_id, data, photo.filename or "photo", actor=actor.name)
    url = f"/console/photos/{row['id']}"
    await run_in_threadpool(cases.note, case_id, "", [url], actor=actor)  # the history shows who added it, when
    return JSONResponse(
        {"id": row["id"], "url": url, "name": row["name"], "size_bytes": row["size_bytes"]}, status_code=201
    )


@router.get("/photos/{photo_id}", summary="A case photo (staff who may read the case)")
def photo_file(photo_id: int, cases: CasesDep, console: ConsoleDep, caller: CallerDep) -> FileResponse:
    """The photo file. 401/403: may not read its case; 404: no photo."""
    photo = console.photos.get(photo_id)
    check_case(caller, cases.get(photo["case_id"]))
    return FileResponse(
        console.photos.path(photo),
        media_type=photo["media_type"],
        headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


class PatrolIn(BaseModel):
    """A case found on patrol: category, description and the phone's WGS 84 location."""

    model_config = ConfigDict(extra="forbid")
    category: str
    description: str = Field(min_length=1, max_length=4000)
    lon: float
    lat: float


@router.post("/api/patrol", status_code=201, summary="Report a case found on patrol (staff)")
async def patrol(
    body: PatrolIn,
    service: ServiceDep,
    cases: CasesDep,
    caller: Annotated[Caller, require("worker")],
    clock: ClockDep,
) -> JSONResponse:
    """Submit a case (channel ``patrol``) at the phone's location, routed as any report. 401/403: not staff;
    404: no plan published; 422: bad field or location."""
    report = check_report(
        category=body.category, description=body.description, lon=body.lon, lat=body.lat, crs="wgs84", channel="patrol"
    )
    snapshot = service.snapshot or await run_in_threadpool(service.current, None)
    now = clock()
    case, _ = await submit_async(cases, snapshot, report, client=caller.prefix, client_id=caller.key_id, now=now)
    return JSONResponse(_listed(cases, case, now, unit_names_of(service)), status_code=201)


@router.get("/api/grids.geojson", summary="The published plan's grid outlines for the console map")
def grids_geojson(service: ServiceDep, caller: Annotated[Caller, require("worker")]) -> Response:
    """GeoJSON of the grids (grid_id only), simplified to about 5 m. 401/403: not staff; 404: no plan."""
    snap = service.current(None)
    cached = _GRIDS.get("key")
    if cached is None or cached[0] != (snap.plan.plan_id, snap.revision):
        grids = snap.grids[["grid_id", "geometry"]].copy()
        grids["geometry"] = grids.geometry.simplify(0.00005)
        cached = ((snap.plan.plan_id, snap.revision), grids.to_json(drop_id=True))
        _GRIDS["key"] = cached
    return Response(cached[1], media_type="application/geo+json")


#: the grids' GeoJSON of the last snapshot asked for: (plan id, revision) -> text
_GRIDS: dict[str, tuple] = {}
