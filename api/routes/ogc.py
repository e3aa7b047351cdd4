"""OGC API - Features Part 1 (Core + GeoJSON) under /ogc: the published plan's layers and the extra layers.

Collections: towns, communities, grids, buildings (of the published plan, or ``?plan=``) and every extra
layer. Items are ordered by insertion, paged with ``limit`` (default 100, at most 10,000) and ``offset``
(given in the ``next`` link), filtered with ``bbox`` (WGS84; features intersecting it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from api.deps import PlanQuery, ServiceDep, SettingsDep
from api.errors import APIError
from api.geojson import GEOJSON, feature, feature_collection, parse_bbox
from gridgis.errors import NotFoundError
from gridgis.store.base import EXTRA_PLAN_ID, PLAN_LAYERS
from gridgis.store.snapshot import Snapshot

router = APIRouter(prefix="/ogc", tags=["ogc"])

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
TITLES = {
    "towns": "Towns and subdistricts",
    "communities": "Communities and villages",
    "grids": "Grids",
    "buildings": "Buildings",
}


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def _json(content: dict) -> JSONResponse:
    return JSONResponse(content)


def _collections(snap: Snapshot) -> dict[str, tuple[int, list[float] | None, str]]:
    """collection id -> (plan_id or EXTRA_PLAN_ID, bbox, title)."""
    grid_bbox = [float(v) for v in snap.grids.total_bounds]
    out = {}
    for layer in PLAN_LAYERS:
        if snap.plan.counts.get(layer):
            frame = {"towns": snap.towns, "communities": snap.communities}.get(layer)
            bbox = [float(v) for v in frame.total_bounds] if frame is not None and len(frame) else grid_bbox
            out[layer] = (snap.plan.plan_id, bbox, TITLES[layer])
    for name, frame in snap.layers.items():
        out[name] = (EXTRA_PLAN_ID, [float(v) for v in frame.total_bounds] if len(frame) else None, name)
    return out


def _collection(base: str, cid: str, bbox, title: str) -> dict:
    return {
        "id": cid,
        "title": title,
        "itemType": "feature",
        "crs": [CRS84],
        "extent": {"spatial": {"bbox": [bbox], "crs": CRS84}} if bbox else {},
        "links": [
            {"href": f"{base}/collections/{cid}", "rel": "self", "type": "application/json", "title": title},
            {"href": f"{base}/collections/{cid}/items", "rel": "items", "type": GEOJSON, "title": title},
        ],
    }


def _find(snap: Snapshot, cid: str):
    cols = _collections(snap)
    if cid not in cols:
        raise NotFoundError(
            f"No collection {cid!r}.", fix=f"use one of {sorted(cols)}.", details={"allowed": sorted(cols)}
        )
    return cols[cid]


@router.get("", summary="Landing page")
def landing(request: Request) -> JSONResponse:
    base = _base(request)
    root = str(request.base_url).rstrip("/")
    return _json(
        {
            "title": "gridgis OGC API - Features",
            "description": "Towns, communities, grids, buildings of the published plan, and extra layers.",
            "links": [
                {"href": base, "rel": "self", "type": "application/json", "title": "This document"},
                {
                    "href": f"{root}/openapi.json",
                    "rel": "service-desc",
                    "type": "application/vnd.oai.openapi+json;version=3.0",
                    "title": "OpenAPI definition",
                },
                {"href": f"{root}/docs", "rel": "service-doc", "type": "text/html", "title": "API documentation"},
                {
                    "href": f"{base}/conformance",
                    "rel": "conformance",
                    "type": "application/json",
                    "title": "Conformance classes",
                },
                {"href": f"{base}/collections", "rel": "data", "type": "application/json", "title": "Collections"},
            ],
        }
    )


@router.get("/conformance", summary="Conformance classes")
def conformance() -> JSONResponse:
    return _json({"conformsTo": CONFORMANCE})


@router.get("/collections", summary="Collections")
def collections(request: Request, service: ServiceDep, plan: PlanQuery = None) -> JSONResponse:
    """The plan's layers and the extra layers as OGC collections. 404: unknown plan."""
    base = _base(request)
    snap = service.current(plan)
    cols = [_collection(base, cid, bbox, title) for cid, (_, bbox, title) in _collections(snap).items()]
    links = [{"href": f"{base}/collections", "rel": "self", "type": "application/json", "title": "Collections"}]
    return _json({"links": links, "collections": cols})


@router.get("/collections/{cid}", summary="One collection")
def collection(cid: str, request: Request, service: ServiceDep, plan: PlanQuery = None) -> JSONResponse:
    """One collection with its extent. 404: unknown collection or plan."""
    _, bbox, title = _find(service.current(plan), cid)
    return _json(_collection(_base(request), cid, bbox, title))


@router.get("/collections/{cid}/items", summary="Features (GeoJSON), paged, bbox filter")
def items(
    cid: str,
    request: Request,
    service: ServiceDep,
    settings: SettingsDep,
    bbox: Annotated[str | None, Query(description="minx,miny,maxx,maxy in CRS84")] = None,
    limit: Annotated[int, Query(ge=1, description="At most 10,000")] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
    plan: PlanQuery = None,
) -> Response:
    """A page of a collection's features as GeoJSON. 404: unknown collection; 422: bad bbox or limit above the
    maximum."""
    maximum = settings.max_batch
    if limit > maximum:
        raise APIError(
            422,
            "limit_too_large",
            f"limit={limit} exceeds the maximum of {maximum:,}.",
            fix=f"use limit <= {maximum} and follow the 'next' links.",
            details={"limit": maximum},
        )
    snap = service.current(plan)
    plan_id, _, _ = _find(snap, cid)
    page = service.store.features(plan_id, cid, bbox=parse_bbox(bbox), limit=limit, offset=offset)
    base = f"{_base(request)}/collections/{cid}/items"
    params = {k: v for k, v in request.query_params.items() if k not in ("offset", "limit")}
    link = lambda rel, off: {  # noqa: E731
        "href": f"{base}?{urlencode({**params, 'limit': limit, 'offset': off})}",
        "rel": rel,
        "type": GEOJSON,
    }
    links = [link("self", offset)]
    if offset + len(page.ids) < page.number_matched:
        links.append(link("next", offset + limit))
    if offset > 0:
        links.append(link("prev", max(0, offset - limit)))
    return feature_collection(
        page.ids,
        page.properties,
        page.geometries,
        numberMatched=page.number_matched,
        numberReturned=len(page.ids),
        timeStamp=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        links=links,
    )


@router.get("/collections/{cid}/items/{fid}", summary="One feature")
def item(cid: str, fid: str, request: Request, service: ServiceDep, plan: PlanQuery = None) -> Response:
    """One feature. 404: unknown collection or feature."""
    snap = service.current(plan)
    plan_id, _, _ = _find(snap, cid)
    page = service.store.features(plan_id, cid, fid=fid, limit=1)
    if not page.ids:
        raise NotFoundError(
            f"No feature {fid!r} in collection {cid!r}.", fix=f"list them at /ogc/collections/{cid}/items."
        )
    base = f"{_base(request)}/collections/{cid}"
    links = [
        {"href": f"{base}/items/{fid}", "rel": "self", "type": GEOJSON},
        {"href": base, "rel": "collection", "type": "application/json"},
    ]
    return feature(page.ids[0], page.properties[0], page.geometries[0], links=links)
