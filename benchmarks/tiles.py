"""Vector tiles at a prefecture's size: tile times on both stores, and the plan page's first view in Chromium.

Takes a plan GeoPackage (``--plan``; by default builds the Heshan demo and its 379-grid plan) and lays
``--copies`` x ``--copies`` copies of it side by side (ids renumbered: each copy a county code of its own),
so the default 3 x 3 of Heshan (54k buildings, 379 grids) is a synthetic plan of Jiangmen's size (485k
buildings, 3,411 grids; Jiangmen: about 500k buildings and 4,000 grids). With a real prefecture plan
(``gridgis demo jiangmen`` then ``gridgis partition``), pass it with ``--copies 1``. Then, for SQLite (and
PostGIS with ``--pg URL``): the seconds to import and publish it, and the milliseconds to encode a tile
(median and slowest of the tiles of the plan page's first view for grids, communities and towns, and of 12
building tiles at z14; cold: encoded by the store; warm: from the per-revision cache) with their sizes; and for
the plan page served by uvicorn from SQLite: the HTML size and the milliseconds from navigation to every tile
of the first view drawn in the system Chromium (first load: the tile cache empty; then 3 loads warm, median).
Prints CPU seconds of this process beside wall times: the machine is shared.

    .venv/bin/python benchmarks/tiles.py [--plan plan.gpkg] [--copies 3] [--pg postgresql://...] [--chromium PATH]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

import geopandas as gpd
import pandas as pd
import shapely

from gridgis.io import read_layers
from gridgis.store import PLAN_LAYERS, open_store
from gridgis.tiles import MIN_ZOOMS, tile_index

ID_COLUMNS = ("town_id", "community_id", "grid_id", "grid_code")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


def heshan_plan(workdir: Path) -> Path:
    gridgis = str(Path(sys.executable).with_name("gridgis"))
    demo, plan = workdir / "heshan.gpkg", workdir / "plan.gpkg"
    subprocess.run([gridgis, "demo", "heshan", "-o", str(demo)], check=True)
    subprocess.run([gridgis, "partition", str(demo), "--grids", "379", "-o", str(plan)], check=True)
    return plan


def tiled_copies(layers: dict[str, gpd.GeoDataFrame], n: int) -> dict[str, gpd.GeoDataFrame]:
    """``n`` x ``n`` copies of a plan side by side, each copy's ids under a county code of its own."""
    if n == 1:
        return layers
    west, south, east, north = layers["grids"].total_bounds
    dx, dy = (east - west) * 1.01, (north - south) * 1.01
    out: dict[str, list] = {name: [] for name in PLAN_LAYERS if name in layers}
    for k in range(n * n):
        county = f"4407{80 + k:02d}"
        for name in out:
            frame = layers[name].copy()
            for col in ID_COLUMNS:
                if col in frame.columns:
                    frame[col] = county + frame[col].astype(str).str[6:]
            if name == "buildings":
                frame["building_id"] = frame["building_id"].astype(int) + k * 10_000_000
            frame = frame.drop(columns=[c for c in ("previous_grid_id",) if c in frame.columns])
            frame.geometry = shapely.transform(
                frame.geometry.values, lambda xy, k=k: xy + [(k % n) * dx, (k // n) * dy]
            )
            out[name].append(frame)
    return {name: gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=4326) for name, parts in out.items()}


def first_view_tiles(bounds, width: int = 1280, height: int = 800) -> tuple[int, list[tuple[int, int, int]]]:
    """The zoom Leaflet's fitBounds picks for ``bounds`` in a width x height map and the tiles (z, x, y) it shows."""
    west, south, east, north = bounds
    z = 0
    for zoom in range(20, -1, -1):
        x0, y0 = tile_index(west, north, zoom)
        x1, y1 = tile_index(east, south, zoom)
        if (x1 - x0 + 1) * 256 <= width + 256 and (y1 - y0 + 1) * 256 <= height + 256:
            z = zoom
            break
    x0, y0 = tile_index(west, north, z)
    x1, y1 = tile_index(east, south, z)
    return z, [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


def time_tiles(store, plan_id: int, layer: str, tiles) -> dict:
    """ms to encode each tile, cold (the store) and warm (the cache API path is a dict lookup: not timed here)."""
    times, sizes = [], []
    for z, x, y in tiles:
        t0 = time.perf_counter()
        data = store.tile(plan_id, layer, z, x, y)
        times.append((time.perf_counter() - t0) * 1000)
        sizes.append(len(data))
    return {"n": len(tiles), "median_ms": statistics.median(times), "max_ms": max(times),
            "median_kb": statistics.median(sizes) / 1024, "max_kb": max(sizes) / 1024}  # fmt: skip


def building_tiles(buildings: gpd.GeoDataFrame, count: int = 12, z: int = 14) -> list[tuple[int, int, int]]:
    """The ``count`` z14 tiles holding the most buildings (the dense town centres: the slowest tiles)."""
    points = buildings.geometry.representative_point()
    keys = pd.Series([tile_index(p.x, p.y, z) for p in points]).value_counts().index[:count]
    return [(z, x, y) for x, y in keys]


def store_figures(url: str, layers, name: str) -> tuple[dict, object]:
    store = open_store(url)
    t0, c0 = time.perf_counter(), time.process_time()
    store.import_plan(name, layers)
    store.publish_plan(name, force=True)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    plan_id = store.get_plan(name).plan_id
    z, view = first_view_tiles(layers["grids"].total_bounds)
    rows = {"import+publish": f"{wall:.1f} s (CPU {cpu:.1f} s)"}
    for layer in ("towns", "communities", "grids"):
        if z >= MIN_ZOOMS[layer]:
            rows[f"{layer} z{z} ({len(view)} tiles)"] = time_tiles(store, plan_id, layer, view)
    btiles = building_tiles(layers["buildings"])
    rows[f"buildings z14 ({len(btiles)} densest)"] = time_tiles(store, plan_id, "buildings", btiles)
    return rows, store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def page_figures(db_url: str, chromium: str, loads: int = 3) -> dict:
    import uvicorn
    from playwright.sync_api import sync_playwright

    from api.main import create_app
    from api.settings import Settings

    app = create_app(Settings(database_url=db_url, poll_seconds=1.0))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    out = {}
    try:
        import urllib.request

        t0 = time.perf_counter()
        html = urllib.request.urlopen(f"{base}/maps/plan").read()
        out["page build"] = f"{(time.perf_counter() - t0) * 1000:.0f} ms, {len(html) / 1024:.0f} KB" + (
            " (tiles)" if b"gridgisTiles.plan" in html else " (GeoJSON page)"
        )
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=ARGS)
            times = []
            for i in range(loads + 1):
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                page = context.new_page()
                page.goto(f"{base}/maps/plan")
                page.wait_for_function("document.body.getAttribute('data-gridgis-tiles-drawn') === '1'", timeout=60_000)
                ms = page.evaluate("window.gridgisTiles.firstView")
                requests = page.evaluate("performance.getEntriesByType('resource').length")
                if i == 0:
                    out["first view, cold tile cache"] = f"{ms:.0f} ms ({requests} requests)"
                else:
                    times.append(ms)
                context.close()
            out[f"first view, warm (median of {loads})"] = f"{statistics.median(times):.0f} ms"
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", type=Path, help="a plan GeoPackage (default: build the Heshan demo's plan)")
    parser.add_argument("--copies", type=int, default=3, help="n x n copies side by side (default 3: Jiangmen's size)")
    parser.add_argument("--pg", help="also a PostGIS database URL (a schema of its own is made and dropped)")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gridgis-tiles-"))
    plan = args.plan or heshan_plan(work)
    layers = {k: v for k, v in read_layers(plan).items() if k in PLAN_LAYERS}
    layers = tiled_copies(layers, args.copies)
    counts = {k: len(v) for k, v in layers.items()}
    print(f"plan: {plan} x {args.copies}x{args.copies}: {counts}")
    results = {}
    db = f"sqlite:///{work}/tiles.db"
    results["sqlite"], store = store_figures(db, layers, "big")
    store.close()
    if args.pg:
        import uuid

        import psycopg

        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(args.pg, autocommit=True) as con:
            con.execute(f"CREATE SCHEMA {schema}")
        try:
            sep = "&" if "?" in args.pg else "?"
            url = f"{args.pg}{sep}options={quote(f'-csearch_path={schema},public')}"
            results["postgis"], pg = store_figures(url, layers, "big")
            pg.close()
        finally:
            with psycopg.connect(args.pg, autocommit=True) as con:
                con.execute(f"DROP SCHEMA {schema} CASCADE")
    for kind, rows in results.items():
        print(f"\n{kind}")
        for key, value in rows.items():
            if isinstance(value, dict):
                value = (f"median {value['median_ms']:.0f} ms, slowest {value['max_ms']:.0f} ms; "
                         f"median {value['median_kb']:.0f} KB, largest {value['max_kb']:.0f} KB")  # fmt: skip
            print(f"  {key:<36} {value}")
    print("\nplan page (SQLite, uvicorn, Chromium 1280x800)")
    for key, value in page_figures(db, args.chromium).items():
        print(f"  {key:<36} {value}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
