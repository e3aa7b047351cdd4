"""OGC API - Tiles (Part 1, OGC 20-057) under /ogc: vector tiles of the plan's towns, communities, grids and
buildings in the WebMercatorQuad tile matrix set, as Mapbox Vector Tiles.

Resources: ``/ogc/tileMatrixSets`` (and the WebMercatorQuad definition), per collection the tilesets list
``/ogc/collections/{id}/tiles``, the tileset ``.../tiles/WebMercatorQuad`` (limits, layer, the tile URL
template) and the tiles ``.../tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}``. Tiles are encoded by
the store (PostGIS ``ST_AsMVT``, SQLite through ``mapbox-vector-tile``) and kept in a per-process cache keyed
by the store's revision, which every publish bumps; each answer carries an ``ETag`` (a client's
``If-None-Match`` gets 304) and ``Cache-Control: no-cache`` for the published plan (it changes on a publish),
an hour for a plan named with ``?plan=`` (stored plans never change).
"""

from __future__ import annotations

import logging
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, Response

from api.deps import PlanQuery, ServiceDep, SettingsDep, service_of, settings_of
from api.errors import APIError
from gridgis.errors import InputError, NotFoundError
from gridgis.maps.tiled import uses_tiles
from gridgis.store.snapshot import Snapshot
from gridgis.tiles import (
    CRS_3857,
    MIN_ZOOMS,
    MVT,
    SERVED_MAX_ZOOM,
    TMS_ID,
    TMS_URI,
    TileCache,
    check_tile,
    check_tms,
    cover,
    first_view,
    limits,
    tile_matrix_set,
    within_limits,
)

router = APIRouter(prefix="/ogc", tags=["ogc"])
log = logging.getLogger("gridgis.api")

#: the tiled collections and their MVT geometry type
TILED = {"towns": "polygons", "communities": "polygons", "grids": "polygons", "buildings": "polygons"}
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/tms/2.0/conf/tilematrixset",
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
    "http://www.opengis.net/spec/tms/2.0/conf/tilesetmetadata",
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilesetmetadata",
]
#: the workbench loads editable buildings for the view from this zoom on (a screen at z16 is about 3 x 2 km)
EDIT_ZOOM = 16
REL_TILESETS = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
REL_SCHEME = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
REL_SCHEMES = "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes"
#: encoded tiles of this process (64 MB), keyed by store, plan, collection and tile under the store's revision
CACHE = TileCache()
MVT_RESPONSE = {
    200: {"content": {MVT: {"schema": {"type": "string", "format": "binary"}}}, "description": "The tile."},
    204: {"description": "The tile is inside the tileset's limits and holds no feature."},
    304: {"description": "Not modified: the tile's ETag matches If-None-Match."},
}


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def _tiled(snap: Snapshot, cid: str) -> list[float] | None:
    """The WGS84 extent of tiled collection ``cid`` of the snapshot's plan; 404 for any other collection."""
    present = [layer for layer in TILED if snap.plan.counts.get(layer)]
    if cid not in present:
        raise NotFoundError(
            f"Collection {cid!r} has no vector tiles.",
            fix=f"use one of {present} (their items are at /ogc/collections/{{id}}/items).",
            details={"allowed": present},
        )
    frame = {"towns": snap.towns, "communities": snap.communities}.get(cid)
    if frame is None or not len(frame):
        frame = snap.grids  # grids, and buildings (which lie in the grids)
    return [float(v) for v in frame.total_bounds]


def _tms_link(base: str) -> dict[str, str]:
    return {
        "href": f"{base}/tileMatrixSets/{TMS_ID}",
        "rel": REL_SCHEME,
        "type": "application/json",
        "title": "WebMercatorQuad",
    }


def tiled_collection_links(base: str, cid: str) -> list[dict[str, str]]:
    """The links a collection document of :mod:`api.routes.ogc` gives to its vector tilesets."""
    if cid not in TILED:
        return []
    return [
        {
            "href": f"{base}/collections/{cid}/tiles",
            "rel": REL_TILESETS,
            "type": "application/json",
            "title": f"{cid}: vector tilesets",
        }
    ]


#: (store, plan, revision) whose first view was warmed (or is being) in this process
_WARMED: set[tuple] = set()
_WARM_LOCK = threading.Lock()
#: the warm-ups running: (store, stop event, thread). One stops after its current tile when its store is about to
#: close (:func:`stop_warming`, from the app's shutdown) or the interpreter exits; its thread is not a daemon: one
#: killed inside GEOS or SQLite, or reading a connection the store closes, crashes the process
_RUNNING: list[tuple[Any, threading.Event, threading.Thread]] = []
_STOP = threading.Event()
threading._register_atexit(_STOP.set)


def stop_warming(store) -> None:
    """Stop the warm-ups reading ``store`` and wait for them (before the store closes)."""
    with _WARM_LOCK:
        mine = [(stop, thread) for s, stop, thread in _RUNNING if s is store]
    for stop, _ in mine:
        stop.set()
    for _, thread in mine:
        thread.join(60)


def warm(service, snap: Snapshot) -> None:
    """Render the tiles of the plan's first view into :data:`CACHE` in a thread of its own, once per plan and
    revision: the zoom fitting the plan on a 1280 x 800 screen, one out and one in (at most 64 tiles each), for
    towns, communities and grids. The first page of a published plan then draws from the cache; a browser asking
    for a tile the warm-up is rendering waits for it (:meth:`TileCache.get_or_render`)."""
    store, revision, plan_id = service.store, snap.revision, snap.plan.plan_id
    key = (store.url, plan_id, revision)
    with _WARM_LOCK:
        if key in _WARMED:
            return
        if len(_WARMED) > 1000:
            _WARMED.clear()
        _WARMED.add(key)
    bbox = [float(v) for v in snap.grids.total_bounds]
    z, _ = first_view(bbox)
    jobs = []
    for zoom in (z, z - 1, z + 1):  # the first view first
        for layer in ("grids", "communities", "towns"):
            if snap.plan.counts.get(layer) and MIN_ZOOMS[layer] <= zoom <= SERVED_MAX_ZOOM:
                jobs += [(layer, t) for t in cover(bbox, zoom)[:64]]

    stop = threading.Event()

    def run() -> None:
        try:
            for layer, (zz, x, y) in jobs:
                if stop.is_set() or _STOP.is_set():
                    return
                try:
                    render = lambda layer=layer, zz=zz, x=x, y=y: store.tile(plan_id, layer, zz, x, y)  # noqa: E731
                    CACHE.get_or_render(revision, (store.url, plan_id, layer, zz, x, y), render)
                except Exception:  # a failing tile fails again for its request, with its error
                    log.exception("warming tile %s %s/%s/%s failed", layer, zz, x, y)
        finally:
            with _WARM_LOCK:
                _RUNNING[:] = [r for r in _RUNNING if r[1] is not stop]

    thread = threading.Thread(target=run, name="gridgis-tile-warm", daemon=False)
    with _WARM_LOCK:
        _RUNNING.append((store, stop, thread))
    thread.start()


def page_tiles(request: Request, plan: str | None = None, buildings_above: int | None = None) -> dict[str, Any] | None:
    """What a console page needs to draw plan ``plan`` (default: the published one) from tiles, when it is past
    ``GRIDGIS_TILES_ABOVE`` features: ``{"plan", "bounds": [[south, west], [north, east]], "minZooms"}``; else
    None (the page draws GeoJSON, as for any plan of a county's size). ``buildings_above``: tiles also past this
    many buildings (the workbench, which would otherwise load every building as GeoJSON)."""
    service = service_of(request)
    snap = service.snapshot
    try:
        counts = snap.plan.counts if plan is None and snap is not None else service.store.get_plan(plan).counts
        many = buildings_above is not None and int(counts.get("buildings", 0)) > buildings_above
        if not (many or uses_tiles(counts, settings_of(request).tiles_above)):
            return None
        snap = service.current(plan)
    except NotFoundError:
        return None
    warm(service, snap)
    west, south, east, north = (float(v) for v in snap.grids.total_bounds)
    return {
        "plan": plan,
        "bounds": [[south, west], [north, east]],
        "minZooms": dict(MIN_ZOOMS),
        #: the zoom from which the workbench loads the buildings in view as GeoJSON, to select and move
        "editZoom": EDIT_ZOOM,
    }


@router.get("/tileMatrixSets", summary="Tile matrix sets (tiling schemes)")
def tile_matrix_sets(request: Request) -> JSONResponse:
    """The tile matrix sets the tiles use: WebMercatorQuad."""
    base = _base(request)
    return JSONResponse(
        {
            "links": [{"href": f"{base}/tileMatrixSets", "rel": "self", "type": "application/json"}],
            "tileMatrixSets": [
                {
                    "id": TMS_ID,
                    "title": "Google Maps Compatible for the World",
                    "uri": TMS_URI,
                    "links": [{**_tms_link(base), "rel": "self"}],
                }
            ],
        }
    )


@router.get("/tileMatrixSets/{tms}", summary="One tile matrix set (OGC 17-083r4 JSON)")
def tile_matrix_set_doc(tms: str) -> JSONResponse:
    """The WebMercatorQuad definition. 404: another tile matrix set."""
    check_tms(tms)
    return JSONResponse(tile_matrix_set())


def _tileset(base: str, cid: str, bbox: list[float] | None, plan: str | None) -> dict[str, Any]:
    query = f"?plan={plan}" if plan else ""
    href = f"{base}/collections/{cid}/tiles/{TMS_ID}"
    return {
        "title": f"{cid} (vector tiles)",
        "dataType": "vector",
        "crs": CRS_3857,
        "tileMatrixSetURI": TMS_URI,
        "links": [
            {"href": href + query, "rel": "self", "type": "application/json", "title": f"{cid} tileset"},
            _tms_link(base),
            {
                "href": href + "/{tileMatrix}/{tileRow}/{tileCol}" + query,
                "rel": "item",
                "type": MVT,
                "templated": True,
                "title": f"{cid} tiles (Mapbox Vector Tile)",
            },
        ],
        "boundingBox": {
            "lowerLeft": bbox[:2],
            "upperRight": bbox[2:],
            "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        }
        if bbox
        else None,
    }


@router.get("/collections/{cid}/tiles", summary="Vector tilesets of a collection")
def tilesets(cid: str, request: Request, service: ServiceDep, plan: PlanQuery = None) -> JSONResponse:
    """The collection's tilesets (one, in WebMercatorQuad). 404: a collection without tiles, unknown plan."""
    snap = service.current(plan)
    bbox = _tiled(snap, cid)
    base = _base(request)
    tileset = _tileset(base, cid, bbox, plan)
    summary = {k: tileset[k] for k in ("title", "dataType", "crs", "tileMatrixSetURI", "links")}
    return JSONResponse(
        {
            "links": [{"href": f"{base}/collections/{cid}/tiles", "rel": "self", "type": "application/json"}],
            "tilesets": [summary],
        }
    )


@router.get("/collections/{cid}/tiles/{tms}", summary="A vector tileset: limits, layer, tile URL template")
def tileset(cid: str, tms: str, request: Request, service: ServiceDep, plan: PlanQuery = None) -> JSONResponse:
    """The tileset's metadata (OGC 17-083r4 tileset JSON). 404: a collection without tiles, another tile matrix
    set, unknown plan."""
    check_tms(tms)
    snap = service.current(plan)
    bbox = _tiled(snap, cid)
    doc = _tileset(_base(request), cid, bbox, plan)
    doc["tileMatrixSetLimits"] = limits(bbox, MIN_ZOOMS[cid])
    doc["layers"] = [
        {
            "id": cid,
            "dataType": "vector",
            "geometryType": TILED[cid],
            "minTileMatrix": str(MIN_ZOOMS[cid]),
            "maxTileMatrix": str(SERVED_MAX_ZOOM),
            "featureCount": snap.plan.counts.get(cid, 0),
        }
    ]
    return JSONResponse(doc)


@router.get(
    "/collections/{cid}/tiles/{tms}/{z}/{y}/{x}",
    summary="A vector tile (Mapbox Vector Tile)",
    responses=MVT_RESPONSE,
    response_class=Response,
)
def tile(
    cid: str,
    tms: str,
    z: str,
    y: str,
    x: str,
    service: ServiceDep,
    settings: SettingsDep,
    plan: PlanQuery = None,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Tile z (tileMatrix) / y (tileRow) / x (tileCol) of the collection: one MVT layer named after it, with
    every feature property. 400: z, y or x not a whole number or outside WebMercatorQuad; 404: another tile
    matrix set, a collection without tiles, a tile outside the tileset's limits (see its tileMatrixSetLimits),
    unknown plan."""
    try:
        zi, yi, xi = check_tile(tms, z, y, x)
    except InputError as exc:
        raise APIError(400, "invalid_tile", exc.message, fix=exc.fix, details=exc.details) from None
    snap = service.current(plan)
    bbox = _tiled(snap, cid)
    if not within_limits(bbox, MIN_ZOOMS[cid], zi, yi, xi):
        raise NotFoundError(
            f"Tile {zi}/{yi}/{xi} of {cid} is outside the tileset's limits (zoom {MIN_ZOOMS[cid]} to "
            f"{SERVED_MAX_ZOOM}, the collection's extent).",
            fix=f"ask for tiles inside tileMatrixSetLimits (GET /ogc/collections/{cid}/tiles/{TMS_ID}).",
            details={"minTileMatrix": MIN_ZOOMS[cid], "maxTileMatrix": SERVED_MAX_ZOOM},
        )
    store = service.store
    revision, plan_id = snap.revision, snap.plan.plan_id
    etag = f'"{plan_id}-{revision}-{cid}-{zi}-{yi}-{xi}"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=3600" if plan else "public, no-cache"}
    if if_none_match and etag in (t.strip() for t in if_none_match.split(",")):
        return Response(status_code=304, headers=headers)
    if uses_tiles(snap.plan.counts, settings.tiles_above):
        warm(service, snap)
    key = (store.url, plan_id, cid, zi, xi, yi)
    data = CACHE.get_or_render(revision, key, lambda: store.tile(plan_id, cid, zi, xi, yi))
    if not data:
        return Response(status_code=204, headers=headers)
    return Response(data, media_type=MVT, headers=headers)
