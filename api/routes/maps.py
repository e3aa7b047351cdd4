"""Map pages served by the service (same library functions as ``gridgis map``), with Leaflet served locally."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse, HTMLResponse

from api.deps import ServiceDep, SettingsDep, StoreDep, require
from api.routes.tiles import warm
from gridgis.errors import NotFoundError
from gridgis.maps import ASSET_DIR, ASSET_URL, cases_map, plan_map, render_page
from gridgis.maps.cases import load_cases
from gridgis.maps.page import ASSET_ORDER, in_gcj02
from gridgis.maps.tiled import tiled_plan_map, uses_tiles
from gridgis.store import PLAN_LAYERS
from gridgis.tiles import MIN_ZOOMS

router = APIRouter(prefix="/maps", tags=["maps"])

PlanQuery = Annotated[str | None, Query(description="Plan name (default: the published plan).")]
LangQuery = Annotated[str, Query(description="zh or en.")]
BasemapQuery = Annotated[str, Query(description="none (default), osm, tianditu or amap.")]
KeyQuery = Annotated[str | None, Query(alias="tianditu_key", description="Tianditu key, for basemap=tianditu.")]


def page_options(lang: LangQuery = "zh", basemap: BasemapQuery = "none", key: KeyQuery = None) -> dict[str, Any]:
    """The query parameters every map page takes, as keywords of the gridgis.maps functions."""
    return {"lang": lang, "basemap": basemap, "tianditu_key": key}


PageOptions = Annotated[dict[str, Any], Depends(page_options)]


#: rendered plan pages, by (plan, store revision, lang, basemap, key): a plan page takes seconds to build
_PAGES: OrderedDict[tuple, str] = OrderedDict()
_PAGES_LOCK = threading.Lock()
CACHED_PAGES = 8


def _cached(key: tuple, build: Callable[[], str]) -> str:
    with _PAGES_LOCK:
        if key in _PAGES:
            _PAGES.move_to_end(key)
            return _PAGES[key]
    html = build()
    with _PAGES_LOCK:
        _PAGES[key] = html
        while len(_PAGES) > CACHED_PAGES:
            _PAGES.popitem(last=False)
    return html


def leaders(store) -> dict[str, str]:
    """Grid leader's name per grid_id, from the staff table."""
    return {
        gid: doc["leader"]["name"] for gid, doc in store.all_staff().items() if (doc.get("leader") or {}).get("name")
    }


@router.get("/plan", response_class=HTMLResponse, summary="Map of a plan: grids by load deviation, borders, buildings")
def plan_page(
    service: ServiceDep, store: StoreDep, settings: SettingsDep, options: PageOptions, plan: PlanQuery = None
) -> HTMLResponse:
    """The plan's map page (HTML); past ``GRIDGIS_TILES_ABOVE`` features (and on a WGS84 base map) its layers come
    from the vector tiles of /ogc/collections/{id}/tiles. 404: no such plan, or none published."""
    info = store.get_plan(plan)
    if uses_tiles(info.counts, settings.tiles_above) and not in_gcj02(options["basemap"]):
        snap = service.current(plan)
        warm(service, snap)

        def build() -> str:
            m = tiled_plan_map(snap.grids, info.counts, min_zooms=MIN_ZOOMS, plan=plan, title=info.name, **options)
            return render_page(m, asset_url=ASSET_URL)

        return HTMLResponse(_cached((store.url, info.plan_id, snap.revision, "tiles", *options.values()), build))

    def build() -> str:
        layers = {name: store.load_layer(info.plan_id, name) for name in PLAN_LAYERS}
        m = plan_map(layers, **options, leaders=leaders(store), title=info.name, source=info.name)
        return render_page(m, asset_url=ASSET_URL)

    # the revision changes with every publish and staff edit, so a cached page is never stale
    return HTMLResponse(_cached((store.url, info.plan_id, store.revision(), *options.values()), build))


@router.get(
    "/cases",
    response_class=HTMLResponse,
    summary="Map of the cases: by status, clustered, heat, filters (dispatchers)",
    dependencies=[require("dispatcher")],
)
def cases_page(service: ServiceDep, store: StoreDep, options: PageOptions, plan: PlanQuery = None) -> HTMLResponse:
    """The cases map page (HTML). 401/403: no dispatcher key."""
    cases, grids = load_cases(store, plan, case_store=service.cases)
    m = cases_map(cases, grids, **options)
    return HTMLResponse(render_page(m, asset_url=ASSET_URL))


@router.get("/assets/{name}", summary="Leaflet and plugin files the map pages use (served, never from a CDN)")
def asset(name: str) -> FileResponse:
    """A Leaflet file the pages load. 404: no such asset."""
    if name not in ASSET_ORDER:
        raise NotFoundError(f"No map asset {name!r}.", fix=f"use one of {list(ASSET_ORDER)}.")
    media = "text/javascript" if name.endswith(".js") else "text/css"
    return FileResponse(ASSET_DIR / name, media_type=media, headers={"Cache-Control": "public, max-age=86400"})
