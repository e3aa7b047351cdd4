"""Point in grid: which grid, community and town, who is on duty, which other areas (MapIt-style)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

import numpy as np
import pydantic_core
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import TypeAdapter, ValidationError

from api.deps import service_of, settings_of
from api.errors import APIError, error_response
from api.inputs import bad_text
from api.schemas import FeatureCollectionIn, LocateArraysIn, LocateBatchIn, LocateBatchOut, LocateOut
from gridgis.crs import CHINA_BOUNDS, LONLAT_CRS, LONLAT_FIXES, point_to_wgs84, to_wgs84
from gridgis.errors import GridgisError, InputError
from gridgis.store.snapshot import Snapshot

router = APIRouter(prefix="/v1", tags=["locate"])

OUTSIDE = {
    404: {
        "description": "Outside every grid: `error.details` holds the nearest grid and the distance in metres.",
    },
    422: {"description": "Missing, non-numeric, NaN, out-of-range or swapped lon/lat; unknown crs."},
}


GET_PARAMETERS = [
    {
        "name": "lon",
        "in": "query",
        "required": True,
        "schema": {"type": "number"},
        "description": "Longitude (in crs).",
    },
    {"name": "lat", "in": "query", "required": True, "schema": {"type": "number"}, "description": "Latitude (in crs)."},
    {
        "name": "crs",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": list(LONLAT_CRS), "default": "wgs84"},
        "description": "CRS of lon/lat: gcj02 for Amap/Tencent/WeChat, bd09 for Baidu.",
    },
    {"name": "plan", "in": "query", "required": False, "schema": {"type": "string"}, "description": "Plan name."},
]


#: a decimal number as a query value (ASCII digits, optional sign, point and exponent)
NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def decimal(text: str) -> float | None:
    """``text`` as a number when it is a plain decimal (:data:`NUMBER`; ``float`` alone would also take
    ``112_96``, fullwidth digits, ``nan`` and ``inf``), else None."""
    return float(text) if NUMBER.fullmatch(text) else None


def _number(query, name: str) -> float:
    text = query.get(name)
    if text is None or text == "":
        raise InputError(
            f"Query parameter {name!r} is missing.",
            fix="send lon and lat in degrees, e.g. ?lon=112.96&lat=22.76.",
            details={"parameter": name},
        )
    value = decimal(text)
    if value is None:
        raise InputError(
            f"Query parameter {name}={text[:40]!r} is not a number.",
            fix="send decimal degrees, e.g. 112.96.",
            details={"parameter": name, "value": text[:40]},
        )
    return value


# Parameters are read by hand (documented through openapi_extra): this is the hot path, and FastAPI's
# per-parameter validation would cost about a third of the request. The plain requests do not even reach
# this route: :class:`LocateFastPath` answers them with the same bytes (see there).
@router.get(
    "/locate",
    response_model=LocateOut,
    responses=OUTSIDE,
    summary="Which grid is this point in",
    openapi_extra={"parameters": GET_PARAMETERS},
)
async def locate(request: Request) -> Response:
    service = service_of(request)
    query = request.query_params
    for name in ("lon", "lat", "crs", "plan"):
        if len(query.getlist(name)) > 1:  # which of two longitudes was meant is not ours to guess
            raise InputError(
                f"Query parameter {name!r} is given {len(query.getlist(name))} times.",
                fix=f"send {name} once, e.g. ?lon=112.96&lat=22.76.",
                details={"parameter": name},
            )
    lon, lat = _number(query, "lon"), _number(query, "lat")
    crs = query.get("crs", "wgs84").lower()
    if crs not in LONLAT_CRS:
        raise InputError(
            f"Unknown crs {crs[:40]!r}.", fix=f"use one of {list(LONLAT_CRS)}.", details={"allowed": list(LONLAT_CRS)}
        )
    snap = await service.current_async(query.get("plan"))
    x, y = point_to_wgs84(lon, lat, crs, source="query lon/lat")
    pos = snap.locator.locate_point(x, y)
    if pos < 0:
        nearest, metres = snap.locator.nearest([x], [y])
        near, dist = int(nearest[0]), float(metres[0])
        grid = snap.answers[near]["grid"]
        return error_response(
            404,
            "outside_coverage",
            f"Point ({lon}, {lat}) [{crs}] is in no grid of plan {snap.plan.name!r}; "
            f"the nearest grid is {grid['grid_id']} at {dist:,.0f} m.",
            {"nearest": grid, "distance_m": round(dist, 1), "plan": snap.plan.name},
        )
    return Response(_answer(snap, pos, lon, lat, crs, x, y), media_type="application/json")


def _answer(snap: Snapshot, pos: int, lon: float, lat: float, crs: str, x: float, y: float) -> bytes:
    """The 200 answer: grid ``pos`` of ``snap`` for the point (lon, lat) in ``crs``, (x, y) in WGS84.

    The point is written as ``json.dumps`` writes it (finite floats by ``repr``; crs one of LONLAT_CRS)."""
    point = b'{"lon":%r,"lat":%r,"crs":"%s","wgs84":[%r,%r]}' % (lon, lat, crs.encode(), x, y)
    return snap.answer_json(pos, x, y, point)


class LocateFastPath:
    """Pure ASGI middleware: a plain ``GET /v1/locate?lon=..&lat=..[&crs=..]`` answered without FastAPI's
    router, dependency solving and request objects, which cost more CPU than the lookup itself.

    It answers only what the route would answer 200 for the published plan, with the same bytes and
    headers, and sets ``scope["route"]`` to the route so the metrics count it there. Anything else (another
    parameter or a repeated one, a value the app-wide check or the route would refuse, a point outside every
    grid, no plan loaded yet) goes on to the app unchanged, which answers it as it always did. Add it as the
    innermost middleware, so the body limit, CORS and metrics still wrap it.
    """

    PATH = "/v1/locate"

    def __init__(self, app):
        self.app = app
        self._route = None  # the route the router matches for GET /v1/locate, learnt from the first request

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != self.PATH or scope["method"] != "GET":
            return await self.app(scope, receive, send)
        if self._route is None:  # the first request goes through the app, and tells the route it matched
            await self.app(scope, receive, send)
            if getattr(scope.get("route"), "path", None) == self.PATH:
                self._route = scope["route"]
            return
        body = self._plain_answer(scope)
        if body is None:
            return await self.app(scope, receive, send)
        scope["route"] = self._route
        headers = [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def _plain_answer(scope) -> bytes | None:
        """The 200 answer's bytes, or None when the request is not the plain case (the app answers it)."""
        if scope.get("root_path"):
            return None
        pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)  # as Starlette parses it
        query = dict(pairs)
        if len(query) != len(pairs) or not query.keys() <= PLAIN or "lon" not in query or "lat" not in query:
            return None  # a repeated, unknown or missing parameter: the app answers
        if any(bad_text(v) for v in query.values()):
            return None
        service = getattr(scope["app"].state, "gridgis", None)
        snap = service.snapshot if service is not None else None
        crs = query.get("crs", "wgs84").lower()
        if snap is None or crs not in LONLAT_CRS:
            return None
        lon, lat = decimal(query["lon"]), decimal(query["lat"])
        if lon is None or lat is None:
            return None
        try:
            x, y = point_to_wgs84(lon, lat, crs, source="query lon/lat")
        except (ValueError, GridgisError):
            return None
        pos = snap.locator.locate_point(x, y)
        return _answer(snap, pos, lon, lat, crs, x, y) if pos >= 0 else None


#: the query parameters :class:`LocateFastPath` answers (``plan`` goes to the route: it may load a plan)
PLAIN = frozenset({"lon", "lat", "crs"})


def _inline(schema: dict) -> dict:
    """``schema`` with its ``$defs`` references replaced by the definitions (for openapi_extra)."""
    defs = schema.pop("$defs", {})

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                return walk(defs[node["$ref"].rsplit("/", 1)[1]])
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)


BATCH = TypeAdapter(LocateBatchIn)
BATCH_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": _inline(BATCH.json_schema()),
            "example": {"lon": [112.95, 112.91], "lat": [22.71, 22.705], "crs": "wgs84"},
        }
    },
}


# The body is parsed by pydantic straight from the bytes (validate_json, about 3x faster than FastAPI's
# json.loads + validation for 10,000 points); openapi_extra documents it.
@router.post(
    "/locate",
    response_model=LocateBatchOut,
    responses={
        404: {"description": "No plan published, or no plan named ``plan``."},
        413: {"description": "More points than the batch limit (10,000)."},
        422: {"description": "A malformed body, or lon and lat of different lengths."},
    },
    summary="Locate up to 10,000 points in one call (arrays or GeoJSON)",
    openapi_extra={"requestBody": BATCH_BODY, "parameters": GET_PARAMETERS[3:]},
)
async def locate_batch(request: Request) -> Response:
    service = service_of(request)
    try:
        body = BATCH.validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None
    plan = request.query_params.get("plan")
    snap = await service.current_async(plan)
    if isinstance(body, LocateArraysIn):
        if len(body.lon) != len(body.lat):
            raise InputError(
                f"lon has {len(body.lon)} values but lat has {len(body.lat)}.", fix="send one lat per lon."
            )
        lon, lat = np.asarray(body.lon, dtype=float), np.asarray(body.lat, dtype=float)
    else:
        coords = (
            [f.geometry.coordinates for f in body.features]
            if isinstance(body, FeatureCollectionIn)
            else body.coordinates
        )
        if any(len(c) < 2 for c in coords):
            raise InputError("A point has fewer than 2 coordinates.", fix="send [lon, lat] pairs.")
        xy = np.array([c[:2] for c in coords], dtype=float).reshape(-1, 2)
        lon, lat = xy[:, 0], xy[:, 1]
    limit = settings_of(request).max_batch
    if lon.size > limit:
        raise APIError(
            413,
            "batch_too_large",
            f"The batch holds {lon.size:,} points; the limit is {limit:,}.",
            fix=f"split it into calls of at most {limit:,} points.",
            details={"limit": limit, "count": int(lon.size)},
        )
    problems = point_problems(lon, lat)
    ok = np.array([p is None for p in problems], dtype=bool)
    x, y = np.full(lon.shape, np.nan), np.full(lat.shape, np.nan)
    if ok.any():
        x[ok], y[ok] = to_wgs84(lon[ok], lat[ok], body.crs)
    pos = np.full(lon.shape, -1, dtype=np.int64)
    if ok.any():
        pos[ok] = snap.locate(x[ok], y[ok])
    ids = snap.grid_ids
    hit = pos >= 0
    grid_id = np.full(pos.size, None, dtype=object)
    grid_id[hit] = ids[pos[hit]]
    missed = np.flatnonzero(ok & ~hit)
    if missed.size:
        nearest, metres = snap.locator.nearest(x[missed], y[missed])
        for i, near, dist in zip(missed.tolist(), nearest.tolist(), metres.tolist(), strict=True):
            gid = snap.answers[int(near)]["grid"]["grid_id"]
            problems[i] = {
                "code": "outside_coverage",
                "message": f"In no grid of plan {snap.plan.name!r}; the nearest grid is {gid} at {dist:,.0f} m.",
                "nearest_grid_id": gid,
                "distance_m": round(float(dist), 1),
            }
    grids = {}
    for p in np.unique(pos[hit]).tolist():
        answer = snap.answers[p]
        grids[str(ids[p])] = {k: answer[k] for k in ("grid", "community", "town", "staff")}
    out = {"plan": snap.plan.name, "count": int(pos.size), "located": int(hit.sum()), "grid_id": grid_id.tolist()}
    out["errors"] = problems
    if isinstance(body, FeatureCollectionIn):
        out["properties"] = [f.properties for f in body.features]
    out["grids"] = grids
    return Response(pydantic_core.to_json(out), media_type="application/json")


def point_problems(lon: np.ndarray, lat: np.ndarray) -> list[dict[str, Any] | None]:
    """Per point, why it cannot be located (None when it can): the reasons of
    :func:`gridgis.crs.check_lonlat` (``missing``, ``swapped``, ``projected``, ``outside``), point by point.

    >>> point_problems(np.array([112.9, 22.7, np.nan]), np.array([22.7, 112.9, 1.0]))[1]["code"]
    'swapped'
    """
    x0, y0, x1, y1 = CHINA_BOUNDS
    finite = np.isfinite(lon) & np.isfinite(lat)
    with np.errstate(invalid="ignore"):
        inside = finite & (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)
        swapped = finite & (lat >= x0) & (lat <= x1) & (lon >= y0) & (lon <= y1)
        degrees = (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    fixes = LONLAT_FIXES["api"]
    out: list[dict[str, Any] | None] = [None] * lon.size
    for i in np.flatnonzero(~inside).tolist():
        kind = "missing" if not finite[i] else "swapped" if swapped[i] else "outside" if degrees[i] else "projected"
        out[i] = {"code": kind, "message": f"{_REASONS[kind]} Fix: {fixes[kind]}"}
    return out


_REASONS = {
    "missing": "Missing or non-numeric coordinates.",
    "swapped": "lon/lat look swapped.",
    "projected": "Not degrees: looks like projected metres.",
    "outside": f"Outside China {CHINA_BOUNDS}.",
}
