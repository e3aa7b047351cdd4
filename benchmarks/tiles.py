"""Vector tiles at a prefecture's size: tile times on both stores, and the plan page's first view in Chromium.

Takes a plan GeoPackage (``--plan``; by default builds the Heshan demo and its 379-grid plan) and lays
``--copies`` x ``--copies`` copies of it side by side (ids renumbered: each copy a county code of its own),
so the default 3 x 3 of Heshan (54k buildings, 379 grids) is a synthetic plan of Jiangmen's size (485k
buildings, 3,411 grids; Jiangmen: about 500k buildings and 4,000 grids). With a real prefecture plan
(``gridgis demo jiangmen`` then ``gridgis partition``), pass it with ``--copies 1``. Then, for SQLite (and
PostGIS with ``--pg URL``): the seconds to import and publish it, and the milliseconds for the store to encode
a tile (median and slowest, with this process's CPU time, of the tiles of the plan page's first view for grids,
communities and towns, and of the 12 densest building tiles at z14) with their sizes; then, for the plan page
served by uvicorn from SQLite: the HTML size and the milliseconds from navigation to every tile of the first
view drawn in the system Chromium (the first visitor: the tile cache empty, the page's build starting the
warm-up of the first view's tiles; then 3 loads from the cache, median). The machine is shared: CPU times
are printed beside wall times.

    .venv/bin/python benchmarks/tiles.py [--plan plan.gpkg] [--copies 3] [--pg postgresql://...] [--chromium PATH]
        [--work DIR]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

import geopandas as gpd
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo's api package, not benchmarks/api.py

from benchmarks.maps import ARGS, heshan_plan  # noqa: E402 - the same Chromium flags and Heshan plan
from gridgis.io import read_layers  # noqa: E402
from gridgis.store import PLAN_LAYERS, open_store  # noqa: E402
from gridgis.tiles import MIN_ZOOMS, first_view, tile_index  # noqa: E402

ID_COLUMNS = ("town_id", "community_id", "grid_id", "grid_code")


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


def time_tiles(store, plan_id: int, layer: str, tiles) -> dict:
    """ms to encode each tile by the store (the API's cache then answers in a dict lookup), and the CPU ms of this
    process (PostGIS encodes in the server's process: its CPU is not counted)."""
    times, cpus, sizes = [], [], []
    for z, x, y in tiles:
        t0, c0 = time.perf_counter(), time.process_time()
        data = store.tile(plan_id, layer, z, x, y)
        times.append((time.perf_counter() - t0) * 1000)
        cpus.append((time.process_time() - c0) * 1000)
        sizes.append(len(data))
    return {"n": len(tiles), "median_ms": statistics.median(times), "max_ms": max(times),
            "cpu_ms": statistics.median(cpus), "median_kb": statistics.median(sizes) / 1024,
            "max_kb": max(sizes) / 1024}  # fmt: skip


def building_tiles(buildings: gpd.GeoDataFrame, count: int = 12, z: int = 14) -> list[tuple[int, int, int]]:
    """The ``count`` z14 tiles holding the most buildings (the dense town centres: the slowest tiles)."""
    points = buildings.geometry.representative_point()
    keys = pd.Series([tile_index(p.x, p.y, z) for p in points]).value_counts().index[:count]
    return [(z, x, y) for x, y in keys]


def store_figures(url: str, layers, name: str) -> tuple[dict, object]:
    store = open_store(url)
    rows = {}
    if not any(p.name == name for p in store.list_plans()):
        t0, c0 = time.perf_counter(), time.process_time()
        store.import_plan(name, layers)
        store.publish_plan(name, force=True)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        rows["import+publish"] = f"{wall:.1f} s (CPU {cpu:.1f} s)"
    plan_id = store.get_plan(name).plan_id
    z, view = first_view(layers["grids"].total_bounds)
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
            c0 = time.process_time()
            for i in range(loads + 1):
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                page = context.new_page()
                page.goto(f"{base}/maps/plan")
                page.wait_for_function("document.body.getAttribute('data-gridgis-tiles-drawn') === '1'", timeout=60_000)
                ms = page.evaluate("window.gridgisTiles.firstView")
                requests = page.evaluate("performance.getEntriesByType('resource').length")
                if i == 0:
                    out["first view, first visitor"] = (
                        f"{ms:.0f} ms ({requests} requests; server CPU {time.process_time() - c0:.1f} s)"
                    )
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
    parser.add_argument("--work", type=Path, help="a folder kept between runs (its SQLite store is reused)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="gridgis-tiles-"))
    work.mkdir(parents=True, exist_ok=True)
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
                value = (f"median {value['median_ms']:.0f} ms (CPU here {value['cpu_ms']:.0f} ms), "
                         f"slowest {value['max_ms']:.0f} ms; "
                         f"median {value['median_kb']:.0f} KB, largest {value['max_kb']:.0f} KB")  # fmt: skip
            print(f"  {key:<36} {value}")
    print("\nplan page (SQLite, uvicorn, Chromium 1280x800)")
    for key, value in page_figures(db, args.chromium).items():
        print(f"  {key:<36} {value}")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
