"""Fixtures shared by every test area.

``toy_city`` is a small hand-built city near Heshan whose numbers are known:
2 towns side by side, each with 2 communities (boxes of 0.02 x 0.02 degrees),
each community holding a 6 x 6 lattice of square buildings of 4 households
and 10 residents each (36 buildings, 144 households per community), 2 shops
per community, one road along the middle latitude, one river along the north
edge, and one school. ``toy_plan`` cuts every community into a west and an
east half: 8 grids of 18 buildings / 72 households each.

PostGIS and Chromium fixtures skip outside CI when the server/browser is not
there, and fail in CI (``CI=true``), where ``scripts/test`` provides them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, Point, box

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
REPO = Path(__file__).resolve().parent.parent

TOWNS = [("440784101", "雅瑶镇", "town", 112.90), ("440784106", "共和镇", "town", 112.94)]
SIZE = 0.02  # degrees, community side
LAT0 = 22.70


def _toy_city() -> dict[str, gpd.GeoDataFrame]:
    towns, communities, buildings, shops = [], [], [], []
    bid = 0
    for t, (town_id, name, kind, x0) in enumerate(TOWNS):
        towns.append(
            {"town_id": town_id, "name": name, "kind": kind, "geometry": box(x0, LAT0, x0 + SIZE * 2, LAT0 + SIZE)}
        )
        for c in range(2):
            cid = f"{town_id}{c + 1:03d}"
            cx0 = x0 + c * SIZE
            communities.append(
                {
                    "community_id": cid,
                    "town_id": town_id,
                    "name": f"{name[:2]}{'东西'[c]}社区",
                    "kind": "urban" if c == 0 else "village",
                    "geometry": box(cx0, LAT0, cx0 + SIZE, LAT0 + SIZE),
                }
            )
            step = SIZE / 6
            for i in range(6):
                for j in range(6):
                    x, y = cx0 + (i + 0.5) * step, LAT0 + (j + 0.5) * step
                    buildings.append(
                        {
                            "building_id": bid,
                            "community_id": cid,
                            "households": 4,
                            "population": 10,
                            "kind": "residential",
                            "geometry": box(x - step / 6, y - step / 6, x + step / 6, y + step / 6),
                        }
                    )
                    bid += 1
            for s in range(2):
                shops.append(
                    {
                        "shop_id": f"S{t}{c}{s}",
                        "name": f"商铺{t}{c}{s}",
                        "kind": "shop",
                        "community_id": cid,
                        "geometry": Point(cx0 + (s + 0.3) * SIZE / 2, LAT0 + SIZE / 2 + 0.0005),
                    }
                )
    crs = "EPSG:4326"
    x_min, x_max = TOWNS[0][3], TOWNS[-1][3] + 2 * SIZE
    return {
        "towns": gpd.GeoDataFrame(towns, crs=crs),
        "communities": gpd.GeoDataFrame(communities, crs=crs),
        "buildings": gpd.GeoDataFrame(buildings, crs=crs),
        "shops": gpd.GeoDataFrame(shops, crs=crs),
        "roads": gpd.GeoDataFrame(
            {"road_id": [1], "name": ["中山路"], "class": ["main"]},
            geometry=[LineString([(x_min, LAT0 + SIZE / 2), (x_max, LAT0 + SIZE / 2)])],
            crs=crs,
        ),
        "rivers": gpd.GeoDataFrame(
            {"river_id": [1], "name": ["西江"]},
            geometry=[LineString([(x_min, LAT0 + SIZE * 0.98), (x_max, LAT0 + SIZE * 0.98)])],
            crs=crs,
        ),
        "facilities": gpd.GeoDataFrame(
            {"facility_id": [1], "kind": ["school"], "name": ["鹤山一中"], "community_id": ["440784101001"]},
            geometry=[box(112.901, 22.701, 112.904, 22.704)],
            crs=crs,
        ),
    }


def _toy_plan(city: dict[str, gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    rows = []
    for com in city["communities"].itertuples():
        x0, y0, x1, y1 = com.geometry.bounds
        xm = (x0 + x1) / 2
        for seq, geom in enumerate((box(x0, y0, xm, y1), box(xm, y0, x1, y1)), start=1):
            code = f"{com.community_id}{seq:03d}"
            b = city["buildings"]
            inside = b.geometry.representative_point().within(geom)
            s = city["shops"]
            rows.append(
                {
                    "grid_id": code,
                    "grid_code": code,
                    "community_id": com.community_id,
                    "town_id": com.town_id,
                    "kind": "basic",
                    "name": f"{com.name}第{seq}网格",
                    "households": int(b.loc[inside, "households"].sum()),
                    "population": int(b.loc[inside, "population"].sum()),
                    "buildings": int(inside.sum()),
                    "shops": int(s.geometry.within(geom).sum()),
                    "geometry": geom,
                }
            )
    return gpd.GeoDataFrame(rows, crs="EPSG:4326")


@pytest.fixture
def toy_city() -> dict[str, gpd.GeoDataFrame]:
    """A fresh copy of the hand-built city (safe to modify)."""
    return _toy_city()


@pytest.fixture
def toy_plan(toy_city) -> gpd.GeoDataFrame:
    """8 grids: every toy community cut into a west and an east half."""
    return _toy_plan(toy_city)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def pg_url() -> str:
    """URL of the test PostGIS server started by scripts/test (GRIDGIS_TEST_PG_URL)."""
    url = os.environ.get("GRIDGIS_TEST_PG_URL")
    if not url:
        if IN_CI:
            pytest.fail("GRIDGIS_TEST_PG_URL is not set in CI: scripts/test starts PostGIS and sets it.")
        pytest.skip("no PostGIS server: run the suite through scripts/test (it starts one on 127.0.0.1)")
    return url


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Path of Debian's headless Chromium (installed by scripts/system-deps)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        if IN_CI:
            pytest.fail("chromium is not installed in CI: scripts/system-deps installs it.")
        pytest.skip("no chromium: run the suite through scripts/test (it installs Debian's chromium)")
    return path


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser(chromium_path):
    """One headless Chromium for the whole session, shared by every area (Debian's, never a downloaded one;
    Playwright's sync API runs one instance per process)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
