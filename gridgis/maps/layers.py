"""Map layers shared by the plan and compare maps: the plan check, grids by load deviation, borders, buildings."""

from __future__ import annotations

import html
from collections.abc import Mapping

import branca.colormap
import folium
import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from folium.template import Template

from gridgis.errors import InputError, SchemaError
from gridgis.maps.display import display_bounds, display_geometry, feature_collection
from gridgis.maps.page import Script, in_gcj02, js_value, new_map
from gridgis.model import validate_layer

#: RdBu: blue under target, white on target, red over target
DEVIATION_COLORS = ("#2166ac", "#67a9cf", "#f7f7f7", "#ef8a62", "#b2182b")
NO_TARGET_COLOR = "#bdbdbd"
DEDICATED_COLOR = "#6a3d9a"
#: qualitative colours for buildings; touching grids get different ones (greedy colouring of their adjacency)
BUILDING_COLORS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666")
LOAD_COLUMNS = ("load", "target")
#: zoom from which grid codes are written on the map
LABEL_MIN_ZOOM = 15
MISSING = "—"


def check_plan(layers: Mapping[str, gpd.GeoDataFrame], *, source: str | None = None) -> gpd.GeoDataFrame:
    """The grids of a plan, checked for drawing: present, not empty, valid, with load and target.

    Raises
    ------
    InputError
        No grids layer, or no grids in it.
    SchemaError
        Grids breaking the data model, or without the ``load``/``target`` columns.
    """
    where = f" in {source}" if source else ""
    grids = layers.get("grids")
    if grids is None or grids.empty:
        raise InputError(
            f"The plan{where} has no grids to draw (layers: {sorted(layers)}).",
            fix="pass a plan written by `gridgis partition` (a GeoPackage with a non-empty 'grids' layer).",
        )
    validate_layer(grids, "grids", source=source)
    missing = [c for c in LOAD_COLUMNS if c not in grids.columns]
    if missing:
        raise SchemaError(
            f"The grids{where} lack the load column(s) {missing} that the map colours by.",
            fix="re-run `gridgis partition` (it writes load, target and deviation), or add load and target columns.",
            details={"layer": "grids", "missing": missing},
        )
    if "buildings" in layers and not layers["buildings"].empty:
        buildings = validate_layer(layers["buildings"], "buildings", source=source)
        if "grid_id" not in buildings.columns:
            raise SchemaError(
                f"The buildings{where} have no 'grid_id' column, so they cannot be shown by grid.",
                fix="pass the plan's buildings layer as written by `gridgis partition` or `gridgis assign`.",
                details={"layer": "buildings", "missing": ["grid_id"]},
            )
    return grids


def relative_deviation(grids: pd.DataFrame, reference: str = "target") -> np.ndarray:
    """``load / reference - 1`` per grid (NaN where the reference is 0 or missing).

    ``reference``: ``"target"`` (each grid's ``target`` column: its community's
    mean load per grid) or ``"county"`` (the mean load of every basic grid of
    the plan; NaN for dedicated grids).
    """
    load = pd.to_numeric(grids["load"], errors="coerce").to_numpy(dtype=float)
    if reference == "county":
        basic = np.isfinite(load) & pd.to_numeric(grids["target"], errors="coerce").notna().to_numpy()
        if "kind" in grids.columns:
            basic &= (grids["kind"] != "dedicated").to_numpy()
        mean = load[basic].mean() if basic.any() else np.nan
        target = np.where(basic, mean, np.nan)
    else:
        target = pd.to_numeric(grids["target"], errors="coerce").to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(target > 0, load / target - 1.0, np.nan)


def deviation_scale(deviation: np.ndarray) -> branca.colormap.LinearColormap:
    """A diverging scale symmetric around 0, wide enough for 98 % of the grids (10 % to 100 %)."""
    finite = np.abs(deviation[np.isfinite(deviation)])
    span = float(np.quantile(finite, 0.98)) if finite.size else 0.1
    span = min(1.0, max(0.1, np.ceil(span * 20) / 20))
    return branca.colormap.LinearColormap(DEVIATION_COLORS, vmin=-span, vmax=span)


def _fmt_int(values: pd.Series | None, n: int) -> list[str]:
    if values is None:
        return [MISSING] * n
    numbers = pd.to_numeric(values, errors="coerce")
    return [MISSING if pd.isna(v) else f"{int(v):,}" for v in numbers]


def _escaped(values, n: int) -> list[str]:
    if values is None:
        return [MISSING] * n
    return [MISSING if pd.isna(v) or v == "" else html.escape(str(v)) for v in values]


def grid_layer(
    grids: gpd.GeoDataFrame,
    labels: Mapping[str, str],
    *,
    name: str,
    gcj02: bool,
    leaders: Mapping[str, str] | None = None,
    reference: str = "target",
) -> tuple[folium.GeoJson, branca.colormap.LinearColormap, np.ndarray]:
    """Grids coloured by load deviation from ``reference`` (see :func:`relative_deviation`), with a tooltip.

    Dedicated grids are outlined. The tooltip gives the deviation from the
    community mean, and from the county mean when that is the colouring.
    Returns the layer, its colour scale and the displayed geometries.
    """
    n = len(grids)
    deviation = relative_deviation(grids, reference)
    in_community = relative_deviation(grids)
    scale = deviation_scale(deviation)
    clipped = np.clip(deviation, scale.vmin, scale.vmax)
    fill = [NO_TARGET_COLOR if not np.isfinite(d) else scale.rgb_hex_str(d) for d in clipped]
    dedicated = (grids["kind"] == "dedicated").to_numpy() if "kind" in grids.columns else np.zeros(n, bool)
    if leaders is None and "leader" in grids.columns:
        leaders = dict(zip(grids["grid_id"], grids["leader"], strict=True))
    geometry = display_geometry(grids.geometry, gcj02=gcj02, coverage=True)
    props = pd.DataFrame(
        {
            "grid_code": _escaped(grids["grid_code"], n),
            "name": _escaped(grids["name"] if "name" in grids.columns else None, n),
            "households": _fmt_int(grids.get("households"), n),
            "population": _fmt_int(grids.get("population"), n),
            "shops": _fmt_int(grids.get("shops"), n),
            "leader": _escaped([leaders.get(g) for g in grids["grid_id"]] if leaders else None, n),
            "deviation": [MISSING if not np.isfinite(d) else f"{d:+.0%}" for d in in_community],
            "county_deviation": [MISSING if not np.isfinite(d) else f"{d:+.0%}" for d in deviation],
            "kind": [labels["dedicated"] if d else "" for d in dedicated],
            "_fill": fill,
            "_dedicated": dedicated,
        }
    )

    def style(feature: dict) -> dict:
        p = feature["properties"]
        return {
            "fillColor": p["_fill"],
            "fillOpacity": 0.6,
            "color": DEDICATED_COLOR if p["_dedicated"] else "#555555",
            "weight": 3 if p["_dedicated"] else 1,
            "dashArray": "6 4" if p["_dedicated"] else None,
            "className": "gridgis-grid gridgis-dedicated" if p["_dedicated"] else "gridgis-grid",
        }

    fields = ["grid_code", "name", "households", "population", "shops", "leader", "deviation"]
    aliases = [labels[k] for k in ("grid_code", "grid_name", "households", "population", "shops_count", "leader")]
    aliases += [labels["deviation"]]
    if reference == "county":
        fields.append("county_deviation")
        aliases.append(labels["county_deviation"])
    fields.append("kind")
    aliases.append("")
    layer = folium.GeoJson(
        feature_collection(props, geometry),
        name=name,
        style_function=style,
        highlight_function=lambda f: {"weight": 3, "color": "#000000"},
        tooltip=folium.GeoJsonTooltip(fields=fields, aliases=aliases, sticky=True),
    )
    return layer, scale, geometry


def code_labels(grids: gpd.GeoDataFrame, geometry: np.ndarray) -> Script:
    """Grid codes written inside the grids from zoom :data:`LABEL_MIN_ZOOM` on."""
    points = shapely.get_coordinates(shapely.point_on_surface(geometry))
    rows = [[round(y, 6), round(x, 6), str(c)] for (x, y), c in zip(points, grids["grid_code"], strict=True)]
    return Script("labels", js_value(rows), str(LABEL_MIN_ZOOM))


def border_layer(
    gdf: gpd.GeoDataFrame,
    *,
    name: str,
    gcj02: bool,
    color: str,
    weight: float,
    css_class: str,
    dash: str | None = None,
    control: bool = True,
) -> folium.GeoJson:
    """Outlines (towns, communities, old grids, dedicated grids), not catching the mouse."""
    geometry = display_geometry(gdf.geometry, gcj02=gcj02, coverage=True)
    props = pd.DataFrame({"name": _escaped(gdf["name"] if "name" in gdf.columns else None, len(gdf))})
    return folium.GeoJson(
        feature_collection(props, geometry),
        name=name,
        style_function=lambda f: {
            "fill": False,
            "color": color,
            "weight": weight,
            "dashArray": dash,
            "className": css_class,
        },
        interactive=False,
        control=control,
    )


def line_layer(gdf: gpd.GeoDataFrame, *, name: str, gcj02: bool, color: str, show: bool = True) -> folium.GeoJson:
    """Roads or rivers (lines, or river polygons filled lightly)."""
    geometry = display_geometry(gdf.geometry, gcj02=gcj02)
    props = pd.DataFrame({"name": _escaped(gdf["name"] if "name" in gdf.columns else None, len(gdf))})
    return folium.GeoJson(
        feature_collection(props, geometry),
        name=name,
        show=show,
        style_function=lambda f: {"color": color, "weight": 2, "fillColor": color, "fillOpacity": 0.3},
        interactive=False,
    )


def neighbour_colors(geometry: np.ndarray) -> np.ndarray:
    """An index into :data:`BUILDING_COLORS` per polygon such that touching polygons differ where possible."""
    tree = shapely.STRtree(geometry)
    left, right = tree.query(geometry, predicate="intersects")
    graph = nx.Graph()
    graph.add_nodes_from(range(len(geometry)))
    graph.add_edges_from((a, b) for a, b in zip(left.tolist(), right.tolist(), strict=True) if a < b)
    coloring = nx.greedy_color(graph, strategy="largest_first")
    return np.array([coloring[i] % len(BUILDING_COLORS) for i in range(len(geometry))], dtype=int)


class DotLayer(folium.map.Layer):
    """Many points drawn into canvas tiles by ``gridgisMaps.dots`` (no Leaflet object per point).

    Parameters
    ----------
    points
        Display points (shapely).
    group
        Colour index of each point, 0 .. len(colors) - 1.
    colors
        CSS colours.
    name, show
        The layer's name in the layer control, and whether it is on when the page opens.
    radius
        Dot radius in pixels from zoom 13 (1 below, one more from zoom 16).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = gridgisMaps.dots(
            {{ this.xy|tojson }}, {{ this.group|tojson }}, {{ this.colors|tojson }}, {radius: {{ this.radius }}});
        {% endmacro %}
        """
    )

    def __init__(
        self, points: np.ndarray, group: np.ndarray, colors: list[str], *, name: str, show: bool, radius: float = 2
    ):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "DotLayer"
        self.xy = shapely.get_coordinates(points).ravel().tolist()
        self.group = np.asarray(group, dtype=int).tolist()
        self.colors = list(colors)
        self.radius = float(radius)


def building_points(buildings: gpd.GeoDataFrame, *, gcj02: bool) -> np.ndarray:
    """One display point per building (a point on its surface)."""
    return display_geometry(gpd.GeoSeries(buildings.geometry.representative_point(), crs=buildings.crs), gcj02=gcj02)


def legend_html(
    scale: branca.colormap.LinearColormap, labels: Mapping[str, str], *, extra: str = "", title: str | None = None
) -> str:
    """The deviation legend: a gradient bar with its ends and centre, and symbols for borders and dedicated grids."""
    gradient = ", ".join(DEVIATION_COLORS)
    return (
        f'<div class="gridgis-legend-title">{title or labels["deviation_legend"]}</div>'
        f'<div class="gridgis-gradient" style="background: linear-gradient(to right, {gradient})"></div>'
        f'<div class="gridgis-ticks"><span>{scale.vmin:+.0%} {labels["under"]}</span><span>0</span>'
        f"<span>{scale.vmax:+.0%} {labels['over']}</span></div>"
        f'<div><i class="gridgis-swatch" style="border: 3px dashed {DEDICATED_COLOR}"></i>{labels["dedicated"]}</div>'
        f'<div><i class="gridgis-swatch" style="border: 2px solid #333"></i>{labels["community_border"]}</div>'
        f'<div><i class="gridgis-swatch" style="border: 3.5px solid #000"></i>{labels["town_border"]}</div>'
        f"{extra}"
    )


def grid_map(
    grids: gpd.GeoDataFrame,
    labels: Mapping[str, str],
    *,
    name: str,
    title: str,
    basemap: str,
    tianditu_key: str | None,
    lang: str,
    leaders: Mapping[str, str] | None = None,
    reference: str = "target",
) -> tuple[folium.Map, branca.colormap.LinearColormap, np.ndarray]:
    """A new map fitted to ``grids`` with their deviation-coloured layer: (map, colour scale, display geometry)."""
    grid_geojson, scale, geometry = grid_layer(
        grids, labels, name=name, gcj02=in_gcj02(basemap), leaders=leaders, reference=reference
    )
    m = new_map(display_bounds(geometry), basemap=basemap, tianditu_key=tianditu_key, lang=lang, title=title)
    grid_geojson.add_to(m)
    return m, scale, geometry
