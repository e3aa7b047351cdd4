"""Hand-built inputs for the partition tests (known answers); a module name unique across test areas."""

from __future__ import annotations

import geopandas as gpd
from shapely.geometry import box

X0, Y0 = 112.90, 22.70
CELL = 0.001  # degrees between building centres


def lattice(n: int = 4, community_id: str = "440784101001", x0: float = X0, households: int = 10):
    """A square community holding an n x n lattice of equal square buildings."""
    com = gpd.GeoDataFrame(
        {"community_id": [community_id], "town_id": [community_id[:9]], "name": ["方块社区"]},
        geometry=[box(x0, Y0, x0 + n * CELL, Y0 + n * CELL)],
        crs="EPSG:4326",
    )
    h = CELL / 6
    blds = [
        box(x0 + (i + 0.5) * CELL - h, Y0 + (j + 0.5) * CELL - h, x0 + (i + 0.5) * CELL + h, Y0 + (j + 0.5) * CELL + h)
        for i in range(n)
        for j in range(n)
    ]
    b = gpd.GeoDataFrame(
        {"building_id": range(len(blds)), "households": households, "population": 3 * households},
        geometry=blds,
        crs="EPSG:4326",
    )
    return {"communities": com, "buildings": b}
