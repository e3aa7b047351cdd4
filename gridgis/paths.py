"""Where the project's shipped data live."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Small real data the project ships (e.g. Heshan's outline).
GEO_DATA = REPO_ROOT / "data" / "geo"
HESHAN_OUTLINE = GEO_DATA / "heshan.geojson"
#: The 7 county-level divisions of Jiangmen (see data/geo/README.md for source and licence).
JIANGMEN_COUNTIES = GEO_DATA / "jiangmen_counties.geojson"
