"""The one builder every map page goes through: base map, offline assets, legend panels, atomic export.

folium's own pages load Leaflet, jQuery, Bootstrap and Font Awesome from CDNs.
Government networks often have no internet, so :func:`render_page` swaps every
resource a folium element asks for with a copy vendored in ``assets/`` (only
Leaflet and the two plugins the maps use) - inlined in exported files, or
linked under ``/maps/assets/`` when the service serves the page. A page then
reaches outside its host only for base-map tiles, and only when asked.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import folium
import xyzservices.providers as xyz
from branca.element import Element, MacroElement
from folium.elements import JSCSSMixin
from folium.template import Template

from gridgis.errors import InputError
from gridgis.io.atomic import atomic_path
from gridgis.maps.labels import text

ASSET_DIR = Path(__file__).with_name("assets")
#: where the service serves ``assets/`` (api/routes/maps.py)
ASSET_URL = "/maps/assets/"

#: resource names folium elements declare -> vendored file, or None when our maps do not need it
RESOURCES: dict[str, str | None] = {
    "leaflet": "leaflet.js",
    "leaflet_css": "leaflet.css",
    "markerclusterjs": "leaflet.markercluster.js",
    "markerclustercss": "MarkerCluster.css",
    "markerclusterdefaultcss": "MarkerCluster.Default.css",
    "leaflet-heat.js": "leaflet-heat.js",
    "leaflet-vectorgrid": "leaflet-vectorgrid.js",
    "gridgis-tiles": "gridgis-tiles.js",
    # Marker icons, popups with Bootstrap styling: not used by gridgis maps.
    "jquery": None,
    "bootstrap": None,
    "awesome_markers": None,
    "bootstrap_css": None,
    "glyphicons_css": None,
    "awesome_markers_font_css": None,
    "awesome_markers_css": None,
    "awesome_rotate_css": None,
}
#: load order of the vendored files (styles first, Leaflet before its plugins, our helpers last)
ASSET_ORDER = (
    "leaflet.css",
    "MarkerCluster.css",
    "MarkerCluster.Default.css",
    "gridgis-maps.css",
    "leaflet.js",
    "leaflet.markercluster.js",
    "leaflet-heat.js",
    "leaflet-vectorgrid.js",
    "gridgis-maps.js",
    "gridgis-tiles.js",
)

BASEMAPS = ("none", "osm", "tianditu", "amap")
#: base maps whose tiles are in GCJ-02 (Amap): overlays are shifted from WGS84 to match them
GCJ02_BASEMAPS = ("amap",)
_TIANDITU = (
    "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={layer}"
    "&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}"
)


def check_basemap(basemap: str, tianditu_key: str | None = None) -> str:
    """Return ``basemap`` if it can be drawn; :class:`InputError` naming the allowed ones or the missing key."""
    if basemap not in BASEMAPS:
        raise InputError(f"Unknown base map {basemap!r}.", fix=f"use one of {list(BASEMAPS)} (default none: offline).")
    if basemap == "tianditu" and not tianditu_key:
        raise InputError(
            "The Tianditu base map needs a key (tk) and none was given.",
            fix="give a 天地图 browser key from console.tianditu.gov.cn (--tianditu-key KEY; on /maps pages "
            "?tianditu_key=KEY), or use the base map none.",
        )
    return basemap


def in_gcj02(basemap: str) -> bool:
    """Whether overlays drawn on ``basemap`` must be shifted to GCJ-02 (Amap's tiles are in GCJ-02)."""
    return basemap in GCJ02_BASEMAPS


def _add_basemap(m: folium.Map, basemap: str, tianditu_key: str | None, lang: str) -> None:
    if basemap == "osm":
        folium.TileLayer(xyz.OpenStreetMap.Mapnik, control=False).add_to(m)
    elif basemap == "amap":
        folium.TileLayer(xyz.Gaode.Normal, control=False).add_to(m)
    elif basemap == "tianditu":
        attr = "&copy; 天地图 Tianditu"
        for layer in ("vec", "cva" if lang == "zh" else "eva"):
            folium.TileLayer(
                _TIANDITU.format(layer=layer, key=tianditu_key, s="{s}", x="{x}", y="{y}", z="{z}"),
                attr=attr,
                subdomains="01234567",
                max_zoom=18,
                overlay=layer != "vec",
                control=False,
            ).add_to(m)


def new_map(
    bounds: tuple[float, float, float, float],
    *,
    basemap: str = "none",
    tianditu_key: str | None = None,
    lang: str = "zh",
    title: str | None = None,
) -> folium.Map:
    """A folium map fitted to ``bounds`` (min lon, min lat, max lon, max lat) with the chosen base map.

    Parameters
    ----------
    bounds
        Display bounds (already shifted to GCJ-02 for ``basemap="amap"``).
    basemap
        One of :data:`BASEMAPS`; ``"none"`` (default) draws no tiles and needs no network.
    tianditu_key
        Required for ``basemap="tianditu"``.
    lang
        ``"zh"`` or ``"en"``.
    title
        The page title.

    Examples
    --------
    >>> m = new_map((112.9, 22.7, 113.0, 22.8))
    >>> "openstreetmap" in render_page(m)
    False
    """
    check_basemap(basemap, tianditu_key)
    text(lang)  # validates lang
    west, south, east, north = map(float, bounds)
    m = folium.Map(location=[(south + north) / 2, (west + east) / 2], zoom_start=12, tiles=None, control_scale=True)
    # without tiles Leaflet knows no maximum zoom, and the marker cluster plugin needs one
    m.options.update(maxZoom=19, minZoom=3)
    _add_basemap(m, basemap, tianditu_key, lang)
    m.fit_bounds([[south, west], [north, east]])
    m.get_root().title = title
    m.get_root().header.add_child(Element(f'<meta name="gridgis-lang" content="{lang}">'), name="gridgis_lang")
    return m


class Panel(MacroElement):
    """A fixed box on the map (legend, table, filters): an HTML string placed as a Leaflet control."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = gridgisMaps.panel(
            {{ this._parent.get_name() }}, {{ this.html|tojson }}, {{ this.position|tojson }},
            {{ this.css_class|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, html: str, *, position: str = "bottomright", css_class: str = "gridgis-legend"):
        super().__init__()
        self._name = "Panel"
        self.html = html
        self.position = position
        self.css_class = css_class


class Script(MacroElement):
    """A call ``gridgisMaps.<function>(map, *args)`` into ``gridgis-maps.js``, after the map's layers exist.

    ``args`` are JavaScript expressions: layer names, or data passed through :func:`js_value`.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        gridgisMaps.{{ this.function }}({{ this._parent.get_name() }}{% for a in this.args %}, {{ a }}{% endfor %});
        {% endmacro %}
        """
    )

    def __init__(self, function: str, *args: str):
        super().__init__()
        self._name = "Script"
        self.function = function
        self.args = args


def js_value(value) -> str:
    """``value`` as JSON that is safe inside a <script> element (no ``</`` to close it early)."""
    return json.dumps(value, ensure_ascii=False).replace("</", "<\\/")


def _walk(element: Element) -> Iterator[Element]:
    yield element
    for child in list(element._children.values()):
        yield from _walk(child)


def _asset(name: str, asset_url: str | None) -> Element:
    path = ASSET_DIR / name
    if asset_url is not None:
        url = asset_url + name
        return Element(
            f'<script src="{url}"></script>' if name.endswith(".js") else f'<link rel="stylesheet" href="{url}">'
        )
    body = path.read_text(encoding="utf-8")
    return Element(f"<script>\n{body}\n</script>" if name.endswith(".js") else f"<style>\n{body}\n</style>")


def render_page(m: folium.Map, *, asset_url: str | None = None) -> str:
    """The HTML page of ``m`` with vendored assets instead of folium's CDN links.

    Parameters
    ----------
    m
        A map made by :func:`new_map` (and filled by a map function).
    asset_url
        None (default) inlines every asset, making a self-contained file; a URL
        prefix such as :data:`ASSET_URL` links them instead (the service).

    Raises
    ------
    RuntimeError
        A folium element asks for a resource that is not vendored (a programming error: vendor it first).
    """
    figure = m.get_root()
    wanted = {"gridgis-maps.css", "gridgis-maps.js"}
    for element in _walk(figure):
        if not isinstance(element, JSCSSMixin):
            continue
        for name, url in [*element.default_js, *element.default_css]:
            if name not in RESOURCES:
                raise RuntimeError(f"{type(element).__name__} needs {name!r} ({url}), which is not in {ASSET_DIR}.")
            if RESOURCES[name]:
                wanted.add(RESOURCES[name])
        element.default_js, element.default_css = [], []
    for name in ASSET_ORDER:
        if name in wanted:
            figure.header.add_child(_asset(name, asset_url), name=f"gridgis_{name}")
    return figure.render()


def write_page(html: str, path: str | os.PathLike) -> Path:
    """Write ``html`` to ``path`` atomically (a temporary file, then a rename); return the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(html, encoding="utf-8")
    return path
