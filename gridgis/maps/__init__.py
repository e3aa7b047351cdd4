"""Maps for planners and dispatchers (folium), exported to self-contained files or served by the API.

Every page is built by :func:`new_map` and rendered by :func:`render_page`,
which replaces folium's CDN links with the vendored Leaflet assets: pages work
with no internet unless a base map is asked for.
"""

from gridgis.maps.cases import cases_map
from gridgis.maps.compare import compare_map
from gridgis.maps.labels import LANGS
from gridgis.maps.page import ASSET_DIR, ASSET_URL, BASEMAPS, check_basemap, new_map, render_page, write_page
from gridgis.maps.plan import plan_map

__all__ = [
    "ASSET_DIR",
    "ASSET_URL",
    "BASEMAPS",
    "LANGS",
    "cases_map",
    "check_basemap",
    "compare_map",
    "new_map",
    "plan_map",
    "render_page",
    "write_page",
]
