"""Test data of the map tests: plans with loads, buildings assigned to grids, a second plan, cases."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import box


def with_loads(plan: gpd.GeoDataFrame, loads: list[float] | None = None) -> gpd.GeoDataFrame:
    """``plan`` with load = households (or ``loads``) and target = the mean load, as a partition writes them."""
    plan = plan.copy()
    plan["load"] = np.asarray(loads if loads is not None else plan["households"], dtype=float)
    plan["target"] = float(plan["load"].mean())
    plan["deviation"] = plan["load"] / plan["target"] - 1
    return plan


def assign_buildings(buildings: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Buildings with the grid_id of the grid holding their representative point."""
    tree = shapely.STRtree(grids.geometry.values)
    b_idx, g_idx = tree.query(buildings.geometry.representative_point().values, predicate="within")
    out = buildings.copy()
    out["grid_id"] = None
    out.loc[out.index[b_idx], "grid_id"] = grids["grid_id"].to_numpy()[g_idx]
    return out


def north_south_plan(city: dict) -> gpd.GeoDataFrame:
    """Every toy community cut into a south (…001) and a north (…002) half: the same ids as toy_plan, other shapes."""
    rows = []
    for com in city["communities"].itertuples():
        x0, y0, x1, y1 = com.geometry.bounds
        ym = (y0 + y1) / 2
        for seq, geom in enumerate((box(x0, y0, x1, ym), box(x0, ym, x1, y1)), start=1):
            code = f"{com.community_id}{seq:03d}"
            row = {"grid_id": code, "grid_code": code, "community_id": com.community_id, "town_id": com.town_id}
            rows.append({**row, "kind": "basic", "households": 72, "population": 180, "geometry": geom})
    return with_loads(gpd.GeoDataFrame(rows, crs="EPSG:4326"))


def toy_cases(n: int = 6) -> pd.DataFrame:
    """``n`` cases along the toy city, one a day from 1 Nov 20:00 UTC, with a description trying to inject script."""
    return pd.DataFrame(
        {
            "id": range(1, n + 1),
            "status": (["reported", "closed"] * n)[:n],
            "category": (["fire", "river_chief", "fire"] * n)[:n],
            "lon": np.linspace(112.905, 112.975, n),
            "lat": [22.705] * n,
            "created_at": pd.date_range("2026-11-01T20:00", periods=n, freq="D", tz="UTC"),
            "grid_id": ["440784101001001"] * n,
            "description": ["</script><script>alert(1)</script>"] * n,
        }
    )
