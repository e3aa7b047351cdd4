"""Open311 GeoReport v2 at ``/open311/v2`` (and discovery at ``/open311/discovery``), JSON and XML.

Formats by extension: ``.json`` or ``.xml``. Errors are Open311's list of ``{"code", "description"}``
(``<errors><error>`` in XML): 400 for bad input, 403 for a missing or unknown ``api_key``, 404 for an unknown
service, request or jurisdiction. Every endpoint takes ``jurisdiction_id`` (``GRIDGIS_OPEN311_JURISDICTION``;
any other is 404; when that setting is empty any id is taken and kept).

``POST requests`` is form-encoded (a JSON body is refused, saying so) with ``api_key``; every field it
takes is kept: the case's own (service_code, description, lat/long, media_url) in the case tables, the rest
(address_string, address_id, email, device_id, account_id, first_name, last_name, phone, attribute[CODE],
jurisdiction_id, crs) in the ``georeport`` side table (:mod:`gridgis.georeport`). A field it does not take
is refused, never dropped. ``crs`` (an extension: wgs84 by default, gcj02 for Amap/Tencent/WeChat, bd09
for Baidu, cgcs2000) says what lat/long are in; the point is converted to WGS84 before routing.

Reads are public, as in the spec; the reporter's fields (names, email, phone, device and account ids) are
shown only to a staff key (``X-API-Key``, worker and above).
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from api.deps import CasesDep, ClockDep, ServiceDep, SettingsDep, geocoder_of, georeport_of, key_token
from api.inputs import INT64_MAX, bad_text
from gridgis.cases import CaseFilter, check_report, submit
from gridgis.cases import open311 as doc
from gridgis.cases.desk import in_turn
from gridgis.cases.open311 import OPEN311_STATUSES
from gridgis.errors import AccessError, GridgisError, InputError, NotFoundError, UnauthenticatedError
from gridgis.geocode import NotPlaced
from gridgis.georeport import ATTRIBUTES, PERSON_FIELDS, GeoReportStore, check_attributes, check_field

router = APIRouter(prefix="/open311/v2", tags=["open311"])
discovery_router = APIRouter(prefix="/open311", tags=["open311"])

FORMATS = ("json", "xml")
MAX_REQUESTS = 1000
DEFAULT_WINDOW = timedelta(days=90)
SPEC = "http://wiki.open311.org/GeoReport_v2"
#: the fields of POST requests (GeoReport v2) plus gridgis' ``crs``; ``attribute[CODE]`` besides
POST_FIELDS = (
    "api_key",
    "jurisdiction_id",
    "service_code",
    "lat",
    "long",
    "address_string",
    "address_id",
    *PERSON_FIELDS,
    "description",
    "media_url",
    "crs",
)

ApiKey = Annotated[
    str | None, Query(max_length=200, description="A staff key shows the reporter's fields (or send X-API-Key).")
]
Jurisdiction = Annotated[
    str | None, Query(max_length=200, description="The jurisdiction (GRIDGIS_OPEN311_JURISDICTION); optional.")
]
ERRORS = {
    400: {"description": "Bad input: Open311 error list."},
    403: {"description": "Missing or unknown api_key: Open311 error list."},
    404: {"description": "Unknown service, request, jurisdiction or format: Open311 error list."},
}


def _reply(fmt: str, kind: str, body: Any, status: int = 200) -> Response:
    if fmt == "xml":
        xml = _discovery_xml(body) if kind == "discovery" else doc.to_xml(kind, body)
        return Response(xml, status_code=status, media_type="text/xml; charset=utf-8")
    return JSONResponse(body, status_code=status)


def _answer(fmt: str, kind: str, make: Callable[[], Any], status: int = 200) -> Response:
    """Run ``make`` and reply in ``fmt``; any gridgis error becomes an Open311 error document."""
    if fmt not in FORMATS:
        return _reply("json", "errors", doc.errors(404, f"Unknown format {fmt[:20]!r}; use .json or .xml."), 404)
    try:
        return _reply(fmt, kind, make(), status)
    except GridgisError as exc:
        return _error(fmt, exc)


def _error(fmt: str, exc: GridgisError) -> Response:
    """The Open311 error document of ``exc``: 403 for a missing or unknown api_key, 404 not found, else 400."""
    code = 403 if isinstance(exc, AccessError) else 404 if isinstance(exc, NotFoundError) else 400
    return _reply(fmt if fmt in FORMATS else "json", "errors", doc.errors(code, str(exc)), code)


def _discovery_xml(body: dict[str, Any]) -> bytes:
    root = ET.Element("discovery")
    for key in ("changeset", "contact", "key_service"):
        ET.SubElement(root, key).text = body[key]
    endpoints = ET.SubElement(root, "endpoints")
    for point in body["endpoints"]:
        node = ET.SubElement(endpoints, "endpoint")
        for key in ("specification", "url", "changeset", "type"):
            ET.SubElement(node, key).text = point[key]
        formats = ET.SubElement(node, "formats")
        for f in point["formats"]:
            ET.SubElement(formats, "format").text = f
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _jurisdiction(settings, value: str | None) -> str | None:
    ours = settings.open311_jurisdiction
    if value and ours and value != ours:
        raise NotFoundError(f"No jurisdiction {value[:40]!r}.", fix=f"use jurisdiction_id={ours} (or none).")
    return value or ours or None


def _service(code: str | None, categories) -> str:
    """``code`` when it names a category of the configuration (``categories``: code -> category)."""
    if not code:
        raise InputError("service_code is required.", fix=f"use one of {list(categories)} (GET services.json).")
    if code not in categories:
        raise NotFoundError(f"No service {code[:40]!r}.", fix=f"use one of {list(categories)} (GET services.json).")
    return code


# --- discovery and services ------------------------------------------------------------------
@discovery_router.get("/discovery.{fmt}", summary="Open311 service discovery", responses=ERRORS)
def discovery(fmt: str, request: Request, settings: SettingsDep) -> Response:
    """Where the GeoReport v2 endpoint is, its formats and contact (Open311 Service Discovery)."""
    base = str(request.base_url).rstrip("/")

    def make() -> dict[str, Any]:
        return {
            "changeset": "2026-11-30T00:00:00Z",
            "contact": settings.open311_contact,
            "key_service": f"{base}/docs (keys: gridgis key create --role reader)",
            "endpoints": [
                {
                    "specification": SPEC,
                    "url": f"{base}/open311/v2",
                    "changeset": "2026-11-30T00:00:00Z",
                    "type": "production",
                    "formats": ["application/json", "text/xml"],
                }
            ],
        }

    return _answer(fmt, "discovery", make)


@router.get("/services.{fmt}", summary="The services (one per case category)", responses=ERRORS)
def services(fmt: str, settings: SettingsDep, cases: CasesDep, jurisdiction_id: Jurisdiction = None) -> Response:
    """The Open311 services, one per case category; each has the attributes of ``services/{code}``."""

    def make() -> list[dict[str, Any]]:
        _jurisdiction(settings, jurisdiction_id)
        return [{**s, "metadata": True} for s in doc.service_list(cases.config())]

    return _answer(fmt, "services", make)


@router.get("/services/{code}.{fmt}", summary="One service's definition with its attributes", responses=ERRORS)
def service(
    code: str, fmt: str, settings: SettingsDep, cases: CasesDep, jurisdiction_id: Jurisdiction = None
) -> Response:
    """One service's definition: its attributes (urgency, landmark, recurring). 404: unknown service."""

    def make() -> dict[str, Any]:
        _jurisdiction(settings, jurisdiction_id)
        return {"service_code": _service(code, cases.config().categories), "attributes": ATTRIBUTES}

    return _answer(fmt, "service_definition", make)


# --- requests ----------------------------------------------------------------------------------
def _form_fields(form) -> tuple[dict[str, str], dict[str, str]]:
    """(fields, attributes) of a GeoReport form; a field it does not take or an unstorable value is refused."""
    fields: dict[str, str] = {}
    attributes: dict[str, str] = {}
    for key, value in form.multi_items():
        if not isinstance(value, str):
            raise InputError(f"Field {key[:40]!r} is a file; requests take text.", fix="send media_url instead.")
        why = bad_text(key) or bad_text(value)
        if why:
            raise InputError(f"Field {key[:40]!r} {why}.", fix="remove the character.")
        if key.startswith("attribute[") and key.endswith("]"):
            target, name = attributes, key[10:-1]
        elif key in POST_FIELDS:
            target, name = fields, key
        else:
            raise InputError(
                f"Unknown field {key[:40]!r}.",
                fix=f"use the GeoReport v2 fields {list(POST_FIELDS)} and attribute[CODE].",
            )
        if name in target:
            raise InputError(f"Field {key[:40]!r} is sent twice.", fix="send it once.")
        target[name] = value
    return fields, attributes


QUEUED = "The address matched no door plate: the request waits for a dispatcher to place it (GET tokens/TOKEN)."


def _report_args(
    fields: dict[str, str], kept: dict[str, Any], lon: Any, lat: Any, crs: str, categories
) -> dict[str, Any]:
    contact = {"email": kept["email"], "phone": kept["phone"]}
    name = " ".join(filter(None, (kept["last_name"], kept["first_name"])))
    if name:
        contact["name"] = name
    return {
        "category": _service(fields.get("service_code"), categories),
        "description": fields.get("description"),
        "lon": lon,
        "lat": lat,
        "crs": crs,
        "channel": "app",
        "photo_urls": [kept["media_url"]] if kept.get("media_url") else [],
        "contact": contact,
    }


def create_request(
    service,
    cases,
    georeport: GeoReportStore,
    fields: dict[str, str],
    kept: dict[str, Any],
    submitter: dict[str, str],
    *,
    now: datetime,
    idempotency_key: str | None = None,
    also: Callable[[Any, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Check, route and store one GeoReport request (the case, its kept fields and ``also``'s rows, in one
    transaction); the case. Also used when a dispatcher places a queued one (:mod:`api.routes.addresses`)."""
    if not (fields.get("lat") and fields.get("long")):
        raise InputError(
            "Requests need lat and long, or an address_string the address layers place.",
            fix="send the point as lat and long (crs=gcj02 or bd09 for map-app points), or address_string.",
        )
    categories = cases.config().categories
    report = check_report(
        **_report_args(fields, kept, fields.get("long"), fields.get("lat"), fields.get("crs") or "wgs84", categories),
        categories=categories,
    )
    kept = {**kept, "crs": report.source_crs}
    case, _ = submit(
        cases,
        service.current(None),
        report,
        **submitter,
        idempotency_key=idempotency_key,
        now=now,
        also=in_turn(georeport.writer(kept), also),
    )
    return case


@router.post(
    "/requests.{fmt}",
    status_code=201,
    summary="Submit a request (form-encoded, with api_key); lat/long in crs (default WGS84)",
    responses=ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["api_key", "service_code"],
                        "properties": {
                            **{f: {"type": "string"} for f in POST_FIELDS},
                            "crs": {"type": "string", "enum": ["wgs84", "cgcs2000", "gcj02", "bd09"]},
                        },
                        "additionalProperties": {"type": "string", "description": "attribute[CODE]"},
                    }
                }
            },
        }
    },
)
async def post_request(
    fmt: str,
    request: Request,
    service: ServiceDep,
    settings: SettingsDep,
    cases: CasesDep,
    clock: ClockDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    """Submit a request (form-encoded, with api_key). 201; 400: bad or unknown field, a JSON body; 403: missing or
    unknown api_key; 404: unknown service or jurisdiction."""
    out_fmt = fmt if fmt in FORMATS else "json"
    if "json" in request.headers.get("content-type", ""):
        return _error(
            out_fmt,
            InputError(
                "The body is JSON; GeoReport v2 requests are form-encoded.",
                fix="send Content-Type: application/x-www-form-urlencoded with api_key, service_code, lat, long, ...",
            ),
        )
    try:
        form = await request.form()
    except Exception as exc:  # not form-encoded  # noqa: BLE001
        return _error(out_fmt, InputError(f"Unreadable form: {str(exc)[:200]}.", fix="send a form-encoded body."))
    georeport = georeport_of(request)
    geocoder = geocoder_of(request)

    def create() -> list[dict[str, Any]]:
        fields, attributes = _form_fields(form)
        key = fields.get("api_key") or None
        caller = service.identify(key)
        if caller is None or caller.role is None:  # Open311 names the field, not the header
            raise UnauthenticatedError(
                f"api_key {key[:10]!r}... is unknown or revoked." if key else "api_key is missing.",
                code="bad_key" if key else "key_required",
                fix="send your app's API key in the api_key field (form-encoded body).",
            )
        kept = {name: check_field(name, fields.get(name)) for name in ("address_string", "address_id", *PERSON_FIELDS)}
        kept["jurisdiction_id"] = _jurisdiction(settings, fields.get("jurisdiction_id"))
        kept["attributes"] = check_attributes(attributes)
        kept["media_url"] = fields.get("media_url")
        fields.pop("api_key", None)
        submitter = {"client": caller.prefix, "client_id": caller.key_id}
        if not (fields.get("lat") or fields.get("long")) and kept["address_string"]:
            categories = cases.config().categories
            # the rest is checked before queueing: a stand-in point for the fields that need one
            check_report(**_report_args(fields, kept, 112.9, 22.7, "wgs84", categories), categories=categories)
            try:
                placement = geocoder.place(kept["address_string"])
            except NotPlaced:
                token = f"t{uuid.uuid4().hex[:20]}"
                geocoder.enqueue(token, kept["address_string"], {"fields": fields, "kept": kept, **submitter})
                return [{"token": token, "service_notice": QUEUED}]
            kept["placement"] = placement.quality()
            fields.update({"long": str(placement.lon), "lat": str(placement.lat), "crs": "wgs84"})
        case = create_request(
            service, cases, georeport, fields, kept, submitter, now=clock(), idempotency_key=idempotency_key
        )
        return [{**doc.created(case, cases.config())[0], "account_id": kept["account_id"]}]

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
        raise InputError(
            f"{name} {value[:40]!r} is not a W3C date-time.", fix=f"e.g. {name}=2026-11-01T00:00:00Z"
        ) from None
    if when.tzinfo is None:
        raise InputError(f"{name} {value[:40]!r} has no time zone.", fix="add one, e.g. Z or +08:00.")
    try:
        return when.astimezone(UTC)
    except OverflowError:
        raise InputError(f"{name} {value[:40]!r} is outside years 1-9999 in UTC.", fix="use a real date.") from None


def _request_id(text: str) -> int | None:
    """A request id as a number, None when it cannot be one (not digits, or beyond 64 bits)."""
    text = text.strip()
    return int(text) if text.isdigit() and int(text) <= INT64_MAX else None


def _requests(cases, rows: list[dict[str, Any]], georeport: GeoReportStore, staff: bool) -> list[dict[str, Any]]:
    """Cases as Open311 service requests with their kept fields (the reporter's only for ``staff``)."""
    kept = georeport.load([int(c["id"]) for c in rows])
    out = []
    for case in rows:
        item = doc.service_request(case, cases.config())
        extra = kept.get(int(case["id"]))
        if extra:
            item["address"] = extra["address_string"]
            if extra["address_id"]:
                item["address_id"] = extra["address_id"]
            item["attributes"] = [{"code": k, "value": v} for k, v in extra["attributes"].items()]
            if extra["placement"]:  # placed from address_string by the geocoder: how well it matched
                item["address_placement"] = extra["placement"]
            if staff:
                item.update({f: extra[f] for f in ("jurisdiction_id", *PERSON_FIELDS)})
        out.append(item)
    return out


async def _is_staff(request: Request) -> bool:
    from api.deps import caller_of, service_of

    token = key_token(request) or request.query_params.get("api_key")
    if not token:
        return False
    try:
        caller = await caller_of(service_of(request), token)
    except GridgisError:
        return False
    return caller.role is not None and caller.at_least("worker")


@router.get(
    "/requests.{fmt}", summary="Requests by id, service, status and date (last 90 days by default)", responses=ERRORS
)
async def get_requests(
    fmt: str,
    request: Request,
    cases: CasesDep,
    clock: ClockDep,
    settings: SettingsDep,
    service_request_id: Annotated[str | None, Query(max_length=20_000)] = None,
    service_code: Annotated[str | None, Query(max_length=2000)] = None,
    start_date: Annotated[str | None, Query(max_length=40)] = None,
    end_date: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(max_length=40, description="open, closed or both comma-separated.")] = None,
    jurisdiction_id: Jurisdiction = None,
    api_key: ApiKey = None,
) -> Response:
    """Requests by id, service, status and date, newest first, at most 1,000 (the reporter's fields only for staff
    keys). 400: bad parameter; 404: unknown service or jurisdiction."""
    georeport = georeport_of(request)
    staff = await _is_staff(request)

    def find() -> list[dict[str, Any]]:
        _jurisdiction(settings, jurisdiction_id)
        ids: tuple[int, ...] = ()
        if service_request_id:
            parts = [p for p in service_request_id.split(",") if p.strip()]
            numbers = [_request_id(p) for p in parts]
            if None in numbers:
                raise InputError(
                    f"service_request_id {service_request_id[:60]!r} must be ids separated by commas.",
                    fix="e.g. 12,15",
                )
            ids = tuple(numbers)  # type: ignore[arg-type]
        statuses: tuple[str, ...] = ()
        for s in filter(None, (status or "").split(",")):
            if s not in OPEN311_STATUSES:
                raise InputError(f"Unknown status {s[:40]!r}.", fix="use open, closed or open,closed.")
            statuses += OPEN311_STATUSES[s]
        categories = cases.config().categories
        codes = [_service(c, categories) for c in filter(None, (service_code or "").split(","))]
        since, until = _time(start_date, "start_date"), _time(end_date, "end_date")
        if not ids and since is None:
            end = until or clock()
            since = end - DEFAULT_WINDOW if end - datetime.min.replace(tzinfo=UTC) > DEFAULT_WINDOW else None
        out: list[dict[str, Any]] = []
        for code in codes or [None]:
            f = CaseFilter(status=statuses, category=code, since=since, until=until, ids=ids)
            rows, _ = cases.list(f, limit=MAX_REQUESTS)
            out += rows
        out.sort(key=lambda c: -int(c["id"]))
        return _requests(cases, out[:MAX_REQUESTS], georeport, staff)

    return await run_in_threadpool(_answer, fmt, "service_requests", find)


@router.get("/requests/{request_id}.{fmt}", summary="One request", responses=ERRORS)
async def get_request(
    request_id: str,
    fmt: str,
    request: Request,
    cases: CasesDep,
    settings: SettingsDep,
    jurisdiction_id: Jurisdiction = None,
    api_key: ApiKey = None,
) -> Response:
    """One request (the reporter's fields only for staff keys). 404: no such request or jurisdiction."""
    georeport = georeport_of(request)
    staff = await _is_staff(request)

    def find() -> list[dict[str, Any]]:
        _jurisdiction(settings, jurisdiction_id)
        number = _request_id(request_id)
        if number is None:
            raise NotFoundError(f"No request {request_id[:40]!r}.", fix="request ids are numbers.")
        return _requests(cases, [cases.get(number)], georeport, staff)

    return await run_in_threadpool(_answer, fmt, "service_requests", find)


@router.get("/tokens/{token}.{fmt}", summary="The request id of a queued request (once placed)", responses=ERRORS)
async def get_token(
    token: str, fmt: str, request: Request, settings: SettingsDep, jurisdiction_id: Jurisdiction = None
) -> Response:
    """The service_request_id a token became (null while it waits for a dispatcher). 404: unknown token."""
    geocoder = geocoder_of(request)

    def find() -> list[dict[str, Any]]:
        _jurisdiction(settings, jurisdiction_id)
        ticket = geocoder.ticket(token)
        rid = ticket["case_id"]
        return [{"service_request_id": str(rid) if rid is not None else None, "token": token}]

    return await run_in_threadpool(_answer, fmt, "service_requests", find)
