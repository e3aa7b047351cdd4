"""The plan map drawn from the service's vector tiles, for plans too large to send as one page of GeoJSON.

The folium plan page (:func:`gridgis.maps.plan_map`) carries every grid and building in the HTML: 3.2 MB for
Heshan (54,000 buildings), ten times that for a prefecture. Past a number of features
(:data:`TILES_ABOVE`, ``GRIDGIS_TILES_ABOVE`` for the service) the service's page draws the same grids,
coloured by the same county deviation scale, and the borders and buildings from
``/ogc/collections/{id}/tiles`` (Leaflet.VectorGrid, served with the other map assets), so the page holds
only the legend and the first view needs only the tiles in sight.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import folium
import geopandas as gpd
import numpy as np
from branca.element import MacroElement
from folium.elements import JSCSSMixin
from folium.template import Template

from gridgis.maps.labels import text
from gridgis.maps.layers import (
    DEDICATED_COLOR,
    DEVIATION_COLORS,
    NO_TARGET_COLOR,
    deviation_scale,
    legend_html,
    relative_deviation,
)
from gridgis.maps.page import ASSET_URL, Panel, Script, new_map
from gridgis.maps.plan import _county_line

#: a plan with more features than this (towns, communities, grids and buildings together) is drawn from tiles:
#: Heshan's plan has about 55,000; a prefecture about 500,000
TILES_ABOVE = 100_000
#: the layers a tiled page draws
TILED_LAYERS = ("towns", "communities", "grids", "buildings")


def uses_tiles(counts: Mapping[str, int], threshold: int = TILES_ABOVE) -> bool:
    """Whether a plan with these feature counts per layer is drawn from tiles (more than ``threshold`` in all).

    >>> uses_tiles({"grids": 379, "buildings": 54_000}), uses_tiles({"grids": 4_000, "buildings": 500_000})
    (False, True)
    """
    return sum(int(counts.get(layer, 0)) for layer in TILED_LAYERS) > threshold


class TiledPlan(JSCSSMixin, MacroElement):
    """``gridgisTiles.plan(map, options)``: the plan layers from the service's tiles (gridgis-tiles.js)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        gridgisTiles.plan({{ this._parent.get_name() }}, {{ this.options|tojson }});
        {% endmacro %}
        """
    )
    default_js = [
        ("leaflet-vectorgrid", ASSET_URL + "leaflet-vectorgrid.js"),
        ("gridgis-tiles", ASSET_URL + "gridgis-tiles.js"),
    ]

    def __init__(self, options: dict[str, Any]):
        super().__init__()
        self._name = "TiledPlan"
        self.options = options


def tiled_plan_map(
    grids: gpd.GeoDataFrame,
    counts: Mapping[str, int],
    *,
    min_zooms: Mapping[str, int],
    plan: str | None = None,
    lang: str = "zh",
    basemap: str = "none",
    tianditu_key: str | None = None,
    title: str | None = None,
) -> folium.Map:
    """The plan map of a large plan, its layers drawn from ``/ogc/collections/{id}/tiles`` of the same service.

    Parameters
    ----------
    grids
        The plan's grids (with ``load`` and ``target`` for the deviation colours; without them grids are grey):
        their extent fits the view and their loads give the county mean and the scale. Geometry in WGS84.
    counts
        Features per layer of the plan (which layers exist).
    min_zooms
        The shallowest zoom each layer's tileset serves (:data:`gridgis.tiles.MIN_ZOOMS`).
    plan
        The plan's name when it is not the published one (the tiles are asked for with ``?plan=``).
    lang, basemap, tianditu_key, title
        As for :func:`gridgis.maps.plan_map`; a GCJ-02 base map (amap) is not offered here, the tiles being WGS84.

    Returns
    -------
    folium.Map
        Render it with :func:`gridgis.maps.render_page` and an ``asset_url`` (the page needs the service).
    """
    labels = text(lang)
    west, south, east, north = (float(v) for v in grids.total_bounds)
    m = new_map(
        (west, south, east, north),
        basemap=basemap,
        tianditu_key=tianditu_key,
        lang=lang,
        title=title or labels["plan_title"],
    )
    has_load = {"load", "target"} <= set(grids.columns)
    if has_load:
        dev = relative_deviation(grids, "county")
        basic = np.isfinite(dev)
        load = grids["load"].to_numpy(dtype=float)
        mean = float(load[basic].mean()) if basic.any() else 0.0
    else:
        dev, mean = np.array([]), 0.0
    scale = deviation_scale(dev)
    words = (
        "grids",
        "communities",
        "towns",
        "buildings",
        "grid_name",
        "grid_code",
        "households",
        "population",
        "load",
        "county_deviation",
    )
    TiledPlan(
        {
            "plan": plan,
            "bounds": [[south, west], [north, east]],
            "minZooms": dict(min_zooms),
            "present": {layer: bool(counts.get(layer)) for layer in TILED_LAYERS},
            "mean": mean,
            "span": float(scale.vmax),
            "colors": list(DEVIATION_COLORS),
            "noTarget": NO_TARGET_COLOR,
            "dedicated": DEDICATED_COLOR,
            "words": {k: labels[k] for k in words},
        }
    ).add_to(m)
    summary = f'<div class="gridgis-count">{labels["grids"]}: <b>{len(grids):,}</b></div>'
    if has_load:
        summary += _county_line(grids, labels)
    Panel(legend_html(scale, labels, extra=summary, title=labels["county_legend"])).add_to(m)
    Script("ready").add_to(m)
    return m
