"""The cases map: cases coloured by status, clustered, a heat layer, filters by category and time."""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from folium.plugins import HeatMap, MarkerCluster

from gridgis.cases.categories import CATEGORIES
from gridgis.cases.lifecycle import STATUSES
from gridgis.crs import wgs84_to_gcj02
from gridgis.errors import InputError, NotFoundError, SchemaError
from gridgis.maps.display import DECIMALS, display_bounds, display_geometry
from gridgis.maps.labels import text
from gridgis.maps.layers import border_layer
from gridgis.maps.page import Panel, Script, check_basemap, in_gcj02, js_value, new_map

#: marker colour of each case status (open ones warm, finished ones grey/green)
STATUS_COLORS = {
    "reported": "#e31a1c",
    "assigned": "#ff7f00",
    "in_progress": "#fdbf00",
    "escalated": "#984ea3",
    "resolved": "#33a02c",
    "closed": "#7f7f7f",
    "rejected": "#b15928",
    "accepted": "#fe9929",
    "verified": "#1b7837",
    "returned": "#fb9a99",
    "reopened": "#d7301f",
}
CASE_COLUMNS = ("id", "status", "category", "lon", "lat", "created_at")
#: cases are filtered and shown by the local day and time of the dispatchers
LOCAL_TZ = "Asia/Shanghai"


def _check_cases(cases: pd.DataFrame) -> None:
    missing = [c for c in CASE_COLUMNS if c not in cases.columns]
    if missing:
        raise SchemaError(
            f"The cases lack column(s) {missing}; they have {list(cases.columns)}.",
            fix=f"pass cases as gridgis.cases.store returns them (columns {list(CASE_COLUMNS)}).",
            details={"missing": missing},
        )
    lonlat = cases[["lon", "lat"]].apply(pd.to_numeric, errors="coerce")
    bad = lonlat.isna().any(axis=1) | ~lonlat["lon"].between(-180, 180) | ~lonlat["lat"].between(-90, 90)
    if bad.any():
        ids = cases.loc[bad, "id"].head(10).tolist()
        raise SchemaError(f"Cases {ids} have no valid lon/lat.", fix="correct or drop them.", details={"ids": ids})


def cases_map(
    cases: pd.DataFrame,
    grids: gpd.GeoDataFrame | None = None,
    *,
    lang: str = "zh",
    basemap: str = "none",
    tianditu_key: str | None = None,
    title: str | None = None,
) -> folium.Map:
    """The map dispatchers watch cases on.

    Each case is a dot coloured by status in a clustered layer, with a popup
    (id, category, status, time, grid, description); a heat layer shows where
    cases gather; a panel filters both by category and by reporting day
    (Beijing time). Grids are drawn as outlines when given.

    Parameters
    ----------
    cases
        One row per case with ``id``, ``status``, ``category``, ``lon``,
        ``lat`` (WGS84), ``created_at`` and optionally ``grid_id`` and
        ``description`` - as :class:`gridgis.cases.store.CaseStore` returns them.
    grids
        The plan's grids (``grid_id``, ``grid_code``), drawn as outlines and used to name a case's grid.
    lang, basemap, tianditu_key, title
        As for :func:`gridgis.maps.plan_map`.

    Raises
    ------
    InputError
        Neither cases nor grids to draw; unknown base map or language; Tianditu without a key.
    SchemaError
        Cases lacking a column or a valid lon/lat.

    Examples
    --------
    With cases and grids from a store (tests/maps runs it)::

        html = render_page(cases_map(cases, grids))
    """
    labels = text(lang)
    check_basemap(basemap, tianditu_key)
    _check_cases(cases)
    has_grids = grids is not None and not grids.empty
    if cases.empty and not has_grids:
        raise InputError("There are no cases and no grids to draw.", fix="pass the plan's grids or some cases.")
    gcj02 = in_gcj02(basemap)
    lon = cases["lon"].to_numpy(dtype=float)
    lat = cases["lat"].to_numpy(dtype=float)
    if gcj02:
        lon, lat = wgs84_to_gcj02(lon, lat)
    lon, lat = np.round(lon, DECIMALS), np.round(lat, DECIMALS)

    if has_grids:
        bounds = display_bounds(display_geometry(grids.geometry, gcj02=gcj02, tolerance_m=0))
    else:
        bounds = (lon.min(), lat.min(), lon.max(), lat.max())
    m = new_map(bounds, basemap=basemap, tianditu_key=tianditu_key, lang=lang, title=title or labels["cases_title"])
    code_of = {}
    if has_grids:
        border_layer(
            grids, name=labels["grids"], gcj02=gcj02, color="#555555", weight=1, css_class="gridgis-grid"
        ).add_to(m)
        code_of = dict(zip(grids["grid_id"].astype(str), grids["grid_code"].astype(str), strict=True))

    cluster = MarkerCluster(name=labels["cases"], options={"maxClusterRadius": 50}).add_to(m)
    heat = HeatMap(np.column_stack([lat, lon]).tolist(), name=labels["heat"], radius=18, show=False).add_to(m)
    times = pd.to_datetime(cases["created_at"], utc=True).dt.tz_convert(LOCAL_TZ).dt.strftime("%Y-%m-%dT%H:%M")
    grid_ids = cases["grid_id"] if "grid_id" in cases.columns else pd.Series([None] * len(cases))
    descriptions = cases["description"] if "description" in cases.columns else pd.Series([""] * len(cases))
    rows = [
        [
            la,
            lo,
            str(i),
            str(c),
            str(s),
            t,
            code_of.get(str(g), "" if pd.isna(g) else str(g)),
            "" if pd.isna(d) else str(d),
        ]
        for la, lo, i, c, s, t, g, d in zip(
            lat.tolist(),
            lon.tolist(),
            cases["id"],
            cases["category"],
            cases["status"],
            times,
            grid_ids,
            descriptions,
            strict=True,
        )
    ]
    statuses = {s: [labels[s], STATUS_COLORS[s]] for s in STATUSES}
    present = sorted(set(cases["category"].astype(str)))
    categories = {
        c: (CATEGORIES[c].name_zh if lang == "zh" else CATEGORIES[c].name) if c in CATEGORIES else c for c in present
    }
    Script(
        "cases",
        cluster.get_name(),
        heat.get_name(),
        js_value(rows),
        js_value(statuses),
        js_value(categories),
        js_value(dict(labels)),
    ).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    legend = f'<div class="gridgis-legend-title">{labels["status"]}</div>' + "".join(
        f'<div><i class="gridgis-dot" style="background: {STATUS_COLORS[s]}"></i>{labels[s]}</div>' for s in STATUSES
    )
    Panel(legend + f'<div class="gridgis-count">{labels["cases"]}: <b>{len(cases)}</b></div>').add_to(m)
    Script("ready").add_to(m)
    return m


def load_cases(store, plan: str | None = None, *, case_store=None) -> tuple[pd.DataFrame, gpd.GeoDataFrame | None]:
    """All cases of ``store`` and the grids of ``plan`` (default: the published plan; None if there is none).

    ``case_store`` is an open :class:`gridgis.cases.store.CaseStore` of ``store`` (the service's); one is opened
    otherwise.
    """
    from gridgis.cases.store import CASE_COLUMNS as STORED_COLUMNS
    from gridgis.cases.store import open_case_store

    case_store = case_store or open_case_store(store)
    cases = pd.DataFrame(list(case_store.iter_cases()), columns=list(STORED_COLUMNS))
    try:
        grids = store.load_layer(store.get_plan(plan).plan_id, "grids")
    except NotFoundError:
        if plan is not None:
            raise
        grids = None
    return cases, grids
