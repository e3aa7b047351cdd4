"""Where the project's shipped data live."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Small real data the project ships (e.g. Heshan's outline).
GEO_DATA = REPO_ROOT / "data" / "geo"
HESHAN_OUTLINE = GEO_DATA / "heshan.geojson"
