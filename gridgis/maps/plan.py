"""The plan map: grids coloured by load deviation, borders, grid codes, switchable buildings, shops, roads, rivers."""

from __future__ import annotations

from collections.abc import Mapping

import folium
import geopandas as gpd
import numpy as np

from gridgis.maps.labels import text
from gridgis.maps.layers import (
    BUILDING_COLORS,
    DEDICATED_COLOR,
    DotLayer,
    border_layer,
    building_points,
    check_plan,
    code_labels,
    grid_map,
    legend_html,
    line_layer,
    neighbour_colors,
    relative_deviation,
)
from gridgis.maps.page import Panel, Script, check_basemap, in_gcj02

SHOP_COLOR = "#ff7f00"
ROAD_COLOR = "#8c8c8c"
RIVER_COLOR = "#3182bd"


def plan_map(
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    lang: str = "zh",
    basemap: str = "none",
    tianditu_key: str | None = None,
    leaders: Mapping[str, str] | None = None,
    title: str | None = None,
    source: str | None = None,
) -> folium.Map:
    """The map planners check a plan on.

    Grids are filled by their load's deviation from the county mean load per
    basic grid (blue under, red over) with a legend and the county-wide
    distribution (mean, min, max, std, grids more than 10 % off); the tooltip
    gives the deviation from the community mean as well; dedicated grids get a dashed purple outline;
    community and town borders are drawn on top; grid codes appear from zoom
    15. Buildings (a dot per building, coloured by grid so neighbours differ)
    and shops are layers to switch on; roads and rivers are shown.

    Parameters
    ----------
    layers
        A plan: ``grids`` (with ``load`` and ``target``) and optionally
        ``buildings`` (with ``grid_id``), ``towns``, ``communities``, ``shops``,
        ``roads``, ``rivers`` - as :func:`gridgis.io.read_layers` returns them.
    lang
        ``"zh"`` (default) or ``"en"``.
    basemap
        ``"none"`` (default, offline), ``"osm"``, ``"tianditu"`` (needs
        ``tianditu_key``) or ``"amap"`` (overlays are shifted to GCJ-02).
    leaders
        Grid leader's name per grid_id, shown in the tooltip (else a ``leader`` column, if any).
    title
        Page title (default: "网格规划图" / "Grid plan").
    source
        The file the plan came from, quoted in errors.

    Returns
    -------
    folium.Map
        Render it with :func:`gridgis.maps.render_page`.

    Raises
    ------
    InputError
        No grids, unknown base map or language, Tianditu without a key.
    SchemaError
        Grids without ``load``/``target``, layers breaking the data model.

    Examples
    --------
    With a plan's layers (tests/maps runs it)::

        from gridgis.maps import plan_map, render_page
        html = render_page(plan_map(layers))
    """
    labels = text(lang)
    check_basemap(basemap, tianditu_key)
    grids = check_plan(layers, source=source)
    gcj02 = in_gcj02(basemap)

    m, scale, geometry = grid_map(
        grids,
        labels,
        name=labels["grids"],
        title=title or labels["plan_title"],
        basemap=basemap,
        tianditu_key=tianditu_key,
        lang=lang,
        leaders=leaders,
        reference="county",
    )
    for key, color, weight in (("communities", "#333333", 2), ("towns", "#000000", 3.5)):
        if key in layers and not layers[key].empty:
            border_layer(
                layers[key], name=labels[key], gcj02=gcj02, color=color, weight=weight, css_class=f"gridgis-{key}"
            ).add_to(m)
    dedicated = grids[grids["kind"] == "dedicated"] if "kind" in grids.columns else grids.iloc[:0]
    if not dedicated.empty:
        # drawn again above the borders, which would hide most of their outline
        border_layer(
            dedicated,
            name=labels["dedicated"],
            gcj02=gcj02,
            color=DEDICATED_COLOR,
            weight=3,
            css_class="gridgis-dedicated-outline",
            dash="6 4",
            control=False,
        ).add_to(m)
    for key, color in (("roads", ROAD_COLOR), ("rivers", RIVER_COLOR)):
        if key in layers and not layers[key].empty:
            line_layer(layers[key], name=labels[key], gcj02=gcj02, color=color).add_to(m)
    buildings = layers.get("buildings")
    if buildings is not None and not buildings.empty:
        position = {g: i for i, g in enumerate(grids["grid_id"])}
        grid_pos = np.array([position.get(g, -1) for g in buildings["grid_id"]])
        color_of_grid = neighbour_colors(geometry)
        # buildings outside every grid of the plan are drawn grey (the last colour)
        group = np.where(grid_pos >= 0, color_of_grid[grid_pos], len(BUILDING_COLORS) - 1)
        DotLayer(
            building_points(buildings, gcj02=gcj02), group, list(BUILDING_COLORS), name=labels["buildings"], show=False
        ).add_to(m)
    shops = layers.get("shops")
    if shops is not None and not shops.empty:
        points = building_points(shops, gcj02=gcj02)
        DotLayer(points, np.zeros(len(points), int), [SHOP_COLOR], name=labels["shops"], show=False, radius=3).add_to(m)
    code_labels(grids, geometry).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    summary = f'<div class="gridgis-count">{labels["grids"]}: <b>{len(grids)}</b></div>' + _county_line(grids, labels)
    Panel(legend_html(scale, labels, extra=summary, title=labels["county_legend"])).add_to(m)
    Script("ready").add_to(m)
    return m


#: grids further than this from the county mean are counted on the legend
COUNTY_RANGE = 0.10


def _county_line(grids: gpd.GeoDataFrame, labels: Mapping[str, str]) -> str:
    """The county-wide load distribution of the basic grids, one legend line (empty without basic grids)."""
    dev = relative_deviation(grids, "county")
    basic = np.isfinite(dev)
    if not basic.any():
        return ""
    load = grids["load"].to_numpy(dtype=float)[basic]
    text = labels["county_summary"].format(
        mean=f"{load.mean():,.0f}",
        min=f"{load.min():,.0f}",
        max=f"{load.max():,.0f}",
        std=f"{load.std():,.0f}",
        outside=int((np.abs(dev[basic]) > COUNTY_RANGE + 1e-9).sum()),
    )
    return f'<div class="gridgis-county">{text}</div>'
