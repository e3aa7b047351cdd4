"""OGC API - Features under /ogc: Part 1 (Core, GeoJSON, HTML, OpenAPI 3.0), Part 2 (CRS by reference) and
Part 3's queryables with property filters, over the published plan's layers and the extra layers (the plan
layers' vector tiles, OGC API - Tiles, are served by :mod:`api.routes.tiles`).

Collections: towns, communities, grids, buildings (of the published plan, or ``?plan=``) and every extra
layer. Items are ordered by insertion, paged with ``limit`` (default 100; a larger limit than the maximum,
``GRIDGIS_MAX_BATCH`` = 10,000 by default and stated in the OpenAPI, is served as the maximum, as Part 1
section 7.15.3 allows) and ``offset``; the ``next`` link asks for the maximum (a server's own links decide
the page size: a client asking for 10 at a time, as GDAL before 3.8 does, follows pages of the maximum
after the first, so it reads 54,000 buildings in 7 requests, not 5,400), filtered with ``bbox`` and with
``PROPERTY=value`` for each queryable property (equality on the value's text).

CRS (Part 2): the storage CRS is CRS84 (WGS84 lon/lat); ``crs=`` answers in CRS84, EPSG:4326 or
EPSG:4490 (CGCS2000, the Chinese geodetic datum, equal to WGS84 within centimetres: the coordinates are
the same, in the EPSG axis order lat, lon) and says which in ``Content-Crs``; ``bbox-crs`` does the same
for ``bbox``. ``f=html`` gives each resource as an HTML page.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import numpy as np
import shapely
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.deps import CallerDep, PlanQuery, ServiceDep, SettingsDep, geocoder_of
from api.errors import APIError
from api.geojson import GEOJSON, feature, feature_collection, parse_bbox
from api.routes import tiles
from gridgis.access import ANONYMOUS, Caller, require_role
from gridgis.cases import CaseFilter
from gridgis.errors import NotFoundError
from gridgis.store.base import EXTRA_PLAN_ID, PLAN_LAYERS, FeaturePage
from gridgis.store.snapshot import Snapshot

router = APIRouter(prefix="/ogc", tags=["ogc"])

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
CGCS2000 = "http://www.opengis.net/def/crs/EPSG/0/4490"
#: the output CRSs; True: EPSG axis order (lat, lon)
CRSS = {CRS84: False, EPSG4326: True, CGCS2000: True}
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    *tiles.CONFORMANCE,
]
#: the cases collection (staff only): case points, read from the case tables
CASES, CASES_ID = "cases", -1
#: address layers of the geocoder (door plates, POIs such as shops): points with their address
ADDRESSES_ID = -2
#: the most features a page holds when the settings say nothing else (stated in the OpenAPI)
MAX_LIMIT = 10_000
Format = Annotated[Literal["json", "html"] | None, Query(description="json (default) or html.")]
CrsQuery = Annotated[str | None, Query(description=f"Output CRS: one of {list(CRSS)} (default CRS84).")]
TITLES = {
    "towns": "Towns and subdistricts",
    "communities": "Communities and villages",
    "grids": "Grids",
    "buildings": "Buildings",
    "blocks": "Street blocks (areas roads, rivers and the community boundary enclose)",
}


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def _json(content: dict) -> JSONResponse:
    return JSONResponse(content)


def _page(title: str, body: str, links: list[dict] | None = None) -> HTMLResponse:
    """A plain HTML page (f=html): a title, the body, and the resource's links."""
    items = "".join(
        f'<li><a href="{html.escape(link["href"])}">{html.escape(link.get("title") or link["rel"])}</a> '
        f"({html.escape(link['rel'])}, {html.escape(link.get('type', ''))})</li>"
        for link in links or []
    )
    return HTMLResponse(
        f'<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
        f"<body><h1>{html.escape(title)}</h1>{body}<ul>{items}</ul></body></html>"
    )


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p>No features.</p>"
    keys = list(dict.fromkeys(k for row in rows for k in row))
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in keys)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(row.get(k, '')))}</td>" for k in keys) + "</tr>" for row in rows
    )
    return f"<table border=1><tr>{head}</tr>{body}</table>"


def _with_html(links: list[dict], self_href: str) -> list[dict]:
    sep = "&" if "?" in self_href else "?"
    return [*links, {"href": f"{self_href}{sep}f=html", "rel": "alternate", "type": "text/html", "title": "HTML"}]


def _collections(
    snap: Snapshot, caller: Caller | None = None, addresses: dict[str, int] | None = None
) -> dict[str, tuple[int, list[float] | None, str]]:
    """collection id -> (plan_id or EXTRA_PLAN_ID, bbox, title): the plan's layers, the extra layers, the address
    layers (``addresses``: name -> count) and ``cases`` for a staff caller (worker and above)."""
    grid_bbox = [float(v) for v in snap.grids.total_bounds]
    out = {}
    for layer in PLAN_LAYERS:
        if snap.plan.counts.get(layer):
            frame = {"towns": snap.towns, "communities": snap.communities}.get(layer)
            bbox = [float(v) for v in frame.total_bounds] if frame is not None and len(frame) else grid_bbox
            out[layer] = (snap.plan.plan_id, bbox, TITLES[layer])
    for name, frame in snap.layers.items():
        out[name] = (EXTRA_PLAN_ID, [float(v) for v in frame.total_bounds] if len(frame) else None, name)
    for name, count in (addresses or {}).items():
        if name not in out and count:
            out[name] = (ADDRESSES_ID, grid_bbox, f"{name} (address points: door plates, POIs)")
    if caller is not None and caller.role is not None and caller.at_least("worker"):
        out[CASES] = (CASES_ID, grid_bbox, "Cases (staff: a grid worker sees its grids' cases)")
    return out


def _collection(base: str, cid: str, bbox, title: str, plan_layer: bool = False) -> dict:
    return {
        "id": cid,
        "title": title,
        "itemType": "feature",
        "crs": list(CRSS),
        "storageCrs": CRS84,
        "extent": {"spatial": {"bbox": [bbox], "crs": CRS84}} if bbox else {},
        "links": [
            {"href": f"{base}/collections/{cid}", "rel": "self", "type": "application/json", "title": title},
            {"href": f"{base}/collections/{cid}/items", "rel": "items", "type": GEOJSON, "title": title},
            {
                "href": f"{base}/collections/{cid}/queryables",
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                "type": "application/schema+json",
                "title": "Queryables",
            },
            *(tiles.tiled_collection_links(base, cid) if plan_layer else []),
        ],
    }


def _find(snap: Snapshot, cid: str, caller: Caller | None = None, request: Request | None = None):
    if cid == CASES:
        require_role(caller or ANONYMOUS, "worker", "The cases collection")
    cols = _collections(snap, caller, _address_layers(request))
    if cid not in cols:
        raise NotFoundError(
            f"No collection {cid!r}.", fix=f"use one of {sorted(cols)}.", details={"allowed": sorted(cols)}
        )
    return cols[cid]


def _crs(value: str | None, name: str = "crs") -> str:
    """The CRS URI asked for (CRS84 by default); 400 for one not served."""
    if value is None or value == "":
        return CRS84
    uri = value.strip("<>")
    if uri not in CRSS:
        raise APIError(
            400,
            "unsupported_crs",
            f"{name}={value[:80]!r} is not served.",
            fix=f"use one of {list(CRSS)}.",
            details={"allowed": list(CRSS)},
        )
    return uri


def _swap(geoms: np.ndarray) -> np.ndarray:
    """Geometries with x and y exchanged (EPSG axis order: lat, lon)."""
    return shapely.transform(np.asarray(geoms, dtype=object), lambda xy: xy[:, ::-1])


@router.get("", summary="Landing page")
def landing(request: Request, f: Format = None) -> Response:
    base = _base(request)
    root = str(request.base_url).rstrip("/")
    links = [
        {"href": base, "rel": "self", "type": "application/json", "title": "This document"},
        {
            "href": f"{root}/openapi.json",
            "rel": "service-desc",
            "type": "application/vnd.oai.openapi+json;version=3.0",
            "title": "OpenAPI definition",
        },
        {"href": f"{root}/docs", "rel": "service-doc", "type": "text/html", "title": "API documentation"},
        {"href": f"{base}/conformance", "rel": "conformance", "type": "application/json", "title": "Conformance"},
        {"href": f"{base}/collections", "rel": "data", "type": "application/json", "title": "Collections"},
        {"href": f"{base}/tileMatrixSets", "rel": tiles.REL_SCHEMES, "type": "application/json", "title": "Tilings"},
    ]
    title = "gridgis OGC API - Features"
    description = "Towns, communities, grids, buildings of the published plan, and extra layers."
    if f == "html":
        return _page(title, f"<p>{html.escape(description)}</p>", links)
    return _json({"title": title, "description": description, "links": _with_html(links, base)})


@router.get("/conformance", summary="Conformance classes")
def conformance(f: Format = None) -> Response:
    if f == "html":
        return _page("Conformance", "<ul>" + "".join(f"<li>{html.escape(c)}</li>" for c in CONFORMANCE) + "</ul>")
    return _json({"conformsTo": CONFORMANCE})


@router.get("/collections", summary="Collections")
def collections(
    request: Request, service: ServiceDep, caller: CallerDep, plan: PlanQuery = None, f: Format = None
) -> Response:
    """The plan's layers and the extra layers as OGC collections (and the cases, for a staff key). 404: unknown
    plan."""
    base = _base(request)
    snap = service.current(plan)
    found = _collections(snap, caller, _address_layers(request))
    cols = [_collection(base, cid, bbox, title, pid > EXTRA_PLAN_ID) for cid, (pid, bbox, title) in found.items()]
    links = [{"href": f"{base}/collections", "rel": "self", "type": "application/json", "title": "Collections"}]
    if f == "html":
        rows = "".join(
            f'<li><a href="{base}/collections/{html.escape(c["id"])}?f=html">{html.escape(c["title"])}</a></li>'
            for c in cols
        )
        return _page("Collections", f"<ul>{rows}</ul>", links)
    return _json({"links": _with_html(links, f"{base}/collections"), "collections": cols, "crs": list(CRSS)})


@router.get("/collections/{cid}", summary="One collection")
def collection(
    cid: str, request: Request, service: ServiceDep, caller: CallerDep, plan: PlanQuery = None, f: Format = None
) -> Response:
    """One collection with its extent. 401/403: cases without a staff key; 404: unknown collection or plan."""
    plan_id, bbox, title = _find(service.current(plan), cid, caller, request)
    doc = _collection(_base(request), cid, bbox, title, plan_id > EXTRA_PLAN_ID)
    if f == "html":
        return _page(title, f"<p>Extent: {html.escape(str(bbox))} (CRS84)</p>", doc["links"])
    return _json(doc)


def _address_layers(request: Request | None) -> dict[str, int]:
    return geocoder_of(request).layers() if request is not None else {}


def _features(service, plan_id: int, cid: str, caller: Caller | None, request=None, **query) -> FeaturePage:
    """A page of features of a stored layer, of an address layer, or of the cases the caller may see (newest
    first)."""
    if plan_id not in (CASES_ID, ADDRESSES_ID):
        return service.store.features(plan_id, cid, **query)
    if plan_id == ADDRESSES_ID:
        points = geocoder_of(request).points(cid)
        ids = [p[0] for p in points]
        props: list[dict[str, Any]] = [{"address": p[1]} for p in points]
        lon, lat = [p[2] for p in points], [p[3] for p in points]
    else:
        rows = list(
            service.cases.iter_cases(
                CaseFilter(grid_ids=caller.scope if caller else (), units=caller.units if caller else ())
            )
        )[::-1]
        hidden = ("contact", "submitter_id")
        props = [
            {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in c.items() if k not in hidden}
            for c in rows
        ]
        ids = [str(c["id"]) for c in rows]
        lon, lat = [c["lon"] for c in rows], [c["lat"] for c in rows]
    geoms = shapely.points(lon, lat) if ids else np.array([], dtype=object)
    box = query.get("bbox")
    if box is not None and ids:
        keep = np.flatnonzero(shapely.intersects(geoms, shapely.box(*box)))
        ids, props, geoms = [ids[i] for i in keep], [props[i] for i in keep], geoms[keep]
    if query.get("fid") is not None:
        keep = [i for i, x in enumerate(ids) if x == query["fid"]]
        return FeaturePage([ids[i] for i in keep], [props[i] for i in keep], np.asarray(geoms)[keep], len(keep))
    limit, offset = query.get("limit"), query.get("offset", 0)
    end = None if limit is None else offset + limit
    return FeaturePage(ids[offset:end], props[offset:end], np.asarray(geoms, dtype=object)[offset:end], len(ids))


def _queryables(service, plan_id: int, cid: str, caller: Caller | None = None, request=None) -> dict[str, str]:
    """property -> JSON type, from the collection's first features."""
    page = _features(service, plan_id, cid, caller, request, limit=50)
    types: dict[str, str] = {}
    for props in page.properties:
        for key, value in props.items():
            kind = (
                "boolean"
                if isinstance(value, bool)
                else "integer"
                if isinstance(value, int)
                else "number"
                if isinstance(value, float)
                else "string"
                if isinstance(value, str)
                else None
            )
            if kind and key not in types:
                types[key] = kind
    return types


@router.get("/collections/{cid}/queryables", summary="The properties items can be filtered on")
def queryables(
    cid: str, request: Request, service: ServiceDep, caller: CallerDep, plan: PlanQuery = None, f: Format = None
) -> Response:
    """The collection's queryable properties as a JSON Schema (Part 3). 401/403: cases without a staff key; 404:
    unknown collection or plan."""
    snap = service.current(plan)
    plan_id, _, title = _find(snap, cid, caller, request)
    props = {k: {"type": t, "title": k} for k, t in _queryables(service, plan_id, cid, caller, request).items()}
    props["geometry"] = {"format": "geometry-any"}
    doc = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{_base(request)}/collections/{cid}/queryables",
        "type": "object",
        "title": title,
        "properties": props,
        "additionalProperties": False,
    }
    if f == "html":
        return _page(f"{title}: queryables", _table([{"property": k, **v} for k, v in props.items()]))
    return JSONResponse(doc, media_type="application/schema+json")


ITEMS_EXTRA = {"x-property-filters": True}


@router.get(
    "/collections/{cid}/items",
    summary="Features (GeoJSON), paged; bbox, property filters, crs",
    openapi_extra=ITEMS_EXTRA,
)
def items(
    cid: str,
    request: Request,
    service: ServiceDep,
    settings: SettingsDep,
    caller: CallerDep,
    bbox: Annotated[str | None, Query(description="minx,miny,maxx,maxy (in bbox-crs, default CRS84)")] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs", description=f"CRS of bbox: one of {list(CRSS)}.")] = None,
    limit: Annotated[
        int,
        Query(
            ge=1,
            description=f"Features per page; above the maximum ({MAX_LIMIT:,}) the maximum is served.",
            json_schema_extra={"maximum": MAX_LIMIT},
        ),
    ] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
    crs: CrsQuery = None,
    plan: PlanQuery = None,
    f: Format = None,
) -> Response:
    """A page of a collection's features as GeoJSON; ``PROPERTY=value`` keeps features whose property has that
    value (see queryables). 400: unsupported crs; 401/403: cases without a staff key; 404: unknown collection; 422:
    bad bbox or an unknown property."""
    limit = min(limit, settings.max_batch)
    out_crs, box_crs = _crs(crs), _crs(bbox_crs, "bbox-crs")
    box = parse_bbox(bbox)
    if box is not None and CRSS[box_crs]:
        box = (box[1], box[0], box[3], box[2])
    snap = service.current(plan)
    plan_id, _, title = _find(snap, cid, caller, request)
    known = set(items_query_names())
    filters = {k: v for k, v in request.query_params.items() if k not in known}
    if filters:
        allowed = _queryables(service, plan_id, cid, caller, request)
        unknown = sorted(set(filters) - set(allowed))
        if unknown:
            raise APIError(
                422,
                "unknown_parameter",
                f"Unknown query parameter(s) {unknown[:10]} on {cid} items; the queryable properties are "
                f"{sorted(allowed)}.",
                fix=f"use {sorted(known)} or a queryable property (GET /ogc/collections/{cid}/queryables).",
                details={"unknown": unknown[:10], "allowed": sorted(known | set(allowed))},
            )
        whole = _features(service, plan_id, cid, caller, request, bbox=box, limit=None)
        keep = [
            i for i, props in enumerate(whole.properties) if all(_text(props.get(k)) == v for k, v in filters.items())
        ]
        matched = len(keep)
        keep = keep[offset : offset + limit]
        ids = [whole.ids[i] for i in keep]
        props = [whole.properties[i] for i in keep]
        geoms = np.asarray(whole.geometries, dtype=object)[keep] if keep else np.array([], dtype=object)
    else:
        page = _features(service, plan_id, cid, caller, request, bbox=box, limit=limit, offset=offset)
        ids, props, geoms, matched = page.ids, page.properties, page.geometries, page.number_matched
    base = f"{_base(request)}/collections/{cid}/items"
    params = {k: v for k, v in request.query_params.items() if k not in ("offset", "limit", "f")}
    link = lambda rel, off, fmt=None, size=limit: {  # noqa: E731
        "href": f"{base}?{urlencode({**params, 'limit': size, 'offset': off, **({'f': fmt} if fmt else {})})}",
        "rel": rel,
        "type": "text/html" if fmt else GEOJSON,
    }
    links = [link("self", offset), link("alternate", offset, "html")]
    if offset + len(ids) < matched:
        # a client following the links (GDAL before 3.8 asks for 10) gets the rest in pages of the maximum
        links.append(link("next", offset + limit, "html" if f == "html" else None, limit if f else settings.max_batch))
    if offset > 0:
        links.append(link("prev", max(0, offset - limit)))
    if f == "html":
        html_links = [{**x, "title": x["rel"]} for x in links if x["rel"] != "alternate"]
        return _page(
            f"{title}: {matched:,} features",
            _table([{"id": i, **p} for i, p in zip(ids, props, strict=True)]),
            html_links,
        )
    if CRSS[out_crs] and len(ids):
        geoms = _swap(geoms)
    response = feature_collection(
        ids,
        props,
        geoms,
        numberMatched=matched,
        numberReturned=len(ids),
        timeStamp=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        links=links,
    )
    response.headers["Content-Crs"] = f"<{out_crs}>"
    return response


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def items_query_names() -> tuple[str, ...]:
    """The declared query parameters of the items route (the rest are property filters)."""
    return ("bbox", "bbox-crs", "limit", "offset", "crs", "plan", "f")


@router.get("/collections/{cid}/items/{fid}", summary="One feature")
def item(
    cid: str,
    fid: str,
    request: Request,
    service: ServiceDep,
    caller: CallerDep,
    crs: CrsQuery = None,
    plan: PlanQuery = None,
    f: Format = None,
) -> Response:
    """One feature. 400: unsupported crs; 401/403: cases without a staff key; 404: unknown collection or feature."""
    out_crs = _crs(crs)
    snap = service.current(plan)
    plan_id, _, title = _find(snap, cid, caller, request)
    page = _features(service, plan_id, cid, caller, request, fid=fid, limit=1)
    if not page.ids:
        raise NotFoundError(
            f"No feature {fid!r} in collection {cid!r}.", fix=f"list them at /ogc/collections/{cid}/items."
        )
    base = f"{_base(request)}/collections/{cid}"
    links = [
        {"href": f"{base}/items/{fid}", "rel": "self", "type": GEOJSON},
        {"href": f"{base}/items/{fid}?f=html", "rel": "alternate", "type": "text/html"},
        {"href": base, "rel": "collection", "type": "application/json"},
    ]
    if f == "html":
        return _page(f"{title} {fid}", _table([{"id": page.ids[0], **page.properties[0]}]), links)
    geom = _swap(np.array([page.geometries[0]], dtype=object))[0] if CRSS[out_crs] else page.geometries[0]
    response = feature(page.ids[0], page.properties[0], geom, links=links)
    response.headers["Content-Crs"] = f"<{out_crs}>"
    return response
