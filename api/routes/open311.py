"""Open311 GeoReport v2 at ``/open311/v2``: services, requests (POST form-encoded with ``api_key``), errors.

Formats by extension: ``.json`` or ``.xml``. Errors are Open311's list of
``{"code", "description"}`` (``<errors><error>`` in XML): 400 for bad input,
403 for a missing or unknown ``api_key``, 404 for an unknown service or request.
Reads are public, as in the spec (no reporter contact is ever shown).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response

from api.deps import ServiceDep
from api.routes.cases import CasesDep, ClockDep
from gridgis.cases import CATEGORIES, CaseFilter, check_report, submit
from gridgis.cases import open311 as doc
from gridgis.cases.open311 import OPEN311_STATUSES
from gridgis.errors import AccessError, GridgisError, InputError, NotFoundError, UnauthenticatedError

router = APIRouter(prefix="/open311/v2", tags=["open311"])

FORMATS = ("json", "xml")
MAX_REQUESTS = 1000
DEFAULT_WINDOW = timedelta(days=90)


def _reply(fmt: str, kind: str, body: Any, status: int = 200) -> Response:
    if fmt == "xml":
        return Response(doc.to_xml(kind, body), status_code=status, media_type="text/xml; charset=utf-8")
    return JSONResponse(body, status_code=status)


def _answer(fmt: str, kind: str, make: Callable[[], Any], status: int = 200) -> Response:
    """Run ``make`` and reply in ``fmt``; any gridgis error becomes an Open311 error document."""
    if fmt not in FORMATS:
        return _reply("json", "errors", doc.errors(404, f"Unknown format {fmt!r}; use .json or .xml."), 404)
    try:
        return _reply(fmt, kind, make(), status)
    except GridgisError as exc:
        return _error(fmt, exc)


def _error(fmt: str, exc: GridgisError) -> Response:
    """The Open311 error document of ``exc``: 403 for a missing or unknown api_key, 404 not found, else 400."""
    code = 403 if isinstance(exc, AccessError) else 404 if isinstance(exc, NotFoundError) else 400
    return _reply(fmt, "errors", doc.errors(code, str(exc)), code)


def _service(code: str | None, categories=CATEGORIES) -> str:
    if not code:
        raise InputError("service_code is required.", fix=f"use one of {list(categories)} (GET services.json).")
    if code not in categories:
        raise NotFoundError(f"No service {code!r}.", fix=f"use one of {list(categories)} (GET services.json).")
    return code


@router.get("/services.{fmt}", summary="The services (one per case category)")
def services(fmt: str, cases: CasesDep) -> Response:
    """The Open311 services, one per case category (Chinese names)."""
    return _answer(fmt, "services", lambda: doc.service_list(cases.config()))


@router.get("/services/{code}.{fmt}", summary="One service's definition")
def service(code: str, fmt: str, cases: CasesDep) -> Response:
    """One service's definition. 404: unknown service."""
    return _answer(fmt, "service_definition", lambda: doc.service_definition(_service(code, cases.config().categories)))


@router.post("/requests.{fmt}", summary="Submit a request (form-encoded, with api_key); lat/long in WGS84")
async def post_request(
    fmt: str,
    request: Request,
    service: ServiceDep,
    cases: CasesDep,
    clock: ClockDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    """Submit a request (form-encoded, with api_key). 201; 400: bad field; 403: missing or unknown api_key; 404:
    unknown service."""
    from starlette.concurrency import run_in_threadpool

    try:
        form = await request.form()
    except Exception as exc:  # not form-encoded
        return _reply(fmt if fmt in FORMATS else "json", "errors", doc.errors(400, f"Unreadable form: {exc}."), 400)
    fields = {k: v for k, v in form.items() if isinstance(v, str)}

    def create() -> list[dict[str, Any]]:
        key = fields.get("api_key") or None
        caller = service.identify(key)
        if caller is None or caller.role is None:  # Open311 names the field, not the header
            raise UnauthenticatedError(
                f"api_key {key[:10]!r}... is unknown or revoked." if key else "api_key is missing.",
                code="bad_key" if key else "key_required",
                fix="send your app's API key in the api_key field.",
            )
        if fields.get("address_string") and not (fields.get("lat") and fields.get("long")):
            raise InputError(
                "Requests need lat and long; address_string alone is not geocoded.",
                fix="send the point in WGS84 degrees as lat and long.",
            )
        contact = {"email": fields.get("email"), "phone": fields.get("phone")}
        name = " ".join(filter(None, (fields.get("first_name"), fields.get("last_name"))))
        if name:
            contact["name"] = name
        categories = cases.config().categories
        report = check_report(
            categories=categories,
            category=_service(fields.get("service_code"), categories),
            description=fields.get("description"),
            lon=fields.get("long"),
            lat=fields.get("lat"),
            crs="wgs84",
            channel="app",
            photo_urls=[fields["media_url"]] if fields.get("media_url") else [],
            contact=contact,
        )
        case, _ = submit(
            cases,
            service.current(None),
            report,
            client=caller.prefix,
            client_id=caller.key_id,
            idempotency_key=idempotency_key,
            now=clock(),
        )
        return doc.created(case, cases.config())

    if fmt not in FORMATS:
        return _answer(fmt, "service_requests", create)
    try:
        body = await run_in_threadpool(create)
    except GridgisError as exc:
        return _error(fmt, exc)
    return _reply(fmt, "service_requests", body, 201)


def _time(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{name} {value!r} is not a W3C date-time.", fix=f"e.g. {name}=2026-11-01T00:00:00Z") from None
    if when.tzinfo is None:
        raise InputError(f"{name} {value!r} has no time zone.", fix="add one, e.g. Z or +08:00.")
    return when


@router.get("/requests.{fmt}", summary="Requests by id, service, status and date (last 90 days by default)")
def get_requests(
    fmt: str,
    cases: CasesDep,
    clock: ClockDep,
    service_request_id: str | None = None,
    service_code: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    status: Annotated[str | None, Query(description="open, closed or both comma-separated.")] = None,
) -> Response:
    """Requests by id, service, status and date, newest first, at most 1,000 (no reporter contact). 400: bad
    parameter."""

    def find() -> list[dict[str, Any]]:
        ids = ()
        if service_request_id:
            try:
                ids = tuple(int(i) for i in service_request_id.split(",") if i.strip())
            except ValueError:
                raise InputError(
                    f"service_request_id {service_request_id!r} must be ids separated by commas.", fix="e.g. 12,15"
                ) from None
        statuses: tuple[str, ...] = ()
        for s in filter(None, (status or "").split(",")):
            if s not in OPEN311_STATUSES:
                raise InputError(f"Unknown status {s!r}.", fix="use open, closed or open,closed.")
            statuses += OPEN311_STATUSES[s]
        config = cases.config()
        codes = [_service(c, config.categories) for c in filter(None, (service_code or "").split(","))]
        since, until = _time(start_date, "start_date"), _time(end_date, "end_date")
        if not ids and since is None:
            since = (until or clock()) - DEFAULT_WINDOW
        out: list[dict[str, Any]] = []
        for code in codes or [None]:
            f = CaseFilter(status=statuses, category=code, since=since, until=until, ids=ids)
            rows, _ = cases.list(f, limit=MAX_REQUESTS)
            out += [doc.service_request(c, config) for c in rows]
        out.sort(key=lambda r: -int(r["service_request_id"]))
        return out[:MAX_REQUESTS]

    return _answer(fmt, "service_requests", find)


@router.get("/requests/{request_id}.{fmt}", summary="One request")
def get_request(request_id: str, fmt: str, cases: CasesDep) -> Response:
    """One request (no reporter contact). 404: no such request."""

    def find() -> list[dict[str, Any]]:
        if not request_id.isdigit():
            raise NotFoundError(f"No request {request_id!r}.", fix="request ids are numbers.")
        return [doc.service_request(cases.get(int(request_id)), cases.config())]

    return _answer(fmt, "service_requests", find)
