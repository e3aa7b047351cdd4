"""Addresses: the offline geocoder and the dispatcher queue of reports whose address matched nothing.

Address layers come from ``gridgis layer import PATH --name NAME --address-field COLUMN``
(:mod:`gridgis.geocode`). An Open311 request with only an ``address_string`` is placed through them; one
that matches nothing is answered with a ``token`` and waits here until a dispatcher places it by hand.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.case_views import case_json
from api.deps import CasesDep, ClockDep, DispatcherDep, KeyDep, ServiceDep, geocoder_of, georeport_of
from api.routes.open311 import create_request
from gridgis.cases import check_report, submit
from gridgis.cases.desk import in_turn
from gridgis.crs import LONLAT_CRS
from gridgis.geocode import NotPlaced

router = APIRouter(prefix="/v1/addresses", tags=["addresses"])


@router.get("/geocode", summary="Place an address through the address layers (any key)")
async def geocode(
    request: Request, caller: KeyDep, address: Annotated[str, Query(min_length=1, max_length=200)]
) -> dict[str, Any]:
    """The point of ``address`` (WGS84) and how it matched: exact, normalized or fuzzy with its score. 401: no
    key; 404: no address matches."""
    geocoder = geocoder_of(request)
    placement = await run_in_threadpool(geocoder.place, address)
    return {"address": address, "lon": placement.lon, "lat": placement.lat, **placement.quality()}


@router.get("/queue", summary="Reports waiting to be placed by hand (dispatcher)")
async def queue(request: Request, caller: DispatcherDep) -> list[dict[str, Any]]:
    """The reports whose address matched nothing, oldest first, with every field as received. 401/403: not a
    dispatcher."""
    return await run_in_threadpool(geocoder_of(request).queued)


class PlaceIn(BaseModel):
    """Where the dispatcher places the report."""

    model_config = ConfigDict(extra="forbid")
    lon: float
    lat: float
    crs: str = Field("wgs84", description=f"One of {list(LONLAT_CRS)}.")


@router.post("/queue/{token}/place", status_code=201, summary="Place a queued report: it becomes a case (dispatcher)")
async def place(
    token: str,
    body: PlaceIn,
    request: Request,
    service: ServiceDep,
    cases: CasesDep,
    clock: ClockDep,
    caller: DispatcherDep,
) -> dict[str, Any]:
    """Turn a queued report into a case at the given point (routed as any case). 201; 401/403: not a dispatcher;
    404: unknown token; 409: already placed; 422: bad point."""
    from gridgis.errors import ConflictError

    geocoder, georeport = geocoder_of(request), georeport_of(request)

    def work() -> dict[str, Any]:
        ticket = geocoder.ticket(token)
        if ticket["case_id"] is not None:
            raise ConflictError(f"Request {token} is already case {ticket['case_id']}.", fix="nothing to do.")
        report = ticket["report"]
        by_hand = {"method": "by_hand", "score": None, "by": caller.actor}
        submitter = {"client": report["client"], "client_id": report["client_id"]}
        now = clock()
        placed = geocoder.placed_writer(token, caller.actor)  # in the case's transaction, as the other rows
        if report.get("door") == "v1/cases":
            checked = check_report(**{**report["fields"], "lon": body.lon, "lat": body.lat, "crs": body.crs})
            also = in_turn(geocoder.address_writer(ticket["address"], by_hand), placed)
            case, _ = submit(cases, service.current(None), checked, **submitter, now=now, also=also)
        else:
            fields = {**report["fields"], "long": str(body.lon), "lat": str(body.lat), "crs": body.crs}
            kept = {**report["kept"], "placement": by_hand}
            case = create_request(service, cases, georeport, fields, kept, submitter, now=now, also=placed)
        return case_json(case, now, contact=True)

    return await run_in_threadpool(work)


# --- the hook of POST /v1/cases ------------------------------------------------------------------
async def place_report(request: Request, fields: dict[str, Any], address: str, client) -> dict | JSONResponse:
    """An address-only ``POST /v1/cases``: fill ``fields``' lon/lat from the geocoder and return the placement,
    or keep the checked report in the dispatcher queue and return the 202 answer carrying its token."""
    geocoder = geocoder_of(request)
    check_report(**{**fields, "lon": 112.9, "lat": 22.7, "crs": "wgs84"})  # the rest of the report is valid
    try:
        placement = await run_in_threadpool(geocoder.place, address)
    except NotPlaced as exc:
        token = f"t{uuid.uuid4().hex[:20]}"
        queued = {"door": "v1/cases", "fields": fields, "client": client.prefix, "client_id": client.key_id}
        await run_in_threadpool(geocoder.enqueue, token, address, queued)
        return JSONResponse(
            {"token": token, "status": "awaiting_placement", "address": address, "message": exc.message},
            status_code=202,
            headers={"Location": f"/v1/addresses/queue/{token}"},
        )
    fields.update(lon=placement.lon, lat=placement.lat, crs="wgs84")
    return placement.quality()
